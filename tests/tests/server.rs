//! The server around KMS: SigV4 authentication (checked against aws-sigv4 and the SDK), durable
//! storage across restarts, the root-key refusal, TLS, graceful shutdown, the request log.

use std::time::{Duration, SystemTime};

use aws_sdk_kms::primitives::Blob;
use coffer_it::{Coffer, Options, Started, err, kms_raw, raw, sign, temp_dir};

fn json_headers(target: &str) -> Vec<(String, String)> {
    vec![
        ("content-type".into(), "application/x-amz-json-1.1".into()),
        ("x-amz-target".into(), format!("TrentService.{target}")),
    ]
}

#[tokio::test]
async fn sigv4_rejections() {
    let dir = temp_dir("auth");
    let c = Coffer::durable(&dir.join("data"));
    let (ak, sk) = (c.access_key.clone(), c.secret_key.clone());
    let a = c.addr.clone();
    // The SDK's own requests verify.
    c.kms().list_keys().send().await.unwrap();
    // No authentication at all.
    let r = kms_raw(&a, "ListKeys", b"{}", None);
    assert_eq!((r.status, r.error_type(), r.message()), (400, "MissingAuthenticationTokenException".into(), "Request is missing Authentication Token".into()));
    // Unknown access key; wrong secret.
    let (c1, m1) = err(c.kms_as("AKIAIOSFODNN7EXAMPLE", &sk).list_keys().send().await);
    assert_eq!((c1.as_str(), m1.as_str()), ("UnrecognizedClientException", "The security token included in the request is invalid."));
    let (c2, m2) = err(c.kms_as(&ak, "wrong-secret").list_keys().send().await);
    assert_eq!(c2, "InvalidSignatureException");
    assert!(m2.starts_with("The request signature we calculated does not match the signature you provided."), "{m2}");
    // Temporary credentials do not exist yet: a session token is refused.
    let r = {
        let mut h = json_headers("ListKeys");
        h.push(("x-amz-security-token".into(), "FwoGZXIvYXdzE".into()));
        let (h, _) = sign(&a, "POST", "/", "", &h, b"{}", &ak, &sk, "kms", SystemTime::now(), None);
        raw(&a, "POST", "/", &h, b"{}")
    };
    assert_eq!(r.error_type(), "UnrecognizedClientException");
    // Request time more than 15 minutes off, both directions.
    for (offset, prefix) in [(-16i64 * 60, "Signature expired: "), (16 * 60, "Signature not yet current: ")] {
        let t = if offset < 0 { SystemTime::now() - Duration::from_secs((-offset) as u64) } else { SystemTime::now() + Duration::from_secs(offset as u64) };
        let (h, _) = sign(&a, "POST", "/", "", &json_headers("ListKeys"), b"{}", &ak, &sk, "kms", t, None);
        let r = raw(&a, "POST", "/", &h, b"{}");
        assert_eq!(r.error_type(), "InvalidSignatureException");
        assert!(r.message().starts_with(prefix) && r.message().ends_with("15 min.)"), "{}", r.message());
    }
    // 14 minutes off is fine.
    let (h, _) = sign(&a, "POST", "/", "", &json_headers("ListKeys"), b"{}", &ak, &sk, "kms", SystemTime::now() - Duration::from_secs(14 * 60), None);
    assert_eq!(raw(&a, "POST", "/", &h, b"{}").status, 200);
    // A body changed after signing is caught (the body hash is part of the signature).
    let (h, _) = sign(&a, "POST", "/", "", &json_headers("GenerateRandom"), br#"{"NumberOfBytes":8}"#, &ak, &sk, "kms", SystemTime::now(), None);
    let r = raw(&a, "POST", "/", &h, br#"{"NumberOfBytes":9}"#);
    assert_eq!(r.error_type(), "InvalidSignatureException");
    // A signed header changed after signing.
    let (mut h, _) = sign(&a, "POST", "/", "", &json_headers("ListKeys"), b"{}", &ak, &sk, "kms", SystemTime::now(), None);
    for (k, v) in h.iter_mut() {
        if k == "x-amz-target" {
            *v = "TrentService.ListAliases".into();
        }
    }
    assert_eq!(raw(&a, "POST", "/", &h, b"{}").error_type(), "InvalidSignatureException");
    // Malformed Authorization headers.
    for bad in [
        "AWS4-HMAC-SHA256 Credential=x",
        "AWS4-HMAC-SHA1 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/kms/aws4_request SignedHeaders=host Signature=00",
    ] {
        let mut h = json_headers("ListKeys");
        h.push(("authorization".into(), bad.into()));
        h.push(("x-amz-date".into(), "20260101T000000Z".into()));
        let r = raw(&a, "POST", "/", &h, b"{}");
        assert_eq!((r.status, r.error_type()), (400, "IncompleteSignatureException".into()), "{bad}");
    }
    // Signatures from aws-sigv4 over many request shapes verify: extra headers (repeated,
    // padded, mixed case), query strings needing encoding, presigned query form.
    let shapes: &[(&str, &[(&str, &str)])] = &[
        ("", &[]),
        ("b=2&a=1&a=0&empty=", &[("X-Custom-Header", "  spaced   value ")]),
        ("key=a%20b%2Bc&%C3%A9t%C3%A9=%E2%9C%93", &[("x-amz-meta-one", "1"), ("User-Agent", "coffer-it/1.0 (test)")]),
    ];
    for (query, extra) in shapes {
        let mut hs = json_headers("ListKeys");
        hs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let (h, q) = sign(&a, "POST", "/", query, &hs, b"{}", &ak, &sk, "kms", SystemTime::now(), None);
        let path = if q.is_empty() { "/".to_string() } else { format!("/?{q}") };
        let r = raw(&a, "POST", &path, &h, b"{}");
        assert_eq!(r.status, 200, "query {query:?}: {}", String::from_utf8_lossy(&r.body));
    }
    let (h, q) = sign(&a, "POST", "/", "", &json_headers("ListKeys"), b"{}", &ak, &sk, "kms", SystemTime::now(), Some(Duration::from_secs(300)));
    let h: Vec<_> = h.into_iter().filter(|(k, _)| k != "authorization").collect();
    let r = raw(&a, "POST", &format!("/?{q}"), &h, b"{}");
    assert_eq!(r.status, 200, "presigned: {}", String::from_utf8_lossy(&r.body));
    // ... and an expired presigned request is refused.
    let (h, q) = sign(&a, "POST", "/", "", &json_headers("ListKeys"), b"{}", &ak, &sk, "kms", SystemTime::now() - Duration::from_secs(120), Some(Duration::from_secs(60)));
    let r = raw(&a, "POST", &format!("/?{q}"), &h, b"{}");
    assert_eq!(r.error_type(), "InvalidSignatureException");
    assert!(r.message().starts_with("Signature expired"), "{}", r.message());
    assert_eq!(c.stop().code(), Some(0));
}

#[tokio::test]
async fn durable_restart_and_root_key_refusal() {
    let dir = temp_dir("durable");
    let data = dir.join("data");
    let c = Coffer::durable(&data);
    for f in ["root.key", "admin-credentials", "coffer.db"] {
        assert!(data.join(f).exists(), "{f}");
    }
    use std::os::unix::fs::PermissionsExt;
    for f in ["root.key", "admin-credentials", "coffer.db", "coffer.db-wal"] {
        assert_eq!(std::fs::metadata(data.join(f)).unwrap().permissions().mode() & 0o777, 0o600, "{f}");
    }
    let first_log = c.log_text();
    assert!(first_log.contains("AWS_SHARED_CREDENTIALS_FILE=") && first_log.contains("AWS_PROFILE=coffer"), "{first_log}");
    let kms = c.kms();
    let id = kms.create_key().description("durable").send().await.unwrap().key_metadata.unwrap().key_id;
    kms.create_alias().alias_name("alias/durable").target_key_id(&id).send().await.unwrap();
    kms.tag_resource().key_id(&id).tags(aws_sdk_kms::types::Tag::builder().tag_key("t").tag_value("v").build().unwrap()).send().await.unwrap();
    let ct = kms.encrypt().key_id("alias/durable").plaintext(Blob::new("survives restarts")).encryption_context("c", "1").send().await.unwrap().ciphertext_blob.unwrap();
    kms.rotate_key_on_demand().key_id(&id).send().await.unwrap();
    let ct2 = kms.encrypt().key_id(&id).plaintext(Blob::new("after rotation")).send().await.unwrap().ciphertext_blob.unwrap();
    let managed = kms.describe_key().key_id("alias/aws/ssm").send().await.unwrap().key_metadata.unwrap().key_id;
    assert_eq!(c.stop().code(), Some(0));

    // Restart: same credentials, keys, aliases, tags, materials, managed key.
    let c = Coffer::durable(&data);
    assert!(!c.log_text().contains("AWS_SHARED_CREDENTIALS_FILE="), "a restart must not re-initialise");
    let kms = c.kms();
    let d = kms.decrypt().ciphertext_blob(ct.clone()).encryption_context("c", "1").send().await.unwrap();
    assert_eq!(d.plaintext.unwrap().as_ref(), b"survives restarts");
    assert_eq!(kms.decrypt().ciphertext_blob(ct2).send().await.unwrap().plaintext.unwrap().as_ref(), b"after rotation");
    assert_eq!(kms.describe_key().key_id("alias/durable").send().await.unwrap().key_metadata.unwrap().description.as_deref(), Some("durable"));
    assert_eq!(kms.list_resource_tags().key_id(&id).send().await.unwrap().tags().len(), 1);
    assert_eq!(kms.list_key_rotations().key_id(&id).send().await.unwrap().rotations().len(), 1);
    assert_eq!(kms.describe_key().key_id("alias/aws/ssm").send().await.unwrap().key_metadata.unwrap().key_id, managed);
    // A second process on the same data directory is refused while the first runs.
    match Coffer::try_start(Options { data_dir: Some(data.clone()), ..Default::default() }) {
        Started::Exited { status, output } => {
            assert_ne!(status.code(), Some(0));
            assert!(output.contains("another Coffer process is using the data directory"), "{output}");
        }
        Started::Running(_) => panic!("two processes on one data directory"),
    }
    assert_eq!(c.stop().code(), Some(0));

    // A wrong root key is refused with a clear message, and nothing is changed.
    let snapshot = |p: &std::path::Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file() && p.file_name().unwrap() != "coffer.lock")
            .map(|p| (p.file_name().unwrap().to_string_lossy().to_string(), std::fs::read(&p).unwrap()))
            .collect();
        v.sort();
        v
    };
    let before = snapshot(&data);
    use base64::Engine;
    let wrong = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    match Coffer::try_start(Options { data_dir: Some(data.clone()), env: vec![("COFFER_ROOT_KEY".into(), wrong)], ..Default::default() }) {
        Started::Exited { status, output } => {
            assert_ne!(status.code(), Some(0));
            assert!(output.contains("does not open the data"), "{output}");
        }
        Started::Running(_) => panic!("started with the wrong root key"),
    }
    let after = snapshot(&data);
    assert_eq!(before.iter().map(|x| &x.0).collect::<Vec<_>>(), after.iter().map(|x| &x.0).collect::<Vec<_>>());
    for ((name, a), (_, b)) in before.iter().zip(after.iter()) {
        assert!(a == b, "{name} changed");
    }
    // Without root.key (and no COFFER_ROOT_KEY) the data dir is refused, not re-keyed.
    let key_text = std::fs::read_to_string(data.join("root.key")).unwrap();
    std::fs::rename(data.join("root.key"), dir.join("root.key.bak")).unwrap();
    match Coffer::try_start(Options { data_dir: Some(data.clone()), ..Default::default() }) {
        Started::Exited { output, .. } => assert!(output.contains("no root key"), "{output}"),
        Started::Running(_) => panic!("started without the root key"),
    }
    assert!(!data.join("root.key").exists());
    // The right key via COFFER_ROOT_KEY works.
    let c = Coffer::start(Options { data_dir: Some(data.clone()), env: vec![("COFFER_ROOT_KEY".into(), key_text.trim().into())], ..Default::default() });
    assert_eq!(c.kms().decrypt().ciphertext_blob(ct).encryption_context("c", "1").send().await.unwrap().plaintext.unwrap().as_ref(), b"survives restarts");
    assert_eq!(c.stop().code(), Some(0));
}

