//! Behavioural tests every [`Store`] implementation must pass, shared by the SQLite unit tests
//! and the PostgreSQL integration tests (`tests/postgres.rs`), so that both are held to exactly
//! the same semantics. Not part of the API: these functions panic on failure.

use std::sync::Arc;

use crate::tables::{META, S3_OBJECTS};
use crate::{Expect, Item, Store, StoreError, Table, Write};

fn names(v: Vec<Item>) -> Vec<String> {
    v.into_iter().map(|i| i.sk).collect()
}

/// Runs every single-client conformance check. `store` must be empty.
pub async fn conformance(store: &dyn Store) {
    conditional_writes(store).await;
    batch_is_sequential(store).await;
    listing_and_paging(store).await;
    literal_prefixes(store).await;
    binary_values(store).await;
    let _ = byte_order(store, Table::new("test.order")).await;
}

/// Preconditions, versions, and all-or-nothing batches.
pub async fn conditional_writes(s: &dyn Store) {
    let v = s.write(vec![Write::put(META, "a", "", b"1".to_vec(), Expect::Absent)]).await.unwrap();
    assert_eq!(v, vec![1]);
    let e = s.write(vec![Write::put(META, "a", "", b"2".to_vec(), Expect::Absent)]).await.unwrap_err();
    assert_eq!(e, StoreError::Conflict { index: 0 });
    let v = s.write(vec![Write::put(META, "a", "", b"2".to_vec(), Expect::Version(1))]).await.unwrap();
    assert_eq!(v, vec![2]);
    let e = s.write(vec![Write::put(META, "a", "", b"x".to_vec(), Expect::Version(1))]).await.unwrap_err();
    assert_eq!(e, StoreError::Conflict { index: 0 });
    // a failing precondition later in the batch leaves earlier elements unwritten
    let e = s
        .write(vec![
            Write::put(META, "b", "", b"x".to_vec(), Expect::Any),
            Write::check(META, "a", "", Expect::Version(1)),
        ])
        .await
        .unwrap_err();
    assert_eq!(e, StoreError::Conflict { index: 1 });
    assert!(s.get(META, "b", "").await.unwrap().is_none());
    let item = s.get(META, "a", "").await.unwrap().unwrap();
    assert_eq!((item.pk.as_str(), item.sk.as_str(), item.version, item.value), ("a", "", 2, b"2".to_vec()));
    // Any puts create and replace; Exists requires presence
    assert_eq!(s.write(vec![Write::put(META, "c", "", vec![], Expect::Exists)]).await, Err(StoreError::Conflict { index: 0 }));
    assert_eq!(s.write(vec![Write::put(META, "c", "", vec![1], Expect::Any)]).await.unwrap(), vec![1]);
    assert_eq!(s.write(vec![Write::put(META, "c", "", vec![2], Expect::Any)]).await.unwrap(), vec![2]);
    assert_eq!(s.write(vec![Write::put(META, "c", "", vec![3], Expect::Exists)]).await.unwrap(), vec![3]);
    assert_eq!(s.write(vec![Write::check(META, "c", "", Expect::Version(3))]).await.unwrap(), vec![0]);
    assert_eq!(s.write(vec![Write::check(META, "zz", "", Expect::Absent)]).await.unwrap(), vec![0]);
    // deletes
    assert_eq!(s.write(vec![Write::delete(META, "a", "", Expect::Version(1))]).await, Err(StoreError::Conflict { index: 0 }));
    assert_eq!(s.write(vec![Write::delete(META, "a", "", Expect::Exists)]).await.unwrap(), vec![0]);
    assert!(s.get(META, "a", "").await.unwrap().is_none());
    assert!(s.write(vec![Write::delete(META, "a", "", Expect::Exists)]).await.is_err());
    assert_eq!(s.write(vec![Write::delete(META, "a", "", Expect::Any)]).await.unwrap(), vec![0]);
    // after a delete, versions start again at 1
    assert_eq!(s.write(vec![Write::put(META, "a", "", vec![], Expect::Absent)]).await.unwrap(), vec![1]);
    // an empty batch is fine
    assert_eq!(s.write(vec![]).await.unwrap(), Vec::<i64>::new());
    // a multi-element batch commits all of its elements
    let v = s
        .write(vec![
            Write::put(META, "m1", "x", b"one".to_vec(), Expect::Absent),
            Write::put(META, "c", "", b"c4".to_vec(), Expect::Version(3)),
            Write::delete(META, "a", "", Expect::Version(1)),
            Write::check(META, "b", "", Expect::Absent),
        ])
        .await
        .unwrap();
    assert_eq!(v, vec![1, 4, 0, 0]);
    assert_eq!(s.get(META, "m1", "x").await.unwrap().unwrap().value, b"one");
    assert_eq!(s.get(META, "c", "").await.unwrap().unwrap().version, 4);
    assert!(s.get(META, "a", "").await.unwrap().is_none());
    // the same key in another table is another item
    assert!(s.get(S3_OBJECTS, "c", "").await.unwrap().is_none());
    for k in ["b", "c", "m1", "zz"] {
        for sk in ["", "x"] {
            s.write(vec![Write::delete(META, k, sk, Expect::Any)]).await.unwrap();
        }
    }
}

