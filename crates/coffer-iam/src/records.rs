//! What IAM keeps in the store. Tables (coffer-store `tables`): `iam.accounts` (pk account),
//! `iam.users` / `iam.roles` / `iam.policies` (pk account, sk name), `iam.access_keys` and
//! `iam.sessions` (pk access key id). Secrets are sealed under the root key (hex); session
//! tokens are kept only as SHA-256 verifiers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct AccountRecord {
    pub account_id: String,
    pub created_ms: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TagRecord {
    pub key: String,
    pub value: String,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct UserRecord {
    pub account: String,
    pub user_name: String,
    pub user_id: String,
    pub path: String,
    pub created_ms: i64,
    pub tags: Vec<TagRecord>,
    /// Inline policies: name → document text.
    pub inline: BTreeMap<String, String>,
    /// Attached managed policy ARNs.
    pub attached: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct RoleRecord {
    pub account: String,
    pub role_name: String,
    pub role_id: String,
    pub path: String,
    pub created_ms: i64,
    pub description: Option<String>,
    pub max_session_duration: i64,
    pub trust_policy: String,
    pub tags: Vec<TagRecord>,
    pub inline: BTreeMap<String, String>,
    pub attached: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct PolicyRecord {
    pub account: String,
    pub policy_name: String,
    pub policy_id: String,
    pub path: String,
    pub document: String,
    pub description: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub tags: Vec<TagRecord>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct AccessKeyRecord {
    pub access_key_id: String,
    pub account_id: String,
    /// `None` for the account root's keys.
    pub user_name: Option<String>,
    pub status: String,
    pub created_ms: i64,
    /// The secret access key, sealed under the root key (hex).
    pub secret_sealed: String,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct SessionRecord {
    pub access_key_id: String,
    pub account: String,
    pub role_name: String,
    pub role_path: String,
    pub role_id: String,
    pub session_name: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub secret_sealed: String,
    /// SHA-256 of the session token (hex). The token itself is never stored.
    pub token_sha256: String,
    /// Session policy (AssumeRole `Policy`), which further limits the session.
    pub session_policy: Option<String>,
}

pub fn user_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:user{path}{name}")
}

pub fn role_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role{path}{name}")
}

pub fn policy_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:policy{path}{name}")
}
