//! `coffer-bench soak`: a long, mixed, paced load, to find what short closed-loop runs cannot:
//! memory that grows with time (leaks, caches without bounds, journals kept in memory), errors
//! that only appear after a while, latency that drifts.
//!
//! The load is a mix of the calls a typical client makes (KMS Encrypt, Decrypt and
//! GenerateDataKey, Parameter Store GetParameter with decryption and PutParameter, small S3
//! PutObject and GetObject with SSE-S3), in fixed proportions (`--mix`), every request SigV4-
//! signed afresh with the credentials given.
//!
//! It runs in two phases:
//!
//! 1. **Peak** (unless `--rate` is given): the mix closed-loop, as `coffer-bench run` drives a
//!    single scenario, for `--peak-duration` seconds after a warm-up. Its throughput is the peak.
//! 2. **Soak**: the mix *open-loop* at `--load` times the peak (or at `--rate`) for `--duration`
//!    seconds after a warm-up. Request *n* is due at `start + n / rate`, whenever the previous
//!    ones finish; a free connection takes the next due request and sends it at its time. Latency
//!    is measured from the time the request was due, not from when it was sent, so a server (or
//!    client) that falls behind shows as latency, not as a quietly lower rate ("coordinated
//!    omission"). Pacing below the peak leaves headroom, as a production server has: a server at
//!    its peak only ever shows queues.
//!
//! Meanwhile the server's resident memory (`VmRSS` of `--server-pid`) is sampled every
//! `--rss-every` seconds. The report has the whole window and each `--interval` of it (the
//! rate delivered in it, errors, p50/p99 of the requests completed in it, RSS, server CPU), so
//! the first and the last minute can be compared. A server that keeps up completes nearly every
//! request due in the window inside it, and sends lag behind the schedule by no more than the
//! timer's granularity.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::HeaderValue;
use hyper::{Method, Request, StatusCode};

use crate::hist::Histogram;
use crate::request::{
    DECRYPT, ENCRYPT, GENERATE_DATA_KEY, GET_PARAMETER, PUT_PARAMETER, Signer, Target, data_key_body, decrypt_body, encrypt_body,
    get_parameter_body, put_parameter_body,
};
use crate::run::{exchange, machine_cpu_secs, pick, process_cpu_secs, resolve};
use crate::setup::{self, Client};

/// The calls of the mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Encrypt,
    Decrypt,
    GenerateDataKey,
    GetParameter,
    PutParameter,
    PutObject,
    GetObject,
}

const OPS: [Op; 7] =
    [Op::Encrypt, Op::Decrypt, Op::GenerateDataKey, Op::GetParameter, Op::PutParameter, Op::PutObject, Op::GetObject];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Encrypt => "encrypt",
            Op::Decrypt => "decrypt",
            Op::GenerateDataKey => "generate-data-key",
            Op::GetParameter => "get-parameter",
            Op::PutParameter => "put-parameter",
            Op::PutObject => "put-object",
            Op::GetObject => "get-object",
        }
    }

    fn index(self) -> usize {
        OPS.iter().position(|o| *o == self).expect("every op is in OPS")
    }
}

/// The default mix, in parts (of 100 here): reads dominate, as they do for secrets.
pub const DEFAULT_MIX: &str =
    "encrypt=20,decrypt=20,generate-data-key=10,get-parameter=25,put-parameter=5,put-object=5,get-object=15";

/// Relative weights of the calls, parsed from `name=weight,...`.
#[derive(Clone, Debug)]
pub struct Mix {
    weights: [u32; 7],
}

impl std::str::FromStr for Mix {
    type Err = String;

    fn from_str(s: &str) -> Result<Mix, String> {
        let mut weights = [0u32; 7];
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, w) = part.split_once('=').ok_or_else(|| format!("mix entry '{part}' is not name=weight"))?;
            let op = OPS
                .iter()
                .find(|o| o.name() == name.trim())
                .ok_or_else(|| format!("unknown call '{name}' in the mix (known: {})", OPS.map(Op::name).join(", ")))?;
            weights[op.index()] = w.trim().parse().map_err(|_| format!("weight '{w}' of {name} is not a whole number"))?;
        }
        let total: u32 = weights.iter().sum();
        if total == 0 || total > 10_000 {
            return Err("the mix's weights must add up to between 1 and 10000".into());
        }
        Ok(Mix { weights })
    }
}

