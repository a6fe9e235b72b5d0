//! Several Coffer nodes on one PostgreSQL database (COFFER_IT_PG; scripts/test.sh starts one).
//! Without it these tests say so and pass vacuously — the test command always sets it.
//!
//! What they prove: a change on one node reaches the other within the documented bound (1 s),
//! security-relevant changes included; concurrent writers on two nodes serialise through the
//! database with no lost or duplicated version; a node killed with SIGKILL loses no write it
//! acknowledged; `coffer migrate` moves a SQLite installation without decrypting anything;
//! a node with the wrong root key refuses to start.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_kms::primitives::Blob;
use aws_sdk_ssm::types::ParameterType;
use coffer_it::*;

/// How long a change may take to reach another node (docs/design.md), plus scheduling slack.
const BOUND: Duration = Duration::from_millis(1500);

fn fresh_db(tag: &str) -> Option<String> {
    let base = pg_base().or_else(|| {
        eprintln!("skipped: COFFER_IT_PG not set");
        None
    })?;
    let name = format!("coffer_mn_{tag}_{}", std::process::id());
    for sql in [format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"), format!("CREATE DATABASE {name}")] {
        let out = std::process::Command::new("psql").arg(&base).args(["-qc", &sql]).output().unwrap();
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let (head, _) = base.rsplit_once('/').unwrap();
    Some(format!("{head}/{name}"))
}

fn node(url: &str, dir: &Path) -> Coffer {
    Coffer::start(Options { data_dir: Some(dir.to_owned()), args: vec!["--store".into(), url.into()], ..Default::default() })
}

/// Node A initialises the database; node B gets A's root key and admin credentials.
fn two_nodes(tag: &str) -> Option<(Coffer, Coffer)> {
    let url = fresh_db(tag)?;
    let base = temp_dir(tag);
    let (da, db) = (base.join("a"), base.join("b"));
    let a = node(&url, &da);
    std::fs::create_dir_all(&db).unwrap();
    for f in ["root.key", "admin-credentials"] {
        std::fs::copy(da.join(f), db.join(f)).unwrap();
    }
    let b = node(&url, &db);
    Some((a, b))
}

/// Polls `check` until it holds; returns how long that took (panics after `BOUND`).
async fn within<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < BOUND, "{what}: not seen on the other node within {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn changes_reach_the_other_node_within_a_second() {
    let Some((a, b)) = two_nodes("fresh") else { return };
    let (ka, kb) = (a.kms(), b.kms());
    let key = ka.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    let ct = ka.encrypt().key_id(&key).plaintext(Blob::new("across nodes")).send().await.unwrap().ciphertext_blob.unwrap();
    // Encrypt on A, decrypt on B (B learned of the key from A's notification).
    within("a new key", || async { kb.decrypt().ciphertext_blob(ct.clone()).send().await.is_ok() }).await;
    // Disable on A: B refuses within the bound.
    ka.disable_key().key_id(&key).send().await.unwrap();
    let t = within("a disabled key", || async { any_code(kb.decrypt().ciphertext_blob(ct.clone()).send().await) == "DisabledException" }).await;
    eprintln!("disable seen on B after {t:?}");
    ka.enable_key().key_id(&key).send().await.unwrap();
    within("a re-enabled key", || async { kb.decrypt().ciphertext_blob(ct.clone()).send().await.is_ok() }).await;
    // An alias made on A resolves on B.
    ka.create_alias().alias_name("alias/shared").target_key_id(&key).send().await.unwrap();
    within("an alias", || async { kb.encrypt().key_id("alias/shared").plaintext(Blob::new("x")).send().await.is_ok() }).await;
    // A key policy change on A (denying everyone Decrypt) applies on B.
    let deny = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"},
        {"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}]}"#;
    ka.put_key_policy().key_id(&key).policy(deny).bypass_policy_lockout_safety_check(true).send().await.unwrap();
    within("a key policy", || async { any_code(kb.decrypt().ciphertext_blob(ct.clone()).send().await) == "AccessDeniedException" }).await;
    // An access key made on A works on B; deleted on A, it stops working on B.
    let iam = a.iam();
    iam.create_user().user_name("worker").send().await.unwrap();
    iam.put_user_policy()
        .user_name("worker")
        .policy_name("kms")
        .policy_document(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}}"#)
        .send()
        .await
        .unwrap();
    let k = iam.create_access_key().user_name("worker").send().await.unwrap().access_key.unwrap();
    let worker_b = b.kms_with(&Creds::new(&k.access_key_id, &k.secret_access_key));
    within("a new access key", || async { worker_b.list_keys().send().await.is_ok() }).await;
    iam.delete_access_key().user_name("worker").access_key_id(&k.access_key_id).send().await.unwrap();
    let t = within("a deleted access key", || async { worker_b.list_keys().send().await.is_err() }).await;
    eprintln!("access key deletion seen on B after {t:?}");
    // A parameter written on A reads on B.
    a.ssm().put_parameter().name("/shared/p").value("v1").r#type(ParameterType::String).send().await.unwrap();
    let sb = b.ssm();
    within("a parameter", || async {
        sb.get_parameter().name("/shared/p").send().await.ok().and_then(|o| o.parameter).and_then(|p| p.value).as_deref() == Some("v1")
    })
    .await;
    assert_eq!(a.stop().code(), Some(0));
    assert_eq!(b.stop().code(), Some(0));
}

