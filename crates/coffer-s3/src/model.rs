//! Requests and results of the S3 operations, free of HTTP types: the server's rest-xml adapter
//! fills these from paths, queries, headers and XML bodies, and renders the results.

use std::collections::BTreeMap;

use async_trait::async_trait;
use bytes::Bytes;
use coffer_crypto::SecretBytes;

use crate::S3Error;
use crate::records::{EncryptionConfig, StoredHeaders};

/// A piece of a request body: data, or (aws-chunked) the trailing headers.
pub enum Frame {
    Data(Bytes),
    Trailers(Vec<(String, String)>),
}

/// A request body streamed in; `None` at its end. Errors (a bad chunk signature, a payload hash
/// mismatch detected at the end) abort the operation before anything becomes visible.
#[async_trait]
pub trait BodySource: Send {
    async fn next(&mut self) -> Option<Result<Frame, S3Error>>;
}

/// A body already in memory (tests, small bodies).
pub struct BytesBody(pub Option<Bytes>);

#[async_trait]
impl BodySource for BytesBody {
    async fn next(&mut self) -> Option<Result<Frame, S3Error>> {
        self.0.take().map(|b| Ok(Frame::Data(b)))
    }
}

/// The SSE-C headers of a request (or their `x-amz-copy-source-` forms). No `Debug`: the key.
#[derive(Default)]
pub struct CustomerHeaders {
    pub algorithm: Option<String>,
    /// The base64 text of the key, as sent.
    pub key: Option<SecretBytes>,
    pub key_md5: Option<String>,
}

impl CustomerHeaders {
    pub fn is_empty(&self) -> bool {
        self.algorithm.is_none() && self.key.is_none() && self.key_md5.is_none()
    }
}

/// The server-side-encryption headers of a write.
#[derive(Default)]
pub struct SseHeaders {
    /// `x-amz-server-side-encryption`.
    pub algorithm: Option<String>,
    pub kms_key_id: Option<String>,
    /// `x-amz-server-side-encryption-context`: base64 of a JSON object.
    pub kms_context: Option<String>,
    pub bucket_key_enabled: Option<String>,
    pub customer: CustomerHeaders,
}

/// The encryption facts a response reports in its `x-amz-server-side-encryption*` headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseOutput {
    pub algorithm: Option<String>,
    pub kms_key_id: Option<String>,
    /// Base64 JSON, only where AWS returns it (PutObject, CopyObject, CreateMultipartUpload).
    pub kms_context: Option<String>,
    pub bucket_key_enabled: Option<bool>,
    pub customer_algorithm: Option<String>,
    pub customer_key_md5: Option<String>,
}

/// Flexible-checksum headers of a write.
#[derive(Debug, Clone, Default)]
pub struct ChecksumHeaders {
    /// `x-amz-checksum-algorithm` / `x-amz-sdk-checksum-algorithm`.
    pub algorithm: Option<String>,
    /// `x-amz-checksum-<alg>` headers: (algorithm name upper-case, base64 value).
    pub values: Vec<(String, String)>,
    /// `x-amz-trailer`, when it names a checksum sent after the body.
    pub trailer: Option<String>,
    /// `x-amz-checksum-type` (CreateMultipartUpload, CompleteMultipartUpload).
    pub checksum_type: Option<String>,
}

/// A checksum as returned: algorithm name, base64 value, `FULL_OBJECT` or `COMPOSITE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumOut {
    pub algorithm: String,
    pub value: String,
    pub kind: String,
}

pub struct PutObjectInput {
    pub bucket: String,
    pub key: String,
    /// The (decoded) length the client declared.
    pub content_length: Option<u64>,
    pub content_md5: Option<String>,
    pub checksum: ChecksumHeaders,
    pub headers: StoredHeaders,
    pub metadata: Vec<(String, String)>,
    pub sse: SseHeaders,
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub storage_class: Option<String>,
    pub tagging: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PutObjectOutput {
    pub etag: String,
    pub sse: SseOutput,
    pub checksum: Option<ChecksumOut>,
    pub size: u64,
}

/// Conditions of a read (GET/HEAD, or the copy source).
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
    pub if_unmodified_since: Option<String>,
}

pub struct GetObjectInput {
    pub bucket: String,
    pub key: String,
    pub range: Option<String>,
    pub part_number: Option<u32>,
    pub conditions: Conditions,
    pub customer: CustomerHeaders,
    /// `x-amz-server-side-encryption` sent on a read (S3 refuses it).
    pub sse_algorithm_header: Option<String>,
    pub checksum_mode: bool,
    /// HEAD: no body is wanted.
    pub head: bool,
}

/// What GET and HEAD report about an object.
#[derive(Debug, Clone)]
pub struct ObjectMeta {
    pub key: String,
    /// Bytes in this response.
    pub content_length: u64,
    /// `Content-Range` when a range or part was asked for: (first, last, total).
    pub content_range: Option<(u64, u64, u64)>,
    pub etag: String,
    pub modified_ms: i64,
    pub headers: StoredHeaders,
    pub metadata: BTreeMap<String, String>,
    pub sse: SseOutput,
    pub checksum: Option<ChecksumOut>,
    pub parts_count: Option<usize>,
    pub storage_class: String,
    pub tag_count: usize,
}

#[derive(Debug, Clone, Default)]
pub struct ListObjectsInput {
    pub bucket: String,
    pub prefix: String,
    pub delimiter: Option<String>,
    pub max_keys: Option<i64>,
    /// V2: continuation token; V1: marker.
    pub continuation_token: Option<String>,
    pub start_after: Option<String>,
    pub marker: Option<String>,
    pub v2: bool,
    pub fetch_owner: bool,
}

