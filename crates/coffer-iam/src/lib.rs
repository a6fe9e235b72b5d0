//! Identities: accounts, users, roles, policies, access keys and STS sessions (the IAM and STS
//! subset Coffer serves), and the answers every other service needs about them.
//!
//! Why here and not in the server: who a request comes from is domain state — created by
//! `coffer admin` and IAM calls, persisted, revoked — while the server only asks, on every
//! request, "what secret and principal belong to this access key id?", and other services ask
//! "which identity policies apply to this principal?" ([`coffer_policy::Identities`]). Both must
//! be answered without database I/O, so every entity is held in memory (policies already
//! parsed) and every change is written to the store first and applied to memory after it
//! commits. A change — a deleted access key, a detached policy — is therefore in force for the
//! very next request.
//!
//! Access-key and session secrets are needed in the clear to verify SigV4 (HMAC is symmetric),
//! so they are stored sealed under the root key and held in memory only as [`SecretBytes`].
//! Session tokens are stored as SHA-256 verifiers only.
//!
//! One file per operation family: `users.rs`, `access_keys.rs`, `roles.rs`, `policies.rs`
//! (managed and inline), `sts.rs`, `accounts.rs`; `authorize.rs` decides IAM/STS actions.
#![forbid(unsafe_code)]

mod access_keys;
mod accounts;
mod authorize;
mod error;
pub mod model;
mod policies;
pub mod records;
mod roles;
mod sts;
mod users;
mod validate;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use coffer_crypto::digest::unhex;
use coffer_crypto::{RootKey, SecretBytes};
use coffer_policy::{PolicyDocument, PolicyKind, Principal, PrincipalKind};
use coffer_store::{Expect, Store, StoreError, Table, Write, scan_all, tables};
use coffer_util::Clock;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::IamError;
pub use model::{Output, Params};
use records::*;

/// An access key or session as the authenticator needs it. No `Debug`: it holds the secret.
pub struct Credential {
    pub access_key_id: String,
    pub principal: Principal,
    pub active: bool,
    secret: SecretBytes,
    /// For temporary credentials: the token verifier and expiry.
    pub session: Option<SessionCheck>,
}

