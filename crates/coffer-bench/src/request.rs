//! Building and SigV4-signing requests the way an AWS SDK does: a fresh `X-Amz-Date`, a
//! payload hash and a signature for every request. Only the derived signing key is reused (per
//! day and service), as the SDKs do.
//!
//! KMS and Parameter Store speak awsJson1.1 (`POST /` with `X-Amz-Target`), IAM the query
//! protocol (a form body), S3 rest-xml (method and path; its payload hash is sent in
//! `x-amz-content-sha256`, here always `UNSIGNED-PAYLOAD` so that the client does not hash large
//! bodies).

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
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Credentials and endpoint: everything a request needs that does not change between requests.
#[derive(Clone)]
pub struct Target {
    pub host: HeaderValue,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

impl Target {
    /// The same endpoint with other credentials.
    pub fn with_credentials(&self, access_key: &str, secret_key: &str) -> Target {
        Target { host: self.host.clone(), access_key: access_key.into(), secret_key: secret_key.into(), region: self.region.clone() }
    }
}

/// Signs requests for one connection; caches the signing key of the current day and service.
pub struct Signer {
    target: Target,
    key: Option<(String, &'static str, HmacKey)>,
}

impl Signer {
    pub fn new(target: Target) -> Signer {
        Signer { target, key: None }
    }

    fn key(&mut self, day: &str, service: &'static str) -> &HmacKey {
        if self.key.as_ref().is_none_or(|(d, s, _)| d != day || *s != service) {
            let k = sigv4::derive_signing_key(self.target.secret_key.as_bytes(), day, &self.target.region, service);
            self.key = Some((day.to_owned(), service, k));
        }
        &self.key.as_ref().expect("just set").2
    }

    /// Adds `host`, `x-amz-date` and `authorization` to `headers`; every header present is signed.
    pub fn sign(&mut self, method: &str, path: &str, query: &str, service: &'static str, headers: &mut HeaderMap, payload_hash: &str) {
        let amz_date = Timestamp::wall().amz_date();
        headers.insert(HOST, self.target.host.clone());
        headers.insert("x-amz-date", HeaderValue::from_str(&amz_date).expect("amz date is ASCII"));
        let access_key = self.target.access_key.clone();
        let region = self.target.region.clone();
        let key = self.key(&amz_date[..8], service);
        let auth =
            sigv4::authorization_header(method, path, query, headers, payload_hash, &access_key, key, &amz_date, &region, service);
        headers.insert(AUTHORIZATION, HeaderValue::from_str(&auth).expect("authorization is ASCII"));
    }

    fn post(&mut self, service: &'static str, path: &'static str, mut headers: HeaderMap, body: Bytes) -> Request<Full<Bytes>> {
        let payload_hash = hex(&sha256(&body));
        self.sign("POST", path, "", service, &mut headers, &payload_hash);
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = hyper::Uri::from_static(path);
        *req.headers_mut() = headers;
        req
    }

    /// A signed awsJson1.1 `POST /` with `X-Amz-Target: <target>` (`TrentService.Encrypt`,
    /// `AmazonSSM.GetParameter`, ...) to `service` (`kms`, `ssm`).
    pub fn json(&mut self, service: &'static str, target: &'static str, body: Bytes) -> Request<Full<Bytes>> {
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
        headers.insert("x-amz-target", HeaderValue::from_static(target));
        self.post(service, "/", headers, body)
    }

    /// A signed KMS request, `X-Amz-Target: TrentService.<op>`.
    pub fn request(&mut self, op: &'static str, body: Bytes) -> Request<Full<Bytes>> {
        self.json("kms", op, body)
    }

    /// A signed query-protocol request (IAM): `POST /` with a form body built from `params`.
    pub fn query(&mut self, service: &'static str, params: &[(&str, &str)]) -> Request<Full<Bytes>> {
        let mut body = String::new();
        for (i, (k, v)) in params.iter().enumerate() {
            if i > 0 {
                body.push('&');
            }
            sigv4::uri_encode(k.as_bytes(), false, &mut body);
            body.push('=');
            sigv4::uri_encode(v.as_bytes(), false, &mut body);
        }
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(FORM_CONTENT_TYPE));
        self.post(service, "/", headers, Bytes::from(body))
    }

    /// A signed `POST <path>` with a JSON body (Coffer's admin API).
    pub fn admin(&mut self, path: &'static str, body: Bytes) -> Request<Full<Bytes>> {
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.post("coffer", path, headers, body)
    }

