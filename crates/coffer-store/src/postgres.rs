//! The PostgreSQL store, for several stateless Coffer processes sharing one database.
//!
//! Items live in one table whose key columns use the `"C"` collation, so that `list` and `scan`
//! order (and `after`) is byte order, exactly as SQLite's BINARY collation and S3's key order.
//!
//! **Write batches** run in one READ COMMITTED transaction that first takes a transaction-level
//! advisory lock for every key of the batch (`pg_advisory_xact_lock` on a 64-bit hash of
//! `(table, pk, sk)`, in ascending order, in one statement), then reads the current versions,
//! evaluates the batch in order exactly as SQLite does (later elements see earlier ones), and
//! applies the net result. Every writer of `items` goes through here, so the locks make batches
//! on overlapping keys run one after the other — including keys that do not exist yet, which a
//! row lock (`SELECT ... FOR UPDATE`) could not cover: two `Absent` creates of one key are
//! serialised and the second sees the first's row (a `Conflict`, never a unique violation), and
//! a `Check(Absent)` cannot be invalidated by a concurrent batch before it commits (no write
//! skew). Locks are taken in one global order, so batches cannot deadlock on them; a deadlock,
//! serialization failure, unique violation or lost connection before the commit is retried
//! transparently a few times all the same. Hash collisions only serialise unrelated batches.
//!
//! **Change notifications**: in the same transaction, every put or delete in a table for which
//! [`tables::notifies`] is true sends `pg_notify('coffer_changes', payload)`, delivered to all
//! listeners at commit, in commit order. The payload is the JSON array
//! `[table, pk, sk, version]` (version 0 for a delete), e.g. `["kms.keys","1234…","",3]`. One
//! that would exceed NOTIFY's 8000-byte limit is replaced by `["","","",-1]`, which listeners
//! turn into a [`Change::resync`] so nothing is silently lost. A dedicated connection (not from
//! the pool) LISTENs, forwards notifications to a broadcast channel ([`Store::changes`]) and
//! runs `SELECT 1` every 250 ms as a heartbeat ([`Store::listener_healthy_within`]); when it
//! fails, it reconnects with backoff and then sends a resync marker.
//!
//! **Connection URL**: anything `tokio-postgres` accepts (`postgres://user:pass@host:port/db?…`
//! or `host=… user=…`), plus, in the URL form, `sslrootcert=<PEM file>` and the `sslmode`
//! values `verify-ca` / `verify-full`. `sslmode=disable` connects in the clear; `prefer` (the
//! default) uses TLS when the server offers it; `require`, `verify-ca` and `verify-full` insist
//! on it. Whenever TLS is used the server certificate is verified (chain and host name) against
//! `sslrootcert` or, without it, the system's root certificates: unlike libpq, Coffer never
//! accepts an unverified certificate. Client certificates are not supported.
//!
//! Text in PostgreSQL cannot contain U+0000: keys containing it cannot be stored (a write fails
//! with a `Backend` error; reads find nothing). B-tree index entries are limited to about 2700
//! bytes, which bounds `table + pk + sk` (S3 keys are at most 1024 bytes).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::sync::{broadcast, oneshot};
use tokio_postgres::error::SqlState;
use tokio_postgres::{AsyncMessage, Client, Config, Row};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::{Change, Item, Store, StoreError, Table, Write, expect_holds, prefix_end, tables};

/// Schema migrations, applied in order by [`PostgresStore::migrate`]. Never edit a released
/// entry: append.
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "items",
    r#"CREATE TABLE items (
        tbl     text   COLLATE "C" NOT NULL,
        pk      text   COLLATE "C" NOT NULL,
        sk      text   COLLATE "C" NOT NULL,
        version bigint NOT NULL CHECK (version > 0),
        value   bytea  NOT NULL,
        PRIMARY KEY (tbl, pk, sk)
    );
    -- values are sealed (incompressible): store large ones out of line without trying to compress
    ALTER TABLE items ALTER COLUMN value SET STORAGE EXTERNAL;"#,
)];

/// The advisory lock serialising migrations of one database across processes ("CofferMg").
const MIGRATION_LOCK: i64 = 0x436f_6666_6572_4d67;
/// The NOTIFY channel.
const CHANNEL: &str = "coffer_changes";
/// NOTIFY refuses payloads of this many bytes or more.
const NOTIFY_MAX: usize = 8000;
/// The payload standing for "changes may have been lost".
const RESYNC_PAYLOAD: &str = r#"["","","",-1]"#;
const POOL_SIZE: usize = 16;
const CHANGES_CAPACITY: usize = 4096;
const HEARTBEAT_EVERY: Duration = Duration::from_millis(250);
/// A heartbeat unanswered this long ends the listener connection (and starts a new one).
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(3);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Attempts of one write batch (deadlocks, serialization failures, lost connections).
const WRITE_ATTEMPTS: u32 = 8;
/// Attempts of one read (lost connections, for example after a database restart).
const READ_ATTEMPTS: u32 = 3;