#[tokio::test]
async fn request_log_names_operation_principal_and_key() {
    let c = Coffer::dev();
    let kms = c.kms();
    let id = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    let secret = "log-canary-7f3a9c";
    kms.encrypt().key_id(&id).plaintext(Blob::new(secret)).send().await.unwrap();
    let _ = kms.describe_key().key_id("alias/missing").send().await;
    // Lines leave in order: once the last one is there, all are.
    let text = c.log_with("op=\"DescribeKey\"");
    let line = text.lines().find(|l| l.contains("op=\"Encrypt\"")).expect("an Encrypt log line");
    assert!(line.contains("principal=arn:aws:iam::123456789012:root"), "{line}");
    assert!(line.contains(&format!("resource=arn:aws:kms:us-east-1:123456789012:key/{id}")), "{line}");
    assert!(line.contains("status=200") && line.contains("latency_us="), "{line}");
    assert!(text.lines().any(|l| l.contains("op=\"DescribeKey\"") && l.contains("status=400") && l.contains("NotFoundException")));
    assert!(!text.contains(secret));
    assert_eq!(c.stop().code(), Some(0));
}

#[tokio::test]
async fn json_log_format() {
    let c = Coffer::start(Options { dev: true, args: vec!["--log-format".into(), "json".into()], ..Default::default() });
    c.kms().list_keys().send().await.unwrap();
    let text = c.log_with("\"op\":\"ListKeys\"");
    let line = text.lines().find(|l| l.contains("\"op\":\"ListKeys\"")).expect("a JSON request line");
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["status"], 200);
    assert_eq!(v["service"], "kms");
    assert_eq!(c.stop().code(), Some(0));
}

