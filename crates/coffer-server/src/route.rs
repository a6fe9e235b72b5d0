//! One request, from bytes to bytes: Coffer's own endpoints, authentication, the service call
//! in the service's protocol, the response and the request log line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use coffer_crypto::digest::{ct_eq, hex, sha256};
use coffer_policy::{Caller, Principal, PrincipalKind};
use coffer_util::Timestamp;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};

use crate::error::{WireError, auth_json, auth_query};
use crate::iam::{IAM_NAMESPACE, QueryError, STS_NAMESPACE};
use crate::protocol::{json, query};
use crate::sigv4::{self, AuthError, CanonicalParts, SignedRequest};
use crate::{App, DEV_ACCOUNT, iam, kms, ssm};

/// Facts about the connection a request arrived on.
#[derive(Clone, Copy, Debug)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub tls: bool,
}

const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// How long a buffered (JSON or query) request body may take to arrive.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
const XML_CONTENT_TYPE: &str = "text/xml";

/// The wire protocol a request speaks, which decides how errors are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Protocol {
    Json,
    Query(&'static str),
}

impl Protocol {
    fn for_service(service: &str) -> Protocol {
        match service {
            "iam" => Protocol::Query(IAM_NAMESPACE),
            "sts" => Protocol::Query(STS_NAMESPACE),
            _ => Protocol::Json,
        }
    }

    /// Before authentication: from the credential scope if the signature parsed, else from the
    /// shape.
    fn guess(parts: &Parts, signed: Option<&SignedRequest>) -> Protocol {
        if let Some(sr) = signed {
            return Protocol::for_service(&sr.service);
        }
        let form = parts
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if form && parts.headers.get("x-amz-target").is_none() { Protocol::Query(IAM_NAMESPACE) } else { Protocol::Json }
    }

    fn error(self, e: &WireError, request_id: &str) -> Response<Full<Bytes>> {
        match self {
            Protocol::Json => response(e.status, JSON_CONTENT_TYPE, request_id, e.json_body()),
            Protocol::Query(ns) => {
                let body = query::render_error(ns, e.code, &e.message, e.status.is_server_error(), request_id);
                response(e.status, XML_CONTENT_TYPE, request_id, Bytes::from(body))
            }
        }
    }

    fn auth_error(self, e: &AuthError) -> WireError {
        match self {
            Protocol::Json => auth_json(e),
            Protocol::Query(_) => auth_query(e),
        }
    }
}

fn response(status: StatusCode, content_type: &str, request_id: &str, body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("x-amzn-requestid", request_id)
        .body(Full::new(body))
        .expect("static headers are valid")
}

/// The request line for the log: never a body, key byte or secret.
struct LogLine<'a> {
    service: &'a str,
    op: &'a str,
    principal: &'a str,
    resources: Vec<String>,
    status: u16,
    error: Option<&'a str>,
}

fn log(line: LogLine<'_>, request_id: &str, start: Instant, peer: SocketAddr) {
    let latency_us = start.elapsed().as_micros() as u64;
    let resource = line.resources.join(",");
    tracing::info!(
        target: "coffer::request",
        service = line.service,
        op = line.op,
        principal = %line.principal,
        resource = %resource,
        status = line.status,
        error = line.error.unwrap_or(""),
        latency_us,
        request_id,
        peer = %peer.ip(),
    );
}

/// The operation a request names (for logs and dispatch): the target's suffix, or `Action`.
fn operation(parts: &Parts, form: Option<&[(String, String)]>) -> String {
    if let Some(t) = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return t.rsplit_once('.').map(|(_, op)| op).unwrap_or("").to_string();
    }
    form.and_then(|f| f.iter().find(|(k, _)| k == "Action").map(|(_, v)| v.clone())).unwrap_or_default()
}

