//! The PostgreSQL journal: the same records, chain and guarantees as the files, in one table
//! that every Coffer node of an installation appends to. See the crate documentation for the
//! layout and the reasons; this module holds the writer's sink, `verify_postgres` and
//! `read_postgres`.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use coffer_crypto::digest::sha256;
use coffer_store::{PgConnector, StoreError};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio_postgres::error::{Severity, SqlState};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use crate::journal::{Location, Pending, Receipt, Shared, Sink, Writer, frame, spawn_writer};
use crate::query::{needs_escape, parse_event_time};
use crate::verify::{Anchor, Anchors, Broken, Linker, Problem, VerifyReport, parse_chain};
use crate::{AuditError, Filter, Journal, JournalConfig};

/// The table of the PostgreSQL journal.
pub const TABLE: &str = "coffer_audit_events";

/// Creates the table and its indexes. Run under [`LOCK`], as `CREATE … IF NOT EXISTS` is not
/// safe against a concurrent creation by another node.
const SCHEMA: &str = r#"
    CREATE TABLE IF NOT EXISTS coffer_audit_events (
        sequence      bigint PRIMARY KEY CHECK (sequence > 0),
        record        text   NOT NULL,
        event_time_ms bigint,
        event_name    text   COLLATE "C",
        principal_arn text   COLLATE "C"
    );
    CREATE INDEX IF NOT EXISTS coffer_audit_events_time ON coffer_audit_events (event_time_ms);
    CREATE INDEX IF NOT EXISTS coffer_audit_events_name ON coffer_audit_events (event_name, sequence);
    CREATE INDEX IF NOT EXISTS coffer_audit_events_principal ON coffer_audit_events (principal_arn, sequence);
"#;

/// The transaction-level advisory lock that serialises the batches of every node: the two-key
/// form, ("Coff", "Audt"), whose key space PostgreSQL keeps apart from the one-key form that
/// coffer-store uses for its item and migration locks.
const LOCK: &str = "SELECT pg_advisory_xact_lock(1131374182, 1098212468)";
/// A batch's first message: one simple query, so that nothing pipelined after it can run before
/// the lock is held.
const BEGIN_LOCKED: &str = "BEGIN; SELECT pg_advisory_xact_lock(1131374182, 1098212468)";
const EXISTS: &str = "SELECT to_regclass('coffer_audit_events') IS NOT NULL";
const HEAD: &str = "SELECT sequence, record FROM coffer_audit_events ORDER BY sequence DESC LIMIT 1";
const INSERT: &str = "INSERT INTO coffer_audit_events (sequence, record, event_time_ms, event_name, principal_arn) \
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[])";
const AT: &str = "SELECT record FROM coffer_audit_events WHERE sequence = $1";
/// The newest records, checked at open.
const TAIL: &str = "SELECT sequence, record FROM coffer_audit_events ORDER BY sequence DESC LIMIT 256";
const VERIFY_PAGE: &str = "SELECT sequence, record, event_time_ms, event_name, principal_arn FROM coffer_audit_events \
     WHERE sequence > $1 ORDER BY sequence LIMIT 2000";
const READ_PAGE: i64 = 1000;

/// Session settings of the writer's connection (unless the URL sets `options`): commits are
/// durable before they are acknowledged, whatever the server's default; and a node that stops
/// in the middle of a batch (frozen, partitioned) releases the lock that every node's batches
/// wait for within seconds.
const WRITER_OPTIONS: &str = "-c synchronous_commit=on -c idle_in_transaction_session_timeout=10000";
const READER_OPTIONS: &str = "-c default_transaction_read_only=on";
/// A batch (every attempt, reconnecting included) fails after this long.
const BATCH_TIMEOUT: Duration = Duration::from_secs(20);
/// Finding out whether a batch whose commit was interrupted did commit; rolling back a refused one.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts of one batch that failed before its commit was sent (a connection that broke while
/// idle, a transient conflict).
const ATTEMPTS: u32 = 3;

/// The columns derived from a record for filtering (`NULL` when the event lacks the field, or
/// has it as something other than a string, or — names — holding U+0000, which PostgreSQL text
/// cannot): exactly what [`Filter::matches`] compares, so the indexed columns can narrow a query
/// without changing its result. `verify_postgres` checks every row's columns against its record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Index {
    time_ms: Option<i64>,
    name: Option<String>,
    principal: Option<String>,
}

