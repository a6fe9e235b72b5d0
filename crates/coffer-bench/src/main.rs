//! `coffer-bench`: Coffer's load generator and its yardstick.
//!
//! Why it exists: a throughput figure for a KMS-compatible server only means something next
//! to the cost of what every such server must do anyway (accept HTTP, read a body, write a
//! response) and the cost real clients impose (SigV4-signing every request). Off-the-shelf
//! HTTP load tools cannot sign requests, and their numbers are not comparable to a baseline
//! measured with a different client. So this crate holds both ends:
//!
//! - `coffer-bench ceiling` is a bare hyper server that answers every request with a fixed
//!   Encrypt-sized response: the "bare-hyper ceiling", the most a hyper-based server can do on
//!   the machine.
//! - `coffer-bench run` drives any KMS endpoint (Coffer, the ceiling, moto, ...) with N closed-
//!   loop keep-alive connections, signing every request freshly with Coffer's own SigV4 code,
//!   and reports throughput and latency percentiles. Scenarios: Encrypt (as the `--dev` root, a
//!   verified root key, or an IAM user whose access comes from its policies), GetParameter with
//!   decryption over many stored parameters, PutParameter (a write: what a durable store's
//!   commits cost), Sign (ECDSA P-256, RSA-2048 PSS), GenerateMac.
//! - `coffer-bench primitive` runs the cryptographic operation behind a scenario in a loop on one
//!   thread (aws-lc-rs directly, or the S3 chunk cipher and checksums Coffer uses): the
//!   single-core rate to read a server's rate against.
//! - `coffer-bench s3` times PUT and GET of one large object (SSE-S3, SSE-C or none).
//! - `coffer-bench soak` holds a mixed load (KMS, Parameter Store, S3) open-loop at a fraction
//!   of its measured peak for minutes, sampling the server's memory: leaks and drift.
//!
//! Coffer's throughput divided by the ceiling's, measured with the same client on the same
//! machine, is the figure BENCHMARKS.md tracks. `scripts/bench.sh` runs the whole comparison.

#![forbid(unsafe_code)]

mod ceiling;
mod hist;
mod primitive;
mod request;
mod run;
mod s3;
mod setup;
mod soak;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "coffer-bench", version, about = "Load generator for Coffer (KMS, Parameter Store, S3), with a bare-hyper ceiling server and single-core crypto rates.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the bare-hyper ceiling: a fixed 200 Encrypt-sized JSON answer to every request.
    Ceiling {
        /// Address to listen on (port 0 picks a free port; the address is printed).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
    },
    /// Drive an endpoint with signed requests and report throughput and latency.
    Run(RunArgs),
    /// Run one cryptographic operation in a loop on one thread (aws-lc-rs, or Coffer's S3 code)
    /// and print its rate.
    Primitive {
        #[arg(long, value_enum)]
        op: primitive::Op,
        /// Seconds to run.
        #[arg(long, default_value_t = 5.0)]
        duration: f64,
        /// Print one JSON object on one line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// PUT and GET one large S3 object (path-style), timed; reports MB/s and server CPU per MB.
    S3(S3Args),
    /// A mixed load (KMS, Parameter Store, S3) paced at a fraction of its peak for a long time,
    /// sampling the server's memory; reports errors, rate, latency and RSS over time.
    Soak(SoakArgs),
}

