//! Per-access-key request rates: token buckets over quota groups, answered with AWS's throttling
//! errors (`ThrottlingException` on KMS and Parameter Store, `Throttling` on IAM/STS, `SlowDown`
//! on S3), which every AWS SDK retries with backoff.
//!
//! Why per access key, and why these numbers:
//!
//! - A key service is a shared dependency: one runaway client (a retry loop, a leaked key used
//!   for scraping) must not starve the others. AWS enforces request quotas per account and
//!   region; Coffer enforces them per access key, the narrowest identity a request proves, so a
//!   misbehaving workload is throttled alone even when several share an account.
//! - [`QuotaTable::aws`] presets AWS's published default quotas (KMS cryptographic operations
//!   share one symmetric and one asymmetric rate; management operations have their own small
//!   rates; Parameter Store reads share 40/s and PutParameter is 3/s; S3 allows 3,500 writes and
//!   5,500 reads per second). Operations AWS publishes no quota for (IAM, STS) are not limited.
//!   Asymmetric Encrypt/Decrypt count as symmetric here: the group is chosen before the key is
//!   looked up.
//! - Each bucket holds one second of its rate (the burst) and refills continuously, so a client
//!   within its quota is never throttled by timing jitter.
//! - The state is a sharded map of small fixed arrays (one bucket per group per key): the hot
//!   path takes one uncontended lock and allocates nothing for a known key. Keys idle long enough
//!   for every bucket to refill are dropped when a shard grows, so made-up access keys (`--dev`)
//!   cannot grow memory without bound.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Instant;

/// A rate: `per_second` requests per second with a burst of one second's worth (at least 1).
#[derive(Clone, Debug)]
pub struct Quota {
    /// `kms:cryptographic-symmetric`, or `<service>:<Operation>` for an operation's own quota.
    pub name: String,
    pub per_second: f64,
}

/// Which quota each operation counts against.
#[derive(Clone, Debug, Default)]
pub struct QuotaTable {
    quotas: Vec<Quota>,
    /// `(service, operation)` → index into `quotas`.
    ops: HashMap<(String, String), usize>,
    /// A service's quota for operations not listed in `ops`.
    service_default: HashMap<String, usize>,
}

const KMS_SYMMETRIC: &[&str] =
    &["Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateMac", "GenerateRandom", "ReEncrypt", "VerifyMac"];
const KMS_ASYMMETRIC: &[&str] =
    &["Sign", "Verify", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "DeriveSharedSecret"];
/// KMS management operations and their default requests per second.
const KMS_OPS: &[(&str, f64)] = &[
    ("CancelKeyDeletion", 5.0),
    ("CreateAlias", 5.0),
    ("CreateGrant", 50.0),
    ("CreateKey", 50.0),
    ("DeleteAlias", 5.0),
    ("DeleteImportedKeyMaterial", 5.0),
    ("DescribeKey", 2000.0),
    ("DisableKey", 5.0),
    ("DisableKeyRotation", 5.0),
    ("EnableKey", 5.0),
    ("EnableKeyRotation", 5.0),
    ("GetKeyPolicy", 1000.0),
    ("GetKeyRotationStatus", 1000.0),
    ("GetParametersForImport", 1.0),
    ("GetPublicKey", 2000.0),
    ("ImportKeyMaterial", 5.0),
    ("ListAliases", 100.0),
    ("ListGrants", 100.0),
    ("ListKeyPolicies", 100.0),
    ("ListKeyRotations", 100.0),
    ("ListKeys", 100.0),
    ("ListResourceTags", 2000.0),
    ("ListRetirableGrants", 100.0),
    ("PutKeyPolicy", 5.0),
    ("RetireGrant", 50.0),
    ("RevokeGrant", 50.0),
    ("RotateKeyOnDemand", 5.0),
    ("ScheduleKeyDeletion", 5.0),
    ("TagResource", 10.0),
    ("UntagResource", 10.0),
    ("UpdateAlias", 5.0),
    ("UpdateKeyDescription", 5.0),
];
const SSM_READS: &[&str] = &["GetParameter", "GetParameters", "GetParametersByPath"];
const S3_READS: &[&str] = &["GetObject", "HeadObject", "HeadBucket", "GetObjectAttributes", "ListObjects", "ListObjectsV2", "ListParts", "ListMultipartUploads", "ListBuckets"];

impl QuotaTable {
    /// No limits.
    pub fn none() -> QuotaTable {
        QuotaTable::default()
    }

