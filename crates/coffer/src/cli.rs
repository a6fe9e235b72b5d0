//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "coffer",
    version,
    about = "Coffer: a self-hosted key management and secrets service that speaks AWS's wire protocols (KMS).",
    long_about = "Coffer serves AWS-compatible APIs on one port so that unmodified AWS clients (aws CLI, boto3, \
aws-sdk-rust, the AWS Encryption SDK) work against it by endpoint URL. All key material is sealed under a root \
key at rest; every request is authenticated with SigV4.\n\nStart with `coffer serve --dev` for an in-memory \
instance that accepts any credentials, or `coffer serve` for a durable one."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve every Coffer service on one port until SIGTERM or SIGINT.
    Serve(ServeArgs),
    /// Administer a running Coffer through its admin API (signed with administrator credentials).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Check or read the audit journal (one CloudTrail-shaped event per API call, hash-chained).
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Move a single-node (SQLite) store to PostgreSQL, unchanged: every item is copied with its
    /// version and sealed values as they are — nothing is decrypted. Stop the SQLite node first;
    /// the target database must be empty. Afterwards start nodes with --store <postgres URL> and
    /// the data directory's root.key (or COFFER_ROOT_KEY); S3 object data stays in
    /// <data dir>/objects, which the nodes must share.
    Migrate(MigrateArgs),
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// The SQLite data directory (holding coffer.db).
    #[arg(long, value_name = "DIR")]
    pub from: std::path::PathBuf,
    /// The PostgreSQL URL to move the data to.
    #[arg(long, value_name = "URL")]
    pub to: String,
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Check the journal's hash chain from its first record to its last. Prints the last
    /// sequence and hash (record them elsewhere, then pass them as --anchor later to prove that
    /// nothing up to them was changed or cut off). Exits 1 naming the first broken record.
    Verify(AuditVerifyArgs),
    /// Print the last events (JSON, one per line, oldest first), optionally filtered.
    Tail(AuditTailArgs),
}

#[derive(Args, Debug)]
pub struct AuditSource {
    /// The data directory whose journal (DIR/audit/) to read [default: ./coffer-data].
    #[arg(long, env = "COFFER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where the server writes the journal when it is not the data directory (its --audit-dir).
    #[arg(long, env = "COFFER_AUDIT_DIR", value_name = "DIR")]
    pub audit_dir: Option<PathBuf>,
    /// Read the journal of a PostgreSQL store (multi-node) instead of a data directory.
    #[arg(long, env = "COFFER_STORE", value_name = "URL")]
    pub store: Option<String>,
}

#[derive(Args, Debug)]
pub struct AuditVerifyArgs {
    #[command(flatten)]
    pub source: AuditSource,
    /// A record trusted from an earlier verify, as SEQUENCE:HASH (repeatable).
    #[arg(long, value_name = "SEQ:HASH")]
    pub anchor: Vec<String>,
}

#[derive(Args, Debug)]
pub struct AuditTailArgs {
    #[command(flatten)]
    pub source: AuditSource,
    /// How many events (the last N that match).
    #[arg(short = 'n', long, default_value_t = 20)]
    pub lines: usize,
    /// Only events by this principal ARN (userIdentity.arn), e.g. arn:aws:iam::111122223333:user/alice.
    #[arg(long, value_name = "ARN")]
    pub principal: Option<String>,
    /// Only events about this resource: a key id, key ARN, alias, parameter or bucket name (a
    /// substring of a resource ARN).
    #[arg(long, value_name = "ID")]
    pub key: Option<String>,
    /// Only events with this eventName, e.g. Decrypt.
    #[arg(long, value_name = "NAME")]
    pub event: Option<String>,
    /// Only events from this service: kms, ssm, s3, iam, sts (or a full eventSource).
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
    /// Only events at or after this time (ISO 8601, e.g. 2026-11-29T08:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events at or before this time (ISO 8601).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create an account with its own root access key (so that principals such as
    /// arn:aws:iam::222222222222:root are real). Prints the new credentials in AWS
    /// credentials-file format, or writes them to --out.
    CreateAccount(CreateAccountArgs),
}

#[derive(Args, Debug)]
pub struct CreateAccountArgs {
    /// The 12-digit account id to create [default: a random one].
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,

    /// Coffer's endpoint.
    #[arg(long, env = "AWS_ENDPOINT_URL", default_value = "http://127.0.0.1:4566", value_name = "URL")]
    pub endpoint: String,

    /// Credentials file holding the administrator account's root key.
    #[arg(long, env = "AWS_SHARED_CREDENTIALS_FILE", default_value = "./coffer-data/admin-credentials", value_name = "FILE")]
    pub credentials: std::path::PathBuf,

    /// Profile in the credentials file.
    #[arg(long, env = "AWS_PROFILE", default_value = "coffer")]
    pub profile: String,

    /// PEM CA bundle to trust for an https endpoint (e.g. the --dev --tls certificate).
    #[arg(long, value_name = "PEM")]
    pub ca_bundle: Option<std::path::PathBuf>,

