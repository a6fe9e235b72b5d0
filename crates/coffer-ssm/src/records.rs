//! What Parameter Store keeps in the store, and its in-memory index.
//!
//! A parameter is a *head* item (table `ssm.parameters`, pk `<account>:<region>`, sk the
//! canonical name) holding its metadata, labels, tags and a copy of the latest version, plus one
//! item per retained version (table `ssm.versions`, pk `<account>:<region>:<key>`, sk the
//! zero-padded version). Every write puts the head conditionally on the version it read, so two
//! concurrent writers to one name are serialised by the database and neither update is lost.
//! SecureString values are stored only as KMS ciphertext (base64), never in plaintext.
//!
//! Heads are held in memory (an ordered map per account and region), so GetParameter of the latest
//! version, GetParametersByPath and DescribeParameters read no database.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TagRecord {
    pub key: String,
    pub value: String,
}

/// How a SecureString value is protected.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protection {
    /// KMS `Encrypt` of the value (standard tier): the value is the KMS ciphertext blob.
    Kms,
    /// Envelope encryption (advanced tier): KMS `GenerateDataKey`, then AES-256-GCM
    /// (docs/formats.md "Parameter envelope").
    Envelope,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct VersionRecord {
    pub version: u64,
    /// `String`, `StringList` or `SecureString`.
    pub kind: String,
    /// The value; for SecureString the base64 ciphertext clients see without decryption.
    pub value: String,
    pub protection: Option<Protection>,
    /// The KeyId as the writer gave it (echoed by DescribeParameters and history).
    pub key_id: Option<String>,
    pub description: Option<String>,
    pub allowed_pattern: Option<String>,
    pub tier: String,
    pub policies: Option<String>,
    pub data_type: String,
    pub modified_ms: i64,
    pub user: String,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct HeadRecord {
    /// The name as first created (`foo` or `/foo` for root names).
    pub name: String,
    pub key: String,
    pub latest: u64,
    pub oldest: u64,
    /// label → version.
    pub labels: BTreeMap<String, u64>,
    pub tags: Vec<TagRecord>,
    pub current: VersionRecord,
    /// Parameter-policy events already emitted (so each fires once).
    pub fired: Vec<String>,
}

impl HeadRecord {
    pub fn labels_of(&self, version: u64) -> Vec<String> {
        self.labels.iter().filter(|(_, v)| **v == version).map(|(l, _)| l.clone()).collect()
    }
}

pub struct HeadEntry {
    pub rec: HeadRecord,
    /// The store version of the head item.
    pub version: i64,
}

pub fn scope(account: &str, region: &str) -> String {
    format!("{account}:{region}")
}

pub fn versions_pk(scope: &str, key: &str) -> String {
    format!("{scope}:{key}")
}

pub fn version_sk(v: u64) -> String {
    format!("{v:020}")
}

/// Parameter counts of one account and region, by tier.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub standard: usize,
    pub advanced: usize,
}

#[derive(Default)]
struct Inner {
    heads: BTreeMap<(String, String), Arc<HeadEntry>>,
    counts: HashMap<String, Counts>,
}

#[derive(Default)]
pub struct Cache {
    inner: RwLock<Inner>,
}

fn count(c: &mut Counts, tier: &str, delta: isize) {
    let n = if tier == "Advanced" { &mut c.advanced } else { &mut c.standard };
    *n = (*n as isize + delta).max(0) as usize;
}

impl Cache {
    pub fn get(&self, scope: &str, key: &str) -> Option<Arc<HeadEntry>> {
        self.inner.read().expect("ssm cache").heads.get(&(scope.to_string(), key.to_string())).cloned()
    }

    /// Inserts or replaces a head unless a newer one is held.
    pub fn put(&self, scope: &str, e: Arc<HeadEntry>) {
        let mut g = self.inner.write().expect("ssm cache");
        let k = (scope.to_string(), e.rec.key.clone());
        let old_tier = match g.heads.get(&k) {
            Some(old) if old.version >= e.version => return,
            Some(old) => Some(old.rec.current.tier.clone()),
            None => None,
        };
        let c = g.counts.entry(scope.to_string()).or_default();
        if let Some(t) = old_tier {
            count(c, &t, -1);
        }
        count(c, &e.rec.current.tier, 1);
        g.heads.insert(k, e);
    }

    /// Sets a head to exactly what the store holds (None: absent), whatever its version — a
    /// deleted and re-created parameter starts again at version 1.
    pub fn set(&self, scope: &str, key: &str, e: Option<Arc<HeadEntry>>) {
        self.remove(scope, key);
        if let Some(e) = e {
            self.put(scope, e);
        }
    }

    /// Replaces everything with `other`'s contents (a full reload).
    pub fn replace(&self, other: Cache) {
        *self.inner.write().expect("ssm cache") = other.inner.into_inner().expect("ssm cache");
    }

    pub fn remove(&self, scope: &str, key: &str) {
        let mut g = self.inner.write().expect("ssm cache");
        if let Some(old) = g.heads.remove(&(scope.to_string(), key.to_string())) {
            let c = g.counts.entry(scope.to_string()).or_default();
            count(c, &old.rec.current.tier, -1);
        }
    }

    pub fn counts(&self, scope: &str) -> Counts {
        self.inner.read().expect("ssm cache").counts.get(scope).copied().unwrap_or_default()
    }

    /// Heads of one scope whose key starts with `prefix` and passes `filter`, in key order,
    /// strictly after `after`, at most `limit`.
    pub fn range(
        &self,
        scope: &str,
        prefix: &str,
        after: Option<&str>,
        filter: impl Fn(&HeadRecord) -> bool,
        limit: usize,
    ) -> Vec<Arc<HeadEntry>> {
        use std::ops::Bound;
        let g = self.inner.read().expect("ssm cache");
        let lower = match after {
            Some(a) if a >= prefix => Bound::Excluded((scope.to_string(), a.to_string())),
            _ => Bound::Included((scope.to_string(), prefix.to_string())),
        };
        g.heads
            .range((lower, Bound::Unbounded))
            .take_while(|((s, k), _)| s == scope && k.starts_with(prefix))
            .filter(|(_, e)| filter(&e.rec))
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// Every head of every scope (for the policy job).
    pub fn all(&self) -> Vec<(String, Arc<HeadEntry>)> {
        self.inner.read().expect("ssm cache").heads.iter().map(|((s, _), e)| (s.clone(), e.clone())).collect()
    }
}
