//! The data directory: lock, root key, root-key check, first-start initialisation.
//!
//! Refusal rules, all checked before anything is written:
//! - another process holds `coffer.lock` → refuse (SQLite must have one writer process);
//! - a database exists but no root key is given (`COFFER_ROOT_KEY` or `root.key`) → refuse,
//!   never generate a new key over existing sealed data;
//! - the root key does not open the database's root-check value → refuse, naming the likely
//!   cause. The database is not migrated or changed in any way before this check.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use coffer_crypto::RootKey;
use coffer_store::{Expect, PostgresStore, SqliteStore, Store, StoreError, Write, tables};

const ROOT_CHECK_PURPOSE: &str = "root-check";
const ROOT_CHECK_PLAINTEXT: &[u8] = b"coffer root key check v1";

/// Holds the directory lock for the life of the process.
pub struct DataDir {
    pub path: PathBuf,
    _lock: File,
}

/// Writes `contents` to a new file with mode 0600 and fsyncs it and its directory.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), String> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    f.write_all(contents).and_then(|_| f.sync_all()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(|e| format!("cannot sync {}: {e}", dir.display()))?;
    }
    Ok(())
}

pub fn open_dir(path: &Path) -> Result<DataDir, String> {
    if !path.exists() {
        std::fs::create_dir_all(path).map_err(|e| format!("cannot create data directory {}: {e}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot restrict {}: {e}", path.display()))?;
    }
    let lock_path = path.join("coffer.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    lock.try_lock().map_err(|_| {
        format!("another Coffer process is using the data directory {} (it holds coffer.lock)", path.display())
    })?;
    Ok(DataDir { path: path.to_owned(), _lock: lock })
}

fn decode_root_key(text: &str, source: &str) -> Result<RootKey, String> {
    let raw = zeroize::Zeroizing::new(
        B64.decode(text.trim()).map_err(|_| format!("the root key in {source} is not valid base64"))?,
    );
    RootKey::from_bytes(&raw).map_err(|_| format!("the root key in {source} must be 32 bytes (base64 of 32 bytes)"))
}

/// Opens the store with the right root key, initialising a fresh data directory.
/// Returns the store, the root key, and whether this was the first start.
pub fn open_store(dir: &DataDir, db_path: &Path) -> Result<(Arc<SqliteStore>, RootKey, bool), String> {
    let key_file = dir.path.join("root.key");
    let env_key = std::env::var("COFFER_ROOT_KEY").ok().filter(|s| !s.trim().is_empty());
    let db_existed = db_path.exists();
    if !db_existed {
        // Created here with mode 0600 so that SQLite (which gives its -wal and -shm files the
        // database file's mode) never exposes the database to other users.
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(db_path)
            .map_err(|e| format!("cannot create {}: {e}", db_path.display()))?;
    }
    let store = SqliteStore::open_unmigrated(db_path).map_err(|e| format!("cannot open {}: {e}", db_path.display()))?;
    let schema = store.schema_version().map_err(|e| e.to_string())?;
    let fresh = !db_existed || schema == 0;

    let (root, generated) = match (&env_key, key_file.exists()) {
        (Some(k), _) => (decode_root_key(k, "COFFER_ROOT_KEY")?, false),
        (None, true) => {
            let text = zeroize::Zeroizing::new(
                std::fs::read_to_string(&key_file).map_err(|e| format!("cannot read {}: {e}", key_file.display()))?,
            );
            (decode_root_key(&text, &key_file.display().to_string())?, false)
        }
        (None, false) if fresh => {
            let (root, raw) = RootKey::generate();
            let text = zeroize::Zeroizing::new(format!("{}\n", B64.encode(raw.expose())));
            write_private(&key_file, text.as_bytes())?;
            (root, true)
        }
        (None, false) => {
            return Err(format!(
                "{} holds a Coffer database but no root key: set COFFER_ROOT_KEY or restore {}. \
                 Refusing to start (a new root key could not open the existing data).",
                dir.path.display(),
                key_file.display()
            ));
        }
    };

    if !fresh {
        let rt = tokio::runtime::Handle::current();
        let check = tokio::task::block_in_place(|| rt.block_on(store.get(tables::META, ROOT_CHECK_PURPOSE, "")))
            .map_err(|e| e.to_string())?;
        match check {
            Some(item) => {
                if root.open(ROOT_CHECK_PURPOSE, &item.value).is_err() {
                    return Err(format!(
                        "the root key ({}) does not open the data in {}: it is not the key this data directory was \
                         created with. Refusing to start; nothing was changed.",
                        if env_key.is_some() { "COFFER_ROOT_KEY" } else { "root.key" },
                        dir.path.display()
                    ));
                }
            }
            None => return Err(format!("{} has no root-key check record; the database is damaged", db_path.display())),
        }
    }
    store.migrate().map_err(|e| e.to_string())?;
    if fresh {
        let sealed = root.seal(ROOT_CHECK_PURPOSE, ROOT_CHECK_PLAINTEXT);
        let rt = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| {
            rt.block_on(store.write(vec![Write::put(tables::META, ROOT_CHECK_PURPOSE, "", sealed, Expect::Absent)]))
        })
        .map_err(|e| e.to_string())?;
    }
    if generated {
        tracing::info!(path = %key_file.display(), "generated a new root key");
    }
    Ok((Arc::new(store), root, fresh))
}