    /// AWS's default quotas (see the module documentation).
    pub fn aws() -> QuotaTable {
        let mut t = QuotaTable::default();
        let sym = t.add("kms:cryptographic-symmetric", 10_000.0);
        for op in KMS_SYMMETRIC {
            t.ops.insert(("kms".into(), (*op).into()), sym);
        }
        let asym = t.add("kms:cryptographic-asymmetric", 1_000.0);
        for op in KMS_ASYMMETRIC {
            t.ops.insert(("kms".into(), (*op).into()), asym);
        }
        for (op, rate) in KMS_OPS {
            let i = t.add(&format!("kms:{op}"), *rate);
            t.ops.insert(("kms".into(), (*op).into()), i);
        }
        let kms_other = t.add("kms:other", 100.0);
        t.service_default.insert("kms".into(), kms_other);
        let reads = t.add("ssm:get-parameters", 40.0);
        for op in SSM_READS {
            t.ops.insert(("ssm".into(), (*op).into()), reads);
        }
        let put = t.add("ssm:PutParameter", 3.0);
        t.ops.insert(("ssm".into(), "PutParameter".into()), put);
        let ssm_other = t.add("ssm:other", 40.0);
        t.service_default.insert("ssm".into(), ssm_other);
        let s3_reads = t.add("s3:reads", 5_500.0);
        for op in S3_READS {
            t.ops.insert(("s3".into(), (*op).into()), s3_reads);
        }
        let s3_writes = t.add("s3:writes", 3_500.0);
        t.service_default.insert("s3".into(), s3_writes);
        t
    }

    fn add(&mut self, name: &str, per_second: f64) -> usize {
        self.quotas.push(Quota { name: name.into(), per_second });
        self.quotas.len() - 1
    }

    /// Sets a quota by name: a group or service default (`kms:cryptographic-symmetric`,
    /// `ssm:get-parameters`, `s3:writes`, `kms:other`) changes rate; `<service>:<Operation>`
    /// gives that operation its own quota (taking it out of its group). A rate of 0 removes
    /// the limit.
    pub fn set(&mut self, name: &str, per_second: f64) -> Result<(), String> {
        if !(per_second.is_finite() && per_second >= 0.0) {
            return Err(format!("rate limit {name}: the rate must be a number of requests per second, 0 or more"));
        }
        let Some((service, op)) = name.split_once(':').filter(|(s, o)| !s.is_empty() && !o.is_empty()) else {
            return Err(format!("rate limit {name:?}: expected <service>:<Operation> or a group such as kms:cryptographic-symmetric"));
        };
        if let Some(q) = self.quotas.iter_mut().find(|q| q.name == name) {
            q.per_second = per_second;
            return Ok(());
        }
        let starts_upper = op.chars().next().is_some_and(|c| c.is_ascii_uppercase());
        if !starts_upper || !op.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("rate limit {name:?}: no such quota group, and {op:?} is not an operation name"));
        }
        let i = self.add(name, per_second);
        self.ops.insert((service.to_string(), op.to_string()), i);
        Ok(())
    }

    /// Quota `i`, unless its rate of 0 means "no limit".
    fn limited(&self, i: usize) -> Option<usize> {
        (self.quotas[i].per_second > 0.0).then_some(i)
    }

    /// The quotas, for documentation and `--help`.
    pub fn quotas(&self) -> &[Quota] {
        &self.quotas
    }
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Access key → one bucket per quota (created on first use).
type Shard = HashMap<String, Box<[Option<Bucket>]>>;

const SHARDS: usize = 32;
/// A shard larger than this drops its idle keys.
const SHARD_SOFT_CAP: usize = 4096;

/// The live buckets for a [`QuotaTable`].
pub struct RateLimiter {
    table: QuotaTable,
    /// `table.ops` as nested maps (looked up by `&str` without allocating), limits of 0 resolved.
    index: HashMap<String, HashMap<String, Option<usize>>>,
    shards: Vec<Mutex<Shard>>,
    hasher: RandomState,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").field("quotas", &self.table.quotas.len()).finish_non_exhaustive()
    }
}

impl RateLimiter {
    pub fn new(table: QuotaTable) -> RateLimiter {
        let mut index: HashMap<String, HashMap<String, Option<usize>>> = HashMap::new();
        for ((service, op), &i) in &table.ops {
            index.entry(service.clone()).or_default().insert(op.clone(), table.limited(i));
        }
        RateLimiter { table, index, shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(), hasher: RandomState::new() }
    }

    fn quota(&self, service: &str, op: &str) -> Option<usize> {
        match self.index.get(service).and_then(|m| m.get(op)) {
            Some(q) => *q,
            None => self.table.service_default.get(service).and_then(|&i| self.table.limited(i)),
        }
    }

    /// Takes one request of `service:op` from `access_key`'s bucket. `Err` names the exhausted
    /// quota.
    pub fn check(&self, access_key: &str, service: &str, op: &str) -> Result<(), &str> {
        self.check_at(access_key, service, op, Instant::now())
    }

