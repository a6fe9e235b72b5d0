//! The integration-test harness: starts the real `coffer` binary and talks to it.
//!
//! Nothing here imitates Coffer. Each test starts its own process (`--listen 127.0.0.1:0`, the
//! port is read from the "coffer listening on" line), keeps its log in a file, and stops it with
//! SIGTERM, asserting a clean exit. Clients are aws-sdk-kms, or raw HTTP/1.1 signed with
//! aws-sigv4 for the requests an SDK refuses to send (malformed JSON, skewed clocks, ...).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

pub use {aws_sdk_iam, aws_sdk_kms, aws_sdk_s3, aws_sdk_ssm, aws_sdk_sts};
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_kms::error::ProvideErrorMetadata;

pub const REGION: &str = "us-east-1";

/// Path of the coffer binary under test (`COFFER_BIN`, or the workspace's debug build).
pub fn coffer_bin() -> PathBuf {
    if let Ok(p) = std::env::var("COFFER_BIN") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/coffer")
}

/// A fresh empty directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "coffer-it-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// With `COFFER_IT_PG` set (a PostgreSQL URL, e.g. from scripts/pg.sh), every server the
/// harness starts uses a PostgreSQL database instead of SQLite or memory: one per data directory
/// (so that restarts find their data), a fresh one per `--dev` server. Tests that pass their own
/// `--store` are left alone.
pub fn pg_base() -> Option<String> {
    std::env::var("COFFER_IT_PG").ok().filter(|s| !s.trim().is_empty())
}

fn pg_store_for(opts: &Options) -> Option<String> {
    let base = pg_base()?;
    if opts.args.iter().any(|a| a == "--store") {
        return None;
    }
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = match &opts.data_dir {
        Some(d) => {
            let mut h: u64 = 0xcbf29ce484222325;
            for b in d.to_string_lossy().bytes() {
                h = (h ^ b as u64).wrapping_mul(0x100000001b3);
            }
            format!("coffer_it_{h:016x}")
        }
        None => format!("coffer_it_dev_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)),
    };
    let out = Command::new("psql")
        .arg(&base)
        .args(["-v", "ON_ERROR_STOP=0", "-qc", &format!("CREATE DATABASE {name}")])
        .output()
        .expect("psql (PostgreSQL client) is needed for COFFER_IT_PG");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() || err.contains("already exists"), "creating database {name}: {err}");
    let (head, _) = base.rsplit_once('/').expect("COFFER_IT_PG is a postgres:// URL with a database");
    Some(format!("{head}/{name}"))
}

/// A running coffer process.
pub struct Coffer {
    child: Option<Child>,
    /// `127.0.0.1:port`
    pub addr: String,
    pub endpoint: String,
    pub log: PathBuf,
    pub data_dir: Option<PathBuf>,
    pub access_key: String,
    pub secret_key: String,
}

/// How to start coffer.
#[derive(Default, Clone)]
pub struct Options {
    pub dev: bool,
    pub tls: bool,
    pub data_dir: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
}

/// Outcome of a start that may be refused.
pub enum Started {
    Running(Coffer),
    Exited { status: ExitStatus, output: String },
}

impl Coffer {
    pub fn dev() -> Coffer {
        Coffer::start(Options { dev: true, ..Default::default() })
    }

    /// A durable instance on `data_dir` (initialised on first start).
    pub fn durable(data_dir: &Path) -> Coffer {
        Coffer::start(Options { data_dir: Some(data_dir.to_owned()), ..Default::default() })
    }

    pub fn start(opts: Options) -> Coffer {
        match Coffer::try_start(opts) {
            Started::Running(c) => c,
            Started::Exited { status, output } => panic!("coffer exited at start ({status}):\n{output}"),
        }
    }