/// What a request carrying temporary credentials must match.
#[derive(Clone, Debug)]
pub struct SessionCheck {
    pub token_sha256: [u8; 32],
    pub expires_ms: i64,
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

pub(crate) struct UserEntry {
    pub rec: UserRecord,
    pub version: i64,
    pub inline: Vec<Arc<PolicyDocument>>,
}

pub(crate) struct RoleEntry {
    pub rec: RoleRecord,
    pub version: i64,
    pub trust: Arc<PolicyDocument>,
    pub inline: Vec<Arc<PolicyDocument>>,
}

pub(crate) struct PolicyEntry {
    pub rec: PolicyRecord,
    pub version: i64,
    pub doc: Arc<PolicyDocument>,
}

/// `(account, folded name)`: IAM names are unique per account regardless of case.
type Named = (String, String);

/// The case-folded form of an IAM user, role or policy name: the key it is stored and found
/// under. AWS treats `Alice` and `alice` as the same name; the record keeps the spelling it was
/// created with (ARNs, and policies matching them, use that spelling).
pub(crate) fn fold(name: &str) -> String {
    name.to_ascii_lowercase()
}

pub(crate) fn named(account: &str, name: &str) -> Named {
    (account.to_string(), fold(name))
}

#[derive(Default)]
pub(crate) struct State {
    /// Account id → creation time (ms).
    pub accounts: BTreeMap<String, i64>,
    pub users: BTreeMap<Named, Arc<UserEntry>>,
    pub roles: BTreeMap<Named, Arc<RoleEntry>>,
    pub policies: BTreeMap<Named, Arc<PolicyEntry>>,
    pub keys: HashMap<String, Arc<Credential>>,
    /// Access-key records (not sessions), for ListAccessKeys.
    pub key_records: BTreeMap<String, (AccessKeyRecord, i64)>,
    /// Session policies by session access key id.
    pub session_policies: HashMap<String, Arc<PolicyDocument>>,
}

pub struct Iam {
    store: Arc<dyn Store>,
    root: Arc<RootKey>,
    clock: Arc<Clock>,
    /// `--dev`: every 12-digit account exists implicitly.
    dev: bool,
    state: RwLock<State>,
    /// Counts changes made to `state` in place (see [`Iam::reload_all`]).
    changes: AtomicU64,
    builtin: BTreeMap<String, Arc<PolicyEntry>>,
}

pub(crate) fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, IamError> {
    serde_json::from_slice(bytes).map_err(|e| IamError::Corrupt(format!("{what}: {e}")))
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("records serialise")
}

pub(crate) fn parse_stored(text: &str, kind: PolicyKind) -> Result<Arc<PolicyDocument>, IamError> {
    PolicyDocument::parse(text, kind).map(Arc::new).map_err(|e| IamError::Corrupt(format!("stored policy: {e}")))
}

pub(crate) fn access_key_purpose(akid: &str) -> String {
    format!("iam-access-key-secret:{akid}")
}

pub(crate) const AKID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
pub(crate) const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
pub(crate) const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// How long an expired session is remembered (so that it is reported as expired).
pub const SESSION_GRACE_MS: i64 = 24 * 3600 * 1000;

pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl Iam {
    /// Loads every identity into memory (opening each sealed secret).
    pub async fn load(store: Arc<dyn Store>, root: Arc<RootKey>, clock: Arc<Clock>, dev: bool) -> Result<Iam, IamError> {
        let iam = Iam {
            store,
            root,
            clock,
            dev,
            state: RwLock::new(State::default()),
            changes: AtomicU64::new(0),
            builtin: policies::builtin_policies(),
        };
        let st = iam.read_state().await?;
        *iam.state.write().expect("lock") = st;
        Ok(iam)
    }

    /// Reloads every identity (another node's changes may have been missed).
    ///
    /// A change made in place while the store was being read (this node's own write, or a
    /// single access key applied) would be undone by installing the older snapshot, and a
    /// write that then trusted the cache would fail on a stale version; so the snapshot is
    /// installed only if nothing changed meanwhile, and read again otherwise.
    pub async fn reload_all(&self) -> Result<(), IamError> {
        for _ in 0..16 {
            let before = self.changes.load(Ordering::Acquire);
            let st = self.read_state().await?;
            let mut guard = self.state.write().expect("iam state lock");
            if self.changes.load(Ordering::Acquire) == before {
                *guard = st;
                return Ok(());
            }
        }
        // Changes keep landing: install the newest snapshot; the feed brings what it misses.
        let st = self.read_state().await?;
        *self.state.write().expect("iam state lock") = st;
        Ok(())
    }

    /// Applies a change another node committed to an IAM item. Access keys and sessions (the
    /// frequent ones, and the ones authentication reads) are re-read one by one; users, roles,
    /// policies and accounts, which change rarely and are linked to each other, reload all.
    pub async fn apply_change(&self, table: &str, pk: &str) -> Result<(), IamError> {
        if table == tables::ACCESS_KEYS.name() {
            match self.get_item::<AccessKeyRecord>(tables::ACCESS_KEYS, pk, "").await? {
                Some((rec, version)) => {
                    let mut st = self.write_state();
                    let cred = self.key_credential(&rec, &st)?;
                    st.keys.insert(rec.access_key_id.clone(), Arc::new(cred));
                    st.key_records.insert(rec.access_key_id.clone(), (rec, version));
                }
                None => {
                    let mut st = self.write_state();
                    st.keys.remove(pk);
                    st.key_records.remove(pk);
                }
            }
            Ok(())
        } else if table == tables::SESSIONS.name() {
            match self.get_item::<SessionRecord>(tables::SESSIONS, pk, "").await? {
                Some((rec, _)) => {
                    let mut st = self.write_state();
                    self.install_session(&rec, &mut st)?;
                }
                None => {
                    let mut st = self.write_state();
                    st.keys.remove(pk);
                    st.session_policies.remove(pk);
                }
            }
            Ok(())
        } else if [tables::ACCOUNTS, tables::USERS, tables::ROLES, tables::POLICIES].iter().any(|t| t.name() == table) {
            self.reload_all().await
        } else {
            Ok(())
        }
    }

    async fn read_state(&self) -> Result<State, IamError> {
        let iam = self;
        let mut st = State::default();
        for item in scan_all(iam.store.as_ref(), tables::ACCOUNTS).await? {
            let rec: AccountRecord = decode("account", &item.value)?;
            st.accounts.insert(rec.account_id, rec.created_ms);
        }
        for item in scan_all(iam.store.as_ref(), tables::USERS).await? {
            let e = users::entry(decode("user", &item.value)?, item.version)?;
            st.users.insert(named(&e.rec.account, &e.rec.user_name), Arc::new(e));
        }
        for item in scan_all(iam.store.as_ref(), tables::ROLES).await? {
            let e = roles::entry(decode("role", &item.value)?, item.version)?;
            st.roles.insert(named(&e.rec.account, &e.rec.role_name), Arc::new(e));
        }
        for item in scan_all(iam.store.as_ref(), tables::POLICIES).await? {
            let e = policies::entry(decode("policy", &item.value)?, item.version)?;
            st.policies.insert(named(&e.rec.account, &e.rec.policy_name), Arc::new(e));
        }
        for item in scan_all(iam.store.as_ref(), tables::ACCESS_KEYS).await? {
            let rec: AccessKeyRecord = decode("access key", &item.value)?;
            let cred = iam.key_credential(&rec, &st)?;
            st.keys.insert(rec.access_key_id.clone(), Arc::new(cred));
            st.key_records.insert(rec.access_key_id.clone(), (rec, item.version));
        }
        let now = iam.clock.now().millis();
        for item in scan_all(iam.store.as_ref(), tables::SESSIONS).await? {
            let rec: SessionRecord = decode("session", &item.value)?;
            if rec.expires_ms + SESSION_GRACE_MS <= now {
                continue;
            }
            iam.install_session(&rec, &mut st)?;
        }
        Ok(st)
    }

    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().expect("iam state lock")
    }

