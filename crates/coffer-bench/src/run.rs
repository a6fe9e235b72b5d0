//! The closed-loop load generator: N keep-alive HTTP/1.1 connections, one task each, each
//! sending its next request as soon as the previous response has arrived.
//!
//! Connections are spread over `threads` OS threads, each running its own current-thread tokio
//! runtime (no work stealing, no cross-thread wake-ups: the cheapest way for a client to drive
//! many connections). A request counts when its response completes inside the measurement
//! window, which starts after the warm-up; latency is measured from just before the request is
//! written (signing excluded) to the last byte of the response body.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::StatusCode;
use hyper::client::conn::http1::SendRequest;
use hyper::header::HeaderValue;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::hist::Histogram;
use crate::request::{
    ENCRYPT, GENERATE_MAC, GET_PARAMETER, PUT_PARAMETER, SIGN, Signer, Target, encrypt_body, get_parameter_body, mac_body,
    put_parameter_body, sign_body,
};
use crate::setup::{self, Client};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// CreateKey once, then Encrypt 32 random bytes under it.
    Encrypt,
    /// Encrypt-shaped signed requests against `coffer-bench ceiling` (no key is created).
    Ceiling,
    /// GetParameter WithDecryption of a SecureString under a customer key, picked at random
    /// among `--parameters` stored ones (created at setup if missing).
    GetParameter,
    /// PutParameter of a SecureString under the same customer key, overwriting one picked at
    /// random among `--parameters` names (a write: on a durable store, a commit per request).
    PutParameter,
    /// Sign a 32-byte RAW message with an ECC_NIST_P256 key, ECDSA_SHA_256.
    SignEcdsa,
    /// Sign a 32-byte RAW message with an RSA_2048 key, RSASSA_PSS_SHA_256.
    SignRsa,
    /// GenerateMac of a 32-byte message with an HMAC_256 key, HMAC_SHA_256.
    GenerateMac,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Encrypt => "encrypt",
            Scenario::Ceiling => "ceiling",
            Scenario::GetParameter => "get-parameter",
            Scenario::PutParameter => "put-parameter",
            Scenario::SignEcdsa => "sign-ecdsa",
            Scenario::SignRsa => "sign-rsa",
            Scenario::GenerateMac => "generate-mac",
        }
    }

    /// CreateKey parameters and the IAM actions a caller needs, for the KMS scenarios.
    fn key(self) -> Option<(serde_json::Value, &'static [&'static str])> {
        match self {
            Scenario::Encrypt => Some((serde_json::json!({}), &["kms:Encrypt"])),
            Scenario::SignEcdsa => Some((serde_json::json!({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}), &["kms:Sign"])),
            Scenario::SignRsa => Some((serde_json::json!({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}), &["kms:Sign"])),
            Scenario::GenerateMac => {
                Some((serde_json::json!({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}), &["kms:GenerateMac"]))
            }
            Scenario::Ceiling | Scenario::GetParameter | Scenario::PutParameter => None,
        }
    }
}

/// Who signs the load.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The credentials given (`--access-key`): on a `--dev` server, made-up credentials are the
    /// root of the default account and their signatures are parsed but not verified.
    Dev,
    /// The root access key of a fresh account created through Coffer's admin API: a real
    /// credential, signature verified.
    Root,
    /// An IAM user of a fresh account, with an access key, an inline identity policy allowing
    /// the scenario's action on the key, and a key policy naming the user.
    User,
}

impl Principal {
    fn name(self) -> &'static str {
        match self {
            Principal::Dev => "dev",
            Principal::Root => "root",
            Principal::User => "user",
        }
    }
}

/// A uniform enough pick in `0..count` (xorshift64), without a syscall per request.
pub(crate) fn pick(rng: &mut u64, count: usize) -> usize {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    (*rng % count.max(1) as u64) as usize
}

