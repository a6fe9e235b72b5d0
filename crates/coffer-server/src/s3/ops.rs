//! S3 operations on the wire: which operation a request is, its inputs from path, query,
//! headers and XML, and its response headers and XML.

use coffer_crypto::SecretBytes;
use coffer_crypto::digest::{hex, sha256};
use coffer_s3::S3Error;
use coffer_s3::model::*;
use coffer_s3::records::{EncryptionConfig, StoredHeaders};
use coffer_util::Timestamp;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Method, Response, StatusCode};

use super::xml::{Node, Xml, parse};
use super::{ChannelBody, Request, ResponseBody, Target, empty, full, header};
use crate::App;

/// Small request documents (XML configurations, DeleteObjects, policies) are read whole, up to this.
const MAX_DOC: usize = 2 << 20;

/// The operations Coffer serves, as named in the S3 API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    ListBuckets,
    CreateBucket,
    HeadBucket,
    DeleteBucket,
    GetBucketLocation,
    ListObjects,
    ListObjectsV2,
    GetBucketEncryption,
    PutBucketEncryption,
    DeleteBucketEncryption,
    GetBucketPolicy,
    PutBucketPolicy,
    DeleteBucketPolicy,
    GetBucketVersioning,
    ListMultipartUploads,
    DeleteObjects,
    PutObject,
    CopyObject,
    UploadPart,
    UploadPartCopy,
    GetObject,
    HeadObject,
    DeleteObject,
    CreateMultipartUpload,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    /// Recognised but not implemented (the name), or not an S3 operation at all.
    Unsupported(&'static str),
}

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::ListBuckets => "ListBuckets",
            Op::CreateBucket => "CreateBucket",
            Op::HeadBucket => "HeadBucket",
            Op::DeleteBucket => "DeleteBucket",
            Op::GetBucketLocation => "GetBucketLocation",
            Op::ListObjects => "ListObjects",
            Op::ListObjectsV2 => "ListObjectsV2",
            Op::GetBucketEncryption => "GetBucketEncryption",
            Op::PutBucketEncryption => "PutBucketEncryption",
            Op::DeleteBucketEncryption => "DeleteBucketEncryption",
            Op::GetBucketPolicy => "GetBucketPolicy",
            Op::PutBucketPolicy => "PutBucketPolicy",
            Op::DeleteBucketPolicy => "DeleteBucketPolicy",
            Op::GetBucketVersioning => "GetBucketVersioning",
            Op::ListMultipartUploads => "ListMultipartUploads",
            Op::DeleteObjects => "DeleteObjects",
            Op::PutObject => "PutObject",
            Op::CopyObject => "CopyObject",
            Op::UploadPart => "UploadPart",
            Op::UploadPartCopy => "UploadPartCopy",
            Op::GetObject => "GetObject",
            Op::HeadObject => "HeadObject",
            Op::DeleteObject => "DeleteObject",
            Op::CreateMultipartUpload => "CreateMultipartUpload",
            Op::CompleteMultipartUpload => "CompleteMultipartUpload",
            Op::AbortMultipartUpload => "AbortMultipartUpload",
            Op::ListParts => "ListParts",
            Op::Unsupported(n) => n,
        }
    }
}

/// Every query parameter that selects an S3 operation (from the S3 API model), so that a
/// request for an operation Coffer does not implement is refused as such — never mistaken for a
/// plain bucket or object request (a PutBucketVersioning must not become a CreateBucket).
const SUBRESOURCES: &[&str] = &[
    "abac", "accelerate", "acl", "analytics", "attributes", "cors", "delete", "encryption", "intelligent-tiering",
    "inventory", "legal-hold", "lifecycle", "location", "logging", "metadataConfiguration", "metadataInventoryTable",
    "metadataJournalTable", "metadataTable", "metrics", "notification", "object-lock", "ownershipControls", "policy",
    "policyStatus", "publicAccessBlock", "renameObject", "replication", "requestPayment", "restore", "retention",
    "select", "select-type", "session", "tagging", "torrent", "uploads", "uploadId", "versioning", "versions", "website",
];