/// One request: S3 requests stream; every other protocol is buffered.
pub async fn handle(app: Arc<App>, conn: ConnInfo, req: Request<Incoming>) -> Response<crate::s3::ResponseBody> {
    let (parts, body) = req.into_parts();
    // Parsed once here: it picks the protocol, and the request authenticates with it.
    let signed = sigv4::parse_request(&parts.headers, parts.uri.query().unwrap_or(""));
    if !parts.uri.path().starts_with("/_coffer/") && !app.freshness.fresh() {
        return unavailable(&parts, signed.as_ref().ok());
    }
    if !parts.uri.path().starts_with("/_coffer/") && crate::s3::looks_like_s3(&parts, signed.as_ref().ok()) {
        let request_id = coffer_crypto::random::uuid_v4();
        return crate::s3::handle(app, conn, parts, signed, body, request_id, Instant::now()).await;
    }
    handle_buffered(app, conn, parts, signed, body).await.map(|b| b.map_err(|never| match never {}).boxed())
}

/// 503 while this node cannot vouch for its caches (multi-node; see `Freshness`). Clients retry.
fn unavailable(parts: &Parts, signed: Option<&SignedRequest>) -> Response<crate::s3::ResponseBody> {
    let request_id = coffer_crypto::random::uuid_v4();
    tracing::warn!(request_id = %request_id, "refusing a request: this node's view of shared state may be stale");
    let message = "Coffer cannot confirm its view of shared state is current; retry shortly.";
    if crate::s3::looks_like_s3(parts, signed) {
        let e = coffer_s3::S3Error::Wire { code: "ServiceUnavailable".into(), status: 503, message: message.into() };
        return crate::s3::error_response(&e, &request_id, parts.uri.path(), parts.method == Method::HEAD);
    }
    let e = WireError::new(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailableException", message);
    Protocol::guess(parts, signed).error(&e, &request_id).map(|b| b.map_err(|never| match never {}).boxed())
}

async fn handle_buffered(
    app: Arc<App>,
    conn: ConnInfo,
    parts: Parts,
    signed: Result<SignedRequest, AuthError>,
    body: Incoming,
) -> Response<Full<Bytes>> {
    let start = Instant::now();
    let request_id = coffer_crypto::random::uuid_v4();
    let path = parts.uri.path();
    if path == "/_coffer/health" || path.starts_with("/_coffer/dev/") {
        return internal(&app, &parts, &request_id).await;
    }
    let protocol = Protocol::guess(&parts, signed.as_ref().ok());
    let early_op = operation(&parts, None);
    if let Err(e) = check_headers(&parts) {
        return refuse(&app, conn, &parts, protocol, &early_op, e, &request_id, start).await;
    }
    // A body must arrive whole within the timeout (a slow client cannot hold the request).
    let collected = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, app.limits.max_json_body).collect()).await;
    let body = match collected {
        Err(_) => {
            let err = WireError::new(StatusCode::REQUEST_TIMEOUT, "RequestTimeoutException", "The request body was not received in time.");
            return refuse(&app, conn, &parts, protocol, &early_op, err, &request_id, start).await;
        }
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) => {
            let err = if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                WireError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestEntityTooLargeException",
                    format!("Request body is larger than the limit of {} bytes.", app.limits.max_json_body),
                )
            } else {
                WireError::bad_request("SerializationException", "The request body could not be read.")
            };
            return refuse(&app, conn, &parts, protocol, &early_op, err, &request_id, start).await;
        }
    };
    let is_form = matches!(protocol, Protocol::Query(_));
    let mut form: Option<Vec<(String, String)>> = None;
    if is_form {
        let mut pairs = query::form_pairs(&body);
        if parts.method == Method::GET {
            pairs.extend(query::form_pairs(parts.uri.query().unwrap_or("").as_bytes()));
        }
        form = Some(pairs);
    }
    let op = operation(&parts, form.as_deref());

    let (sr, principal) = match authenticate_buffered(&app, &parts, signed, &body) {
        Ok(x) => x,
        Err(e) => return refuse(&app, conn, &parts, protocol, &op, protocol.auth_error(&e), &request_id, start).await,
    };
    let protocol = Protocol::for_service(&sr.service);
    let mut caller = Caller::new(principal, sr.access_key_id.clone(), sr.region.clone(), request_id.clone());
    caller.source_ip = Some(conn.peer.ip());
    caller.secure_transport = conn.tls;
    caller.user_agent = user_agent(&parts);

    if parts.uri.path().starts_with("/_coffer/admin/") {
        return admin(&app, &parts, &body, &caller, &request_id, start, conn.peer).await;
    }

    // The response document travels beside the bytes for the audit event (query protocol: the
    // structure before it became XML; JSON: parsed back from the bytes when needed).
    let result: Result<(Bytes, &str, Option<serde_json::Value>), WireError> = if let Some(quota) =
        app.rate_limits.as_ref().and_then(|l| l.check(&caller.access_key_id, &sr.service, &op).err())
    {
        tracing::debug!(request_id = %request_id, quota, "throttled");
        Err(throttled(&sr.service))
    } else {
        match (sr.service.as_str(), protocol) {
            ("kms", _) => {
                if parts.method != Method::POST {
                    Err(WireError::bad_request("UnknownOperationException", "awsJson requests must use POST."))
                } else {
                    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
                    match target.strip_prefix(kms::TARGET_PREFIX) {
                        Some(op) => kms::dispatch(&app.kms, &caller, op, &body).await.map(|b| (Bytes::from(b), JSON_CONTENT_TYPE, None)),
                        None => Err(WireError::bad_request("UnknownOperationException", format!("Unknown operation {target}"))),
                    }
                }
            }
            ("ssm", _) => {
                let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
                match target.strip_prefix(ssm::TARGET_PREFIX) {
                    Some(op) if parts.method == Method::POST => {
                        ssm::dispatch(&app.ssm, &caller, op, &body).await.map(|b| (Bytes::from(b), JSON_CONTENT_TYPE, None))
                    }
                    _ => Err(WireError::bad_request("UnknownOperationException", format!("Unknown operation {target}"))),
                }
            }
            (service @ ("iam" | "sts"), Protocol::Query(ns)) => {
                let pairs = match &form {
                    Some(f) => f.clone(),
                    None => query::form_pairs(&body),
                };
                query_call(&app, &caller, service, ns, &op, &pairs, &request_id).await.map(|(b, v)| (b, XML_CONTENT_TYPE, Some(v)))
            }
            (other, _) => Err(WireError::bad_request(
                "UnknownOperationException",
                format!("Coffer does not serve the '{other}' service in this release."),
            )),
        }
    };
    let audited = if app.audit.is_some() {
        let request = match &form {
            Some(pairs) => crate::audit::camel(query::to_json(pairs)),
            None => crate::audit::json_request(&body),
        };
        let response = match &result {
            Ok((_, _, Some(v))) if !crate::audit::read_only(&op) => crate::audit::camel(v.clone()),
            Ok((bytes, _, None)) if !crate::audit::read_only(&op) => crate::audit::json_request(bytes),
            _ => serde_json::Value::Null,
        };
        let call = crate::audit::Call {
            service: &sr.service,
            op: &op,
            region: &sr.region,
            peer: conn.peer.ip(),
            user_agent: &caller.user_agent,
            request_id: &request_id,
            caller: Some(&caller),
            claimed_access_key: None,
            request,
            response,
            error: result.as_ref().err().map(|e| (e.code, e.message.as_str())),
        };
        crate::audit::record(&app, call).await
    } else {
        Ok(())
    };
    let result = match audited {
        Ok(()) => result,
        Err(()) => Err(unrecorded()),
    };
    let (resp, status, error) = match result {
        Ok((bytes, ct, _)) => (response(StatusCode::OK, ct, &request_id, bytes), 200, None),
        Err(e) => {
            if e.status.is_server_error() {
                tracing::error!(request_id = %request_id, op = %op, "internal error");
            }
            (protocol.error(&e, &request_id), e.status.as_u16(), Some(e.code))
        }
    };
    log(
        LogLine { service: &sr.service, op: &op, principal: &caller.principal.arn, resources: caller.resources(), status, error },
        &request_id,
        start,
        conn.peer,
    );
    resp
}

