//! Walking the chain: every file in order, every line parsed, sequences consecutive, hashes linked.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use coffer_crypto::digest::{hex, sha256};
use serde::Deserialize;

use crate::AuditError;
use crate::files::{self, Line, LineReader};

/// A record an operator wrote down earlier (from [`VerifyReport::last_sequence`] /
/// [`VerifyReport::last_hash`], or [`crate::Journal::head`]) and kept outside the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub sequence: u64,
    /// Hex SHA-256 of that record's line (case-insensitive).
    pub hash: String,
}

/// What is wrong with the first broken record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The oldest file starts at `first`, not 1: the head of the journal is missing.
    MissingHead { first: u64 },
    /// A file is named for sequence `named` but the chain continues at `expected`: a file is
    /// missing (or one was added or renamed).
    FileGap { expected: u64, named: u64 },
    /// The line is not a JSON object (or not UTF-8).
    Unparseable,
    /// The line lacks a numeric `sequence` or a string `previousHash`.
    MissingChainFields,
    /// The record's sequence is not the next one: a record was deleted, inserted or moved.
    SequenceMismatch { expected: u64, found: u64 },
    /// `previousHash` is not the hash of the previous record: the previous record (or this
    /// record's `previousHash`) was altered.
    HashMismatch { expected: String, found: String },
    /// A line without its newline before the end of the journal.
    PartialLine,
    /// An anchored record's hash differs: the chain was rewritten from that record or earlier.
    AnchorMismatch { anchored: String, found: String },
    /// The journal ends before an anchored record: newer records were cut off.
    AnchorMissing { anchored: u64 },
    /// PostgreSQL journal only: a column of the row (its `sequence` key, or one derived from
    /// the record for filtering) does not match the record it holds: the table was edited.
    ColumnMismatch { column: &'static str },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::MissingHead { first } => {
                write!(f, "the journal starts at sequence {first}: records 1 to {} are missing (archived?)", first - 1)
            }
            Problem::FileGap { expected, named } => {
                write!(
                    f,
                    "file starts at sequence {named} but the chain continues at {expected}: a file is missing or out of place"
                )
            }
            Problem::Unparseable => f.write_str("not a JSON object"),
            Problem::MissingChainFields => f.write_str("no valid sequence / previousHash"),
            Problem::SequenceMismatch { expected, found } => {
                write!(f, "sequence {found} where {expected} was expected: a record was deleted, inserted or moved")
            }
            Problem::HashMismatch { expected, found } => write!(
                f,
                "previousHash {found} does not match the previous record's hash {expected}: the previous record (or this one) was altered"
            ),
            Problem::PartialLine => f.write_str("line without a newline in the middle of the journal"),
            Problem::AnchorMismatch { anchored, found } => {
                write!(f, "record hash {found} differs from the anchored hash {anchored}: the chain was rewritten")
            }
            Problem::AnchorMissing { anchored } => {
                write!(f, "the journal ends before anchored sequence {anchored}: newer records were removed")
            }
            Problem::ColumnMismatch { column } => {
                write!(f, "the {column} column does not match the record: the table was edited")
            }
        }
    }
}