pub(crate) fn operation(method: &Method, t: &Target, query: &[(String, String)], headers: &HeaderMap) -> Op {
    let has = |n: &str| query.iter().any(|(k, _)| k == n);
    let sub: Vec<&str> = SUBRESOURCES.iter().copied().filter(|s| has(s)).collect();
    let only = |name: &str| sub.len() == 1 && sub[0] == name;
    let m = method.clone();
    match (&t.bucket, &t.key) {
        (None, _) => match m {
            Method::GET if sub.is_empty() => Op::ListBuckets,
            _ => Op::Unsupported("Unknown"),
        },
        (Some(_), None) => match (m, sub.as_slice()) {
            (Method::GET, ["encryption"]) => Op::GetBucketEncryption,
            (Method::PUT, ["encryption"]) => Op::PutBucketEncryption,
            (Method::DELETE, ["encryption"]) => Op::DeleteBucketEncryption,
            (Method::GET, ["policy"]) => Op::GetBucketPolicy,
            (Method::PUT, ["policy"]) => Op::PutBucketPolicy,
            (Method::DELETE, ["policy"]) => Op::DeleteBucketPolicy,
            (Method::GET, ["location"]) => Op::GetBucketLocation,
            (Method::GET, ["versioning"]) => Op::GetBucketVersioning,
            (Method::GET, ["uploads"]) => Op::ListMultipartUploads,
            (Method::POST, ["delete"]) => Op::DeleteObjects,
            (Method::PUT, []) => Op::CreateBucket,
            (Method::HEAD, []) => Op::HeadBucket,
            (Method::DELETE, []) => Op::DeleteBucket,
            (Method::GET, []) if query.iter().any(|(k, v)| k == "list-type" && v == "2") => Op::ListObjectsV2,
            (Method::GET, []) => Op::ListObjects,
            (_, [name, ..]) => Op::Unsupported(subresource_name(name)),
            _ => Op::Unsupported("Unknown"),
        },
        (Some(_), Some(_)) => {
            let copy = headers.contains_key("x-amz-copy-source");
            match m {
                Method::PUT if only("uploadId") => {
                    if copy {
                        Op::UploadPartCopy
                    } else {
                        Op::UploadPart
                    }
                }
                Method::PUT if sub.is_empty() && copy => Op::CopyObject,
                Method::PUT if sub.is_empty() => Op::PutObject,
                Method::GET if only("uploadId") => Op::ListParts,
                Method::GET if sub.is_empty() => Op::GetObject,
                Method::HEAD if sub.is_empty() => Op::HeadObject,
                Method::DELETE if only("uploadId") => Op::AbortMultipartUpload,
                Method::DELETE if sub.is_empty() => Op::DeleteObject,
                Method::POST if only("uploads") => Op::CreateMultipartUpload,
                Method::POST if only("uploadId") => Op::CompleteMultipartUpload,
                _ => Op::Unsupported(sub.first().map(|n| subresource_name(n)).unwrap_or("Unknown")),
            }
        }
    }
}

/// A name for the log and the error message of an unimplemented subresource.
fn subresource_name(q: &str) -> &'static str {
    SUBRESOURCES.iter().find(|s| **s == q).copied().unwrap_or("Unknown")
}

fn ok() -> hyper::http::response::Builder {
    Response::builder().status(StatusCode::OK)
}

fn xml_response(req: &Request, doc: String) -> Response<ResponseBody> {
    base(req, ok()).header("content-type", "application/xml").body(full(doc)).expect("valid response")
}

fn base(req: &Request, b: hyper::http::response::Builder) -> hyper::http::response::Builder {
    b.header("x-amz-request-id", req.request_id.as_str()).header("x-amz-id-2", req.request_id.as_str())
}

fn bucket(req: &Request) -> String {
    req.target.bucket.clone().unwrap_or_default()
}

fn key(req: &Request) -> String {
    req.target.key.clone().unwrap_or_default()
}

fn iso(ms: i64) -> String {
    Timestamp(ms).iso8601()
}

fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// The canonical user id Coffer reports for an account.
fn owner_id(account: &str) -> String {
    hex(&sha256(format!("coffer-canonical-user:{account}").as_bytes()))
}

fn int(req: &Request, name: &str) -> Result<Option<i64>, S3Error> {
    match req.q(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| S3Error::invalid_argument(format!("Provided {name} not an integer or within integer range"), name, v)),
    }
}

fn customer(h: &HeaderMap, prefix: &str) -> CustomerHeaders {
    CustomerHeaders {
        algorithm: header(h, &format!("{prefix}server-side-encryption-customer-algorithm")),
        key: h.get(format!("{prefix}server-side-encryption-customer-key")).map(|v| SecretBytes::new(v.as_bytes().trim_ascii().to_vec())),
        key_md5: header(h, &format!("{prefix}server-side-encryption-customer-key-md5")),
    }
}

fn sse_headers(h: &HeaderMap) -> SseHeaders {
    SseHeaders {
        algorithm: header(h, "x-amz-server-side-encryption"),
        kms_key_id: header(h, "x-amz-server-side-encryption-aws-kms-key-id"),
        kms_context: header(h, "x-amz-server-side-encryption-context"),
        bucket_key_enabled: header(h, "x-amz-server-side-encryption-bucket-key-enabled"),
        customer: customer(h, "x-amz-"),
    }
}

fn stored_headers(h: &HeaderMap) -> StoredHeaders {
    StoredHeaders {
        content_type: header(h, "content-type"),
        cache_control: header(h, "cache-control"),
        content_disposition: header(h, "content-disposition"),
        content_encoding: header(h, "content-encoding")
            .map(|v| v.split(',').map(str::trim).filter(|e| !e.eq_ignore_ascii_case("aws-chunked")).collect::<Vec<_>>().join(","))
            .filter(|v| !v.is_empty()),
        content_language: header(h, "content-language"),
        expires: header(h, "expires"),
        website_redirect: header(h, "x-amz-website-redirect-location"),
    }
}

fn user_metadata(h: &HeaderMap) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = h
        .iter()
        .filter_map(|(k, v)| {
            k.as_str().strip_prefix("x-amz-meta-").map(|n| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).trim().to_string()))
        })
        .collect();
    out.sort();
    out
}