#[tokio::test]
async fn concurrent_writers_on_two_nodes_lose_nothing() {
    let Some((a, b)) = two_nodes("writers") else { return };
    let name = "/contended";
    a.ssm().put_parameter().name(name).value("start").r#type(ParameterType::String).send().await.unwrap();
    let mut tasks = Vec::new();
    for (n, c) in [(0, a.ssm()), (1, b.ssm())] {
        for t in 0..32 {
            let c = c.clone();
            tasks.push(tokio::spawn(async move {
                let mut ok = 0u64;
                for i in 0..4 {
                    let r = c.put_parameter().name(name).value(format!("node{n}-task{t}-{i}")).overwrite(true).send().await;
                    match r {
                        Ok(_) => ok += 1,
                        Err(e) => assert_eq!(aws_sdk_ssm::error::ProvideErrorMetadata::code(&e), Some("TooManyUpdates"), "{e:?}"),
                    }
                }
                ok
            }));
        }
    }
    let mut acked = 1u64;
    for t in tasks {
        acked += t.await.unwrap();
    }
    // Every acknowledged write is a version; versions are 1..=N without gaps or repeats.
    let mut versions = Vec::new();
    let mut token = None;
    loop {
        let page = b.ssm().get_parameter_history().name(name).set_next_token(token).max_results(50).send().await.unwrap();
        versions.extend(page.parameters.unwrap_or_default().into_iter().map(|p| p.version));
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    // History keeps the newest 100 versions, as AWS does.
    let newest = versions.iter().max().copied().unwrap() as u64;
    assert_eq!(newest, acked, "every acknowledged write, and nothing else, is a version");
    versions.sort();
    assert!(versions.windows(2).all(|w| w[1] == w[0] + 1), "versions have no gaps: {versions:?}");
    assert_eq!(a.stop().code(), Some(0));
    assert_eq!(b.stop().code(), Some(0));
}

#[tokio::test]
async fn sigkill_loses_no_acknowledged_write() {
    let Some((a, b)) = two_nodes("kill") else { return };
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let ssm = a.ssm();
    let mut tasks = Vec::new();
    for t in 0..16 {
        let (ssm, acked, stop) = (ssm.clone(), acked.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let name = format!("/load/t{t}/p{i}");
                if ssm.put_parameter().name(&name).value("v").r#type(ParameterType::String).send().await.is_ok() {
                    acked.lock().unwrap().push(name);
                }
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pid = a.pid();
    assert!(std::process::Command::new("kill").arg("-KILL").arg(pid.to_string()).status().unwrap().success());
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    drop(a);
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() > 20, "the load ran ({} writes)", acked.len());
    let sb = b.ssm();
    for chunk in acked.chunks(10) {
        let out = sb.get_parameters().set_names(Some(chunk.to_vec())).send().await.unwrap();
        assert!(out.invalid_parameters.unwrap_or_default().is_empty(), "an acknowledged write was lost");
    }
    eprintln!("{} acknowledged writes all present after SIGKILL", acked.len());
    assert_eq!(b.stop().code(), Some(0));
}

#[tokio::test]
async fn migrate_moves_a_sqlite_installation() {
    let Some(url) = fresh_db("migrate") else { return };
    let dir = temp_dir("migrate").join("data");
    // A SQLite installation (opting out of the harness's PostgreSQL).
    let c = Coffer::start(Options { data_dir: Some(dir.clone()), args: vec!["--store".into(), "sqlite".into()], ..Default::default() });
    let kms = c.kms();
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    kms.create_alias().alias_name("alias/moved").target_key_id(&key).send().await.unwrap();
    let ct = kms.encrypt().key_id(&key).plaintext(Blob::new("moved intact")).send().await.unwrap().ciphertext_blob.unwrap();
    c.ssm().put_parameter().name("/moved/secret").value("still secret").r#type(ParameterType::SecureString).send().await.unwrap();
    let s3 = c.s3();
    s3.create_bucket().bucket("moved").send().await.unwrap();
    s3.put_object().bucket("moved").key("k").body(aws_sdk_s3::primitives::ByteStream::from_static(b"object bytes")).send().await.unwrap();
    assert_eq!(c.stop().code(), Some(0));
    // The database file holds sealed values; migrate copies them as they are.
    let out = std::process::Command::new(coffer_bin()).args(["migrate", "--from"]).arg(&dir).args(["--to", &url]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("moved"));
    // A second migration into the same (now non-empty) database is refused.
    let again = std::process::Command::new(coffer_bin()).args(["migrate", "--from"]).arg(&dir).args(["--to", &url]).output().unwrap();
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("must be empty"));
    let p = node(&url, &dir);
    let kms = p.kms();
    let d = kms.decrypt().ciphertext_blob(ct).send().await.unwrap();
    assert_eq!(d.plaintext.unwrap().as_ref(), b"moved intact");
    assert!(kms.encrypt().key_id("alias/moved").plaintext(Blob::new("x")).send().await.is_ok());
    let v = p.ssm().get_parameter().name("/moved/secret").with_decryption(true).send().await.unwrap();
    assert_eq!(v.parameter.unwrap().value.as_deref(), Some("still secret"));
    let o = p.s3().get_object().bucket("moved").key("k").send().await.unwrap();
    assert_eq!(o.body.collect().await.unwrap().into_bytes().as_ref(), b"object bytes");
    assert_eq!(p.stop().code(), Some(0));
}