impl Index {
    /// Of an event or a record (the chain fields do not matter). Parses it: on the caller's
    /// thread when appending, so the writer only frames.
    pub(crate) fn of(json: &[u8]) -> Index {
        serde_json::from_slice::<Value>(json).map(|v| Index::of_value(&v)).unwrap_or_default()
    }

    fn of_value(v: &Value) -> Index {
        let text = |ptr: &str| v.pointer(ptr).and_then(Value::as_str);
        let storable = |s: &str| (!s.contains('\0')).then(|| s.to_owned());
        Index {
            time_ms: text("/eventTime").and_then(parse_event_time).map(|t| t.millis()),
            name: text("/eventName").and_then(storable),
            principal: text("/userIdentity/arn").and_then(storable),
        }
    }
}

fn store_error(e: StoreError) -> AuditError {
    match e {
        StoreError::Backend(m) => AuditError::Database(m),
        other => AuditError::Database(other.to_string()),
    }
}

fn corrupt(sequence: i64, detail: String) -> AuditError {
    AuditError::Corrupt { path: PathBuf::from(TABLE), offset: u64::try_from(sequence).unwrap_or(0), detail }
}

/// The chain head a row holds: the next sequence and `previousHash`. Refuses a row whose record
/// does not carry its own key as `sequence`: appending after a damaged record would bury it.
fn head_of(sequence: i64, record: &str) -> Result<(u64, [u8; 32]), AuditError> {
    let chain = parse_chain(record.as_bytes())
        .map_err(|p| corrupt(sequence, format!("the newest record: {p}; refusing to append after it (run verify)")))?;
    if i64::try_from(chain.sequence).ok() != Some(sequence) {
        return Err(corrupt(
            sequence,
            format!(
                "the newest row holds a record with sequence {}; refusing to append after it (run verify)",
                chain.sequence
            ),
        ));
    }
    Ok((chain.sequence + 1, sha256(record.as_bytes())))
}

// ---------------------------------------------------------------------------------------------
// Writing

struct Conn {
    client: Client,
    head: Statement,
    insert: Statement,
    at: Statement,
}

/// The writer's side of the database: one dedicated connection, reopened when it fails.
struct Db {
    connector: PgConnector,
    conn: Option<Conn>,
}

/// Why one attempt at a batch failed.
enum Failure {
    /// The server refused (its transaction is rolled back or aborted). `retry`: transient.
    Refused { error: AuditError, retry: bool },
    /// The connection failed or the batch timed out.
    Lost(AuditError),
}

impl Db {
    fn fail(&self, what: &str, e: &tokio_postgres::Error) -> Failure {
        let error = AuditError::Database(
            self.connector.message(&format!("PostgreSQL at {}: {what}", self.connector.target()), e),
        );
        // A FATAL error (the session was terminated: a restart, an administrator) ends the
        // connection as surely as a broken socket does.
        match e.as_db_error().filter(|db| !matches!(db.parsed_severity(), Some(Severity::Fatal | Severity::Panic))) {
            Some(db) => Failure::Refused {
                retry: [
                    SqlState::UNIQUE_VIOLATION,
                    SqlState::T_R_SERIALIZATION_FAILURE,
                    SqlState::T_R_DEADLOCK_DETECTED,
                ]
                .contains(db.code()),
                error,
            },
            None => Failure::Lost(error),
        }
    }

