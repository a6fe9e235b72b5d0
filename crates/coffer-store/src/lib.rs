//! Coffer's persistence: one small trait, implemented on SQLite and on PostgreSQL.
//!
//! Why this shape. Every service keeps its state as versioned *items* addressed by
//! `(table, partition key, sort key)`, and changes them only through [`Store::write`]: a batch
//! of puts, deletes and checks that commits atomically and only if every precondition
//! ([`Expect`]) still holds. That is optimistic concurrency control, and it is the only guard of
//! an invariant: "an alias name is unique" is a put with [`Expect::Absent`]; "nobody changed this
//! key since I read it" is a put with [`Expect::Version`]. Because the guard lives in the
//! database transaction rather than in a process-local lock, it holds unchanged when several
//! Coffer processes share one PostgreSQL database.
//!
//! Values are opaque bytes. Services serialise their records; anything secret inside a record is
//! already sealed under the root key (coffer-crypto) before it gets here, so no implementation of
//! this trait ever sees a plaintext secret.
//!
//! Two implementations: [`SqliteStore`] (one process; a file, or memory for `--dev`) and
//! [`PostgresStore`] (several stateless Coffer processes on one database), which also reports
//! committed changes of cached tables ([`Store::changes`]) so that every node can keep its
//! in-memory caches current.
#![forbid(unsafe_code)]

mod postgres;
mod sqlite;
#[doc(hidden)]
pub mod testing;

pub use postgres::{PgConnector, PostgresStore};
pub use sqlite::SqliteStore;

use std::time::Duration;

use async_trait::async_trait;

/// A logical table. Names are fixed in code; see [`tables`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Table(&'static str);

impl Table {
    pub const fn new(name: &'static str) -> Table {
        Table(name)
    }
    pub fn name(self) -> &'static str {
        self.0
    }
}

/// Every table Coffer uses, so that the set is visible in one place.
pub mod tables {
    use super::Table;
    /// Installation facts: the root-key check value, the schema owner, the first account.
    pub const META: Table = Table::new("meta");
    /// Accounts: pk = account id.
    pub const ACCOUNTS: Table = Table::new("iam.accounts");
    /// Access keys: pk = access key id.
    pub const ACCESS_KEYS: Table = Table::new("iam.access_keys");
    /// IAM users: pk = account, sk = user name.
    pub const USERS: Table = Table::new("iam.users");
    /// IAM roles: pk = account, sk = role name.
    pub const ROLES: Table = Table::new("iam.roles");
    /// Customer managed policies: pk = account, sk = policy name.
    pub const POLICIES: Table = Table::new("iam.policies");
    /// STS sessions (temporary credentials): pk = access key id.
    pub const SESSIONS: Table = Table::new("iam.sessions");
    /// KMS keys: pk = key id (UUID); the record names account and region.
    pub const KMS_KEYS: Table = Table::new("kms.keys");
    /// KMS aliases: pk = `<account>:<region>`, sk = alias name.
    pub const KMS_ALIASES: Table = Table::new("kms.aliases");
    /// Parameter Store heads: pk = `<account>:<region>`, sk = canonical parameter name.
    pub const SSM_PARAMETERS: Table = Table::new("ssm.parameters");
    /// Parameter versions: pk = `<account>:<region>:<name>`, sk = zero-padded version.
    pub const SSM_VERSIONS: Table = Table::new("ssm.versions");
    /// KMS grants: pk = key id, sk = grant id.
    pub const KMS_GRANTS: Table = Table::new("kms.grants");
    /// S3 buckets: pk = bucket name (global, as in AWS).
    pub const S3_BUCKETS: Table = Table::new("s3.buckets");
    /// S3 objects: pk = bucket id (one per bucket incarnation), sk = object key.
    pub const S3_OBJECTS: Table = Table::new("s3.objects");
    /// S3 multipart uploads: pk = bucket id, sk = upload id.
    pub const S3_UPLOADS: Table = Table::new("s3.uploads");
    /// S3 uploaded parts: pk = upload id, sk = zero-padded part number.
    pub const S3_PARTS: Table = Table::new("s3.parts");
    /// S3 object data files no longer referenced, to delete: pk = bucket id, sk = segment id.
    pub const S3_GARBAGE: Table = Table::new("s3.garbage");

