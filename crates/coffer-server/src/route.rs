//! One request, from bytes to bytes: Coffer's own endpoints, authentication, the service call,
//! the response and the request log line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use coffer_crypto::digest::{ct_eq, hex, sha256};
use coffer_policy::{Caller, Principal};
use coffer_util::Timestamp;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::{Method, Request, Response, StatusCode};

use crate::error::{WireError, auth_json};
use crate::sigv4::{self, AuthError, CanonicalParts, SignedRequest};
use crate::{App, DEV_ACCOUNT, kms};

/// Facts about the connection a request arrived on.
#[derive(Clone, Copy, Debug)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    pub tls: bool,
}

const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";

fn response(status: StatusCode, content_type: &str, request_id: &str, body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("x-amzn-requestid", request_id)
        .body(Full::new(body))
        .expect("static headers are valid")
}

fn json_error(e: &WireError, request_id: &str) -> Response<Full<Bytes>> {
    response(e.status, JSON_CONTENT_TYPE, request_id, e.json_body())
}

/// The request line for the log: never a body, key byte or secret.
struct LogLine<'a> {
    service: &'a str,
    op: &'a str,
    principal: String,
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

pub async fn handle(app: Arc<App>, conn: ConnInfo, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let start = Instant::now();
    let request_id = coffer_crypto::random::uuid_v4();
    let (parts, body) = req.into_parts();
    if parts.uri.path().starts_with("/_coffer/") {
        return internal(&app, &parts, &request_id).await;
    }
    let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let op = target.rsplit_once('.').map(|(_, op)| op).unwrap_or("").to_string();
    let fail = |e: WireError, principal: String, service: &str| {
        log(
            LogLine { service, op: &op, principal, resources: vec![], status: e.status.as_u16(), error: Some(e.code) },
            &request_id,
            start,
            conn.peer,
        );
        json_error(&e, &request_id)
    };

    let body = match Limited::new(body, app.limits.max_json_body).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let err = if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                WireError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestEntityTooLargeException",
                    format!("Request body is larger than the limit of {} bytes.", app.limits.max_json_body),
                )
            } else {
                WireError::bad_request("SerializationException", "The request body could not be read.")
            };
            return fail(err, String::new(), "");
        }
    };

    let (sr, principal) = match authenticate(&app, &parts, &body) {
        Ok(x) => x,
        Err(e) => return fail(auth_json(&e), String::new(), ""),
    };
    if parts.method != Method::POST {
        let e = WireError::bad_request("UnknownOperationException", "awsJson requests must use POST.");
        return fail(e, principal.arn.clone(), &sr.service);
    }
    let mut caller = Caller::new(principal, sr.access_key_id.clone(), sr.region.clone(), request_id.clone());
    caller.source_ip = Some(conn.peer.ip());
    caller.secure_transport = conn.tls;
    caller.user_agent =
        parts.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default().chars().take(256).collect();

    let result = match sr.service.as_str() {
        "kms" => match target.strip_prefix(kms::TARGET_PREFIX) {
            Some(op) => kms::dispatch(&app.kms, &caller, op, &body).await,
            None => Err(WireError::bad_request("UnknownOperationException", format!("Unknown operation {target}"))),
        },
        other => Err(WireError::bad_request(
            "UnknownOperationException",
            format!("Coffer does not serve the '{other}' service in this release."),
        )),
    };
    let (resp, status, error) = match result {
        Ok(bytes) => (response(StatusCode::OK, JSON_CONTENT_TYPE, &request_id, Bytes::from(bytes)), 200, None),
        Err(e) => {
            if e.status.is_server_error() {
                tracing::error!(request_id = %request_id, op = %op, "internal error");
            }
            (json_error(&e, &request_id), e.status.as_u16(), Some(e.code))
        }
    };
    log(
        LogLine { service: &sr.service, op: &op, principal: caller.principal.arn.clone(), resources: caller.resources(), status, error },
        &request_id,
        start,
        conn.peer,
    );
    resp
}

fn valid_region(r: &str) -> bool {
    !r.is_empty() && r.len() <= 32 && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Verifies the request's SigV4 signature and returns who signed it.
fn authenticate(app: &App, parts: &Parts, body: &[u8]) -> Result<(SignedRequest, Principal), AuthError> {
    let raw_query = parts.uri.query().unwrap_or("");
    let sr = sigv4::parse_request(&parts.headers, raw_query)?;
    if !valid_region(&sr.region) {
        return Err(AuthError::Incomplete(format!("Credential scope region '{}' is not valid.", sr.region)));
    }
    sigv4::check_time(&sr, Timestamp::wall())?;
    // The body is always covered: a claimed hash must be the body's.
    let body_hash = hex(&sha256(body));
    if let Some(claimed) = parts.headers.get("x-amz-content-sha256")
        && !ct_eq(claimed.as_bytes(), body_hash.as_bytes())
    {
        return Err(AuthError::BadSignature);
    }
    if app.dev {
        let account = if sr.access_key_id.len() == 12 && sr.access_key_id.bytes().all(|b| b.is_ascii_digit()) {
            sr.access_key_id.as_str()
        } else {
            DEV_ACCOUNT
        };
        return Ok((sr.clone(), Principal::root(account)));
    }
    if sr.session_token.is_some() {
        // No temporary credentials exist until STS is served.
        return Err(AuthError::UnknownAccessKey);
    }
    let cred = app.iam.credential(&sr.access_key_id).filter(|c| c.active).ok_or(AuthError::UnknownAccessKey)?;
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
        payload_hash: &body_hash,
        presigned: sr.expires.is_some(),
    })?;
    if !sigv4::signature_matches(&sr, &key, &creq) {
        return Err(AuthError::BadSignature);
    }
    Ok((sr, cred.principal.clone()))
}

/// `/_coffer/health`, and in dev/test mode `/_coffer/dev/clock?advance=<seconds>`.
async fn internal(app: &App, parts: &Parts, request_id: &str) -> Response<Full<Bytes>> {
    let json = |status: StatusCode, v: serde_json::Value| {
        response(status, "application/json", request_id, Bytes::from(v.to_string()))
    };
    match (parts.method.clone(), parts.uri.path()) {
        (Method::GET | Method::HEAD, "/_coffer/health") => json(
            StatusCode::OK,
            serde_json::json!({"status": "ok", "store": app.store_kind, "version": env!("CARGO_PKG_VERSION")}),
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
            json(
                StatusCode::OK,
                serde_json::json!({
                    "offset_seconds": app.kms.clock().offset_secs(),
                    "deleted": report.deleted,
                    "rotated": report.rotated,
                    "failed": report.failed,
                }),
            )
        }
        _ => json(StatusCode::NOT_FOUND, serde_json::json!({"error": "no such Coffer endpoint"})),
    }
}
