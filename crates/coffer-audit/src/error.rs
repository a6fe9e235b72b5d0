//! Errors. They name files, offsets and sequence numbers — never event contents.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub enum AuditError {
    /// An I/O operation on a journal file or directory failed. `Arc` because one failed batch
    /// answers many appends with the same error.
    Io { op: &'static str, path: PathBuf, source: Arc<std::io::Error> },
    /// A write or fsync failed and the journal could not be truncated back to its last durable
    /// record; it refuses every append until it is reopened (open repairs the tail).
    Poisoned,
    /// The journal was closed (its writer has stopped).
    Closed,
    /// Another [`crate::Journal`] (in this or another process) holds `audit/journal.lock`.
    Locked(PathBuf),
    /// The event passed to `append` was not a JSON object.
    NotAnObject,
    /// The event could not be serialised (e.g. a non-finite float).
    Serialize(String),
    /// The journal cannot be continued or read: the last record does not parse, or the files
    /// do not form a chain at the point where the writer must continue it. Run `verify`.
    /// `offset` is a byte offset in the file `path`; for the PostgreSQL journal, `path` is the
    /// table name ([`crate::POSTGRES_TABLE`]) and `offset` the record's sequence.
    Corrupt { path: PathBuf, offset: u64, detail: String },
    /// The PostgreSQL journal's database failed, refused or could not be reached (the message
    /// names the server and the operation, never the password or event contents).
    Database(String),
}

impl AuditError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> AuditError {
        AuditError::Io { op, path: path.into(), source: Arc::new(source) }
    }
}

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditError::Io { op, path, source } => write!(f, "audit journal: {op} {}: {source}", path.display()),
            AuditError::Poisoned => {
                f.write_str("audit journal: a write failed and could not be undone; appends are refused until reopened")
            }
            AuditError::Closed => f.write_str("audit journal: closed"),
            AuditError::Locked(p) => write!(f, "audit journal: {} is held by another writer", p.display()),
            AuditError::NotAnObject => f.write_str("audit journal: an event must be a JSON object"),
            AuditError::Serialize(m) => write!(f, "audit journal: event not serialisable: {m}"),
            AuditError::Corrupt { path, offset, detail } => {
                let unit = if path.as_os_str() == crate::POSTGRES_TABLE { "sequence" } else { "byte" };
                write!(f, "audit journal: cannot continue {} at {unit} {offset}: {detail}", path.display())
            }
            AuditError::Database(m) => write!(f, "audit journal: {m}"),
        }
    }
}

impl std::error::Error for AuditError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AuditError::Io { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}