/// The first broken record: where it is and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    /// The file; for the PostgreSQL journal, the table ([`crate::POSTGRES_TABLE`]).
    pub file: PathBuf,
    /// 1-based line number in `file` (0 when the problem is the end of the journal); for the
    /// PostgreSQL journal, the row's `sequence` column.
    pub line: u64,
    /// The sequence the record carries, when it has a readable one.
    pub sequence: Option<u64>,
    pub problem: Problem,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Journal files checked (for the PostgreSQL journal: 1, its table).
    pub files: usize,
    /// Records checked and found good (before the break, if any).
    pub events: u64,
    /// Sequence and hash of the last good record (0 and [`crate::GENESIS_HASH`] if none):
    /// record them outside the host to anchor the chain.
    pub last_sequence: u64,
    pub last_hash: String,
    /// Anchors that were found in the chain and matched.
    pub anchors_matched: usize,
    pub broken: Option<Broken>,
    /// A partial line at the very end (a write in progress, or a crash remnant that the next
    /// open truncates): `(file, bytes)`. Not a break.
    pub partial_tail: Option<(PathBuf, u64)>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.broken.is_none()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.broken {
            None => write!(
                f,
                "audit journal OK: {} events in {} files; last sequence {}, last hash {}",
                self.events, self.files, self.last_sequence, self.last_hash
            )?,
            Some(b) => write!(
                f,
                "audit journal BROKEN at {} line {}{}: {} ({} good events before it; last good sequence {}, hash {})",
                b.file.display(),
                b.line,
                b.sequence.map(|s| format!(" (sequence {s})")).unwrap_or_default(),
                b.problem,
                self.events,
                self.last_sequence,
                self.last_hash
            )?,
        }
        if self.anchors_matched > 0 {
            write!(f, "; {} anchor(s) matched", self.anchors_matched)?;
        }
        if let Some((file, bytes)) = &self.partial_tail {
            write!(f, "; {} ends with a {bytes}-byte partial record (unacknowledged)", file.display())?;
        }
        Ok(())
    }
}

/// Checks the whole journal of `data_dir`. `Err` only when files cannot be read; a damaged
/// journal is an `Ok` report with [`VerifyReport::broken`] set.
pub fn verify(data_dir: impl AsRef<Path>) -> Result<VerifyReport, AuditError> {
    verify_anchored(data_dir, &[])
}

/// [`verify`], and also checks that every anchor's record is in the chain with the anchored
/// hash. An anchor also lets a journal whose oldest files were archived verify: if the oldest
/// remaining file starts at sequence N and an anchor names sequence N − 1, the chain starts from
/// that anchored hash instead of requiring sequence 1. (Anchors for archived records are not
/// counted as matched.)
pub fn verify_anchored(data_dir: impl AsRef<Path>, anchors: &[Anchor]) -> Result<VerifyReport, AuditError> {
    let list = files::list(&files::audit_dir(data_dir.as_ref()))?;
    let mut anchors = Anchors::new(anchors);
    let mut report = VerifyReport::empty(list.len());
    let mut expected = 1u64;
    let mut prev_hex = crate::GENESIS_HASH.to_string();
    for (index, (named, path)) in list.iter().enumerate() {
        let broken = |line, sequence, problem| Some(Broken { file: path.clone(), line, sequence, problem });
        if *named != expected {
            match if index == 0 { anchors.start(*named) } else { None } {
                Some((sequence, hash)) => {
                    expected = *named;
                    prev_hex.clone_from(&hash);
                    report.last_sequence = sequence;
                    report.last_hash = hash;
                }
                None => {
                    let problem = if index == 0 {
                        Problem::MissingHead { first: *named }
                    } else {
                        Problem::FileGap { expected, named: *named }
                    };
                    report.broken = broken(1, Some(*named), problem);
                    report.anchors_matched = anchors.matched;
                    return Ok(report);
                }
            }
        }
        let check = check_file(path, expected, Some(&prev_hex), &mut |sequence, hash| anchors.check(sequence, hash))?;
        report.anchors_matched = anchors.matched;
        report.events += check.events;
        if check.events > 0 {
            report.last_sequence = check.last_sequence;
            report.last_hash.clone_from(&check.last_hash);
        }
        if let Some(b) = check.broken {
            report.broken = broken(b.line, b.sequence, b.problem);
            return Ok(report);
        }
        if let Some((_, bytes)) = check.partial {
            if index + 1 < list.len() {
                report.broken = broken(check.lines + 1, None, Problem::PartialLine);
                return Ok(report);
            }
            report.partial_tail = Some((path.clone(), bytes));
        }
        expected = check.last_sequence + 1;
        prev_hex = check.last_hash;
    }
    if let Some(anchored) = anchors.missing(expected) {
        let file = list.last().map(|(_, p)| p.clone()).unwrap_or_else(|| files::audit_dir(data_dir.as_ref()));
        report.broken = Some(Broken { file, line: 0, sequence: None, problem: Problem::AnchorMissing { anchored } });
    }
    Ok(report)
}