/// What each request of a run is.
enum Work {
    Encrypt { key_id: String },
    GetParameter { count: usize },
    PutParameter { count: usize },
    Sign { key_id: String, algorithm: &'static str },
    Mac { key_id: String },
}

impl Work {
    fn request(&self, signer: &mut Signer, rng: &mut u64) -> hyper::Request<Full<Bytes>> {
        match self {
            Work::Encrypt { key_id } => signer.request(ENCRYPT, encrypt_body(key_id)),
            Work::GetParameter { count } => {
                let i = pick(rng, *count);
                signer.json("ssm", GET_PARAMETER, get_parameter_body(&setup::parameter_name(i)))
            }
            Work::PutParameter { count } => {
                let name = setup::written_parameter_name(pick(rng, *count));
                signer.json("ssm", PUT_PARAMETER, put_parameter_body(&name, setup::PARAMETER_KEY_ALIAS))
            }
            Work::Sign { key_id, algorithm } => signer.request(SIGN, sign_body(key_id, algorithm)),
            Work::Mac { key_id } => signer.request(GENERATE_MAC, mac_body(key_id)),
        }
    }
}

pub struct Config {
    pub endpoint: String,
    pub scenario: Scenario,
    pub principal: Principal,
    /// GetParameter: how many parameters are stored (and picked from); PutParameter: how many
    /// names are written to.
    pub parameters: usize,
    pub connections: usize,
    pub threads: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub timeout: Duration,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
    /// A local server process whose CPU use over the window is reported too.
    pub server_pid: Option<u32>,
    /// The command name of a backend the server uses (`postgres`): its processes' CPU use over
    /// the window is reported too.
    pub backend_comm: Option<String>,
}

/// What one connection (and, merged, the whole run) observed inside the measurement window.
#[derive(Default)]
struct Stats {
    hist: Histogram,
    ok: u64,
    /// Responses other than 200.
    status_errors: u64,
    /// Connection failures, protocol errors and timeouts.
    transport_errors: u64,
    /// The first failure seen at any time, for diagnosis.
    first_error: Option<String>,
}

impl Stats {
    fn merge(&mut self, o: Stats) {
        self.hist.merge(&o.hist);
        self.ok += o.ok;
        self.status_errors += o.status_errors;
        self.transport_errors += o.transport_errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }
    fn note(&mut self, e: impl FnOnce() -> String) {
        if self.first_error.is_none() {
            self.first_error = Some(e());
        }
    }
}

pub struct Report {
    pub endpoint: String,
    pub scenario: Scenario,
    pub principal: Principal,
    pub parameters: Option<usize>,
    pub connections: usize,
    pub threads: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub rps: f64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// CPU the generator itself used during the window, in percent of one core.
    pub client_cpu_pct: Option<f64>,
    /// CPU the server process (`--server-pid`) used during the window, in percent of one core.
    pub server_cpu_pct: Option<f64>,
    /// CPU the backend's processes (`--backend-comm`) used during the window, in percent of one
    /// core.
    pub backend_cpu_pct: Option<f64>,
    /// CPU the whole machine was busy with during the window (all processes and the kernel), in
    /// percent of one core; what client and server do not account for was something else.
    pub machine_cpu_pct: Option<f64>,
    /// CPU time stolen by the hypervisor during the window, in percent of one core.
    pub steal_cpu_pct: Option<f64>,
    pub first_error: Option<String>,
}

impl Report {
    /// Server CPU time per successful request, in microseconds.
    pub fn server_cpu_us_per_req(&self) -> Option<f64> {
        let pct = self.server_cpu_pct?;
        (self.ok > 0).then(|| pct / 100.0 * self.duration_s * 1e6 / self.ok as f64)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "endpoint": self.endpoint,
            "scenario": self.scenario.name(),
            "principal": self.principal.name(),
            "parameters": self.parameters,
            "connections": self.connections,
            "threads": self.threads,
            "duration_s": self.duration_s,
            "warmup_s": self.warmup_s,
            "requests": self.requests,
            "ok": self.ok,
            "errors": self.errors,
            "rps": (self.rps * 10.0).round() / 10.0,
            "mean_us": self.mean_us.round(),
            "p50_us": self.p50_us,
            "p90_us": self.p90_us,
            "p99_us": self.p99_us,
            "max_us": self.max_us,
            "client_cpu_pct": self.client_cpu_pct.map(|c| c.round()),
            "server_cpu_pct": self.server_cpu_pct.map(|c| c.round()),
            "server_cpu_us_per_req": self.server_cpu_us_per_req().map(|c| (c * 10.0).round() / 10.0),
            "backend_cpu_pct": self.backend_cpu_pct.map(|c| c.round()),
            "backend_cpu_us_per_req": self
                .backend_cpu_pct
                .filter(|_| self.ok > 0)
                .map(|pct| (pct / 100.0 * self.duration_s * 1e6 / self.ok as f64 * 10.0).round() / 10.0),
            "machine_cpu_pct": self.machine_cpu_pct.map(|c| c.round()),
            "steal_cpu_pct": self.steal_cpu_pct.map(|c| c.round()),
            "first_error": self.first_error,
        })
    }

    pub fn text(&self) -> String {
        let ms = |us: u64| us as f64 / 1000.0;
        let mut s = format!(
            "target      {} (scenario {} as {}, {} connections on {} client thread(s))\n\
             window      {:.1} s after {:.1} s warm-up\n\
             requests    {} ({} ok, {} errors)\n\
             throughput  {:.1} req/s (2xx only)\n\
             latency     mean {:.3} ms  p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  max {:.3} ms\n",
            self.endpoint,
            self.scenario.name(),
            self.principal.name(),
            self.connections,
            self.threads,
            self.duration_s,
            self.warmup_s,
            self.requests,
            self.ok,
            self.errors,
            self.rps,
            self.mean_us / 1000.0,
            ms(self.p50_us),
            ms(self.p90_us),
            ms(self.p99_us),
            ms(self.max_us),
        );
        if let Some(c) = self.client_cpu_pct {
            s.push_str(&format!("client cpu  {c:.0}% of one core\n"));
        }
        if let (Some(c), Some(per)) = (self.server_cpu_pct, self.server_cpu_us_per_req()) {
            s.push_str(&format!("server cpu  {c:.0}% of one core, {per:.1} µs per request\n"));
        }
        if let Some(c) = self.backend_cpu_pct {
            s.push_str(&format!("backend cpu {c:.0}% of one core\n"));
        }
        if let (Some(m), Some(st)) = (self.machine_cpu_pct, self.steal_cpu_pct) {
            s.push_str(&format!("machine cpu {m:.0}% of one core busy in all, {st:.0}% stolen by the hypervisor\n"));
        }
        if let Some(e) = &self.first_error {
            s.push_str(&format!("first error {e}\n"));
        }
        s
    }
}