    /// The state, to change in place (counted: see [`Iam::reload_all`]).
    pub(crate) fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        let guard = self.state.write().expect("iam state lock");
        self.changes.fetch_add(1, Ordering::AcqRel);
        guard
    }

    /// Now on the service clock (session expiry is judged by it).
    pub fn now_ms(&self) -> i64 {
        self.clock.now().millis()
    }

    fn key_credential(&self, rec: &AccessKeyRecord, st: &State) -> Result<Credential, IamError> {
        let sealed = unhex(&rec.secret_sealed).ok_or_else(|| IamError::Corrupt("sealed secret is not hex".into()))?;
        let secret = self
            .root
            .open(&access_key_purpose(&rec.access_key_id), &sealed)
            .map_err(|e| IamError::Corrupt(format!("access key {}: {e}", rec.access_key_id)))?;
        let principal = match &rec.user_name {
            None => Principal::root(&rec.account_id),
            Some(u) => match st.users.get(&named(&rec.account_id, u)) {
                Some(e) => users::principal(&e.rec),
                None => return Err(IamError::Corrupt(format!("access key {} names missing user {u}", rec.access_key_id))),
            },
        };
        Ok(Credential {
            access_key_id: rec.access_key_id.clone(),
            principal,
            active: rec.status == "Active",
            secret,
            session: None,
        })
    }

    /// The credential for an access key id (long-term key or session), from memory.
    pub fn credential(&self, access_key_id: &str) -> Option<Arc<Credential>> {
        self.read().keys.get(access_key_id).cloned()
    }

    pub fn accounts(&self) -> Vec<String> {
        self.read().accounts.keys().cloned().collect()
    }

    pub fn account_exists(&self, account: &str) -> bool {
        (self.dev && is_account_id(account)) || self.read().accounts.contains_key(account)
    }

    /// Removes sessions that expired more than [`SESSION_GRACE_MS`] ago from the store and
    /// memory (until then their use is answered `ExpiredToken`, not "unknown key"). Returns how
    /// many were removed.
    pub async fn run_jobs(&self) -> usize {
        let now = self.now_ms();
        let expired: Vec<String> = self
            .read()
            .keys
            .values()
            .filter(|c| c.session.as_ref().is_some_and(|s| s.expires_ms + SESSION_GRACE_MS <= now))
            .map(|c| c.access_key_id.clone())
            .collect();
        let mut n = 0;
        for akid in expired {
            if self.store.write(vec![Write::delete(tables::SESSIONS, &akid, "", Expect::Any)]).await.is_ok() {
                let mut st = self.write_state();
                st.keys.remove(&akid);
                st.session_policies.remove(&akid);
                n += 1;
            }
        }
        n
    }

    /// Reads one item and decodes it.
    pub(crate) async fn get_item<T: DeserializeOwned>(&self, table: Table, pk: &str, sk: &str) -> Result<Option<(T, i64)>, IamError> {
        match self.store.get(table, pk, sk).await? {
            Some(i) => Ok(Some((decode(table.name(), &i.value)?, i.version))),
            None => Ok(None),
        }
    }

    /// Writes a batch, mapping a failed precondition to `conflict(index)`.
    pub(crate) async fn commit(
        &self,
        batch: Vec<Write>,
        conflict: impl FnOnce(usize) -> IamError,
    ) -> Result<Vec<i64>, IamError> {
        match self.store.write(batch).await {
            Ok(v) => Ok(v),
            Err(StoreError::Conflict { index }) => Err(conflict(index)),
            Err(e) => Err(e.into()),
        }
    }

    /// The caller's view of a policy text given to IAM (identity or trust): parse or explain.
    pub(crate) fn check_policy_text(&self, text: &str, kind: PolicyKind) -> Result<Arc<PolicyDocument>, IamError> {
        let limit = if kind == PolicyKind::Trust { 2048 } else { 6144 };
        let chars = text.chars().filter(|c| !c.is_whitespace()).count();
        if chars > limit {
            return Err(IamError::LimitExceeded(format!("Cannot exceed quota for PolicySize: {limit}")));
        }
        let doc = PolicyDocument::parse(text, kind).map_err(|e| IamError::MalformedPolicyDocument(e.to_string()))?;
        coffer_policy::actions::check_actions(&doc).map_err(|e| IamError::MalformedPolicyDocument(e.to_string()))?;
        if kind == PolicyKind::Trust {
            for p in doc.aws_principals() {
                if !self.principal_exists_inner(p) {
                    return Err(IamError::MalformedPolicyDocument(format!("Invalid principal in policy: \"AWS\":\"{p}\"")));
                }
            }
        }
        Ok(Arc::new(doc))
    }

    fn principal_exists_inner(&self, p: &str) -> bool {
        if p == "*" {
            return true;
        }
        if is_account_id(p) {
            return self.account_exists(p);
        }
        let parts: Vec<&str> = p.splitn(6, ':').collect();
        if parts.len() != 6 {
            return false;
        }
        let (service, account, resource) = (parts[2], parts[4], parts[5]);
        if !self.account_exists(account) {
            return false;
        }
        let st = self.read();
        let last = |r: &str| r.rsplit('/').next().unwrap_or_default().to_string();
        match service {
            "iam" if resource == "root" => true,
            "iam" if resource.starts_with("user/") => {
                st.users.get(&named(account, &last(resource))).is_some_and(|u| user_arn(account, &u.rec.path, &u.rec.user_name) == p)
            }
            "iam" if resource.starts_with("role/") => {
                st.roles.get(&named(account, &last(resource))).is_some_and(|r| role_arn(account, &r.rec.path, &r.rec.role_name) == p)
            }
            "sts" => resource
                .strip_prefix("assumed-role/")
                .and_then(|r| r.split('/').next())
                .is_some_and(|role| st.roles.contains_key(&named(account, role))),
            _ => false,
        }
    }
}