impl VerifyReport {
    /// The report of an empty journal, before anything was checked.
    pub(crate) fn empty(files: usize) -> VerifyReport {
        VerifyReport {
            files,
            events: 0,
            last_sequence: 0,
            last_hash: crate::GENESIS_HASH.to_string(),
            anchors_matched: 0,
            broken: None,
            partial_tail: None,
        }
    }
}

/// The anchors, in sequence order, consumed as the chain is walked; counts the matched ones.
pub(crate) struct Anchors<'a> {
    list: Vec<&'a Anchor>,
    next: usize,
    pub(crate) matched: usize,
}

impl<'a> Anchors<'a> {
    pub(crate) fn new(anchors: &'a [Anchor]) -> Anchors<'a> {
        let mut list: Vec<&Anchor> = anchors.iter().collect();
        list.sort_by_key(|a| a.sequence);
        Anchors { list, next: 0, matched: 0 }
    }

    /// An anchor on the record just before `first`, from which a journal whose oldest records
    /// were archived can start: `(sequence, lower-case hash)`. Counted as matched.
    pub(crate) fn start(&mut self, first: u64) -> Option<(u64, String)> {
        let anchor = self.list.iter().find(|a| a.sequence.checked_add(1) == Some(first))?;
        self.matched += 1;
        Some((anchor.sequence, anchor.hash.to_ascii_lowercase()))
    }

    /// Checks a good record against the anchors up to its sequence (anchors before it that were
    /// not met belong to archived records and are passed over).
    pub(crate) fn check(&mut self, sequence: u64, hash: &str) -> Option<Problem> {
        while let Some(anchor) = self.list.get(self.next).filter(|a| a.sequence <= sequence) {
            self.next += 1;
            if anchor.sequence == sequence {
                if !anchor.hash.eq_ignore_ascii_case(hash) {
                    return Some(Problem::AnchorMismatch {
                        anchored: anchor.hash.to_ascii_lowercase(),
                        found: hash.to_string(),
                    });
                }
                self.matched += 1;
            }
        }
        None
    }

    /// An anchor at or after `expected` (the sequence after the last record): the journal ends
    /// before it.
    pub(crate) fn missing(&self, expected: u64) -> Option<u64> {
        self.list.get(self.next).filter(|a| a.sequence >= expected).map(|a| a.sequence)
    }
}

/// Follows the chain one record at a time: the sequence and `previousHash` the next record must
/// carry.
pub(crate) struct Linker {
    /// The sequence the next record must carry.
    pub(crate) expected: u64,
    /// Hex hash of the last good record, which the next `previousHash` must equal (the previous
    /// hash given at the start, or empty while the first link is taken on trust).
    pub(crate) last_hash: String,
    trusted: bool,
}

impl Linker {
    /// A chain whose first record carries `first` and links to `prev_hash` (with `None`, its
    /// `previousHash` is taken on trust: the record before it is gone).
    pub(crate) fn new(first: u64, prev_hash: Option<&str>) -> Linker {
        Linker { expected: first, last_hash: prev_hash.unwrap_or_default().to_string(), trusted: prev_hash.is_none() }
    }