#[derive(Args, Debug)]
struct SoakArgs {
    /// The endpoint, `http://HOST:PORT`.
    #[arg(long)]
    endpoint: String,
    /// The calls and their relative weights, `name=weight,...`; names: encrypt, decrypt,
    /// generate-data-key, get-parameter, put-parameter, put-object, get-object.
    #[arg(long, default_value = soak::DEFAULT_MIX)]
    mix: soak::Mix,
    /// Requests per second to pace the soak at [default: --load times the peak, measured first].
    #[arg(long)]
    rate: Option<f64>,
    /// Without --rate: the fraction of the measured peak to pace the soak at.
    #[arg(long, default_value_t = 0.8)]
    load: f64,
    /// Without --rate: seconds of the closed-loop peak measurement (after --warmup).
    #[arg(long, default_value_t = 15.0)]
    peak_duration: f64,
    /// Measured seconds of the soak.
    #[arg(long, default_value_t = 600.0)]
    duration: f64,
    /// Seconds of load before each measurement (peak and soak).
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// Seconds per line of the report's time series (the first and the last are compared).
    #[arg(long, default_value_t = 60.0)]
    interval: f64,
    /// Seconds between samples of the server's resident memory.
    #[arg(long, default_value_t = 5.0)]
    rss_every: f64,
    /// Keep-alive connections (closed-loop for the peak; a pool taking due requests in the soak).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Client threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// SecureString parameters read (created at setup if missing), and as many names written.
    #[arg(long, default_value_t = 1000)]
    parameters: usize,
    /// S3 objects read and overwritten (created at setup).
    #[arg(long, default_value_t = 1000)]
    objects: usize,
    /// Size of each S3 object in bytes.
    #[arg(long, default_value_t = 4096)]
    object_bytes: usize,
    /// Bucket (created if missing).
    #[arg(long, default_value = "coffer-bench-soak")]
    bucket: String,
    /// Seconds after which a request counts as failed.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Access key id to sign with (on a durable server: real credentials, e.g. from the data
    /// directory's admin-credentials).
    #[arg(long, default_value = "AKIAIOSFODNN7EXAMPLE")]
    access_key: String,
    /// Secret access key to sign with.
    #[arg(long, default_value = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")]
    secret_key: String,
    /// Region in the credential scope.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// PID of the server on this machine: its memory is sampled and its CPU use reported.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Print one JSON object on one line instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct S3Args {
    /// The endpoint, `http://HOST:PORT`.
    #[arg(long)]
    endpoint: String,
    /// Server-side encryption headers to send.
    #[arg(long, value_enum)]
    mode: s3::Mode,
    /// Object size in MiB.
    #[arg(long, default_value_t = 256)]
    size_mib: u64,
    /// PUT+GET repetitions (each with a new key, deleted afterwards).
    #[arg(long, default_value_t = 1)]
    reps: usize,
    /// GETs of each object PUT (one GET of 256 MiB takes about a tenth of a second here, short
    /// enough for a scheduling hiccup to move it by 20%; the figure is the median).
    #[arg(long, default_value_t = 1)]
    gets: usize,
    /// Bucket (created if missing).
    #[arg(long, default_value = "coffer-bench")]
    bucket: String,
    /// Seconds after which a transfer counts as failed.
    #[arg(long, default_value_t = 300.0)]
    timeout: f64,
    #[arg(long, default_value = "AKIAIOSFODNN7EXAMPLE")]
    access_key: String,
    #[arg(long, default_value = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")]
    secret_key: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// PID of the server on this machine: its CPU time per MB is reported.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Print one JSON object on one line instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The endpoint, `http://HOST:PORT`.
    #[arg(long)]
    endpoint: String,
    /// What to send.
    #[arg(long, value_enum)]
    scenario: run::Scenario,
    /// Who signs the load (KMS scenarios; keys, accounts and users are created at setup).
    #[arg(long, value_enum, default_value = "dev")]
    principal: run::Principal,
    /// get-parameter: how many SecureString parameters are stored (created at setup, in
    /// parallel, if fewer exist) and picked from at random; put-parameter: how many names are
    /// overwritten, picked at random.
    #[arg(long, default_value_t = 1000)]
    parameters: usize,
    /// Concurrent keep-alive connections, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Client threads (each a single-threaded runtime driving its share of the connections).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds after which a request counts as failed.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Access key id to sign with (any works against `coffer serve --dev`, moto and the ceiling).
    #[arg(long, default_value = "AKIAIOSFODNN7EXAMPLE")]
    access_key: String,
    /// Secret access key to sign with.
    #[arg(long, default_value = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")]
    secret_key: String,
    /// Region in the credential scope.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// PID of a server on this machine: its CPU use over the window is reported as well.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Command name of a backend the server uses on this machine (e.g. `postgres`): the CPU use
    /// of all processes so named is reported as well (and is not mistaken for disturbance).
    #[arg(long, value_name = "NAME")]
    backend_comm: Option<String>,
    /// Print one JSON object on one line instead of text.
    #[arg(long)]
    json: bool,
}

fn seconds(flag: &str, v: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(v).map_err(|_| format!("--{flag} must be a non-negative number of seconds"))
}

fn run(a: RunArgs) -> Result<(), String> {
    let duration = seconds("duration", a.duration)?;
    if duration.is_zero() {
        return Err("--duration must be positive".into());
    }
    let report = run::run(run::Config {
        endpoint: a.endpoint,
        scenario: a.scenario,
        principal: a.principal,
        parameters: a.parameters,
        connections: a.connections,
        threads: a.threads,
        duration,
        warmup: seconds("warmup", a.warmup)?,
        timeout: seconds("timeout", a.timeout)?,
        access_key: a.access_key,
        secret_key: a.secret_key,
        region: a.region,
        server_pid: a.server_pid,
        backend_comm: a.backend_comm,
    })?;
    if a.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.text());
    }
    Ok(())
}

fn s3_run(a: S3Args) -> Result<(), String> {
    let cfg = s3::Config {
        endpoint: a.endpoint,
        mode: a.mode,
        size: a.size_mib << 20,
        reps: a.reps,
        gets: a.gets,
        bucket: a.bucket,
        timeout: seconds("timeout", a.timeout)?,
        access_key: a.access_key,
        secret_key: a.secret_key,
        region: a.region,
        server_pid: a.server_pid,
    };
    s3::run(cfg, a.json)
}

fn soak_run(a: SoakArgs) -> Result<(), String> {
    let cfg = soak::Config {
        endpoint: a.endpoint,
        access_key: a.access_key,
        secret_key: a.secret_key,
        region: a.region,
        mix: a.mix,
        connections: a.connections,
        threads: a.threads,
        rate: a.rate,
        load: a.load,
        peak_duration: seconds("peak-duration", a.peak_duration)?,
        duration: seconds("duration", a.duration)?,
        warmup: seconds("warmup", a.warmup)?,
        interval: seconds("interval", a.interval)?,
        rss_every: seconds("rss-every", a.rss_every)?,
        timeout: seconds("timeout", a.timeout)?,
        parameters: a.parameters,
        objects: a.objects,
        object_bytes: a.object_bytes,
        bucket: a.bucket,
        server_pid: a.server_pid,
    };
    soak::run(cfg, a.json)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ceiling { listen } => ceiling::serve(listen).map_err(|e| e.to_string()),
        Command::Run(a) => run(a),
        Command::Primitive { op, duration, json } => {
            seconds("duration", duration).and_then(|d| primitive::run(op, d, json))
        }
        Command::S3(a) => s3_run(a),
        Command::Soak(a) => soak_run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coffer-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