pub(crate) fn user_agent(parts: &Parts) -> String {
    parts.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default().chars().take(256).collect()
}

/// Most header fields, and most header bytes, a request may carry. hyper enforces the
/// connection-level caps (its read buffer, and 100 fields: beyond, it answers 431 itself);
/// these are the request-level ones, answered with AWS's error (S3 allows 2 KB of user
/// metadata, and SDK requests carry about 15 fields).
pub(crate) const MAX_HEADERS: usize = 64;
pub(crate) const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Refuses a request with too many or too large headers (defence against header floods that
/// stay under hyper's buffer cap).
pub(crate) fn check_headers(parts: &Parts) -> Result<(), WireError> {
    let count = parts.headers.len();
    let bytes: usize = parts.headers.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    if count > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return Err(WireError::bad_request(
            "RequestHeaderSectionTooLarge",
            format!("Your request header section exceeds the maximum allowed size ({MAX_HEADERS} fields, {MAX_HEADER_BYTES} bytes)."),
        ));
    }
    Ok(())
}

/// AWS's throttling error for `service`, which the SDKs retry with backoff.
fn throttled(service: &str) -> WireError {
    match service {
        "kms" => WireError::bad_request(
            "ThrottlingException",
            "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.",
        ),
        "iam" | "sts" => WireError::bad_request("Throttling", "Rate exceeded"),
        _ => WireError::bad_request("ThrottlingException", "Rate exceeded"),
    }
}

