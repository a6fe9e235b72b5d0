mod common;

use std::sync::Arc;

use coffer_audit::{AuditError, GENESIS_HASH, Journal, JournalConfig, verify};
use coffer_crypto::digest::{hex, sha256};
use common::{TempDir, encrypt_event, lines};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_form_one_consecutive_chain() {
    let dir = TempDir::new("concurrent");
    let journal = Arc::new(Journal::open(dir.path(), JournalConfig::default()).unwrap());
    let mut tasks = Vec::new();
    for t in 0..64 {
        let j = journal.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..50 {
                seqs.push(j.append(encrypt_event(t, i % 3)).await.unwrap().sequence);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let seqs = t.await.unwrap();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one task's appends are ordered");
        all.extend(seqs);
    }
    all.sort();
    assert_eq!(all, (1..=3200).collect::<Vec<u64>>());
    let stats = journal.stats();
    assert_eq!(stats.events, 3200);
    // 64 writers waiting on each other's fsyncs share them (3-4 events per fsync on this
    // machine's disk, where a commit takes ~0.2 ms; more on slower storage).
    assert!(stats.batches < stats.events / 2, "group commit: {stats:?}");
    let head = journal.head().unwrap();
    drop(journal);

    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!((report.events, report.last_sequence), (3200, 3200));
    assert_eq!(report.last_hash, head.hash_hex());

    // The format, line by line.
    let file = &dir.files()[0];
    assert!(file.ends_with("audit/journal-00000000000000000001.jsonl"));
    let mut prev = GENESIS_HASH.to_string();
    for (i, raw) in lines(file).iter().enumerate() {
        assert_eq!(raw.last(), Some(&b'\n'));
        let line = &raw[..raw.len() - 1];
        let prefix = format!("{{\"sequence\":{},\"previousHash\":\"{prev}\",", i + 1);
        assert!(line.starts_with(prefix.as_bytes()), "line {i}");
        let v: Value = serde_json::from_slice(line).unwrap();
        assert!(v["requestParameters"].get("Plaintext").is_none());
        prev = hex(&sha256(line));
    }
}

#[tokio::test]
async fn reopening_continues_the_chain() {
    let dir = TempDir::new("reopen");
    for round in 0..3u64 {
        let j = Journal::open(dir.path(), JournalConfig::default()).unwrap();
        if round > 0 {
            assert_eq!(j.head().unwrap().sequence, round * 10);
        }
        for i in 0..10 {
            assert_eq!(j.append(json!({"eventName": "Decrypt"})).await.unwrap().sequence, round * 10 + i + 1);
        }
        j.close();
    }
    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok() && report.events == 30, "{report}");
    assert_eq!(dir.files().len(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.audit()), 0o700);
        assert_eq!(mode(&dir.files()[0]), 0o600);
    }
}

#[tokio::test]
async fn the_caller_cannot_override_the_chain_fields() {
    let dir = TempDir::new("override");
    let j = Journal::open(dir.path(), JournalConfig::default()).unwrap();
    j.append(json!({"eventName": "A"})).await.unwrap();
    let r = j.append(json!({"sequence": 99, "previousHash": "ff", "eventName": "B"})).await.unwrap();
    assert_eq!(r.sequence, 2);
    let empty = j.append(serde_json::Map::new()).await.unwrap();
    assert_eq!(empty.sequence, 3);
    assert!(matches!(j.append(json!([1, 2])).await, Err(AuditError::NotAnObject)));
    drop(j);
    let l = lines(&dir.files()[0]);
    let second: Value = serde_json::from_slice(&l[1]).unwrap();
    assert_eq!(second["sequence"], 2);
    assert_eq!(second["previousHash"], hex(&sha256(&l[0][..l[0].len() - 1])));
    assert!(l[2].starts_with(b"{\"sequence\":3,\"previousHash\":\"") && l[2].ends_with(b"\"}\n"));
    assert!(verify(dir.path()).unwrap().is_ok());
}

#[tokio::test]
async fn one_writer_per_directory() {
    let dir = TempDir::new("lock");
    let j = Journal::open(dir.path(), JournalConfig::default()).unwrap();
    assert!(matches!(Journal::open(dir.path(), JournalConfig::default()), Err(AuditError::Locked(_))));
    drop(j);
    Journal::open(dir.path(), JournalConfig::default()).unwrap();
}

#[tokio::test]
async fn rotation_continues_the_chain_across_files() {
    let dir = TempDir::new("rotate");
    let config = JournalConfig { max_file_bytes: 8 * 1024, ..Default::default() };
    let j = Journal::open(dir.path(), config.clone()).unwrap();
    for i in 0..100 {
        j.append(encrypt_event(i, i)).await.unwrap();
    }
    assert!(j.stats().rotations >= 5, "{:?}", j.stats());
    drop(j);
    // Reopen on a full file: the next append rotates.
    let j = Journal::open(dir.path(), config).unwrap();
    j.append(encrypt_event(0, 0)).await.unwrap();
    drop(j);

    let files = dir.files();
    assert!(files.len() >= 6);
    let mut next = 1u64;
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, format!("journal-{next:020}.jsonl"));
        let ls = lines(f);
        let first: Value = serde_json::from_slice(&ls[0]).unwrap();
        assert_eq!(first["sequence"], next);
        next += ls.len() as u64;
        // Each file closes at the first batch at or past the limit.
        assert!(std::fs::metadata(f).unwrap().len() < 8 * 1024 + 2048);
    }
    assert_eq!(next, 102);
    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok() && report.events == 101 && report.files == files.len(), "{report}");
}