impl Mix {
    /// One entry per unit of weight: request `n` is `table[hash(n) % len]`.
    fn table(&self) -> Vec<Op> {
        OPS.iter().flat_map(|op| std::iter::repeat_n(*op, self.weights[op.index()] as usize)).collect()
    }

    fn json(&self) -> serde_json::Value {
        OPS.iter()
            .filter(|o| self.weights[o.index()] > 0)
            .map(|o| (o.name().to_string(), serde_json::Value::from(self.weights[o.index()])))
            .collect()
    }
}

pub struct Config {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
    pub mix: Mix,
    pub connections: usize,
    pub threads: usize,
    /// The paced rate; `None`: `load` times the measured peak.
    pub rate: Option<f64>,
    pub load: f64,
    pub peak_duration: Duration,
    pub duration: Duration,
    pub warmup: Duration,
    pub interval: Duration,
    pub rss_every: Duration,
    pub timeout: Duration,
    /// Parameters read (and, separately, names written), S3 objects read and overwritten.
    pub parameters: usize,
    pub objects: usize,
    pub object_bytes: usize,
    pub bucket: String,
    pub server_pid: Option<u32>,
}

/// What the server holds for the mix, created at setup.
struct Fixture {
    key_id: String,
    /// An Encrypt result under `key_id`, decrypted over and over.
    ciphertext: String,
    parameters: usize,
    bucket: String,
    objects: usize,
    object: Bytes,
}

fn object_path(bucket: &str, i: usize) -> String {
    format!("/{bucket}/coffer-bench-soak/{i:06}")
}

impl Fixture {
    fn request(&self, op: Op, signer: &mut Signer, rng: &mut u64) -> Request<Full<Bytes>> {
        match op {
            Op::Encrypt => signer.request(ENCRYPT, encrypt_body(&self.key_id)),
            Op::Decrypt => signer.request(DECRYPT, decrypt_body(&self.ciphertext)),
            Op::GenerateDataKey => signer.request(GENERATE_DATA_KEY, data_key_body(&self.key_id)),
            Op::GetParameter => {
                let name = setup::parameter_name(pick(rng, self.parameters));
                signer.json("ssm", GET_PARAMETER, get_parameter_body(&name))
            }
            Op::PutParameter => {
                let name = setup::written_parameter_name(pick(rng, self.parameters));
                signer.json("ssm", PUT_PARAMETER, put_parameter_body(&name, setup::PARAMETER_KEY_ALIAS))
            }
            Op::PutObject => {
                s3_request(signer, Method::PUT, &object_path(&self.bucket, pick(rng, self.objects)), self.object.clone())
            }
            Op::GetObject => s3_request(signer, Method::GET, &object_path(&self.bucket, pick(rng, self.objects)), Bytes::new()),
        }
    }
}

/// A signed path-style S3 request; a PUT asks for SSE-S3.
fn s3_request(signer: &mut Signer, method: Method, path: &str, body: Bytes) -> Request<Full<Bytes>> {
    let put = method == Method::PUT;
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = method;
    *req.uri_mut() = path.parse().expect("a valid path");
    if put {
        req.headers_mut().insert("x-amz-server-side-encryption", HeaderValue::from_static("AES256"));
    }
    signer.s3(&mut req);
    req
}