/// Everything the connection tasks share.
struct Shared {
    addr: SocketAddr,
    work: Work,
    warm_end: Instant,
    end: Instant,
    timeout: Duration,
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// One request on the connection, (re)connecting first if the server closed it.
pub(crate) async fn exchange(
    sender: &mut Option<SendRequest<Full<Bytes>>>,
    addr: SocketAddr,
    req: hyper::Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), String> {
    if let Some(s) = sender.as_mut()
        && s.ready().await.is_err()
    {
        *sender = None;
    }
    if sender.is_none() {
        let mut s = connect(addr).await?;
        s.ready().await.map_err(|e| format!("connection not ready: {e}"))?;
        *sender = Some(s);
    }
    let s = sender.as_mut().expect("connected above");
    let resp = s.send_request(req).await.map_err(|e| format!("send: {e}"))?;
    let status = resp.status();
    let body = resp.into_body().collect().await.map_err(|e| format!("response body: {e}"))?.to_bytes();
    Ok((status, body))
}

fn describe(status: StatusCode, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    format!("HTTP {status}: {text}")
}

async fn connection(shared: Arc<Shared>, mut signer: Signer) -> Stats {
    let mut st = Stats::default();
    let mut sender = None;
    let mut rng = u64::from_le_bytes(coffer_crypto::random::bytes()) | 1;
    loop {
        let now = Instant::now();
        if now >= shared.end {
            break;
        }
        let req = shared.work.request(&mut signer, &mut rng);
        let t0 = Instant::now();
        let deadline = (t0 + shared.timeout).min(shared.end);
        let res = tokio::time::timeout_at(deadline.into(), exchange(&mut sender, shared.addr, req)).await;
        let t1 = Instant::now();
        let measured = t1 >= shared.warm_end && t1 < shared.end;
        match res {
            Ok(Ok((status, body))) => {
                if status == StatusCode::OK {
                    if measured {
                        st.ok += 1;
                    }
                } else {
                    st.note(|| describe(status, &body));
                    if measured {
                        st.status_errors += 1;
                    }
                }
                if measured {
                    st.hist.record((t1 - t0).as_micros() as u64);
                }
            }
            Ok(Err(e)) => {
                sender = None;
                st.note(|| e);
                if measured {
                    st.transport_errors += 1;
                }
                // Do not spin on a refused connection.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(_) if t1 >= shared.end => break, // cut off by the end of the run: not counted
            Err(_) => {
                sender = None;
                st.note(|| format!("no response within {:?}", shared.timeout));
                if measured {
                    st.transport_errors += 1;
                }
            }
        }
    }
    st
}

/// CPU time (user + system) a process (`None`: this one) has used, in seconds; Linux only.
pub(crate) fn process_cpu_secs(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0) // USER_HZ is 100 on every Linux architecture we run on
}

/// CPU time (user + system, seconds) of every process whose command name is `comm` (e.g. all of
/// a PostgreSQL server's processes). Processes that start or end between two samples make the
/// difference approximate.
pub(crate) fn comm_cpu_secs(comm: &str) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0.0 };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == comm))
        .filter_map(|pid| process_cpu_secs(Some(pid)))
        .sum()
}

