//! Configuration: TOML file, overridden by `COFFER_*` environment variables, overridden by flags.
//!
//! clap already resolves flag-over-environment; this module fills what neither gave from the
//! file and then from defaults, and validates the result into a [`Config`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::{LogFormat, OnOff, RateLimitPreset, ServeArgs};
use coffer_server::limits::{QuotaTable, parse_override};

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub store: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
    pub log_level: Option<String>,
    pub max_connections: Option<usize>,
    pub max_body_bytes: Option<usize>,
    pub jobs_interval: Option<u64>,
    pub ssm_max_standard: Option<usize>,
    pub ssm_max_advanced: Option<usize>,
    pub s3_domains: Option<Vec<String>>,
    pub s3_allow_sse_c_over_http: Option<bool>,
    pub audit: Option<OnOff>,
    pub audit_dir: Option<PathBuf>,
    pub rate_limits: Option<RateLimitPreset>,
    /// Overrides: `"ssm:PutParameter" = 10`.
    pub rate_limit: Option<std::collections::BTreeMap<String, f64>>,
    pub header_timeout: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    Memory,
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (several nodes may share it).
    Postgres(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsChoice {
    None,
    Files { cert: PathBuf, key: PathBuf },
    SelfSigned,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub store: StoreChoice,
    pub tls: TlsChoice,
    pub log_format: LogFormat,
    pub log_level: String,
    pub max_connections: usize,
    pub max_body_bytes: usize,
    pub jobs_interval: Duration,
    pub ssm_max_standard: usize,
    pub ssm_max_advanced: usize,
    pub s3_domains: Vec<String>,
    pub s3_allow_sse_c_over_http: bool,
    pub s3_encrypt: bool,
    pub dev: bool,
    pub clock_control: bool,
    /// Where the audit journal's `audit/` directory goes; `None`: auditing off.
    pub audit_dir: Option<PathBuf>,
    /// Per-access-key rate limits; `None`: unlimited.
    pub rate_limits: Option<QuotaTable>,
    pub header_timeout: Duration,
}

fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("config file {} is invalid: {e}", path.display()))
}

