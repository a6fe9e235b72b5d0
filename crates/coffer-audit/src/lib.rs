//! The audit journal: one CloudTrail-shaped JSON event per API call, appended to hash-chained
//! files in `<data_dir>/audit/` — or, when Coffer runs on PostgreSQL, to one table shared by
//! every node ([`Journal::open_postgres`]) — durable before the call answers.
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
//!
//! # PostgreSQL
//!
//! Several stateless `coffer serve` processes sharing one database share one journal too:
//! [`Journal::open_postgres`] gives the same [`Journal`] (same `append`, same receipts, same
//! group commit, same fail-closed answers), writing to one table:
//!
//! ```text
//! coffer_audit_events
//!   sequence      bigint PRIMARY KEY   the record's "sequence" (1, 2, 3, … across all nodes)
//!   record        text NOT NULL        the record: exactly the bytes a journal file line holds
//!   event_time_ms bigint               eventTime (ms since the epoch)  } derived from the record
//!   event_name    text                 eventName                       } for filtering, indexed;
//!   principal_arn text                 userIdentity.arn                } NULL when absent
//! ```
//!
//! Records are byte for byte what the file journal writes — same framing, same `sequence` and
//! `previousHash` (hex SHA-256 of the previous record's text) — so [`verify_postgres`] and
//! [`read_postgres`] apply the same checks and filters as [`verify`] and [`read`], and a
//! record's hash is the same wherever it is kept.
//!
//! **One chain for all nodes.** Each node's writer thread batches its appends as the file writer
//! does, and commits each batch as one transaction: `BEGIN`, `pg_advisory_xact_lock(1131374182,
//! 1098212468)` ("Coff", "Audt": the two-key lock space, apart from coffer-store's one-key
//! locks), read the head (the row with the greatest `sequence`; the next record links to the
//! hash of its text), frame the batch onto it, insert it with one statement, `COMMIT`; only
//! then are the batch's appends answered. The lock makes the batches of all nodes follow one
//! another, so the table holds one gap-free chain in one total order. Per-node chains were the
//! alternative, but a node is stateless and may disappear: the end of its chain could then be
//! cut off without a trace, and a reader would have to merge chains to see the order of
//! events. One chain costs one transaction at a time across the installation, which group
//! commit amortises: every event a node queues while a batch waits for the lock or the commit
//! goes into its next batch.
//!
//! **Failing closed.** A batch that fails (database unreachable, refused, timed out after 20 s)
//! fails every append in it, and nothing of it is committed. A batch that failed before its
//! commit was sent is retried (a connection that broke while idle is reopened). If the
//! connection broke after the commit was sent, the writer asks the database whether the batch
//! landed and answers accordingly; if it cannot tell, the appends fail although the records may
//! exist (as with files, the journal then records calls that failed, never the reverse). The
//! writer's connection uses `synchronous_commit=on` (unless the URL sets `options`), so a
//! commit is durable before it is acknowledged.
//!
//! **Tamper evidence** is the chain's, as for files; [`verify_postgres`] also detects rows whose
//! key or filter columns disagree with their record. The role Coffer uses needs only `SELECT`
//! and `INSERT` on the table once it exists (it never updates or deletes), so an installation
//! can keep `UPDATE`, `DELETE` and `TRUNCATE` from it; the anchors of [`verify_anchored`] apply
//! as they do to files ([`verify_postgres_anchored`]). The table is created if missing (under
//! the same lock), which needs the `CREATE` privilege the first time.
#![forbid(unsafe_code)]

mod error;
mod event;
mod files;
pub mod journal;
mod postgres;
mod query;
mod verify;

pub use error::AuditError;
pub use event::{
    DEFAULT_BLOB_FIELDS, DEFAULT_SECRET_FIELDS, EventBuilder, IdentityType, Resource, UserIdentity, event_time, redact,
    redact_with,
};
pub use journal::{Append, Event, Journal, JournalConfig, Receipt, Stats};
pub use postgres::{TABLE as POSTGRES_TABLE, read_postgres, verify_postgres, verify_postgres_anchored};
pub use query::{Filter, Query, query, read};
pub use verify::{Anchor, Broken, Problem, VerifyReport, verify, verify_anchored};

/// The `previousHash` of the first event ever written.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