/// Elements of one batch see the effects of the elements before them, as if applied in order.
pub async fn batch_is_sequential(s: &dyn Store) {
    let t = Table::new("test.seq");
    let v = s
        .write(vec![
            Write::put(t, "k", "", b"1".to_vec(), Expect::Absent),
            Write::check(t, "k", "", Expect::Version(1)),
            Write::put(t, "k", "", b"2".to_vec(), Expect::Version(1)),
            Write::put(t, "k", "", b"3".to_vec(), Expect::Any),
        ])
        .await
        .unwrap();
    assert_eq!(v, vec![1, 0, 2, 3]);
    let item = s.get(t, "k", "").await.unwrap().unwrap();
    assert_eq!((item.version, item.value), (3, b"3".to_vec()));
    // delete then re-create within one batch
    let v = s
        .write(vec![
            Write::delete(t, "k", "", Expect::Version(3)),
            Write::check(t, "k", "", Expect::Absent),
            Write::put(t, "k", "", b"new".to_vec(), Expect::Absent),
        ])
        .await
        .unwrap();
    assert_eq!(v, vec![0, 0, 1]);
    assert_eq!(s.get(t, "k", "").await.unwrap().unwrap().value, b"new");
    // put then delete: gone; and a conflict after in-batch changes undoes them all
    assert_eq!(
        s.write(vec![Write::put(t, "k", "", vec![], Expect::Version(1)), Write::check(t, "k", "", Expect::Version(1))]).await,
        Err(StoreError::Conflict { index: 1 })
    );
    let v = s
        .write(vec![Write::put(t, "j", "", vec![], Expect::Absent), Write::delete(t, "j", "", Expect::Version(1))])
        .await
        .unwrap();
    assert_eq!(v, vec![1, 0]);
    assert!(s.get(t, "j", "").await.unwrap().is_none());
    let item = s.get(t, "k", "").await.unwrap().unwrap();
    assert_eq!((item.version, item.value), (1, b"new".to_vec()));
    s.write(vec![Write::delete(t, "k", "", Expect::Exists)]).await.unwrap();
}

