//! What S3 stores: bucket, object, upload and part records (JSON in the store; docs/formats.md),
//! and the in-memory bucket entry.

use std::collections::BTreeMap;
use std::sync::Arc;

use coffer_policy::PolicyDocument;
use serde::{Deserialize, Serialize};

/// A bucket. The name is global (as in AWS); `id` is random per incarnation and names the
/// bucket's object partition and data directory, so a recreated bucket never sees old data.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct BucketRecord {
    pub name: String,
    pub id: String,
    pub account: String,
    pub region: String,
    pub created_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<EncryptionConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

/// Default encryption (PutBucketEncryption). Absent means SSE-S3, as AWS since 2023.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct EncryptionConfig {
    /// `AES256`, `aws:kms` or `aws:kms:dsse`.
    pub algorithm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(default)]
    pub bucket_key_enabled: bool,
    /// BlockedEncryptionTypes: `SSE-C` and/or `NONE`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<String>,
}

impl EncryptionConfig {
    pub fn sse_s3() -> EncryptionConfig {
        EncryptionConfig { algorithm: "AES256".into(), kms_key_id: None, bucket_key_enabled: false, blocked: Vec::new() }
    }

    pub fn blocks_sse_c(&self) -> bool {
        self.blocked.iter().any(|b| b == "SSE-C")
    }
}

/// How an object's data is protected at rest.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SseMode {
    /// SSE-S3: the object key sealed under the root key.
    #[serde(rename = "AES256")]
    S3,
    /// SSE-KMS: the object key is a KMS data key (or sealed under a KMS bucket key).
    #[serde(rename = "aws:kms")]
    Kms,
    /// SSE-C: the object key sealed under the customer's key, which is never stored.
    #[serde(rename = "SSE-C")]
    Customer,
    /// Benchmark-only setting (`s3_encryption = false`): data stored as sent.
    #[serde(rename = "none")]
    Plain,
}

/// The object key of an object (or upload) and how to recover it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SseRecord {
    pub mode: SseMode,
    /// S3: root-sealed object key; Kms with a bucket key / Customer: the object key under
    /// AES-256-GCM (hex). Empty for Kms without a bucket key (the KMS blob is the key).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sealed_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// The KMS ciphertext blob (hex) of the object's data key, or of the bucket key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_blob: Option<String>,
    /// The full encryption context given to KMS (including `aws:s3:arn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_context: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub bucket_key: bool,
    /// `aws:kms:dsse` was requested (echoed; protected like `aws:kms`).
    #[serde(default)]
    pub dsse: bool,
    /// SSE-C: a random salt and HMAC-SHA256(salt, key) (hex), to tell the right key from a
    /// wrong one without keeping the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssec_salt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssec_check: Option<String>,
}

/// One data file of an object: a whole object (single PUT) or one multipart part.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// 32 hex characters: the file name and the key-derivation salt.
    pub id: String,
    /// Plaintext bytes.
    pub size: u64,
}

/// The headers S3 stores with an object and returns on GET/HEAD.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredHeaders {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website_redirect: Option<String>,
}

/// A stored checksum: the algorithm's name, the base64 value, and whether it covers the whole
/// object (`FULL_OBJECT`) or is a checksum of part checksums (`COMPOSITE`, value ends `-N`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct StoredChecksum {
    pub algorithm: String,
    pub value: String,
    pub kind: String,
}

/// A part of a multipart object, as GetObject `partNumber` needs it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PartSummary {
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct ObjectRecord {
    pub key: String,
    /// Random 32 hex: binds the sealed object key to this object.
    pub oid: String,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    pub modified_ms: i64,
    #[serde(default)]
    pub headers: StoredHeaders,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<StoredChecksum>,
    pub sse: SseRecord,
    pub segments: Vec<Segment>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<PartSummary>,
    #[serde(default = "standard")]
    pub storage_class: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
}

pub(crate) fn standard() -> String {
    "STANDARD".into()
}

/// A multipart upload in progress.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct UploadRecord {
    pub upload_id: String,
    pub key: String,
    pub oid: String,
    pub initiated_ms: i64,
    /// ARN of the principal that created it (Initiator / Owner in ListParts).
    pub initiator: String,
    #[serde(default)]
    pub headers: StoredHeaders,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    pub sse: SseRecord,
    #[serde(default = "standard")]
    pub storage_class: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct PartRecord {
    pub number: u32,
    pub segment: Segment,
    /// Without quotes.
    pub etag: String,
    /// Hex MD5 of the part's plaintext (the multipart ETag is built from these).
    pub md5: String,
    pub modified_ms: i64,
    /// Base64 checksum of the part under the upload's algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// For FULL_OBJECT CRC uploads: the part's raw CRC, to combine at completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc: Option<u64>,
}

/// A bucket as served from memory.
pub struct BucketEntry {
    pub rec: BucketRecord,
    pub version: i64,
    pub policy: Option<Arc<PolicyDocument>>,
}

impl BucketEntry {
    pub fn arn(&self) -> String {
        bucket_arn(&self.rec.name)
    }

    pub fn encryption(&self) -> EncryptionConfig {
        self.rec.encryption.clone().unwrap_or_else(EncryptionConfig::sse_s3)
    }
}

pub fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

pub fn object_arn(bucket: &str, key: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}

/// Sort key of a part: zero-padded so that store order is part order.
pub fn part_sk(n: u32) -> String {
    format!("{n:05}")
}