    async fn conn(&mut self) -> Result<&Conn, Failure> {
        if self.conn.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let client = self.connector.connect().await.map_err(|e| Failure::Lost(store_error(e)))?;
            let prepared = tokio::try_join!(client.prepare(HEAD), client.prepare(INSERT), client.prepare(AT));
            let (head, insert, at) = prepared.map_err(|e| self.fail("prepare", &e))?;
            self.conn = Some(Conn { client, head, insert, at });
        }
        Ok(self.conn.as_ref().expect("connected above"))
    }

    /// One attempt: lock, read the head, frame onto it, insert, commit. `committing` is set once
    /// the commit may have been sent.
    async fn attempt(
        &mut self,
        batch: &[Pending],
        buf: &mut Vec<u8>,
        receipts: &mut Vec<Receipt>,
        committing: &mut bool,
    ) -> Result<(), Failure> {
        let c = self.conn().await?;
        // Pipelined: the head is read by a statement that runs once the lock is held, so it
        // sees every batch committed before (READ COMMITTED takes a snapshot per statement).
        // tokio-postgres sends pipelined requests in the order their futures are first polled:
        // `biased` polls in the order written. (The head is a prepared statement, so it needs no
        // parse round trip that could let it fall behind.)
        let begun = tokio::try_join!(biased; c.client.batch_execute(BEGIN_LOCKED), c.client.query_opt(&c.head, &[]));
        let head = match begun {
            Ok((_, head)) => head,
            Err(e) => return Err(self.fail("begin a batch", &e)),
        };
        let (next, prev) = match head {
            None => (1, [0; 32]),
            Some(row) => head_of(row.get(0), row.get(1)).map_err(|error| Failure::Refused { error, retry: false })?,
        };
        frame(batch, next, prev, buf, receipts);

        let refuse = |detail: &str| Failure::Refused { error: AuditError::Database(detail.to_owned()), retry: false };
        let text = std::str::from_utf8(buf).map_err(|_| refuse("an event is not UTF-8"))?;
        let records: Vec<&str> = text.split_terminator('\n').collect();
        if records.len() != batch.len() {
            return Err(refuse("an event contains a raw newline"));
        }
        let sequences = receipts
            .iter()
            .map(|r| i64::try_from(r.sequence))
            .collect::<Result<Vec<i64>, _>>()
            .map_err(|_| refuse("sequence overflow"))?;
        // Computed by the callers (`Journal::append`); here only for an event that lacks it.
        let missing: Vec<Option<Index>> = batch.iter().map(|p| p.index.is_none().then(|| Index::of(&p.body))).collect();
        let indexes: Vec<&Index> =
            batch.iter().zip(&missing).filter_map(|(p, m)| p.index.as_deref().or(m.as_ref())).collect();
        let times: Vec<Option<i64>> = indexes.iter().map(|i| i.time_ms).collect();
        let names: Vec<Option<&str>> = indexes.iter().map(|i| i.name.as_deref()).collect();
        let principals: Vec<Option<&str>> = indexes.iter().map(|i| i.principal.as_deref()).collect();

        *committing = true;
        let c = self.conn.as_ref().expect("connected above");
        let params: [&(dyn ToSql + Sync); 5] = [&sequences, &records, &times, &names, &principals];
        // Pipelined as above: the insert, then the commit. If the insert fails, the commit of the
        // aborted transaction only rolls it back.
        let written = tokio::try_join!(biased; c.client.execute(&c.insert, &params), c.client.batch_execute("COMMIT"));
        match written {
            Ok(_) => Ok(()),
            Err(e) => Err(self.fail("append a batch", &e)),
        }
    }

    /// Whether the record with `receipt`'s sequence is in the table with its hash: a batch whose
    /// commit was interrupted did commit. On a fresh connection if needed.
    async fn committed(&mut self, receipt: Receipt) -> Result<bool, Failure> {
        let sequence = i64::try_from(receipt.sequence).unwrap_or(i64::MAX);
        let c = self.conn().await?;
        match c.client.query_opt(&c.at, &[&sequence]).await {
            Ok(row) => Ok(row.is_some_and(|r| sha256(r.get::<_, &str>(0).as_bytes()) == receipt.hash)),
            Err(e) => Err(self.fail("check a batch", &e)),
        }
    }

    async fn rollback(&mut self) {
        if let Some(c) = &self.conn
            && c.client.batch_execute("ROLLBACK").await.is_err()
        {
            self.conn = None;
        }
    }
}

/// The PostgreSQL table, written from the writer thread through a runtime of its own (so the
/// server's runtime workers never wait for the database on the journal's behalf).
pub(crate) struct PgSink {
    rt: tokio::runtime::Runtime,
    db: Db,
}

