//! Target `sigv4`: SigV4 parsing and canonicalisation (coffer-server `sigv4`), as the server runs
//! them on every request before anything is authenticated.
//!
//! Input format: an HTTP request head as text,
//!
//! ```text
//! <METHOD> <path>[?<query>]
//! <name>: <value>          any number; `:authority: <host>` sets the URI authority (HTTP/2)
//! ```
//!
//! (LF or CRLF line ends; header values may be any bytes `HeaderValue` accepts; invalid header
//! lines are skipped, as hyper would have refused them.)
//!
//! Checks: nothing panics; `uri_encode` output is plain ASCII and `percent_decode` inverts it;
//! a parsed request has a 32-byte signature and signs `host`; `check_time` at the request's own
//! time fails exactly when the scope date is not the request date; when the canonical request
//! can be built, signing the same request (`authorization_header`) and parsing that header back
//! verifies, and verifies with no other key.

use coffer_crypto::digest::sha256;
use coffer_server::sigv4::{
    self, CanonicalParts, UNSIGNED_PAYLOAD, canonical_query, canonical_request, canonical_uri, check_time,
    derive_signing_key, parse_request, percent_decode, query_pairs, signature_matches, uri_encode,
};
use coffer_util::Timestamp;
use hyper::HeaderMap;
use hyper::header::{HeaderName, HeaderValue};

/// A request head as the target reads it.
pub struct Head {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub authority: Option<String>,
}

pub fn parse_head(data: &[u8]) -> Head {
    let mut lines = data.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = String::from_utf8_lossy(lines.next().unwrap_or(b"")).into_owned();
    let (method, target) = first.split_once(' ').unwrap_or((first.as_str(), "/"));
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut head = Head {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers: HeaderMap::new(),
        authority: None,
    };
    for line in lines {
        // The name ends at the first ':' after the first byte (so `:authority` works).
        let Some(colon) = line.iter().skip(1).position(|&b| b == b':').map(|i| i + 1) else { continue };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if name == b":authority" {
            head.authority = Some(String::from_utf8_lossy(value).into_owned());
            continue;
        }
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            head.headers.append(n, v);
        }
    }
    head
}

fn check_encoding(bytes: &[u8], keep_slash: bool) {
    let mut enc = String::new();
    uri_encode(bytes, keep_slash, &mut enc);
    assert!(enc.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b) || (keep_slash && b == b'/')));
    assert_eq!(percent_decode(&enc), bytes, "percent_decode does not invert uri_encode");
}

/// A credential scope element the server would accept (route.rs checks regions the same way).
fn plain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub fn run(data: &[u8]) {
    let head = parse_head(data);
    let (path, query) = (head.path.as_str(), head.query.as_str());

    // Building blocks, on everything.
    let _ = percent_decode(query);
    for (k, v) in query_pairs(query) {
        check_encoding(&k, false);
        check_encoding(&v, false);
    }
    check_encoding(path.as_bytes(), true);
    let _ = (canonical_query(query, true), canonical_query(query, false));
    for service in ["s3", "kms"] {
        let uri = canonical_uri(path, service);
        assert!(uri.starts_with('/') || (service == "s3" && !path.is_empty()), "canonical uri {uri:?} of {path:?}");
    }
    for name in ["date", "if-modified-since", "x-amz-date"] {
        if let Some(v) = head.headers.get(name).and_then(|v| v.to_str().ok()) {
            let _ = (Timestamp::parse_http_date(v), Timestamp::parse_amz_date(v), Timestamp::parse_iso8601(v));
        }
    }

    let Ok(sr) = parse_request(&head.headers, query) else { return };
    assert_eq!(sr.signature.len(), 32);
    assert!(sr.signed_headers.iter().any(|h| h == "host"));
    assert!(sr.expires.is_none_or(|e| (1..=604_800).contains(&e)));
    let _ = sr.scope();
    let _ = check_time(&sr, Timestamp::from_secs(1_795_953_600));
    let _ = check_time(&sr, Timestamp::wall());
    assert_eq!(
        check_time(&sr, sr.time).is_ok(),
        sr.amz_date.starts_with(&sr.scope_date),
        "check_time at the request's own time"
    );

    let payload_hash = head
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(UNSIGNED_PAYLOAD)
        .to_string();
    let parts = CanonicalParts {
        method: &head.method,
        raw_path: path,
        raw_query: query,
        service: &sr.service,
        headers: &head.headers,
        authority: head.authority.as_deref(),
        signed_headers: &sr.signed_headers,
        payload_hash: &payload_hash,
        presigned: sr.expires.is_some(),
    };
    let Ok(creq) = canonical_request(&parts) else { return };
    let key = derive_signing_key(b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &sr.scope_date, &sr.region, &sr.service);
    let _ = signature_matches(&sr, &key, &creq);

    // Round trip: sign this request in header form, parse the header back, verify.
    if !(plain(&sr.region) && plain(&sr.service) && sr.amz_date.len() == 16) {
        return;
    }
    let mut headers = head.headers.clone();
    headers.remove(hyper::header::AUTHORIZATION);
    headers.remove(hyper::header::DATE);
    headers.insert("x-amz-date", HeaderValue::from_str(&sr.amz_date).expect("amz date is ASCII"));
    if !headers.contains_key(hyper::header::HOST) {
        headers.insert(hyper::header::HOST, HeaderValue::from_static("example.amazonaws.com"));
    }
    let auth = sigv4::authorization_header(
        &head.method,
        path,
        query,
        &headers,
        &payload_hash,
        "AKIDEXAMPLE",
        &key,
        &sr.amz_date,
        &sr.region,
        &sr.service,
    );
    headers.insert(hyper::header::AUTHORIZATION, HeaderValue::from_str(&auth).expect("header is ASCII"));
    let back = parse_request(&headers, query).expect("own Authorization header parses");
    assert_eq!((back.region.as_str(), back.service.as_str()), (sr.region.as_str(), sr.service.as_str()));
    let creq = canonical_request(&CanonicalParts {
        method: &head.method,
        raw_path: path,
        raw_query: query,
        service: &back.service,
        headers: &headers,
        authority: None,
        signed_headers: &back.signed_headers,
        payload_hash: &payload_hash,
        presigned: false,
    })
    .expect("every signed header is present");
    assert!(signature_matches(&back, &key, &creq), "own signature does not verify: {auth}");
    let other = derive_signing_key(&sha256(data), &back.scope_date, &back.region, &back.service);
    assert!(!signature_matches(&back, &other, &creq), "verifies under another key");
}
