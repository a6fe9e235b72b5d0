//! Tampering is detected, and the report names the first broken record.

mod common;

use coffer_audit::{Anchor, Journal, JournalConfig, Problem, VerifyReport, verify, verify_anchored};
use coffer_crypto::digest::{hex, sha256};
use common::{TempDir, encrypt_event, lines, write_lines};

/// A journal of 120 events over several files (each ~8 KiB).
async fn journal(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    let j = Journal::open(dir.path(), JournalConfig { max_file_bytes: 8192, ..Default::default() }).unwrap();
    for i in 0..120 {
        j.append(encrypt_event(i, i)).await.unwrap();
    }
    drop(j);
    assert!(dir.files().len() >= 4, "{:?}", dir.files());
    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok() && report.events == 120, "{report}");
    dir
}

fn first_sequence(path: &std::path::Path) -> u64 {
    let name = path.file_name().unwrap().to_str().unwrap();
    name["journal-".len().."journal-".len() + 20].parse().unwrap()
}

fn broken(report: &VerifyReport) -> (&std::path::Path, u64, Option<u64>, &Problem) {
    let b = report.broken.as_ref().unwrap_or_else(|| panic!("not detected: {report}"));
    (&b.file, b.line, b.sequence, &b.problem)
}

fn replace(line: &mut Vec<u8>, from: &str, to: &str) {
    let pos = line.windows(from.len()).position(|w| w == from.as_bytes()).unwrap();
    line.splice(pos..pos + from.len(), to.bytes());
}

#[tokio::test]
async fn an_edited_byte_breaks_the_next_link() {
    let dir = journal("edit").await;
    let file = dir.files()[0].clone();
    let mut ls = lines(&file);
    replace(&mut ls[4], "aws-sdk-rust", "aws-sdk-ruSt"); // record 5, still valid JSON
    write_lines(&file, &ls);
    let report = verify(dir.path()).unwrap();
    let (f, line, seq, problem) = broken(&report);
    assert_eq!((f, line, seq), (file.as_path(), 6, Some(6)));
    assert!(matches!(problem, Problem::HashMismatch { .. }));
    assert_eq!(report.events, 5);
    assert!(report.to_string().contains("line 6 (sequence 6)"), "{report}");
}

#[tokio::test]
async fn an_edit_that_breaks_json_is_named_itself() {
    let dir = journal("edit-json").await;
    let file = dir.files()[1].clone();
    let mut ls = lines(&file);
    let mid = ls[2].len() / 2;
    ls[2][mid] = b'\x01';
    write_lines(&file, &ls);
    let report = verify(dir.path()).unwrap();
    let (f, line, _, problem) = broken(&report);
    assert_eq!((f, line), (file.as_path(), 3));
    assert_eq!(problem, &Problem::Unparseable);
}

#[tokio::test]
async fn edited_chain_fields_are_detected() {
    let dir = journal("edit-fields").await;
    let file = dir.files()[0].clone();
    let mut ls = lines(&file);
    replace(&mut ls[3], "\"sequence\":4,", "\"sequence\":40,");
    write_lines(&file, &ls);
    let report = verify(dir.path()).unwrap();
    let (_, line, seq, problem) = broken(&report);
    assert_eq!((line, seq, problem), (4, Some(40), &Problem::SequenceMismatch { expected: 4, found: 40 }));

    let dir = journal("edit-hash").await;
    let file = dir.files()[0].clone();
    let mut ls = lines(&file);
    let at = "{\"sequence\":2,\"previousHash\":\"".len();
    ls[1][at] = if ls[1][at] == b'0' { b'1' } else { b'0' };
    write_lines(&file, &ls);
    let report = verify(dir.path()).unwrap();
    let (_, line, seq, problem) = broken(&report);
    assert_eq!((line, seq), (2, Some(2)));
    assert!(matches!(problem, Problem::HashMismatch { .. }));
}

#[tokio::test]
async fn a_deleted_line_is_detected() {
    let dir = journal("delete-line").await;
    let file = dir.files()[1].clone();
    let first = first_sequence(&file);
    let mut ls = lines(&file);
    ls.remove(2);
    write_lines(&file, &ls);
    let report = verify(dir.path()).unwrap();
    let (f, line, seq, problem) = broken(&report);
    assert_eq!((f, line, seq), (file.as_path(), 3, Some(first + 3)));
    assert_eq!(problem, &Problem::SequenceMismatch { expected: first + 2, found: first + 3 });
    assert_eq!(report.events, first + 1);
}

