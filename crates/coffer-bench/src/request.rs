//! Building and SigV4-signing KMS (awsJson1.1) requests, the way an AWS SDK does: a fresh
//! `X-Amz-Date`, a body hash and a signature for every request. Only the derived signing key
//! is reused (per day), as the SDKs do.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use coffer_crypto::digest::{HmacKey, hex, sha256};
use coffer_server::sigv4;
use coffer_util::Timestamp;
use http_body_util::Full;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{HeaderMap, Method, Request};

pub const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const SERVICE: &str = "kms";

/// Credentials and endpoint: everything a request needs that does not change between requests.
#[derive(Clone)]
pub struct Target {
    pub host: HeaderValue,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

/// Signs requests for one connection; caches the signing key of the current day.
pub struct Signer {
    target: Target,
    key: Option<(String, HmacKey)>,
}

impl Signer {
    pub fn new(target: Target) -> Signer {
        Signer { target, key: None }
    }

    fn key(&mut self, day: &str) -> &HmacKey {
        if self.key.as_ref().is_none_or(|(d, _)| d != day) {
            let k = sigv4::derive_signing_key(self.target.secret_key.as_bytes(), day, &self.target.region, SERVICE);
            self.key = Some((day.to_owned(), k));
        }
        &self.key.as_ref().expect("just set").1
    }

    /// A signed `POST /` with `X-Amz-Target: TrentService.<op>`.
    pub fn request(&mut self, op: &'static str, body: Bytes) -> Request<Full<Bytes>> {
        let amz_date = Timestamp::wall().amz_date();
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(HOST, self.target.host.clone());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
        headers.insert("x-amz-target", HeaderValue::from_static(op));
        headers.insert("x-amz-date", HeaderValue::from_str(&amz_date).expect("amz date is ASCII"));
        let payload_hash = hex(&sha256(&body));
        let access_key = self.target.access_key.clone();
        let region = self.target.region.clone();
        let key = self.key(&amz_date[..8]);
        let auth =
            sigv4::authorization_header("POST", "/", "", &headers, &payload_hash, &access_key, key, &amz_date, &region, SERVICE);
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&auth).expect("authorization is ASCII"));
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = hyper::Uri::from_static("/");
        *req.headers_mut() = headers;
        req
    }
}

pub const CREATE_KEY: &str = "TrentService.CreateKey";
pub const ENCRYPT: &str = "TrentService.Encrypt";

/// `{"KeyId": "<id>", "Plaintext": "<base64 of 32 random bytes>"}`.
pub fn encrypt_body(key_id: &str) -> Bytes {
    let plaintext: [u8; 32] = coffer_crypto::random::bytes();
    let v = serde_json::json!({ "KeyId": key_id, "Plaintext": B64.encode(plaintext) });
    Bytes::from(serde_json::to_vec(&v).expect("JSON serialises"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_request_shape() {
        let mut s = Signer::new(Target {
            host: HeaderValue::from_static("127.0.0.1:4566"),
            access_key: "AKIDEXAMPLE".into(),
            secret_key: "secret".into(),
            region: "us-east-1".into(),
        });
        let body = encrypt_body("alias/x");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(B64.decode(v["Plaintext"].as_str().unwrap()).unwrap().len(), 32);
        let req = s.request(ENCRYPT, body.clone());
        let auth = req.headers()[AUTHORIZATION].to_str().unwrap();
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"), "{auth}");
        assert!(auth.contains("/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="));
        assert_eq!(req.headers()["x-amz-target"], ENCRYPT);
        assert_eq!(req.uri(), "/");

        // The server side accepts it with the right secret and rejects it with another.
        let sr = sigv4::parse_request(req.headers(), "").unwrap();
        sigv4::check_time(&sr, Timestamp::wall()).unwrap();
        let creq = sigv4::canonical_request(&sigv4::CanonicalParts {
            method: "POST",
            raw_path: "/",
            raw_query: "",
            service: &sr.service,
            headers: req.headers(),
            authority: None,
            signed_headers: &sr.signed_headers,
            payload_hash: &hex(&sha256(&body)),
            presigned: false,
        })
        .unwrap();
        let good = sigv4::derive_signing_key(b"secret", &sr.scope_date, &sr.region, &sr.service);
        assert!(sigv4::signature_matches(&sr, &good, &creq));
        let bad = sigv4::derive_signing_key(b"other", &sr.scope_date, &sr.region, &sr.service);
        assert!(!sigv4::signature_matches(&sr, &bad, &creq));
    }
}