    fn check_at(&self, access_key: &str, service: &str, op: &str, now: Instant) -> Result<(), &str> {
        let Some(q) = self.quota(service, op) else { return Ok(()) };
        let rate = self.table.quotas[q].per_second;
        let burst = rate.max(1.0);
        let shard = &self.shards[(self.hasher.hash_one(access_key) as usize) % SHARDS];
        let mut map = shard.lock().unwrap_or_else(|p| p.into_inner());
        if !map.contains_key(access_key) {
            if map.len() >= SHARD_SOFT_CAP {
                let quotas = &self.table.quotas;
                map.retain(|_, buckets| {
                    buckets.iter().enumerate().any(|(i, b)| {
                        b.is_some_and(|b| b.tokens + now.duration_since(b.at).as_secs_f64() * quotas[i].per_second < quotas[i].per_second.max(1.0))
                    })
                });
            }
            map.insert(access_key.to_string(), vec![None; self.table.quotas.len()].into_boxed_slice());
        }
        let buckets = map.get_mut(access_key).expect("inserted above");
        let b = buckets[q].get_or_insert(Bucket { tokens: burst, at: now });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(&self.table.quotas[q].name)
        }
    }
}

/// `<service>:<Operation>=<rate>` (command line and environment form of a quota override).
pub fn parse_override(s: &str) -> Result<(String, f64), String> {
    let (name, rate) = s.split_once('=').ok_or_else(|| format!("rate limit {s:?}: expected NAME=REQUESTS_PER_SECOND"))?;
    let rate: f64 = rate.trim().parse().map_err(|_| format!("rate limit {s:?}: {rate:?} is not a number"))?;
    Ok((name.trim().to_string(), rate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn buckets_refill_at_the_rate() {
        let mut t = QuotaTable::aws();
        t.set("ssm:PutParameter", 2.0).unwrap();
        let l = RateLimiter::new(t);
        let t0 = Instant::now();
        assert!(l.check_at("AKIA1", "ssm", "PutParameter", t0).is_ok());
        assert!(l.check_at("AKIA1", "ssm", "PutParameter", t0).is_ok());
        assert_eq!(l.check_at("AKIA1", "ssm", "PutParameter", t0), Err("ssm:PutParameter"));
        // Another key has its own bucket; another group is unaffected.
        assert!(l.check_at("AKIA2", "ssm", "PutParameter", t0).is_ok());
        assert!(l.check_at("AKIA1", "ssm", "GetParameter", t0).is_ok());
        // Half a second refills one request.
        assert!(l.check_at("AKIA1", "ssm", "PutParameter", t0 + Duration::from_millis(500)).is_ok());
        assert!(l.check_at("AKIA1", "ssm", "PutParameter", t0 + Duration::from_millis(500)).is_err());
        // IAM has no published quota.
        for _ in 0..100 {
            assert!(l.check_at("AKIA1", "iam", "CreateUser", t0).is_ok());
        }
    }

    #[test]
    fn groups_are_shared_and_overridable() {
        let mut t = QuotaTable::aws();
        t.set("kms:cryptographic-symmetric", 3.0).unwrap();
        let l = RateLimiter::new(t.clone());
        let t0 = Instant::now();
        assert!(l.check_at("K", "kms", "Encrypt", t0).is_ok());
        assert!(l.check_at("K", "kms", "Decrypt", t0).is_ok());
        assert!(l.check_at("K", "kms", "GenerateDataKey", t0).is_ok());
        assert_eq!(l.check_at("K", "kms", "ReEncrypt", t0), Err("kms:cryptographic-symmetric"));
        // An operation's own quota takes it out of the group; 0 removes a limit.
        t.set("kms:Encrypt", 0.0).unwrap();
        let l = RateLimiter::new(t);
        for _ in 0..10 {
            assert!(l.check_at("K", "kms", "Encrypt", t0).is_ok());
        }
        assert!(QuotaTable::aws().set("kms:lowercase", 1.0).is_err());
        assert!(QuotaTable::aws().set("nocolon", 1.0).is_err());
        assert!(QuotaTable::aws().set("kms:Encrypt", -1.0).is_err());
        assert_eq!(parse_override("ssm:PutParameter=10").unwrap(), ("ssm:PutParameter".into(), 10.0));
    }

    #[test]
    fn idle_keys_are_forgotten() {
        let l = RateLimiter::new(QuotaTable::aws());
        let t0 = Instant::now();
        for i in 0..(SHARDS * SHARD_SOFT_CAP * 2) {
            let _ = l.check_at(&format!("AKIA{i}"), "kms", "Encrypt", t0 + Duration::from_secs(i as u64));
        }
        let total: usize = l.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= SHARDS * (SHARD_SOFT_CAP + 1), "{total}");
    }
}
