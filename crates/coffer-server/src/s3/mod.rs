//! The S3 rest-xml adapter: routing (path and virtual-hosted style), S3's SigV4 variants
//! (payload hash in `x-amz-content-sha256`, unsigned payloads, aws-chunked streaming with chunk
//! signatures and trailers, presigned URLs), headers and XML in and out, and S3's XML errors.
//! Bodies stream in both directions; the S3 service decides everything else.

mod body;
mod ops;
mod xml;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use coffer_crypto::digest::Sha256;
use coffer_policy::Caller;
use coffer_s3::S3Error;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::{HeaderMap, Method, Response, StatusCode};

use crate::App;
use crate::route::{ConnInfo, authenticate};
use crate::s3chunked::{ChunkedDecoder, ChunkedMode, StreamingPayload};
use crate::sigv4::{self, AuthError};
pub use body::ChannelBody;
use body::{Check, RequestBody};
use xml::Xml;

pub type ResponseBody = BoxBody<Bytes, std::io::Error>;

pub(crate) fn full(b: impl Into<Bytes>) -> ResponseBody {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

pub(crate) fn empty() -> ResponseBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// Whether a request that is not an AWS JSON or query call should be treated as S3.
/// `signed`: the request's parsed signature, if it parsed (the caller parses it once).
pub fn looks_like_s3(parts: &Parts, signed: Option<&sigv4::SignedRequest>) -> bool {
    match signed {
        Some(sr) => sr.service == "s3",
        None => {
            let form = parts
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            parts.headers.get("x-amz-target").is_none() && !(form && parts.method == Method::POST)
        }
    }
}

/// The bucket and key a request addresses.
#[derive(Debug, Clone, Default)]
pub(crate) struct Target {
    pub bucket: Option<String>,
    pub key: Option<String>,
}

/// Splits host and path into bucket and key (virtual-hosted style when the host is
/// `<bucket>.<domain>` for a configured domain).
fn target(parts: &Parts, domains: &[String]) -> Result<Target, S3Error> {
    let host = parts
        .headers
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.as_str().to_string()))
        .unwrap_or_default();
    let host = host.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map(|(h, _)| h).unwrap_or(&host).to_ascii_lowercase();
    let path = sigv4::percent_decode(parts.uri.path());
    let path = String::from_utf8(path).map_err(|_| S3Error::InvalidRequest("The request path is not valid UTF-8.".into()))?;
    let path = path.strip_prefix('/').unwrap_or(&path).to_string();
    let mut vhost_bucket = None;
    for d in domains {
        if let Some(b) = host.strip_suffix(&format!(".{d}")) {
            vhost_bucket = Some(b.to_string());
            break;
        }
    }
    let (bucket, key) = match vhost_bucket {
        Some(b) => (Some(b), Some(path).filter(|p| !p.is_empty())),
        None => match path.split_once('/') {
            Some((b, k)) => (Some(b.to_string()), Some(k.to_string()).filter(|k| !k.is_empty())),
            None => (Some(path).filter(|p| !p.is_empty()), None),
        },
    };
    Ok(Target { bucket, key })
}

/// The S3 error document (no body for HEAD).
pub(crate) fn error_response(e: &S3Error, request_id: &str, resource: &str, head: bool) -> Response<ResponseBody> {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = Response::builder().status(status).header("x-amz-request-id", request_id).header("x-amz-id-2", request_id);
    let d = e.detail();
    if let Some(region) = &d.region {
        r = r.header("x-amz-bucket-region", region.as_str());
    }
    if matches!(e, S3Error::NotModified) || head {
        return r.body(empty()).expect("valid response");
    }
    let mut x = Xml::bare("Error");
    x.elem("Code", e.code()).elem("Message", &e.message());
    x.opt("BucketName", d.bucket.as_deref()).opt("Key", d.key.as_deref()).opt("UploadId", d.upload_id.as_deref());
    x.opt("ArgumentName", d.argument_name.as_deref()).opt("ArgumentValue", d.argument_value.as_deref());
    x.opt("Condition", d.condition.as_deref()).opt("Region", d.region.as_deref());
    if let S3Error::InvalidRange { size } = e {
        x.elem("ActualObjectSize", &size.to_string());
        x.elem("RangeRequested", "");
    }
    x.elem("Resource", resource).elem("RequestId", request_id).elem("HostId", request_id);
    r.header("content-type", "application/xml").body(full(x.finish("Error"))).expect("valid response")
}

