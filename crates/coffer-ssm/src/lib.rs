//! AWS Systems Manager Parameter Store: String, StringList and SecureString parameters with
//! versions, labels, tags, tiers, parameter policies and hierarchies, behaving as AWS does.
//!
//! Why it is built this way:
//! - **SecureString through KMS, in-process, as a caller.** Values are encrypted by Coffer's own
//!   KMS with the caller's identity and `kms:ViaService = ssm.<region>.amazonaws.com`, through
//!   the same authorization path as an outside KMS request, and bound to the encryption context
//!   `{"PARAMETER_ARN": <arn>}` — so a client holding the ciphertext can decrypt it with KMS, and
//!   a caller without `kms:Decrypt` gets ciphertext but not plaintext. A KMS failure fails the
//!   write; plaintext is never stored.
//! - **Optimistic concurrency on the parameter head** (records.rs): writers to one name are
//!   serialised by the database, retried on a lost race, and never lose an update.
//! - **Reads from memory**: heads (with the latest version) are cached; the hot GetParameter path
//!   does no database I/O.
//!
//! One file per operation family: `put.rs`, `get.rs`, `path.rs`, `describe.rs`, `history.rs`,
//! `delete.rs`, `labels.rs`, `tags.rs`; `secure.rs` talks to KMS; `policies.rs` holds parameter
//! policies and the expiration job; `names.rs` the naming rules.
#![forbid(unsafe_code)]

mod delete;
mod describe;
mod error;
mod get;
mod history;
mod labels;
pub mod model;
pub mod names;
mod path;
mod policies;
mod put;
pub mod records;
mod secure;
mod tags;

use std::sync::Arc;

use coffer_kms::Kms;
use coffer_policy::{Access, Caller, EvalRequest, Identities, decide, global_context};
use coffer_store::{Store, scan_all, tables};
use coffer_util::Clock;

pub use error::SsmError;
pub use policies::JobReport;
use records::{Cache, HeadEntry, HeadRecord};

/// Parameter Store settings (AWS's quotas by default).
#[derive(Clone, Debug)]
pub struct SsmConfig {
    /// Standard-tier parameters per account and region.
    pub max_standard: usize,
    /// Advanced-tier parameters per account and region.
    pub max_advanced: usize,
    /// Tier used when a write names none: `Standard`, `Advanced` or `Intelligent-Tiering`.
    pub default_tier: String,
}

impl Default for SsmConfig {
    fn default() -> Self {
        SsmConfig { max_standard: 10_000, max_advanced: 100_000, default_tier: "Standard".into() }
    }
}

pub struct Ssm {
    store: Arc<dyn Store>,
    kms: Arc<Kms>,
    identities: Arc<dyn Identities>,
    clock: Arc<Clock>,
    cache: Cache,
    config: SsmConfig,
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, SsmError> {
    serde_json::from_slice(bytes).map_err(|e| SsmError::Internal(format!("stored {what} is unreadable: {e}")))
}

pub(crate) fn encode<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("records serialise")
}

impl Ssm {
    /// Loads every parameter head into memory.
    pub async fn load(
        store: Arc<dyn Store>,
        kms: Arc<Kms>,
        identities: Arc<dyn Identities>,
        clock: Arc<Clock>,
        config: SsmConfig,
    ) -> Result<Ssm, SsmError> {
        let ssm = Ssm { store, kms, identities, clock, cache: Cache::default(), config };
        ssm.load_into(&ssm.cache).await?;
        Ok(ssm)
    }

    async fn load_into(&self, cache: &Cache) -> Result<(), SsmError> {
        for item in scan_all(self.store.as_ref(), tables::SSM_PARAMETERS).await? {
            let rec: HeadRecord = decode("parameter", &item.value)?;
            cache.put(&item.pk, Arc::new(HeadEntry { rec, version: item.version }));
        }
        Ok(())
    }