/// A [`Store`] on PostgreSQL, shared by every Coffer process of one installation.
pub struct PostgresStore {
    pool: Pool,
    /// Where the store connects, without the password, for messages.
    target: String,
    shared: Arc<Shared>,
    listener: tokio::task::JoinHandle<()>,
}

/// State shared with the listener task.
struct Shared {
    changes: broadcast::Sender<Change>,
    /// When the last answered heartbeat was *sent*.
    heartbeat: Mutex<Option<Instant>>,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.listener.abort();
        self.pool.close();
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("target", &self.target).finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects (a pool of 16 connections plus the notification listener) without changing the
    /// schema; call [`PostgresStore::migrate`] before use. Must run inside a tokio runtime.
    /// Errors never include the password.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let secrets = secrets_of(url);
        let redact = |m: String| StoreError::Backend(redact(m, &secrets));
        let parsed = parse_url(url).map_err(redact)?;
        let mut cfg: Config =
            parsed.url.parse().map_err(|e| redact(format!("invalid PostgreSQL connection string: {e}")))?;
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(CONNECT_TIMEOUT);
        }
        if cfg.get_application_name().is_none() {
            cfg.application_name("coffer");
        }
        if cfg.get_options().is_none() {
            // A process that stops mid-transaction (frozen, partitioned) must not hold its key
            // locks forever; Coffer's own transactions are never idle for long.
            cfg.options("-c idle_in_transaction_session_timeout=60000");
        }
        let target = describe_target(&cfg);
        let tls = tls_connector(&cfg, parsed.root_cert.as_deref()).map_err(|m| redact(format!("{target}: {m}")))?;

        let manager =
            Manager::from_config(cfg.clone(), tls.clone(), ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(CONNECT_TIMEOUT + Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| redact(format!("{target}: cannot create the connection pool: {e}")))?;
        // Fail now, with a clear message, if the database cannot be reached.
        drop(pool.get().await.map_err(|e| redact(format!("cannot connect to PostgreSQL at {target}: {}", pool_error(&e))))?);

        let shared = Arc::new(Shared { changes: broadcast::channel(CHANGES_CAPACITY).0, heartbeat: Mutex::new(None) });
        let mut listen_cfg = cfg.clone();
        listen_cfg.application_name("coffer-listener");
        let (ready_tx, ready_rx) = oneshot::channel();
        let listener = tokio::spawn(listener_task(
            listen_cfg,
            tls,
            shared.clone(),
            target.clone(),
            secrets.clone(),
            Some(ready_tx),
        ));
        let started = tokio::time::timeout(CONNECT_TIMEOUT + HEARTBEAT_TIMEOUT + Duration::from_secs(2), ready_rx).await;
        let failure = match started {
            Ok(Ok(Ok(()))) => None,
            Ok(Ok(Err(m))) => Some(m),
            Ok(Err(_)) => Some("the listener stopped".to_owned()),
            Err(_) => Some("timed out".to_owned()),
        };
        if let Some(m) = failure {
            listener.abort();
            return Err(redact(format!("cannot LISTEN for changes on PostgreSQL at {target}: {m}")));
        }
        tracing::info!(database = %target, "connected to PostgreSQL");
        Ok(PostgresStore { pool, target, shared, listener })
    }

    /// Where this store connects: `user@host:port/database`, without the password.
    pub fn target(&self) -> &str {
        &self.target
    }

    fn backend(&self, what: &str, e: &tokio_postgres::Error) -> StoreError {
        StoreError::Backend(format!("PostgreSQL at {}: {what}: {}", self.target, pg_error(e)))
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Backend(format!("PostgreSQL at {}: no connection: {}", self.target, pool_error(&e))))
    }

    /// Whether the database holds no items (a migration target must be empty).
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let r = client.query_one("SELECT NOT EXISTS (SELECT 1 FROM items)", &[]).await.map_err(|e| self.backend("checking emptiness", &e))?;
        Ok(r.get(0))
    }

    /// Copies items as they are — values (sealed secrets included) and versions unchanged — in
    /// one transaction: `coffer migrate`. Refuses an item that already exists.
    pub async fn import(&self, items: &[(Table, Item)]) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.backend("starting the import", &e))?;
        let st = tx
            .prepare("INSERT INTO items (tbl, pk, sk, version, value) VALUES ($1, $2, $3, $4, $5)")
            .await
            .map_err(|e| self.backend("preparing the import", &e))?;
        for (table, item) in items {
            tx.execute(&st, &[&table.name(), &item.pk, &item.sk, &item.version, &item.value])
                .await
                .map_err(|e| self.backend(&format!("importing {} {}/{}", table.name(), item.pk, item.sk), &e))?;
        }
        tx.commit().await.map_err(|e| self.backend("committing the import", &e))
    }

    /// The schema version the database is at (0 for a new, empty database).
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        match client.query_one("SELECT COALESCE(MAX(version), 0)::bigint FROM coffer_schema", &[]).await {
            Ok(r) => Ok(r.get(0)),
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(0),
            Err(e) => Err(self.backend("reading the schema version", &e)),
        }
    }

    /// Applies pending schema migrations (refusing a database newer than this binary). Safe when
    /// several processes start at once: the migration runs under an advisory lock, so one
    /// applies it and the others then find nothing to do.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let encoding: String = client
            .query_one("SHOW server_encoding", &[])
            .await
            .map_err(|e| self.backend("reading the server encoding", &e))?
            .get(0);
        if encoding != "UTF8" {
            return Err(StoreError::Backend(format!(
                "PostgreSQL at {}: the database encoding is {encoding}; Coffer needs a UTF8 database \
                 (CREATE DATABASE ... ENCODING 'UTF8')",
                self.target
            )));
        }
        let tx = client.transaction().await.map_err(|e| self.backend("starting the migration", &e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| self.backend("taking the migration lock", &e))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS coffer_schema (
                version    bigint      PRIMARY KEY,
                name       text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(|e| self.backend("creating coffer_schema", &e))?;
        let current: i64 = tx
            .query_one("SELECT COALESCE(MAX(version), 0)::bigint FROM coffer_schema", &[])
            .await
            .map_err(|e| self.backend("reading the schema version", &e))?
            .get(0);
        let newest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
        if current > newest {
            return Err(StoreError::Backend(format!(
                "the database schema is at version {current}, newer than this Coffer understands ({newest}); \
                 run a newer Coffer"
            )));
        }
        for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
            tx.batch_execute(sql).await.map_err(|e| self.backend(&format!("migration {version} ({name})"), &e))?;
            tx.execute("INSERT INTO coffer_schema (version, name) VALUES ($1, $2)", &[version, name])
                .await
                .map_err(|e| self.backend("recording the migration", &e))?;
            tracing::info!(version, name, "applied schema migration");
        }
        tx.commit().await.map_err(|e| self.backend("committing the migration", &e))
    }

    /// Runs a read, retrying when the pooled connection turns out to be dead (for example after
    /// a database restart). `f` gets the connection and returns the query's future.
    async fn read<'a, T, F>(&self, what: &str, f: F) -> Result<T, StoreError>
    where
        F: Fn(deadpool_postgres::Object) -> Pin<Box<dyn Future<Output = Result<T, tokio_postgres::Error>> + Send + 'a>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let client = self.client().await?;
            match f(client).await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_closed() && attempt < READ_ATTEMPTS => {
                    tracing::debug!(error = %e, "PostgreSQL connection lost during a read; retrying");
                }
                Err(e) => return Err(self.backend(what, &e)),
            }
        }
    }

    async fn write_once(&self, batch: &[Write], keys: &Keys<'_>) -> Result<Vec<i64>, Attempt> {
        let mut client = self.client().await.map_err(Attempt::Fail)?;
        let tx = client.transaction().await.map_err(Attempt::Retry)?;
        // 1. Lock every key of the batch, in ascending order (one statement: unnest keeps order).
        let lock = tx.prepare_cached("SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k").await?;
        tx.execute(&lock, &[&keys.locks]).await?;
        // 2. Read the current versions (a new statement, so a snapshot taken after the locks).
        let read = tx
            .prepare_cached(
                r#"SELECT k.i, it.version FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS k(tbl, pk, sk, i)
                   JOIN items it ON it.tbl = k.tbl COLLATE "C" AND it.pk = k.pk COLLATE "C" AND it.sk = k.sk COLLATE "C""#,
            )
            .await?;
        let rows = tx.query(&read, &[&keys.tbl, &keys.pk, &keys.sk]).await?;
        let mut state: Vec<KeyState> = vec![KeyState::default(); keys.tbl.len()];
        for r in rows {
            let i: i64 = r.get(0);
            let v: i64 = r.get(1);
            if let Some(s) = usize::try_from(i - 1).ok().and_then(|i| state.get_mut(i)) {
                s.initial = Some(v);
                s.current = Some(v);
            }
        }
        // 3. Evaluate the batch in order, as SQLite does.
        let mut versions = Vec::with_capacity(batch.len());
        for (index, w) in batch.iter().enumerate() {
            let s = &mut state[keys.of[index]];
            let (_, _, _, expect) = w.target();
            if !expect_holds(expect, s.current) {
                // release the locks now (dropping the transaction would too, without waiting)
                let _ = tx.rollback().await;
                return Err(Attempt::Fail(StoreError::Conflict { index }));
            }
            match w {
                Write::Put { .. } => {
                    let v = s.current.unwrap_or(0) + 1;
                    s.current = Some(v);
                    s.value = Some(index);
                    s.changed = true;
                    versions.push(v);
                }
                Write::Delete { .. } => {
                    s.current = None;
                    s.value = None;
                    s.changed = true;
                    versions.push(0);
                }
                Write::Check { .. } => versions.push(0),
            }
        }
        // 4. Apply the net result per key, and announce it.
        let (mut put_i, mut put_v, mut put_val): (Vec<i64>, Vec<i64>, Vec<&[u8]>) = Default::default();
        let mut del_i: Vec<i64> = Vec::new();
        let mut notes: Vec<String> = Vec::new();
        for (k, s) in state.iter().enumerate() {
            if !s.changed {
                continue;
            }
            match (s.current, s.value.map(|i| &batch[i])) {
                (Some(v), Some(Write::Put { value, .. })) => {
                    put_i.push(k as i64 + 1);
                    put_v.push(v);
                    put_val.push(value);
                }
                _ if s.initial.is_some() => del_i.push(k as i64 + 1),
                _ => {} // created and deleted within the batch
            }
            let table = Table::new(keys.tbl[k]);
            if tables::notifies(table) {
                notes.push(payload(keys.tbl[k], keys.pk[k], keys.sk[k], s.current.unwrap_or(0)));
            }
        }
        if !put_i.is_empty() {
            let st = tx
                .prepare_cached(
                    "INSERT INTO items (tbl, pk, sk, version, value) \
                     SELECT ($1::text[])[i], ($2::text[])[i], ($3::text[])[i], v, val \
                     FROM unnest($4::bigint[], $5::bigint[], $6::bytea[]) AS u(i, v, val) \
                     ON CONFLICT (tbl, pk, sk) DO UPDATE SET version = EXCLUDED.version, value = EXCLUDED.value",
                )
                .await?;
            tx.execute(&st, &[&keys.tbl, &keys.pk, &keys.sk, &put_i, &put_v, &put_val]).await?;
        }
        if !del_i.is_empty() {
            let st = tx
                .prepare_cached(
                    r#"DELETE FROM items it USING unnest($4::bigint[]) AS d(i)
                       WHERE it.tbl = ($1::text[])[d.i] COLLATE "C" AND it.pk = ($2::text[])[d.i] COLLATE "C"
                         AND it.sk = ($3::text[])[d.i] COLLATE "C""#,
                )
                .await?;
            tx.execute(&st, &[&keys.tbl, &keys.pk, &keys.sk, &del_i]).await?;
        }
        if !notes.is_empty() {
            let st = tx.prepare_cached("SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p").await?;
            tx.execute(&st, &[&CHANNEL, &notes]).await?;
        }
        tx.commit().await.map_err(|e| {
            // The commit may or may not have happened: never retry it.
            Attempt::Fail(self.backend("committing a write", &e))
        })?;
        Ok(versions)
    }
}

