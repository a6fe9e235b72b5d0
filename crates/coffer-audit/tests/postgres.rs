//! The PostgreSQL journal against a real server. Runs only when `COFFER_TEST_PG` holds a base
//! URL (a superuser, or a role that may create databases), e.g.
//! `COFFER_TEST_PG=$(scripts/pg.sh) cargo test -p coffer-audit`; each test creates its own
//! database and drops it at the end. `COFFER_TEST_PG_TLS` (`scripts/pg.sh --tls`) adds a TLS test.

mod common;

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer_audit::{
    Anchor, AuditError, EventBuilder, Filter, Journal, JournalConfig, POSTGRES_TABLE, Problem, Receipt, Resource,
    VerifyReport, read, read_postgres, verify, verify_postgres, verify_postgres_anchored,
};
use coffer_store::testing;
use coffer_util::time::Timestamp;
use common::{TempDir, encrypt_builder, key_arn, user};
use serde_json::{Value, json};

fn base_url() -> Option<String> {
    testing::pg_server("COFFER_TEST_PG")
}

async fn sql(url: &str) -> tokio_postgres::Client {
    testing::pg_client(url).await
}

/// Runs `test(url, name)` on a new, empty database, then drops it.
async fn with_database<F, Fut>(test: F)
where
    F: FnOnce(String, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(base) = base_url() else { return };
    testing::on_database(&base, "coffer_audit_test", test).await;
}

/// `verify_postgres` from async code (it blocks its caller, as `verify` does).
async fn verify_pg(url: &str) -> VerifyReport {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || verify_postgres(&url)).await.unwrap().unwrap()
}

async fn read_pg(url: &str, filter: &Filter, from_end: Option<usize>) -> Vec<Value> {
    let (url, filter) = (url.to_owned(), filter.clone());
    tokio::task::spawn_blocking(move || read_postgres(&url, &filter, from_end)).await.unwrap().unwrap()
}

fn broken(report: &VerifyReport) -> (u64, Option<u64>, Problem) {
    let b = report.broken.as_ref().unwrap_or_else(|| panic!("expected a break: {report}"));
    assert_eq!(b.file, std::path::Path::new(POSTGRES_TABLE));
    (b.line, b.sequence, b.problem.clone())
}