/// `list` within a partition and `scan` over a table, with paging.
pub async fn listing_and_paging(s: &dyn Store) {
    let mut batch = Vec::new();
    for sk in ["alias/a", "alias/b", "alias/c", "other", "alias/b2"] {
        batch.push(Write::put(META, "p", sk, vec![], Expect::Absent));
    }
    batch.push(Write::put(META, "q", "alias/z", vec![], Expect::Absent));
    s.write(batch).await.unwrap();
    assert_eq!(names(s.list(META, "p", "alias/", None, 10).await.unwrap()), ["alias/a", "alias/b", "alias/b2", "alias/c"]);
    assert_eq!(names(s.list(META, "p", "alias/", Some("alias/b"), 2).await.unwrap()), ["alias/b2", "alias/c"]);
    assert_eq!(names(s.list(META, "p", "alias/", Some("alias/c"), 2).await.unwrap()), Vec::<String>::new());
    assert_eq!(names(s.list(META, "p", "alias/", Some("a"), 1).await.unwrap()), ["alias/a"]);
    assert_eq!(names(s.list(META, "p", "alias/", Some("zzz"), 10).await.unwrap()), Vec::<String>::new());
    assert_eq!(names(s.list(META, "p", "", Some("alias/c"), 10).await.unwrap()), ["other"]);
    assert_eq!(names(s.list(META, "p", "", None, 0).await.unwrap()), Vec::<String>::new());
    assert_eq!(s.list(META, "p", "", None, 100).await.unwrap().len(), 5);
    assert_eq!(names(s.list(META, "nobody", "", None, 10).await.unwrap()), Vec::<String>::new());
    let all = crate::scan_all(s, META).await.unwrap();
    assert_eq!(all.len(), 6);
    let page = s.scan(META, Some(("p", "other")), 10).await.unwrap();
    assert_eq!(names(page), ["alias/z"]);
    let page = s.scan(META, None, 2).await.unwrap();
    assert_eq!(page.iter().map(|i| (i.pk.as_str(), i.sk.as_str())).collect::<Vec<_>>(), [("p", "alias/a"), ("p", "alias/b")]);
    let page = s.scan(META, Some(("p", "alias/c")), 10).await.unwrap();
    assert_eq!(page.iter().map(|i| (i.pk.as_str(), i.sk.as_str())).collect::<Vec<_>>(), [("p", "other"), ("q", "alias/z")]);
    assert!(s.scan(META, Some(("q", "alias/z")), 10).await.unwrap().is_empty());
    assert!(s.scan(Table::new("test.empty"), None, 10).await.unwrap().is_empty());
    // page through a table one item at a time
    let mut seen = Vec::new();
    let mut after: Option<(String, String)> = None;
    loop {
        let page = s.scan(META, after.as_ref().map(|(p, k)| (p.as_str(), k.as_str())), 1).await.unwrap();
        let Some(i) = page.into_iter().next() else { break };
        after = Some((i.pk.clone(), i.sk.clone()));
        seen.push(i);
    }
    assert_eq!(seen, all);
    let mut batch = Vec::new();
    for i in all {
        batch.push(Write::delete(META, i.pk, i.sk, Expect::Version(i.version)));
    }
    s.write(batch).await.unwrap();
    assert!(s.scan(META, None, 10).await.unwrap().is_empty());
}

/// Prefixes match literally (no LIKE wildcards), also next to the surrogate gap and at the end
/// of Unicode.
pub async fn literal_prefixes(s: &dyn Store) {
    let t = Table::new("test.prefix");
    let keys = [
        "a%b", "a%bc", "a_b", "aXb", "a\\b", "a\\\\b", "a", "a%", "a_", "p\u{D7FF}", "p\u{D7FF}x", "p\u{E000}",
        "p\u{FFFF}", "p\u{10000}", "q\u{10FFFF}", "q\u{10FFFF}\u{10FFFF}", "r",
    ];
    s.write(keys.iter().map(|k| Write::put(t, "p", *k, vec![], Expect::Absent)).collect()).await.unwrap();
    let list = |prefix: &'static str| async move { names(s.list(t, "p", prefix, None, 100).await.unwrap()) };
    assert_eq!(list("a%").await, ["a%", "a%b", "a%bc"]);
    assert_eq!(list("a_").await, ["a_", "a_b"]);
    assert_eq!(list("a\\").await, ["a\\\\b", "a\\b"]);
    assert_eq!(list("a%b").await, ["a%b", "a%bc"]);
    assert_eq!(list("p\u{D7FF}").await, ["p\u{D7FF}", "p\u{D7FF}x"]);
    assert_eq!(list("p\u{FFFF}").await, ["p\u{FFFF}"]);
    assert_eq!(list("q\u{10FFFF}").await, ["q\u{10FFFF}", "q\u{10FFFF}\u{10FFFF}"]);
    assert_eq!(list("").await.len(), keys.len());
    s.write(keys.iter().map(|k| Write::delete(t, "p", *k, Expect::Exists)).collect()).await.unwrap();
}

/// Values are arbitrary bytes, including empty and large ones.
pub async fn binary_values(s: &dyn Store) {
    let t = Table::new("test.values");
    let all: Vec<u8> = (0..=255u8).collect();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    s.write(vec![
        Write::put(t, "all", "", all.clone(), Expect::Absent),
        Write::put(t, "empty", "", vec![], Expect::Absent),
        Write::put(t, "big", "", big.clone(), Expect::Absent),
    ])
    .await
    .unwrap();
    assert_eq!(s.get(t, "all", "").await.unwrap().unwrap().value, all);
    assert_eq!(s.get(t, "empty", "").await.unwrap().unwrap().value, Vec::<u8>::new());
    assert_eq!(s.get(t, "big", "").await.unwrap().unwrap().value, big);
    for k in ["all", "empty", "big"] {
        s.write(vec![Write::delete(t, k, "", Expect::Exists)]).await.unwrap();
    }
}