/// The distinct keys of a batch, as SQL arrays, with their advisory-lock ids.
struct Keys<'a> {
    tbl: Vec<&'static str>,
    pk: Vec<&'a str>,
    sk: Vec<&'a str>,
    /// For each batch element, the index of its key.
    of: Vec<usize>,
    /// Sorted, distinct.
    locks: Vec<i64>,
}

impl<'a> Keys<'a> {
    fn of(batch: &'a [Write]) -> Keys<'a> {
        let mut index: std::collections::HashMap<(&'static str, &'a str, &'a str), usize> = Default::default();
        let mut keys = Keys { tbl: vec![], pk: vec![], sk: vec![], of: vec![], locks: vec![] };
        for w in batch {
            let (table, pk, sk, _) = w.target();
            let next = keys.tbl.len();
            let k = *index.entry((table.name(), pk, sk)).or_insert(next);
            if k == next {
                keys.tbl.push(table.name());
                keys.pk.push(pk);
                keys.sk.push(sk);
                keys.locks.push(lock_id(table.name(), pk, sk));
            }
            keys.of.push(k);
        }
        keys.locks.sort_unstable();
        keys.locks.dedup();
        keys
    }
}

#[derive(Clone, Default)]
struct KeyState {
    initial: Option<i64>,
    current: Option<i64>,
    /// The batch element whose value the key ends with.
    value: Option<usize>,
    changed: bool,
}

/// The outcome of a failed write attempt.
enum Attempt {
    /// Nothing was committed and trying again may succeed.
    Retry(tokio_postgres::Error),
    /// Final.
    Fail(StoreError),
}

impl From<tokio_postgres::Error> for Attempt {
    fn from(e: tokio_postgres::Error) -> Attempt {
        Attempt::Retry(e)
    }
}

/// Errors worth running a (not committed) transaction again for.
fn transient(e: &tokio_postgres::Error) -> bool {
    e.is_closed()
        || matches!(
            e.code(),
            Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::UNIQUE_VIOLATION
        )
}

/// The advisory-lock id of one item: FNV-1a (64 bit) of `table 0xFF pk 0xFF sk` (0xFF never
/// occurs in UTF-8). Stable across builds and platforms, as every node must agree on it.
fn lock_id(table: &str, pk: &str, sk: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    for (i, part) in [table, pk, sk].into_iter().enumerate() {
        if i > 0 {
            eat(0xFF);
        }
        part.bytes().for_each(&mut eat);
    }
    h as i64
}

/// The NOTIFY payload of one change: `[table, pk, sk, version]` as JSON, or the resync payload
/// when it would be too long for NOTIFY.
fn payload(table: &str, pk: &str, sk: &str, version: i64) -> String {
    match serde_json::to_string(&(table, pk, sk, version)) {
        Ok(p) if p.len() < NOTIFY_MAX => p,
        _ => {
            tracing::warn!(table, "change notification too large for NOTIFY; sending a resync instead");
            RESYNC_PAYLOAD.to_owned()
        }
    }
}

/// The change a NOTIFY payload describes; anything unreadable becomes a resync.
fn parse_payload(p: &str) -> Change {
    match serde_json::from_str::<(String, String, String, i64)>(p) {
        Ok((table, pk, sk, version)) if !table.is_empty() => Change { table, pk, sk, version },
        Ok(_) => Change::resync(),
        Err(e) => {
            tracing::warn!(error = %e, "unreadable change notification; treating it as a resync");
            Change::resync()
        }
    }
}

fn row_item(r: &Row) -> Item {
    Item { pk: r.get(0), sk: r.get(1), version: r.get(2), value: r.get(3) }
}

fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

fn before_nul(s: &str) -> &str {
    s.split('\0').next().unwrap_or("")
}

#[async_trait]
impl Store for PostgresStore {
    async fn get(&self, table: Table, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        if has_nul(pk) || has_nul(sk) {
            return Ok(None); // cannot have been stored
        }
        self.read("get", move |c| {
            Box::pin(async move {
                let st = c.prepare_cached("SELECT pk, sk, version, value FROM items WHERE tbl = $1 AND pk = $2 AND sk = $3").await?;
                Ok(c.query_opt(&st, &[&table.name(), &pk, &sk]).await?.as_ref().map(row_item))
            })
        })
        .await
    }

    async fn list(
        &self,
        table: Table,
        pk: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        if has_nul(pk) || has_nul(prefix) || limit == 0 {
            return Ok(Vec::new()); // nothing stored contains U+0000
        }
        // Stored keys contain no U+0000, so for them "after a" equals "after the part of a
        // before its first U+0000" (which PostgreSQL can take as a parameter).
        let after = after.map(before_nul);
        let upper = prefix_end(prefix);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // One statement per shape, so that every plan is a plain index range scan.
        const COLS: &str = "SELECT pk, sk, version, value FROM items WHERE tbl = $1 AND pk = $2 AND sk >= $3";
        self.read("list", move |c| {
            let upper = upper.clone();
            Box::pin(async move {
                let rows = match (after, upper.as_deref()) {
                    (None, None) => {
                        let st = c.prepare_cached(&format!("{COLS} ORDER BY sk LIMIT $4")).await?;
                        c.query(&st, &[&table.name(), &pk, &prefix, &limit]).await?
                    }
                    (None, Some(u)) => {
                        let st = c.prepare_cached(&format!("{COLS} AND sk < $4 ORDER BY sk LIMIT $5")).await?;
                        c.query(&st, &[&table.name(), &pk, &prefix, &u, &limit]).await?
                    }
                    (Some(a), None) => {
                        let st = c.prepare_cached(&format!("{COLS} AND sk > $4 ORDER BY sk LIMIT $5")).await?;
                        c.query(&st, &[&table.name(), &pk, &prefix, &a, &limit]).await?
                    }
                    (Some(a), Some(u)) => {
                        let st =
                            c.prepare_cached(&format!("{COLS} AND sk > $4 AND sk < $5 ORDER BY sk LIMIT $6")).await?;
                        c.query(&st, &[&table.name(), &pk, &prefix, &a, &u, &limit]).await?
                    }
                };
                Ok(rows.iter().map(row_item).collect())
            })
        })
        .await
    }

    async fn scan(&self, table: Table, after: Option<(&str, &str)>, limit: usize) -> Result<Vec<Item>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read("scan", move |c| {
            Box::pin(async move {
                const COLS: &str = "SELECT pk, sk, version, value FROM items WHERE tbl = $1";
                let rows = match after {
                    // as in `list`: stored keys contain no U+0000
                    Some((p, _)) if has_nul(p) => {
                        let st = c.prepare_cached(&format!("{COLS} AND pk > $2 ORDER BY pk, sk LIMIT $3")).await?;
                        c.query(&st, &[&table.name(), &before_nul(p), &limit]).await?
                    }
                    Some((p, s)) => {
                        let st =
                            c.prepare_cached(&format!("{COLS} AND (pk, sk) > ($2, $3) ORDER BY pk, sk LIMIT $4")).await?;
                        c.query(&st, &[&table.name(), &p, &before_nul(s), &limit]).await?
                    }
                    None => {
                        let st = c.prepare_cached(&format!("{COLS} ORDER BY pk, sk LIMIT $2")).await?;
                        c.query(&st, &[&table.name(), &limit]).await?
                    }
                };
                Ok(rows.iter().map(row_item).collect())
            })
        })
        .await
    }

    async fn write(&self, batch: Vec<Write>) -> Result<Vec<i64>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(w) = batch.iter().find(|w| {
            let (_, pk, sk, _) = w.target();
            has_nul(pk) || has_nul(sk)
        }) {
            let (table, _, _, _) = w.target();
            return Err(StoreError::Backend(format!(
                "a key of table {} contains U+0000, which PostgreSQL text cannot store",
                table.name()
            )));
        }
        let keys = Keys::of(&batch);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.write_once(&batch, &keys).await {
                Ok(v) => return Ok(v),
                Err(Attempt::Fail(e)) => return Err(e),
                Err(Attempt::Retry(e)) if transient(&e) && attempt < WRITE_ATTEMPTS => {
                    tracing::debug!(attempt, error = %pg_error(&e), "retrying a write batch");
                    tokio::time::sleep(Duration::from_millis(2u64 << attempt.min(6))).await;
                }
                Err(Attempt::Retry(e)) => return Err(self.backend("write", &e)),
            }
        }
    }

    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn changes(&self) -> Option<broadcast::Receiver<Change>> {
        Some(self.shared.changes.subscribe())
    }

    fn listener_healthy_within(&self, max_age: Duration) -> bool {
        let last = *self.shared.heartbeat.lock().unwrap_or_else(|p| p.into_inner());
        last.is_some_and(|t| t.elapsed() <= max_age)
    }
}