fn checksum_headers(h: &HeaderMap) -> ChecksumHeaders {
    let values = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256", "sha512", "md5", "xxhash64", "xxhash3", "xxhash128"]
        .iter()
        .filter_map(|a| header(h, &format!("x-amz-checksum-{a}")).map(|v| (a.to_ascii_uppercase(), v)))
        .collect();
    ChecksumHeaders {
        algorithm: header(h, "x-amz-sdk-checksum-algorithm").or_else(|| header(h, "x-amz-checksum-algorithm")),
        values,
        trailer: header(h, "x-amz-trailer"),
        checksum_type: header(h, "x-amz-checksum-type"),
    }
}

fn content_length(req: &Request) -> Option<u64> {
    req.h("x-amz-decoded-content-length").or_else(|| req.h("content-length")).and_then(|v| v.parse().ok())
}

fn conditions(h: &HeaderMap, prefix: &str) -> Conditions {
    Conditions {
        if_match: header(h, &format!("{prefix}if-match")),
        if_none_match: header(h, &format!("{prefix}if-none-match")),
        if_modified_since: header(h, &format!("{prefix}if-modified-since")),
        if_unmodified_since: header(h, &format!("{prefix}if-unmodified-since")),
    }
}

/// `x-amz-copy-source`: `bucket/key` or `/bucket/key`, URL-encoded, optional `?versionId=`.
fn copy_source(req: &Request) -> Result<(String, String, Option<String>), S3Error> {
    let raw = req.h("x-amz-copy-source").unwrap_or_default();
    let (path, version) = match raw.split_once("?versionId=") {
        Some((p, v)) => (p.to_string(), Some(v.to_string())),
        None => (raw.clone(), None),
    };
    let decoded = String::from_utf8(crate::sigv4::percent_decode(&path)).map_err(|_| bad_copy_source())?;
    let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
    match decoded.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b.to_string(), k.to_string(), version)),
        _ => Err(bad_copy_source()),
    }
}

fn bad_copy_source() -> S3Error {
    S3Error::invalid_argument("Invalid copy source object key", "x-amz-copy-source", "")
}

fn set(h: &mut hyper::http::response::Builder, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_bytes(value.as_bytes())) {
        h.headers_mut().expect("builder").insert(n, v);
    }
}

fn sse_response_headers(b: &mut hyper::http::response::Builder, s: &SseOutput) {
    if let Some(a) = &s.algorithm {
        set(b, "x-amz-server-side-encryption", a);
    }
    if let Some(k) = &s.kms_key_id {
        set(b, "x-amz-server-side-encryption-aws-kms-key-id", k);
    }
    if let Some(c) = &s.kms_context {
        set(b, "x-amz-server-side-encryption-context", c);
    }
    if let Some(true) = s.bucket_key_enabled {
        set(b, "x-amz-server-side-encryption-bucket-key-enabled", "true");
    }
    if let Some(a) = &s.customer_algorithm {
        set(b, "x-amz-server-side-encryption-customer-algorithm", a);
    }
    if let Some(m) = &s.customer_key_md5 {
        set(b, "x-amz-server-side-encryption-customer-key-md5", m);
    }
}

fn checksum_response_headers(b: &mut hyper::http::response::Builder, c: &Option<ChecksumOut>) {
    if let Some(c) = c {
        set(b, &format!("x-amz-checksum-{}", c.algorithm.to_ascii_lowercase()), &c.value);
        set(b, "x-amz-checksum-type", &c.kind);
    }
}

fn checksum_xml(x: &mut Xml, c: &Option<ChecksumOut>) {
    if let Some(c) = c {
        x.elem(&format!("Checksum{}", c.algorithm), &c.value);
        x.elem("ChecksumType", &c.kind);
    }
}

async fn document(body: &mut super::body::RequestBody) -> Result<Node, S3Error> {
    let body = body.collect(MAX_DOC).await?;
    parse(&body).ok_or(S3Error::MalformedXml)
}

fn url_encode(s: &str, on: bool) -> String {
    if !on {
        return s.to_string();
    }
    let mut out = String::new();
    crate::sigv4::uri_encode(s.as_bytes(), true, &mut out);
    out
}

