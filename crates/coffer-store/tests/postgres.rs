//! PostgresStore against a real server. Runs only when `COFFER_TEST_PG` holds a base URL (a
//! superuser or a role that may create databases), e.g.
//! `COFFER_TEST_PG=$(scripts/pg.sh) cargo test -p coffer-store`; each test creates its own
//! database and drops it at the end.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer_store::tables::{self, KMS_KEYS, META, S3_OBJECTS, SSM_PARAMETERS, SSM_VERSIONS};
use coffer_store::{Change, Expect, PostgresStore, SqliteStore, Store, StoreError, Table, Write, testing};
use tokio::sync::broadcast;

fn base_url() -> Option<String> {
    testing::pg_server("COFFER_TEST_PG")
}

async fn admin(base: &str) -> tokio_postgres::Client {
    testing::pg_client(base).await
}

/// Runs `test` with the URL of a new, empty database, then drops the database.
async fn with_database<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(base) = base_url() else { return };
    testing::on_database(&base, "coffer_store_test", |url, _| test(url)).await;
}

async fn store(url: &str) -> Arc<PostgresStore> {
    let s = PostgresStore::connect(url).await.unwrap();
    s.migrate().await.unwrap();
    Arc::new(s)
}

/// The next change within `d`, `None` on timeout.
async fn next_change(rx: &mut broadcast::Receiver<Change>, d: Duration) -> Option<Change> {
    match tokio::time::timeout(d, rx.recv()).await {
        Ok(Ok(c)) => Some(c),
        Ok(Err(e)) => panic!("change channel: {e}"),
        Err(_) => None,
    }
}