/// Keys that sort differently under byte order, case-insensitive or locale-aware collations.
pub const ORDER_KEYS: &[&str] = &[
    "b", "B", "a", "A", "_", "-", "~", " ", "a b", "a-b", "a_b", "a/b", "a.b", "ab", "aB", "Ab", "AB", "a0", "a9",
    "é", "e", "E", "f", "ß", "ss", "z", "Z", "ä", "ae", "Ä", "\u{7f}", "\u{80}", "\u{ff}", "\u{100}", "日本", "日",
    "😀", "\u{FFFD}", "\u{E000}", "\u{D7FF}", "\u{10FFFF}", "a\u{301}", "á", "1", "10", "9", "dir/", "dir/a", "dir!",
    "dir0", "dir/\u{e9}", "%", "a%", "\t", "\u{1}",
];

/// Lists and scans keys chosen to expose any collation other than byte order (= UTF-8 code
/// point order, SQLite's BINARY and S3's key order). Returns the listed sort keys of partition
/// "p" and the scanned `(pk, sk)` pairs, so callers can compare implementations.
pub async fn byte_order(s: &dyn Store, t: Table) -> (Vec<String>, Vec<(String, String)>) {
    let mut batch = Vec::new();
    for k in ORDER_KEYS {
        batch.push(Write::put(t, "p", *k, vec![], Expect::Absent));
        batch.push(Write::put(t, *k, "x", vec![], Expect::Absent));
    }
    s.write(batch).await.unwrap();
    let mut expected: Vec<String> = ORDER_KEYS.iter().map(|k| k.to_string()).collect();
    expected.sort(); // Rust's str order is byte order
    let listed = names(s.list(t, "p", "", None, 1000).await.unwrap());
    assert_eq!(listed, expected);
    // paging with `after` follows the same order
    let mut paged = Vec::new();
    loop {
        let page = s.list(t, "p", "", paged.last().map(String::as_str), 7).await.unwrap();
        let n = page.len();
        paged.extend(names(page));
        if n < 7 {
            break;
        }
    }
    assert_eq!(paged, expected);
    // prefixes and after values with non-ASCII characters
    let want: Vec<String> = expected.iter().filter(|k| k.starts_with("dir")).cloned().collect();
    assert_eq!(names(s.list(t, "p", "dir", None, 100).await.unwrap()), want);
    let want: Vec<String> = expected.iter().filter(|k| k.as_str() > "a" && k.starts_with('a')).cloned().collect();
    assert_eq!(names(s.list(t, "p", "a", Some("a"), 100).await.unwrap()), want);
    let want: Vec<String> = expected.iter().filter(|k| k.as_str() > "é").cloned().collect();
    assert_eq!(names(s.list(t, "p", "", Some("é"), 100).await.unwrap()), want);
    let scanned: Vec<(String, String)> =
        crate::scan_all(s, t).await.unwrap().into_iter().map(|i| (i.pk, i.sk)).collect();
    let mut want: Vec<(String, String)> = scanned.clone();
    want.sort();
    assert_eq!(scanned, want);
    assert_eq!(scanned.len(), 2 * ORDER_KEYS.len());
    let after_e: Vec<(String, String)> =
        s.scan(t, Some(("é", "x")), 1000).await.unwrap().into_iter().map(|i| (i.pk, i.sk)).collect();
    assert_eq!(after_e, want.iter().filter(|(p, s)| (p.as_str(), s.as_str()) > ("é", "x")).cloned().collect::<Vec<_>>());
    (listed, scanned)
}