    /// Write the new credentials to this file (mode 0600) instead of printing them.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnOff {
    On,
    Off,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateLimitPreset {
    /// No limits.
    Off,
    /// AWS's default quotas.
    Aws,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML configuration file. Its keys are the long option names with `_` (listen, data_dir, ...).
    /// Precedence: command-line flag, then environment variable, then this file, then the default.
    #[arg(long, env = "COFFER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address and port to listen on [default: 127.0.0.1:4566].
    #[arg(long, env = "COFFER_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,

    /// Data directory: database, root key, admin credentials [default: ./coffer-data].
    #[arg(long, env = "COFFER_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Store: `sqlite` (the file coffer.db in the data directory, the default), `sqlite:<path>`, or
    /// `postgres://user@host:port/db?sslmode=...` — several Coffer nodes may share one PostgreSQL
    /// database (every node needs the same root key, and S3 nodes a shared data directory).
    #[arg(long, env = "COFFER_STORE", value_name = "URL")]
    pub store: Option<String>,

    /// PEM certificate chain; with --tls-key, serves HTTPS.
    #[arg(long, env = "COFFER_TLS_CERT", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert.
    #[arg(long, env = "COFFER_TLS_KEY", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,

    /// Log format [default: text].
    #[arg(long, env = "COFFER_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,

    /// Log filter, e.g. `info` or `coffer=debug` [default: info].
    #[arg(long, env = "COFFER_LOG_LEVEL", value_name = "FILTER")]
    pub log_level: Option<String>,

    /// Maximum simultaneous client connections [default: 4096].
    #[arg(long, env = "COFFER_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,

    /// Largest accepted request body of the JSON protocols, in bytes [default: 1048576].
    #[arg(long, env = "COFFER_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,

    /// Seconds between runs of the background jobs (key deletion, automatic rotation) [default: 60].
    #[arg(long, env = "COFFER_JOBS_INTERVAL", value_name = "SECONDS")]
    pub jobs_interval: Option<u64>,

    /// Parameter Store: standard-tier parameters allowed per account and region [default: 10000].
    #[arg(long, env = "COFFER_SSM_MAX_STANDARD", value_name = "N")]
    pub ssm_max_standard: Option<usize>,

    /// Parameter Store: advanced-tier parameters allowed per account and region [default: 100000].
    #[arg(long, env = "COFFER_SSM_MAX_ADVANCED", value_name = "N")]
    pub ssm_max_advanced: Option<usize>,

    /// S3: domains for virtual-hosted-style requests (`<bucket>.<domain>`), comma-separated
    /// [default: s3.localhost,localhost].
    #[arg(long, env = "COFFER_S3_DOMAINS", value_name = "DOMAINS", value_delimiter = ',')]
    pub s3_domains: Option<Vec<String>>,

    /// S3: accept SSE-C (customer-provided keys) over plain HTTP. AWS refuses it, since the key
    /// travels with each request; --dev allows it.
    #[arg(long, env = "COFFER_S3_ALLOW_SSE_C_OVER_HTTP")]
    pub s3_allow_sse_c_over_http: bool,

    /// Audit journal: `on` records every API call (durably, before it answers) in a hash-chained
    /// journal (<audit dir>/audit/, or a table of a PostgreSQL store); `off` records nothing
    /// [default: on; off with --dev unless --audit-dir is given].
    #[arg(long, env = "COFFER_AUDIT", value_name = "on|off")]
    pub audit: Option<OnOff>,

    /// Directory under which the audit journal (audit/) is written [default: the data directory].
    #[arg(long, env = "COFFER_AUDIT_DIR", value_name = "DIR")]
    pub audit_dir: Option<PathBuf>,

    /// Per-access-key request rate limits: `off`, or `aws` for AWS's default quotas (KMS
    /// cryptographic operations 10,000/s shared, asymmetric 1,000/s, management operations 5-2,000/s;
    /// Parameter Store reads 40/s shared, PutParameter 3/s; S3 5,500 reads and 3,500 writes/s).
    /// Beyond a limit, calls get AWS's ThrottlingException (S3: SlowDown), which SDKs retry
    /// [default: off].
    #[arg(long, env = "COFFER_RATE_LIMITS", value_name = "off|aws")]
    pub rate_limits: Option<RateLimitPreset>,

    /// Override one rate limit, NAME=REQUESTS_PER_SECOND (repeatable; 0 removes the limit). NAME
    /// is a group (kms:cryptographic-symmetric, kms:cryptographic-asymmetric, kms:other,
    /// ssm:get-parameters, ssm:other, s3:reads, s3:writes) or an operation (ssm:PutParameter,
    /// kms:CreateKey, ...), which then gets its own limit. Implies --rate-limits aws unless off.
    #[arg(long = "rate-limit", env = "COFFER_RATE_LIMIT", value_name = "NAME=RPS", value_delimiter = ',')]
    pub rate_limit: Vec<String>,

    /// Seconds a client may take to send a request's headers; also how long an idle keep-alive
    /// connection is kept [default: 30].
    #[arg(long, env = "COFFER_HEADER_TIMEOUT", value_name = "SECONDS")]
    pub header_timeout: Option<u64>,

    /// Benchmarks only: store S3 object data unencrypted, to measure what encryption costs.
    #[arg(long, hide = true, env = "COFFER_UNSAFE_S3_NO_ENCRYPTION")]
    pub unsafe_s3_no_encryption: bool,

    /// Development mode: in-memory store (nothing is written to disk), any SigV4 credentials are
    /// accepted without checking the secret; the account is 123456789012 unless the access key
    /// id is itself 12 digits. Enables POST /_coffer/dev/clock?advance=<seconds>.
    #[arg(long)]
    pub dev: bool,

    /// With --dev: serve HTTPS with a freshly generated self-signed certificate for localhost
    /// (its path is printed at start).
    #[arg(long, requires = "dev")]
    pub tls: bool,

    /// Testing only: allow POST /_coffer/dev/clock outside --dev. Never use in production.
    #[arg(long, hide = true, env = "COFFER_UNSAFE_TEST_CLOCK")]
    pub unsafe_test_clock: bool,
}