impl Sink for PgSink {
    /// One transaction per batch (see the crate documentation); retried from the start while
    /// nothing can have been committed. Answered only after the commit.
    fn write(
        &mut self,
        batch: &[Pending],
        buf: &mut Vec<u8>,
        receipts: &mut Vec<Receipt>,
    ) -> Result<Duration, AuditError> {
        let start = Instant::now();
        let deadline = tokio::time::Instant::from_std(start + BATCH_TIMEOUT);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut committing = false;
            // (Timers are made inside the runtime.)
            let db = &mut self.db;
            let outcome = self.rt.block_on(async {
                tokio::time::timeout_at(deadline, db.attempt(batch, buf, receipts, &mut committing)).await
            });
            let failure = match outcome {
                Ok(Ok(())) => return Ok(start.elapsed()),
                Ok(Err(failure)) => failure,
                Err(_) => Failure::Lost(AuditError::Database(format!(
                    "PostgreSQL at {}: a batch took longer than {} s",
                    self.db.connector.target(),
                    BATCH_TIMEOUT.as_secs()
                ))),
            };
            if let Failure::Lost(_) = failure {
                // An unanswered request leaves the connection unusable.
                self.db.conn = None;
            }
            if committing && let Some(&last) = receipts.last() {
                // The commit may have happened: find out rather than fail a durable batch (and
                // never retry it, which could append its events twice).
                let db = &mut self.db;
                let check = self.rt.block_on(async { tokio::time::timeout(CHECK_TIMEOUT, db.committed(last)).await });
                if let Ok(Ok(true)) = check {
                    tracing::info!("audit journal batch committed although its connection failed");
                    return Ok(start.elapsed());
                }
                if !matches!(check, Ok(Ok(false))) {
                    self.db.conn = None;
                }
            }
            let (error, retry) = match failure {
                Failure::Refused { error, retry } => {
                    let db = &mut self.db;
                    let rolled_back =
                        self.rt.block_on(async { tokio::time::timeout(CHECK_TIMEOUT, db.rollback()).await });
                    if rolled_back.is_err() {
                        self.db.conn = None;
                    }
                    (error, retry)
                }
                // Before the commit was sent, nothing was written: another connection may do.
                Failure::Lost(error) => (error, !committing),
            };
            if !retry || attempt >= ATTEMPTS || tokio::time::Instant::now() >= deadline {
                return Err(error);
            }
            tracing::warn!(error = %error, attempt, "audit journal batch failed before its commit; retrying");
        }
    }

    /// Nothing to undo: a failed transaction was rolled back, and the head is read afresh by
    /// every batch.
    fn undo(&mut self) {}
}

/// Connects, checks the database, creates the table if needed, checks the newest records and
/// returns the head.
async fn open_db(connector: PgConnector) -> Result<(Db, Option<Receipt>), AuditError> {
    let client = connector.connect().await.map_err(store_error)?;
    let target = connector.target().to_owned();
    let fail = |what: &str, e: tokio_postgres::Error| {
        AuditError::Database(connector.message(&format!("PostgreSQL at {target}: {what}"), &e))
    };
    let encoding: String = client
        .query_one("SELECT current_setting('server_encoding')", &[])
        .await
        .map_err(|e| fail("read the server encoding", e))?
        .get(0);
    if encoding != "UTF8" && encoding != "SQL_ASCII" {
        return Err(AuditError::Database(format!(
            "PostgreSQL at {target}: the database encoding is {encoding}; the audit journal needs UTF8 (records must be stored byte for byte)"
        )));
    }
    let exists: bool = client.query_one(EXISTS, &[]).await.map_err(|e| fail("look for the audit table", e))?.get(0);
    if !exists {
        // Creating needs the CREATE privilege; a role with only INSERT and SELECT on an existing
        // table never gets here.
        client
            .batch_execute(&format!("BEGIN; {LOCK}; {SCHEMA} COMMIT;"))
            .await
            .map_err(|e| fail("create the audit table", e))?;
        tracing::info!(database = %target, table = TABLE, "created the audit journal table");
    }
    // The newest records must chain: appending after a damaged one would bury it.
    let rows = client.query(TAIL, &[]).await.map_err(|e| fail("read the newest audit records", e))?;
    let mut head = None;
    if let Some(oldest) = rows.last() {
        let first: i64 = oldest.get(0);
        let mut linker = Linker::new(u64::try_from(first).unwrap_or(0), None);
        for row in rows.iter().rev() {
            let (sequence, record): (i64, &str) = (row.get(0), row.get(1));
            let problem = match linker.next(record.as_bytes(), &mut |_, _| None) {
                Err((_, problem)) => Some(problem),
                Ok(s) if i64::try_from(s).ok() != Some(sequence) => {
                    Some(Problem::ColumnMismatch { column: "sequence" })
                }
                Ok(_) => None,
            };
            if let Some(p) = problem {
                return Err(corrupt(
                    sequence,
                    format!("{p}; refusing to append after it (run verify; move the damaged rows aside to continue)"),
                ));
            }
        }
        let newest = &rows[0];
        let (next, hash) = head_of(newest.get(0), newest.get(1))?;
        head = Some(Receipt { sequence: next - 1, hash });
    }
    let (head_stmt, insert, at) = tokio::try_join!(client.prepare(HEAD), client.prepare(INSERT), client.prepare(AT))
        .map_err(|e| fail("prepare", e))?;
    Ok((Db { connector, conn: Some(Conn { client, head: head_stmt, insert, at }) }, head))
}