    /// Reloads every parameter head (another node's changes may have been missed).
    pub async fn reload_all(&self) -> Result<(), SsmError> {
        let fresh = Cache::default();
        self.load_into(&fresh).await?;
        self.cache.replace(fresh);
        Ok(())
    }

    /// Applies a change another node committed to a parameter head.
    pub async fn apply_change(&self, table: &str, pk: &str, sk: &str, version: i64) -> Result<(), SsmError> {
        if table != tables::SSM_PARAMETERS.name() {
            return Ok(());
        }
        // A change this node already holds (its own write, cached at commit) needs no read: under
        // a heavy write load re-reading every own write would fall behind the change feed.
        if version > 0 && self.cache.get(pk, sk).is_some_and(|e| e.version >= version) {
            return Ok(());
        }
        let entry = self.stored_head(pk, sk).await?;
        self.cache.set(pk, sk, entry);
        Ok(())
    }

    pub(crate) fn scope(caller: &Caller) -> String {
        records::scope(caller.account(), &caller.region)
    }

    pub(crate) fn arn(caller: &Caller, key: &str) -> String {
        names::arn(&caller.region, caller.account(), key)
    }

    /// Checks `ssm:<action>` on `resource` against the caller's identity policies (Parameter
    /// Store resources have no resource policies here).
    pub(crate) fn authorize(&self, caller: &Caller, action: &str, resource: &str, extra: &[(String, Vec<String>)]) -> Result<(), SsmError> {
        let action = format!("ssm:{action}");
        let now = self.clock.now();
        let mut ctx = global_context(caller, &self.identities.principal_tags(&caller.principal), &now.iso8601(), now.secs());
        for (k, v) in extra {
            ctx.set_all(k.clone(), v.clone());
        }
        let identity = self.identities.identity_policies(&caller.principal);
        let session = self.identities.session_policy(&caller.access_key_id);
        let access = Access {
            request: EvalRequest { principal: &caller.principal, action: &action, resource, context: &ctx },
            resource_policy: None,
            resource_account: caller.account(),
            identity: &identity,
            session_policy: session.as_deref(),
            extra_allow: false,
            identity_suffices: false,
        };
        decide(&access).map_err(|d| SsmError::AccessDenied(d.message(&caller.principal.arn, &action, resource)))
    }

    /// Re-reads one head from the store into the cache. Every write starts from this, not from
    /// the cache: the cache of a node in a cluster can lag a change another node just made, and a
    /// write must neither fail on a stale view ("not found", "already exists", "type is
    /// required") nor lose a race it could detect (its `Expect::Version` still guards the commit).
    /// Returns what the store holds (the cache keeps a newer head if it has one, but a write's
    /// precondition must be the store's version: a parameter deleted and re-created elsewhere
    /// starts again at version 1).
    pub(crate) async fn reload(&self, scope: &str, key: &str) -> Result<Option<Arc<HeadEntry>>, SsmError> {
        let entry = self.stored_head(scope, key).await?;
        match &entry {
            Some(e) => self.cache.put(scope, e.clone()),
            None => self.cache.remove(scope, key),
        }
        Ok(entry)
    }

    /// The head the store holds now (the cache untouched).
    async fn stored_head(&self, scope: &str, key: &str) -> Result<Option<Arc<HeadEntry>>, SsmError> {
        match self.store.get(tables::SSM_PARAMETERS, scope, key).await? {
            Some(item) => Ok(Some(Arc::new(HeadEntry { rec: decode::<HeadRecord>("parameter", &item.value)?, version: item.version }))),
            None => Ok(None),
        }
    }

    /// Runs parameter-policy actions that are due (expiration, notifications).
    pub async fn run_jobs(&self) -> JobReport {
        policies::run(self).await
    }

    pub fn parameter_count(&self) -> usize {
        self.cache.all().len()
    }
}

/// ParameterNotFound, AWS's way.
pub(crate) fn not_found(name: &str) -> SsmError {
    SsmError::ParameterNotFound(format!("Parameter {name} not found."))
}
