//! Coffer's persistence: one small trait, implemented on SQLite (and later PostgreSQL).
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
#![forbid(unsafe_code)]

mod sqlite;

pub use sqlite::SqliteStore;

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