impl Journal {
    /// Opens the audit journal in the PostgreSQL database at `url` (any connection string
    /// `coffer_store::PostgresStore::connect` accepts, with the same TLS rules), shared with
    /// every other node that opens it: creates its table if missing, checks the newest records
    /// and starts the writer thread, which keeps one dedicated connection (reopened when it
    /// fails) and a small runtime of its own. Returns once the database has been reached; any
    /// executor may await it. [`JournalConfig::max_file_bytes`] does not apply.
    pub async fn open_postgres(url: &str, config: JournalConfig) -> Result<Journal, AuditError> {
        let connector = PgConnector::new(url, "coffer-audit", WRITER_OPTIONS).map_err(store_error)?;
        let target = connector.target().to_owned();
        let shared = Arc::new(Shared::default());
        let (ready_tx, ready_rx) = oneshot::channel::<Result<(), AuditError>>();
        let (tx, rx) = mpsc::channel::<Pending>();
        let thread_shared = shared.clone();
        let thread = spawn_writer(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(AuditError::io("start the writer's runtime", TABLE, e)));
                    return;
                }
            };
            let (db, head) = match rt.block_on(open_db(connector)) {
                Ok(opened) => opened,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            *thread_shared.head.lock().unwrap_or_else(|p| p.into_inner()) = head;
            if ready_tx.send(Ok(())).is_err() {
                return; // the opener gave up
            }
            Writer::new(config, thread_shared, PgSink { rt, db }).run(rx);
        })
        .map_err(|e| AuditError::io("start writer thread", TABLE, e))?;
        match ready_rx.await {
            Ok(Ok(())) => {
                tracing::info!(database = %target, table = TABLE, "audit journal open");
                Ok(Journal::assemble(tx, shared, thread, Location::Postgres(target)))
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(AuditError::Closed),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Runs `work` on a thread of its own with a small runtime, so that these blocking functions
/// work both outside and inside an async runtime (where they block the calling thread, as the
/// file functions do).
fn blocking<T: Send>(work: impl Future<Output = Result<T, AuditError>> + Send) -> Result<T, AuditError> {
    std::thread::scope(|s| {
        let thread = std::thread::Builder::new().name("coffer-audit-reader".into()).spawn_scoped(s, || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| AuditError::io("start a runtime", TABLE, e))?;
            rt.block_on(work)
        });
        match thread {
            Ok(t) => t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            Err(e) => Err(AuditError::io("start a reader thread", TABLE, e)),
        }
    })
}

/// A read-only connection to a database that has the journal's table.
async fn reader(url: &str) -> Result<(PgConnector, Client), AuditError> {
    let connector = PgConnector::new(url, "coffer-audit-reader", READER_OPTIONS).map_err(store_error)?;
    let client = connector.connect().await.map_err(store_error)?;
    let target = connector.target();
    let exists: bool = client
        .query_one(EXISTS, &[])
        .await
        .map_err(|e| {
            AuditError::Database(connector.message(&format!("PostgreSQL at {target}: look for the audit table"), &e))
        })?
        .get(0);
    if !exists {
        return Err(AuditError::Database(format!(
            "PostgreSQL at {target}: no audit journal (table {TABLE} does not exist)"
        )));
    }
    Ok((connector, client))
}

fn query_error(connector: &PgConnector, e: &tokio_postgres::Error) -> AuditError {
    AuditError::Database(connector.message(&format!("PostgreSQL at {}: read {TABLE}", connector.target()), e))
}