    pub fn try_start(opts: Options) -> Started {
        let log_dir = opts.data_dir.as_ref().map(|d| d.parent().unwrap().to_owned()).unwrap_or_else(|| temp_dir("log"));
        let log = log_dir.join(format!("coffer-{}.log", std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos()));
        let mut cmd = Command::new(coffer_bin());
        cmd.arg("serve").arg("--listen").arg("127.0.0.1:0");
        if opts.dev {
            cmd.arg("--dev");
        }
        if opts.tls {
            cmd.arg("--tls");
        }
        if let Some(d) = &opts.data_dir {
            cmd.arg("--data-dir").arg(d);
        }
        cmd.args(&opts.args);
        if let Some(url) = pg_store_for(&opts) {
            cmd.arg("--store").arg(url);
        }
        cmd.env_remove("COFFER_ROOT_KEY");
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {}: {e}", coffer_bin().display()));
        // Copy stdout and stderr to the log file; report the listening line.
        let (tx, rx) = mpsc::channel::<String>();
        let file = std::sync::Arc::new(std::sync::Mutex::new(std::fs::File::create(&log).unwrap()));
        for stream in [Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>, Box::new(child.stderr.take().unwrap())] {
            let tx = tx.clone();
            let file = file.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    let _ = writeln!(file.lock().unwrap(), "{line}");
                    if let Some(url) = line.strip_prefix("coffer listening on ") {
                        let _ = tx.send(url.to_string());
                    }
                }
            });
        }
        drop(tx);
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(u) => u,
            Err(_) => {
                let status = child.wait().unwrap();
                std::thread::sleep(Duration::from_millis(50));
                return Started::Exited { status, output: std::fs::read_to_string(&log).unwrap_or_default() };
            }
        };
        let addr = url.split("://").nth(1).unwrap().to_string();
        let endpoint = if opts.tls { format!("https://localhost:{}", addr.rsplit(':').next().unwrap()) } else { url };
        let (access_key, secret_key) = match &opts.data_dir {
            Some(d) => read_credentials(&d.join("admin-credentials")),
            None => ("AKIADEVELOPMENT00001".to_string(), "dev-secret-not-checked".to_string()),
        };
        Started::Running(Coffer { child: Some(child), addr, endpoint, log, data_dir: opts.data_dir, access_key, secret_key })
    }

    /// An aws-sdk-kms client with this instance's credentials.
    pub fn kms(&self) -> aws_sdk_kms::Client {
        self.kms_as(&self.access_key, &self.secret_key)
    }

    pub fn kms_as(&self, access_key: &str, secret_key: &str) -> aws_sdk_kms::Client {
        kms_client(&self.endpoint, access_key, secret_key, REGION)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The log once it contains `needle` (or after 10 s, whatever it holds): under concurrent
    /// requests the server may write a line out a few milliseconds after its response, and the
    /// harness copies output to the file on its own thread.
    pub fn log_with(&self, needle: &str) -> String {
        let started = std::time::Instant::now();
        loop {
            let text = self.log_text();
            if text.contains(needle) || started.elapsed() > std::time::Duration::from_secs(10) {
                return text;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(mut self) -> ExitStatus {
        self.terminate()
    }

    fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        for _ in 0..600 {
            if let Some(s) = child.try_wait().unwrap() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        panic!("coffer did not exit within 6 s of SIGTERM");
    }

    /// POST /_coffer/dev/clock?advance=<secs>: moves the service clock and runs the jobs.
    pub fn advance_clock(&self, secs: u64) -> serde_json::Value {
        let r = raw(&self.addr, "POST", &format!("/_coffer/dev/clock?advance={secs}"), &[], b"");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        serde_json::from_slice(&r.body).unwrap()
    }
}

impl Drop for Coffer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn read_credentials(path: &Path) -> (String, String) {
    let text = std::fs::read_to_string(path).unwrap();
    let get = |k: &str| {
        text.lines().find_map(|l| l.strip_prefix(k).map(|v| v.trim_start_matches([' ', '=']).trim().to_string())).unwrap()
    };
    (get("aws_access_key_id"), get("aws_secret_access_key"))
}

/// Credentials for the SDK clients: an access key pair, optionally with a session token.
#[derive(Clone, Debug)]
pub struct Creds {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
}

impl Creds {
    pub fn new(access_key: &str, secret_key: &str) -> Creds {
        Creds { access_key: access_key.into(), secret_key: secret_key.into(), session_token: None }
    }
    fn provider(&self) -> Credentials {
        Credentials::new(&self.access_key, &self.secret_key, self.session_token.clone(), None, "coffer-it")
    }
}

impl Coffer {
    pub fn creds(&self) -> Creds {
        Creds::new(&self.access_key, &self.secret_key)
    }
    pub fn kms_with(&self, c: &Creds) -> aws_sdk_kms::Client {
        let conf = aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(c.provider())
            .build();
        aws_sdk_kms::Client::from_conf(conf)
    }
    pub fn iam_with(&self, c: &Creds) -> aws_sdk_iam::Client {
        let conf = aws_sdk_iam::Config::builder()
            .behavior_version(aws_sdk_iam::config::BehaviorVersion::latest())
            .region(aws_sdk_iam::config::Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(c.provider())
            .build();
        aws_sdk_iam::Client::from_conf(conf)
    }
    pub fn sts_with(&self, c: &Creds) -> aws_sdk_sts::Client {
        let conf = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(c.provider())
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    }
    pub fn ssm_with(&self, c: &Creds) -> aws_sdk_ssm::Client {
        let conf = aws_sdk_ssm::Config::builder()
            .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
            .region(aws_sdk_ssm::config::Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(c.provider())
            .build();
        aws_sdk_ssm::Client::from_conf(conf)
    }
    pub fn ssm(&self) -> aws_sdk_ssm::Client {
        self.ssm_with(&self.creds())
    }
    pub fn iam(&self) -> aws_sdk_iam::Client {
        self.iam_with(&self.creds())
    }
    pub fn sts(&self) -> aws_sdk_sts::Client {
        self.sts_with(&self.creds())
    }
    /// An aws-sdk-s3 client (path-style addressing, no retries: a test sees the first answer).
    pub fn s3_with(&self, c: &Creds) -> aws_sdk_s3::Client {
        self.s3_in(c, REGION)
    }
    pub fn s3(&self) -> aws_sdk_s3::Client {
        self.s3_with(&self.creds())
    }
    /// An S3 client signing for `region`.
    pub fn s3_in(&self, c: &Creds, region: &str) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(self.s3_config(c, region).build())
    }
    /// The S3 client configuration the helpers use, to adjust before building.
    pub fn s3_config(&self, c: &Creds, region: &str) -> aws_sdk_s3::config::Builder {
        let mut b = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(region.to_string()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(c.provider())
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .force_path_style(true);
        if let Some(pem) = self.tls_certificate() {
            use aws_smithy_http_client::tls;
            let trust = tls::TrustStore::empty().with_native_roots(false).with_pem_certificate(pem);
            let http = aws_smithy_http_client::Builder::new()
                .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
                .tls_context(tls::TlsContext::builder().with_trust_store(trust).build().expect("TLS context"))
                .build_https();
            b = b.http_client(http);
        }
        b
    }
    /// The PEM of the self-signed certificate a `--tls` instance logged (None without TLS).
    pub fn tls_certificate(&self) -> Option<Vec<u8>> {
        if !self.endpoint.starts_with("https://") {
            return None;
        }
        let log = self.log_text();
        let path = log
            .lines()
            .find_map(|l| l.split("cert=").nth(1).map(|s| s.split_whitespace().next().unwrap_or("").trim_matches('"').to_string()))?;
        std::fs::read(path).ok()
    }
    /// GET /_coffer/dev/stats: counters (`s3_chunks_read`, `s3_kms_calls`) of a dev instance.
    pub fn stats(&self) -> serde_json::Value {
        let r = raw(&self.addr, "GET", "/_coffer/dev/stats", &[], b"");
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        serde_json::from_slice(&r.body).unwrap()
    }
    /// One counter of [`Coffer::stats`].
    pub fn stat(&self, name: &str) -> u64 {
        self.stats()[name].as_u64().unwrap_or_else(|| panic!("no counter {name}"))
    }
}

/// The AWS error code of any SDK error (IAM, STS, KMS), panicking on success.
pub fn any_code<T: std::fmt::Debug, E: aws_sdk_kms::error::ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    r: Result<T, aws_smithy_runtime_api::client::result::SdkError<E, R>>,
) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.code().map(str::to_owned).unwrap_or_else(|| panic!("error without a code: {e:?}")),
    }
}

pub fn kms_client(endpoint: &str, access_key: &str, secret_key: &str, region: &str) -> aws_sdk_kms::Client {
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(access_key, secret_key, None, None, "coffer-it"))
        .build();
    aws_sdk_kms::Client::from_conf(conf)
}

/// The AWS error code of an SDK error (panics on success).
pub fn code<T: std::fmt::Debug, E>(r: Result<T, aws_sdk_kms::error::SdkError<E>>) -> String
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::fmt::Debug,
{
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => match e.code() {
            Some(c) => c.to_string(),
            None => panic!("error without a code: {e:?}"),
        },
    }
}

