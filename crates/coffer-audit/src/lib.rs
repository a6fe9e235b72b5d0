//! The audit journal: one CloudTrail-shaped JSON event per API call, appended to hash-chained
//! files in `<data_dir>/audit/`, durable before the call answers.
//!
//! Why it is built this way:
//!
//! - **Fail closed.** [`Journal::append`] resolves only after the event's bytes are fsynced. If
//!   the journal cannot make an event durable, the append fails and the caller fails the request:
//!   an API call that cannot be audited does not happen. (The reverse can happen: a request can
//!   fail *after* its event was written, so the journal may record calls that then failed for
//!   another reason. Audit errs towards recording too much, never too little.)
//! - **Group commit.** One writer owns the files. It takes everything queued, writes it with
//!   one `write` and makes it durable with one `fdatasync`, then answers every waiting append.
//!   Under load, the events that arrive while one fsync runs share the next one, so the number
//!   of fsyncs per second is bounded by the disk, not by the request rate. An idle journal waits
//!   briefly ([`JournalConfig::linger`]) for company before writing. The writer is a dedicated
//!   OS thread, not an async task: fsync blocks for milliseconds, and on a two-core machine a
//!   blocked runtime worker would halve request throughput. Callers serialise their own events
//!   (in parallel, on their threads); the writer only frames, hashes, writes and syncs.
//! - **Tamper evidence, not tamper proofing.** Every line carries `sequence` (1, 2, 3, … across
//!   files and restarts) and `previousHash` (hex SHA-256 of the previous line's exact bytes).
//!   [`verify`] detects an edited, deleted, inserted or reordered record, a missing file and a
//!   missing head of the journal, and names the first broken record. It **cannot** detect an
//!   attacker with write access who rewrites the whole chain from the edit onwards, nor a
//!   journal whose newest records were cut off, because a chain only proves itself relative to
//!   a hash you trust. That hash is the *external anchor*: [`verify`] reports the last sequence
//!   and hash so an operator can record them elsewhere (a ticket, another machine, a WORM
//!   bucket), and [`verify_anchored`] later proves that the recorded record is still in the
//!   chain, unchanged — which also detects truncation back past it.
//! - **Nothing secret in the journal.** Events are built with [`EventBuilder`], which passes
//!   request parameters and response elements through [`redact_with`]: plaintexts, data keys,
//!   secret access keys, session tokens, SSE-C keys and the like are removed, and large binary
//!   blobs (ciphertexts) replaced by a placeholder. Errors ([`AuditError`]) name files, offsets
//!   and sequence numbers, never event contents.
//!
//! # Layout and format
//!
//! ```text
//! <data_dir>/audit/journal-00000000000000000001.jsonl     named for its first sequence, 20 digits
//! <data_dir>/audit/journal-00000000000000052113.jsonl     the next file after rotation (64 MiB)
//! <data_dir>/audit/journal.lock                           locked by the one open Journal
//!
//! {"sequence":1,"previousHash":"0000…0000","eventVersion":"1.11","userIdentity":{…},…}\n
//! {"sequence":2,"previousHash":"<hex SHA-256 of line 1's bytes, without its \n>",…}\n
//! ```
//!
//! Details (rotation, torn writes, what a failed fsync leaves) are in [`journal`].
//!
//! # Using it
//!
//! ```no_run
//! # async fn f(journal: &coffer_audit::Journal) -> Result<(), coffer_audit::AuditError> {
//! use coffer_audit::EventBuilder;
//! let event = EventBuilder::new("kms.amazonaws.com", "Encrypt", "us-east-1")
//!     .request_id("…")
//!     .request_parameters(serde_json::json!({"keyId": "alias/app"}));
//! let receipt = journal.append(event).await?; // durable now; fail the request on Err
//! # let _ = receipt; Ok(()) }
//! ```
//!
//! [`verify`] / [`verify_anchored`] check the whole chain; [`read`] and [`query`] filter and
//! tail it. Both read the files directly and work beside a running writer (a record being
//! written is skipped).
#![forbid(unsafe_code)]

mod error;
mod event;
mod files;
pub mod journal;
mod query;
mod verify;

pub use error::AuditError;
pub use event::{
    DEFAULT_BLOB_FIELDS, DEFAULT_SECRET_FIELDS, EventBuilder, IdentityType, Resource, UserIdentity, event_time, redact,
    redact_with,
};
pub use journal::{Append, Event, Journal, JournalConfig, Receipt, Stats};
pub use query::{Filter, Query, query, read};
pub use verify::{Anchor, Broken, Problem, VerifyReport, verify, verify_anchored};

/// The `previousHash` of the first event ever written.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