/// The answer to a call whose audit event could not be made durable.
fn unrecorded() -> WireError {
    WireError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure", crate::audit::UNRECORDED)
}

/// Answers a request refused before it authenticated (bad headers, body, signature), after
/// logging it and recording it in the audit journal with the access key it claimed.
#[allow(clippy::too_many_arguments)]
async fn refuse(
    app: &App,
    conn: ConnInfo,
    parts: &Parts,
    protocol: Protocol,
    op: &str,
    err: WireError,
    request_id: &str,
    start: Instant,
) -> Response<Full<Bytes>> {
    log(LogLine { service: "", op, principal: "", resources: vec![], status: err.status.as_u16(), error: Some(err.code) }, request_id, start, conn.peer);
    // The service its signature names, else what the request looks like.
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    let service = match protocol {
        _ if target.starts_with(kms::TARGET_PREFIX) => "kms",
        _ if target.starts_with(ssm::TARGET_PREFIX) => "ssm",
        Protocol::Query(ns) if ns == STS_NAMESPACE => "sts",
        Protocol::Query(_) => "iam",
        Protocol::Json => "unknown",
    };
    if crate::audit::record_refused(app, parts, service, op, conn.peer.ip(), request_id, err.code, &err.message).await.is_err() {
        return protocol.error(&unrecorded(), request_id);
    }
    protocol.error(&err, request_id)
}

async fn query_call(
    app: &App,
    caller: &Caller,
    service: &str,
    namespace: &str,
    action: &str,
    pairs: &[(String, String)],
    request_id: &str,
) -> Result<(Bytes, serde_json::Value), WireError> {
    if action.is_empty() {
        return Err(WireError::bad_request("MissingAction", "Could not find the Action parameter."));
    }
    let params: coffer_iam::Params = serde_json::from_value(query::to_json(pairs))
        .map_err(|e| WireError::bad_request("ValidationError", format!("1 validation error detected: {e}")))?;
    match iam::dispatch(&app.iam, caller, service, action, params).await {
        Ok(out) => {
            let value = serde_json::to_value(&out).expect("outputs serialise");
            Ok((Bytes::from(query::render(action, namespace, &value, request_id)), value))
        }
        Err(QueryError::Service(e)) => Err(e.into()),
        Err(QueryError::UnknownAction(a)) => Err(WireError::bad_request(
            "InvalidAction",
            format!("Could not find operation {a} for version {}", if service == "sts" { "2011-06-15" } else { "2010-05-08" }),
        )),
    }
}