#[tokio::test]
async fn dev_tls_serves_https() {
    let c = Coffer::start(Options { dev: true, tls: true, ..Default::default() });
    let log = c.log_text();
    let cert = log
        .lines()
        .find_map(|l| l.split("cert=").nth(1).map(|s| s.split_whitespace().next().unwrap().trim_matches('"').to_string()))
        .expect("the certificate path is logged");
    let port = c.addr.rsplit(':').next().unwrap();
    let out = std::process::Command::new("curl")
        .args(["-sS", "--cacert", &cert, &format!("https://localhost:{port}/_coffer/health")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"ok\""));
    // Without trusting the certificate, the handshake fails.
    let out = std::process::Command::new("curl").args(["-sS", &format!("https://localhost:{port}/_coffer/health")]).output().unwrap();
    assert!(!out.status.success());
    assert_eq!(c.stop().code(), Some(0));
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let c = Coffer::dev();
    let kms = c.kms();
    let id = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    // Keep requests flowing while SIGTERM arrives: every one either completes correctly or is
    // refused at the connection level — never a 5xx or a wrong answer.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let kms = kms.clone();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut refused) = (0, 0);
            for _ in 0..200 {
                match kms.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await {
                    Ok(r) => {
                        assert!(r.ciphertext_blob.is_some());
                        ok += 1;
                    }
                    Err(e) => {
                        let raw = e.raw_response().map(|r| r.status().as_u16());
                        assert!(raw.is_none_or(|s| s < 500), "server error during shutdown: {e:?}");
                        refused += 1;
                    }
                }
            }
            (ok, refused)
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    let status = tokio::task::spawn_blocking(move || c.stop()).await.unwrap();
    assert_eq!(status.code(), Some(0));
    let mut total_ok = 0;
    for t in tasks {
        total_ok += t.await.unwrap().0;
    }
    assert!(total_ok > 0);
}