/// Opens a PostgreSQL store shared by several nodes: migrates it (nodes starting together are
/// serialised by the store's advisory lock), then checks the root key against the database's
/// root-check value, or — on the first start of the database — records it. The root key comes
/// from `COFFER_ROOT_KEY` or `<data_dir>/root.key`; a first start without either generates one
/// into `<data_dir>/root.key` (in memory with `--dev`). A node whose key does not open the
/// shared data refuses to start and says why. Returns the store, the key, and whether this
/// node initialised the database.
pub async fn open_postgres(url: &str, data_dir: &Path, dev: bool) -> Result<(Arc<PostgresStore>, RootKey, bool), String> {
    let store = PostgresStore::connect(url).await.map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    let key_file = data_dir.join("root.key");
    let env_key = std::env::var("COFFER_ROOT_KEY").ok().filter(|s| !s.trim().is_empty());
    let given = match (&env_key, key_file.exists()) {
        (Some(k), _) => Some((decode_root_key(k, "COFFER_ROOT_KEY")?, "COFFER_ROOT_KEY".to_string())),
        (None, true) => {
            let text = zeroize::Zeroizing::new(
                std::fs::read_to_string(&key_file).map_err(|e| format!("cannot read {}: {e}", key_file.display()))?,
            );
            Some((decode_root_key(&text, &key_file.display().to_string())?, key_file.display().to_string()))
        }
        (None, false) => None,
    };
    let refuse = |source: &str| {
        format!(
            "the root key ({source}) does not open the shared data in {}: every node must use the key the database was \
             initialised with (copy its root.key or set COFFER_ROOT_KEY). Refusing to start; nothing was changed.",
            store.target()
        )
    };
    let check = store.get(tables::META, ROOT_CHECK_PURPOSE, "").await.map_err(|e| e.to_string())?;
    if let Some(item) = check {
        let Some((root, source)) = given else {
            return Err(format!(
                "the database {} is already initialised: this node needs its root key (COFFER_ROOT_KEY or {})",
                store.target(),
                key_file.display()
            ));
        };
        if root.open(ROOT_CHECK_PURPOSE, &item.value).is_err() {
            return Err(refuse(&source));
        }
        return Ok((Arc::new(store), root, false));
    }
    // First start of this database.
    let (root, source, generated) = match given {
        Some((root, source)) => (root, source, None),
        None => {
            let (root, raw) = RootKey::generate();
            let text = zeroize::Zeroizing::new(format!("{}\n", B64.encode(raw.expose())));
            (root, key_file.display().to_string(), (!dev).then_some(text))
        }
    };
    let sealed = root.seal(ROOT_CHECK_PURPOSE, ROOT_CHECK_PLAINTEXT);
    match store.write(vec![Write::put(tables::META, ROOT_CHECK_PURPOSE, "", sealed, Expect::Absent)]).await {
        Ok(_) => {
            if let Some(text) = generated {
                std::fs::create_dir_all(data_dir).map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
                write_private(&key_file, text.as_bytes())?;
                tracing::info!(path = %key_file.display(), "generated a new root key for the shared database");
            }
            Ok((Arc::new(store), root, true))
        }
        Err(StoreError::Conflict { .. }) => {
            // Another node initialised the database at the same moment: its key must be ours.
            let item = store.get(tables::META, ROOT_CHECK_PURPOSE, "").await.map_err(|e| e.to_string())?;
            match item {
                Some(item) if root.open(ROOT_CHECK_PURPOSE, &item.value).is_ok() => Ok((Arc::new(store), root, false)),
                _ => Err(refuse(&source)),
            }
        }
        Err(e) => Err(e.to_string()),
    }
}

/// `coffer migrate`: copies every item of the SQLite store in `from` into the empty PostgreSQL
/// database `to`, in one transaction, without decrypting anything. Holds the data directory's
/// lock meanwhile (a running node must be stopped first). Returns the number of items.
pub async fn migrate(from: &Path, to: &str) -> Result<usize, String> {
    let db = from.join("coffer.db");
    if !db.exists() {
        return Err(format!("{} holds no coffer.db", from.display()));
    }
    let _lock = open_dir(from)?;
    let source = SqliteStore::open(&db).map_err(|e| format!("cannot open {}: {e}", db.display()))?;
    let target = PostgresStore::connect(to).await.map_err(|e| e.to_string())?;
    target.migrate().await.map_err(|e| e.to_string())?;
    if !target.is_empty().await.map_err(|e| e.to_string())? {
        return Err(format!("{} already holds Coffer data; the target of a migration must be empty", target.target()));
    }
    let mut items = Vec::new();
    for table in tables::ALL {
        for item in coffer_store::scan_all(&source, *table).await.map_err(|e| e.to_string())? {
            items.push((*table, item));
        }
    }
    target.import(&items).await.map_err(|e| e.to_string())?;
    Ok(items.len())
}

/// A private (0700) temporary directory, removed when dropped: `--dev` object data.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Result<TempDir, String> {
        use std::os::unix::fs::DirBuilderExt;
        let name = format!("{prefix}-{}-{}", std::process::id(), coffer_crypto::digest::hex(&coffer_crypto::random::bytes::<8>()));
        let path = std::env::temp_dir().join(name);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| format!("cannot create temporary directory {}: {e}", path.display()))?;
        Ok(TempDir(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
