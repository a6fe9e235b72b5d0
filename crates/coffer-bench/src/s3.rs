//! `coffer-bench s3`: PUT and GET of one large object, timed, over one keep-alive connection.
//!
//! The PUT body is generated as it is sent (a 1 MiB random pattern repeated, handed to hyper as
//! reference-counted slices), so the client never holds the object, and it is signed with
//! `x-amz-content-sha256: UNSIGNED-PAYLOAD`, so the client does not hash it either (the server
//! then has no payload hash to check; the aws CLI and SDKs do the same over HTTPS). The GET
//! reads the body frame by frame, discards it and checks its length (`--gets` times per PUT; the
//! figures are medians). Each repetition uses a new
//! key, deleted afterwards (not timed). Before the timed repetitions, a small object (3 MiB and a
//! bit) is written and read back in the same mode and compared byte for byte.
//!
//! Modes: `plain` (no SSE headers; against a server started with `--unsafe-s3-no-encryption`
//! it is the unencrypted baseline), `sse-s3` (`x-amz-server-side-encryption: AES256`) and
//! `sse-c` (a customer key in the three `x-amz-server-side-encryption-customer-*` headers,
//! on PUT and GET).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper::header::HeaderValue;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use md5::Digest;
use tokio::net::TcpStream;

use crate::request::{Signer, Target};
use crate::run::{machine_cpu_secs, process_cpu_secs, resolve};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// No server-side-encryption headers.
    Plain,
    /// SSE-S3: `x-amz-server-side-encryption: AES256`.
    SseS3,
    /// SSE-C: a customer-provided AES-256 key with every request.
    SseC,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::SseS3 => "sse-s3",
            Mode::SseC => "sse-c",
        }
    }
}

pub struct Config {
    pub endpoint: String,
    pub mode: Mode,
    pub size: u64,
    pub reps: usize,
    pub gets: usize,
    pub bucket: String,
    pub timeout: Duration,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
    pub server_pid: Option<u32>,
}

/// A request body generated as it is sent: `remaining` bytes of `pattern`, repeated.
struct Generated {
    pattern: Bytes,
    pos: usize,
    remaining: u64,
}

impl Generated {
    fn new(pattern: &Bytes, len: u64) -> Generated {
        Generated { pattern: pattern.clone(), pos: 0, remaining: len }
    }
}

impl Body for Generated {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = (self.pattern.len() - self.pos).min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let data = self.pattern.slice(self.pos..self.pos + n);
        self.pos = (self.pos + n) % self.pattern.len();
        self.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// CPU clocks at one instant: this process, the server, the whole machine (busy, stolen).
#[derive(Clone, Copy)]
struct Clocks {
    at: Instant,
    client: Option<f64>,
    server: Option<f64>,
    machine: Option<(f64, f64)>,
}

impl Clocks {
    fn now(server_pid: Option<u32>) -> Clocks {
        Clocks { at: Instant::now(), client: process_cpu_secs(None), server: server_pid.and_then(|p| process_cpu_secs(Some(p))), machine: machine_cpu_secs() }
    }
}

/// One timed transfer.
struct Transfer {
    secs: f64,
    client_cpu: Option<f64>,
    server_cpu: Option<f64>,
    machine_cpu: Option<f64>,
}

impl Transfer {
    fn between(a: Clocks, b: Clocks) -> Transfer {
        Transfer {
            secs: (b.at - a.at).as_secs_f64(),
            client_cpu: a.client.zip(b.client).map(|(x, y)| y - x),
            server_cpu: a.server.zip(b.server).map(|(x, y)| y - x),
            machine_cpu: a.machine.zip(b.machine).map(|(x, y)| y.0 - x.0),
        }
    }

