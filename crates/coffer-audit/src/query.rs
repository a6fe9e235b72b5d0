//! Reading events back: a streaming filter over the files, and a tail that reads only as many
//! files (newest first) as it needs.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use coffer_util::time::Timestamp;
use serde_json::Value;

use crate::AuditError;
use crate::files::{self, Line, LineReader};

/// Which events to return. Every field set must match; `Filter::default()` matches everything.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Equals `userIdentity.arn`.
    pub principal_arn: Option<String>,
    /// Equals `eventName` (e.g. `Encrypt`).
    pub event_name: Option<String>,
    /// Equals `eventSource` (e.g. `kms.amazonaws.com`).
    pub event_source: Option<String>,
    /// A substring of some `resources[].ARN` (a key id matches its key ARN).
    pub resource: Option<String>,
    /// `eventTime` at or after this.
    pub start_time: Option<Timestamp>,
    /// `eventTime` at or before this.
    pub end_time: Option<Timestamp>,
}

impl Filter {
    pub fn matches(&self, event: &Value) -> bool {
        let str_at = |ptr: &str| event.pointer(ptr).and_then(Value::as_str);
        if let Some(arn) = &self.principal_arn
            && str_at("/userIdentity/arn") != Some(arn.as_str())
        {
            return false;
        }
        if let Some(name) = &self.event_name
            && str_at("/eventName") != Some(name.as_str())
        {
            return false;
        }
        if let Some(source) = &self.event_source
            && str_at("/eventSource") != Some(source.as_str())
        {
            return false;
        }
        if let Some(resource) = &self.resource {
            let found = event.get("resources").and_then(Value::as_array).is_some_and(|rs| {
                rs.iter().any(|r| r.get("ARN").and_then(Value::as_str).is_some_and(|a| a.contains(resource.as_str())))
            });
            if !found {
                return false;
            }
        }
        if self.start_time.is_some() || self.end_time.is_some() {
            let Some(t) = str_at("/eventTime").and_then(parse_event_time) else {
                return false;
            };
            if self.start_time.is_some_and(|s| t < s) || self.end_time.is_some_and(|e| t > e) {
                return false;
            }
        }
        true
    }

    /// A cheap necessary condition on the raw line: every string the filter compares must appear
    /// in it literally (the journal writes strings unescaped unless they contain `"`, `\` or
    /// control characters). Saves parsing most non-matching lines.
    fn may_match(&self, raw: &[u8]) -> bool {
        [&self.principal_arn, &self.event_name, &self.event_source, &self.resource]
            .into_iter()
            .flatten()
            .all(|needle| needs_escape(needle) || contains(raw, needle.as_bytes()))
    }
}

/// An `eventTime`, as [`Filter`] compares it. Years beyond ±999999 are not times (and would
/// overflow the millisecond count).
pub(crate) fn parse_event_time(s: &str) -> Option<Timestamp> {
    let year = s.trim_start().split('-').next().unwrap_or_default();
    if year.len() > 6 {
        return None;
    }
    Timestamp::parse_iso8601(s)
}

/// Whether the journal writes `s` escaped (so a literal search for it in a raw record fails).
pub(crate) fn needs_escape(s: &str) -> bool {
    s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut i = 0;
    while let Some(pos) = hay[i..].iter().position(|&b| b == first) {
        let at = i + pos + 1;
        if hay[at..].starts_with(rest) {
            return true;
        }
        i = at;
    }
    false
}

/// Streams the matching events of all files, oldest first. A line that does not parse yields an
/// `Err` (naming file and offset) and the iteration goes on; a partial last line (a write in
/// progress) is skipped.
pub fn query(data_dir: impl AsRef<Path>, filter: &Filter) -> Result<Query, AuditError> {
    let files = files::list(&files::audit_dir(data_dir.as_ref()))?;
    Ok(Query {
        files: files.into_iter().map(|(_, p)| p).collect(),
        reader: None,
        filter: filter.clone(),
        buf: Vec::new(),
    })
}

pub struct Query {
    files: VecDeque<PathBuf>,
    reader: Option<LineReader>,
    filter: Filter,
    buf: Vec<u8>,
}

impl Iterator for Query {
    type Item = Result<Value, AuditError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let reader = match &mut self.reader {
                Some(r) => r,
                None => {
                    let path = self.files.pop_front()?;
                    match LineReader::open(&path) {
                        Ok(r) => self.reader.insert(r),
                        // Rotated away or deleted since listing: nothing to read.
                        Err(AuditError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => return Some(Err(e)),
                    }
                }
            };
            let offset = reader.offset;
            match reader.next(&mut self.buf) {
                Err(e) => {
                    self.reader = None;
                    return Some(Err(e));
                }
                Ok(Line::End | Line::Partial(_)) => self.reader = None,
                Ok(Line::Complete(line)) => match parse_if_match(&self.filter, line) {
                    Ok(Some(v)) => return Some(Ok(v)),
                    Ok(None) => {}
                    Err(()) => {
                        return Some(Err(AuditError::Corrupt {
                            path: reader.path().to_owned(),
                            offset,
                            detail: "record is not valid JSON".into(),
                        }));
                    }
                },
            }
        }
    }
}

fn parse_if_match(filter: &Filter, line: &[u8]) -> Result<Option<Value>, ()> {
    if !filter.may_match(line) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(line).map_err(|_| ())?;
    Ok(filter.matches(&v).then_some(v))
}

/// The matching events, oldest first. `from_end: Some(n)` returns only the last `n` matches,
/// reading files newest first and stopping as soon as it has `n` (memory: `n` events plus one
/// line); `None` returns all matches (memory: all matches — use [`query`] to stream instead).
pub fn read(data_dir: impl AsRef<Path>, filter: &Filter, from_end: Option<usize>) -> Result<Vec<Value>, AuditError> {
    let Some(n) = from_end else {
        return query(data_dir, filter)?.collect();
    };
    if n == 0 {
        return Ok(Vec::new());
    }
    let list = files::list(&files::audit_dir(data_dir.as_ref()))?;
    let mut out: VecDeque<Value> = VecDeque::with_capacity(n.min(4096));
    let mut buf = Vec::new();
    for (_, path) in list.iter().rev() {
        if out.len() >= n {
            break;
        }
        let need = n - out.len();
        let mut window: VecDeque<Value> = VecDeque::new();
        let mut reader = match LineReader::open(path) {
            Ok(r) => r,
            Err(AuditError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        loop {
            let offset = reader.offset;
            match reader.next(&mut buf)? {
                Line::End | Line::Partial(_) => break,
                Line::Complete(line) => match parse_if_match(filter, line) {
                    Ok(Some(v)) => {
                        if window.len() == need {
                            window.pop_front();
                        }
                        window.push_back(v);
                    }
                    Ok(None) => {}
                    Err(()) => {
                        return Err(AuditError::Corrupt {
                            path: path.clone(),
                            offset,
                            detail: "record is not valid JSON".into(),
                        });
                    }
                },
            }
        }
        for v in window.into_iter().rev() {
            out.push_front(v);
        }
    }
    Ok(out.into())
}