// ---------------------------------------------------------------------------------------------
// The notification listener

type Pending<'c> = Pin<Box<dyn Future<Output = Result<(), tokio_postgres::Error>> + Send + 'c>>;

/// Keeps one LISTEN connection alive for the life of the store: connects, listens, forwards
/// notifications, heartbeats; on failure reconnects with backoff and sends a resync marker.
/// `ready` reports the outcome of the first connection to [`PostgresStore::connect`].
async fn listener_task(
    cfg: Config,
    tls: MakeRustlsConnect,
    shared: Arc<Shared>,
    target: String,
    secrets: Vec<String>,
    mut ready: Option<oneshot::Sender<Result<(), String>>>,
) {
    let mut backoff = BACKOFF_MIN;
    let mut first = true;
    loop {
        let (established, reason) = match cfg.connect(tls.clone()).await {
            Ok((client, connection)) => listen(&client, connection, &shared, &mut ready, !first).await,
            Err(e) => (false, format!("cannot connect: {}", pg_error(&e))),
        };
        let reason = redact(reason, &secrets);
        if let Some(r) = ready.take() {
            let _ = r.send(Err(reason));
            return;
        }
        if established {
            first = false;
            backoff = BACKOFF_MIN;
        }
        tracing::warn!(database = %target, reason = %reason, retry_in_ms = backoff.as_millis() as u64,
            "PostgreSQL change listener lost; caches must not be trusted until it is back");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Runs one listener connection until it fails. Returns whether LISTEN was established, and why
/// it ended.
async fn listen<S, T>(
    client: &Client,
    mut connection: tokio_postgres::Connection<S, T>,
    shared: &Shared,
    ready: &mut Option<oneshot::Sender<Result<(), String>>>,
    resync: bool,
) -> (bool, String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut established = false;
    // The request in flight (LISTEN, then heartbeats) and when it was sent.
    let listen_sql = format!("LISTEN {CHANNEL}");
    let mut inflight: Option<(Instant, Pending<'_>)> = Some((Instant::now(), Box::pin(client.batch_execute(&listen_sql))));
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            // The connection first: a notification that precedes a heartbeat's answer on the
            // wire is forwarded before the heartbeat counts.
            biased;
            message = std::future::poll_fn(|cx| connection.poll_message(cx)) => match message {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    let _ = shared.changes.send(parse_payload(n.payload()));
                }
                Some(Ok(_)) => {} // notices
                Some(Err(e)) => return (established, format!("connection failed: {}", pg_error(&e))),
                None => return (established, "connection closed".to_owned()),
            },
            result = async {
                match inflight.as_mut() {
                    Some((_, f)) => f.await,
                    None => std::future::pending().await,
                }
            } => {
                let sent = inflight.take().map(|(t, _)| t).unwrap_or_else(Instant::now);
                if let Err(e) = result {
                    return (established, format!("{} failed: {}", if established { "heartbeat" } else { "LISTEN" }, pg_error(&e)));
                }
                if !established {
                    established = true;
                    if resync {
                        // before the heartbeat below: once this node looks healthy again, the
                        // marker covering the outage is already in the channel
                        tracing::info!("PostgreSQL change listener back; sending resync");
                        let _ = shared.changes.send(Change::resync());
                    }
                }
                *shared.heartbeat.lock().unwrap_or_else(|p| p.into_inner()) = Some(sent);
                if let Some(r) = ready.take() {
                    let _ = r.send(Ok(()));
                }
            },
            _ = tick.tick() => match &inflight {
                Some((sent, _)) if sent.elapsed() > HEARTBEAT_TIMEOUT => {
                    return (established, format!("no answer within {} s", HEARTBEAT_TIMEOUT.as_secs()));
                }
                Some(_) => {}
                None => {
                    inflight = Some((Instant::now(), Box::pin(async move { client.simple_query("SELECT 1").await.map(drop) })));
                }
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dedicated connections for other crates

/// How to open a dedicated connection to the store's database exactly as
/// [`PostgresStore::connect`] does: the same connection-string handling (`sslrootcert`,
/// `sslmode=verify-ca|verify-full`), the same TLS rules (the server certificate is always
/// verified), the same connect timeout, and messages without the password. For crates that keep
/// a connection of their own beside the store's pool (the audit journal).
#[derive(Clone)]
pub struct PgConnector {
    config: Config,
    tls: MakeRustlsConnect,
    target: String,
    secrets: Vec<String>,
}

impl std::fmt::Debug for PgConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConnector").field("target", &self.target).finish_non_exhaustive()
    }
}

impl PgConnector {
    /// Parses `url` (any form [`PostgresStore::connect`] accepts) without connecting. The
    /// sessions get `application_name` and the server `options` (e.g.
    /// `-c idle_in_transaction_session_timeout=10000`) unless the URL sets its own.
    pub fn new(url: &str, application_name: &str, options: &str) -> Result<PgConnector, StoreError> {
        let secrets = secrets_of(url);
        let redact_err = |m: String| StoreError::Backend(redact(m, &secrets));
        let parsed = parse_url(url).map_err(redact_err)?;
        let mut config: Config =
            parsed.url.parse().map_err(|e| redact_err(format!("invalid PostgreSQL connection string: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name(application_name);
        }
        if config.get_options().is_none() && !options.is_empty() {
            config.options(options);
        }
        let target = describe_target(&config);
        let tls = tls_connector(&config, parsed.root_cert.as_deref()).map_err(|m| redact_err(format!("{target}: {m}")))?;
        Ok(PgConnector { config, tls, target, secrets })
    }

    /// Where it connects: `user@host:port/database`, without the password.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Opens one connection. Must run inside a tokio runtime: the connection is driven by a
    /// task spawned on it, which ends when the client is dropped or the connection fails.
    pub async fn connect(&self) -> Result<Client, StoreError> {
        match self.config.connect(self.tls.clone()).await {
            Ok((client, connection)) => {
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                Ok(client)
            }
            Err(e) => Err(StoreError::Backend(self.message(&format!("cannot connect to PostgreSQL at {}", self.target), &e))),
        }
    }

    /// `"<what>: <e as one line>"`, without the password (certificate failures get a hint).
    pub fn message(&self, what: &str, e: &tokio_postgres::Error) -> String {
        redact(format!("{what}: {}", pg_error(e)), &self.secrets)
    }
}

// ---------------------------------------------------------------------------------------------
// Connection strings, TLS and messages

struct ParsedUrl {
    /// What tokio-postgres parses: the input less the options handled here.
    url: String,
    root_cert: Option<PathBuf>,
}

/// Takes `sslrootcert` out of a URL's query and maps `sslmode=verify-ca|verify-full` to
/// `require` (Coffer verifies certificates whenever it uses TLS). Other forms pass unchanged.
fn parse_url(url: &str) -> Result<ParsedUrl, String> {
    let is_url = url.starts_with("postgres://") || url.starts_with("postgresql://");
    let Some((base, query)) = url.split_once('?').filter(|_| is_url) else {
        return Ok(ParsedUrl { url: url.to_owned(), root_cert: None });
    };
    let mut root_cert = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match (percent_decode(k)?.as_str(), percent_decode(v)?.as_str()) {
            ("sslrootcert", v) => root_cert = Some(PathBuf::from(v)),
            ("sslmode", "verify-ca" | "verify-full") => kept.push("sslmode=require".to_owned()),
            _ => kept.push(pair.to_owned()),
        }
    }
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok(ParsedUrl { url, root_cert })
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok()).ok_or("invalid percent-encoding in the URL")?;
            out.push(byte);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "invalid UTF-8 in the URL".to_owned())
}

/// Passwords that may appear in `url` (raw and decoded), to keep them out of every message.
fn secrets_of(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |s: &str| {
        if !s.is_empty() {
            out.push(s.to_owned());
            if let Ok(d) = percent_decode(s) {
                out.push(d);
            }
        }
    };
    if let Some(rest) = url.strip_prefix("postgres://").or_else(|| url.strip_prefix("postgresql://")) {
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        if let Some((_, pw)) = authority.rsplit_once('@').and_then(|(userinfo, _)| userinfo.split_once(':')) {
            add(pw);
        }
        for pair in rest.split_once('?').map(|(_, q)| q).unwrap_or("").split('&') {
            if let Some(pw) = pair.strip_prefix("password=") {
                add(pw);
            }
        }
    } else {
        // key=value form: password=secret or password='se cret'
        if let Some(i) = url.find("password") {
            let rest = url[i + "password".len()..].trim_start().strip_prefix('=').unwrap_or("").trim_start();
            let pw = match rest.strip_prefix('\'') {
                Some(q) => q.split('\'').next().unwrap_or(""),
                None => rest.split_whitespace().next().unwrap_or(""),
            };
            add(pw);
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

fn redact(mut message: String, secrets: &[String]) -> String {
    for s in secrets {
        if message.contains(s.as_str()) {
            message = message.replace(s.as_str(), "********");
        }
    }
    message
}

fn describe_target(cfg: &Config) -> String {
    use tokio_postgres::config::Host;
    let hosts: Vec<String> = cfg
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = cfg.get_ports().get(i).or(cfg.get_ports().first()).copied().unwrap_or(5432);
            match h {
                Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    let hosts = if hosts.is_empty() { "localhost:5432".to_owned() } else { hosts.join(",") };
    let user = cfg.get_user().unwrap_or("(default user)");
    let db = cfg.get_dbname().unwrap_or(user);
    format!("{user}@{hosts}/{db}")
}

/// The TLS connector: used only when `sslmode` is not `disable`, and then always verifying the
/// server's certificate against `root_cert` or the system's roots.
fn tls_connector(cfg: &Config, root_cert: Option<&std::path::Path>) -> Result<MakeRustlsConnect, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    if cfg.get_ssl_mode() != tokio_postgres::config::SslMode::Disable {
        match root_cert {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| format!("cannot read sslrootcert {}: {e}", path.display()))?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(format!("sslrootcert {} holds no usable certificate", path.display()));
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// A tokio-postgres error as one line; certificate failures get a hint.
fn pg_error(e: &tokio_postgres::Error) -> String {
    let mut m = match e.as_db_error() {
        Some(db) => format!("{} ({}): {}", db.severity(), db.code().code(), db.message()),
        None => {
            // tokio-postgres's Display leaves out the cause (the I/O or TLS error): add the chain
            let mut m = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                let text = s.to_string();
                if !m.contains(&text) {
                    m = format!("{m}: {text}");
                }
                source = s.source();
            }
            m
        }
    };
    if m.contains("certificate") || m.contains("Certificate") {
        m.push_str(
            " (Coffer verifies the server certificate whenever TLS is used: name the CA with \
             sslrootcert=<file>, or use sslmode=disable on a trusted network)",
        );
    }
    m
}

fn pool_error(e: &deadpool_postgres::PoolError) -> String {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_error(e),
        e => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_secrets() {
        let p = parse_url("postgres://u:p%40ss@h:5/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&application_name=x")
            .unwrap();
        assert_eq!(p.url, "postgres://u:p%40ss@h:5/db?sslmode=require&application_name=x");
        assert_eq!(p.root_cert, Some(PathBuf::from("/tmp/ca.pem")));
        assert_eq!(parse_url("host=h user=u").unwrap().url, "host=h user=u");
        assert_eq!(parse_url("postgres://h/db?sslrootcert=a").unwrap().url, "postgres://h/db");

        let s = secrets_of("postgres://user:p%40ss@host/db?password=other");
        let m = redact("a p@ss b p%40ss c other d".to_owned(), &s);
        assert_eq!(m, "a ******** b ******** c ******** d");
        let s = secrets_of("host=h password='se cret' user=u");
        assert_eq!(redact("x se cret y".into(), &s), "x ******** y");
        let s = secrets_of("host=h password=abc user=u");
        assert_eq!(redact("abc".into(), &s), "********");
        assert!(secrets_of("postgres://user@host/db").is_empty());
    }

    #[test]
    fn payloads() {
        let p = payload("kms.keys", "a\"b", "é\u{1}", 3);
        assert_eq!(p, "[\"kms.keys\",\"a\\\"b\",\"é\\u0001\",3]");
        assert_eq!(parse_payload(&p), Change { table: "kms.keys".into(), pk: "a\"b".into(), sk: "é\u{1}".into(), version: 3 });
        assert!(parse_payload(&payload("meta", &"x".repeat(8000), "", 1)).is_resync());
        assert!(parse_payload("garbage").is_resync());
        assert!(parse_payload(RESYNC_PAYLOAD).is_resync());
    }

    #[test]
    fn lock_ids_are_stable() {
        // FNV-1a test vector, and separation of the parts
        assert_eq!(lock_id("a", "", "") as u64, {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in [b'a', 0xFF, 0xFF] {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            h
        });
        assert_ne!(lock_id("t", "ab", "c"), lock_id("t", "a", "bc"));
    }
}
