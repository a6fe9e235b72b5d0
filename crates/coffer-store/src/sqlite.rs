//! The SQLite store: a file in the data directory (WAL, `synchronous=FULL`), or an in-memory
//! database for `--dev`.
//!
//! rusqlite is synchronous, so every call runs on tokio's blocking pool while holding the one
//! connection. That serialises database work inside a process, which is what SQLite does anyway
//! for writers; the service hot paths never come here because they are served from memory.
//! Write batches run in `BEGIN IMMEDIATE` transactions, so two processes opening the same file
//! (which the binary prevents with a lock file) would still not interleave a read-check-write.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::{Item, Store, StoreError, Table, Write, expect_holds, prefix_end};

/// Schema migrations, applied in order at start. Never edit a released entry: append.
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "items",
    "CREATE TABLE items (
        tbl     TEXT    NOT NULL,
        pk      TEXT    NOT NULL,
        sk      TEXT    NOT NULL,
        version INTEGER NOT NULL CHECK (version > 0),
        value   BLOB    NOT NULL,
        PRIMARY KEY (tbl, pk, sk)
    ) WITHOUT ROWID;",
)];

pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    kind: &'static str,
    path: Option<PathBuf>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let s = SqliteStore::open_unmigrated(path)?;
        s.migrate()?;
        Ok(s)
    }

    /// Opens the database file without changing its schema, so that the caller can check it
    /// (for example, that the root key opens it) before anything is written; then call
    /// [`SqliteStore::migrate`].
    pub fn open_unmigrated(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path).map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(backend)?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(backend)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!("could not enable WAL mode (got {mode})")));
        }
        conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;").map_err(backend)?;
        Ok(SqliteStore { conn: Arc::new(Mutex::new(conn)), kind: "sqlite", path: Some(path.to_owned()) })
    }

    /// A private in-memory database (for `--dev`): same code, nothing on disk.
    pub fn memory() -> Result<SqliteStore, StoreError> {
        let conn = Connection::open_in_memory().map_err(backend)?;
        let s = SqliteStore { conn: Arc::new(Mutex::new(conn)), kind: "memory", path: None };
        s.migrate()?;
        Ok(s)
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The schema version the database is at (0 for a new, empty database).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let c = self.conn.lock().map_err(backend)?;
        let exists: bool = c
            .query_row("SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'coffer_schema'", [], |r| r.get(0))
            .map_err(backend)?;
        if !exists {
            return Ok(0);
        }
        c.query_row("SELECT COALESCE(MAX(version), 0) FROM coffer_schema", [], |r| r.get(0)).map_err(backend)
    }

    /// Applies pending schema migrations (refusing a database newer than this binary).
    pub fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.conn.lock().map_err(backend)?;
        let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS coffer_schema (
                version    INTEGER PRIMARY KEY,
                name       TEXT    NOT NULL,
                applied_at INTEGER NOT NULL
            );",
        )
        .map_err(backend)?;
        let current: i64 =
            tx.query_row("SELECT COALESCE(MAX(version), 0) FROM coffer_schema", [], |r| r.get(0)).map_err(backend)?;
        let newest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
        if current > newest {
            return Err(StoreError::Backend(format!(
                "the database schema is at version {current}, newer than this Coffer understands ({newest}); \
                 run a newer Coffer"
            )));
        }
        for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
            tx.execute_batch(sql).map_err(|e| StoreError::Backend(format!("migration {version} ({name}): {e}")))?;
            tx.execute(
                "INSERT INTO coffer_schema (version, name, applied_at) VALUES (?1, ?2, strftime('%s','now'))",
                params![version, name],
            )
            .map_err(backend)?;
            tracing::info!(version, name, "applied schema migration");
        }
        tx.commit().map_err(backend)
    }

    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = conn.lock().map_err(|_| StoreError::Backend("store connection poisoned".into()))?;
            f(&mut c)
        })
        .await
        .map_err(backend)?
    }
}

fn row_item(r: &rusqlite::Row<'_>) -> rusqlite::Result<Item> {
    Ok(Item { pk: r.get(0)?, sk: r.get(1)?, version: r.get(2)?, value: r.get(3)? })
}

fn current_version(tx: &rusqlite::Transaction<'_>, table: Table, pk: &str, sk: &str) -> Result<Option<i64>, StoreError> {
    tx.query_row(
        "SELECT version FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3",
        params![table.name(), pk, sk],
        |r| r.get(0),
    )
    .optional()
    .map_err(backend)
}