/// Appends `n` events `{"eventName": name, "i": i}` one after another.
async fn append_n(j: &Journal, name: &str, n: usize) -> Vec<Receipt> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(j.append(json!({"eventName": name, "i": i})).await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_one_gap_free_chain() {
    with_database(|url, _| async move {
        // Two nodes start at once on an empty database: one creates the table.
        let (a, b) = tokio::join!(
            Journal::open_postgres(&url, JournalConfig::default()),
            Journal::open_postgres(&url, JournalConfig::default())
        );
        let (a, b) = (Arc::new(a.unwrap()), Arc::new(b.unwrap()));
        assert!(a.head().is_none());
        let mut tasks = Vec::new();
        for (node, j) in [(0, &a), (1, &b)] {
            for t in 0..24 {
                let j = j.clone();
                tasks.push(tokio::spawn(async move {
                    let mut receipts = Vec::new();
                    for i in 0..25 {
                        let event = encrypt_builder(node * 100 + t, i);
                        receipts.push(j.append(event).await.unwrap());
                    }
                    receipts
                }));
            }
        }
        let mut receipts = Vec::new();
        for t in tasks {
            receipts.extend(t.await.unwrap());
        }
        let total = 2 * 24 * 25;
        let sequences: BTreeSet<u64> = receipts.iter().map(|r| r.sequence).collect();
        assert_eq!(sequences, (1..=total as u64).collect::<BTreeSet<_>>(), "one gap-free chain, no duplicates");
        let (sa, sb) = (a.stats(), b.stats());
        assert_eq!(sa.events + sb.events, total as u64);
        assert!(sa.events > 0 && sb.events > 0);
        assert!(sa.batches + sb.batches < total as u64, "group commit: {sa:?} {sb:?}");
        eprintln!("two nodes: {sa:?}, {sb:?}");

        let report = verify_pg(&url).await;
        assert!(report.is_ok(), "{report}");
        assert_eq!((report.files, report.events, report.last_sequence), (1, total as u64, total as u64));
        let last = receipts.iter().find(|r| r.sequence == total as u64).unwrap();
        assert_eq!(report.last_hash, last.hash_hex());
        assert!(report.partial_tail.is_none());

        // A third node opening later continues the chain.
        drop((a, b));
        let c = Journal::open_postgres(&url, JournalConfig::default()).await.unwrap();
        assert_eq!(c.head(), Some(*last));
        assert_eq!(c.append(json!({"eventName": "Later"})).await.unwrap().sequence, total as u64 + 1);
        assert!(verify_pg(&url).await.is_ok());
    })
    .await;
}

/// 200 events like tests/query.rs's: event i by user i%4, on key i%5, Encrypt or Decrypt
/// alternately, at base + i minutes.
fn event(base: Timestamp, i: usize) -> EventBuilder {
    EventBuilder::new("kms.amazonaws.com", if i.is_multiple_of(2) { "Encrypt" } else { "Decrypt" }, "us-east-1")
        .time(base.plus_secs(60 * i as i64))
        .identity(user(i % 4))
        .request_parameters(json!({"keyId": key_arn(i % 5), "n": i}))
        .resource(Resource { arn: key_arn(i % 5), account_id: "111122223333".into(), kind: "AWS::KMS::Key".into() })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_holds_what_the_files_hold_and_filters_alike() {
    with_database(|url, _| async move {
        let dir = TempDir::new("pg-parity");
        let base = Timestamp::from_secs(1_800_000_000);
        let files =
            Journal::open(dir.path(), JournalConfig { max_file_bytes: 8 * 1024, ..Default::default() }).unwrap();
        let table = Journal::open_postgres(&url, JournalConfig::default()).await.unwrap();
        for i in 0..200 {
            let map = event(base, i).build();
            let (f, t) = (files.append(map.clone()).await.unwrap(), table.append(map).await.unwrap());
            assert_eq!(f, t, "the same record, the same sequence and hash");
        }
        drop(files);
        let (fv, tv) = (verify(dir.path()).unwrap(), verify_pg(&url).await);
        assert!(tv.is_ok(), "{tv}");
        assert_eq!((fv.events, &fv.last_hash), (tv.events, &tv.last_hash));

        let ns =
            |events: &[Value]| events.iter().map(|e| e["requestParameters"]["n"].as_u64().unwrap()).collect::<Vec<_>>();
        let by_user = Filter { principal_arn: Some(user(1).arn), ..Default::default() };
        let filters = [
            (Filter::default(), 200),
            (by_user.clone(), 50),
            (Filter { event_name: Some("Decrypt".into()), ..by_user.clone() }, 50),
            (Filter { event_name: Some("Encrypt".into()), ..by_user }, 0),
            (Filter { resource: Some("00000003-12ab".into()), ..Default::default() }, 40),
            (
                Filter {
                    start_time: Some(base.plus_secs(600)),
                    end_time: Some(base.plus_secs(1140)),
                    ..Default::default()
                },
                10,
            ),
            (Filter { start_time: Some(base.plus_secs(60 * 190)), ..Default::default() }, 10),
            (Filter { event_source: Some("ssm.amazonaws.com".into()), ..Default::default() }, 0),
            (
                Filter {
                    event_source: Some("kms.amazonaws.com".into()),
                    event_name: Some("Encrypt".into()),
                    ..Default::default()
                },
                100,
            ),
            // A value the journal writes escaped: only the exact check applies.
            (Filter { event_name: Some("En\"crypt".into()), ..Default::default() }, 0),
        ];
        for (filter, count) in &filters {
            for from_end in [None, Some(1), Some(3), Some(12), Some(70), Some(500)] {
                let want = read(dir.path(), filter, from_end).unwrap();
                let got = read_pg(&url, filter, from_end).await;
                assert_eq!(got, want, "{filter:?} {from_end:?}");
                assert_eq!(got.len(), from_end.map_or(*count, |n| n.min(*count)), "{filter:?} {from_end:?}");
            }
        }
        assert_eq!(ns(&read_pg(&url, &Filter::default(), Some(3)).await), vec![197, 198, 199]);
        assert!(read_pg(&url, &Filter::default(), Some(0)).await.is_empty());
        // Paging: more records than a page.
        for i in 200..2300 {
            table.append(event(base, i)).await.unwrap();
        }
        assert_eq!(ns(&read_pg(&url, &Filter::default(), None).await), (0..2300).collect::<Vec<_>>());
        let user3 = Filter { principal_arn: Some(user(3).arn), ..Default::default() };
        assert_eq!(ns(&read_pg(&url, &user3, Some(1000)).await), (3..2300).step_by(4).collect::<Vec<_>>());
        let report = verify_pg(&url).await;
        assert!(report.is_ok() && report.events == 2300, "{report}");
    })
    .await;
}

/// Runs `tamper` (SQL) on a copy of a 20-record journal, verifies, and restores the records.
async fn tampered(db: &tokio_postgres::Client, url: &str, tamper: &str) -> VerifyReport {
    db.batch_execute(tamper).await.unwrap();
    let report = verify_pg(url).await;
    db.batch_execute(
        "BEGIN; DELETE FROM coffer_audit_events; INSERT INTO coffer_audit_events SELECT * FROM pristine; COMMIT;",
    )
    .await
    .unwrap();
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_the_first_tampered_record() {
    with_database(|url, _| async move {
        let j = Journal::open_postgres(&url, JournalConfig::default()).await.unwrap();
        let receipts = append_n(&j, "Encrypt", 20).await;
        drop(j);
        let db = sql(&url).await;
        db.batch_execute("CREATE TABLE pristine AS SELECT * FROM coffer_audit_events").await.unwrap();
        let hash_of = |n: usize| receipts[n - 1].hash_hex();
        let good = verify_pg(&url).await;
        assert!(good.is_ok(), "{good}");
        assert_eq!((good.events, good.last_hash.as_str()), (20, hash_of(20).as_str()));

        // An edited record: the next one's link breaks.
        let r = tampered(&db, &url, r#"UPDATE coffer_audit_events SET record = replace(record, '"i":4', '"i":40') WHERE sequence = 5"#).await;
        assert!(matches!(broken(&r), (6, Some(6), Problem::HashMismatch { .. })), "{r}");
        assert_eq!((r.events, r.last_sequence), (5, 5));
        // An edited record whose filter column was left alone: named itself.
        let r = tampered(&db, &url, "UPDATE coffer_audit_events SET record = replace(record, 'Encrypt', 'Decrypt') WHERE sequence = 5").await;
        assert_eq!(broken(&r), (5, Some(5), Problem::ColumnMismatch { column: "event_name" }));
        // An edited column.
        let r = tampered(&db, &url, "UPDATE coffer_audit_events SET event_name = 'Decrypt' WHERE sequence = 7").await;
        assert_eq!(broken(&r), (7, Some(7), Problem::ColumnMismatch { column: "event_name" }));
        // A deleted record.
        let r = tampered(&db, &url, "DELETE FROM coffer_audit_events WHERE sequence = 5").await;
        assert_eq!(broken(&r), (6, Some(6), Problem::SequenceMismatch { expected: 5, found: 6 }));
        // A record inserted in the middle, even one linked correctly to its predecessor.
        let forged = format!(r#"{{"sequence":6,"previousHash":"{}","eventName":"Forged"}}"#, hash_of(5));
        let r = tampered(
            &db,
            &url,
            &format!(
                "UPDATE coffer_audit_events SET sequence = sequence + 1000 WHERE sequence > 5;
                 UPDATE coffer_audit_events SET sequence = sequence - 999 WHERE sequence > 1000;
                 INSERT INTO coffer_audit_events (sequence, record, event_name) VALUES (6, '{forged}', 'Forged');"
            ),
        )
        .await;
        assert_eq!(broken(&r), (7, Some(6), Problem::SequenceMismatch { expected: 7, found: 6 }));
        // A record appended without the chain.
        let r = tampered(
            &db,
            &url,
            &format!(
                "INSERT INTO coffer_audit_events (sequence, record) VALUES (21, '{{\"sequence\":21,\"previousHash\":\"{}\"}}')",
                coffer_audit::GENESIS_HASH
            ),
        )
        .await;
        assert!(matches!(broken(&r), (21, Some(21), Problem::HashMismatch { .. })), "{r}");
        // Two records swapped (rows and all).
        let r = tampered(
            &db,
            &url,
            "UPDATE coffer_audit_events SET sequence = CASE sequence WHEN 5 THEN 1006 ELSE 1005 END WHERE sequence IN (5, 6);
             UPDATE coffer_audit_events SET sequence = sequence - 1000 WHERE sequence > 1000;",
        )
        .await;
        assert_eq!(broken(&r), (5, Some(6), Problem::SequenceMismatch { expected: 5, found: 6 }));
        // A record moved to another key.
        let r = tampered(&db, &url, "UPDATE coffer_audit_events SET sequence = 100 WHERE sequence = 20").await;
        assert_eq!(broken(&r), (100, Some(20), Problem::ColumnMismatch { column: "sequence" }));
        // Garbage.
        let r = tampered(&db, &url, "UPDATE coffer_audit_events SET record = 'not json' WHERE sequence = 3").await;
        assert_eq!(broken(&r), (3, None, Problem::Unparseable));
        // The head deleted: missing, unless an anchor vouches for the record before the rest.
        let r = tampered(&db, &url, "DELETE FROM coffer_audit_events WHERE sequence = 1").await;
        assert_eq!(broken(&r), (2, Some(2), Problem::MissingHead { first: 2 }));
        db.batch_execute("DELETE FROM coffer_audit_events WHERE sequence = 1").await.unwrap();
        let anchors = vec![Anchor { sequence: 1, hash: hash_of(1) }, Anchor { sequence: 20, hash: hash_of(20).to_uppercase() }];
        let verify_anchored = |anchors: Vec<Anchor>| {
            let u = url.clone();
            tokio::task::spawn_blocking(move || verify_postgres_anchored(&u, &anchors).unwrap())
        };
        let r = verify_anchored(anchors.clone()).await.unwrap();
        assert!(r.is_ok(), "{r}");
        assert_eq!((r.events, r.last_sequence, r.anchors_matched), (19, 20, 2));
        // A rewritten record: its anchor differs.
        let wrong = vec![Anchor { sequence: 10, hash: hash_of(11) }];
        let r = verify_anchored([anchors.clone(), wrong].concat()).await.unwrap();
        assert!(matches!(broken(&r), (10, Some(10), Problem::AnchorMismatch { .. })), "{r}");
        // Cut off at the end: only an anchor tells.
        db.batch_execute("DELETE FROM coffer_audit_events WHERE sequence > 17").await.unwrap();
        let r = verify_anchored(anchors).await.unwrap();
        assert_eq!(broken(&r), (0, None, Problem::AnchorMissing { anchored: 20 }));
        assert_eq!((r.events, r.last_sequence), (16, 17));

        // No table: an error, not an empty journal.
        db.batch_execute("DROP TABLE coffer_audit_events").await.unwrap();
        let u = url.clone();
        let e = tokio::task::spawn_blocking(move || verify_postgres(&u)).await.unwrap().unwrap_err();
        assert!(matches!(&e, AuditError::Database(m) if m.contains("does not exist")), "{e}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_refuses_to_bury_a_damaged_head() {
    with_database(|url, _| async move {
        let j = Journal::open_postgres(&url, JournalConfig::default()).await.unwrap();
        append_n(&j, "Encrypt", 10).await;
        let db = sql(&url).await;
        // A running journal finds the newest record damaged: its appends fail.
        db.batch_execute("UPDATE coffer_audit_events SET record = replace(record, '\"sequence\":10', '\"sequence\":11') WHERE sequence = 10")
            .await
            .unwrap();
        let e = j.append(json!({"eventName": "X"})).await.unwrap_err();
        assert!(matches!(&e, AuditError::Corrupt { offset: 10, .. }), "{e}");
        assert!(e.to_string().contains("at sequence 10"), "{e}");
        drop(j);
        // A journal does not open on a broken tail.
        db.batch_execute("UPDATE coffer_audit_events SET record = replace(record, '\"sequence\":11', '\"sequence\":10') WHERE sequence = 10; DELETE FROM coffer_audit_events WHERE sequence = 8")
            .await
            .unwrap();
        let e = Journal::open_postgres(&url, JournalConfig::default()).await.unwrap_err();
        assert!(matches!(&e, AuditError::Corrupt { offset: 9, .. }), "{e}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_fail_closed_while_the_database_is_unreachable() {
    // Nothing listens: open fails, fast.
    let t0 = Instant::now();
    let e = Journal::open_postgres("postgres://coffer@127.0.0.1:1/coffer?connect_timeout=5", JournalConfig::default())
        .await
        .unwrap_err();
    assert!(matches!(&e, AuditError::Database(m) if m.contains("127.0.0.1:1")), "{e}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    let e = Journal::open_postgres("postgres://coffer:s3cret@127.0.0.1:1/coffer", JournalConfig::default())
        .await
        .unwrap_err();
    assert!(!e.to_string().contains("s3cret"), "{e}");

    with_database(|url, name| async move {
        let j = Journal::open_postgres(&url, JournalConfig::default()).await.unwrap();
        append_n(&j, "Before", 3).await;
        // (From another database: a database cannot disallow connections to itself.)
        let admin = sql(&base_url().unwrap()).await;
        let kill = format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'coffer-audit' AND datname = '{name}'"
        );

        // The connection breaks while idle (a restart, a proxy's idle timeout): the next batch
        // reconnects without failing.
        let killed: i64 = admin.query_one(&kill, &[]).await.unwrap().get(0);
        assert_eq!(killed, 1);
        assert_eq!(j.append(json!({"eventName": "AfterReconnect"})).await.unwrap().sequence, 4);

        // The database becomes unreachable: every append fails, none lands.
        admin.batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await.unwrap();
        let _: i64 = admin.query_one(&kill, &[]).await.unwrap().get(0);
        let results: Vec<_> = futures_join((0..20).map(|i| j.append(json!({"eventName": "Lost", "i": i})))).await;
        for r in &results {
            let e = r.as_ref().unwrap_err();
            assert!(matches!(e, AuditError::Database(_)), "{e}");
        }
        assert!(j.stats().failed_batches >= 1);
        assert!(!j.is_poisoned());

        // Back: the chain continues where the durable records end.
        admin.batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await.unwrap();
        assert_eq!(j.append(json!({"eventName": "Back"})).await.unwrap().sequence, 5);
        drop(j);
        let report = verify_pg(&url).await;
        assert!(report.is_ok() && report.events == 5, "{report}");
        let names: Vec<Value> = read_pg(&url, &Filter::default(), None).await.iter().map(|e| e["eventName"].clone()).collect();
        assert_eq!(names, vec![json!("Before"), json!("Before"), json!("Before"), json!("AfterReconnect"), json!("Back")]);
    })
    .await;
}

/// Awaits all, in order (the appends were queued when the futures were made).
async fn futures_join<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let futures: Vec<F> = futures.collect();
    let mut out = Vec::new();
    for f in futures {
        out.push(f.await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_with_insert_and_select_only_can_append() {
    with_database(|url, name| async move {
        drop(Journal::open_postgres(&url, JournalConfig::default()).await.unwrap());
        let db = sql(&url).await;
        let role = format!("{name}_writer");
        db.batch_execute(&format!(
            "CREATE ROLE {role} LOGIN; REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT SELECT, INSERT ON coffer_audit_events TO {role};"
        ))
        .await
        .unwrap();
        let role_url = {
            let (scheme, rest) = url.split_once("://").unwrap();
            let at = rest.find('@').map(|i| i + 1).unwrap_or(0);
            format!("{scheme}://{role}@{}", &rest[at..])
        };
        let j = Journal::open_postgres(&role_url, JournalConfig::default()).await.unwrap();
        append_n(&j, "Encrypt", 3).await;
        drop(j);
        assert!(verify_pg(&url).await.is_ok());
        let e = sql(&role_url).await.batch_execute("DELETE FROM coffer_audit_events").await.unwrap_err();
        assert!(e.to_string().contains("permission") || format!("{e:?}").contains("permission"), "{e:?}");
        drop(db);
        sql(&url).await.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}")).await.unwrap();
    })
    .await;
}

/// TLS, when `COFFER_TEST_PG_TLS` names a server that accepts only TLS (`scripts/pg.sh --tls`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_verified_certificate() {
    let Some(base) = testing::pg_server("COFFER_TEST_PG_TLS") else { return };
    testing::on_database(&base, "coffer_audit_test", |url, _| async move {
        let j = Journal::open_postgres(&url, JournalConfig::default()).await.unwrap();
        append_n(&j, "Encrypt", 3).await;
        drop(j);
        let report = verify_pg(&url).await;
        assert!(report.is_ok() && report.events == 3, "{report}");
        assert_eq!(read_pg(&url, &Filter::default(), Some(2)).await.len(), 2);
        // Without the CA, the certificate is not trusted.
        let (b, q) = url.split_once('?').unwrap();
        let no_ca: Vec<&str> = q.split('&').filter(|p| !p.starts_with("sslrootcert=")).collect();
        let e =
            Journal::open_postgres(&format!("{b}?{}", no_ca.join("&")), JournalConfig::default()).await.unwrap_err();
        assert!(e.to_string().contains("sslrootcert"), "{e}");
    })
    .await;
}
