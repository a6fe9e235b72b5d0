//! Failure handling, with faults injected into the writer.

use std::path::PathBuf;

use serde_json::json;

use super::*;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("coffer-audit-unit-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The journal's records: its files' bytes, without the zeros allocated after the last record.
fn journal_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for (_, p) in files::list(&files::audit_dir(dir)).unwrap() {
        out.extend(std::fs::read(p).unwrap());
    }
    while out.last() == Some(&0) {
        out.pop();
    }
    out
}

async fn append_many(j: &Journal, n: usize) -> Vec<Result<Receipt, AuditError>> {
    let futures: Vec<_> = (0..n).map(|i| j.append(json!({"eventName": "Encrypt", "i": i}))).collect();
    let mut out = Vec::new();
    for f in futures {
        out.push(f.await);
    }
    out
}

fn assert_consecutive(results: &[Result<Receipt, AuditError>], first: u64) {
    let seqs: Vec<u64> = results.iter().filter_map(|r| r.as_ref().ok()).map(|r| r.sequence).collect();
    let want: Vec<u64> = (first..first + seqs.len() as u64).collect();
    assert_eq!(seqs, want);
}

#[tokio::test]
async fn a_failed_write_fails_its_batch_and_leaves_no_half_line() {
    let dir = temp_dir("write-fail");
    let j = Journal::open(&dir, JournalConfig::default()).unwrap();
    assert_consecutive(&append_many(&j, 5).await, 1);
    let before = journal_bytes(&dir);

    j.inject(Fault::Write { after: 37 });
    let results = append_many(&j, 20).await;
    let failed = results.iter().filter(|r| r.is_err()).count();
    assert!(failed >= 1, "the first batch after the fault fails");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(r, AuditError::Io { op: "write", .. }), "{r}");
    }
    // Appends after the failed batch continue the chain from the last durable record.
    assert_consecutive(&results, 6);
    assert!(!j.is_poisoned());
    let later = append_many(&j, 3).await;
    assert!(later.iter().all(|r| r.is_ok()));
    assert_eq!(j.stats().failed_batches, 1);
    drop(j);

    let after = journal_bytes(&dir);
    assert!(after.starts_with(&before));
    let report = crate::verify(&dir).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.events, 5 + (20 - failed as u64) + 3);
    assert!(report.partial_tail.is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_failed_fsync_fails_every_pending_append() {
    let dir = temp_dir("fsync-fail");
    let j = Journal::open(&dir, JournalConfig::default()).unwrap();
    j.inject(Fault::Sync);
    // All 50 appends are queued while the writer is held, so they land in the one failing batch.
    let held = j.hold();
    let futures: Vec<_> = (0..50).map(|i| j.append(json!({"eventName": "Encrypt", "i": i}))).collect();
    drop(held);
    let mut results = Vec::new();
    for f in futures {
        results.push(f.await);
    }
    assert!(results.iter().all(|r| matches!(r, Err(AuditError::Io { op: "fsync", .. }))));
    assert_eq!(j.stats().failed_batches, 1);
    assert_eq!(j.head(), None);
    let ok = append_many(&j, 2).await;
    assert_consecutive(&ok, 1);
    assert!(ok.iter().all(|r| r.is_ok()));
    drop(j);
    let report = crate::verify(&dir).unwrap();
    assert!(report.is_ok() && report.events == 2, "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_undoable_failure_poisons_until_reopened() {
    let dir = temp_dir("poison");
    let j = Journal::open(&dir, JournalConfig::default()).unwrap();
    assert_consecutive(&append_many(&j, 3).await, 1);
    j.inject(Fault::Write { after: 10 });
    j.inject(Fault::Truncate);
    let r = j.append(json!({"eventName": "Decrypt"})).await;
    assert!(matches!(r, Err(AuditError::Io { .. })));
    assert!(j.is_poisoned());
    assert!(matches!(j.append(json!({"eventName": "Decrypt"})).await, Err(AuditError::Poisoned)));
    drop(j);

    // The half line is still on disk; verify sees it as an unacknowledged tail, open cuts it.
    let report = crate::verify(&dir).unwrap();
    assert!(report.is_ok() && report.partial_tail.is_some(), "{report}");
    let j = Journal::open(&dir, JournalConfig::default()).unwrap();
    assert_eq!(j.append(json!({"eventName": "Decrypt"})).await.unwrap().sequence, 4);
    drop(j);
    let report = crate::verify(&dir).unwrap();
    assert!(report.is_ok() && report.events == 4 && report.partial_tail.is_none(), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_failure_right_after_rotation_keeps_the_chain() {
    let dir = temp_dir("rotate-fail");
    let config = JournalConfig { max_file_bytes: 300, linger: Duration::ZERO, ..Default::default() };
    let j = Journal::open(&dir, config.clone()).unwrap();
    for _ in 0..4 {
        j.append(json!({"eventName": "Encrypt", "pad": "x".repeat(100)})).await.unwrap();
    }
    let files_before = files::list(&files::audit_dir(&dir)).unwrap().len();
    // The next batch rotates (the file is over 300 bytes), then its write fails.
    j.inject(Fault::Write { after: 5 });
    assert!(j.append(json!({"eventName": "Encrypt"})).await.is_err());
    let r = j.append(json!({"eventName": "Encrypt"})).await.unwrap();
    assert_eq!(r.sequence, 5);
    drop(j);
    assert!(files::list(&files::audit_dir(&dir)).unwrap().len() > files_before);
    let report = crate::verify(&dir).unwrap();
    assert!(report.is_ok() && report.events == 5, "{report}");
    let j = Journal::open(&dir, config).unwrap();
    assert_eq!(j.append(json!({})).await.unwrap().sequence, 6);
    drop(j);
    assert!(crate::verify(&dir).unwrap().is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn current_file(dir: &Path) -> PathBuf {
    files::list(&files::audit_dir(dir)).unwrap().pop().unwrap().1
}

#[tokio::test]
async fn the_allocated_zeros_are_no_records_and_go_at_close() {
    let dir = temp_dir("allocated");
    let j = Journal::open(&dir, JournalConfig::default()).unwrap();
    assert_consecutive(&append_many(&j, 7).await, 1);
    let records = journal_bytes(&dir);
    // While open: the file runs on in zeros, which readers take as the end.
    let on_disk = std::fs::read(current_file(&dir)).unwrap();
    assert!(on_disk.len() as u64 >= PREALLOCATE && on_disk.starts_with(&records));
    assert!(on_disk[records.len()..].iter().all(|&b| b == 0));
    let report = crate::verify(&dir).unwrap();
    assert!(report.is_ok() && report.events == 7 && report.partial_tail.is_none(), "{report}");
    let all = crate::query(&dir, &crate::Filter::default()).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
    assert_eq!(all.len(), 7);
    drop(j);
    assert_eq!(std::fs::read(current_file(&dir)).unwrap(), records);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_crash_leaves_zeros_or_a_half_line_before_them_and_open_continues() {
    let dir = temp_dir("crash-zeros");
    let j = Journal::open(&dir, JournalConfig::default()).unwrap();
    assert_consecutive(&append_many(&j, 4).await, 1);
    // The file as a crash would leave it: records, then allocated zeros.
    let crashed = std::fs::read(current_file(&dir)).unwrap();
    drop(j);
    let path = current_file(&dir);
    std::fs::write(&path, &crashed).unwrap();
    let j = Journal::open(&dir, JournalConfig::default()).unwrap();
    assert_consecutive(&append_many(&j, 2).await, 5);
    drop(j);
    let report = crate::verify(&dir).unwrap();
    assert!(report.is_ok() && report.events == 6 && report.partial_tail.is_none(), "{report}");

    // A write cut short (SIGKILL between pages) before the zeros: a partial record that open
    // cuts off, counted without the zeros.
    let mut torn = journal_bytes(&dir);
    torn.extend_from_slice(b"{\"sequence\":7,\"prev");
    torn.extend(std::iter::repeat_n(0u8, 5000));
    std::fs::write(&path, &torn).unwrap();
    let report = crate::verify(&dir).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.partial_tail.as_ref().map(|(_, n)| *n), Some(19));
    let j = Journal::open(&dir, JournalConfig::default()).unwrap();
    assert_consecutive(&append_many(&j, 1).await, 7);
    drop(j);
    let report = crate::verify(&dir).unwrap();
    assert!(report.is_ok() && report.events == 7 && report.partial_tail.is_none(), "{report}");

    // A batch torn by a power loss: its second page reached the disk, its first did not. Its
    // bytes are set aside, then cut off.
    let records = journal_bytes(&dir);
    let mut torn = records.clone();
    torn.extend(std::iter::repeat_n(0u8, 4096));
    torn.extend_from_slice(b"\"eventName\":\"Encrypt\"}\n{\"sequence\":9}\n");
    torn.extend(std::iter::repeat_n(0u8, 1000));
    std::fs::write(&path, &torn).unwrap();
    let report = crate::verify(&dir).unwrap();
    assert!(report.is_ok() && report.events == 7 && report.partial_tail.is_some(), "{report}");
    let j = Journal::open(&dir, JournalConfig::default()).unwrap();
    assert_consecutive(&append_many(&j, 1).await, 8);
    drop(j);
    let aside = std::fs::read(format!("{}.torn-{}", path.display(), records.len())).unwrap();
    assert!(aside.ends_with(b"{\"sequence\":9}\n") && aside.starts_with(&[0u8; 4096]));
    let report = crate::verify(&dir).unwrap();
    assert!(report.is_ok() && report.events == 8 && report.partial_tail.is_none(), "{report}");

    // Zeros followed by bytes further out than any batch reaches are damage: open refuses.
    let mut damaged = journal_bytes(&dir);
    damaged.extend(std::iter::repeat_n(0u8, files::TORN_LIMIT as usize));
    damaged.extend_from_slice(b"{\"sequence\":9}\n");
    std::fs::write(&path, &damaged).unwrap();
    assert!(matches!(Journal::open(&dir, JournalConfig::default()), Err(AuditError::Corrupt { .. })));
    let report = crate::verify(&dir).unwrap();
    assert!(!report.is_ok(), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn rotation_cuts_the_zeros_off_the_closed_file() {
    let dir = temp_dir("rotate-zeros");
    let config = JournalConfig { max_file_bytes: 2000, linger: Duration::ZERO, ..Default::default() };
    let j = Journal::open(&dir, config).unwrap();
    for _ in 0..20 {
        j.append(json!({"eventName": "Encrypt", "pad": "x".repeat(100)})).await.unwrap();
    }
    let list = files::list(&files::audit_dir(&dir)).unwrap();
    assert!(list.len() >= 2);
    for (_, p) in &list[..list.len() - 1] {
        let bytes = std::fs::read(p).unwrap();
        assert!(bytes.ends_with(b"}\n") && !bytes.contains(&0), "{}", p.display());
    }
    // The newest file is allocated up to the size limit, not PREALLOCATE past it.
    assert!(std::fs::metadata(&list.last().unwrap().1).unwrap().len() <= 2000 + 400);
    drop(j);
    let report = crate::verify(&dir).unwrap();
    assert!(report.is_ok() && report.events == 20, "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}
