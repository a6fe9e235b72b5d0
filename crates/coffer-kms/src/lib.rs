//! The KMS service: keys, key materials, aliases, rotation, key policies, and the cryptographic
//! operations, behaving as AWS KMS does for symmetric keys.
//!
//! Why it is built this way:
//! - **State lives in the store, reads come from memory.** Every key and alias is cached with
//!   its materials unsealed ([`state`]); the crypto hot path (Encrypt, Decrypt, ReEncrypt,
//!   GenerateDataKey) reads only the cache. Every change is a conditional store write first
//!   ([`Kms::mutate_key`]), applied to the cache after it commits.
//! - **No HTTP here.** Operations take a [`coffer_policy::Caller`] and a request struct from
//!   [`model`] and return a response struct or a [`KmsError`]; the server owns the wire.
//! - **One file per operation family**: `keys.rs` (lifecycle), `crypto_ops.rs`, `aliases.rs`,
//!   `tags.rs`, `rotation.rs`, `policy.rs`, `managed.rs` (AWS managed keys), `jobs.rs`
//!   (deletion reaper and rotation scheduler), `resolve.rs` (KeyId forms), `authorize.rs`.
#![forbid(unsafe_code)]

mod aliases;
mod authorize;
pub(crate) mod crypto_ops;
mod error;
mod grants;
mod import;
mod jobs;
mod keys;
mod managed;
pub mod model;
mod pairs;
mod policy;
mod resolve;
mod rotation;
mod sign;
pub mod state;
mod tags;
mod validate;

use std::sync::Arc;

use coffer_crypto::RootKey;
use coffer_policy::Identities;
use coffer_store::{Expect, Store, StoreError, Write, scan_all, tables};
use coffer_util::Clock;

pub use error::KmsError;
pub use jobs::JobReport;
use state::{AliasEntry, AliasRecord, Cache, KeyEntry, KeyRecord};

/// Tunables of the KMS service.
#[derive(Clone, Debug)]
pub struct KmsConfig {
    /// On-demand rotations allowed per key (AWS: 25, not adjustable).
    pub max_on_demand_rotations: u32,
    /// Aliases allowed per key (AWS: 50).
    pub max_aliases_per_key: usize,
}

impl Default for KmsConfig {
    fn default() -> Self {
        KmsConfig { max_on_demand_rotations: 25, max_aliases_per_key: 50 }
    }
}

pub struct Kms {
    store: Arc<dyn Store>,
    root: Arc<RootKey>,
    clock: Arc<Clock>,
    cache: Cache,
    config: KmsConfig,
    /// Identity policies, tags and principal existence, from the IAM service.
    identities: Arc<dyn Identities>,
}

/// How many times a conditional write is retried after losing a race.
pub(crate) const MAX_ATTEMPTS: usize = 8;

fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, KmsError> {
    serde_json::from_slice(bytes).map_err(|e| KmsError::Internal(format!("stored {what} is unreadable: {e}")))
}

fn alias_entry(item: &coffer_store::Item) -> Result<AliasEntry, KmsError> {
    let rec: AliasRecord = decode("alias", &item.value)?;
    let (account, region) = item.pk.split_once(':').unwrap_or((&item.pk, ""));
    Ok(AliasEntry { name: item.sk.clone(), account: account.to_string(), region: region.to_string(), rec, version: item.version })
}

fn encode<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("records serialise")
}

impl Kms {
    /// Loads every key and alias into memory. Fails if any sealed material does not open with
    /// `root` (the caller refuses to start in that case).
    pub async fn load(
        store: Arc<dyn Store>,
        root: Arc<RootKey>,
        clock: Arc<Clock>,
        config: KmsConfig,
        identities: Arc<dyn Identities>,
    ) -> Result<Kms, KmsError> {
        let kms = Kms { store, root, clock, cache: Cache::default(), config, identities };
        kms.load_into(&kms.cache).await?;
        Ok(kms)
    }

    /// Reads every key, alias and grant into `cache`, reusing the unsealed materials of keys
    /// already in `self.cache` whose materials did not change.
    async fn load_into(&self, cache: &Cache) -> Result<(), KmsError> {
        for item in scan_all(self.store.as_ref(), tables::KMS_KEYS).await? {
            let rec: KeyRecord = decode("key", &item.value)?;
            let prev = coffer_crypto::random::parse_uuid(&rec.key_id).and_then(|u| self.cache.key(&u));
            let entry = KeyEntry::build(rec, item.version, &self.root, prev.as_deref())?;
            cache.put_key(Arc::new(entry));
        }
        for item in scan_all(self.store.as_ref(), tables::KMS_ALIASES).await? {
            cache.put_alias(Arc::new(alias_entry(&item)?));
        }
        for item in scan_all(self.store.as_ref(), tables::KMS_GRANTS).await? {
            let rec: state::GrantRecord = decode("grant", &item.value)?;
            if let Some(uuid) = coffer_crypto::random::parse_uuid(&rec.key_id) {
                cache.put_grant(uuid, Arc::new(state::GrantEntry { rec, version: item.version }));
            }
        }
        Ok(())
    }

