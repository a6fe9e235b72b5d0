//! IAM and STS request and response shapes (botocore's iam and sts models).
//!
//! The awsQuery adapter turns form parameters into a JSON object (`Tags.member.1.Key` becomes
//! `{"Tags": [{"Key": ...}]}`), so every scalar arrives as a string: numbers and booleans are
//! read leniently. Every member is optional here; required ones are checked by validation so that
//! a missing one is AWS's `ValidationError`, not a decoding failure. Responses are serialised to
//! the awsQuery XML by the server (lists become `<member>` elements); dates are ISO 8601 text.

use serde::{Deserialize, Deserializer, Serialize};

fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        I(i64),
        S(String),
    }
    match Option::<N>::deserialize(d)? {
        None => Ok(None),
        Some(N::I(i)) => Ok(Some(i)),
        Some(N::S(s)) => s.trim().parse().map(Some).map_err(|_| serde::de::Error::custom(format!("'{s}' is not an integer"))),
    }
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        B(bool),
        S(String),
    }
    match Option::<B>::deserialize(d)? {
        None => Ok(None),
        Some(B::B(b)) => Ok(Some(b)),
        Some(B::S(s)) => match s.to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            _ => Err(serde::de::Error::custom(format!("'{s}' is not a boolean"))),
        },
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: Option<String>,
    pub value: Option<String>,
}

/// Every IAM/STS request member this release reads, in one struct: awsQuery requests are flat
/// name/value sets, and most operations share a handful of members.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "PascalCase", default)]
pub struct Params {
    pub user_name: Option<String>,
    pub role_name: Option<String>,
    pub policy_name: Option<String>,
    pub policy_arn: Option<String>,
    pub policy_document: Option<String>,
    pub assume_role_policy_document: Option<String>,
    pub path: Option<String>,
    pub path_prefix: Option<String>,
    pub description: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub max_session_duration: Option<i64>,
    pub tags: Option<Vec<Tag>>,
    pub tag_keys: Option<Vec<String>>,
    pub access_key_id: Option<String>,
    pub status: Option<String>,
    pub marker: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub max_items: Option<i64>,
    pub version_id: Option<String>,
    pub scope: Option<String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub only_attached: Option<bool>,
    pub permissions_boundary: Option<String>,
    // STS
    pub role_arn: Option<String>,
    pub role_session_name: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub duration_seconds: Option<i64>,
    pub policy: Option<String>,
    pub external_id: Option<String>,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct User {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    pub user_id: String,
    pub arn: String,
    pub create_date: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct Role {
    pub path: String,
    pub role_name: String,
    pub role_id: String,
    pub arn: String,
    pub create_date: String,
    /// URL-encoded, as IAM returns it.
    pub assume_role_policy_document: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub max_session_duration: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct Policy {
    pub policy_name: String,
    pub policy_id: String,
    pub arn: String,
    pub path: String,
    pub default_version_id: String,
    pub attachment_count: i64,
    pub permissions_boundary_usage_count: i64,
    pub is_attachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub create_date: String,
    pub update_date: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyVersion {
    /// URL-encoded, as IAM returns it.
    pub document: String,
    pub version_id: String,
    pub is_default_version: bool,
    pub create_date: String,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedPolicy {
    pub policy_name: String,
    pub policy_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKey {
    pub user_name: String,
    pub access_key_id: String,
    pub status: String,
    pub secret_access_key: String,
    pub create_date: String,
}

#[derive(Serialize, Clone, Debug)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyMetadata {
    pub user_name: String,
    pub access_key_id: String,
    pub status: String,
    pub create_date: String,
}

/// The body of an awsQuery result: `<OpResult>` members, or nothing.
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Output {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<User>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<Role>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<Policy>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<PolicyVersion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attached_policies: Option<Vec<AttachedPolicy>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_names: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_document: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<AccessKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_metadata: Option<Vec<AccessKeyMetadata>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_truncated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    // STS
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assumed_role_user: Option<AssumedRoleUser>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packed_policy_size: Option<i64>,
}

impl Output {
    /// An operation without result members.
    pub fn none() -> Output {
        Output::default()
    }
    pub fn is_empty(&self) -> bool {
        serde_json::to_value(self).map(|v| v.as_object().is_none_or(|m| m.is_empty())).unwrap_or(true)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumedRoleUser {
    pub assumed_role_id: String,
    pub arn: String,
}