#[tokio::test]
async fn cli_help_and_version() {
    let bin = coffer_it::coffer_bin();
    let v = std::process::Command::new(&bin).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("coffer "));
    let h = std::process::Command::new(&bin).args(["serve", "--help"]).output().unwrap();
    let text = String::from_utf8_lossy(&h.stdout);
    for opt in ["--listen", "--data-dir", "--store", "--tls-cert", "--tls-key", "--log-format", "--dev", "--tls", "--config", "COFFER_LISTEN", "COFFER_DATA_DIR"] {
        assert!(text.contains(opt), "serve --help lacks {opt}");
    }
    // Configuration errors are explained, exit code 2.
    let out = std::process::Command::new(&bin).args(["serve", "--listen", "nonsense"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen address"));
    // Config file, env and flag precedence with a real start.
    let dir = temp_dir("cfg");
    std::fs::write(dir.join("coffer.toml"), format!("data_dir = \"{}\"\nlog_format = \"json\"\n", dir.join("from-file").display())).unwrap();
    let c = Coffer::start(Options {
        args: vec!["--config".into(), dir.join("coffer.toml").display().to_string()],
        env: vec![("COFFER_LOG_FORMAT".into(), "text".into())],
        ..Default::default()
    });
    assert!(dir.join("from-file/coffer.db").exists());
    assert!(c.log_text().contains("coffer is serving"));
    assert!(!c.log_text().contains("\"message\""), "env must override the file's log_format");
    assert_eq!(c.stop().code(), Some(0));
}

// ------------------------------------------------------------------ audit, limits, hardening

/// The journal's events, parsed, oldest first (the zeros allocated after the newest file's
/// records, while the server runs, end it).
fn journal_events(data_dir: &std::path::Path) -> (Vec<serde_json::Value>, Vec<u8>) {
    let mut files: Vec<_> = std::fs::read_dir(data_dir.join("audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut bytes = Vec::new();
    for f in &files {
        let mut b = std::fs::read(f).unwrap();
        while b.last() == Some(&0) {
            b.pop();
        }
        bytes.extend(b);
    }
    let events = bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(|l| serde_json::from_slice(l).unwrap()).collect();
    (events, bytes)
}

fn coffer_cmd(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(coffer_it::coffer_bin()).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test]
async fn audit_journal_records_every_call_without_secrets() {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let dir = temp_dir("audit");
    let data = dir.join("data");
    let c = Coffer::start(Options { data_dir: Some(data.clone()), args: vec!["--s3-allow-sse-c-over-http".into()], ..Default::default() });
    let kms = c.kms();
    let key = kms.create_key().description("audited").send().await.unwrap().key_metadata.unwrap();
    let plaintext = b"audit-plaintext-canary-1".to_vec();
    kms.encrypt().key_id(key.key_id()).plaintext(Blob::new(plaintext.clone())).send().await.unwrap();
    let dk = kms.generate_data_key().key_id(key.key_id()).number_of_bytes(32).send().await.unwrap();
    let data_key = dk.plaintext.unwrap().into_inner();
    let ssm = c.ssm();
    let secret_value = "audit-secure-canary-2";
    ssm.put_parameter().name("/dev/dbconnectionstring").r#type(aws_sdk_ssm::types::ParameterType::SecureString).value(secret_value).send().await.unwrap();
    ssm.get_parameter().name("/dev/dbconnectionstring").with_decryption(true).send().await.unwrap();
    let iam = c.iam();
    iam.create_user().user_name("auditee").send().await.unwrap();
    let ak = iam.create_access_key().user_name("auditee").send().await.unwrap().access_key.unwrap();
    let s3 = c.s3();
    s3.create_bucket().bucket("audited").send().await.unwrap();
    let customer_key = [0x5au8; 32];
    let key_md5 = {
        use md5::{Digest, Md5};
        b64(&Md5::digest(customer_key))
    };
    s3.put_object()
        .bucket("audited")
        .key("obj")
        .body(b"object-body-canary-3".to_vec().into())
        .sse_customer_algorithm("AES256")
        .sse_customer_key(b64(&customer_key))
        .sse_customer_key_md5(&key_md5)
        .send()
        .await
        .unwrap();
    // A call the user may not make, and one with a wrong secret.
    let user = c.kms_as(ak.access_key_id(), ak.secret_access_key());
    let (code, _) = err(user.encrypt().key_id(key.arn().unwrap()).plaintext(Blob::new(b"x".to_vec())).send().await);
    assert_eq!(code, "AccessDeniedException");
    let (code, _) = err(c.kms_as(ak.access_key_id(), "wrong").list_keys().send().await);
    assert_eq!(code, "InvalidSignatureException");

    let (events, bytes) = journal_events(&data);
    let names: Vec<&str> = events.iter().map(|e| e["eventName"].as_str().unwrap()).collect();
    for n in ["CreateKey", "Encrypt", "GenerateDataKey", "PutParameter", "GetParameter", "CreateUser", "CreateAccessKey", "CreateBucket", "PutObject", "ListKeys"] {
        assert!(names.contains(&n), "no {n} event in {names:?}");
    }
    // The chain: 1, 2, 3 ... each naming its predecessor's hash.
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["sequence"], i as u64 + 1);
        for f in ["eventVersion", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress", "requestID", "eventID", "readOnly", "previousHash"] {
            assert!(!e[f].is_null(), "event {i} lacks {f}: {e}");
        }
    }
    let enc = events.iter().find(|e| e["eventName"] == "Encrypt" && e["errorCode"].is_null()).unwrap();
    assert_eq!(enc["eventSource"], "kms.amazonaws.com");
    assert_eq!(enc["userIdentity"]["type"], "Root");
    assert_eq!(enc["userIdentity"]["accessKeyId"], c.access_key.as_str());
    assert_eq!(enc["requestParameters"]["keyId"], key.key_id());
    assert!(enc["requestParameters"].get("plaintext").is_none(), "{enc}");
    assert_eq!(enc["readOnly"], true);
    assert!(enc["responseElements"].is_null());
    assert_eq!(enc["resources"][0]["ARN"], key.arn().unwrap());
    assert_eq!(enc["resources"][0]["type"], "AWS::KMS::Key");
    let create = events.iter().find(|e| e["eventName"] == "CreateKey").unwrap();
    assert_eq!(create["responseElements"]["keyMetadata"]["keyId"], key.key_id());
    let denied = events.iter().find(|e| e["errorCode"] == "AccessDeniedException").unwrap();
    assert_eq!(denied["userIdentity"]["type"], "IAMUser");
    assert!(denied["userIdentity"]["arn"].as_str().unwrap().ends_with(":user/auditee"));
    let forged = events.iter().find(|e| e["errorCode"] == "InvalidSignatureException").unwrap();
    assert_eq!(forged["userIdentity"]["accessKeyId"], ak.access_key_id());
    let put = events.iter().find(|e| e["eventName"] == "PutObject").unwrap();
    assert_eq!((put["requestParameters"]["bucketName"].as_str(), put["requestParameters"]["key"].as_str()), (Some("audited"), Some("obj")));

    // No secret in the journal, in any encoding.
    let hay = String::from_utf8_lossy(&bytes).to_string();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    for (what, needle) in [
        ("plaintext", String::from_utf8(plaintext.clone()).unwrap()),
        ("plaintext base64", b64(&plaintext)),
        ("data key base64", b64(&data_key)),
        ("data key hex", hex(&data_key)),
        ("SecureString value", secret_value.to_string()),
        ("secret access key", ak.secret_access_key().to_string()),
        ("admin secret key", c.secret_key.clone()),
        ("SSE-C key", b64(&customer_key)),
        ("object body", "object-body-canary-3".to_string()),
    ] {
        assert!(!hay.contains(&needle), "the audit journal contains the {what}");
    }

    // verify and tail, beside the running server.
    let d = data.display().to_string();
    let (code, out) = coffer_cmd(&["audit", "verify", "--data-dir", &d]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("{} events", events.len())), "{out}");
    let (code, out) = coffer_cmd(&["audit", "tail", "--data-dir", &d, "--event", "Encrypt", "--key", key.key_id(), "-n", "5"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().count(), 2, "{out}"); // the root's and the denied user's
    let user_arn = denied["userIdentity"]["arn"].as_str().unwrap();
    let (_, out) = coffer_cmd(&["audit", "tail", "--data-dir", &d, "--principal", user_arn]);
    assert_eq!(out.lines().count(), 1, "{out}");
    let (_, out) = coffer_cmd(&["audit", "tail", "--data-dir", &d, "--service", "ssm", "-n", "1"]);
    assert!(out.contains("\"GetParameter\""), "{out}");
    assert_eq!(c.stop().code(), Some(0));

    // Tampering: an edited record is named; the server refuses to append after it.
    let file = std::fs::read_dir(data.join("audit")).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|x| x == "jsonl")).unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let edited = text.replacen("\"eventName\":\"CreateUser\"", "\"eventName\":\"ListUsers\"", 1);
    assert_ne!(edited, text);
    std::fs::write(&file, edited).unwrap();
    let (code, out) = coffer_cmd(&["audit", "verify", "--data-dir", &d]);
    assert_eq!(code, 1, "{out}");
    let line = events.iter().position(|e| e["eventName"] == "CreateUser").unwrap() + 2; // the record after the edit breaks
    assert!(out.contains("BROKEN") && out.contains(&format!("line {line}")), "{out}");
    match Coffer::try_start(Options { data_dir: Some(data.clone()), ..Default::default() }) {
        Started::Exited { status, output } => {
            assert!(!status.success());
            assert!(output.contains("audit journal"), "{output}");
        }
        Started::Running(c) => panic!("started over a broken audit journal: {}", c.log_text()),
    }
}

