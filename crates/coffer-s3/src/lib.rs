//! S3 buckets and objects with real server-side encryption.
//!
//! Why it is built this way:
//! - **Every object is encrypted at rest** (SSE-S3 unless the request or the bucket default says
//!   otherwise). Each object has a random 256-bit *object key*; each of its data files
//!   (*segments*: the whole object, or one multipart part) is encrypted in 64 KiB authenticated
//!   chunks under a key derived from the object key and the segment's random id
//!   (coffer-crypto `object.rs`, docs/formats.md). So a range GET decrypts only the chunks it
//!   needs, truncation and reordering are detected, and memory stays bounded for any size.
//! - **The mode decides who holds the object key** (encryption.rs): sealed under the root key
//!   (SSE-S3); a KMS data key obtained in-process as the caller with
//!   `kms:ViaService = s3.<region>.amazonaws.com` and the encryption context `aws:s3:arn`, or
//!   sealed under a cached per-bucket KMS data key when Bucket Keys are on (SSE-KMS); sealed
//!   under the customer's key, of which only a salted HMAC is kept (SSE-C). A KMS refusal or a
//!   disabled key therefore makes the object unreadable, exactly as in AWS.
//! - **Nothing partial becomes visible**: data goes to a temporary file, is fsynced and renamed,
//!   and only then is the object record committed (conditionally, in one store transaction).
//!   Files a commit replaced are recorded as garbage in that same transaction and deleted after.
//! - **Authorization** (policy.rs): `s3:<Action>` against identity policies and the bucket
//!   policy, combined as AWS does for resource policies that add to identity policies.
//!
//! One file per operation family: `buckets.rs`, `policy.rs`, `encryption.rs`, `put.rs`,
//! `get.rs`, `copy.rs`, `delete.rs`, `list.rs`, `multipart.rs`; `data.rs` owns the data files,
//! `checks.rs` ETags, checksums and preconditions, `names.rs` the naming rules.
#![forbid(unsafe_code)]

mod buckets;
mod checks;
mod copy;
mod data;
mod delete;
mod encryption;
mod error;
mod get;
mod list;
pub mod model;
mod multipart;
pub mod names;
mod policy;
mod put;
pub mod records;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use coffer_crypto::RootKey;
use coffer_kms::Kms;
use coffer_policy::{Caller, Identities};
use coffer_store::{Store, scan_all, tables};
use coffer_util::Clock;

pub use error::{ErrorDetail, S3Error};
pub use get::ObjectBody;
use records::{BucketEntry, BucketRecord};

/// S3 settings.
#[derive(Clone, Debug)]
pub struct S3Config {
    /// Directory holding object data (`<data_dir>/objects`).
    pub data_root: PathBuf,
    /// Accept SSE-C over plain HTTP (AWS refuses it; `--dev` allows it).
    pub allow_ssec_over_http: bool,
    /// Encrypt object data. Off only for benchmarks measuring the cost of encryption.
    pub encrypt: bool,
}

/// Counters for tests and metrics.
#[derive(Default)]
pub struct S3Stats {
    /// Encrypted chunks read from data files.
    pub chunks_read: AtomicU64,
    /// KMS data-key operations performed (bucket keys save these).
    pub kms_calls: AtomicU64,
}

pub struct S3 {
    store: Arc<dyn Store>,
    kms: Arc<Kms>,
    identities: Arc<dyn Identities>,
    root: Arc<RootKey>,
    clock: Arc<Clock>,
    config: S3Config,
    buckets: RwLock<HashMap<String, Arc<BucketEntry>>>,
    bucket_keys: encryption::BucketKeyCache,
    pub stats: Arc<S3Stats>,
    readers: Arc<data::Readers>,
    last_sweep: std::sync::Mutex<Option<std::time::Instant>>,
}

/// How often unreferenced data files are looked for, and how old one must be to go.
const ORPHAN_SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);
const ORPHAN_MIN_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

pub(crate) fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, S3Error> {
    serde_json::from_slice(bytes).map_err(|e| S3Error::Internal(format!("stored {what} is unreadable: {e}")))
}

pub(crate) fn encode<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("records serialise")
}

