//! AWS Signature Version 4: canonicalisation, signing and verification.
//!
//! Why our own: verification (the server side) has no mature crate; aws-sigv4 only signs. The
//! canonical form is built here once and used both to verify requests and, in `coffer-bench` and
//! the tests, to sign them; the integration tests check it against aws-sigv4 and real SDKs.
//!
//! Both forms are supported: the `Authorization` header and the presigned query string
//! (`X-Amz-Algorithm`, `X-Amz-Credential`, ...). The signature is compared in constant time.
//! Derived signing keys (four HMACs per access key, day, region and service) are cached, so a
//! request costs two SHA-256 and one HMAC.

use std::collections::HashMap;
use std::sync::RwLock;

use coffer_crypto::digest::{HmacKey, ct_eq, hex, hmac_sha256, sha256, unhex};
use coffer_util::Timestamp;
use hyper::HeaderMap;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// How far a request's time may be from the server's (AWS: 15 minutes).
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// Why a request could not be authenticated. Each protocol words these its own way (error.rs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No Authorization header and no presigned query.
    Missing,
    /// The Authorization header or query is malformed.
    Incomplete(String),
    /// Unknown or inactive access key.
    UnknownAccessKey,
    /// The signature does not match.
    BadSignature,
    /// The request time is too far from now (message says which way).
    Skewed(String),
    /// A presigned URL past its expiry.
    Expired(String),
    /// Temporary credentials past their expiry.
    ExpiredToken,
}

/// The parsed signature parameters of a request, from either form.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    pub access_key_id: String,
    /// `YYYYMMDD` from the credential scope.
    pub scope_date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: Vec<u8>,
    pub amz_date: String,
    pub time: Timestamp,
    /// Presigned: validity in seconds.
    pub expires: Option<i64>,
    pub session_token: Option<String>,
}

impl SignedRequest {
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.scope_date, self.region, self.service)
    }
}

/// RFC 3986 percent-encoding as SigV4 requires: unreserved characters stay, everything else is
/// `%XX` (upper-case); `/` stays only when `keep_slash`.
pub fn uri_encode(bytes: &[u8], keep_slash: bool, out: &mut String) {
    const H: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(H[(b >> 4) as usize]));
            out.push(char::from(H[(b & 15) as usize]));
        }
    }
}

/// Percent-decoding (`+` stays a plus, as SigV4 clients encode spaces as `%20`).
pub fn percent_decode(s: &str) -> Vec<u8> {
    fn hexval(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hexval(b[i + 1]), hexval(b[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Splits a raw query string into decoded `(name, value)` pairs.
pub fn query_pairs(raw: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), Vec::new()),
        })
        .collect()
}