    /// Every table (`coffer migrate` copies these).
    pub const ALL: &[Table] = &[
        META, ACCOUNTS, ACCESS_KEYS, USERS, ROLES, POLICIES, SESSIONS, KMS_KEYS, KMS_ALIASES, KMS_GRANTS, SSM_PARAMETERS,
        SSM_VERSIONS, S3_BUCKETS, S3_OBJECTS, S3_UPLOADS, S3_PARTS, S3_GARBAGE,
    ];

    /// Whether a multi-node store announces committed changes of this table to the other nodes
    /// ([`Store::changes`](super::Store::changes)): true for the tables services hold in memory,
    /// false for those they always read from the store (S3 objects, uploads, parts and garbage,
    /// Parameter Store versions), which are also the large and busy ones. A table not named here
    /// notifies, so that a new cached table cannot be forgotten.
    pub fn notifies(table: Table) -> bool {
        !matches!(table, S3_OBJECTS | S3_PARTS | S3_UPLOADS | S3_GARBAGE | SSM_VERSIONS)
    }
}

/// One stored item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub pk: String,
    pub sk: String,
    /// Starts at 1 and grows by one with every put.
    pub version: i64,
    pub value: Vec<u8>,
}

/// A precondition on the current state of one item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// No precondition.
    Any,
    /// The item must not exist.
    Absent,
    /// The item must exist.
    Exists,
    /// The item must exist with exactly this version.
    Version(i64),
}

/// One element of an atomic batch.
#[derive(Clone, Debug)]
pub enum Write {
    Put { table: Table, pk: String, sk: String, value: Vec<u8>, expect: Expect },
    Delete { table: Table, pk: String, sk: String, expect: Expect },
    Check { table: Table, pk: String, sk: String, expect: Expect },
}

impl Write {
    pub fn put(table: Table, pk: impl Into<String>, sk: impl Into<String>, value: Vec<u8>, expect: Expect) -> Write {
        Write::Put { table, pk: pk.into(), sk: sk.into(), value, expect }
    }
    pub fn delete(table: Table, pk: impl Into<String>, sk: impl Into<String>, expect: Expect) -> Write {
        Write::Delete { table, pk: pk.into(), sk: sk.into(), expect }
    }
    pub fn check(table: Table, pk: impl Into<String>, sk: impl Into<String>, expect: Expect) -> Write {
        Write::Check { table, pk: pk.into(), sk: sk.into(), expect }
    }
    fn target(&self) -> (Table, &str, &str, Expect) {
        match self {
            Write::Put { table, pk, sk, expect, .. }
            | Write::Delete { table, pk, sk, expect }
            | Write::Check { table, pk, sk, expect } => (*table, pk, sk, *expect),
        }
    }
}

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The precondition of batch element `index` did not hold; nothing was written.
    Conflict { index: usize },
    /// The database failed or is unreachable; nothing is known to be written.
    Backend(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Conflict { index } => write!(f, "precondition of write {index} failed"),
            StoreError::Backend(m) => write!(f, "store failure: {m}"),
        }
    }
}
impl std::error::Error for StoreError {}

/// A committed change of one item, announced by a multi-node store ([`Store::changes`]).
///
/// `version` is the item's new version, or 0 when it was deleted. A [`Change::resync`] marker
/// (empty table name, version -1) instead says that changes may have been missed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub table: String,
    pub pk: String,
    pub sk: String,
    pub version: i64,
}

impl Change {
    /// The marker meaning "notifications may have been lost: reload everything you cache".
    pub fn resync() -> Change {
        Change { table: String::new(), pk: String::new(), sk: String::new(), version: -1 }
    }

    /// Whether this is the [`Change::resync`] marker rather than the change of one item.
    pub fn is_resync(&self) -> bool {
        self.table.is_empty()
    }
}