/// Creates what the mix needs: a key and a ciphertext under it, the stored parameters (and the
/// key they use), a bucket with the objects. Then sends one request of every call in the mix,
/// so that a missing permission fails here, clearly, not as errors in the soak.
async fn prepare(addr: SocketAddr, target: &Target, cfg: &Config) -> Result<Fixture, String> {
    let mut c = Client::new(addr, target.clone());
    let (key_id, _) = c.create_key(serde_json::json!({"Description": "coffer-bench soak"})).await?;
    let v = c
        .json("kms", ENCRYPT, serde_json::from_slice(&encrypt_body(&key_id)).expect("JSON"))
        .await
        .map_err(|e| e.describe("Encrypt"))?;
    let ciphertext =
        v["CiphertextBlob"].as_str().ok_or_else(|| format!("Encrypt response has no CiphertextBlob: {v}"))?.to_owned();
    setup::ensure_parameters(addr, target, cfg.parameters, 16).await?;

    let req = s3_request(&mut Signer::new(target.clone()), Method::PUT, &format!("/{}", cfg.bucket), Bytes::new());
    match c.send_raw(req).await {
        Ok(_) => {}
        Err(e) if e.code() == "BucketAlreadyOwnedByYou" => {}
        Err(e) => return Err(e.describe(&format!("CreateBucket {}", cfg.bucket))),
    }
    let object = Bytes::from(coffer_crypto::random::digits(cfg.object_bytes).into_bytes());
    let t0 = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (next, object, bucket) = (next.clone(), object.clone(), cfg.bucket.clone());
            let (mut c, mut signer) = (Client::new(addr, target.clone()), Signer::new(target.clone()));
            let count = cfg.objects;
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return Ok::<(), String>(());
                    }
                    let path = object_path(&bucket, i);
                    let req = s3_request(&mut signer, Method::PUT, &path, object.clone());
                    c.send_raw(req).await.map_err(|e| e.describe(&format!("PutObject {path}")))?;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.map_err(|e| format!("PutObject task: {e}"))??;
    }
    eprintln!(
        "coffer-bench: {} objects of {} bytes put (SSE-S3) in {:.1} s",
        cfg.objects,
        cfg.object_bytes,
        t0.elapsed().as_secs_f64()
    );

    let fixture =
        Fixture { key_id, ciphertext, parameters: cfg.parameters, bucket: cfg.bucket.clone(), objects: cfg.objects, object };
    let mut signer = Signer::new(target.clone());
    let mut rng = 1;
    for op in OPS.into_iter().filter(|op| cfg.mix.weights[op.index()] > 0) {
        let body = c
            .send_raw(fixture.request(op, &mut signer, &mut rng))
            .await
            .map_err(|e| e.describe(&format!("a first {}", op.name())))?;
        if op == Op::GetObject && body != fixture.object {
            return Err(format!("GetObject returned {} bytes that differ from the {} put", body.len(), fixture.object.len()));
        }
    }
    Ok(fixture)
}

/// What one call (or one interval) saw.
#[derive(Default)]
struct Tally {
    hist: Histogram,
    ok: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.hist.merge(&o.hist);
        self.ok += o.ok;
        self.errors += o.errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }

    fn json(&self, secs: f64) -> serde_json::Value {
        serde_json::json!({
            "ok": self.ok,
            "errors": self.errors,
            "rps": (self.ok as f64 / secs * 10.0).round() / 10.0,
            "p50_us": self.hist.quantile(0.50),
            "p99_us": self.hist.quantile(0.99),
            "max_us": self.hist.max(),
            "first_error": self.first_error,
        })
    }
}

/// Everything one load thread observed.
struct Observed {
    all: Tally,
    ops: [Tally; 7],
    intervals: Vec<Tally>,
    /// Paced: how late requests were sent after they were due (the client or the connections
    /// falling behind).
    lag: Histogram,
}

impl Observed {
    fn new(intervals: usize) -> Observed {
        Observed {
            all: Tally::default(),
            ops: Default::default(),
            intervals: (0..intervals).map(|_| Tally::default()).collect(),
            lag: Histogram::default(),
        }
    }

    fn merge(&mut self, o: Observed) {
        self.all.merge(o.all);
        for (a, b) in self.ops.iter_mut().zip(o.ops) {
            a.merge(b);
        }
        for (a, b) in self.intervals.iter_mut().zip(o.intervals) {
            a.merge(b);
        }
        self.lag.merge(&o.lag);
    }

    fn record(&mut self, op: Op, interval: Option<usize>, latency: Duration, result: Result<(), String>) {
        let us = latency.as_micros() as u64;
        let slots = [&mut self.all, &mut self.ops[op.index()]];
        for t in slots {
            t.hist.record(us);
            match &result {
                Ok(()) => t.ok += 1,
                Err(e) => {
                    t.errors += 1;
                    t.first_error.get_or_insert_with(|| e.clone());
                }
            }
        }
        // The last interval also takes the remainder of a window that is not a whole number of them.
        let last = self.intervals.len().saturating_sub(1);
        if let Some(t) = interval.and_then(|i| self.intervals.get_mut(i.min(last))) {
            t.hist.record(us);
            match result {
                Ok(()) => t.ok += 1,
                Err(_) => t.errors += 1,
            }
        }
    }
}

