//! Journal file names, listing and line reading, shared by the writer, `verify` and `query`.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::AuditError;

/// How far past the last record an unfinished write can reach: only the last batch can be torn
/// (a power loss persists any subset of its pages, leaving allocated zeros between its bytes),
/// and a batch stops growing at 8 MiB. Non-zero bytes further out are damage.
pub(crate) const TORN_LIMIT: u64 = 16 << 20;

pub(crate) const AUDIT_DIR: &str = "audit";
pub(crate) const LOCK_FILE: &str = "journal.lock";
const PREFIX: &str = "journal-";
const SUFFIX: &str = ".jsonl";

/// `<data_dir>/audit`.
pub(crate) fn audit_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(AUDIT_DIR)
}

pub(crate) fn file_name(first_sequence: u64) -> String {
    format!("{PREFIX}{first_sequence:020}{SUFFIX}")
}

/// The first sequence a journal file name declares, or `None` for any other file.
pub(crate) fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The journal files of `audit_dir`, ordered by first sequence. A missing directory is an empty
/// journal.
pub(crate) fn list(audit_dir: &Path) -> Result<Vec<(u64, PathBuf)>, AuditError> {
    let entries = match std::fs::read_dir(audit_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(AuditError::io("list", audit_dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| AuditError::io("list", audit_dir, e))?;
        if let Some(seq) = entry.file_name().to_str().and_then(parse_file_name) {
            out.push((seq, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Reads `\n`-terminated lines one at a time, reusing one buffer. A final fragment without a
/// newline is reported separately: it is a write in progress or a crash remnant, never a record.
/// A line with a zero byte is never a record either (see the journal's file format): when the
/// file holds only zeros from that line on, they are space allocated ahead of the records (the
/// end); when it holds other bytes too, ending within [`TORN_LIMIT`], they are an unfinished
/// write (a fragment, however many newlines it has; also what a reader racing the writer can
/// see); further out they are damage, and the line is returned as read.
pub(crate) struct LineReader {
    reader: BufReader<File>,
    path: PathBuf,
    /// Byte offset of the start of the next line.
    pub(crate) offset: u64,
    /// 1-based number of the line last returned.
    pub(crate) line_no: u64,
}

pub(crate) enum Line<'a> {
    /// A complete line, without its newline.
    Complete(&'a [u8]),
    /// Trailing bytes without a newline (the count of those that are not zero).
    Partial(usize),
    End,
}

impl LineReader {
    pub(crate) fn open(path: &Path) -> Result<LineReader, AuditError> {
        let file = File::open(path).map_err(|e| AuditError::io("open", path, e))?;
        Ok(LineReader {
            reader: BufReader::with_capacity(256 * 1024, file),
            path: path.to_owned(),
            offset: 0,
            line_no: 0,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// For a line of `n` bytes at `offset` holding a zero byte: the count of non-zero bytes from
    /// there to the end of the file if they all lie within [`TORN_LIMIT`] (the reader is then at
    /// the end), or `None` (damage; the reader is put back after the line).
    fn unfinished_tail(&mut self, n: usize) -> Result<Option<usize>, AuditError> {
        let io = |e| AuditError::io("read", &self.path, e);
        self.reader.seek(SeekFrom::Start(self.offset)).map_err(io)?;
        let mut block = vec![0u8; 64 * 1024];
        let (mut pos, mut nonzero, mut reach) = (0u64, 0usize, 0u64);
        loop {
            let got = self.reader.read(&mut block).map_err(io)?;
            if got == 0 {
                return Ok(Some(nonzero));
            }
            for (i, b) in block[..got].iter().enumerate() {
                if *b != 0 {
                    nonzero += 1;
                    reach = pos + i as u64 + 1;
                }
            }
            pos += got as u64;
            if reach > TORN_LIMIT {
                self.reader.seek(SeekFrom::Start(self.offset + n as u64)).map_err(io)?;
                return Ok(None);
            }
        }
    }

    pub(crate) fn next<'a>(&mut self, buf: &'a mut Vec<u8>) -> Result<Line<'a>, AuditError> {
        buf.clear();
        let n = self.reader.read_until(b'\n', buf).map_err(|e| AuditError::io("read", &self.path, e))?;
        if n == 0 {
            return Ok(Line::End);
        }
        if buf.contains(&0) {
            // `offset` stays where the records end.
            match self.unfinished_tail(n)? {
                Some(0) => return Ok(Line::End),
                Some(nonzero) => return Ok(Line::Partial(nonzero)),
                None => {}
            }
        }
        self.offset += n as u64;
        if buf.last() != Some(&b'\n') {
            return Ok(Line::Partial(buf.iter().filter(|&&b| b != 0).count()));
        }
        self.line_no += 1;
        buf.pop();
        Ok(Line::Complete(buf))
    }
}

/// The last complete line of a file and where it starts, and the length of the file up to and
/// including that line's newline (everything after it is a partial line). Reads backwards in
/// blocks, so only the tail of a large file is touched.
pub(crate) struct Tail {
    /// Offset just past the last `\n` (0 if the file has none).
    pub(crate) complete_len: u64,
    /// The file's actual length.
    pub(crate) file_len: u64,
    /// The last complete line (without newline) and its start offset, if any.
    pub(crate) last_line: Option<(u64, Vec<u8>)>,
}

pub(crate) fn read_tail(file: &mut File, path: &Path) -> Result<Tail, AuditError> {
    let io = |e| AuditError::io("read", path, e);
    let file_len = file.metadata().map_err(io)?.len();
    const BLOCK: u64 = 64 * 1024;
    // Find the last newline, then the one before it.
    let mut newlines: Vec<u64> = Vec::with_capacity(2);
    let mut end = file_len;
    let mut block = vec![0u8; BLOCK as usize];
    while end > 0 && newlines.len() < 2 {
        let start = end.saturating_sub(BLOCK);
        let chunk = &mut block[..(end - start) as usize];
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        file.read_exact(chunk).map_err(io)?;
        for (i, b) in chunk.iter().enumerate().rev() {
            if *b == b'\n' {
                newlines.push(start + i as u64);
                if newlines.len() == 2 {
                    break;
                }
            }
        }
        end = start;
    }
    let Some(&last_nl) = newlines.first() else {
        return Ok(Tail { complete_len: 0, file_len, last_line: None });
    };
    let line_start = newlines.get(1).map_or(0, |p| p + 1);
    let mut line = vec![0u8; (last_nl - line_start) as usize];
    file.seek(SeekFrom::Start(line_start)).map_err(io)?;
    file.read_exact(&mut line).map_err(io)?;
    Ok(Tail { complete_len: last_nl + 1, file_len, last_line: Some((line_start, line)) })
}

/// Fsyncs a directory, so a file created (or removed) in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| AuditError::io("fsync directory", dir, e))
}

/// The journal fields of a parsed line: `(sequence, previousHash)`.
pub(crate) fn chain_fields(v: &serde_json::Value) -> (Option<u64>, Option<&str>) {
    (v.get("sequence").and_then(|s| s.as_u64()), v.get("previousHash").and_then(|h| h.as_str()))
}