/// [`crate::verify`] for the PostgreSQL journal at `url`: walks every record in sequence order.
/// Besides what `verify` detects (edited, deleted, inserted or reordered records, a missing
/// head), it checks that each row's `sequence` key and filter columns match its record
/// ([`Problem::ColumnMismatch`]). The report's `files` is 1 (the table), a [`Broken`] names
/// the table as its `file` and the row's sequence as its `line`; there is never a partial tail.
/// `Err` when the database cannot be read or has no journal table.
pub fn verify_postgres(url: &str) -> Result<VerifyReport, AuditError> {
    verify_postgres_anchored(url, &[])
}

/// [`verify_postgres`] with anchors, as [`crate::verify_anchored`].
pub fn verify_postgres_anchored(url: &str, anchors: &[Anchor]) -> Result<VerifyReport, AuditError> {
    blocking(async {
        let (connector, client) = reader(url).await?;
        let page = client.prepare(VERIFY_PAGE).await.map_err(|e| query_error(&connector, &e))?;
        let table = PathBuf::from(TABLE);
        let mut anchors = Anchors::new(anchors);
        let mut report = VerifyReport::empty(1);
        let mut linker: Option<Linker> = None;
        let mut after = i64::MIN;
        'pages: loop {
            let rows = client.query(&page, &[&after]).await.map_err(|e| query_error(&connector, &e))?;
            for row in &rows {
                let (key, record): (i64, &str) = (row.get(0), row.get(1));
                after = key;
                let line = u64::try_from(key).unwrap_or(0);
                let at = |sequence, problem| Some(Broken { file: table.clone(), line, sequence, problem });
                if linker.is_none() {
                    if key == 1 {
                        linker = Some(Linker::new(1, Some(crate::GENESIS_HASH)));
                    } else if key < 1 {
                        report.broken = at(None, Problem::ColumnMismatch { column: "sequence" });
                        break 'pages;
                    } else if let Some((sequence, hash)) = anchors.start(line) {
                        // The head was archived; an anchor on the record before it vouches.
                        report.last_sequence = sequence;
                        report.last_hash.clone_from(&hash);
                        linker = Some(Linker::new(line, Some(&hash)));
                    } else {
                        report.broken = at(Some(line), Problem::MissingHead { first: line });
                        break 'pages;
                    }
                }
                let linker = linker.as_mut().expect("started above");
                let outcome = match linker.next(record.as_bytes(), &mut |s, h| anchors.check(s, h)) {
                    Err(e) => Err(e),
                    Ok(s) if s != line => Err((Some(s), Problem::ColumnMismatch { column: "sequence" })),
                    Ok(s) => {
                        let columns = Index {
                            time_ms: row.get(2),
                            name: row.get::<_, Option<String>>(3),
                            principal: row.get::<_, Option<String>>(4),
                        };
                        let derived = Index::of(record.as_bytes());
                        let column = if columns.time_ms != derived.time_ms {
                            Some("event_time_ms")
                        } else if columns.name != derived.name {
                            Some("event_name")
                        } else if columns.principal != derived.principal {
                            Some("principal_arn")
                        } else {
                            None
                        };
                        match column {
                            Some(column) => Err((Some(s), Problem::ColumnMismatch { column })),
                            None => Ok(s),
                        }
                    }
                };
                match outcome {
                    Ok(s) => {
                        report.events += 1;
                        report.last_sequence = s;
                        report.last_hash.clone_from(&linker.last_hash);
                    }
                    Err((sequence, problem)) => {
                        report.broken = at(sequence, problem);
                        break 'pages;
                    }
                }
            }
            if rows.len() < 2000 {
                break;
            }
        }
        report.anchors_matched = anchors.matched;
        if report.broken.is_none() {
            let expected = linker.map_or(1, |l| l.expected);
            if let Some(anchored) = anchors.missing(expected) {
                report.broken =
                    Some(Broken { file: table, line: 0, sequence: None, problem: Problem::AnchorMissing { anchored } });
            }
        }
        Ok(report)
    })
}