    fn json(&self, size: u64) -> serde_json::Value {
        let mb = size as f64 / 1e6;
        let r1 = |v: f64| (v * 10.0).round() / 10.0;
        serde_json::json!({
            "secs": (self.secs * 1000.0).round() / 1000.0,
            "mb_per_s": r1(mb / self.secs),
            "server_cpu_s": self.server_cpu,
            "server_cpu_ms_per_mb": self.server_cpu.map(|c| (c * 1000.0 / mb * 1000.0).round() / 1000.0),
            "client_cpu_ms_per_mb": self.client_cpu.map(|c| (c * 1000.0 / mb * 1000.0).round() / 1000.0),
            "server_cpu_pct": self.server_cpu.map(|c| (c / self.secs * 100.0).round()),
            "client_cpu_pct": self.client_cpu.map(|c| (c / self.secs * 100.0).round()),
            "machine_cpu_pct": self.machine_cpu.map(|c| (c / self.secs * 100.0).round()),
        })
    }
}

struct Conn {
    addr: SocketAddr,
    sender: Option<SendRequest<Generated>>,
    signer: Signer,
    mode: Mode,
    /// SSE-C headers (key, key MD5), base64.
    customer: (HeaderValue, HeaderValue),
    timeout: Duration,
}

impl Conn {
    async fn sender(&mut self) -> Result<&mut SendRequest<Generated>, String> {
        if let Some(s) = self.sender.as_mut()
            && s.ready().await.is_err()
        {
            self.sender = None;
        }
        if self.sender.is_none() {
            let stream = TcpStream::connect(self.addr).await.map_err(|e| format!("connect {}: {e}", self.addr))?;
            let _ = stream.set_nodelay(true);
            let (mut s, conn) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("handshake: {e}"))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            s.ready().await.map_err(|e| format!("connection not ready: {e}"))?;
            self.sender = Some(s);
        }
        Ok(self.sender.as_mut().expect("connected above"))
    }

    fn request(&mut self, method: Method, path: &str, body: Generated, sse: bool) -> Request<Generated> {
        let mut req = Request::new(body);
        *req.method_mut() = method.clone();
        *req.uri_mut() = path.parse().expect("a valid path");
        if sse {
            let h = req.headers_mut();
            match self.mode {
                Mode::Plain => {}
                Mode::SseS3 => {
                    if method == Method::PUT {
                        h.insert("x-amz-server-side-encryption", HeaderValue::from_static("AES256"));
                    }
                }
                Mode::SseC => {
                    h.insert("x-amz-server-side-encryption-customer-algorithm", HeaderValue::from_static("AES256"));
                    h.insert("x-amz-server-side-encryption-customer-key", self.customer.0.clone());
                    h.insert("x-amz-server-side-encryption-customer-key-md5", self.customer.1.clone());
                }
            }
        }
        self.signer.s3(&mut req);
        req
    }

    /// Sends a request; returns the status, the response headers, and the body (kept only if
    /// `keep`; otherwise only counted).
    async fn send(&mut self, req: Request<Generated>, keep: bool) -> Result<(StatusCode, hyper::HeaderMap, u64, Vec<u8>), String> {
        let timeout = self.timeout;
        let fut = async {
            let s = self.sender().await?;
            let resp = s.send_request(req).await.map_err(|e| format!("send: {e}"))?;
            let (parts, mut body) = resp.into_parts();
            let mut n = 0u64;
            let mut kept = Vec::new();
            while let Some(f) = body.frame().await {
                let f = f.map_err(|e| format!("response body: {e}"))?;
                if let Ok(d) = f.into_data() {
                    n += d.len() as u64;
                    if keep || parts.status != StatusCode::OK {
                        kept.extend_from_slice(&d);
                    }
                }
            }
            Ok::<_, String>((parts.status, parts.headers, n, kept))
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(Ok(x)) => Ok(x),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e)
            }
            Err(_) => {
                self.sender = None;
                Err(format!("no complete response within {timeout:?}"))
            }
        }
    }

    async fn expect(&mut self, what: &str, req: Request<Generated>, ok: &[StatusCode], keep: bool) -> Result<(hyper::HeaderMap, u64, Vec<u8>), String> {
        let (status, headers, n, body) = self.send(req, keep).await.map_err(|e| format!("{what}: {e}"))?;
        if !ok.contains(&status) {
            return Err(format!("{what}: HTTP {status}: {}", String::from_utf8_lossy(&body[..body.len().min(500)])));
        }
        Ok((headers, n, body))
    }
}