/// The AWS error code and message of an SDK error.
pub fn err<T: std::fmt::Debug, E>(r: Result<T, aws_sdk_kms::error::SdkError<E>>) -> (String, String)
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::fmt::Debug,
{
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => (e.code().unwrap_or_default().to_string(), e.message().unwrap_or_default().to_string()),
    }
}

// ------------------------------------------------------------------ raw HTTP

pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    /// `__type` of a JSON error body.
    pub fn error_type(&self) -> String {
        self.json()["__type"].as_str().unwrap_or_default().to_string()
    }
    pub fn message(&self) -> String {
        self.json()["message"].as_str().unwrap_or_default().to_string()
    }
    /// The text of the first `<name>` element of an XML body (S3 errors: `Code`, `Message`).
    pub fn xml(&self, name: &str) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let (open, close) = (format!("<{name}>"), format!("</{name}>"));
        text.split_once(&open).and_then(|(_, rest)| rest.split_once(&close)).map(|(v, _)| v.to_string()).unwrap_or_default()
    }
    /// `<Code>` of an S3 XML error body.
    pub fn s3_code(&self) -> String {
        self.xml("Code")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request on a new connection (`Connection: close`).
pub fn raw(addr: &str, method: &str, path: &str, headers: &[(String, String)], body: &[u8]) -> RawResponse {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("content-length: {}\r\nconnection: close\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    parse_response(&buf)
}

/// One HTTP/1.1 request whose `len`-byte body is produced 1 MiB at a time by `fill(offset, buf)`,
/// so a test can upload far more than it wants to hold in memory.
pub fn raw_streaming(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    len: u64,
    mut fill: impl FnMut(u64, &mut [u8]),
) -> RawResponse {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("host: {addr}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("content-length: {len}\r\nconnection: close\r\n\r\n"));
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    while offset < len {
        let n = (len - offset).min(buf.len() as u64) as usize;
        fill(offset, &mut buf[..n]);
        if s.write_all(&buf[..n]).is_err() {
            break; // the server answered early; read its answer
        }
        offset += n as u64;
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    parse_response(&out)
}

fn parse_response(buf: &[u8]) -> RawResponse {
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete HTTP response");
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = buf[split + 4..].to_vec();
    if let Some((_, len)) = headers.iter().find(|(k, _)| k == "content-length") {
        body.truncate(len.parse().unwrap());
    }
    RawResponse { status, headers, body }
}

/// Signs a request with aws-sigv4 (the SDK's signer) and returns the headers to send and the
/// query string (presigned when `presign` is given).
#[allow(clippy::too_many_arguments)]
pub fn sign(
    addr: &str,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    body: &[u8],
    access_key: &str,
    secret_key: &str,
    service: &str,
    time: SystemTime,
    presign: Option<Duration>,
) -> (Vec<(String, String)>, String) {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
    use aws_sigv4::sign::v4;
    let identity = Credentials::new(access_key, secret_key, None, None, "it").into();
    let mut settings = SigningSettings::default();
    if let Some(d) = presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(d);
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let mut all: Vec<(String, String)> = vec![("host".into(), addr.into())];
    all.extend(headers.iter().cloned());
    let uri = if query.is_empty() { format!("http://{addr}{path}") } else { format!("http://{addr}{path}?{query}") };
    let signable = SignableRequest::new(
        method,
        uri,
        all.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let (hs, params) = instructions.into_parts();
    for h in hs {
        all.push((h.name().to_string(), h.value().to_string()));
    }
    let mut q = query.to_string();
    for (k, v) in params {
        if !q.is_empty() {
            q.push('&');
        }
        q.push_str(k);
        q.push('=');
        q.push_str(&pct(&v));
    }
    (all, q)
}

/// Signs an S3 request as S3 clients do: `x-amz-content-sha256` carries `payload` (a hex
/// SHA-256, `UNSIGNED-PAYLOAD` or a `STREAMING-...` value) and the canonical request uses it
/// as the payload hash; paths are encoded once and not normalised. Returns the headers to send
/// (with `x-amz-content-sha256` unless `presign`) and the query string.
#[allow(clippy::too_many_arguments)]
pub fn sign_s3(
    addr: &str,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    payload: &str,
    access_key: &str,
    secret_key: &str,
    time: SystemTime,
    presign: Option<Duration>,
) -> (Vec<(String, String)>, String) {
    use aws_sigv4::http_request::{
        PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings, UriPathNormalizationMode, sign,
    };
    use aws_sigv4::sign::v4;
    let identity = Credentials::new(access_key, secret_key, None, None, "it").into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    if let Some(d) = presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(d);
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(REGION)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let mut all: Vec<(String, String)> = vec![("host".into(), addr.into())];
    all.extend(headers.iter().cloned());
    if presign.is_none() && !all.iter().any(|(k, _)| k.eq_ignore_ascii_case("x-amz-content-sha256")) {
        all.push(("x-amz-content-sha256".into(), payload.into()));
    }
    let uri = if query.is_empty() { format!("http://{addr}{path}") } else { format!("http://{addr}{path}?{query}") };
    let signable = SignableRequest::new(
        method,
        uri,
        all.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Precomputed(payload.to_string()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let (hs, params) = instructions.into_parts();
    for h in hs {
        all.push((h.name().to_string(), h.value().to_string()));
    }
    let mut q = query.to_string();
    for (k, v) in params {
        if !q.is_empty() {
            q.push('&');
        }
        q.push_str(k);
        q.push('=');
        q.push_str(&pct(&v));
    }
    (all, q)
}

/// The hex SHA-256 of `data` (for `x-amz-content-sha256`).
pub fn sha256_hex(data: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A KMS call over raw HTTP: signed (unless `credentials` is None), JSON body as given.
pub fn kms_raw(addr: &str, target: &str, body: &[u8], credentials: Option<(&str, &str)>) -> RawResponse {
    let headers = vec![
        ("content-type".to_string(), "application/x-amz-json-1.1".to_string()),
        ("x-amz-target".to_string(), format!("TrentService.{target}")),
    ];
    let (headers, _) = match credentials {
        Some((a, s)) => sign(addr, "POST", "/", "", &headers, body, a, s, "kms", SystemTime::now(), None),
        None => (headers, String::new()),
    };
    raw(addr, "POST", "/", &headers, body)
}