    /// Reloads everything (another node's changes may have been missed).
    pub async fn reload_all(&self) -> Result<(), KmsError> {
        let fresh = Cache::default();
        self.load_into(&fresh).await?;
        self.cache.replace(fresh);
        Ok(())
    }

    /// Applies a change another node committed to one KMS item: re-reads it from the store.
    pub async fn apply_change(&self, table: &str, pk: &str, sk: &str) -> Result<(), KmsError> {
        if table == tables::KMS_KEYS.name() {
            self.reload_key(pk).await?;
        } else if table == tables::KMS_ALIASES.name() {
            let (account, region) = pk.split_once(':').unwrap_or((pk, ""));
            let entry = match self.store.get(tables::KMS_ALIASES, pk, sk).await? {
                Some(item) => Some(Arc::new(alias_entry(&item)?)),
                None => None,
            };
            self.cache.set_alias(account, region, sk, entry);
        } else if table == tables::KMS_GRANTS.name() {
            let Some(uuid) = coffer_crypto::random::parse_uuid(pk) else { return Ok(()) };
            match self.store.get(tables::KMS_GRANTS, pk, sk).await? {
                Some(item) => {
                    let rec: state::GrantRecord = decode("grant", &item.value)?;
                    self.cache.put_grant(uuid, Arc::new(state::GrantEntry { rec, version: item.version }));
                }
                None => self.cache.remove_grant(&uuid, sk),
            }
        }
        Ok(())
    }

    /// Number of keys held (all accounts and regions).
    pub fn key_count(&self) -> usize {
        self.cache.all_keys().len()
    }

    /// Re-reads one key from the store into the cache (after losing a write race).
    async fn reload_key(&self, key_id: &str) -> Result<Option<Arc<KeyEntry>>, KmsError> {
        let uuid = coffer_crypto::random::parse_uuid(key_id)
            .ok_or_else(|| KmsError::Internal(format!("bad key id {key_id:?}")))?;
        match self.store.get(tables::KMS_KEYS, key_id, "").await? {
            Some(item) => {
                let rec: KeyRecord = decode("key", &item.value)?;
                let prev = self.cache.key(&uuid);
                let e = Arc::new(KeyEntry::build(rec, item.version, &self.root, prev.as_deref())?);
                self.cache.put_key(e.clone());
                Ok(self.cache.key(&uuid))
            }
            None => {
                self.cache.remove_key(&uuid);
                Ok(None)
            }
        }
    }

    /// Changes one key with optimistic concurrency: `change` sees the current entry and returns
    /// the new record (or an error, which is returned unchanged) plus a result value. The write
    /// is conditional on the version `change` saw; on a lost race the key is re-read and
    /// `change` runs again, so its checks always apply to the state actually overwritten.
    /// `extra` adds writes to the same atomic batch (e.g. alias rows).
    async fn mutate_key<T>(
        &self,
        entry: Arc<KeyEntry>,
        mut change: impl FnMut(&KeyEntry) -> Result<(KeyRecord, Vec<Write>, T), KmsError>,
    ) -> Result<(Arc<KeyEntry>, T), KmsError> {
        let mut entry = entry;
        for _ in 0..MAX_ATTEMPTS {
            let (rec, extra, out) = change(&entry)?;
            let mut batch =
                vec![Write::put(tables::KMS_KEYS, &rec.key_id, "", encode(&rec), Expect::Version(entry.version))];
            batch.extend(extra);
            match self.store.write(batch).await {
                Ok(versions) => {
                    let new = Arc::new(KeyEntry::build(rec, versions[0], &self.root, Some(&entry))?);
                    self.cache.put_key(new.clone());
                    return Ok((new, out));
                }
                Err(StoreError::Conflict { .. }) => match self.reload_key(&entry.rec.key_id).await? {
                    Some(e) => entry = e,
                    None => return Err(KmsError::NotFound(format!("Key '{}' does not exist", entry.arn))),
                },
                Err(e) => return Err(e.into()),
            }
        }
        Err(KmsError::Conflict(format!("{} is being changed concurrently; retry the request.", entry.arn)))
    }

    /// Runs the deletion reaper and the rotation scheduler once (see [`jobs`]).
    pub async fn run_jobs(&self) -> JobReport {
        jobs::run(self).await
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}

pub use coffer_crypto::EncryptionContext;