    /// Checks the next record (a line without its newline); `on_record(sequence, hash)` may
    /// report a problem (anchors). On success, returns its sequence and moves on.
    pub(crate) fn next(
        &mut self,
        line: &[u8],
        on_record: &mut dyn FnMut(u64, &str) -> Option<Problem>,
    ) -> Result<u64, (Option<u64>, Problem)> {
        let chain = parse_chain(line).map_err(|problem| (None, problem))?;
        let sequence = chain.sequence;
        if sequence != self.expected {
            return Err((Some(sequence), Problem::SequenceMismatch { expected: self.expected, found: sequence }));
        }
        if !self.trusted && chain.previous_hash != self.last_hash.as_str() {
            let problem =
                Problem::HashMismatch { expected: self.last_hash.clone(), found: chain.previous_hash.into_owned() };
            return Err((Some(sequence), problem));
        }
        let hash = hex(&sha256(line));
        if let Some(problem) = on_record(sequence, &hash) {
            return Err((Some(sequence), problem));
        }
        self.trusted = false;
        self.last_hash = hash;
        self.expected += 1;
        Ok(sequence)
    }
}

/// The first broken record of one file.
pub(crate) struct FileBreak {
    pub(crate) line: u64,
    pub(crate) offset: u64,
    pub(crate) sequence: Option<u64>,
    pub(crate) problem: Problem,
}

/// What [`check_file`] found.
pub(crate) struct FileCheck {
    /// Good records, and complete lines read (good or not).
    pub(crate) events: u64,
    pub(crate) lines: u64,
    /// The last good record's sequence (`first - 1` if none) and hex hash (the previous hash
    /// passed in, or empty, if none).
    pub(crate) last_sequence: u64,
    pub(crate) last_hash: String,
    pub(crate) broken: Option<FileBreak>,
    /// Trailing bytes without a newline: `(offset, count of non-zero bytes)`.
    pub(crate) partial: Option<(u64, u64)>,
    /// Where the last complete line ends (what follows is a partial line, allocated zeros, or
    /// nothing).
    pub(crate) end: u64,
}

/// Checks the records of one file: the first must carry sequence `first` and link to
/// `prev_hash` (with `None`, its `previousHash` is taken on trust: the file before it is gone);
/// each next one must follow. `on_record(sequence, hash)` may report a problem (anchors). Stops
/// at the first break.
pub(crate) fn check_file(
    path: &Path,
    first: u64,
    prev_hash: Option<&str>,
    on_record: &mut dyn FnMut(u64, &str) -> Option<Problem>,
) -> Result<FileCheck, AuditError> {
    let mut check = FileCheck {
        events: 0,
        lines: 0,
        last_sequence: first - 1,
        last_hash: prev_hash.unwrap_or_default().to_string(),
        broken: None,
        partial: None,
        end: 0,
    };
    let mut reader = LineReader::open(path)?;
    let mut buf = Vec::new();
    let mut linker = Linker::new(first, prev_hash);
    loop {
        let offset = reader.offset;
        let line = match reader.next(&mut buf)? {
            Line::End => break,
            Line::Partial(n) => {
                check.partial = Some((offset, n as u64));
                break;
            }
            Line::Complete(line) => line,
        };
        check.lines = reader.line_no;
        check.end = reader.offset;
        match linker.next(line, on_record) {
            Ok(sequence) => {
                check.events += 1;
                check.last_sequence = sequence;
                check.last_hash.clone_from(&linker.last_hash);
            }
            Err((sequence, problem)) => {
                check.broken = Some(FileBreak { line: reader.line_no, offset, sequence, problem });
                break;
            }
        }
    }
    Ok(check)
}

#[derive(Deserialize)]
pub(crate) struct Chain<'a> {
    pub(crate) sequence: u64,
    #[serde(rename = "previousHash", borrow)]
    pub(crate) previous_hash: Cow<'a, str>,
}

/// The chain fields of a record, or why it has none.
pub(crate) fn parse_chain(line: &[u8]) -> Result<Chain<'_>, Problem> {
    if line.first() != Some(&b'{') {
        return Err(Problem::Unparseable);
    }
    match serde_json::from_slice::<Chain>(line) {
        Ok(c) => Ok(c),
        Err(e) if e.is_data() => {
            // Valid JSON, wrong shape; still tell "not JSON" from "no chain fields".
            Err(Problem::MissingChainFields)
        }
        Err(_) => Err(Problem::Unparseable),
    }
}