/// What the connection tasks of one phase share.
struct Phase {
    addr: SocketAddr,
    fixture: Arc<Fixture>,
    table: Vec<Op>,
    /// The next request's number.
    next: AtomicU64,
    start: Instant,
    warm_end: Instant,
    end: Instant,
    /// Paced: requests per second; `None`: closed-loop.
    rate: Option<f64>,
    interval: Duration,
    timeout: Duration,
}

impl Phase {
    /// The call request `n` makes (a hash of `n`, so the mix holds over any stretch of requests).
    fn op(&self, n: u64) -> Op {
        let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        self.table[(z % self.table.len() as u64) as usize]
    }
}

async fn connection(phase: Arc<Phase>, mut signer: Signer, observed: Arc<Mutex<Observed>>) {
    let mut sender = None;
    let mut rng = u64::from_le_bytes(coffer_crypto::random::bytes()) | 1;
    loop {
        let n = phase.next.fetch_add(1, Ordering::Relaxed);
        let due = match phase.rate {
            Some(rate) => {
                let due = phase.start + Duration::from_secs_f64(n as f64 / rate);
                if due >= phase.end {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                Some(due)
            }
            None => None,
        };
        let op = phase.op(n);
        let req = phase.fixture.request(op, &mut signer, &mut rng);
        let t0 = Instant::now();
        if due.is_none() && t0 >= phase.end {
            break;
        }
        // Closed-loop: a response after the end is not counted, so do not wait for it.
        let deadline = if due.is_some() { t0 + phase.timeout } else { (t0 + phase.timeout).min(phase.end) };
        let res = tokio::time::timeout_at(deadline.into(), exchange(&mut sender, phase.addr, req)).await;
        let t1 = Instant::now();
        let result = match res {
            Ok(Ok((StatusCode::OK, _))) => Ok(()),
            Ok(Ok((status, body))) => {
                Err(format!("{}: HTTP {status}: {}", op.name(), String::from_utf8_lossy(&body[..body.len().min(300)])))
            }
            Ok(Err(e)) => {
                sender = None;
                Err(format!("{}: {e}", op.name()))
            }
            Err(_) if due.is_none() && t1 >= phase.end => break,
            Err(_) => {
                sender = None;
                Err(format!("{}: no response within {:?}", op.name(), phase.timeout))
            }
        };
        let failed = result.is_err();
        // Paced requests count when they were due inside the window (all of them are waited
        // for), and in the interval in which they completed (none if after the window: an
        // interval's rate is what was delivered in it); closed-loop ones when they completed
        // inside the window.
        let (counted, from) = match due {
            Some(due) => (due >= phase.warm_end, due),
            None => (t1 >= phase.warm_end && t1 < phase.end, t0),
        };
        if counted {
            let mut o = observed.lock().expect("not poisoned");
            let interval = (t1 < phase.end)
                .then(|| (t1.saturating_duration_since(phase.warm_end).as_secs_f64() / phase.interval.as_secs_f64()) as usize);
            o.record(op, interval, t1 - from, result);
            if due.is_some() {
                o.lag.record((t0 - from).as_micros() as u64);
            }
        }
        if failed {
            // Do not spin on a refused connection.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Starts the load threads of a phase; join them with [`finish`].
fn launch(
    phase: &Arc<Phase>,
    target: &Target,
    connections: usize,
    threads: usize,
    intervals: usize,
) -> Result<Vec<std::thread::JoinHandle<Result<Observed, String>>>, String> {
    (0..threads)
        .map(|t| {
            let n = connections / threads + usize::from(t < connections % threads);
            let (phase, target) = (phase.clone(), target.clone());
            std::thread::Builder::new()
                .name(format!("soak-{t}"))
                .spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
                    let observed = Arc::new(Mutex::new(Observed::new(intervals)));
                    rt.block_on(async {
                        let tasks: Vec<_> = (0..n)
                            .map(|_| tokio::spawn(connection(phase.clone(), Signer::new(target.clone()), observed.clone())))
                            .collect();
                        for task in tasks {
                            task.await.map_err(|e| format!("connection task: {e}"))?;
                        }
                        Ok::<(), String>(())
                    })?;
                    Arc::into_inner(observed).ok_or("connection tasks outlived the run")?.into_inner().map_err(|e| e.to_string())
                })
                .map_err(|e| format!("spawning a load thread: {e}"))
        })
        .collect()
}

fn finish(handles: Vec<std::thread::JoinHandle<Result<Observed, String>>>, intervals: usize) -> Result<Observed, String> {
    let mut all = Observed::new(intervals);
    for h in handles {
        all.merge(h.join().map_err(|_| "a load thread panicked".to_string())??);
    }
    Ok(all)
}

/// The server's resident memory in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// One sample taken during the soak.
struct Sample {
    at: f64,
    rss_kib: Option<u64>,
    server_cpu: Option<f64>,
}

fn ops_json(o: &Observed, secs: f64) -> serde_json::Value {
    OPS.iter()
        .filter(|op| o.ops[op.index()].ok + o.ops[op.index()].errors > 0)
        .map(|op| (op.name().to_string(), o.ops[op.index()].json(secs)))
        .collect()
}

fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

pub fn run(cfg: Config, json: bool) -> Result<(), String> {
    if cfg.connections == 0 || cfg.threads == 0 || cfg.parameters == 0 || cfg.objects == 0 {
        return Err("--connections, --threads, --parameters and --objects must be at least 1".into());
    }
    if cfg.duration.is_zero() || cfg.interval.is_zero() || cfg.rss_every.is_zero() {
        return Err("--duration, --interval and --rss-every must be positive".into());
    }
    if cfg.rate.is_none() && (cfg.peak_duration.is_zero() || !(cfg.load > 0.0 && cfg.load <= 1.0)) {
        return Err("without --rate, --peak-duration must be positive and --load in (0, 1]".into());
    }
    let threads = cfg.threads.min(cfg.connections);
    let (addr, host) = resolve(&cfg.endpoint)?;
    let target =
        Target { host, access_key: cfg.access_key.clone(), secret_key: cfg.secret_key.clone(), region: cfg.region.clone() };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let fixture = Arc::new(rt.block_on(prepare(addr, &target, &cfg))?);
    drop(rt);
    let table = cfg.mix.table();
    let rss_before = cfg.server_pid.and_then(rss_kib);
    let new_phase = |rate: Option<f64>, warmup: Duration, duration: Duration, interval: Duration| {
        let start = Instant::now() + Duration::from_millis(20);
        Arc::new(Phase {
            addr,
            fixture: fixture.clone(),
            table: table.clone(),
            next: AtomicU64::new(0),
            start,
            warm_end: start + warmup,
            end: start + warmup + duration,
            rate,
            interval,
            timeout: cfg.timeout,
        })
    };

    // Phase 1: the peak of the mix, closed-loop.
    let (rate, peak) = match cfg.rate {
        Some(r) if r > 0.0 => (r, None),
        Some(_) => return Err("--rate must be positive".into()),
        None => {
            eprintln!(
                "coffer-bench: measuring the mix's peak: {} connections, {:?} after {:?} warm-up",
                cfg.connections, cfg.peak_duration, cfg.warmup
            );
            let phase = new_phase(None, cfg.warmup, cfg.peak_duration, cfg.peak_duration);
            let handles = launch(&phase, &target, cfg.connections, threads, 1)?;
            std::thread::sleep(phase.warm_end.saturating_duration_since(Instant::now()));
            let srv0 = cfg.server_pid.and_then(|p| process_cpu_secs(Some(p)));
            std::thread::sleep(phase.end.saturating_duration_since(Instant::now()));
            let srv1 = cfg.server_pid.and_then(|p| process_cpu_secs(Some(p)));
            let o = finish(handles, 1)?;
            let secs = cfg.peak_duration.as_secs_f64();
            let peak_rps = o.all.ok as f64 / secs;
            if peak_rps <= 0.0 {
                return Err(format!(
                    "no request of the mix succeeded while measuring the peak: {}",
                    o.all.first_error.unwrap_or_default()
                ));
            }
            let mut v = o.all.json(secs);
            v["duration_s"] = secs.into();
            v["connections"] = cfg.connections.into();
            v["server_cpu_pct"] = srv0.zip(srv1).map(|(a, b)| ((b - a) / secs * 100.0).round()).into();
            v["ops"] = ops_json(&o, secs);
            eprintln!(
                "coffer-bench: peak {peak_rps:.0} req/s; soaking at {:.0} req/s for {:?}",
                peak_rps * cfg.load,
                cfg.duration
            );
            (peak_rps * cfg.load, Some(v))
        }
    };
    let rss_after_peak = cfg.server_pid.and_then(rss_kib);

    // Phase 2: the soak, paced.
    let intervals = cfg.duration.as_secs_f64().div_euclid(cfg.interval.as_secs_f64()).max(1.0) as usize;
    let phase = new_phase(Some(rate), cfg.warmup, cfg.duration, cfg.interval);
    let handles = launch(&phase, &target, cfg.connections, threads, intervals)?;
    std::thread::sleep(phase.warm_end.saturating_duration_since(Instant::now()));
    let sample = |at: f64| Sample {
        at,
        rss_kib: cfg.server_pid.and_then(rss_kib),
        server_cpu: cfg.server_pid.and_then(|p| process_cpu_secs(Some(p))),
    };
    let (cpu0, mach0) = (process_cpu_secs(None), machine_cpu_secs());
    let mut samples = vec![sample(0.0)];
    let secs = cfg.duration.as_secs_f64();
    let mut k = 1u32;
    loop {
        let at = (cfg.rss_every * k).min(cfg.duration);
        std::thread::sleep((phase.warm_end + at).saturating_duration_since(Instant::now()));
        samples.push(sample(at.as_secs_f64()));
        if at >= cfg.duration {
            break;
        }
        k += 1;
    }
    let (cpu1, mach1) = (process_cpu_secs(None), machine_cpu_secs());
    let o = finish(handles, intervals)?;
    let rss_end = cfg.server_pid.and_then(rss_kib);

    // Intervals: the last one takes whatever the whole ones leave.
    let ivl = cfg.interval.as_secs_f64();
    let interval_json: Vec<serde_json::Value> = o
        .intervals
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let from = i as f64 * ivl;
            let to = if i + 1 == intervals { secs } else { from + ivl };
            let inside: Vec<&Sample> = samples.iter().filter(|s| s.at >= from && s.at <= to).collect();
            let rss: Vec<u64> = inside.iter().filter_map(|s| s.rss_kib).collect();
            let cpu = inside.first().zip(inside.last()).and_then(|(a, b)| {
                let (x, y) = (a.server_cpu?, b.server_cpu?);
                (b.at > a.at).then(|| ((y - x) / (b.at - a.at) * 100.0).round())
            });
            let mut v = t.json(to - from);
            v.as_object_mut().expect("an object").remove("first_error");
            v["from_s"] = from.into();
            v["to_s"] = to.into();
            v["rss_kib_max"] = rss.iter().max().copied().into();
            v["rss_kib_mean"] = (!rss.is_empty()).then(|| rss.iter().sum::<u64>() / rss.len() as u64).into();
            v["server_cpu_pct"] = cpu.into();
            v
        })
        .collect();
    let first_rss = interval_json.first().and_then(|v| v["rss_kib_max"].as_u64());
    let last_rss = interval_json.last().and_then(|v| v["rss_kib_max"].as_u64());
    let srv =
        samples.first().zip(samples.last()).and_then(|(a, b)| Some(((b.server_cpu? - a.server_cpu?) / secs * 100.0).round()));
    let served = o.all.ok + o.all.errors;
    let in_window: u64 = o.intervals.iter().map(|t| t.ok + t.errors).sum();
    let mut report = serde_json::json!({
        "scenario": "soak",
        "endpoint": cfg.endpoint,
        "mix": cfg.mix.json(),
        "connections": cfg.connections,
        "threads": threads,
        "parameters": cfg.parameters,
        "objects": cfg.objects,
        "object_bytes": cfg.object_bytes,
        "peak": peak,
        "load": cfg.rate.is_none().then_some(cfg.load),
        "target_rps": r1(rate),
        "duration_s": secs,
        "warmup_s": cfg.warmup.as_secs_f64(),
        "interval_s": ivl,
        "requests": served,
        "ok": o.all.ok,
        "errors": o.all.errors,
        "first_error": o.all.first_error,
        "rps": r1(o.all.ok as f64 / secs),
        "completed_in_window": in_window,
        "completed_in_window_pct": r1(in_window as f64 / served.max(1) as f64 * 100.0),
        "mean_us": o.all.hist.mean().round(),
        "p50_us": o.all.hist.quantile(0.50),
        "p90_us": o.all.hist.quantile(0.90),
        "p99_us": o.all.hist.quantile(0.99),
        "p999_us": o.all.hist.quantile(0.999),
        "max_us": o.all.hist.max(),
        "lag_p50_us": o.lag.quantile(0.50),
        "lag_p99_us": o.lag.quantile(0.99),
        "lag_max_us": o.lag.max(),
        "ops": ops_json(&o, secs),
        "intervals": interval_json,
    });
    let memory_and_cpu = serde_json::json!({
        "rss_before_kib": rss_before,
        "rss_after_peak_kib": rss_after_peak,
        "rss_end_kib": rss_end,
        "rss_first_interval_kib": first_rss,
        "rss_last_interval_kib": last_rss,
        "rss_growth_pct": first_rss.zip(last_rss).map(|(a, b)| r1((b as f64 / a as f64 - 1.0) * 100.0)),
        "rss_samples": samples.iter().map(|s| serde_json::json!([s.at, s.rss_kib])).collect::<Vec<_>>(),
        "client_cpu_pct": cpu0.zip(cpu1).map(|(a, b)| ((b - a) / secs * 100.0).round()),
        "server_cpu_pct": srv,
        "machine_cpu_pct": mach0.zip(mach1).map(|(a, b)| ((b.0 - a.0) / secs * 100.0).round()),
    });
    if let (Some(r), serde_json::Value::Object(m)) = (report.as_object_mut(), memory_and_cpu) {
        r.extend(m);
    }
    if json {
        println!("{report}");
    } else {
        let ms = |v: &serde_json::Value| v.as_u64().map_or("-".into(), |us| format!("{:.2} ms", us as f64 / 1000.0));
        println!(
            "soak of {} at {:.0} req/s for {secs:.0} s ({} connections): {} ok, {} errors, {:.1} req/s, p50 {}, p99 {}",
            cfg.endpoint,
            rate,
            cfg.connections,
            o.all.ok,
            o.all.errors,
            o.all.ok as f64 / secs,
            ms(&report["p50_us"]),
            ms(&report["p99_us"]),
        );
        for v in report["intervals"].as_array().into_iter().flatten() {
            println!(
                "  {:>5.0}-{:<5.0} s  {:>8.1} req/s  {} errors  p50 {}  p99 {}  RSS max {} KiB",
                v["from_s"].as_f64().unwrap_or(0.0),
                v["to_s"].as_f64().unwrap_or(0.0),
                v["rps"].as_f64().unwrap_or(0.0),
                v["errors"],
                ms(&v["p50_us"]),
                ms(&v["p99_us"]),
                v["rss_kib_max"],
            );
        }
        if let Some(e) = &o.all.first_error {
            println!("first error: {e}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_parses_and_spreads() {
        let mix: Mix = DEFAULT_MIX.parse().unwrap();
        assert_eq!(mix.weights.iter().sum::<u32>(), 100);
        assert!("encrypt=1,bogus=2".parse::<Mix>().is_err());
        assert!("encrypt=0".parse::<Mix>().is_err());
        let mix: Mix = "encrypt=3,get-object=1".parse().unwrap();
        let phase = Phase {
            addr: "127.0.0.1:1".parse().unwrap(),
            fixture: Arc::new(Fixture {
                key_id: String::new(),
                ciphertext: String::new(),
                parameters: 1,
                bucket: String::new(),
                objects: 1,
                object: Bytes::new(),
            }),
            table: mix.table(),
            next: AtomicU64::new(0),
            start: Instant::now(),
            warm_end: Instant::now(),
            end: Instant::now(),
            rate: None,
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        };
        let gets = (0..40_000).filter(|n| phase.op(*n) == Op::GetObject).count();
        assert!((9_000..11_000).contains(&gets), "{gets}");
        assert!((0..40_000).all(|n| matches!(phase.op(n), Op::Encrypt | Op::GetObject)));
    }
}