impl S3 {
    /// Loads every bucket into memory and prepares the data directory (removing temporary files
    /// a crash left behind, and data files recorded as garbage).
    pub async fn load(
        store: Arc<dyn Store>,
        kms: Arc<Kms>,
        identities: Arc<dyn Identities>,
        root: Arc<RootKey>,
        clock: Arc<Clock>,
        config: S3Config,
    ) -> Result<S3, S3Error> {
        data::prepare(&config.data_root).await?;
        let s3 = S3 {
            store,
            kms,
            identities,
            root,
            clock,
            config,
            buckets: RwLock::new(HashMap::new()),
            bucket_keys: encryption::BucketKeyCache::default(),
            stats: Arc::new(S3Stats::default()),
            readers: Arc::default(),
            last_sweep: std::sync::Mutex::new(None),
        };
        for item in scan_all(s3.store.as_ref(), tables::S3_BUCKETS).await? {
            let rec: BucketRecord = decode("bucket", &item.value)?;
            let entry = s3.bucket_entry(rec, item.version)?;
            s3.buckets.write().expect("bucket lock").insert(entry.rec.name.clone(), Arc::new(entry));
        }
        s3.collect_garbage().await;
        Ok(s3)
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now().millis()
    }

    /// Reloads every bucket (another node's changes may have been missed).
    pub async fn reload_all(&self) -> Result<(), S3Error> {
        let mut fresh = HashMap::new();
        for item in scan_all(self.store.as_ref(), tables::S3_BUCKETS).await? {
            let rec: BucketRecord = decode("bucket", &item.value)?;
            let entry = self.bucket_entry(rec, item.version)?;
            fresh.insert(entry.rec.name.clone(), Arc::new(entry));
        }
        *self.buckets.write().expect("bucket lock") = fresh;
        Ok(())
    }

    /// Applies a change another node committed to a bucket.
    pub async fn apply_change(&self, table: &str, pk: &str) -> Result<(), S3Error> {
        if table == tables::S3_BUCKETS.name() {
            self.reload_bucket(pk).await?;
        }
        Ok(())
    }

    /// Encrypted chunks read so far (tests prove range reads touch only what they need).
    pub fn chunks_read(&self) -> u64 {
        self.stats.chunks_read.load(Ordering::Relaxed)
    }

    pub fn kms_calls(&self) -> u64 {
        self.stats.kms_calls.load(Ordering::Relaxed)
    }

    /// The bucket, or NoSuchBucket. Requests must be signed for the bucket's region.
    pub(crate) fn bucket(&self, caller: &Caller, name: &str) -> Result<Arc<BucketEntry>, S3Error> {
        let b = self
            .buckets
            .read()
            .expect("bucket lock")
            .get(name)
            .cloned()
            .ok_or_else(|| S3Error::NoSuchBucket(name.to_string()))?;
        if b.rec.region != caller.region {
            return Err(S3Error::WrongRegion { region: b.rec.region.clone(), asked: caller.region.clone() });
        }
        Ok(b)
    }

    /// The account that owns a bucket, if it exists (`x-amz-expected-bucket-owner`).
    pub fn bucket_owner(&self, name: &str) -> Option<String> {
        self.buckets.read().expect("bucket lock").get(name).map(|b| b.rec.account.clone())
    }

    /// The region a bucket lives in, if it exists (for redirects).
    pub fn bucket_region(&self, name: &str) -> Option<String> {
        self.buckets.read().expect("bucket lock").get(name).map(|b| b.rec.region.clone())
    }

    /// Runs background work: deleting data files recorded as garbage, and (hourly, and at the
    /// first run after start) sweeping data files no record names.
    pub async fn run_jobs(&self) -> usize {
        let mut n = self.collect_garbage().await;
        let due = {
            let mut last = self.last_sweep.lock().expect("sweep lock");
            let due = last.is_none_or(|t| t.elapsed() >= ORPHAN_SWEEP_INTERVAL);
            if due {
                *last = Some(std::time::Instant::now());
            }
            due
        };
        if due {
            match self.sweep_orphans(ORPHAN_MIN_AGE).await {
                Ok(k) => n += k,
                Err(e) => tracing::warn!(error = %e, "sweeping unreferenced object data failed"),
            }
        }
        n
    }
}