/// Authentication failures, worded as S3 words them.
fn auth_error(e: &AuthError) -> S3Error {
    let wire = |code: &str, status: u16, message: &str| S3Error::Wire { code: code.into(), status, message: message.into() };
    match e {
        AuthError::Missing => S3Error::AccessDenied("Anonymous access is not supported by Coffer; sign the request with SigV4.".into()),
        AuthError::Incomplete(m) => wire("AuthorizationHeaderMalformed", 400, m),
        AuthError::UnknownAccessKey => wire("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist in our records."),
        AuthError::BadSignature => S3Error::SignatureDoesNotMatch(
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.".into(),
        ),
        AuthError::Skewed(m) => wire("RequestTimeTooSkewed", 403, m),
        AuthError::Expired(_) => S3Error::AccessDenied("Request has expired".into()),
        AuthError::ExpiredToken => wire("ExpiredToken", 400, "The provided token has expired."),
    }
}

pub(crate) struct Request {
    pub parts: Parts,
    pub target: Target,
    pub query: Vec<(String, String)>,
    pub caller: Caller,
    pub request_id: String,
    pub body: RequestBody,
    pub host: String,
}

impl Request {
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn h(&self, name: &str) -> Option<String> {
        header(&self.parts.headers, name)
    }
}

pub(crate) fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
}

/// Serves one S3 request.
/// `signed`: the request's SigV4 signature as [`sigv4::parse_request`] parsed it (routing
/// parsed it already).
pub async fn handle(
    app: Arc<App>,
    conn: ConnInfo,
    parts: Parts,
    signed: Result<sigv4::SignedRequest, sigv4::AuthError>,
    incoming: Incoming,
    request_id: String,
    start: Instant,
) -> Response<ResponseBody> {
    let head = parts.method == Method::HEAD;
    let resource = parts.uri.path().to_string();
    let peer = conn.peer;
    // Refused before authentication: logged, and recorded in the audit journal with the access
    // key the request claimed.
    let fail = |e: S3Error, op: &'static str| {
        let (app, parts, request_id, resource) = (&app, &parts, &request_id, &resource);
        async move {
            log(op, "", "", e.status(), Some(e.code()), request_id, start, peer);
            let message = e.message();
            if crate::audit::record_refused(app, parts, "s3", op, peer.ip(), request_id, e.code(), &message).await.is_err() {
                return error_response(&unrecorded(), request_id, resource, head);
            }
            error_response(&e, request_id, resource, head)
        }
    };
    if let Err(e) = crate::route::check_headers(&parts) {
        return fail(S3Error::Wire { code: e.code.into(), status: 400, message: e.message }, "").await;
    }
    let target = match target(&parts, &app.s3_domains) {
        Ok(t) => t,
        Err(e) => return fail(e, "").await,
    };
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let query: Vec<(String, String)> = sigv4::query_pairs(&raw_query)
        .into_iter()
        .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let op = ops::operation(&parts.method, &target, &query, &parts.headers);
    // Signature Version 2 (AWS refuses it in every region opened since 2014).
    let sigv2_header = header(&parts.headers, "authorization").is_some_and(|a| a.starts_with("AWS "));
    let sigv2_query = query.iter().any(|(k, _)| k == "AWSAccessKeyId") && query.iter().any(|(k, _)| k == "Signature");
    if sigv2_header || sigv2_query {
        return fail(
            S3Error::InvalidRequest("The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.".into()),
            op.name(),
        )
        .await;
    }
    // Authentication: S3 signs the payload as the x-amz-content-sha256 header states.
    let sr = match signed {
        Ok(sr) => sr,
        Err(e) => return fail(auth_error(&e), op.name()).await,
    };
    let presigned = sr.expires.is_some();
    let content_sha = header(&parts.headers, "x-amz-content-sha256");
    let payload = match (&content_sha, presigned) {
        (Some(v), _) => v.clone(),
        (None, true) => sigv4::UNSIGNED_PAYLOAD.to_string(),
        (None, false) => {
            return fail(
                S3Error::InvalidRequest("Missing required header for this request: x-amz-content-sha256".into()),
                op.name(),
            )
            .await;
        }
    };
    let streaming = match StreamingPayload::from_content_sha256(&payload) {
        Ok(s) => s,
        Err(e) => return fail(body::chunked_setup_error(e), op.name()).await,
    };
    let hex_hash = payload.len() == 64 && payload.bytes().all(|b| b.is_ascii_hexdigit());
    if streaming.is_none() && !hex_hash && payload != sigv4::UNSIGNED_PAYLOAD {
        return fail(
            S3Error::invalid_argument("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-..., or a valid sha256 value.", "x-amz-content-sha256", &payload),
            op.name(),
        )
        .await;
    }
    let auth = match authenticate(&app, &parts, sr, &payload) {
        Ok(a) => a,
        Err(e) => return fail(auth_error(&e), op.name()).await,
    };
    let check = match streaming {
        Some(kind) => {
            let trailer = kind.has_trailer();
            let mode = match (kind, &auth.key) {
                (StreamingPayload::UnsignedTrailer, _) => ChunkedMode::Unsigned,
                (_, Some(k)) => match ChunkedMode::signed(&auth.request, k.clone(), trailer) {
                    Ok(m) => m,
                    Err(e) => return fail(body::chunked_setup_error(e), op.name()).await,
                },
                (_, None) => ChunkedMode::SignedUnverified { trailer },
            };
            let declared: Vec<String> = header(&parts.headers, "x-amz-trailer")
                .map(|t| t.split(',').map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default();
            let Some(decoded) = header(&parts.headers, "x-amz-decoded-content-length").and_then(|v| v.parse::<u64>().ok()) else {
                return fail(S3Error::MissingContentLength, op.name()).await;
            };
            let decoded = Some(decoded);
            Check::Chunked(Box::new(ChunkedDecoder::new(mode, declared, decoded)))
        }
        None if hex_hash => Check::Sha256(Sha256::default(), payload.clone()),
        None => Check::None,
    };
    let mut caller = Caller::new(auth.principal, auth.request.access_key_id.clone(), auth.request.region.clone(), request_id.clone());
    caller.source_ip = Some(conn.peer.ip());
    caller.secure_transport = conn.tls;
    caller.user_agent = header(&parts.headers, "user-agent").unwrap_or_default().chars().take(256).collect();
    let host = header(&parts.headers, "host").unwrap_or_else(|| "localhost".into());
    let throttled = app.rate_limits.as_ref().and_then(|l| l.check(&caller.access_key_id, "s3", op.name()).err()).is_some();
    let mut req = Request { parts, target, query, caller, request_id: request_id.clone(), body: RequestBody::new(incoming, check), host };
    let result = if throttled {
        Err(S3Error::Wire { code: "SlowDown".into(), status: 503, message: "Please reduce your request rate.".into() })
    } else {
        ops::dispatch(&app, &mut req, &op).await
    };
    let principal = req.caller.principal.arn.clone();
    let resources = req.caller.resources().join(",");
    let result = if app.audit.is_some() {
        let message = result.as_ref().err().map(|e| e.message());
        let call = crate::audit::Call {
            service: "s3",
            op: op.name(),
            region: &req.caller.region,
            peer: peer.ip(),
            user_agent: &req.caller.user_agent,
            request_id: &request_id,
            caller: Some(&req.caller),
            claimed_access_key: None,
            request: audit_request(&req),
            response: serde_json::Value::Null,
            error: result.as_ref().err().map(|e| (e.code(), message.as_deref().unwrap_or(""))),
        };
        match crate::audit::record(&app, call).await {
            Ok(()) => result,
            Err(()) => Err(unrecorded()),
        }
    } else {
        result
    };
    match result {
        Ok(resp) => {
            log(op.name(), &principal, &resources, resp.status().as_u16(), None, &request_id, start, peer);
            resp
        }
        Err(e) => {
            if e.status() >= 500 {
                tracing::error!(request_id = %request_id, op = op.name(), error = %e, "internal error");
            }
            let resp = error_response(&e, &request_id, &resource, head);
            log(op.name(), &principal, &resources, resp.status().as_u16(), Some(e.code()), &request_id, start, peer);
            resp
        }
    }
}