/// Whole-machine CPU time from /proc/stat in seconds: (busy, stolen). Busy is user, nice,
/// system, irq and softirq time over all cores; Linux only.
pub(crate) fn machine_cpu_secs() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line.split_ascii_whitespace().skip(1).map(|v| v.parse().unwrap_or(0)).collect();
    // user nice system idle iowait irq softirq steal ...
    let busy = f.first()? + f.get(1)? + f.get(2)? + f.get(5)? + f.get(6)?;
    Some((busy as f64 / 100.0, *f.get(7)? as f64 / 100.0))
}

pub(crate) fn resolve(endpoint: &str) -> Result<(SocketAddr, HeaderValue), String> {
    let uri: hyper::Uri = endpoint.parse().map_err(|e| format!("--endpoint {endpoint}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("--endpoint {endpoint}: only http:// endpoints are supported"));
    }
    let authority = uri.authority().ok_or_else(|| format!("--endpoint {endpoint}: no host"))?;
    let port = authority.port_u16().unwrap_or(80);
    let addr = (authority.host(), port)
        .to_socket_addrs()
        .map_err(|e| format!("resolving {}: {e}", authority.host()))?
        .next()
        .ok_or_else(|| format!("{} does not resolve", authority.host()))?;
    let host = HeaderValue::from_str(authority.as_str()).map_err(|e| format!("--endpoint {endpoint}: {e}"))?;
    Ok((addr, host))
}

/// Prepares the server for the scenario (keys, principals, parameters) over one-off
/// connections; returns the work and the credentials the load is signed with.
fn prepare(addr: SocketAddr, target: &Target, cfg: &Config) -> Result<(Work, Target), String> {
    if cfg.scenario == Scenario::Ceiling {
        // Any well-formed id: the ceiling server does not look at it.
        return Ok((Work::Encrypt { key_id: "6a1c8a4e-2a4b-4f0e-9d8e-0c5b7a3f1e2d".into() }, target.clone()));
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    rt.block_on(async {
        let mut admin = Client::new(addr, target.clone());
        if matches!(cfg.scenario, Scenario::GetParameter | Scenario::PutParameter) {
            if cfg.principal != Principal::Dev {
                return Err(format!("--scenario {} supports --principal dev (the credentials given) only", cfg.scenario.name()));
            }
            if cfg.parameters == 0 {
                return Err("--parameters must be at least 1".into());
            }
            if cfg.scenario == Scenario::GetParameter {
                setup::ensure_parameters(addr, target, cfg.parameters, cfg.connections.clamp(1, 64)).await?;
                return Ok((Work::GetParameter { count: cfg.parameters }, target.clone()));
            }
            setup::ensure_parameter_key(&mut admin).await?;
            let work = Work::PutParameter { count: cfg.parameters };
            let mut rng = 1;
            admin
                .send_raw(work.request(&mut Signer::new(target.clone()), &mut rng))
                .await
                .map_err(|e| e.describe("a first PutParameter"))?;
            return Ok((work, target.clone()));
        }
        let (params, actions) = cfg.scenario.key().expect("a KMS scenario");
        let (key_id, signer) = match cfg.principal {
            Principal::Dev => (admin.create_key(params).await?.0, target.clone()),
            Principal::Root => {
                let (_, mut root) = admin.create_account().await?;
                (root.create_key(params).await?.0, root.target.clone())
            }
            Principal::User => {
                let (user, key_id) = setup::iam_user_with_key(&mut admin, params, actions).await?;
                (key_id, user)
            }
        };
        let work = match cfg.scenario {
            Scenario::Encrypt => Work::Encrypt { key_id },
            Scenario::SignEcdsa => Work::Sign { key_id, algorithm: "ECDSA_SHA_256" },
            Scenario::SignRsa => Work::Sign { key_id, algorithm: "RSASSA_PSS_SHA_256" },
            Scenario::GenerateMac => Work::Mac { key_id },
            Scenario::Ceiling | Scenario::GetParameter | Scenario::PutParameter => unreachable!("handled above"),
        };
        // One request before the clock starts: the principal really is allowed.
        let mut check = Client::new(addr, signer.clone());
        let mut rng = 1;
        let req = work.request(&mut Signer::new(signer.clone()), &mut rng);
        check.send_raw(req).await.map_err(|e| e.describe(&format!("a first {} as {}", cfg.scenario.name(), cfg.principal.name())))?;
        Ok((work, signer))
    })
}

pub fn run(cfg: Config) -> Result<Report, String> {
    if cfg.connections == 0 || cfg.threads == 0 {
        return Err("--connections and --threads must be at least 1".into());
    }
    let threads = cfg.threads.min(cfg.connections);
    let (addr, host) = resolve(&cfg.endpoint)?;
    let target = Target { host, access_key: cfg.access_key.clone(), secret_key: cfg.secret_key.clone(), region: cfg.region.clone() };
    let (work, target) = prepare(addr, &target, &cfg)?;
    let start = Instant::now();
    let warm_end = start + cfg.warmup;
    let end = warm_end + cfg.duration;
    let shared = Arc::new(Shared { addr, work, warm_end, end, timeout: cfg.timeout });

    let mut handles = Vec::with_capacity(threads);
    for t in 0..threads {
        let n = cfg.connections / threads + usize::from(t < cfg.connections % threads);
        let shared = shared.clone();
        let target = target.clone();
        let h = std::thread::Builder::new()
            .name(format!("load-{t}"))
            .spawn(move || -> Result<Stats, String> {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
                rt.block_on(async move {
                    let tasks: Vec<_> =
                        (0..n).map(|_| tokio::spawn(connection(shared.clone(), Signer::new(target.clone())))).collect();
                    let mut st = Stats::default();
                    for task in tasks {
                        st.merge(task.await.map_err(|e| format!("connection task: {e}"))?);
                    }
                    Ok(st)
                })
            })
            .map_err(|e| format!("spawning a load thread: {e}"))?;
        handles.push(h);
    }

    // Sample this process's CPU time at the window's edges while the load threads run.
    std::thread::sleep(warm_end.saturating_duration_since(Instant::now()));
    let sample = || {
        (
            process_cpu_secs(None),
            cfg.server_pid.and_then(|p| process_cpu_secs(Some(p))),
            machine_cpu_secs(),
            cfg.backend_comm.as_deref().map(comm_cpu_secs),
        )
    };
    let (cpu0, srv0, mach0, back0) = sample();
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    let (cpu1, srv1, mach1, back1) = sample();

    let mut st = Stats::default();
    for h in handles {
        st.merge(h.join().map_err(|_| "a load thread panicked".to_string())??);
    }
    let secs = cfg.duration.as_secs_f64();
    let errors = st.status_errors + st.transport_errors;
    Ok(Report {
        endpoint: cfg.endpoint,
        scenario: cfg.scenario,
        principal: cfg.principal,
        parameters: matches!(cfg.scenario, Scenario::GetParameter | Scenario::PutParameter).then_some(cfg.parameters),
        connections: cfg.connections,
        threads,
        duration_s: secs,
        warmup_s: cfg.warmup.as_secs_f64(),
        requests: st.ok + errors,
        ok: st.ok,
        errors,
        rps: st.ok as f64 / secs,
        mean_us: st.hist.mean(),
        p50_us: st.hist.quantile(0.50),
        p90_us: st.hist.quantile(0.90),
        p99_us: st.hist.quantile(0.99),
        max_us: st.hist.max(),
        client_cpu_pct: cpu0.zip(cpu1).map(|(a, b)| (b - a) / secs * 100.0),
        server_cpu_pct: srv0.zip(srv1).map(|(a, b)| (b - a) / secs * 100.0),
        backend_cpu_pct: back0.zip(back1).map(|(a, b)| (b - a).max(0.0) / secs * 100.0),
        machine_cpu_pct: mach0.zip(mach1).map(|(a, b)| (b.0 - a.0) / secs * 100.0),
        steal_cpu_pct: mach0.zip(mach1).map(|(a, b)| (b.1 - a.1) / secs * 100.0),
        first_error: st.first_error,
    })
}
