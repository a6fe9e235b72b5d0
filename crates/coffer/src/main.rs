//! The `coffer` binary: command line, configuration, start-up, and the background job loop.
#![forbid(unsafe_code)]

mod admin;
mod audit_cmd;
mod cli;
mod config;
mod datadir;
mod logformat;
mod logwriter;
mod sync;
mod tls;

use std::path::Path;
use std::sync::Arc;

use clap::Parser;
use coffer_crypto::RootKey;
use coffer_iam::Iam;
use coffer_kms::{Kms, KmsConfig};
use coffer_s3::{S3, S3Config};
use coffer_ssm::{Ssm, SsmConfig};
use coffer_server::{App, Limits, ServeOptions};
use coffer_store::{SqliteStore, Store};
use coffer_util::Clock;

use crate::cli::{Cli, Command, LogFormat};
use crate::config::{Config, StoreChoice, TlsChoice};

fn init_logging(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(logwriter::stdout());
    match cfg.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.with_ansi(false).event_format(logformat::Text).init(),
    }
}

/// Keeps key material out of core dumps and away from same-user debuggers: the process is made
/// non-dumpable (no core file; /proc/<pid>/mem and ptrace attach need CAP_SYS_PTRACE) and its
/// core-size limit is 0 for any path that ignores the flag. Best effort: a failure is reported,
/// not fatal, since some sandboxes forbid prctl.
fn harden_process() {
    if let Err(e) = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable) {
        eprintln!("coffer: warning: could not make the process non-dumpable: {e}");
    }
    let zero = rustix::process::Rlimit { current: Some(0), maximum: Some(0) };
    if let Err(e) = rustix::process::setrlimit(rustix::process::Resource::Core, zero) {
        eprintln!("coffer: warning: could not set the core-file size limit to 0: {e}");
    }
}

fn main() {
    harden_process();
    let cli = Cli::parse();
    let args = match cli.command {
        Command::Serve(args) => args,
        Command::Audit(cmd) => std::process::exit(audit_cmd::run(cmd)),
        Command::Migrate(a) => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
            match rt.block_on(datadir::migrate(&a.from, &a.to)) {
                Ok(n) => println!("coffer: moved {n} items from {} to PostgreSQL", a.from.display()),
                Err(e) => {
                    eprintln!("coffer: {e}");
                    std::process::exit(1);
                }
            }
            return;
        }
        Command::Admin(cli::AdminCommand::CreateAccount(a)) => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
            if let Err(e) = rt.block_on(admin::create_account(a)) {
                eprintln!("coffer: {e}");
                std::process::exit(1);
            }
            return;
        }
    };
    let cfg = match Config::resolve(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("coffer: {e}");
            std::process::exit(2);
        }
    };
    init_logging(&cfg);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = rt.block_on(serve(cfg));
    if let Err(e) = &result {
        tracing::error!("{e}");
    }
    logwriter::flush();
    if let Err(e) = result {
        eprintln!("coffer: {e}");
        std::process::exit(1);
    }
}

fn credentials_file(access_key_id: &str, secret: &[u8]) -> zeroize::Zeroizing<Vec<u8>> {
    let mut s = zeroize::Zeroizing::new(Vec::new());
    s.extend_from_slice(b"[coffer]\naws_access_key_id = ");
    s.extend_from_slice(access_key_id.as_bytes());
    s.extend_from_slice(b"\naws_secret_access_key = ");
    s.extend_from_slice(secret);
    s.extend_from_slice(b"\n");
    s
}

async fn first_start(iam: &Iam, data_dir: &Path, cfg: &Config) -> Result<(), String> {
    let (account, key) = iam.create_account(None).await.map_err(|e| e.to_string())?;
    let path = data_dir.join("admin-credentials");
    datadir::write_private(&path, &credentials_file(&key.access_key_id, key.secret_access_key.expose()))?;
    let abs = std::fs::canonicalize(&path).unwrap_or(path);
    let scheme = if matches!(cfg.tls, TlsChoice::None) { "http" } else { "https" };
    logwriter::flush();
    println!(
        "Coffer initialised {} for account {account}.\n\
         The account's root access key is in {} (profile `coffer`). To use it:\n\n  \
         export AWS_SHARED_CREDENTIALS_FILE={}\n  export AWS_PROFILE=coffer\n  \
         export AWS_ENDPOINT_URL={scheme}://{}\n  export AWS_DEFAULT_REGION=us-east-1\n",
        data_dir.display(),
        abs.display(),
        abs.display(),
        cfg.listen,
    );
    Ok(())
}

