//! Identities: accounts, their root principals, and access keys.
//!
//! Why here and not in the server: who a request comes from is domain state (it is created by
//! `coffer admin`, by IAM's CreateAccessKey, persisted, and revoked), while the server only needs
//! one question answered on every request — "what secret and principal belong to this access
//! key id?" — and must get the answer without database I/O. This crate keeps every access key in
//! memory for that lookup and writes through to the store on change.
//!
//! Access-key secrets are needed in the clear to verify SigV4 (HMAC is symmetric), so they are
//! stored sealed under the root key, never hashed, and held in memory only as [`SecretBytes`].
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use coffer_crypto::digest::{hex, unhex};
use coffer_crypto::{RootKey, SecretBytes, random};
use coffer_policy::Principal;
use coffer_store::{Expect, Store, StoreError, Write, scan_all, tables};
use coffer_util::Clock;
use serde::{Deserialize, Serialize};

/// Errors of identity management.
#[derive(Debug)]
pub enum IamError {
    /// The account already exists.
    AccountExists(String),
    /// A malformed request (bad account id ...).
    Invalid(String),
    /// Stored data could not be read or opened.
    Corrupt(String),
    Store(StoreError),
}

impl std::fmt::Display for IamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IamError::AccountExists(a) => write!(f, "account {a} already exists"),
            IamError::Invalid(m) => f.write_str(m),
            IamError::Corrupt(m) => write!(f, "stored identity data is unreadable: {m}"),
            IamError::Store(e) => write!(f, "{e}"),
        }
    }
}
impl std::error::Error for IamError {}

impl From<StoreError> for IamError {
    fn from(e: StoreError) -> Self {
        IamError::Store(e)
    }
}

#[derive(Serialize, Deserialize, Clone, Debug)]
struct AccountRecord {
    account_id: String,
    created_ms: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
struct AccessKeyRecord {
    access_key_id: String,
    account_id: String,
    /// `None` for the account root's keys.
    user_name: Option<String>,
    status: String,
    created_ms: i64,
    /// The secret access key, sealed under the root key (hex).
    secret_sealed: String,
}

/// An access key as the authenticator needs it. No `Debug`: it holds the secret.
pub struct Credential {
    pub access_key_id: String,
    pub principal: Principal,
    pub active: bool,
    secret: SecretBytes,
}

impl Credential {
    /// The secret access key (ASCII), for SigV4 key derivation only.
    pub fn secret(&self) -> &[u8] {
        self.secret.expose()
    }
}

/// A newly created access key, returned once to whoever created it. No `Debug`.
pub struct NewAccessKey {
    pub access_key_id: String,
    pub secret_access_key: SecretBytes,
}

pub struct Iam {
    store: Arc<dyn Store>,
    root: Arc<RootKey>,
    clock: Arc<Clock>,
    keys: RwLock<HashMap<String, Arc<Credential>>>,
    accounts: RwLock<Vec<String>>,
}

fn seal_purpose(akid: &str) -> String {
    format!("iam-access-key-secret:{akid}")
}

const AKID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

impl Iam {
    /// Loads every account and access key into memory (opening each sealed secret).
    pub async fn load(store: Arc<dyn Store>, root: Arc<RootKey>, clock: Arc<Clock>) -> Result<Iam, IamError> {
        let iam = Iam { store, root, clock, keys: RwLock::new(HashMap::new()), accounts: RwLock::new(Vec::new()) };
        let mut accounts = Vec::new();
        for item in scan_all(iam.store.as_ref(), tables::ACCOUNTS).await? {
            let rec: AccountRecord = serde_json::from_slice(&item.value).map_err(|e| IamError::Corrupt(e.to_string()))?;
            accounts.push(rec.account_id);
        }
        *iam.accounts.write().expect("lock") = accounts;
        for item in scan_all(iam.store.as_ref(), tables::ACCESS_KEYS).await? {
            let rec: AccessKeyRecord =
                serde_json::from_slice(&item.value).map_err(|e| IamError::Corrupt(e.to_string()))?;
            let cred = iam.credential_from(&rec)?;
            iam.keys.write().expect("lock").insert(rec.access_key_id.clone(), Arc::new(cred));
        }
        Ok(iam)
    }