impl coffer_policy::Identities for Iam {
    fn identity_policies(&self, p: &Principal) -> Vec<Arc<PolicyDocument>> {
        let st = self.read();
        let (inline, attached): (&[Arc<PolicyDocument>], &[String]) = match p.kind {
            PrincipalKind::Root => return Vec::new(),
            PrincipalKind::User => match st.users.get(&named(&p.account, &p.name)) {
                Some(u) => (&u.inline, &u.rec.attached),
                None => return Vec::new(),
            },
            PrincipalKind::AssumedRole => {
                let role = p.role_arn.as_deref().and_then(|a| a.rsplit('/').next()).unwrap_or_default();
                match st.roles.get(&named(&p.account, role)) {
                    Some(r) => (&r.inline, &r.rec.attached),
                    None => return Vec::new(),
                }
            }
        };
        let mut out: Vec<Arc<PolicyDocument>> = inline.to_vec();
        for arn in attached {
            if let Some(e) = self.managed(&st, arn) {
                out.push(e.doc.clone());
            }
        }
        out
    }

    fn principal_tags(&self, p: &Principal) -> Vec<(String, String)> {
        let st = self.read();
        let tags = match p.kind {
            PrincipalKind::Root => return Vec::new(),
            PrincipalKind::User => st.users.get(&named(&p.account, &p.name)).map(|u| u.rec.tags.clone()),
            PrincipalKind::AssumedRole => {
                let role = p.role_arn.as_deref().and_then(|a| a.rsplit('/').next()).unwrap_or_default();
                st.roles.get(&named(&p.account, role)).map(|r| r.rec.tags.clone())
            }
        };
        tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value)).collect()
    }

    fn principal_exists(&self, principal: &str) -> bool {
        self.principal_exists_inner(principal)
    }

    fn session_policy(&self, access_key_id: &str) -> Option<Arc<PolicyDocument>> {
        self.read().session_policies.get(access_key_id).cloned()
    }
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
            let (root, _raw) = RootKey::generate();
            let root = Arc::new(root);
            let clock = Arc::new(Clock::new());
            let iam = Iam::load(store.clone(), root.clone(), clock.clone(), false).await.unwrap();
            let (acct, key) = iam.create_account(Some("111111111111")).await.unwrap();
            assert_eq!(acct, "111111111111");
            assert!(key.access_key_id.starts_with("AKIA") && key.access_key_id.len() == 20);
            assert_eq!(key.secret_access_key.len(), 40);
            assert!(matches!(iam.create_account(Some("111111111111")).await, Err(IamError::AccountExists(_))));
            let again = Iam::load(store.clone(), root, clock.clone(), false).await.unwrap();
            let c = again.credential(&key.access_key_id).unwrap();
            assert_eq!(c.secret(), key.secret_access_key.expose());
            assert_eq!(c.principal.arn, "arn:aws:iam::111111111111:root");
            let (other, _) = RootKey::generate();
            assert!(matches!(Iam::load(store, Arc::new(other), clock, false).await, Err(IamError::Corrupt(_))));
        });
    }
}