#[async_trait]
impl Store for SqliteStore {
    async fn get(&self, table: Table, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let (pk, sk) = (pk.to_owned(), sk.to_owned());
        self.run(move |c| {
            c.query_row(
                "SELECT pk, sk, version, value FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3",
                params![table.name(), pk, sk],
                row_item,
            )
            .optional()
            .map_err(backend)
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
        let (pk, prefix, after) = (pk.to_owned(), prefix.to_owned(), after.map(str::to_owned));
        self.run(move |c| {
            let lower = match &after {
                Some(a) if a.as_str() >= prefix.as_str() => a.clone(),
                _ => String::new(),
            };
            let strict = after.as_ref().is_some_and(|a| a.as_str() >= prefix.as_str());
            let upper = prefix_end(&prefix);
            let sql = format!(
                "SELECT pk, sk, version, value FROM items WHERE tbl = ?1 AND pk = ?2 AND sk >= ?3 AND sk {} ?4 \
                 AND (?5 IS NULL OR sk < ?5) ORDER BY sk LIMIT ?6",
                if strict { ">" } else { ">=" }
            );
            let mut st = c.prepare_cached(&sql).map_err(backend)?;
            let rows = st
                .query_map(params![table.name(), pk, prefix, lower, upper, limit as i64], row_item)
                .map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn scan(&self, table: Table, after: Option<(&str, &str)>, limit: usize) -> Result<Vec<Item>, StoreError> {
        let after = after.map(|(p, s)| (p.to_owned(), s.to_owned()));
        self.run(move |c| {
            let mut st = c
                .prepare_cached(
                    "SELECT pk, sk, version, value FROM items WHERE tbl = ?1 AND \
                     (?2 IS NULL OR pk > ?2 OR (pk = ?2 AND sk > ?3)) ORDER BY pk, sk LIMIT ?4",
                )
                .map_err(backend)?;
            let (p, s) = match &after {
                Some((p, s)) => (Some(p.as_str()), s.as_str()),
                None => (None, ""),
            };
            let rows = st.query_map(params![table.name(), p, s, limit as i64], row_item).map_err(backend)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(backend)
        })
        .await
    }

    async fn write(&self, batch: Vec<Write>) -> Result<Vec<i64>, StoreError> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let mut versions = Vec::with_capacity(batch.len());
            for (index, w) in batch.iter().enumerate() {
                let (table, pk, sk, expect) = w.target();
                let current = current_version(&tx, table, pk, sk)?;
                if !expect_holds(expect, current) {
                    return Err(StoreError::Conflict { index }); // tx rolls back on drop
                }
                match w {
                    Write::Put { value, .. } => {
                        let v = current.unwrap_or(0) + 1;
                        tx.execute(
                            "INSERT INTO items (tbl, pk, sk, version, value) VALUES (?1, ?2, ?3, ?4, ?5)
                             ON CONFLICT (tbl, pk, sk) DO UPDATE SET version = excluded.version, value = excluded.value",
                            params![table.name(), pk, sk, v, value],
                        )
                        .map_err(backend)?;
                        versions.push(v);
                    }
                    Write::Delete { .. } => {
                        tx.execute(
                            "DELETE FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3",
                            params![table.name(), pk, sk],
                        )
                        .map_err(backend)?;
                        versions.push(0);
                    }
                    Write::Check { .. } => versions.push(0),
                }
            }
            tx.commit().map_err(backend)?;
            Ok(versions)
        })
        .await
    }

    fn kind(&self) -> &'static str {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Expect;
    use crate::tables::META;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn conformance() {
        rt().block_on(async {
            let s = SqliteStore::memory().unwrap();
            crate::testing::conformance(&s).await;
            assert!(s.changes().is_none());
            assert!(s.listener_healthy_within(std::time::Duration::ZERO));
        });
    }

    #[test]
    fn concurrency() {
        rt().block_on(async {
            let s: std::sync::Arc<dyn Store> = std::sync::Arc::new(SqliteStore::memory().unwrap());
            crate::testing::concurrent_increments(std::slice::from_ref(&s), 8, 10).await;
            crate::testing::concurrent_creates(&[s], 16).await;
        });
    }

    #[test]
    fn file_store_persists_and_refuses_newer_schema() {
        let dir = std::env::temp_dir().join(format!("coffer-store-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        rt().block_on(async {
            let s = SqliteStore::open(&path).unwrap();
            s.write(vec![Write::put(META, "k", "", b"v".to_vec(), Expect::Absent)]).await.unwrap();
        });
        rt().block_on(async {
            let s = SqliteStore::open(&path).unwrap();
            assert_eq!(s.schema_version().unwrap(), 1);
            assert_eq!(s.get(META, "k", "").await.unwrap().unwrap().value, b"v");
        });
        {
            let c = Connection::open(&path).unwrap();
            c.execute("INSERT INTO coffer_schema VALUES (999, 'future', 0)", []).unwrap();
        }
        let err = SqliteStore::open(&path).err().unwrap();
        assert!(err.to_string().contains("newer"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