#[tokio::test]
async fn a_partial_last_line_is_truncated_on_open() {
    let dir = TempDir::new("partial");
    let j = Journal::open(dir.path(), JournalConfig::default()).unwrap();
    for _ in 0..5 {
        j.append(json!({"eventName": "Encrypt"})).await.unwrap();
    }
    drop(j);
    let file = dir.files()[0].clone();
    let good = std::fs::read(&file).unwrap();
    let mut torn = good.clone();
    let fragment = b"{\"sequence\":6,\"previousHash\":\"ab";
    torn.extend_from_slice(fragment);
    std::fs::write(&file, &torn).unwrap();

    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok() && report.events == 5, "{report}");
    assert_eq!(report.partial_tail.as_ref().map(|(_, n)| *n), Some(fragment.len() as u64));

    let j = Journal::open(dir.path(), JournalConfig::default()).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), good, "the torn tail is gone");
    assert_eq!(j.append(json!({"eventName": "Encrypt"})).await.unwrap().sequence, 6);
    drop(j);
    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok() && report.events == 6 && report.partial_tail.is_none(), "{report}");
}

#[tokio::test]
async fn a_torn_only_line_and_an_empty_rotated_file_recover() {
    // A crash during the very first write: the file holds only a fragment.
    let dir = TempDir::new("torn-first");
    std::fs::create_dir_all(dir.audit()).unwrap();
    std::fs::write(dir.audit().join("journal-00000000000000000001.jsonl"), b"{\"seq").unwrap();
    let j = Journal::open(dir.path(), JournalConfig::default()).unwrap();
    assert_eq!(j.append(json!({})).await.unwrap().sequence, 1);
    j.append(json!({})).await.unwrap();
    drop(j);
    // A crash right after rotation created the next file.
    std::fs::write(dir.audit().join("journal-00000000000000000003.jsonl"), b"").unwrap();
    let j = Journal::open(dir.path(), JournalConfig::default()).unwrap();
    assert_eq!(j.append(json!({})).await.unwrap().sequence, 3);
    drop(j);
    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok() && report.events == 3 && report.files == 2, "{report}");
}

#[tokio::test]
async fn open_refuses_a_journal_it_cannot_continue() {
    let dir = TempDir::new("corrupt");
    std::fs::create_dir_all(dir.audit()).unwrap();
    std::fs::write(dir.audit().join("journal-00000000000000000001.jsonl"), b"not json\n").unwrap();
    let err = Journal::open(dir.path(), JournalConfig::default()).unwrap_err();
    assert!(matches!(err, AuditError::Corrupt { .. }), "{err}");
    assert!(!err.to_string().contains("not json"), "errors never quote records");
}

#[tokio::test]
async fn open_refuses_to_append_after_a_damaged_record() {
    let dir = TempDir::new("damaged-tail");
    let j = Journal::open(dir.path(), JournalConfig::default()).unwrap();
    for _ in 0..5 {
        j.append(json!({"eventName": "Encrypt"})).await.unwrap();
    }
    drop(j);
    let file = dir.files()[0].clone();
    let mut ls = lines(&file);
    ls[2] = ls[2].iter().map(|&b| if b == b'E' { b'e' } else { b }).collect(); // record 3 edited
    common::write_lines(&file, &ls);
    let err = Journal::open(dir.path(), JournalConfig::default()).unwrap_err();
    let AuditError::Corrupt { offset, ref detail, .. } = err else { panic!("{err}") };
    let line3 = (ls[0].len() + ls[1].len() + ls[2].len()) as u64;
    assert_eq!(offset, line3, "names record 4, whose link to record 3 broke");
    assert!(detail.contains("line 4"), "{detail}");
    assert_eq!(lines(&file), ls, "nothing was changed");
}

#[tokio::test]
async fn archived_old_files_do_not_stop_the_writer() {
    let dir = TempDir::new("archived");
    let config = JournalConfig { max_file_bytes: 2048, ..Default::default() };
    let j = Journal::open(dir.path(), config.clone()).unwrap();
    for i in 0..30 {
        j.append(encrypt_event(i, i)).await.unwrap();
    }
    drop(j);
    let files = dir.files();
    assert!(files.len() >= 4);
    // The operator records the hash of the last record of the files it archives.
    let archived = &files[..2];
    let last_archived: Vec<u8> = lines(&archived[1]).pop().unwrap();
    let anchor = coffer_audit::Anchor {
        sequence: serde_json::from_slice::<Value>(&last_archived).unwrap()["sequence"].as_u64().unwrap(),
        hash: hex(&sha256(&last_archived[..last_archived.len() - 1])),
    };
    for f in archived {
        std::fs::remove_file(f).unwrap();
    }
    let j = Journal::open(dir.path(), config).unwrap();
    assert_eq!(j.append(json!({})).await.unwrap().sequence, 31);
    drop(j);
    let plain = verify(dir.path()).unwrap();
    assert!(matches!(plain.broken.unwrap().problem, coffer_audit::Problem::MissingHead { .. }));
    let anchored = coffer_audit::verify_anchored(dir.path(), std::slice::from_ref(&anchor)).unwrap();
    assert!(anchored.is_ok() && anchored.last_sequence == 31 && anchored.anchors_matched == 1, "{anchored}");
    assert_eq!(anchored.events, 31 - anchor.sequence);

    // Only the newest file left: still continues (its first link is taken on trust).
    let files = dir.files();
    for f in &files[..files.len() - 1] {
        std::fs::remove_file(f).unwrap();
    }
    let j = Journal::open(dir.path(), JournalConfig::default()).unwrap();
    assert_eq!(j.append(json!({})).await.unwrap().sequence, 32);
}