#[derive(Debug, Clone)]
pub struct ListedObject {
    pub key: String,
    pub modified_ms: i64,
    pub etag: String,
    pub size: u64,
    pub storage_class: String,
    pub checksum_algorithm: Option<String>,
    pub checksum_type: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ListObjectsOutput {
    pub owner: String,
    pub contents: Vec<ListedObject>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_continuation_token: Option<String>,
    pub next_marker: Option<String>,
    pub max_keys: i64,
}

#[derive(Debug, Clone)]
pub struct BucketInfo {
    pub name: String,
    pub created_ms: i64,
    pub region: String,
}

/// One rule of a ServerSideEncryptionConfiguration, as parsed from XML.
#[derive(Debug, Clone, Default)]
pub struct EncryptionRule {
    pub algorithm: Option<String>,
    pub kms_key_id: Option<String>,
    pub bucket_key_enabled: Option<bool>,
    pub blocked: Vec<String>,
}

pub struct CopyObjectInput {
    pub bucket: String,
    pub key: String,
    pub source_bucket: String,
    pub source_key: String,
    pub source_version: Option<String>,
    pub source_conditions: Conditions,
    pub source_customer: CustomerHeaders,
    /// `COPY` (default) or `REPLACE`.
    pub metadata_directive: Option<String>,
    pub tagging_directive: Option<String>,
    pub headers: StoredHeaders,
    pub metadata: Vec<(String, String)>,
    pub sse: SseHeaders,
    pub storage_class: Option<String>,
    pub tagging: Option<String>,
    pub checksum_algorithm: Option<String>,
    pub website_redirect: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CopyObjectOutput {
    pub etag: String,
    pub modified_ms: i64,
    pub sse: SseOutput,
    pub checksum: Option<ChecksumOut>,
}

pub struct CreateMultipartInput {
    pub bucket: String,
    pub key: String,
    pub headers: StoredHeaders,
    pub metadata: Vec<(String, String)>,
    pub sse: SseHeaders,
    pub checksum_algorithm: Option<String>,
    pub checksum_type: Option<String>,
    pub storage_class: Option<String>,
    pub tagging: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CreateMultipartOutput {
    pub upload_id: String,
    pub sse: SseOutput,
    pub checksum_algorithm: Option<String>,
    pub checksum_type: Option<String>,
}

pub struct UploadPartInput {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub part_number: i64,
    pub content_length: Option<u64>,
    pub content_md5: Option<String>,
    pub checksum: ChecksumHeaders,
    pub customer: CustomerHeaders,
}

#[derive(Debug, Clone)]
pub struct UploadPartOutput {
    pub etag: String,
    pub sse: SseOutput,
    pub checksum: Option<ChecksumOut>,
}

pub struct UploadPartCopyInput {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub part_number: i64,
    pub source_bucket: String,
    pub source_key: String,
    pub source_version: Option<String>,
    pub source_range: Option<String>,
    pub source_conditions: Conditions,
    pub source_customer: CustomerHeaders,
    pub customer: CustomerHeaders,
}

#[derive(Debug, Clone, Default)]
pub struct CompletedPart {
    pub number: i64,
    pub etag: String,
    /// Checksums the client lists for the part: (algorithm, base64).
    pub checksums: Vec<(String, String)>,
}

pub struct CompleteMultipartInput {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub parts: Vec<CompletedPart>,
    pub customer: CustomerHeaders,
    pub checksum: ChecksumHeaders,
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CompleteMultipartOutput {
    pub etag: String,
    pub sse: SseOutput,
    pub checksum: Option<ChecksumOut>,
}

pub struct ListPartsInput {
    pub bucket: String,
    pub key: String,
    pub upload_id: String,
    pub max_parts: Option<i64>,
    pub marker: Option<i64>,
    pub customer: CustomerHeaders,
}

#[derive(Debug, Clone)]
pub struct ListedPart {
    pub number: u32,
    pub modified_ms: i64,
    pub etag: String,
    pub size: u64,
    pub checksum: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ListPartsOutput {
    pub upload_id: String,
    pub key: String,
    pub initiator: String,
    pub owner: String,
    pub storage_class: String,
    pub part_number_marker: u32,
    pub next_part_number_marker: Option<u32>,
    pub max_parts: i64,
    pub is_truncated: bool,
    pub parts: Vec<ListedPart>,
    pub checksum_algorithm: Option<String>,
    pub checksum_type: Option<String>,
    pub sse: SseOutput,
}

#[derive(Debug, Clone, Default)]
pub struct ListUploadsInput {
    pub bucket: String,
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: Option<String>,
    pub upload_id_marker: Option<String>,
    pub max_uploads: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ListedUpload {
    pub key: String,
    pub upload_id: String,
    pub initiator: String,
    pub initiated_ms: i64,
    pub storage_class: String,
    pub checksum_algorithm: Option<String>,
    pub checksum_type: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ListUploadsOutput {
    pub owner: String,
    pub uploads: Vec<ListedUpload>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
    pub max_uploads: i64,
}

/// The outcome of one key of DeleteObjects.
#[derive(Debug, Clone)]
pub enum DeleteResult {
    Deleted { key: String },
    Error { key: String, code: String, message: String },
}

/// A bucket's default encryption as reported.
pub type BucketEncryption = EncryptionConfig;