fn header(h: &hyper::HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[(v.len() - 1) / 2])
}

pub fn run(cfg: Config, json: bool) -> Result<(), String> {
    if cfg.size == 0 || cfg.reps == 0 || cfg.gets == 0 {
        return Err("--size-mib, --reps and --gets must be positive".into());
    }
    let (addr, host) = resolve(&cfg.endpoint)?;
    let target = Target { host, access_key: cfg.access_key.clone(), secret_key: cfg.secret_key.clone(), region: cfg.region.clone() };
    let customer_key: [u8; 32] = coffer_crypto::random::bytes();
    let customer = (
        HeaderValue::from_str(&B64.encode(customer_key)).expect("base64"),
        HeaderValue::from_str(&B64.encode(md5::Md5::digest(customer_key))).expect("base64"),
    );
    let mut pattern = vec![0u8; 1 << 20];
    coffer_crypto::random::fill(&mut pattern);
    let pattern = Bytes::from(pattern);
    let mut conn = Conn { addr, sender: None, signer: Signer::new(target), mode: cfg.mode, customer, timeout: cfg.timeout };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let size = cfg.size;
    let bucket = cfg.bucket.clone();
    let (puts, gets, sse_reported) = rt.block_on(async {
        // The bucket (an existing one of ours is fine).
        let req = conn.request(Method::PUT, &format!("/{bucket}"), Generated::new(&pattern, 0), false);
        let (status, _, _, body) = conn.send(req, true).await.map_err(|e| format!("CreateBucket: {e}"))?;
        let body = String::from_utf8_lossy(&body).into_owned();
        if status != StatusCode::OK && !body.contains("BucketAlreadyOwnedByYou") {
            return Err(format!("CreateBucket {bucket}: HTTP {status}: {body}"));
        }

        // Round trip of a small object, compared byte for byte.
        let small = (3 << 20) + 4321;
        let path = format!("/{bucket}/coffer-bench-check-{}", coffer_crypto::random::digits(8));
        let req = conn.request(Method::PUT, &path, Generated::new(&pattern, small), true);
        let (put_headers, _, _) = conn.expect("PUT (check)", req, &[StatusCode::OK], false).await?;
        let req = conn.request(Method::GET, &path, Generated::new(&pattern, 0), true);
        let (_, n, body) = conn.expect("GET (check)", req, &[StatusCode::OK], true).await?;
        let expected: Vec<u8> = pattern.iter().cycle().take(small as usize).copied().collect();
        if n != small || body != expected {
            return Err(format!("GET (check) returned {n} bytes that differ from the {small} bytes PUT"));
        }
        if cfg.mode == Mode::SseC {
            // Without the key the object must not be readable.
            let mut req = Request::new(Generated::new(&pattern, 0));
            *req.uri_mut() = path.parse().expect("path");
            conn.signer.s3(&mut req);
            let (status, _, _, _) = conn.send(req, false).await?;
            if status == StatusCode::OK {
                return Err("an SSE-C object was readable without its key".into());
            }
        }
        let req = conn.request(Method::DELETE, &path, Generated::new(&pattern, 0), false);
        conn.expect("DELETE (check)", req, &[StatusCode::NO_CONTENT, StatusCode::OK], false).await?;
        let sse_reported = (
            header(&put_headers, "x-amz-server-side-encryption"),
            header(&put_headers, "x-amz-server-side-encryption-customer-algorithm"),
        );

        let mut puts = Vec::new();
        let mut gets = Vec::new();
        for _ in 0..cfg.reps {
            let path = format!("/{bucket}/coffer-bench-{}-{}", cfg.mode.name(), coffer_crypto::random::digits(8));
            let req = conn.request(Method::PUT, &path, Generated::new(&pattern, size), true);
            conn.sender().await?; // connected before the clock starts
            let a = Clocks::now(cfg.server_pid);
            conn.expect("PUT", req, &[StatusCode::OK], false).await?;
            let b = Clocks::now(cfg.server_pid);
            puts.push(Transfer::between(a, b));

            for _ in 0..cfg.gets {
                let req = conn.request(Method::GET, &path, Generated::new(&pattern, 0), true);
                conn.sender().await?;
                let a = Clocks::now(cfg.server_pid);
                let (_, n, _) = conn.expect("GET", req, &[StatusCode::OK], false).await?;
                let b = Clocks::now(cfg.server_pid);
                if n != size {
                    return Err(format!("GET returned {n} bytes, not {size}"));
                }
                gets.push(Transfer::between(a, b));
            }

            let req = conn.request(Method::DELETE, &path, Generated::new(&pattern, 0), false);
            conn.expect("DELETE", req, &[StatusCode::NO_CONTENT, StatusCode::OK], false).await?;
        }
        Ok::<_, String>((puts, gets, sse_reported))
    })?;

    let mb = size as f64 / 1e6;
    let med = |v: &[Transfer], f: &dyn Fn(&Transfer) -> Option<f64>| median(v.iter().filter_map(f).collect());
    let all: Vec<&Transfer> = puts.iter().chain(gets.iter()).collect();
    let total_secs: f64 = all.iter().map(|t| t.secs).sum();
    let total = |f: &dyn Fn(&Transfer) -> Option<f64>| -> Option<f64> {
        let v: Option<Vec<f64>> = all.iter().map(|t| f(t)).collect();
        v.map(|v| (v.iter().sum::<f64>() / total_secs * 100.0).round())
    };
    let r1 = |v: Option<f64>| v.map(|v| (v * 10.0).round() / 10.0);
    let r3 = |v: Option<f64>| v.map(|v| (v * 1000.0).round() / 1000.0);
    let put_mbps = med(&puts, &|t| Some(mb / t.secs));
    let get_mbps = med(&gets, &|t| Some(mb / t.secs));
    let report = serde_json::json!({
        "endpoint": cfg.endpoint,
        "scenario": "s3",
        "mode": cfg.mode.name(),
        "size_bytes": size,
        "reps": cfg.reps,
        "gets_per_rep": cfg.gets,
        "sse_reported": sse_reported.0,
        "sse_customer_algorithm_reported": sse_reported.1,
        "put_mb_per_s": r1(put_mbps),
        "get_mb_per_s": r1(get_mbps),
        "put_server_cpu_ms_per_mb": r3(med(&puts, &|t| t.server_cpu.map(|c| c * 1000.0 / mb))),
        "get_server_cpu_ms_per_mb": r3(med(&gets, &|t| t.server_cpu.map(|c| c * 1000.0 / mb))),
        "put_client_cpu_ms_per_mb": r3(med(&puts, &|t| t.client_cpu.map(|c| c * 1000.0 / mb))),
        "get_client_cpu_ms_per_mb": r3(med(&gets, &|t| t.client_cpu.map(|c| c * 1000.0 / mb))),
        "put": puts.iter().map(|t| t.json(size)).collect::<Vec<_>>(),
        "get": gets.iter().map(|t| t.json(size)).collect::<Vec<_>>(),
        "duration_s": (total_secs * 1000.0).round() / 1000.0,
        "client_cpu_pct": total(&|t| t.client_cpu),
        "server_cpu_pct": total(&|t| t.server_cpu),
        "machine_cpu_pct": total(&|t| t.machine_cpu),
    });
    if json {
        println!("{report}");
    } else {
        println!(
            "s3 {} on {}: {} MiB objects, {} repetition(s)\nPUT  {:.1} MB/s (median), server CPU {} ms/MB\nGET  {:.1} MB/s (median), server CPU {} ms/MB",
            cfg.mode.name(),
            cfg.endpoint,
            size >> 20,
            cfg.reps,
            put_mbps.unwrap_or(0.0),
            report["put_server_cpu_ms_per_mb"],
            get_mbps.unwrap_or(0.0),
            report["get_server_cpu_ms_per_mb"],
        );
    }
    Ok(())
}