pub(crate) async fn dispatch(app: &App, req: &mut Request, op: &Op) -> Result<Response<ResponseBody>, S3Error> {
    let s3 = &app.s3;
    let c = &req.caller;
    // x-amz-expected-bucket-owner (and its copy-source form): a mismatch is AccessDenied.
    for (header_name, bucket_name) in [
        ("x-amz-expected-bucket-owner", req.target.bucket.clone()),
        ("x-amz-source-expected-bucket-owner", copy_source(req).ok().map(|(b, _, _)| b)),
    ] {
        if let (Some(expected), Some(b)) = (req.h(header_name), bucket_name)
            && s3.bucket_owner(&b).is_some_and(|owner| owner != expected)
        {
            return Err(S3Error::AccessDenied(format!("The bucket {b} is not owned by account {expected} ({header_name}).")));
        }
    }
    match op {
        Op::ListBuckets => {
            let token = req.q("continuation-token").map(str::to_string);
            let (buckets, next) =
                s3.list_buckets(c, req.q("prefix"), req.q("bucket-region"), int(req, "max-buckets")?, token.as_deref()).await?;
            let mut x = Xml::new("ListAllMyBucketsResult");
            x.open("Owner").elem("ID", &owner_id(c.account())).elem("DisplayName", c.account()).close("Owner");
            x.open("Buckets");
            for b in &buckets {
                x.open("Bucket").elem("Name", &b.name).elem("CreationDate", &iso(b.created_ms)).elem("BucketRegion", &b.region).close("Bucket");
            }
            x.close("Buckets");
            x.opt("ContinuationToken", next.as_deref()).opt("Prefix", req.q("prefix"));
            Ok(xml_response(req, x.finish("ListAllMyBucketsResult")))
        }
        Op::CreateBucket => {
            let body = req.body.collect(MAX_DOC).await?;
            let location = if body.iter().all(|b| b.is_ascii_whitespace()) {
                None
            } else {
                let doc = parse(&body).ok_or(S3Error::MalformedXml)?;
                if doc.name != "CreateBucketConfiguration" {
                    return Err(S3Error::MalformedXml);
                }
                Some(doc.text_of("LocationConstraint").unwrap_or_default())
            };
            let lock = req.h("x-amz-bucket-object-lock-enabled").is_some_and(|v| v.eq_ignore_ascii_case("true"));
            s3.create_bucket(c, &bucket(req), location.as_deref(), lock).await?;
            Ok(base(req, ok()).header("location", format!("/{}", bucket(req))).body(empty()).expect("valid"))
        }
        Op::HeadBucket => {
            let region = s3.head_bucket(c, &bucket(req)).await?;
            Ok(base(req, ok()).header("x-amz-bucket-region", region).body(empty()).expect("valid"))
        }
        Op::DeleteBucket => {
            s3.delete_bucket(c, &bucket(req)).await?;
            Ok(base(req, Response::builder().status(StatusCode::NO_CONTENT)).body(empty()).expect("valid"))
        }
        Op::GetBucketLocation => {
            let region = s3.get_bucket_location(c, &bucket(req)).await?;
            let x = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"{}\">{}</LocationConstraint>",
                super::xml::NS,
                super::xml::escape(&region)
            );
            Ok(xml_response(req, x))
        }
        Op::GetBucketVersioning => {
            s3.head_bucket(c, &bucket(req)).await?;
            Ok(xml_response(req, Xml::new("VersioningConfiguration").finish("VersioningConfiguration")))
        }
        Op::ListObjects | Op::ListObjectsV2 => {
            let v2 = *op == Op::ListObjectsV2;
            let encode = match req.q("encoding-type") {
                None => false,
                Some("url") => true,
                Some(other) => return Err(S3Error::invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", other)),
            };
            let input = ListObjectsInput {
                bucket: bucket(req),
                prefix: req.q("prefix").unwrap_or("").to_string(),
                delimiter: req.q("delimiter").map(str::to_string),
                max_keys: int(req, "max-keys")?,
                continuation_token: req.q("continuation-token").map(str::to_string),
                start_after: req.q("start-after").map(str::to_string),
                marker: req.q("marker").map(str::to_string),
                v2,
                fetch_owner: req.q("fetch-owner") == Some("true"),
            };
            let out = s3.list_objects(c, input.clone()).await?;
            let mut x = Xml::new("ListBucketResult");
            x.elem("Name", &input.bucket).elem("Prefix", &url_encode(&input.prefix, encode));
            if v2 {
                x.opt("ContinuationToken", input.continuation_token.as_deref()).opt("NextContinuationToken", out.next_continuation_token.as_deref());
                x.opt("StartAfter", input.start_after.as_deref().map(|s| url_encode(s, encode)).as_deref());
                x.elem("KeyCount", &(out.contents.len() + out.common_prefixes.len()).to_string());
            } else {
                x.elem("Marker", &url_encode(input.marker.as_deref().unwrap_or(""), encode));
                x.opt("NextMarker", out.next_marker.as_deref().map(|s| url_encode(s, encode)).as_deref());
            }
            x.elem("MaxKeys", &out.max_keys.to_string());
            x.opt("Delimiter", input.delimiter.as_deref().map(|s| url_encode(s, encode)).as_deref());
            x.opt("EncodingType", encode.then_some("url"));
            x.elem("IsTruncated", if out.is_truncated { "true" } else { "false" });
            for o in &out.contents {
                x.open("Contents").elem("Key", &url_encode(&o.key, encode)).elem("LastModified", &iso(o.modified_ms)).elem("ETag", &quoted(&o.etag));
                x.opt("ChecksumAlgorithm", o.checksum_algorithm.as_deref()).opt("ChecksumType", o.checksum_type.as_deref());
                x.elem("Size", &o.size.to_string()).elem("StorageClass", &o.storage_class);
                if !v2 || input.fetch_owner {
                    x.open("Owner").elem("ID", &owner_id(&out.owner)).elem("DisplayName", &out.owner).close("Owner");
                }
                x.close("Contents");
            }
            for p in &out.common_prefixes {
                x.open("CommonPrefixes").elem("Prefix", &url_encode(p, encode)).close("CommonPrefixes");
            }
            Ok(xml_response(req, x.finish("ListBucketResult")))
        }
        Op::GetBucketEncryption => {
            let e = s3.get_bucket_encryption(c, &bucket(req)).await?;
            Ok(xml_response(req, encryption_xml(&e)))
        }
        Op::PutBucketEncryption => {
            let doc = document(&mut req.body).await?;
            if doc.name != "ServerSideEncryptionConfiguration" {
                return Err(S3Error::MalformedXml);
            }
            let mut rules = Vec::new();
            for r in doc.all("Rule") {
                let d = r.child("ApplyServerSideEncryptionByDefault");
                let bucket_key = match r.text_of("BucketKeyEnabled").as_deref() {
                    None => None,
                    Some("true") => Some(true),
                    Some("false") => Some(false),
                    Some(_) => return Err(S3Error::MalformedXml),
                };
                rules.push(EncryptionRule {
                    algorithm: d.and_then(|d| d.text_of("SSEAlgorithm")),
                    kms_key_id: d.and_then(|d| d.text_of("KMSMasterKeyID")).filter(|k| !k.is_empty()),
                    bucket_key_enabled: bucket_key,
                    blocked: r.child("BlockedEncryptionTypes").map(|b| b.all("EncryptionType").map(|t| t.text.trim().to_string()).collect()).unwrap_or_default(),
                });
            }
            s3.put_bucket_encryption(c, &bucket(req), rules).await?;
            Ok(base(req, ok()).body(empty()).expect("valid"))
        }
        Op::DeleteBucketEncryption => {
            s3.delete_bucket_encryption(c, &bucket(req)).await?;
            Ok(base(req, Response::builder().status(StatusCode::NO_CONTENT)).body(empty()).expect("valid"))
        }
        Op::GetBucketPolicy => {
            let p = s3.get_bucket_policy(c, &bucket(req)).await?;
            Ok(base(req, ok()).header("content-type", "application/json").body(full(p)).expect("valid"))
        }
        Op::PutBucketPolicy => {
            let body = req.body.collect(MAX_DOC).await?;
            let text = String::from_utf8(body).map_err(|_| S3Error::MalformedPolicy("Policies must be valid JSON and the first byte must be '{'".into()))?;
            s3.put_bucket_policy(c, &bucket(req), &text).await?;
            Ok(base(req, Response::builder().status(StatusCode::NO_CONTENT)).body(empty()).expect("valid"))
        }
        Op::DeleteBucketPolicy => {
            s3.delete_bucket_policy(c, &bucket(req)).await?;
            Ok(base(req, Response::builder().status(StatusCode::NO_CONTENT)).body(empty()).expect("valid"))
        }
        Op::DeleteObjects => {
            let doc = document(&mut req.body).await?;
            if doc.name != "Delete" {
                return Err(S3Error::MalformedXml);
            }
            let quiet = doc.text_of("Quiet").is_some_and(|q| q == "true");
            let keys: Vec<String> = doc.all("Object").map(|o| o.text_of("Key").ok_or(S3Error::MalformedXml)).collect::<Result<_, _>>()?;
            let results = s3.delete_objects(c, &bucket(req), keys).await?;
            let mut x = Xml::new("DeleteResult");
            for r in results {
                match r {
                    DeleteResult::Deleted { key } => {
                        if !quiet {
                            x.open("Deleted").elem("Key", &key).close("Deleted");
                        }
                    }
                    DeleteResult::Error { key, code, message } => {
                        x.open("Error").elem("Key", &key).elem("Code", &code).elem("Message", &message).close("Error");
                    }
                }
            }
            Ok(xml_response(req, x.finish("DeleteResult")))
        }
        Op::PutObject => {
            let h = &req.parts.headers;
            let input = PutObjectInput {
                bucket: bucket(req),
                key: key(req),
                content_length: content_length(req),
                content_md5: header(h, "content-md5"),
                checksum: checksum_headers(h),
                headers: stored_headers(h),
                metadata: user_metadata(h),
                sse: sse_headers(h),
                if_match: header(h, "if-match"),
                if_none_match: header(h, "if-none-match"),
                storage_class: header(h, "x-amz-storage-class"),
                tagging: header(h, "x-amz-tagging"),
            };
            let out = s3.put_object(c, input, &mut req.body).await?;
            let mut b = base(req, ok());
            set(&mut b, "etag", &quoted(&out.etag));
            sse_response_headers(&mut b, &out.sse);
            checksum_response_headers(&mut b, &out.checksum);
            Ok(b.body(empty()).expect("valid"))
        }
        Op::CopyObject => {
            let (sb, sk, sv) = copy_source(req)?;
            let h = &req.parts.headers;
            let input = CopyObjectInput {
                bucket: bucket(req),
                key: key(req),
                source_bucket: sb,
                source_key: sk,
                source_version: sv,
                source_conditions: conditions(h, "x-amz-copy-source-"),
                source_customer: customer(h, "x-amz-copy-source-"),
                metadata_directive: header(h, "x-amz-metadata-directive"),
                tagging_directive: header(h, "x-amz-tagging-directive"),
                headers: stored_headers(h),
                metadata: user_metadata(h),
                sse: sse_headers(h),
                storage_class: header(h, "x-amz-storage-class"),
                tagging: header(h, "x-amz-tagging"),
                checksum_algorithm: header(h, "x-amz-checksum-algorithm"),
                website_redirect: header(h, "x-amz-website-redirect-location"),
            };
            let out = s3.copy_object(c, input).await?;
            let mut x = Xml::new("CopyObjectResult");
            x.elem("LastModified", &iso(out.modified_ms)).elem("ETag", &quoted(&out.etag));
            if let Some(cs) = &out.checksum {
                x.elem(&format!("Checksum{}", cs.algorithm), &cs.value).elem("ChecksumType", &cs.kind);
            }
            let mut b = base(req, ok()).header("content-type", "application/xml");
            sse_response_headers(&mut b, &out.sse);
            Ok(b.body(full(x.finish("CopyObjectResult"))).expect("valid"))
        }
        Op::GetObject | Op::HeadObject => {
            let h = &req.parts.headers;
            let part_number = match req.q("partNumber") {
                None => None,
                Some(v) => Some(v.parse::<u32>().map_err(|_| S3Error::invalid_argument("Part number must be an integer between 1 and 10000, inclusive", "partNumber", v))?),
            };
            let input = GetObjectInput {
                bucket: bucket(req),
                key: key(req),
                range: header(h, "range"),
                part_number,
                conditions: conditions(h, ""),
                customer: customer(h, "x-amz-"),
                sse_algorithm_header: header(h, "x-amz-server-side-encryption"),
                checksum_mode: header(h, "x-amz-checksum-mode").is_some_and(|v| v.eq_ignore_ascii_case("ENABLED")),
                head: *op == Op::HeadObject,
            };
            let (meta, body) = s3.get_object(c, input).await?;
            let status = if meta.content_range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
            let mut b = base(req, Response::builder().status(status));
            object_headers(&mut b, req, &meta);
            match body {
                None => Ok(b.body(empty()).expect("valid")),
                Some(mut body) => {
                    let (tx, stream) = ChannelBody::new(meta.content_length);
                    tokio::spawn(async move {
                        while let Some(r) = body.next().await {
                            let item = r.map_err(|e| std::io::Error::other(e.to_string()));
                            let stop = item.is_err();
                            if tx.send(item).await.is_err() || stop {
                                break;
                            }
                        }
                    });
                    Ok(b.body(http_body_util::BodyExt::boxed(stream)).expect("valid"))
                }
            }
        }
        Op::DeleteObject => {
            s3.delete_object(c, &bucket(req), &key(req), req.h("if-match").as_deref()).await?;
            Ok(base(req, Response::builder().status(StatusCode::NO_CONTENT)).body(empty()).expect("valid"))
        }
        Op::CreateMultipartUpload => {
            let h = &req.parts.headers;
            let input = CreateMultipartInput {
                bucket: bucket(req),
                key: key(req),
                headers: stored_headers(h),
                metadata: user_metadata(h),
                sse: sse_headers(h),
                checksum_algorithm: header(h, "x-amz-checksum-algorithm"),
                checksum_type: header(h, "x-amz-checksum-type"),
                storage_class: header(h, "x-amz-storage-class"),
                tagging: header(h, "x-amz-tagging"),
            };
            let out = s3.create_multipart_upload(c, input).await?;
            let mut x = Xml::new("InitiateMultipartUploadResult");
            x.elem("Bucket", &bucket(req)).elem("Key", &key(req)).elem("UploadId", &out.upload_id);
            let mut b = base(req, ok()).header("content-type", "application/xml");
            sse_response_headers(&mut b, &out.sse);
            if let Some(a) = &out.checksum_algorithm {
                set(&mut b, "x-amz-checksum-algorithm", a);
            }
            if let Some(t) = &out.checksum_type {
                set(&mut b, "x-amz-checksum-type", t);
            }
            Ok(b.body(full(x.finish("InitiateMultipartUploadResult"))).expect("valid"))
        }
        Op::UploadPart => {
            let h = &req.parts.headers;
            let input = UploadPartInput {
                bucket: bucket(req),
                key: key(req),
                upload_id: req.q("uploadId").unwrap_or("").to_string(),
                part_number: int(req, "partNumber")?.unwrap_or(0),
                content_length: content_length(req),
                content_md5: header(h, "content-md5"),
                checksum: checksum_headers(h),
                customer: customer(h, "x-amz-"),
            };
            let out = s3.upload_part(c, input, &mut req.body).await?;
            let mut b = base(req, ok());
            set(&mut b, "etag", &quoted(&out.etag));
            sse_response_headers(&mut b, &out.sse);
            if let Some(cs) = &out.checksum {
                set(&mut b, &format!("x-amz-checksum-{}", cs.algorithm.to_ascii_lowercase()), &cs.value);
            }
            Ok(b.body(empty()).expect("valid"))
        }
        Op::UploadPartCopy => {
            let (sb, sk, sv) = copy_source(req)?;
            let h = &req.parts.headers;
            let input = UploadPartCopyInput {
                bucket: bucket(req),
                key: key(req),
                upload_id: req.q("uploadId").unwrap_or("").to_string(),
                part_number: int(req, "partNumber")?.unwrap_or(0),
                source_bucket: sb,
                source_key: sk,
                source_version: sv,
                source_range: header(h, "x-amz-copy-source-range"),
                source_conditions: conditions(h, "x-amz-copy-source-"),
                source_customer: customer(h, "x-amz-copy-source-"),
                customer: customer(h, "x-amz-"),
            };
            let (out, modified) = s3.upload_part_copy(c, input).await?;
            let mut x = Xml::new("CopyPartResult");
            x.elem("LastModified", &iso(modified)).elem("ETag", &quoted(&out.etag));
            if let Some(cs) = &out.checksum {
                x.elem(&format!("Checksum{}", cs.algorithm), &cs.value);
            }
            let mut b = base(req, ok()).header("content-type", "application/xml");
            sse_response_headers(&mut b, &out.sse);
            Ok(b.body(full(x.finish("CopyPartResult"))).expect("valid"))
        }
        Op::CompleteMultipartUpload => {
            let doc = document(&mut req.body).await?;
            if doc.name != "CompleteMultipartUpload" {
                return Err(S3Error::MalformedXml);
            }
            let mut parts = Vec::new();
            for p in doc.all("Part") {
                let number = p.text_of("PartNumber").and_then(|n| n.parse::<i64>().ok()).ok_or(S3Error::MalformedXml)?;
                let etag = p.text_of("ETag").unwrap_or_default();
                let checksums = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]
                    .iter()
                    .filter_map(|a| p.text_of(&format!("Checksum{a}")).map(|v| (a.to_string(), v)))
                    .collect();
                parts.push(CompletedPart { number, etag, checksums });
            }
            let h = &req.parts.headers;
            let input = CompleteMultipartInput {
                bucket: bucket(req),
                key: key(req),
                upload_id: req.q("uploadId").unwrap_or("").to_string(),
                parts,
                customer: customer(h, "x-amz-"),
                checksum: checksum_headers(h),
                if_match: header(h, "if-match"),
                if_none_match: header(h, "if-none-match"),
            };
            let out = s3.complete_multipart_upload(c, input).await?;
            let scheme = if c.secure_transport { "https" } else { "http" };
            let mut x = Xml::new("CompleteMultipartUploadResult");
            x.elem("Location", &format!("{scheme}://{}/{}/{}", req.host, bucket(req), url_encode(&key(req), true)));
            x.elem("Bucket", &bucket(req)).elem("Key", &key(req)).elem("ETag", &quoted(&out.etag));
            checksum_xml(&mut x, &out.checksum);
            let mut b = base(req, ok()).header("content-type", "application/xml");
            sse_response_headers(&mut b, &out.sse);
            Ok(b.body(full(x.finish("CompleteMultipartUploadResult"))).expect("valid"))
        }
        Op::AbortMultipartUpload => {
            s3.abort_multipart_upload(c, &bucket(req), &key(req), req.q("uploadId").unwrap_or("")).await?;
            Ok(base(req, Response::builder().status(StatusCode::NO_CONTENT)).body(empty()).expect("valid"))
        }
        Op::ListParts => {
            let input = ListPartsInput {
                bucket: bucket(req),
                key: key(req),
                upload_id: req.q("uploadId").unwrap_or("").to_string(),
                max_parts: int(req, "max-parts")?,
                marker: int(req, "part-number-marker")?,
                customer: customer(&req.parts.headers, "x-amz-"),
            };
            let out = s3.list_parts(c, input).await?;
            let mut x = Xml::new("ListPartsResult");
            x.elem("Bucket", &bucket(req)).elem("Key", &out.key).elem("UploadId", &out.upload_id);
            x.elem("PartNumberMarker", &out.part_number_marker.to_string());
            x.opt("NextPartNumberMarker", out.next_part_number_marker.map(|n| n.to_string()).as_deref());
            x.elem("MaxParts", &out.max_parts.to_string()).elem("IsTruncated", if out.is_truncated { "true" } else { "false" });
            x.open("Initiator").elem("ID", &out.initiator).elem("DisplayName", &out.initiator).close("Initiator");
            x.open("Owner").elem("ID", &owner_id(&out.owner)).elem("DisplayName", &out.owner).close("Owner");
            x.elem("StorageClass", &out.storage_class);
            x.opt("ChecksumAlgorithm", out.checksum_algorithm.as_deref()).opt("ChecksumType", out.checksum_type.as_deref());
            for p in &out.parts {
                x.open("Part").elem("PartNumber", &p.number.to_string()).elem("LastModified", &iso(p.modified_ms)).elem("ETag", &quoted(&p.etag));
                x.elem("Size", &p.size.to_string());
                if let (Some(v), Some(a)) = (&p.checksum, &out.checksum_algorithm) {
                    x.elem(&format!("Checksum{a}"), v);
                }
                x.close("Part");
            }
            Ok(xml_response(req, x.finish("ListPartsResult")))
        }
        Op::ListMultipartUploads => {
            let input = ListUploadsInput {
                bucket: bucket(req),
                prefix: req.q("prefix").unwrap_or("").to_string(),
                delimiter: req.q("delimiter").map(str::to_string),
                key_marker: req.q("key-marker").map(str::to_string),
                upload_id_marker: req.q("upload-id-marker").map(str::to_string),
                max_uploads: int(req, "max-uploads")?,
            };
            let out = s3.list_multipart_uploads(c, input.clone()).await?;
            let mut x = Xml::new("ListMultipartUploadsResult");
            x.elem("Bucket", &input.bucket).elem("KeyMarker", input.key_marker.as_deref().unwrap_or(""));
            x.elem("UploadIdMarker", input.upload_id_marker.as_deref().unwrap_or(""));
            x.opt("NextKeyMarker", out.next_key_marker.as_deref()).opt("NextUploadIdMarker", out.next_upload_id_marker.as_deref());
            x.elem("Prefix", &input.prefix).opt("Delimiter", input.delimiter.as_deref());
            x.elem("MaxUploads", &out.max_uploads.to_string()).elem("IsTruncated", if out.is_truncated { "true" } else { "false" });
            for u in &out.uploads {
                x.open("Upload").elem("Key", &u.key).elem("UploadId", &u.upload_id);
                x.open("Initiator").elem("ID", &u.initiator).elem("DisplayName", &u.initiator).close("Initiator");
                x.open("Owner").elem("ID", &owner_id(&out.owner)).elem("DisplayName", &out.owner).close("Owner");
                x.elem("StorageClass", &u.storage_class).elem("Initiated", &iso(u.initiated_ms));
                x.opt("ChecksumAlgorithm", u.checksum_algorithm.as_deref()).opt("ChecksumType", u.checksum_type.as_deref());
                x.close("Upload");
            }
            for p in &out.common_prefixes {
                x.open("CommonPrefixes").elem("Prefix", p).close("CommonPrefixes");
            }
            Ok(xml_response(req, x.finish("ListMultipartUploadsResult")))
        }
        Op::Unsupported(name) => Err(S3Error::NotImplemented(format!(
            "A header or query you provided requested a function that is not implemented: Coffer does not implement {name}."
        ))),
    }
}

