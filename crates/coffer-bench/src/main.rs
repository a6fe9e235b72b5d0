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
//!   and reports throughput and latency percentiles.
//!
//! Coffer's throughput divided by the ceiling's, measured with the same client on the same
//! machine, is the figure BENCHMARKS.md tracks. `scripts/bench.sh` runs the whole comparison.

#![forbid(unsafe_code)]

mod ceiling;
mod hist;
mod request;
mod run;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "coffer-bench", version, about = "Load generator for Coffer's KMS API, with a bare-hyper ceiling server.")]
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
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The endpoint, `http://HOST:PORT`.
    #[arg(long)]
    endpoint: String,
    /// What to send.
    #[arg(long, value_enum)]
    scenario: run::Scenario,
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
        connections: a.connections,
        threads: a.threads,
        duration,
        warmup: seconds("warmup", a.warmup)?,
        timeout: seconds("timeout", a.timeout)?,
        access_key: a.access_key,
        secret_key: a.secret_key,
        region: a.region,
        server_pid: a.server_pid,
    })?;
    if a.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.text());
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ceiling { listen } => ceiling::serve(listen).map_err(|e| e.to_string()),
        Command::Run(a) => run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coffer-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