#[tokio::test]
async fn rate_limits_throttle_each_access_key() {
    let c = Coffer::start(Options {
        dev: true,
        args: vec!["--rate-limit".into(), "ssm:PutParameter=2,kms:cryptographic-symmetric=3,s3:reads=1".into()],
        ..Default::default()
    });
    let a = c.addr.clone();
    let random = |ak: &str| kms_raw(&a, "GenerateRandom", br#"{"NumberOfBytes":8}"#, Some((ak, "x")));
    for _ in 0..3 {
        assert_eq!(random("AKIAFIRST").status, 200);
    }
    let r = random("AKIAFIRST");
    assert_eq!((r.status, r.error_type()), (400, "ThrottlingException".to_string()));
    assert_eq!(r.message(), "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.");
    // Another access key has its own quota; unlimited operations are not counted.
    assert_eq!(random("AKIASECOND").status, 200);
    assert_eq!(kms_raw(&a, "ListKeys", b"{}", Some(("AKIAFIRST", "x"))).status, 200);
    // Parameter Store's PutParameter quota.
    let put = |n: u32| {
        let body = format!(r#"{{"Name":"/rl/{n}","Value":"v","Type":"String"}}"#);
        let h = vec![("content-type".to_string(), "application/x-amz-json-1.1".to_string()), ("x-amz-target".to_string(), "AmazonSSM.PutParameter".to_string())];
        let (h, _) = sign(&a, "POST", "/", "", &h, body.as_bytes(), "AKIAFIRST", "x", "ssm", SystemTime::now(), None);
        raw(&a, "POST", "/", &h, body.as_bytes())
    };
    assert_eq!(put(1).status, 200);
    assert_eq!(put(2).status, 200);
    let r = put(3);
    assert_eq!((r.error_type(), r.message()), ("ThrottlingException".to_string(), "Rate exceeded".to_string()));
    // The bucket refills at the rate (2/s): after half a second one more call passes.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(put(4).status, 200);
    // S3 answers SlowDown (503), which SDKs retry.
    let s3 = c.s3();
    s3.create_bucket().bucket("rlim").send().await.unwrap();
    s3.head_bucket().bucket("rlim").send().await.unwrap();
    let e = s3.head_bucket().bucket("rlim").send().await.unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(503));
    // Bad settings are refused at start.
    let (code, out) = coffer_cmd(&["serve", "--dev", "--rate-limit", "kms:lowercase=1"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("kms:lowercase"), "{out}");
}

#[tokio::test]
async fn header_limits_and_slow_clients() {
    use std::io::{Read, Write};
    let c = Coffer::start(Options { dev: true, args: vec!["--header-timeout".into(), "1".into()], ..Default::default() });
    let a = c.addr.clone();
    // Too many header fields: AWS's error, not a dropped connection.
    let mut h = json_headers("ListKeys");
    for i in 0..70 {
        h.push((format!("x-filler-{i}"), "v".into()));
    }
    let r = kms_raw_with(&a, &h);
    assert_eq!((r.status, r.error_type()), (400, "RequestHeaderSectionTooLarge".to_string()));
    // Too many header bytes.
    let mut h = json_headers("ListKeys");
    h.push(("x-filler".into(), "v".repeat(20 * 1024)));
    assert_eq!(kms_raw_with(&a, &h).error_type(), "RequestHeaderSectionTooLarge");
    // Slowloris: headers dribbled one byte at a time are cut off at the header timeout.
    let start = std::time::Instant::now();
    let mut s = std::net::TcpStream::connect(&a).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nhost: x\r\n").unwrap();
    let closed = loop {
        if s.write_all(b"x").is_err() {
            break true;
        }
        let mut buf = [0u8; 256];
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => break true, // an error response, then close
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break true,
        }
        if start.elapsed() > Duration::from_secs(10) {
            break false;
        }
    };
    assert!(closed && start.elapsed() < Duration::from_secs(5), "a slow client held the connection for {:?}", start.elapsed());
    // An idle keep-alive connection is closed after the same timeout.
    let start = std::time::Instant::now();
    let mut s = std::net::TcpStream::connect(&a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 16];
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0);
    assert!(start.elapsed() < Duration::from_secs(5), "idle connection kept {:?}", start.elapsed());
    // ... and so is a keep-alive connection idle after a request.
    let (h, _) = sign(&a, "POST", "/", "", &json_headers("ListKeys"), b"{}", "AKIAX", "x", "kms", SystemTime::now(), None);
    let mut req = String::from("POST / HTTP/1.1\r\n");
    for (k, v) in &h {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("content-length: 2\r\n\r\n{}");
    let mut s = std::net::TcpStream::connect(&a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let start = std::time::Instant::now();
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&got));
    assert!(start.elapsed() < Duration::from_secs(5), "idle keep-alive connection kept {:?}", start.elapsed());
    // The server still serves.
    assert_eq!(kms_raw(&a, "ListKeys", b"{}", Some(("AKIAX", "x"))).status, 200);
}

fn kms_raw_with(addr: &str, headers: &[(String, String)]) -> coffer_it::RawResponse {
    let (h, _) = sign(addr, "POST", "/", "", headers, b"{}", "AKIAX", "x", "kms", SystemTime::now(), None);
    raw(addr, "POST", "/", &h, b"{}")
}

#[tokio::test]
async fn process_is_not_dumpable_and_writes_no_core() {
    let c = Coffer::dev();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", c.pid())).unwrap();
    let core = limits.lines().find(|l| l.starts_with("Max core file size")).unwrap();
    let fields: Vec<&str> = core.split_whitespace().collect();
    assert_eq!(&fields[4..6], &["0", "0"], "{core}");
    assert!(c.log_text().contains("dumpable=false"), "{}", c.log_text());
}