/// The call's parameters as CloudTrail records S3 calls: bucket, key, host and the query's
/// subresources and options (never a header, a body or a signature).
fn audit_request(req: &Request) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    if let Some(b) = &req.target.bucket {
        m.insert("bucketName".into(), b.clone().into());
    }
    if let Some(k) = &req.target.key {
        m.insert("key".into(), k.clone().into());
    }
    m.insert("Host".into(), req.host.clone().into());
    for (k, v) in &req.query {
        if !k.to_ascii_lowercase().starts_with("x-amz-") {
            m.insert(k.clone(), v.clone().into());
        }
    }
    serde_json::Value::Object(m)
}

fn unrecorded() -> S3Error {
    S3Error::Wire { code: "InternalError".into(), status: 500, message: crate::audit::UNRECORDED.into() }
}

#[allow(clippy::too_many_arguments)]
fn log(op: &str, principal: &str, resource: &str, status: u16, error: Option<&str>, request_id: &str, start: Instant, peer: SocketAddr) {
    tracing::info!(
        target: "coffer::request",
        service = "s3",
        op,
        principal = %principal,
        resource = %resource,
        status,
        error = error.unwrap_or(""),
        latency_us = start.elapsed().as_micros() as u64,
        request_id,
        peer = %peer.ip(),
    );
}
