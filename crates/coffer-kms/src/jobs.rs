//! Background jobs: the deletion reaper and the rotation scheduler.
//!
//! The binary calls [`crate::Kms::run_jobs`] periodically (and a test harness may call it after
//! advancing the service clock). Each step is a conditional write against the version it
//! examined, so running the jobs concurrently — on two nodes, or twice on one — deletes or
//! rotates a key at most once per due date.

use coffer_store::{Expect, StoreError, Write, tables};

use crate::Kms;
use crate::state::{KeyState, alias_partition};

/// What one run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JobReport {
    pub deleted: usize,
    pub rotated: usize,
    /// Imported key materials that reached their ValidTo.
    pub expired: usize,
    pub failed: usize,
}

pub(crate) async fn run(kms: &Kms) -> JobReport {
    let mut report = JobReport::default();
    let now = kms.clock.now().millis();
    for e in kms.cache.all_keys() {
        if e.rec.state == KeyState::PendingDeletion && e.rec.deletion_ms.is_some_and(|d| d <= now) {
            // The key, its aliases and its grants go in one batch, conditional on their versions.
            let aliases = kms.cache.aliases(&e.rec.account, &e.rec.region, Some(&e.rec.key_id));
            let pk = alias_partition(&e.rec.account, &e.rec.region);
            let mut batch = vec![Write::delete(tables::KMS_KEYS, &e.rec.key_id, "", Expect::Version(e.version))];
            for a in &aliases {
                batch.push(Write::delete(tables::KMS_ALIASES, &pk, &a.name, Expect::Version(a.version)));
            }
            for g in kms.cache.grants_of(&e.uuid) {
                batch.push(Write::delete(tables::KMS_GRANTS, &e.rec.key_id, &g.rec.grant_id, Expect::Any));
            }
            match kms.store.write(batch).await {
                Ok(_) => {
                    kms.cache.remove_key(&e.uuid);
                    for a in &aliases {
                        kms.cache.remove_alias(&a.account, &a.region, &a.name);
                    }
                    tracing::info!(key = %e.arn, aliases = aliases.len(), "deleted key at the end of its waiting period");
                    report.deleted += 1;
                }
                Err(StoreError::Conflict { .. }) => {
                    // Changed meanwhile (e.g. deletion cancelled): re-read, decide next run.
                    let _ = kms.reload_key(&e.rec.key_id).await;
                }
                Err(err) => {
                    tracing::error!(key = %e.arn, error = %err, "key deletion failed");
                    report.failed += 1;
                }
            }
            continue;
        }
        match kms.expire_if_due(e.clone()).await {
            Ok(true) => {
                tracing::info!(key = %e.arn, "imported key material expired; the key is pending import");
                report.expired += 1;
                continue;
            }
            Ok(false) => {}
            Err(err) => {
                tracing::error!(key = %e.arn, error = %err, "expiring imported key material failed");
                report.failed += 1;
            }
        }
        match kms.rotate_if_due(e.clone()).await {
            Ok(true) => {
                tracing::info!(key = %e.arn, "rotated key material (automatic rotation)");
                report.rotated += 1;
            }
            Ok(false) => {}
            Err(err) => {
                tracing::error!(key = %e.arn, error = %err, "automatic rotation failed");
                report.failed += 1;
            }
        }
    }
    report
}