#[tokio::test]
async fn swapped_lines_are_detected() {
    let dir = journal("swap").await;
    let file = dir.files()[0].clone();
    let mut ls = lines(&file);
    ls.swap(2, 3);
    write_lines(&file, &ls);
    let report = verify(dir.path()).unwrap();
    let (_, line, seq, problem) = broken(&report);
    assert_eq!((line, seq), (3, Some(4)));
    assert_eq!(problem, &Problem::SequenceMismatch { expected: 3, found: 4 });
}

#[tokio::test]
async fn a_deleted_middle_file_is_detected() {
    let dir = journal("delete-file").await;
    let files = dir.files();
    std::fs::remove_file(&files[2]).unwrap();
    let report = verify(dir.path()).unwrap();
    let (f, line, _, problem) = broken(&report);
    assert_eq!((f, line), (files[3].as_path(), 1));
    assert_eq!(problem, &Problem::FileGap { expected: first_sequence(&files[2]), named: first_sequence(&files[3]) });
    assert_eq!(report.events, first_sequence(&files[2]) - 1);
}

#[tokio::test]
async fn a_deleted_first_file_is_detected() {
    let dir = journal("delete-head").await;
    let files = dir.files();
    std::fs::remove_file(&files[0]).unwrap();
    let report = verify(dir.path()).unwrap();
    let (f, _, _, problem) = broken(&report);
    assert_eq!(f, files[1].as_path());
    assert_eq!(problem, &Problem::MissingHead { first: first_sequence(&files[1]) });
}

#[tokio::test]
async fn a_missing_newline_mid_journal_is_detected() {
    let dir = journal("newline").await;
    let file = dir.files()[0].clone();
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.pop();
    std::fs::write(&file, bytes).unwrap();
    let report = verify(dir.path()).unwrap();
    let (f, line, _, problem) = broken(&report);
    assert_eq!((f, line, problem), (file.as_path(), lines(&file).len() as u64, &Problem::PartialLine));
}

/// What verify alone cannot see — a cut-off tail, a consistently rewritten chain — an anchor
/// recorded elsewhere does.
#[tokio::test]
async fn anchors_catch_truncation_and_rewritten_chains() {
    let dir = journal("anchor-truncate").await;
    let head = verify(dir.path()).unwrap();
    let anchor = Anchor { sequence: head.last_sequence, hash: head.last_hash.to_uppercase() };
    let ok = verify_anchored(dir.path(), std::slice::from_ref(&anchor)).unwrap();
    assert!(ok.is_ok() && ok.anchors_matched == 1, "{ok}");

    let last = dir.files().last().unwrap().clone();
    let mut ls = lines(&last);
    ls.truncate(ls.len() - 2);
    write_lines(&last, &ls);
    assert!(verify(dir.path()).unwrap().is_ok(), "a cut tail is a valid shorter chain");
    let report = verify_anchored(dir.path(), &[anchor]).unwrap();
    assert_eq!(broken(&report).3, &Problem::AnchorMissing { anchored: 120 });

    // Rewrite record 10 and re-link everything after it: the chain verifies, the anchor does not.
    let dir = journal("anchor-rewrite").await;
    let anchor_at = |seq: u64| {
        let mut all = Vec::new();
        for f in dir.files() {
            all.extend(lines(&f));
        }
        let raw = &all[seq as usize - 1];
        Anchor { sequence: seq, hash: hex(&sha256(&raw[..raw.len() - 1])) }
    };
    let anchors = [anchor_at(20), anchor_at(45)];
    let mut prev: Option<String> = None;
    for f in dir.files() {
        let mut ls = lines(&f);
        for l in ls.iter_mut() {
            let text = String::from_utf8(l.clone()).unwrap();
            let mut text = text.replace("user9\"", "user9-forged\"");
            if let Some(p) = &prev {
                let at = text.find("\"previousHash\":\"").unwrap() + 16;
                text.replace_range(at..at + 64, p);
            }
            prev = Some(hex(&sha256(&text.as_bytes()[..text.len() - 1])));
            *l = text.into_bytes();
        }
        write_lines(&f, &ls);
    }
    assert!(verify(dir.path()).unwrap().is_ok(), "a rewritten chain verifies on its own");
    let report = verify_anchored(dir.path(), &anchors).unwrap();
    let (_, _, seq, problem) = broken(&report);
    assert_eq!(seq, Some(20));
    assert!(matches!(problem, Problem::AnchorMismatch { .. }));
}

#[tokio::test]
async fn an_empty_or_missing_journal_verifies_empty() {
    let dir = TempDir::new("empty");
    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok() && report.events == 0 && report.files == 0);
    assert_eq!(report.last_hash, coffer_audit::GENESIS_HASH);
    drop(Journal::open(dir.path(), JournalConfig::default()).unwrap());
    let report = verify(dir.path()).unwrap();
    assert!(report.is_ok() && report.events == 0 && report.files == 1, "{report}");
}