impl Config {
    pub fn resolve(args: ServeArgs) -> Result<Config, String> {
        let file = match &args.config {
            Some(p) => read_file(p)?,
            None => FileConfig::default(),
        };
        let listen_s = args.listen.or(file.listen).unwrap_or_else(|| "127.0.0.1:4566".into());
        let listen: SocketAddr =
            listen_s.parse().map_err(|_| format!("listen address {listen_s:?} is not an IP:port address"))?;
        let data_dir = args.data_dir.or(file.data_dir).unwrap_or_else(|| PathBuf::from("./coffer-data"));
        let store_s = args.store.or(file.store);
        let is_pg = |s: &str| s.starts_with("postgres://") || s.starts_with("postgresql://");
        let store = if args.dev {
            match store_s.as_deref() {
                None => StoreChoice::Memory,
                // --dev on PostgreSQL: dev authentication rules over a shared database (tests).
                Some(s) if is_pg(s) => StoreChoice::Postgres(s.to_string()),
                Some(_) => return Err("--dev uses an in-memory store (or a postgres:// store); do not set a SQLite store".into()),
            }
        } else {
            match store_s.as_deref() {
                None | Some("sqlite") => StoreChoice::Sqlite(data_dir.join("coffer.db")),
                Some(s) if s.starts_with("sqlite:") => {
                    let p = s.trim_start_matches("sqlite:").trim_start_matches("//");
                    if p.is_empty() {
                        return Err("store sqlite:<path> needs a path".into());
                    }
                    StoreChoice::Sqlite(PathBuf::from(p))
                }
                Some(s) if is_pg(s) => StoreChoice::Postgres(s.to_string()),
                Some(s) => return Err(format!("unknown store {s:?}: expected sqlite, sqlite:<path> or postgres://...")),
            }
        };
        let cert = args.tls_cert.or(file.tls_cert);
        let key = args.tls_key.or(file.tls_key);
        let tls = match (cert, key, args.tls) {
            (Some(_), _, true) | (_, Some(_), true) => {
                return Err("--tls generates a certificate; do not also give tls_cert/tls_key".into());
            }
            (None, None, true) => TlsChoice::SelfSigned,
            (Some(cert), Some(key), false) => TlsChoice::Files { cert, key },
            (None, None, false) => TlsChoice::None,
            _ => return Err("tls_cert and tls_key must be given together".into()),
        };
        let max_connections = args.max_connections.or(file.max_connections).unwrap_or(4096);
        let max_body_bytes = args.max_body_bytes.or(file.max_body_bytes).unwrap_or(1024 * 1024);
        if max_connections == 0 || max_body_bytes < 8192 {
            return Err("max_connections must be at least 1 and max_body_bytes at least 8192".into());
        }
        let jobs = args.jobs_interval.or(file.jobs_interval).unwrap_or(60);
        if jobs == 0 {
            return Err("jobs_interval must be at least 1 second".into());
        }
        let audit_dir_set = args.audit_dir.or(file.audit_dir);
        let audit_on = match args.audit.or(file.audit) {
            Some(OnOff::On) => true,
            Some(OnOff::Off) => false,
            // --dev keeps nothing on disk unless asked to.
            None => !args.dev || audit_dir_set.is_some(),
        };
        let audit_dir = audit_on.then(|| audit_dir_set.unwrap_or_else(|| data_dir.clone()));
        let mut overrides: Vec<(String, f64)> = file.rate_limit.unwrap_or_default().into_iter().collect();
        for o in &args.rate_limit {
            overrides.push(parse_override(o)?);
        }
        let rate_limits = match (args.rate_limits.or(file.rate_limits), overrides.is_empty()) {
            (Some(RateLimitPreset::Off), _) | (None, true) => None,
            (Some(RateLimitPreset::Aws), _) | (None, false) => {
                let mut t = QuotaTable::aws();
                for (name, rate) in &overrides {
                    t.set(name, *rate)?;
                }
                Some(t)
            }
        };
        let header_timeout = args.header_timeout.or(file.header_timeout).unwrap_or(30);
        if header_timeout == 0 {
            return Err("header_timeout must be at least 1 second".into());
        }
        Ok(Config {
            audit_dir,
            rate_limits,
            header_timeout: Duration::from_secs(header_timeout),
            listen,
            data_dir,
            store,
            tls,
            log_format: args.log_format.or(file.log_format).unwrap_or(LogFormat::Text),
            log_level: args.log_level.or(file.log_level).unwrap_or_else(|| "info".into()),
            max_connections,
            max_body_bytes,
            jobs_interval: Duration::from_secs(jobs),
            ssm_max_standard: args.ssm_max_standard.or(file.ssm_max_standard).unwrap_or(10_000),
            ssm_max_advanced: args.ssm_max_advanced.or(file.ssm_max_advanced).unwrap_or(100_000),
            s3_domains: args
                .s3_domains
                .or(file.s3_domains)
                .unwrap_or_else(|| vec!["s3.localhost".into(), "localhost".into()])
                .into_iter()
                .map(|d| d.trim().trim_start_matches('.').to_ascii_lowercase())
                .filter(|d| !d.is_empty())
                .collect(),
            s3_allow_sse_c_over_http: args.dev || args.s3_allow_sse_c_over_http || file.s3_allow_sse_c_over_http.unwrap_or(false),
            s3_encrypt: !args.unsafe_s3_no_encryption,
            dev: args.dev,
            clock_control: args.dev || args.unsafe_test_clock,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_file_then_flags() {
        let dir = std::env::temp_dir().join(format!("coffer-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("coffer.toml");
        std::fs::write(&f, "listen = \"0.0.0.0:9000\"\ndata_dir = \"/tmp/x\"\nlog_format = \"json\"\n").unwrap();
        let c = Config::resolve(ServeArgs { config: Some(f.clone()), ..Default::default() }).unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(c.store, StoreChoice::Sqlite(PathBuf::from("/tmp/x/coffer.db")));
        assert_eq!(c.log_format, LogFormat::Json);
        let c = Config::resolve(ServeArgs {
            config: Some(f.clone()),
            listen: Some("127.0.0.1:1".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:1");
        std::fs::write(&f, "bogus = 1\n").unwrap();
        assert!(Config::resolve(ServeArgs { config: Some(f), ..Default::default() }).unwrap_err().contains("bogus"));
        let c = Config::resolve(ServeArgs { store: Some("postgres://db/coffer".into()), ..Default::default() }).unwrap();
        assert_eq!(c.store, StoreChoice::Postgres("postgres://db/coffer".into()));
        let e = Config::resolve(ServeArgs { store: Some("mysql://x".into()), ..Default::default() }).unwrap_err();
        assert!(e.contains("unknown store"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