/// The canonical query string, optionally without `X-Amz-Signature` (presigned form).
pub fn canonical_query(raw: &str, drop_signature: bool) -> String {
    let mut pairs: Vec<(String, String)> = query_pairs(raw)
        .into_iter()
        .filter(|(k, _)| !(drop_signature && k == b"X-Amz-Signature"))
        .map(|(k, v)| {
            let (mut ek, mut ev) = (String::new(), String::new());
            uri_encode(&k, false, &mut ek);
            uri_encode(&v, false, &mut ev);
            (ek, ev)
        })
        .collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Removes `.` and `..` segments (RFC 3986 §5.2.4), as SigV4 does for every service but S3.
fn normalize_path(path: &str) -> String {
    let mut segs: Vec<&str> = Vec::new();
    for seg in path.split('/').skip(1) {
        match seg {
            "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let mut out = String::from("/");
    out.push_str(&segs.join("/"));
    if path.len() > 1 && (path.ends_with("/.") || path.ends_with("/..")) && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// The canonical URI. S3 encodes the decoded path once; every other service normalises the
/// path as sent and encodes it again.
pub fn canonical_uri(raw_path: &str, service: &str) -> String {
    let mut out = String::new();
    if raw_path.is_empty() {
        return "/".into();
    }
    if service == "s3" {
        uri_encode(&percent_decode(raw_path), true, &mut out);
    } else {
        uri_encode(normalize_path(raw_path).as_bytes(), true, &mut out);
    }
    out
}

fn canonical_header_value(v: &[u8]) -> String {
    let s = String::from_utf8_lossy(v);
    let mut out = String::with_capacity(s.len());
    for (i, word) in s.split_ascii_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// `name:value\n` for each signed header; `host` falls back to the URI authority (HTTP/2).
pub fn canonical_headers(headers: &HeaderMap, authority: Option<&str>, signed: &[String]) -> Result<String, AuthError> {
    let mut out = String::new();
    for name in signed {
        let values: Vec<String> = headers.get_all(name.as_str()).iter().map(|v| canonical_header_value(v.as_bytes())).collect();
        let value = if values.is_empty() {
            match (name.as_str(), authority) {
                ("host", Some(a)) => a.to_string(),
                _ => {
                    return Err(AuthError::Incomplete(format!(
                        "The request is signed with header '{name}' which is not present."
                    )));
                }
            }
        } else {
            values.join(",")
        };
        out.push_str(name);
        out.push(':');
        out.push_str(&value);
        out.push('\n');
    }
    Ok(out)
}

pub struct CanonicalParts<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    pub service: &'a str,
    pub headers: &'a HeaderMap,
    pub authority: Option<&'a str>,
    pub signed_headers: &'a [String],
    pub payload_hash: &'a str,
    pub presigned: bool,
}

pub fn canonical_request(p: &CanonicalParts<'_>) -> Result<String, AuthError> {
    let mut s = String::with_capacity(256);
    s.push_str(p.method);
    s.push('\n');
    s.push_str(&canonical_uri(p.raw_path, p.service));
    s.push('\n');
    s.push_str(&canonical_query(p.raw_query, p.presigned));
    s.push('\n');
    s.push_str(&canonical_headers(p.headers, p.authority, p.signed_headers)?);
    s.push('\n');
    s.push_str(&p.signed_headers.join(";"));
    s.push('\n');
    s.push_str(p.payload_hash);
    Ok(s)
}

pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", hex(&sha256(canonical_request.as_bytes())))
}

/// `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
pub fn derive_signing_key(secret: &[u8], date: &str, region: &str, service: &str) -> HmacKey {
    let mut k = Vec::with_capacity(4 + secret.len());
    k.extend_from_slice(b"AWS4");
    k.extend_from_slice(secret);
    let kd = hmac_sha256(&k, date.as_bytes());
    zeroize::Zeroize::zeroize(&mut k);
    let kr = hmac_sha256(&kd, region.as_bytes());
    let ks = hmac_sha256(&kr, service.as_bytes());
    let signing = hmac_sha256(&ks, b"aws4_request");
    HmacKey::new(&signing)
}

fn parse_credential(cred: &str) -> Result<(String, String, String, String), AuthError> {
    let parts: Vec<&str> = cred.split('/').collect();
    if parts.len() != 5 {
        return Err(AuthError::Incomplete(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{cred}'"
        )));
    }
    if parts[4] != "aws4_request" {
        return Err(AuthError::Incomplete(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
            parts[4]
        )));
    }
    if parts[0].is_empty() || parts[2].is_empty() || parts[3].is_empty() {
        return Err(AuthError::Incomplete(format!("Credential '{cred}' has an empty element.")));
    }
    Ok((parts[0].into(), parts[1].into(), parts[2].into(), parts[3].into()))
}

fn parse_signed_headers(s: &str) -> Result<Vec<String>, AuthError> {
    let list: Vec<String> = s.split(';').map(|h| h.trim().to_ascii_lowercase()).collect();
    if list.iter().any(|h| h.is_empty()) {
        return Err(AuthError::Incomplete(format!("SignedHeaders '{s}' is malformed.")));
    }
    if !list.iter().any(|h| h == "host") {
        return Err(AuthError::Incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    Ok(list)
}

fn parse_signature(s: &str) -> Result<Vec<u8>, AuthError> {
    match unhex(s) {
        Some(v) if v.len() == 32 => Ok(v),
        _ => Err(AuthError::BadSignature),
    }
}

/// Parses an RFC 7231 `Date` header (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn parse_http_date(s: &str) -> Option<Timestamp> {
    let parts: Vec<&str> = s.split_ascii_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let mon = MONTHS.iter().position(|m| *m == parts[2])? + 1;
    let amz = format!("{}{:02}{:02}T{}Z", parts[3], mon, parts[1].parse::<u32>().ok()?, parts[4].replace(':', ""));
    Timestamp::parse_amz_date(&amz)
}

/// Reads the signature parameters from the Authorization header or the query string.
pub fn parse_request(headers: &HeaderMap, raw_query: &str) -> Result<SignedRequest, AuthError> {
    if let Some(h) = headers.get(hyper::header::AUTHORIZATION) {
        let h = h.to_str().map_err(|_| AuthError::Incomplete("Authorization header is not ASCII.".into()))?;
        return parse_header_form(h, headers);
    }
    if raw_query.contains("X-Amz-Signature=") || raw_query.contains("X-Amz-Credential=") {
        return parse_query_form(raw_query);
    }
    Err(AuthError::Missing)
}

fn parse_header_form(h: &str, headers: &HeaderMap) -> Result<SignedRequest, AuthError> {
    let (alg, rest) = h.trim().split_once(' ').unwrap_or((h, ""));
    if alg != ALGORITHM {
        return Err(AuthError::Incomplete(format!("Unsupported AWS 'algorithm': '{alg}'")));
    }
    let (mut cred, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((k, v)) = part.split_once('=') else {
            return Err(AuthError::Incomplete(format!(
                "'{part}' not a valid key=value pair (missing equal-sign) in Authorization header: '{h}'."
            )));
        };
        match k.trim() {
            "Credential" => cred = Some(v.trim()),
            "SignedHeaders" => signed = Some(v.trim()),
            "Signature" => sig = Some(v.trim()),
            _ => {}
        }
    }
    let amz_date = headers.get("x-amz-date").and_then(|v| v.to_str().ok());
    let http_date = headers.get(hyper::header::DATE).and_then(|v| v.to_str().ok());
    let mut missing = String::new();
    if cred.is_none() {
        missing.push_str("Authorization header requires 'Credential' parameter. ");
    }
    if sig.is_none() {
        missing.push_str("Authorization header requires 'Signature' parameter. ");
    }
    if signed.is_none() {
        missing.push_str("Authorization header requires 'SignedHeaders' parameter. ");
    }
    if amz_date.is_none() && http_date.is_none() {
        missing.push_str("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
    }
    if !missing.is_empty() {
        return Err(AuthError::Incomplete(format!("{missing}Authorization={h}")));
    }
    let (akid, scope_date, region, service) = parse_credential(cred.expect("checked"))?;
    let (amz_date, time) = match amz_date {
        Some(d) => {
            let t = Timestamp::parse_amz_date(d)
                .ok_or_else(|| AuthError::Incomplete(format!("X-Amz-Date '{d}' is not in the form YYYYMMDD'T'HHMMSS'Z'.")))?;
            (d.to_string(), t)
        }
        None => {
            let d = http_date.expect("checked");
            let t = parse_http_date(d).ok_or_else(|| AuthError::Incomplete(format!("Date header '{d}' is malformed.")))?;
            (t.amz_date(), t)
        }
    };
    Ok(SignedRequest {
        access_key_id: akid,
        scope_date,
        region,
        service,
        signed_headers: parse_signed_headers(signed.expect("checked"))?,
        signature: parse_signature(sig.expect("checked"))?,
        amz_date,
        time,
        expires: None,
        session_token: headers.get("x-amz-security-token").and_then(|v| v.to_str().ok()).map(str::to_owned),
    })
}

fn parse_query_form(raw_query: &str) -> Result<SignedRequest, AuthError> {
    let pairs = query_pairs(raw_query);
    let get = |name: &str| -> Option<String> {
        pairs.iter().find(|(k, _)| k == name.as_bytes()).map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    let need = |name: &str| {
        get(name).ok_or_else(|| AuthError::Incomplete(format!("AWS query-string parameters must include '{name}'.")))
    };
    let alg = need("X-Amz-Algorithm")?;
    if alg != ALGORITHM {
        return Err(AuthError::Incomplete(format!("Unsupported AWS 'algorithm': '{alg}'")));
    }
    let (akid, scope_date, region, service) = parse_credential(&need("X-Amz-Credential")?)?;
    let amz_date = need("X-Amz-Date")?;
    let time = Timestamp::parse_amz_date(&amz_date)
        .ok_or_else(|| AuthError::Incomplete(format!("X-Amz-Date '{amz_date}' is malformed.")))?;
    let expires_s = need("X-Amz-Expires")?;
    let expires: i64 = expires_s
        .parse()
        .ok()
        .filter(|e| (1..=604_800).contains(e))
        .ok_or_else(|| AuthError::Incomplete(format!("X-Amz-Expires must be between 1 and 604800 seconds, got '{expires_s}'.")))?;
    Ok(SignedRequest {
        access_key_id: akid,
        scope_date,
        region,
        service,
        signed_headers: parse_signed_headers(&need("X-Amz-SignedHeaders")?)?,
        signature: parse_signature(&need("X-Amz-Signature")?)?,
        amz_date,
        time,
        expires: Some(expires),
        session_token: get("X-Amz-Security-Token"),
    })
}

/// Checks the request time: within 15 minutes of now, or (presigned) not yet expired.
pub fn check_time(sr: &SignedRequest, now: Timestamp) -> Result<(), AuthError> {
    if !sr.amz_date.starts_with(&sr.scope_date) {
        return Err(AuthError::Incomplete(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            sr.scope_date,
            &sr.amz_date[..8.min(sr.amz_date.len())],
            sr.amz_date
        )));
    }
    let t = sr.time.secs();
    let n = now.secs();
    if t > n + MAX_SKEW_SECS {
        return Err(AuthError::Skewed(format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            sr.amz_date,
            Timestamp::from_secs(n + MAX_SKEW_SECS).amz_date(),
            now.amz_date()
        )));
    }
    match sr.expires {
        Some(e) if n > t + e => Err(AuthError::Expired(format!(
            "Signature expired: {} is now earlier than {}",
            Timestamp::from_secs(t + e).amz_date(),
            now.amz_date()
        ))),
        Some(_) => Ok(()),
        None if t < n - MAX_SKEW_SECS => Err(AuthError::Skewed(format!(
            "Signature expired: {} is now earlier than {} ({} - 15 min.)",
            sr.amz_date,
            Timestamp::from_secs(n - MAX_SKEW_SECS).amz_date(),
            now.amz_date()
        ))),
        None => Ok(()),
    }
}

/// Computes the signature for a canonical request with a signing key.
pub fn signature(key: &HmacKey, amz_date: &str, scope: &str, canonical_request: &str) -> [u8; 32] {
    key.sign(string_to_sign(amz_date, scope, canonical_request).as_bytes())
}

/// Constant-time check of the signature a request carries.
pub fn signature_matches(sr: &SignedRequest, key: &HmacKey, canonical_request: &str) -> bool {
    let expected = signature(key, &sr.amz_date, &sr.scope(), canonical_request);
    ct_eq(&expected, &sr.signature)
}

/// Caches derived signing keys per (access key, day, region, service).
#[derive(Default)]
pub struct SigningKeyCache {
    keys: RwLock<HashMap<(String, String, String, String), HmacKey>>,
}

impl SigningKeyCache {
    const MAX: usize = 10_000;

    pub fn get(&self, sr: &SignedRequest, secret: &[u8]) -> HmacKey {
        let id = (sr.access_key_id.clone(), sr.scope_date.clone(), sr.region.clone(), sr.service.clone());
        if let Some(k) = self.keys.read().expect("lock").get(&id) {
            return k.clone();
        }
        let k = derive_signing_key(secret, &sr.scope_date, &sr.region, &sr.service);
        let mut w = self.keys.write().expect("lock");
        if w.len() >= Self::MAX {
            w.clear();
        }
        w.insert(id, k.clone());
        k
    }

    /// Forgets every key derived for an access key (it was deleted or deactivated).
    pub fn forget(&self, access_key_id: &str) {
        self.keys.write().expect("lock").retain(|k, _| k.0 != access_key_id);
    }
}

/// Signs a request in header form: returns the `Authorization` header value. Used by
/// coffer-bench and tests; `headers` must already hold `host` and `x-amz-date`.
#[allow(clippy::too_many_arguments)]
pub fn authorization_header(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    payload_hash: &str,
    access_key_id: &str,
    key: &HmacKey,
    amz_date: &str,
    region: &str,
    service: &str,
) -> String {
    let mut signed: Vec<String> = headers.keys().map(|k| k.as_str().to_string()).collect();
    signed.sort();
    signed.dedup();
    let parts = CanonicalParts {
        method,
        raw_path,
        raw_query,
        service,
        headers,
        authority: None,
        signed_headers: &signed,
        payload_hash,
        presigned: false,
    };
    let creq = canonical_request(&parts).expect("all signed headers are present");
    let scope = format!("{}/{region}/{service}/aws4_request", &amz_date[..8]);
    let sig = signature(key, amz_date, &scope, &creq);
    format!("{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={}, Signature={}", signed.join(";"), hex(&sig))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    /// AWS's SigV4 test suite, "get-vanilla" and "post-vanilla".
    #[test]
    fn aws_test_suite_vectors() {
        let key = derive_signing_key(SECRET, "20150830", "us-east-1", "service");
        let empty = hex(&sha256(b""));
        for (method, query, want) in [
            ("GET", "", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
            ("POST", "", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
            ("GET", "Param2=value2&Param1=value1", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
        ] {
            let h = headers(&[("host", "example.amazonaws.com"), ("x-amz-date", "20150830T123600Z")]);
            let auth = authorization_header(method, "/", query, &h, &empty, "AKIDEXAMPLE", &key, "20150830T123600Z", "us-east-1", "service");
            assert!(auth.ends_with(&format!("Signature={want}")), "{method} {query}: {auth}");
            // and it verifies
            let mut h2 = h.clone();
            h2.insert("authorization", HeaderValue::from_str(&auth).unwrap());
            let sr = parse_request(&h2, query).unwrap();
            let creq = canonical_request(&CanonicalParts {
                method,
                raw_path: "/",
                raw_query: query,
                service: &sr.service,
                headers: &h2,
                authority: None,
                signed_headers: &sr.signed_headers,
                payload_hash: &empty,
                presigned: false,
            })
            .unwrap();
            assert!(signature_matches(&sr, &key, &creq));
            let wrong = derive_signing_key(b"other", "20150830", "us-east-1", "service");
            assert!(!signature_matches(&sr, &wrong, &creq));
        }
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_query("b=2&a=1&a=0&c", false), "a=0&a=1&b=2&c=");
        assert_eq!(canonical_query("X-Amz-Signature=ab&k=a%20b+c", true), "k=a%20b%2Bc");
        assert_eq!(canonical_uri("/a/./b/../c", "kms"), "/a/c");
        assert_eq!(canonical_uri("/a%20b", "kms"), "/a%2520b");
        assert_eq!(canonical_uri("/bucket/a%20b", "s3"), "/bucket/a%20b");
        assert_eq!(canonical_uri("", "kms"), "/");
        assert_eq!(canonical_header_value(b"  a   b  c "), "a b c");
        assert_eq!(percent_decode("%zz%41%4"), b"%zzA%4");
    }

    #[test]
    fn header_parse_errors() {
        let h = headers(&[("authorization", "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/kms/aws4_request, Signature=00")]);
        match parse_request(&h, "").unwrap_err() {
            AuthError::Incomplete(m) => {
                assert!(m.contains("requires 'SignedHeaders'") && m.contains("'X-Amz-Date' or a 'Date'"), "{m}")
            }
            e => panic!("{e:?}"),
        }
        let h = headers(&[("authorization", "AWS4-HMAC-SHA1 Credential=x"), ("x-amz-date", "20150830T123600Z")]);
        assert!(matches!(parse_request(&h, ""), Err(AuthError::Incomplete(m)) if m.contains("Unsupported")));
        assert_eq!(parse_request(&HeaderMap::new(), "").unwrap_err(), AuthError::Missing);
        let h = headers(&[
            ("authorization", "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/kms/aws4_request, SignedHeaders=x-amz-date, Signature=00"),
            ("x-amz-date", "20150830T123600Z"),
        ]);
        assert!(matches!(parse_request(&h, ""), Err(AuthError::Incomplete(m)) if m.contains("'Host'")));
    }

    #[test]
    fn time_window() {
        let h = headers(&[
            ("authorization", &format!("AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/kms/aws4_request, SignedHeaders=host, Signature={}", "0".repeat(64))),
            ("x-amz-date", "20150830T123600Z"),
        ]);
        let sr = parse_request(&h, "").unwrap();
        let t = sr.time;
        assert!(check_time(&sr, t.plus_secs(899)).is_ok());
        match check_time(&sr, t.plus_secs(901)).unwrap_err() {
            AuthError::Skewed(m) => assert_eq!(m, "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z (20150830T125101Z - 15 min.)"),
            e => panic!("{e:?}"),
        }
        assert!(matches!(check_time(&sr, t.plus_secs(-901)), Err(AuthError::Skewed(m)) if m.starts_with("Signature not yet current")));
        let q = format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20150830%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature={}",
            "0".repeat(64)
        );
        let sr = parse_request(&HeaderMap::new(), &q).unwrap();
        assert_eq!(sr.service, "s3");
        assert!(check_time(&sr, t.plus_secs(60)).is_ok());
        assert!(matches!(check_time(&sr, t.plus_secs(61)), Err(AuthError::Expired(_))));
    }

    #[test]
    fn http_date() {
        assert_eq!(parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT").unwrap().amz_date(), "20150830T123600Z");
        assert!(parse_http_date("garbage").is_none());
    }
}