/// Checks a precondition against the current version of an item (`None` = absent).
pub fn expect_holds(expect: Expect, current: Option<i64>) -> bool {
    match (expect, current) {
        (Expect::Any, _) => true,
        (Expect::Absent, None) => true,
        (Expect::Absent, Some(_)) => false,
        (Expect::Exists, c) => c.is_some(),
        (Expect::Version(v), Some(c)) => v == c,
        (Expect::Version(_), None) => false,
    }
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// One item.
    async fn get(&self, table: Table, pk: &str, sk: &str) -> Result<Option<Item>, StoreError>;

    /// Items of one partition in sort-key order: sort keys starting with `prefix`, strictly after
    /// `after` when given, at most `limit`.
    async fn list(
        &self,
        table: Table,
        pk: &str,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError>;

    /// Items of a whole table in `(pk, sk)` order, strictly after `after`, at most `limit`.
    async fn scan(&self, table: Table, after: Option<(&str, &str)>, limit: usize) -> Result<Vec<Item>, StoreError>;

    /// Applies a batch atomically if every precondition holds. Returns the new version of each
    /// element (0 for deletes and checks). Durable when it returns `Ok`.
    async fn write(&self, batch: Vec<Write>) -> Result<Vec<i64>, StoreError>;

    /// "sqlite", "memory" or "postgres", for logs and the health endpoint.
    fn kind(&self) -> &'static str;

    /// Committed changes made by any process sharing this store, for keeping in-memory caches
    /// current across nodes; `None` for a store only this process writes (SQLite, memory).
    ///
    /// Only tables for which [`tables::notifies`] is true are reported, each committed put or
    /// delete as one [`Change`] (this process's own writes included), in commit order.
    ///
    /// How to consume it:
    /// - subscribe *before* loading the cache, so that nothing committed after the load is
    ///   missed;
    /// - on [`Change::is_resync`], reload everything cached from the store: the notification
    ///   connection was lost and re-established (or a change could not be described), so
    ///   changes may have been missed;
    /// - on `RecvError::Lagged` (the receiver fell more than the channel's capacity behind),
    ///   likewise reload everything: treat it exactly as a resync marker;
    /// - `RecvError::Closed` means the store was dropped.
    ///
    /// A change says only *that* an item changed (and to which version): read the item from the
    /// store to learn its value. Versions restart at 1 after a delete, so apply a delete
    /// (version 0) by dropping the cached item rather than by comparing versions.
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Change>> {
        None
    }

    /// Whether the change notifications are known to be current: every change committed before
    /// a moment at most `max_age` ago has been delivered to [`Store::changes`] (on its own, or
    /// covered by a resync marker). A node whose store answers false (for example for `max_age`
    /// = 1 s) must not trust its caches; nor, after a resync marker, until it has reloaded them.
    /// Always true for a store without notifications, whose only writer is this process.
    ///
    /// PostgreSQL: the listener connection runs `SELECT 1` every 250 ms; this is true when the
    /// last answered one was sent at most `max_age` ago (its answer follows, on the same
    /// connection, every notification of a change committed before it was sent).
    fn listener_healthy_within(&self, max_age: Duration) -> bool {
        let _ = max_age;
        true
    }
}

/// The smallest string greater than every string starting with `prefix` (None: unbounded), in
/// byte (= code point) order.
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(c) = chars.pop() {
        // The successor code point, skipping the surrogates, which are not chars.
        let next = if c == '\u{D7FF}' { Some('\u{E000}') } else { char::from_u32(c as u32 + 1) };
        if let Some(n) = next {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Reads a whole table, page by page.
pub async fn scan_all(store: &dyn Store, table: Table) -> Result<Vec<Item>, StoreError> {
    const PAGE: usize = 1000;
    let mut out: Vec<Item> = Vec::new();
    loop {
        let after = out.last().map(|i| (i.pk.clone(), i.sk.clone()));
        let page = store.scan(table, after.as_ref().map(|(p, s)| (p.as_str(), s.as_str())), PAGE).await?;
        let n = page.len();
        out.extend(page);
        if n < PAGE {
            return Ok(out);
        }
    }
}