/// Read-modify-write increments of one item from `tasks` tasks spread over `stores` (several
/// stores on one database stand for several nodes), retrying on `Conflict`. Proves no update is
/// lost: the final version equals the number of successful writes and the value counts them.
pub async fn concurrent_increments(stores: &[Arc<dyn Store>], tasks: usize, increments: usize) {
    let t = Table::new("test.counter");
    stores[0].write(vec![Write::put(t, "n", "", 0u64.to_be_bytes().to_vec(), Expect::Absent)]).await.unwrap();
    let mut handles = Vec::new();
    for i in 0..tasks {
        let s = stores[i % stores.len()].clone();
        handles.push(tokio::spawn(async move {
            let mut conflicts = 0u64;
            for _ in 0..increments {
                loop {
                    let item = s.get(t, "n", "").await.unwrap().unwrap();
                    let n = u64::from_be_bytes(item.value.as_slice().try_into().unwrap());
                    let next = (n + 1).to_be_bytes().to_vec();
                    match s.write(vec![Write::put(t, "n", "", next, Expect::Version(item.version))]).await {
                        Ok(v) => {
                            assert_eq!(v, vec![item.version + 1]);
                            break;
                        }
                        Err(StoreError::Conflict { index: 0 }) => conflicts += 1,
                        Err(e) => panic!("increment failed: {e}"),
                    }
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for h in handles {
        conflicts += h.await.unwrap();
    }
    let item = stores[0].get(t, "n", "").await.unwrap().unwrap();
    let n = u64::from_be_bytes(item.value.as_slice().try_into().unwrap());
    let writes = (tasks * increments) as u64;
    assert_eq!(n, writes, "lost updates");
    assert_eq!(item.version as u64, writes + 1, "version = successful writes (+1 for the creation)");
    eprintln!("concurrent_increments: {writes} increments, {conflicts} conflicts retried");
}

/// `n` concurrent creates of one key with [`Expect::Absent`] (each in a batch with a second,
/// distinct key, to exercise multi-key locking): exactly one succeeds, all others get
/// `Conflict { index: 0 }`, and nothing of a losing batch is written.
pub async fn concurrent_creates(stores: &[Arc<dyn Store>], n: usize) {
    let t = Table::new("test.create");
    let mut handles = Vec::new();
    for i in 0..n {
        let s = stores[i % stores.len()].clone();
        handles.push(tokio::spawn(async move {
            s.write(vec![
                Write::put(t, "the", "key", i.to_string().into_bytes(), Expect::Absent),
                Write::put(t, "side", i.to_string(), vec![], Expect::Absent),
            ])
            .await
        }));
    }
    let mut winners = Vec::new();
    for (i, h) in handles.into_iter().enumerate() {
        match h.await.unwrap() {
            Ok(v) => {
                assert_eq!(v, vec![1, 1]);
                winners.push(i);
            }
            Err(StoreError::Conflict { index: 0 }) => {}
            Err(e) => panic!("create {i} failed: {e}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one create wins");
    let item = stores[0].get(t, "the", "key").await.unwrap().unwrap();
    assert_eq!((item.version, item.value), (1, winners[0].to_string().into_bytes()));
    assert_eq!(names(stores[0].list(t, "side", "", None, 1000).await.unwrap()), [winners[0].to_string()]);
}

/// The PostgreSQL server the environment variable `var` names (`COFFER_TEST_PG`, or
/// `COFFER_TEST_PG_TLS` for one that accepts only TLS); `None` when it is unset, which is said
/// once per variable on stderr (past the test harness's capture), so skipped tests are visible.
pub fn pg_server(var: &'static str) -> Option<String> {
    if let Ok(u) = std::env::var(var)
        && !u.trim().is_empty()
    {
        return Some(u.trim().to_owned());
    }
    use std::io::Write as _;
    static SEEN: std::sync::Mutex<Vec<&str>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if !seen.contains(&var) {
        seen.push(var);
        let _ = writeln!(std::io::stderr(), "skipped: {var} not set (PostgreSQL tests that need it pass without running)");
    }
    None
}

/// `base` (a postgres:// URL) with its database replaced by `db`.
pub fn with_db(base: &str, db: &str) -> String {
    let (rest, query) = match base.split_once('?') {
        Some((r, q)) => (r, format!("?{q}")),
        None => (base, String::new()),
    };
    let scheme_end = rest.find("://").map(|i| i + 3).expect("a postgres:// URL");
    let host_end = rest[scheme_end..].find('/').map(|i| i + scheme_end).unwrap_or(rest.len());
    format!("{}/{db}{query}", &rest[..host_end])
}

/// A client for `url` through Coffer's connector (TLS as the URL says).
pub async fn pg_client(url: &str) -> tokio_postgres::Client {
    crate::PgConnector::new(url, "coffer-test", "").expect("a valid URL").connect().await.expect("connect to the test server")
}

/// Runs `test(url, name)` with the URL and name of a new, empty database (named `<prefix>_…`)
/// on the server at `base`, then drops it — also when the test panics, whose panic is then
/// resumed.
pub async fn on_database<F, Fut>(base: &str, prefix: &str, test: F)
where
    F: FnOnce(String, String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    let name = format!("{prefix}_{}_{}_{}", std::process::id(), nanos, N.fetch_add(1, Ordering::Relaxed));
    let admin = pg_client(base).await;
    admin
        .batch_execute(&format!("CREATE DATABASE {name} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"))
        .await
        .expect("create the test database");
    let result = tokio::spawn(test(with_db(base, &name), name.clone())).await;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.expect("drop the test database");
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}