    fn credential_from(&self, rec: &AccessKeyRecord) -> Result<Credential, IamError> {
        let sealed = unhex(&rec.secret_sealed).ok_or_else(|| IamError::Corrupt("sealed secret is not hex".into()))?;
        let secret = self
            .root
            .open(&seal_purpose(&rec.access_key_id), &sealed)
            .map_err(|e| IamError::Corrupt(format!("access key {}: {e}", rec.access_key_id)))?;
        let principal = match &rec.user_name {
            None => Principal::root(&rec.account_id),
            Some(u) => Principal {
                kind: coffer_policy::PrincipalKind::User,
                account: rec.account_id.clone(),
                arn: format!("arn:aws:iam::{}:user/{u}", rec.account_id),
                user_id: u.clone(),
                name: u.clone(),
                role_arn: None,
            },
        };
        Ok(Credential {
            access_key_id: rec.access_key_id.clone(),
            principal,
            active: rec.status == "Active",
            secret,
        })
    }

    /// The credential for an access key id, from memory.
    pub fn credential(&self, access_key_id: &str) -> Option<Arc<Credential>> {
        self.keys.read().expect("lock").get(access_key_id).cloned()
    }

    pub fn accounts(&self) -> Vec<String> {
        self.accounts.read().expect("lock").clone()
    }

    /// Creates an account (random 12-digit id unless one is given) with one root access key.
    pub async fn create_account(&self, account_id: Option<&str>) -> Result<(String, NewAccessKey), IamError> {
        let account_id = match account_id {
            Some(a) if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) => a.to_string(),
            Some(a) => return Err(IamError::Invalid(format!("account id must be 12 digits, got {a:?}"))),
            None => random::digits(12),
        };
        let now = self.clock.now().millis();
        let account = AccountRecord { account_id: account_id.clone(), created_ms: now };
        let akid = format!("AKIA{}", random::from_alphabet(AKID_ALPHABET, 16));
        let secret = SecretBytes::new(random::from_alphabet(SECRET_ALPHABET, 40).into_bytes());
        let rec = AccessKeyRecord {
            access_key_id: akid.clone(),
            account_id: account_id.clone(),
            user_name: None,
            status: "Active".into(),
            created_ms: now,
            secret_sealed: hex(&self.root.seal(&seal_purpose(&akid), secret.expose())),
        };
        let res = self
            .store
            .write(vec![
                Write::put(tables::ACCOUNTS, &account_id, "", to_json(&account), Expect::Absent),
                Write::put(tables::ACCESS_KEYS, &akid, "", to_json(&rec), Expect::Absent),
            ])
            .await;
        match res {
            Ok(_) => {}
            Err(StoreError::Conflict { index: 0 }) => return Err(IamError::AccountExists(account_id)),
            Err(e) => return Err(e.into()),
        }
        let cred = self.credential_from(&rec)?;
        self.keys.write().expect("lock").insert(akid.clone(), Arc::new(cred));
        self.accounts.write().expect("lock").push(account_id.clone());
        Ok((account_id, NewAccessKey { access_key_id: akid, secret_access_key: secret }))
    }
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("records serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_store::SqliteStore;

    #[test]
    fn accounts_and_keys_survive_reload() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let store: Arc<dyn Store> = Arc::new(SqliteStore::memory().unwrap());
            let (root, raw) = RootKey::generate();
            let root = Arc::new(root);
            let clock = Arc::new(Clock::new());
            let iam = Iam::load(store.clone(), root.clone(), clock.clone()).await.unwrap();
            let (acct, key) = iam.create_account(Some("111111111111")).await.unwrap();
            assert_eq!(acct, "111111111111");
            assert!(key.access_key_id.starts_with("AKIA") && key.access_key_id.len() == 20);
            assert_eq!(key.secret_access_key.len(), 40);
            assert!(matches!(iam.create_account(Some("111111111111")).await, Err(IamError::AccountExists(_))));
            let again = Iam::load(store.clone(), root, clock.clone()).await.unwrap();
            let c = again.credential(&key.access_key_id).unwrap();
            assert_eq!(c.secret(), key.secret_access_key.expose());
            assert_eq!(c.principal.arn, "arn:aws:iam::111111111111:root");
            // another root key cannot open the secrets
            let (other, _) = RootKey::generate();
            assert!(matches!(Iam::load(store, Arc::new(other), clock).await, Err(IamError::Corrupt(_))));
            drop(raw);
        });
    }
}