async fn serve(cfg: Config) -> Result<(), String> {
    let dumpable = !matches!(rustix::process::dumpable_behavior(), Ok(rustix::process::DumpableBehavior::NotDumpable));
    let core_limit = rustix::process::getrlimit(rustix::process::Resource::Core).current;
    tracing::info!(dumpable, core_limit = ?core_limit, "process hardening (key material never reaches a core file)");
    let clock = Arc::new(Clock::new());
    let _dir_lock;
    let (store, root): (Arc<dyn Store>, RootKey) = match &cfg.store {
        StoreChoice::Memory => {
            let store = SqliteStore::memory().map_err(|e| e.to_string())?;
            (Arc::new(store), RootKey::generate().0)
        }
        StoreChoice::Sqlite(db) => {
            let dir = datadir::open_dir(&cfg.data_dir)?;
            let (store, root, _fresh) = datadir::open_store(&dir, db)?;
            _dir_lock = dir;
            (store, root)
        }
        StoreChoice::Postgres(url) => {
            let (store, root, _fresh) = datadir::open_postgres(url, &cfg.data_dir, cfg.dev).await?;
            (store, root)
        }
    };
    // Subscribe before the caches load, so that no change committed meanwhile is missed.
    let changes = store.changes();
    let root = Arc::new(root);
    let store_kind = store.kind();
    let iam = Arc::new(Iam::load(store.clone(), root.clone(), clock.clone(), cfg.dev).await.map_err(|e| e.to_string())?);
    if !cfg.dev && iam.accounts().is_empty() {
        first_start(&iam, &cfg.data_dir, &cfg).await?;
    }
    let kms = Arc::new(
        Kms::load(store.clone(), root.clone(), clock.clone(), KmsConfig::default(), iam.clone())
            .await
            .map_err(|e| e.to_string())?,
    );

    let ssm = Arc::new(
        Ssm::load(
            store.clone(),
            kms.clone(),
            iam.clone(),
            clock.clone(),
            SsmConfig { max_standard: cfg.ssm_max_standard, max_advanced: cfg.ssm_max_advanced, ..SsmConfig::default() },
        )
            .await
            .map_err(|e| e.to_string())?,
    );

    // Object data: under the data dir, or (--dev) a private temporary directory removed at exit.
    let (objects_dir, _dev_objects) = if cfg.dev {
        let d = datadir::TempDir::new("coffer-dev-objects")?;
        (d.path().to_path_buf(), Some(d))
    } else {
        (cfg.data_dir.join("objects"), None)
    };
    let s3 = Arc::new(
        S3::load(
            store.clone(),
            kms.clone(),
            iam.clone(),
            root.clone(),
            clock.clone(),
            S3Config { data_root: objects_dir, allow_ssec_over_http: cfg.s3_allow_sse_c_over_http, encrypt: cfg.s3_encrypt },
        )
        .await
        .map_err(|e| e.to_string())?,
    );
    if !cfg.s3_encrypt {
        tracing::warn!("S3 object data is stored UNENCRYPTED (--unsafe-s3-no-encryption): for benchmarks only");
    }

    let mut _tls_dir = None;
    let (tls, cert_path) = match &cfg.tls {
        TlsChoice::None => (None, None),
        TlsChoice::Files { cert, key } => (Some(tls::from_files(cert, key)?), None),
        TlsChoice::SelfSigned => {
            let dir = datadir::TempDir::new("coffer-dev-tls")?;
            let (a, p) = tls::self_signed(dir.path())?;
            _tls_dir = Some(dir);
            (Some(a), Some(p))
        }
    };
    let listener =
        tokio::net::TcpListener::bind(cfg.listen).await.map_err(|e| format!("cannot listen on {}: {e}", cfg.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // Other nodes' changes (PostgreSQL): applied to this node's caches as they commit; when
    // notifications may have been lost, everything is reloaded while requests wait.
    let freshness = Arc::new(coffer_server::Freshness::new(store.clone()));
    if let Some(rx) = changes {
        tokio::spawn(sync::follow(rx, freshness.clone(), kms.clone(), iam.clone(), ssm.clone(), s3.clone()));
    }
    // The audit journal: every API call's event durable before the call answers.
    let journal = match (&cfg.audit_dir, &cfg.store) {
        (None, _) => None,
        // Several nodes: one chain in a table of the shared database.
        (Some(_), StoreChoice::Postgres(url)) => {
            let j = coffer_audit::Journal::open_postgres(url, coffer_audit::JournalConfig::default())
                .await
                .map_err(|e| format!("cannot open the audit journal in PostgreSQL: {e}"))?;
            tracing::info!(table = coffer_audit::POSTGRES_TABLE, "audit journal open");
            Some(Arc::new(j))
        }
        (Some(dir), _) => {
            let j = coffer_audit::Journal::open(dir, coffer_audit::JournalConfig::default())
                .map_err(|e| format!("cannot open the audit journal in {}: {e}", dir.join("audit").display()))?;
            tracing::info!(dir = %dir.join("audit").display(), "audit journal open");
            Some(Arc::new(j))
        }
    };
    let mut app = App::new(
        kms.clone(),
        iam.clone(),
        ssm.clone(),
        s3.clone(),
        cfg.s3_domains.clone(),
        cfg.dev,
        cfg.clock_control,
        Limits { max_json_body: cfg.max_body_bytes },
        store_kind,
        freshness,
    );
    if let Some(j) = &journal {
        app = app.with_audit(j.clone());
    }
    if let Some(t) = cfg.rate_limits.clone() {
        tracing::info!(quotas = t.quotas().iter().filter(|q| q.per_second > 0.0).count(), "per-access-key rate limits on");
        app = app.with_rate_limits(coffer_server::limits::RateLimiter::new(t));
    }
    let app = Arc::new(app);

    // Background jobs: key deletion at the end of waiting periods, automatic rotation, expired
    // sessions, parameter policies.
    let jobs_kms = kms.clone();
    let jobs_iam = iam.clone();
    let jobs_ssm = ssm.clone();
    let jobs_s3 = s3.clone();
    let interval = cfg.jobs_interval;
    let lease = sync::JobLease::new(store.clone(), interval);
    let jobs = tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // One node at a time runs the jobs (each step is idempotent anyway).
            if !lease.acquire().await {
                continue;
            }
            jobs_kms.run_jobs().await;
            jobs_iam.run_jobs().await;
            jobs_ssm.run_jobs().await;
            jobs_s3.run_jobs().await;
        }
    });

    tracing::info!(
        listen = %local,
        tls = tls.is_some(),
        dev = cfg.dev,
        store = store_kind,
        keys = kms.key_count(),
        version = env!("CARGO_PKG_VERSION"),
        "coffer is serving"
    );
    if let Some(p) = &cert_path {
        tracing::info!(cert = %p.display(), "self-signed TLS certificate for --dev --tls (trust it with --ca-bundle)");
    }
    // Handlers are installed before the ready line, so a SIGTERM sent as soon as the line
    // appears drains the server instead of killing it.
    let shutdown = shutdown_signal()?;
    // A line tests and scripts can wait for (after every log line before it).
    logwriter::flush();
    println!("coffer listening on {}://{local}", if tls.is_some() { "https" } else { "http" });

    coffer_server::serve(
        app,
        listener,
        tls,
        ServeOptions { max_connections: cfg.max_connections, header_timeout: cfg.header_timeout, ..Default::default() },
        shutdown,
    )
    .await;
    jobs.abort();
    // The last events are durable already (each was awaited); closing stops the writer.
    drop(journal);
    tracing::info!("coffer stopped");
    Ok(())
}

fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("cannot handle SIGINT: {e}"))?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    })
}