#[tokio::test]
async fn a_node_with_another_root_key_refuses_to_start() {
    let Some(url) = fresh_db("rootkey") else { return };
    let base = temp_dir("rootkey");
    let a = node(&url, &base.join("a"));
    std::fs::create_dir_all(base.join("b")).unwrap();
    // B has no key: refused, with a clear message.
    match Coffer::try_start(Options { data_dir: Some(base.join("b")), args: vec!["--store".into(), url.clone()], ..Default::default() }) {
        Started::Exited { output, .. } => assert!(output.contains("needs its root key"), "{output}"),
        Started::Running(_) => panic!("a node without the root key started"),
    }
    // B has a different key: refused, nothing changed.
    std::fs::write(base.join("b/root.key"), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
    match Coffer::try_start(Options { data_dir: Some(base.join("b")), args: vec!["--store".into(), url.clone()], ..Default::default() }) {
        Started::Exited { output, .. } => assert!(output.contains("does not open the shared data"), "{output}"),
        Started::Running(_) => panic!("a node with the wrong root key started"),
    }
    assert!(a.kms().list_keys().send().await.is_ok());
    assert_eq!(a.stop().code(), Some(0));
}

/// With PostgreSQL, every node's audit events go to one hash chain in the database.
#[tokio::test]
async fn audit_events_of_all_nodes_form_one_chain() {
    let Some(url) = fresh_db("audit") else { return };
    let base = temp_dir("audit-nodes");
    let (da, db) = (base.join("a"), base.join("b"));
    let a = node(&url, &da);
    std::fs::create_dir_all(&db).unwrap();
    for f in ["root.key", "admin-credentials"] {
        std::fs::copy(da.join(f), db.join(f)).unwrap();
    }
    let b = node(&url, &db);
    let (ka, kb) = (a.kms(), b.kms());
    let mut tasks = Vec::new();
    for i in 0..20 {
        let k = if i % 2 == 0 { ka.clone() } else { kb.clone() };
        tasks.push(tokio::spawn(async move { k.create_key().send().await.unwrap() }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let run = |args: &[&str]| {
        let out = std::process::Command::new(coffer_it::coffer_bin()).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr))
    };
    let (code, out) = run(&["audit", "verify", "--store", &url]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&["audit", "tail", "--store", &url, "--event", "CreateKey", "-n", "100"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.lines().count(), 20, "{out}");
    // No journal files: the events are in the database.
    assert!(!da.join("audit").exists() && !db.join("audit").exists());
}
