//! Measures group commit: appends/s with 64 concurrent appenders, on tmpfs and on the temp
//! directory's filesystem, with and without lingering. Prints numbers; asserts only that group
//! commit happened. Meaningful in release builds:
//!
//! ```text
//! cargo test --release -p coffer-audit --test throughput -- --nocapture
//! COFFER_AUDIT_BENCH_SECS=3 COFFER_AUDIT_BENCH_ROUNDS=3 cargo test --release -p coffer-audit --test throughput -- --nocapture
//! ```
//!
//! With `COFFER_TEST_PG` set (`scripts/pg.sh`), also measures the PostgreSQL journal (one node,
//! in a database of its own).

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use coffer_audit::{Journal, JournalConfig};
use common::{TempDir, encrypt_builder, encrypt_event};

const APPENDERS: usize = 64;

struct Run {
    events: u64,
    secs: f64,
    batches: u64,
    max_batch: u64,
    bytes: u64,
    p50_us: u128,
    p99_us: u128,
    verify_per_sec: f64,
}

/// Where a run writes.
enum Target<'a> {
    Dir(&'a Path),
    /// A PostgreSQL server's base URL: the run creates a database and drops it after.
    Postgres(&'a str),
}

fn run(target: &Target, label: &str, config: JournalConfig, secs: f64) -> Run {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    match target {
        Target::Dir(base) => {
            let dir = TempDir::under(base, label);
            let path = dir.path().to_owned();
            rt.block_on(measure(Journal::open(dir.path(), config).unwrap(), secs, move || {
                coffer_audit::verify(&path).unwrap()
            }))
        }
        Target::Postgres(base) => {
            let name = format!("coffer_audit_bench_{}", std::process::id());
            let admin = rt.block_on(async {
                let admin =
                    coffer_store::PgConnector::new(base, "coffer-audit-bench", "").unwrap().connect().await.unwrap();
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.unwrap();
                admin.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
                admin
            });
            let (rest, query) = base.split_once('?').map_or((*base, String::new()), |(r, q)| (r, format!("?{q}")));
            let host_end =
                rest.find("://").map(|i| i + 3).map(|s| rest[s..].find('/').map_or(rest.len(), |i| i + s)).unwrap();
            let url = format!("{}/{name}{query}", &rest[..host_end]);
            let verify_url = url.clone();
            let r = rt.block_on(async {
                let journal = Journal::open_postgres(&url, config).await.unwrap();
                measure(journal, secs, move || coffer_audit::verify_postgres(&verify_url).unwrap()).await
            });
            rt.block_on(admin.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))).unwrap();
            r
        }
    }
}

async fn measure(journal: Journal, secs: f64, verify: impl FnOnce() -> coffer_audit::VerifyReport) -> Run {
    {
        let journal = Arc::new(journal);
        let stop = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let tasks: Vec<_> = (0..APPENDERS)
            .map(|t| {
                let (j, stop) = (journal.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let t0 = Instant::now();
                        j.append(encrypt_builder(t, i % 7)).await.unwrap();
                        latencies.push(t0.elapsed().as_micros());
                        i += 1;
                    }
                    latencies
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        stop.store(true, Ordering::Relaxed);
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.extend(t.await.unwrap());
        }
        let elapsed = start.elapsed().as_secs_f64();
        latencies.sort_unstable();
        let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
        let stats = journal.stats();
        let head = journal.head().unwrap();
        drop(journal);
        let t0 = Instant::now();
        let report = verify();
        let verify_secs = t0.elapsed().as_secs_f64();
        assert!(report.is_ok(), "{report}");
        assert_eq!(report.last_sequence, head.sequence);
        Run {
            events: stats.events,
            secs: elapsed,
            batches: stats.batches,
            max_batch: stats.max_batch,
            bytes: stats.bytes,
            p50_us: pct(0.5),
            p99_us: pct(0.99),
            verify_per_sec: report.events as f64 / verify_secs,
        }
    }
}

#[test]
fn throughput_with_64_concurrent_appenders() {
    // Debug builds only exercise the code; their numbers mean little.
    let default_secs = if cfg!(debug_assertions) { 0.3 } else { 1.0 };
    let secs: f64 = std::env::var("COFFER_AUDIT_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(default_secs);
    let tmpfs = Path::new("/dev/shm");
    let temp = std::env::temp_dir();
    let pg = std::env::var("COFFER_TEST_PG").ok().filter(|u| !u.trim().is_empty());
    let mut bases = vec![("temp dir", Target::Dir(&temp))];
    if tmpfs.is_dir() {
        bases.insert(0, ("tmpfs", Target::Dir(tmpfs)));
    }
    if let Some(url) = &pg {
        bases.push(("postgres", Target::Postgres(url.trim())));
    }

    // The caller's share, without the journal: building and serialising one event.
    let per_event = |f: &dyn Fn(usize) -> coffer_audit::Event| {
        let t0 = Instant::now();
        let mut n = 0;
        while t0.elapsed() < Duration::from_millis(300) {
            for i in 0..100 {
                std::hint::black_box(f(i));
            }
            n += 100;
        }
        t0.elapsed().as_secs_f64() * 1e6 / n as f64
    };
    println!(
        "build + serialise one event (one core): {:.2} µs from an EventBuilder, {:.2} µs from a Map",
        per_event(&|i| encrypt_builder(i, i).into()),
        per_event(&|i| encrypt_event(i, i).into()),
    );

    // Rounds interleave the configurations, so a disturbance (another build writing to the
    // same disk) hits them alike; each line is one run.
    let rounds: usize = std::env::var("COFFER_AUDIT_BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    for round in 1..=rounds {
        for (name, base) in &bases {
            for (linger_label, config) in [
                ("linger 2ms/200µs", JournalConfig::default()),
                ("linger 0", JournalConfig { linger: Duration::ZERO, ..Default::default() }),
            ] {
                let r = run(base, &format!("bench-{}", linger_label.len()), config, secs);
                println!(
                    "#{round} {name:9} {linger_label:17}: {:>6.0} events/s, {:>5.0} fsyncs/s, {:>5.1} events/fsync (max {}), {:>4.0} B/event, latency p50 {} µs p99 {} µs; verify {:.0} events/s",
                    r.events as f64 / r.secs,
                    r.batches as f64 / r.secs,
                    r.events as f64 / r.batches as f64,
                    r.max_batch,
                    r.bytes as f64 / r.events as f64,
                    r.p50_us,
                    r.p99_us,
                    r.verify_per_sec,
                );
                assert!(r.events > 0 && r.batches < r.events, "group commit");
            }
        }
    }
}
