//! Several nodes on one database: following other nodes' changes, and running the background
//! jobs on one node at a time.
//!
//! Why: every node serves from memory (keys, policies, identities, parameter heads, buckets), so
//! a change committed by another node must reach this node's caches. The store notifies each
//! committed change (PostgreSQL LISTEN/NOTIFY, in commit order); [`follow`] re-reads the item
//! and updates the owning service's cache. When notifications may have been lost (the listener
//! reconnected, or this node fell behind), it reloads everything while [`Freshness`] makes
//! requests wait with 503, and the server refuses to serve whenever the listener has not been
//! confirmed alive within a second — so no node acts on state more than about a second stale
//! (docs/design.md).

use std::sync::Arc;
use std::time::Duration;

use coffer_iam::Iam;
use coffer_kms::Kms;
use coffer_s3::S3;
use coffer_server::Freshness;
use coffer_ssm::Ssm;
use coffer_store::{Change, Expect, Store, StoreError, Write, tables};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::RecvError;

/// Applies changes until the store's channel closes.
pub async fn follow(mut rx: Receiver<Change>, freshness: Arc<Freshness>, kms: Arc<Kms>, iam: Arc<Iam>, ssm: Arc<Ssm>, s3: Arc<S3>) {
    let reload = || async {
        freshness.set_reloading(true);
        let mut ok = true;
        if let Err(e) = iam.reload_all().await {
            tracing::error!(error = %e, "reloading identities failed");
            ok = false;
        }
        if let Err(e) = kms.reload_all().await {
            tracing::error!(error = %e, "reloading keys failed");
            ok = false;
        }
        if let Err(e) = ssm.reload_all().await {
            tracing::error!(error = %e, "reloading parameters failed");
            ok = false;
        }
        if let Err(e) = s3.reload_all().await {
            tracing::error!(error = %e, "reloading buckets failed");
            ok = false;
        }
        // On failure stay unavailable; the next change or resync retries.
        freshness.set_reloading(!ok);
        ok
    };
    loop {
        match rx.recv().await {
            Ok(c) if c.is_resync() => {
                tracing::warn!("change notifications may have been lost: reloading all cached state");
                reload().await;
            }
            Ok(c) => {
                let table = c.table.as_str();
                let r = if table.starts_with("kms.") {
                    kms.apply_change(table, &c.pk, &c.sk).await.map_err(|e| e.to_string())
                } else if table.starts_with("iam.") {
                    iam.apply_change(table, &c.pk).await.map_err(|e| e.to_string())
                } else if table.starts_with("ssm.") {
                    ssm.apply_change(table, &c.pk, &c.sk, c.version).await.map_err(|e| e.to_string())
                } else if table.starts_with("s3.") {
                    s3.apply_change(table, &c.pk).await.map_err(|e| e.to_string())
                } else {
                    Ok(())
                };
                if let Err(e) = r {
                    tracing::error!(table, error = %e, "applying another node's change failed: reloading");
                    reload().await;
                } else if freshness.reloading() {
                    // A failed reload is retried on the next change.
                    reload().await;
                }
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "fell behind other nodes' changes: reloading all cached state");
                reload().await;
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// The background-job lease: one row in `meta` naming the node that runs the jobs and until
/// when. A node takes it when it is free or expired and renews it on every run, so the jobs run
/// on one node at a time and move to another within the lease time when that node stops.
pub struct JobLease {
    store: Arc<dyn Store>,
    node: String,
    duration: Duration,
}

const LEASE_KEY: &str = "lease:jobs";

#[derive(serde::Serialize, serde::Deserialize)]
struct LeaseRecord {
    node: String,
    expires_ms: i64,
}

impl JobLease {
    pub fn new(store: Arc<dyn Store>, interval: Duration) -> JobLease {
        let node = coffer_crypto::random::uuid_v4();
        // Long enough to survive a late tick, short enough to move on soon after a node stops.
        let duration = interval * 2 + Duration::from_secs(10);
        JobLease { store, node, duration }
    }

    /// Takes or renews the lease; false when another live node holds it.
    pub async fn acquire(&self) -> bool {
        let now = coffer_util::Timestamp::wall().millis();
        let current = match self.store.get(tables::META, LEASE_KEY, "").await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "reading the job lease failed");
                return false;
            }
        };
        let expect = match &current {
            None => Expect::Absent,
            Some(item) => {
                let held: Option<LeaseRecord> = serde_json::from_slice(&item.value).ok();
                match held {
                    Some(l) if l.node != self.node && l.expires_ms > now => return false,
                    _ => Expect::Version(item.version),
                }
            }
        };
        let rec = LeaseRecord { node: self.node.clone(), expires_ms: now + self.duration.as_millis() as i64 };
        let value = serde_json::to_vec(&rec).expect("lease serialises");
        match self.store.write(vec![Write::put(tables::META, LEASE_KEY, "", value, expect)]).await {
            Ok(_) => true,
            Err(StoreError::Conflict { .. }) => false,
            Err(e) => {
                tracing::warn!(error = %e, "taking the job lease failed");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_node_holds_the_job_lease() {
        let store: Arc<dyn Store> = Arc::new(coffer_store::SqliteStore::memory().unwrap());
        let a = JobLease::new(store.clone(), Duration::from_secs(60));
        let b = JobLease::new(store.clone(), Duration::from_secs(60));
        assert!(a.acquire().await);
        assert!(!b.acquire().await, "a live lease is not taken over");
        assert!(a.acquire().await, "the holder renews");
        // An expired lease moves on.
        let expired = serde_json::to_vec(&LeaseRecord { node: "gone".into(), expires_ms: 0 }).unwrap();
        store.write(vec![Write::put(tables::META, LEASE_KEY, "", expired, Expect::Any)]).await.unwrap();
        assert!(b.acquire().await);
        assert!(!a.acquire().await);
    }
}