fn change(table: Table, pk: &str, sk: &str, version: i64) -> Change {
    Change { table: table.name().into(), pk: pk.into(), sk: sk.into(), version }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance() {
    with_database(|url| async move {
        let s = store(&url).await;
        assert_eq!(s.kind(), "postgres");
        testing::conformance(s.as_ref()).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_order_matches_sqlite() {
    with_database(|url| async move {
        let pg = store(&url).await;
        let lite = SqliteStore::memory().unwrap();
        let t = Table::new("test.order");
        let from_pg = testing::byte_order(pg.as_ref(), t).await;
        let from_lite = testing::byte_order(&lite, t).await;
        assert_eq!(from_pg, from_lite);
        // and every prefix/after combination over the keys lists the same in both
        for prefix in ["", "a", "A", "é", "日", "dir/", "\u{D7FF}", "\u{10FFFF}", "%", "a_", "ä"] {
            for after in [None, Some(""), Some("a"), Some("B"), Some("é"), Some("dir/"), Some("\u{FFFD}"), Some("zz")] {
                let a: Vec<String> =
                    pg.list(t, "p", prefix, after, 1000).await.unwrap().into_iter().map(|i| i.sk).collect();
                let b: Vec<String> =
                    lite.list(t, "p", prefix, after, 1000).await.unwrap().into_iter().map(|i| i.sk).collect();
                assert_eq!(a, b, "prefix {prefix:?} after {after:?}");
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_keys_are_refused_not_corrupted() {
    with_database(|url| async move {
        let s = store(&url).await;
        let e = s.write(vec![Write::put(META, "a\0b", "", vec![], Expect::Any)]).await.unwrap_err();
        assert!(matches!(&e, StoreError::Backend(m) if m.contains("U+0000")), "{e}");
        assert!(s.get(META, "a\0b", "").await.unwrap().is_none());
        s.write(vec![Write::put(META, "p", "a", vec![], Expect::Any), Write::put(META, "p", "b", vec![], Expect::Any)])
            .await
            .unwrap();
        let sks = |v: Vec<coffer_store::Item>| v.into_iter().map(|i| i.sk).collect::<Vec<_>>();
        assert_eq!(sks(s.list(META, "p", "", Some("a\0x"), 10).await.unwrap()), ["b"]);
        assert!(s.list(META, "p", "a\0", None, 10).await.unwrap().is_empty());
        assert_eq!(sks(s.scan(META, Some(("p", "a\0")), 10).await.unwrap()), ["b"]);
        assert!(s.scan(META, Some(("p\0", "")), 10).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_on_two_nodes() {
    with_database(|url| async move {
        let a = store(&url).await;
        let b = store(&url).await;
        let stores: Vec<Arc<dyn Store>> = vec![a, b];
        // 2 × 32 tasks, 5 read-modify-write increments each
        testing::concurrent_increments(&stores, 64, 5).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_absent_creates() {
    with_database(|url| async move {
        let a = store(&url).await;
        let b = store(&url).await;
        let stores: Vec<Arc<dyn Store>> = vec![a.clone(), b.clone()];
        testing::concurrent_creates(&stores, 64).await;
        // and batches touching overlapping keys in opposite orders neither deadlock nor fail
        let t = Table::new("test.order2");
        let mut handles = Vec::new();
        for i in 0..64 {
            let s: Arc<dyn Store> = if i % 2 == 0 { a.clone() } else { b.clone() };
            handles.push(tokio::spawn(async move {
                let mut keys = ["x", "y", "z"];
                if i % 3 == 0 {
                    keys.reverse();
                }
                s.write(keys.iter().map(|k| Write::put(t, *k, "", vec![], Expect::Any)).collect()).await.unwrap();
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        for k in ["x", "y", "z"] {
            assert_eq!(a.get(t, k, "").await.unwrap().unwrap().version, 64);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations() {
    with_database(|url| async move {
        let mut stores = Vec::new();
        for _ in 0..4 {
            stores.push(PostgresStore::connect(&url).await.unwrap());
        }
        assert_eq!(stores[0].schema_version().await.unwrap(), 0);
        let results = futures_join_all(stores.iter().map(|s| s.migrate())).await;
        for r in results {
            r.unwrap();
        }
        for s in &stores {
            assert_eq!(s.schema_version().await.unwrap(), 1);
        }
        stores[0].migrate().await.unwrap(); // idempotent
        stores[1].write(vec![Write::put(META, "k", "", b"v".to_vec(), Expect::Absent)]).await.unwrap();
        assert_eq!(stores[2].get(META, "k", "").await.unwrap().unwrap().value, b"v");
    })
    .await;
}

/// Polls all futures concurrently (no `futures` dependency needed for four of them).
async fn futures_join_all<F: Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futs.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (f, o) in pinned.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *o = Some(v),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
    out.into_iter().map(|o| o.unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_newer_schema() {
    with_database(|url| async move {
        let s = store(&url).await;
        let a = admin(&url).await;
        a.batch_execute("INSERT INTO coffer_schema (version, name) VALUES (999, 'future')").await.unwrap();
        let e = s.migrate().await.unwrap_err();
        assert!(e.to_string().contains("newer"), "{e}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_reach_other_nodes() {
    with_database(|url| async move {
        let a = store(&url).await;
        let b = store(&url).await;
        assert!(a.listener_healthy_within(Duration::from_secs(1)));
        assert!(b.listener_healthy_within(Duration::from_secs(1)));
        let mut rx = b.changes().expect("postgres reports changes");
        let mut own = a.changes().unwrap();
        let wait = Duration::from_secs(5);

        // s3.objects and ssm.versions are not announced; the META put after them is the next change
        a.write(vec![Write::put(S3_OBJECTS, "bucket", "key", vec![1], Expect::Absent)]).await.unwrap();
        a.write(vec![Write::put(SSM_VERSIONS, "p", "0001", vec![1], Expect::Absent)]).await.unwrap();
        a.write(vec![Write::put(META, "m", "", vec![1], Expect::Absent)]).await.unwrap();
        assert_eq!(next_change(&mut rx, wait).await, Some(change(META, "m", "", 1)));
        // the writer's own listener sees it too
        assert_eq!(next_change(&mut own, wait).await, Some(change(META, "m", "", 1)));

        // a batch announces each changed key once with its final version; deletes as version 0;
        // checks are not changes
        a.write(vec![
            Write::put(KMS_KEYS, "k1", "", vec![], Expect::Absent),
            Write::put(KMS_KEYS, "k1", "", vec![], Expect::Version(1)),
            Write::check(META, "m", "", Expect::Version(1)),
            Write::put(S3_OBJECTS, "bucket", "key2", vec![], Expect::Absent),
            Write::put(SSM_PARAMETERS, "acct:region", "/a/b", vec![], Expect::Absent),
        ])
        .await
        .unwrap();
        let mut got = vec![next_change(&mut rx, wait).await.unwrap(), next_change(&mut rx, wait).await.unwrap()];
        got.sort_by(|x, y| x.table.cmp(&y.table));
        assert_eq!(got, [change(KMS_KEYS, "k1", "", 2), change(SSM_PARAMETERS, "acct:region", "/a/b", 1)]);
        b.write(vec![Write::delete(META, "m", "", Expect::Exists)]).await.unwrap();
        assert_eq!(next_change(&mut rx, wait).await, Some(change(META, "m", "", 0)));
        // a failed batch announces nothing
        let e = a.write(vec![Write::put(META, "n", "", vec![], Expect::Any), Write::check(META, "m", "", Expect::Exists)]).await;
        assert_eq!(e, Err(StoreError::Conflict { index: 1 }));
        a.write(vec![Write::delete(S3_OBJECTS, "bucket", "key", Expect::Exists)]).await.unwrap();
        a.write(vec![Write::put(META, "after", "", vec![], Expect::Any)]).await.unwrap();
        assert_eq!(next_change(&mut rx, wait).await, Some(change(META, "after", "", 1)));

        // keys that need JSON escaping arrive intact
        let (pk, sk) = ("q\"uo\\te\n\u{1}é😀", "[\"]");
        a.write(vec![Write::put(META, pk, sk, vec![], Expect::Any)]).await.unwrap();
        assert_eq!(next_change(&mut rx, wait).await, Some(change(META, pk, sk, 1)));

        // a change too large to describe in a NOTIFY becomes a resync marker
        let big = "x".repeat(9000);
        a.write(vec![Write::put(META, big.as_str(), "", vec![], Expect::Any)]).await.unwrap();
        assert!(next_change(&mut rx, wait).await.unwrap().is_resync());

        // the set of announced tables
        for t in [S3_OBJECTS, tables::S3_PARTS, tables::S3_UPLOADS, tables::S3_GARBAGE, SSM_VERSIONS] {
            assert!(!tables::notifies(t), "{}", t.name());
        }
        for t in [META, KMS_KEYS, tables::KMS_ALIASES, tables::ACCESS_KEYS, tables::S3_BUCKETS, SSM_PARAMETERS] {
            assert!(tables::notifies(t), "{}", t.name());
        }
        assert!(next_change(&mut rx, Duration::from_millis(300)).await.is_none());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_reconnects_and_resyncs() {
    with_database(|url| async move {
        let a = store(&url).await;
        let b = store(&url).await;
        let mut rx = b.changes().unwrap();
        let wait = Duration::from_secs(10);
        a.write(vec![Write::put(META, "before", "", vec![], Expect::Any)]).await.unwrap();
        assert_eq!(next_change(&mut rx, wait).await, Some(change(META, "before", "", 1)));

        // kill every listener connection of this database (both stores')
        let admin = admin(&url).await;
        let killed = admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name = 'coffer-listener'",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(killed.len(), 2);
        let killed_at = Instant::now();

        // the listener comes back and says that changes may have been missed
        let c = next_change(&mut rx, wait).await.expect("a resync marker");
        assert!(c.is_resync(), "{c:?}");
        assert!(b.listener_healthy_within(Duration::from_secs(1)));
        eprintln!("listener back after {:?}", killed_at.elapsed());

        // and delivers again
        a.write(vec![Write::put(META, "after", "", vec![], Expect::Any)]).await.unwrap();
        assert_eq!(next_change(&mut rx, wait).await, Some(change(META, "after", "", 1)));
        // the pool's connections were not affected
        assert!(b.get(META, "after", "").await.unwrap().is_some());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeat_goes_stale_when_the_database_is_unreachable() {
    with_database(|url| async move {
        let s = store(&url).await;
        assert!(s.listener_healthy_within(Duration::from_secs(1)));
        // Forbid new connections to the database and end the listener's: the listener can
        // neither heartbeat nor reconnect until connections are allowed again.
        let db: String = admin(&url).await.query_one("SELECT current_database()", &[]).await.unwrap().get(0);
        let admin = admin(&base_url().unwrap()).await;
        admin.batch_execute(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS false")).await.unwrap();
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND application_name = 'coffer-listener'",
                &[&db],
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!s.listener_healthy_within(Duration::from_secs(1)), "no heartbeat while the database refuses connections");
        let mut rx = s.changes().unwrap();
        admin.batch_execute(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true")).await.unwrap();
        let c = next_change(&mut rx, Duration::from_secs(15)).await.expect("a resync marker");
        assert!(c.is_resync());
        assert!(s.listener_healthy_within(Duration::from_secs(1)));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_errors_are_clear_and_hide_the_password() {
    let Some(base) = base_url() else { return };
    // a port nobody listens on
    let e = PostgresStore::connect("postgres://coffer:s3cr3t-pw@127.0.0.1:1/nodb?connect_timeout=2").await.unwrap_err();
    let m = e.to_string();
    eprintln!("unreachable: {m}");
    assert!(m.contains("cannot connect to PostgreSQL at coffer@127.0.0.1:1/nodb"), "{m}");
    assert!(!m.contains("s3cr3t-pw"), "{m}");
    // a database that does not exist, with a password in the URL
    let url = testing::with_db(&base, "coffer_no_such_db").replacen("postgres://postgres@", "postgres://postgres:hunter2@", 1);
    let m = PostgresStore::connect(&url).await.unwrap_err().to_string();
    eprintln!("no such database: {m}");
    assert!(m.contains("coffer_no_such_db") && !m.contains("hunter2"), "{m}");
    // a malformed URL that carries a password
    let m = PostgresStore::connect("postgres://u:hunter2@h:notaport/db").await.unwrap_err().to_string();
    assert!(!m.contains("hunter2"), "{m}");
    // sslmode=require against a server without TLS
    let url = format!("{}{}sslmode=require", base, if base.contains('?') { "&" } else { "?" });
    let m = PostgresStore::connect(&url).await.unwrap_err().to_string();
    assert!(m.contains("TLS") || m.contains("tls") || m.contains("SSL"), "{m}");
}

/// TLS, when `COFFER_TEST_PG_TLS` names a server that accepts only TLS (`scripts/pg.sh --tls`,
/// whose URL carries `sslmode=require&sslrootcert=<CA file>`). Uses that server's `postgres`
/// database with keys of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_verified_certificate() {
    let Some(url) = testing::pg_server("COFFER_TEST_PG_TLS") else { return };
    let s = store(&url).await;
    let b = store(&url).await;
    let mut rx = b.changes().unwrap();
    let pk = format!("tls-{}-{}", std::process::id(), Instant::now().elapsed().as_nanos());
    assert_eq!(s.write(vec![Write::put(META, pk.as_str(), "", b"v".to_vec(), Expect::Absent)]).await.unwrap(), vec![1]);
    assert_eq!(b.get(META, &pk, "").await.unwrap().unwrap().value, b"v");
    assert_eq!(next_change(&mut rx, Duration::from_secs(5)).await, Some(change(META, &pk, "", 1)));
    s.write(vec![Write::delete(META, pk.as_str(), "", Expect::Exists)]).await.unwrap();
    assert!(b.listener_healthy_within(Duration::from_secs(1)));

    // verify-full is accepted as a synonym (Coffer always verifies)
    let full = url.replace("sslmode=require", "sslmode=verify-full");
    PostgresStore::connect(&full).await.unwrap();
    // without the CA, the certificate is not trusted: refused, with a hint
    let (base, query) = url.split_once('?').unwrap();
    let no_ca: Vec<&str> = query.split('&').filter(|p| !p.starts_with("sslrootcert=")).collect();
    let m = PostgresStore::connect(&format!("{base}?{}", no_ca.join("&"))).await.unwrap_err().to_string();
    eprintln!("untrusted certificate: {m}");
    assert!(m.contains("sslrootcert"), "{m}");
    // the server refuses connections without TLS
    let plain = url.replace("sslmode=require", "sslmode=disable");
    assert!(PostgresStore::connect(&plain).await.is_err());
    // a CA file that does not exist
    let m = PostgresStore::connect(&url.replace("sslrootcert=", "sslrootcert=/nonexistent")).await.unwrap_err().to_string();
    assert!(m.contains("cannot read sslrootcert"), "{m}");
}