fn encryption_xml(e: &EncryptionConfig) -> String {
    let mut x = Xml::new("ServerSideEncryptionConfiguration");
    x.open("Rule").open("ApplyServerSideEncryptionByDefault").elem("SSEAlgorithm", &e.algorithm);
    x.opt("KMSMasterKeyID", e.kms_key_id.as_deref()).close("ApplyServerSideEncryptionByDefault");
    x.elem("BucketKeyEnabled", if e.bucket_key_enabled { "true" } else { "false" });
    if !e.blocked.is_empty() {
        x.open("BlockedEncryptionTypes");
        for t in &e.blocked {
            x.elem("EncryptionType", t);
        }
        x.close("BlockedEncryptionTypes");
    }
    x.close("Rule");
    x.finish("ServerSideEncryptionConfiguration")
}

fn object_headers(b: &mut hyper::http::response::Builder, req: &Request, m: &ObjectMeta) {
    let over = |name: &str| req.q(name).map(str::to_string);
    set(b, "content-length", &m.content_length.to_string());
    set(b, "etag", &quoted(&m.etag));
    set(b, "last-modified", &Timestamp(m.modified_ms).http_date());
    set(b, "accept-ranges", "bytes");
    let ct = over("response-content-type").or(m.headers.content_type.clone()).unwrap_or_else(|| "binary/octet-stream".into());
    set(b, "content-type", &ct);
    for (name, query, stored) in [
        ("cache-control", "response-cache-control", &m.headers.cache_control),
        ("content-disposition", "response-content-disposition", &m.headers.content_disposition),
        ("content-encoding", "response-content-encoding", &m.headers.content_encoding),
        ("content-language", "response-content-language", &m.headers.content_language),
        ("expires", "response-expires", &m.headers.expires),
    ] {
        if let Some(v) = over(query).or(stored.clone()) {
            set(b, name, &v);
        }
    }
    if let Some(w) = &m.headers.website_redirect {
        set(b, "x-amz-website-redirect-location", w);
    }
    if let Some((a, z, total)) = m.content_range {
        set(b, "content-range", &format!("bytes {a}-{z}/{total}"));
    }
    for (k, v) in &m.metadata {
        set(b, &format!("x-amz-meta-{k}"), v);
    }
    sse_response_headers(b, &m.sse);
    checksum_response_headers(b, &m.checksum);
    if let Some(n) = m.parts_count {
        set(b, "x-amz-mp-parts-count", &n.to_string());
    }
    if m.storage_class != "STANDARD" {
        set(b, "x-amz-storage-class", &m.storage_class);
    }
    if m.tag_count > 0 {
        set(b, "x-amz-tagging-count", &m.tag_count.to_string());
    }
}
