//! HTTP and the AWS wire: TLS, SigV4 authentication, protocol adapters, error mapping, the
//! request log. No business logic.
//!
//! How a request flows: [`http`] accepts the connection (TLS, limits, graceful shutdown) and
//! hands each request to [`route::handle`], which answers Coffer's own `/_coffer/*` endpoints,
//! reads the body (capped), authenticates it with [`sigv4`] (the credential scope names region
//! and service), picks the protocol adapter for the service, calls the service with a
//! [`coffer_policy::Caller`], maps the result or error to the wire ([`error`]), and writes one
//! log line.
#![forbid(unsafe_code)]

mod audit;
pub mod error;
pub mod http;
pub mod limits;
mod iam;
mod kms;
pub mod protocol;
mod route;
pub mod s3;
pub mod s3chunked;
pub mod sigv4;
mod ssm;

use std::sync::Arc;

use coffer_iam::Iam;
use coffer_kms::Kms;
use coffer_s3::S3;
use coffer_ssm::Ssm;

pub use http::{ServeOptions, serve};
pub use iam::{IAM_IMPLEMENTED, STS_IMPLEMENTED};
pub use kms::{IMPLEMENTED as KMS_IMPLEMENTED, NOT_YET as KMS_NOT_YET};
pub use ssm::{IMPLEMENTED as SSM_IMPLEMENTED, NOT_YET as SSM_NOT_YET};

/// The account `--dev` uses unless the access key id is itself a 12-digit account.
pub const DEV_ACCOUNT: &str = "123456789012";

/// Limits applied to every request.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest accepted body of a JSON-protocol request, in bytes.
    pub max_json_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_json_body: 1024 * 1024 }
    }
}

/// Whether this node's caches may be trusted: the store confirms its change feed is alive
/// (always, for single-node stores) and no full reload is under way. While not fresh, requests
/// are answered 503 so that no node acts on state more than [`MAX_STALENESS`] old.
pub struct Freshness {
    store: Arc<dyn coffer_store::Store>,
    reloading: std::sync::atomic::AtomicBool,
}

/// How stale a node's view of other nodes' changes may be before it stops serving.
pub const MAX_STALENESS: std::time::Duration = std::time::Duration::from_secs(1);

impl Freshness {
    pub fn new(store: Arc<dyn coffer_store::Store>) -> Freshness {
        Freshness { store, reloading: std::sync::atomic::AtomicBool::new(false) }
    }

    pub fn set_reloading(&self, on: bool) {
        self.reloading.store(on, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn reloading(&self) -> bool {
        self.reloading.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn fresh(&self) -> bool {
        !self.reloading() && self.store.listener_healthy_within(MAX_STALENESS)
    }
}

/// Everything a request handler needs: the services and the server's settings.
pub struct App {
    pub kms: Arc<Kms>,
    pub iam: Arc<Iam>,
    pub ssm: Arc<Ssm>,
    pub s3: Arc<S3>,
    /// Domains under which `<bucket>.<domain>` hosts address buckets (virtual-hosted style).
    pub s3_domains: Vec<String>,
    /// `--dev`: any credentials are accepted (signatures are parsed, secrets not checked).
    pub dev: bool,
    /// Whether `/_coffer/dev/clock` may move the service clock (dev and tests only).
    pub clock_control: bool,
    pub limits: Limits,
    pub store_kind: &'static str,
    pub freshness: Arc<Freshness>,
    /// The audit journal (`None`: auditing off). Every API call's event is durable in it before
    /// the call answers.
    pub audit: Option<Arc<coffer_audit::Journal>>,
    /// Per-access-key request rates (`None`: unlimited).
    pub rate_limits: Option<limits::RateLimiter>,
    signing_keys: sigv4::SigningKeyCache,
}

impl App {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        kms: Arc<Kms>,
        iam: Arc<Iam>,
        ssm: Arc<Ssm>,
        s3: Arc<S3>,
        s3_domains: Vec<String>,
        dev: bool,
        clock_control: bool,
        limits: Limits,
        store_kind: &'static str,
        freshness: Arc<Freshness>,
    ) -> App {
        App {
            kms,
            iam,
            ssm,
            s3,
            s3_domains,
            dev,
            clock_control,
            limits,
            store_kind,
            freshness,
            audit: None,
            rate_limits: None,
            signing_keys: Default::default(),
        }
    }

    /// Records every API call in `journal` (fail closed: a call whose event cannot be made
    /// durable fails).
    pub fn with_audit(mut self, journal: Arc<coffer_audit::Journal>) -> App {
        self.audit = Some(journal);
        self
    }

    /// Limits each access key's request rate (`ThrottlingException` beyond it).
    pub fn with_rate_limits(mut self, limiter: limits::RateLimiter) -> App {
        self.rate_limits = Some(limiter);
        self
    }
}