pub(crate) fn valid_region(r: &str) -> bool {
    !r.is_empty() && r.len() <= 32 && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Verifies the SigV4 signature of a buffered request (JSON and query protocols) and returns
/// who signed it. The body is always covered: a claimed hash must be the body's.
fn authenticate_buffered(
    app: &App,
    parts: &Parts,
    signed: Result<SignedRequest, AuthError>,
    body: &[u8],
) -> Result<(SignedRequest, Principal), AuthError> {
    let sr = signed?;
    let body_hash = hex(&sha256(body));
    if let Some(claimed) = parts.headers.get("x-amz-content-sha256")
        && !ct_eq(claimed.as_bytes(), body_hash.as_bytes())
    {
        return Err(AuthError::BadSignature);
    }
    authenticate(app, parts, sr, &body_hash).map(|a| (a.request, a.principal))
}

/// Who signed a request, and (for a verified signature) the signing key, which streaming S3
/// bodies need to check each chunk's signature.
pub(crate) struct Authenticated {
    pub request: SignedRequest,
    pub principal: Principal,
    pub key: Option<coffer_crypto::digest::HmacKey>,
}

/// Verifies a parsed SigV4 request whose payload is represented by `payload_hash` (the body's
/// hash, or S3's `UNSIGNED-PAYLOAD` / `STREAMING-...` markers).
pub(crate) fn authenticate(app: &App, parts: &Parts, sr: SignedRequest, payload_hash: &str) -> Result<Authenticated, AuthError> {
    let raw_query = parts.uri.query().unwrap_or("");
    if !valid_region(&sr.region) {
        return Err(AuthError::Incomplete(format!("Credential scope region '{}' is not valid.", sr.region)));
    }
    sigv4::check_time(&sr, Timestamp::wall())?;
    let cred = app.iam.credential(&sr.access_key_id);
    if app.dev && cred.is_none() {
        // --dev: unknown credentials are the root of the account they name (or the default).
        let account = if sr.access_key_id.len() == 12 && sr.access_key_id.bytes().all(|b| b.is_ascii_digit()) {
            sr.access_key_id.as_str()
        } else {
            DEV_ACCOUNT
        };
        let principal = Principal::root(account);
        return Ok(Authenticated { request: sr, principal, key: None });
    }
    let cred = cred.filter(|c| c.active).ok_or(AuthError::UnknownAccessKey)?;
    match (&cred.session, &sr.session_token) {
        (None, None) => {}
        (Some(check), Some(token)) => {
            if !ct_eq(&sha256(token.as_bytes()), &check.token_sha256) {
                return Err(AuthError::UnknownAccessKey);
            }
            if check.expires_ms <= app.iam.now_ms() {
                return Err(AuthError::ExpiredToken);
            }
        }
        _ => return Err(AuthError::UnknownAccessKey),
    }
    let key = app.signing_keys.get(&sr, cred.secret());
    let authority = parts.uri.authority().map(|a| a.as_str());
    let creq = sigv4::canonical_request(&CanonicalParts {
        method: parts.method.as_str(),
        raw_path: parts.uri.path(),
        raw_query,
        service: &sr.service,
        headers: &parts.headers,
        authority,
        signed_headers: &sr.signed_headers,
        payload_hash,
        presigned: sr.expires.is_some(),
    })?;
    if !sigv4::signature_matches(&sr, &key, &creq) {
        return Err(AuthError::BadSignature);
    }
    Ok(Authenticated { request: sr, principal: cred.principal.clone(), key: Some(key) })
}

/// `POST /_coffer/admin/accounts` (JSON `{"AccountId": "..."}` optional): creates an account and
/// returns its root access key. Only the installation's administrator account root may call it
/// (in `--dev`, any root).
#[allow(clippy::too_many_arguments)]
async fn admin(
    app: &App,
    parts: &Parts,
    body: &[u8],
    caller: &Caller,
    request_id: &str,
    start: Instant,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let result: Result<serde_json::Value, WireError> = async {
        if parts.method != Method::POST || parts.uri.path() != "/_coffer/admin/accounts" {
            return Err(WireError::new(StatusCode::NOT_FOUND, "UnknownOperationException", "No such Coffer admin endpoint."));
        }
        let is_admin = app.iam.is_admin(caller.account()).await.map_err(WireError::from)?;
        if caller.principal.kind != PrincipalKind::Root || !is_admin {
            return Err(WireError::new(
                StatusCode::FORBIDDEN,
                "AccessDeniedException",
                format!("User: {} is not authorized to perform: coffer:CreateAccount", caller.principal.arn),
            ));
        }
        #[derive(serde::Deserialize, Default)]
        #[serde(rename_all = "PascalCase", default)]
        struct Req {
            account_id: Option<String>,
        }
        let req: Req = json::decode(body)?;
        let (account, key) = app.iam.create_account(req.account_id.as_deref()).await.map_err(WireError::from)?;
        Ok(serde_json::json!({
            "AccountId": account,
            "AccessKeyId": key.access_key_id,
            "SecretAccessKey": String::from_utf8_lossy(key.secret_access_key.expose()),
        }))
    }
    .await;
    let call = crate::audit::Call {
        service: "coffer-admin",
        op: "CreateAccount",
        region: &caller.region,
        peer: peer.ip(),
        user_agent: &caller.user_agent,
        request_id,
        caller: Some(caller),
        claimed_access_key: None,
        request: crate::audit::json_request(body),
        response: result.as_ref().map(|v| crate::audit::camel(v.clone())).unwrap_or_default(),
        error: result.as_ref().err().map(|e| (e.code, e.message.as_str())),
    };
    let result = match crate::audit::record(app, call).await {
        Ok(()) => result,
        Err(()) => Err(unrecorded()),
    };
    let (resp, status, error) = match result {
        Ok(v) => (response(StatusCode::OK, "application/json", request_id, Bytes::from(v.to_string())), 200, None),
        Err(e) => (Protocol::Json.error(&e, request_id), e.status.as_u16(), Some(e.code)),
    };
    log(LogLine { service: "coffer-admin", op: "CreateAccount", principal: &caller.principal.arn, resources: vec![], status, error }, request_id, start, peer);
    resp
}

/// `/_coffer/health`, and in dev/test mode `/_coffer/dev/clock?advance=<seconds>` and
/// `/_coffer/dev/stats` (counters tests use to prove what a request touched).
async fn internal(app: &App, parts: &Parts, request_id: &str) -> Response<Full<Bytes>> {
    let json = |status: StatusCode, v: serde_json::Value| {
        response(status, "application/json", request_id, Bytes::from(v.to_string()))
    };
    match (parts.method.clone(), parts.uri.path()) {
        (Method::GET | Method::HEAD, "/_coffer/health") => json(
            StatusCode::OK,
            serde_json::json!({"status": "ok", "store": app.store_kind, "version": env!("CARGO_PKG_VERSION")}),
        ),
        (Method::GET, "/_coffer/dev/stats") if app.clock_control => json(
            StatusCode::OK,
            serde_json::json!({"s3_chunks_read": app.s3.chunks_read(), "s3_kms_calls": app.s3.kms_calls()}),
        ),
        (Method::POST, "/_coffer/dev/clock") if app.clock_control => {
            let advance = parts
                .uri
                .query()
                .unwrap_or("")
                .split('&')
                .find_map(|p| p.strip_prefix("advance="))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            app.kms.clock().advance(advance);
            let report = app.kms.run_jobs().await;
            let sessions = app.iam.run_jobs().await;
            let parameters = app.ssm.run_jobs().await;
            let garbage = app.s3.run_jobs().await;
            json(
                StatusCode::OK,
                serde_json::json!({
                    "offset_seconds": app.kms.clock().offset_secs(),
                    "deleted": report.deleted,
                    "rotated": report.rotated,
                    "expired_materials": report.expired,
                    "failed": report.failed,
                    "expired_sessions": sessions,
                    "expired_parameters": parameters.expired,
                    "parameter_notifications": parameters.notified,
                    "s3_garbage_collected": garbage,
                }),
            )
        }
        _ => json(StatusCode::NOT_FOUND, serde_json::json!({"error": "no such Coffer endpoint"})),
    }
}