    /// Signs an S3 request in place (path-style, no query), payload `UNSIGNED-PAYLOAD`: the
    /// body is not hashed by the client (and so not covered by the signature).
    pub fn s3<B>(&mut self, req: &mut Request<B>) {
        let method = req.method().as_str().to_owned();
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or("").to_owned();
        let headers = req.headers_mut();
        headers.insert("x-amz-content-sha256", HeaderValue::from_static(sigv4::UNSIGNED_PAYLOAD));
        self.sign(&method, &path, &query, "s3", headers, sigv4::UNSIGNED_PAYLOAD);
    }
}

pub const CREATE_KEY: &str = "TrentService.CreateKey";
pub const ENCRYPT: &str = "TrentService.Encrypt";
pub const SIGN: &str = "TrentService.Sign";
pub const GENERATE_MAC: &str = "TrentService.GenerateMac";
pub const GET_PARAMETER: &str = "AmazonSSM.GetParameter";
pub const PUT_PARAMETER: &str = "AmazonSSM.PutParameter";
pub const DECRYPT: &str = "TrentService.Decrypt";
pub const GENERATE_DATA_KEY: &str = "TrentService.GenerateDataKey";

/// `{"KeyId": "<id>", "Plaintext": "<base64 of 32 random bytes>"}`.
pub fn encrypt_body(key_id: &str) -> Bytes {
    let plaintext: [u8; 32] = coffer_crypto::random::bytes();
    let v = serde_json::json!({ "KeyId": key_id, "Plaintext": B64.encode(plaintext) });
    Bytes::from(serde_json::to_vec(&v).expect("JSON serialises"))
}

/// Sign of a 32-byte random message, `MessageType: RAW`.
pub fn sign_body(key_id: &str, algorithm: &str) -> Bytes {
    let message: [u8; 32] = coffer_crypto::random::bytes();
    let v = serde_json::json!({
        "KeyId": key_id,
        "Message": B64.encode(message),
        "MessageType": "RAW",
        "SigningAlgorithm": algorithm,
    });
    Bytes::from(serde_json::to_vec(&v).expect("JSON serialises"))
}

/// GenerateMac of a 32-byte random message with HMAC_SHA_256.
pub fn mac_body(key_id: &str) -> Bytes {
    let message: [u8; 32] = coffer_crypto::random::bytes();
    let v = serde_json::json!({ "KeyId": key_id, "Message": B64.encode(message), "MacAlgorithm": "HMAC_SHA_256" });
    Bytes::from(serde_json::to_vec(&v).expect("JSON serialises"))
}

/// GetParameter with decryption.
pub fn get_parameter_body(name: &str) -> Bytes {
    let v = serde_json::json!({ "Name": name, "WithDecryption": true });
    Bytes::from(serde_json::to_vec(&v).expect("JSON serialises"))
}

/// PutParameter of a SecureString under `key_id`, overwriting: a 48-character value that
/// changes with every request.
pub fn put_parameter_body(name: &str, key_id: &str) -> Bytes {
    let nonce: [u8; 12] = coffer_crypto::random::bytes();
    let v = serde_json::json!({
        "Name": name,
        "Value": format!("coffer-bench-written-{}", hex(&nonce)),
        "Type": "SecureString",
        "KeyId": key_id,
        "Overwrite": true,
    });
    Bytes::from(serde_json::to_vec(&v).expect("JSON serialises"))
}

/// Decrypt of a ciphertext (base64, as Encrypt returned it).
pub fn decrypt_body(ciphertext_b64: &str) -> Bytes {
    let v = serde_json::json!({ "CiphertextBlob": ciphertext_b64 });
    Bytes::from(serde_json::to_vec(&v).expect("JSON serialises"))
}

/// GenerateDataKey of an AES-256 data key.
pub fn data_key_body(key_id: &str) -> Bytes {
    let v = serde_json::json!({ "KeyId": key_id, "KeySpec": "AES_256" });
    Bytes::from(serde_json::to_vec(&v).expect("JSON serialises"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Target {
        Target {
            host: HeaderValue::from_static("127.0.0.1:4566"),
            access_key: "AKIDEXAMPLE".into(),
            secret_key: "secret".into(),
            region: "us-east-1".into(),
        }
    }

    /// Whether the server side accepts a request signed with `secret`.
    fn verifies<B>(req: &Request<B>, payload_hash: &str, secret: &[u8]) -> bool {
        let query = req.uri().query().unwrap_or("");
        let sr = sigv4::parse_request(req.headers(), query).unwrap();
        sigv4::check_time(&sr, Timestamp::wall()).unwrap();
        let creq = sigv4::canonical_request(&sigv4::CanonicalParts {
            method: req.method().as_str(),
            raw_path: req.uri().path(),
            raw_query: query,
            service: &sr.service,
            headers: req.headers(),
            authority: None,
            signed_headers: &sr.signed_headers,
            payload_hash,
            presigned: false,
        })
        .unwrap();
        let key = sigv4::derive_signing_key(secret, &sr.scope_date, &sr.region, &sr.service);
        sigv4::signature_matches(&sr, &key, &creq)
    }

    #[test]
    fn signed_request_shape() {
        let mut s = Signer::new(target());
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
        let hash = hex(&sha256(&body));
        assert!(verifies(&req, &hash, b"secret"));
        assert!(!verifies(&req, &hash, b"other"));
    }

    #[test]
    fn services_and_protocols() {
        let mut s = Signer::new(target());
        let req = s.json("ssm", GET_PARAMETER, get_parameter_body("/a/b"));
        let auth = req.headers()[AUTHORIZATION].to_str().unwrap().to_owned();
        assert!(auth.contains("/us-east-1/ssm/aws4_request"), "{auth}");
        // The cached key follows the service.
        let req2 = s.request(ENCRYPT, encrypt_body("k"));
        assert!(req2.headers()[AUTHORIZATION].to_str().unwrap().contains("/kms/aws4_request"));

        let req = s.query("iam", &[("Action", "PutUserPolicy"), ("PolicyDocument", "{\"a\": [1]}")]);
        let body = req.body().clone();
        let hash = {
            use http_body_util::BodyExt;
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let b = rt.block_on(body.collect()).unwrap().to_bytes();
            assert_eq!(&b[..], b"Action=PutUserPolicy&PolicyDocument=%7B%22a%22%3A%20%5B1%5D%7D");
            hex(&sha256(&b))
        };
        assert!(verifies(&req, &hash, b"secret"));

        let mut put = Request::builder().method("PUT").uri("/bucket/some/key").body(()).unwrap();
        put.headers_mut().insert("x-amz-server-side-encryption", HeaderValue::from_static("AES256"));
        s.s3(&mut put);
        let auth = put.headers()[AUTHORIZATION].to_str().unwrap();
        assert!(auth.contains("/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-server-side-encryption,"), "{auth}");
        assert!(verifies(&put, sigv4::UNSIGNED_PAYLOAD, b"secret"));
    }
}