/// [`crate::read`] for the PostgreSQL journal at `url`: the matching events, oldest first;
/// `from_end: Some(n)` only the last `n` matches (reading newest first, in pages, and stopping
/// as soon as it has them). The principal, event name and time conditions use the table's
/// indexed columns, the source and resource a substring search in the database; every
/// candidate is then checked with [`Filter::matches`], so the result is exactly what the file
/// journal gives for the same records. A record that is not JSON is an
/// [`AuditError::Corrupt`] naming its sequence. `Err` too when the database cannot be read or
/// has no journal table.
pub fn read_postgres(url: &str, filter: &Filter, from_end: Option<usize>) -> Result<Vec<Value>, AuditError> {
    if from_end == Some(0) {
        return Ok(Vec::new());
    }
    blocking(async {
        let (connector, client) = reader(url).await?;
        let descending = from_end.is_some();
        // $1 is the paging cursor; the filter's values follow.
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let mut conditions = vec![if descending { "sequence < $1" } else { "sequence > $1" }.to_owned()];
        let mut add = |condition: &str, value: Box<dyn ToSql + Sync + Send>| {
            params.push(value);
            conditions.push(condition.replace('?', &format!("${}", params.len() + 1)));
        };
        if let Some(arn) = filter.principal_arn.as_ref().filter(|s| !s.contains('\0')) {
            add("principal_arn = ?", Box::new(arn.clone()));
        }
        if let Some(name) = filter.event_name.as_ref().filter(|s| !s.contains('\0')) {
            add("event_name = ?", Box::new(name.clone()));
        }
        if let Some(t) = filter.start_time {
            add("event_time_ms >= ?", Box::new(t.millis()));
        }
        if let Some(t) = filter.end_time {
            add("event_time_ms <= ?", Box::new(t.millis()));
        }
        // As the file reader's prefilter: the journal writes these strings literally.
        for needle in [&filter.event_source, &filter.resource].into_iter().flatten().filter(|s| !needs_escape(s)) {
            add("strpos(record, ?) > 0", Box::new(needle.clone()));
        }
        let sql = format!(
            "SELECT sequence, record FROM {TABLE} WHERE {} ORDER BY sequence {} LIMIT {READ_PAGE}",
            conditions.join(" AND "),
            if descending { "DESC" } else { "ASC" }
        );
        let page = client.prepare(&sql).await.map_err(|e| query_error(&connector, &e))?;
        let mut cursor = if descending { i64::MAX } else { i64::MIN };
        let mut out = Vec::new();
        'pages: loop {
            let mut args: Vec<&(dyn ToSql + Sync)> = vec![&cursor];
            args.extend(params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)));
            let rows = client.query(&page, &args).await.map_err(|e| query_error(&connector, &e))?;
            drop(args);
            for row in &rows {
                let (sequence, record): (i64, &str) = (row.get(0), row.get(1));
                cursor = sequence;
                let event: Value =
                    serde_json::from_str(record).map_err(|_| corrupt(sequence, "record is not valid JSON".into()))?;
                if filter.matches(&event) {
                    out.push(event);
                    if from_end.is_some_and(|n| out.len() >= n) {
                        break 'pages;
                    }
                }
            }
            if (rows.len() as i64) < READ_PAGE {
                break;
            }
        }
        if descending {
            out.reverse();
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_mirrors_the_filter() {
        let i =
            Index::of(br#"{"eventTime":"2027-01-15T08:00:00Z","eventName":"Encrypt","userIdentity":{"arn":"arn:x"}}"#);
        assert_eq!(i.time_ms, Some(1_800_000_000_000));
        assert_eq!(i.name.as_deref(), Some("Encrypt"));
        assert_eq!(i.principal.as_deref(), Some("arn:x"));
        // not strings, not storable, not times, not JSON: NULL
        let i = Index::of(br#"{"eventTime":"yesterday","eventName":7,"userIdentity":{"arn":"a\u0000b"}}"#);
        assert_eq!(i, Index::default());
        assert_eq!(Index::of(b"not json"), Index::default());
        assert_eq!(Index::of(br#"{"eventTime":"99999999999-01-01T00:00:00Z"}"#), Index::default());
    }

    #[test]
    fn head_must_carry_its_key() {
        let record = format!(r#"{{"sequence":7,"previousHash":"{}","eventName":"X"}}"#, crate::GENESIS_HASH);
        assert_eq!(head_of(7, &record).unwrap(), (8, sha256(record.as_bytes())));
        assert!(matches!(head_of(8, &record), Err(AuditError::Corrupt { offset: 8, .. })));
        assert!(head_of(7, "garbage").is_err());
    }
}
