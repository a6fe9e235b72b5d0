//! Server-side encryption: bucket default encryption (Put/Get/DeleteBucketEncryption), what a
//! write's headers ask for, and creating and recovering object keys in each mode.
//!
//! | mode | the object key is | to read, the caller needs |
//! |---|---|---|
//! | SSE-S3 | sealed under the root key (purpose `s3-object-key:<oid>`) | `s3:GetObject` |
//! | SSE-KMS | a KMS data key (`GenerateDataKey`, context `aws:s3:arn` = object ARN) | also `kms:Decrypt` via S3 |
//! | SSE-KMS + Bucket Key | sealed under a per-bucket KMS data key (context = bucket ARN), cached | also `kms:Decrypt` via S3 (checked on every request, without a KMS round of cryptography) |
//! | SSE-C | sealed under the customer key; a salted HMAC tells a wrong key | the same customer key |

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use coffer_crypto::digest::{ct_eq, hex, hmac_sha256, sha256, unhex};
use coffer_crypto::object::ObjectKey;
use coffer_crypto::{SecretBytes, SymmetricKey, random};
use coffer_kms::KmsError;
use coffer_kms::model::{Blob, DecryptRequest, GenerateDataKeyRequest};
use coffer_policy::Caller;

use crate::model::{CustomerHeaders, EncryptionRule, SseHeaders, SseOutput};
use crate::records::{BucketEntry, EncryptionConfig, SseMode, SseRecord, bucket_arn, object_arn};
use crate::{S3, S3Error};

const S3_ARN_KEY: &str = "aws:s3:arn";
const DEFAULT_KMS_KEY: &str = "alias/aws/s3";
/// How long a bucket key is used for new objects before a fresh one is generated.
const BUCKET_KEY_LIFETIME: Duration = Duration::from_secs(3600);
const SSEC_CHECK: &[u8] = b"coffer-s3-ssec-check-v1\0";
const SSEC_AAD: &[u8] = b"coffer-s3-ssec-v1\0";
const BUCKET_KEY_AAD: &[u8] = b"coffer-s3-bucket-key-v1\0";

fn root_purpose(oid: &str) -> String {
    format!("s3-object-key:{oid}")
}

/// Bucket keys in memory: for writing (by bucket, KMS key and context) and for reading (by the
/// SHA-256 of their KMS blob). No `Debug`: it holds keys.
#[derive(Default)]
pub(crate) struct BucketKeyCache {
    writing: Mutex<HashMap<String, Arc<BucketKey>>>,
    reading: Mutex<HashMap<[u8; 32], Arc<SymmetricKey>>>,
}

struct BucketKey {
    key: Arc<SymmetricKey>,
    blob: Vec<u8>,
    key_arn: String,
    created: Instant,
}

/// What a write asked for, validated.
pub(crate) enum Wanted {
    S3,
    Kms { key_id: String, context: BTreeMap<String, String>, bucket_key: bool, dsse: bool },
    /// The customer key (32 bytes) and its MD5 (base64) as the client sent it.
    Customer { key: SecretBytes, md5: String },
}

impl Wanted {
    /// The parts of the protection that decide whether a self-copy changes anything.
    pub(crate) fn same_as(&self, sse: &SseRecord) -> bool {
        match self {
            Wanted::S3 => sse.mode == SseMode::S3,
            Wanted::Kms { key_id, bucket_key, dsse, .. } => {
                sse.mode == SseMode::Kms
                    && sse.bucket_key == *bucket_key
                    && sse.dsse == *dsse
                    && sse.kms_key_arn.as_deref().is_some_and(|arn| arn == key_id || arn.ends_with(&format!("/{key_id}")))
            }
            Wanted::Customer { .. } => false,
        }
    }
}

/// A fresh object key and how it is protected.
pub(crate) struct Protection {
    /// None in the benchmark-only plaintext mode.
    pub key: Option<ObjectKey>,
    pub sse: SseRecord,
    pub customer_md5: Option<String>,
}

/// S3's answer for a KMS refusal.
pub(crate) fn kms_error(e: KmsError) -> S3Error {
    match e {
        KmsError::AccessDenied(m) => S3Error::AccessDenied(m),
        KmsError::Internal(m) => S3Error::Internal(m),
        other => S3Error::Kms { code: format!("KMS.{}", other.code()), message: other.message() },
    }
}

fn customer_error(m: &str) -> S3Error {
    S3Error::invalid_argument(m, "x-amz-server-side-encryption", "null")
}

/// Validates SSE-C headers into (key, md5).
pub(crate) fn customer_key(h: &CustomerHeaders) -> Result<Option<(SecretBytes, String)>, S3Error> {
    if h.is_empty() {
        return Ok(None);
    }
    let Some(alg) = h.algorithm.as_deref() else {
        return Err(customer_error(
            "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
        ));
    };
    if alg != "AES256" {
        return Err(S3Error::InvalidEncryptionAlgorithm(
            "The Encryption request you specified is not valid. Supported value: AES256.".into(),
        ));
    }
    let Some(text) = h.key.as_ref() else {
        return Err(customer_error(
            "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
        ));
    };
    let key = B64
        .decode(text.expose())
        .ok()
        .filter(|k| k.len() == 32)
        .map(SecretBytes::new)
        .ok_or_else(|| customer_error("The secret key was invalid for the specified algorithm."))?;
    let Some(md5) = h.key_md5.as_deref() else {
        return Err(customer_error(
            "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.",
        ));
    };
    let computed = B64.encode(coffer_crypto::checksum::Md5::digest(key.expose()));
    if B64.decode(md5).ok().is_none_or(|m| !ct_eq(&m, &B64.decode(&computed).unwrap_or_default())) {
        return Err(customer_error("The calculated MD5 hash of the key did not match the hash that was provided."));
    }
    Ok(Some((key, computed)))
}

fn parse_context(b64: &str) -> Result<BTreeMap<String, String>, S3Error> {
    let bad = || {
        S3Error::invalid_argument(
            "The header 'x-amz-server-side-encryption-context' shall be Base64-encoded UTF-8 string holding JSON which represents a string-string map",
            "x-amz-server-side-encryption-context",
            b64,
        )
    };
    let raw = B64.decode(b64.trim()).map_err(|_| bad())?;
    serde_json::from_slice::<BTreeMap<String, String>>(&raw).map_err(|_| bad())
}

fn bool_header(name: &str, v: Option<&str>) -> Result<Option<bool>, S3Error> {
    match v.map(|s| s.to_ascii_lowercase()) {
        None => Ok(None),
        Some(s) if s == "true" => Ok(Some(true)),
        Some(s) if s == "false" => Ok(Some(false)),
        Some(s) => Err(S3Error::invalid_argument(format!("Invalid value for {name}"), name, &s)),
    }
}

impl S3 {
    pub async fn put_bucket_encryption(&self, caller: &Caller, bucket: &str, rules: Vec<EncryptionRule>) -> Result<(), S3Error> {
        let b = self.bucket(caller, bucket)?;
        self.authorize(caller, Some(&b), "s3:PutEncryptionConfiguration", &b.arn(), &Vec::new())?;
        let [rule] = <[EncryptionRule; 1]>::try_from(rules).map_err(|_| S3Error::MalformedXml)?;
        let algorithm = rule.algorithm.ok_or(S3Error::MalformedXml)?;
        if !["AES256", "aws:kms", "aws:kms:dsse"].contains(&algorithm.as_str()) {
            return Err(S3Error::MalformedXml);
        }
        if rule.kms_key_id.is_some() && algorithm == "AES256" {
            return Err(S3Error::invalid_argument(
                "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
                "ApplyServerSideEncryptionByDefault",
                "null",
            ));
        }
        for t in &rule.blocked {
            if t != "SSE-C" && t != "NONE" {
                return Err(S3Error::MalformedXml);
            }
        }
        if let Some(k) = &rule.kms_key_id {
            // The key must exist and be usable by the caller for S3 (as AWS validates).
            self.check_kms_key(caller, k).await?;
        }
        let config = EncryptionConfig {
            algorithm,
            kms_key_id: rule.kms_key_id,
            bucket_key_enabled: rule.bucket_key_enabled.unwrap_or(false),
            blocked: if rule.blocked.iter().any(|t| t == "NONE") { Vec::new() } else { rule.blocked },
        };
        self.mutate_bucket(caller, bucket, |rec| {
            rec.encryption = Some(config.clone());
            Ok(())
        })
        .await?;
        Ok(())
    }

    pub async fn get_bucket_encryption(&self, caller: &Caller, bucket: &str) -> Result<EncryptionConfig, S3Error> {
        let b = self.bucket(caller, bucket)?;
        self.authorize(caller, Some(&b), "s3:GetEncryptionConfiguration", &b.arn(), &Vec::new())?;
        Ok(b.encryption())
    }

    /// Reverts to the SSE-S3 default. Existing objects keep their encryption.
    pub async fn delete_bucket_encryption(&self, caller: &Caller, bucket: &str) -> Result<(), S3Error> {
        let b = self.bucket(caller, bucket)?;
        self.authorize(caller, Some(&b), "s3:PutEncryptionConfiguration", &b.arn(), &Vec::new())?;
        self.mutate_bucket(caller, bucket, |rec| {
            rec.encryption = None;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn check_kms_key(&self, caller: &Caller, key_id: &str) -> Result<(), S3Error> {
        let via = caller.via("s3");
        let r = self
            .kms
            .generate_data_key(
                &via,
                GenerateDataKeyRequest { key_id: Some(key_id.into()), key_spec: Some("AES_256".into()), dry_run: Some(true), ..Default::default() },
            )
            .await;
        match r {
            Err(KmsError::DryRunOperation) => Ok(()),
            Err(e) => Err(kms_error(e)),
            Ok(_) => Ok(()),
        }
    }

    /// The SSE-C transport rule: customer keys only over TLS (unless configured otherwise).
    fn customer_transport(&self, caller: &Caller) -> Result<(), S3Error> {
        if caller.secure_transport || self.config.allow_ssec_over_http {
            Ok(())
        } else {
            Err(S3Error::InvalidRequest(
                "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.".into(),
            ))
        }
    }

    /// What the SSE headers of a write ask for, with the bucket's default filling the gaps.
    pub(crate) fn wanted(&self, caller: &Caller, b: &BucketEntry, key: &str, h: &SseHeaders) -> Result<Wanted, S3Error> {
        let config = b.encryption();
        if let Some((k, md5)) = customer_key(&h.customer)? {
            if h.algorithm.is_some() {
                return Err(customer_error(
                    "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
                ));
            }
            self.customer_transport(caller)?;
            if config.blocks_sse_c() {
                return Err(S3Error::AccessDenied(
                    "Requests specifying Server Side Encryption with Customer provided keys are blocked for this bucket (BlockedEncryptionTypes).".into(),
                ));
            }
            return Ok(Wanted::Customer { key: k, md5 });
        }
        let bucket_key_header = bool_header("x-amz-server-side-encryption-bucket-key-enabled", h.bucket_key_enabled.as_deref())?;
        let (algorithm, key_id) = match h.algorithm.as_deref() {
            Some(a) => (a.to_string(), h.kms_key_id.clone()),
            None => {
                if h.kms_key_id.is_some() || h.kms_context.is_some() {
                    return Err(S3Error::invalid_argument(
                        "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
                        "x-amz-server-side-encryption-aws-kms-key-id",
                        h.kms_key_id.as_deref().unwrap_or("null"),
                    ));
                }
                (config.algorithm.clone(), config.kms_key_id.clone())
            }
        };
        match algorithm.as_str() {
            "AES256" => {
                if h.kms_key_id.is_some() || h.kms_context.is_some() {
                    return Err(S3Error::invalid_argument(
                        "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
                        "x-amz-server-side-encryption",
                        "AES256",
                    ));
                }
                Ok(Wanted::S3)
            }
            "aws:kms" | "aws:kms:dsse" => {
                let bucket_key = bucket_key_header.unwrap_or(config.bucket_key_enabled) && algorithm == "aws:kms";
                let mut context = match &h.kms_context {
                    Some(c) => parse_context(c)?,
                    None => BTreeMap::new(),
                };
                let arn = if bucket_key { bucket_arn(&b.rec.name) } else { object_arn(&b.rec.name, key) };
                if let Some(given) = context.get(S3_ARN_KEY)
                    && *given != arn
                {
                    return Err(S3Error::invalid_argument(
                        format!("The encryption context key {S3_ARN_KEY} must be {arn}"),
                        "x-amz-server-side-encryption-context",
                        "null",
                    ));
                }
                context.insert(S3_ARN_KEY.into(), arn);
                let key_id = key_id.unwrap_or_else(|| DEFAULT_KMS_KEY.into());
                if key_id.is_empty() {
                    return Err(S3Error::Kms { code: "KMS.NotFoundException".into(), message: "Invalid keyId ''".into() });
                }
                Ok(Wanted::Kms { key_id, context, bucket_key, dsse: algorithm == "aws:kms:dsse" })
            }
            other => Err(S3Error::invalid_argument(
                "The encryption method specified is not supported",
                "x-amz-server-side-encryption",
                other,
            )),
        }
    }

    /// A fresh object key for object `oid`, protected as `wanted`.
    pub(crate) async fn protect(&self, caller: &Caller, b: &BucketEntry, oid: &str, wanted: &Wanted) -> Result<Protection, S3Error> {
        let base = |mode| SseRecord {
            mode,
            sealed_key: String::new(),
            kms_key_arn: None,
            kms_blob: None,
            kms_context: None,
            bucket_key: false,
            dsse: false,
            ssec_salt: None,
            ssec_check: None,
        };
        let plain = !self.config.encrypt;
        match wanted {
            Wanted::S3 => {
                let key = ObjectKey::random();
                let mut sse = base(if plain { SseMode::Plain } else { SseMode::S3 });
                if !plain {
                    sse.sealed_key = hex(&self.root.seal(&root_purpose(oid), key.expose()));
                }
                Ok(Protection { key: (!plain).then_some(key), sse, customer_md5: None })
            }
            Wanted::Customer { key: ck, md5 } => {
                let key = ObjectKey::random();
                let salt = random::bytes::<16>();
                let mut sse = base(SseMode::Customer);
                let mut check_input = SSEC_CHECK.to_vec();
                check_input.extend_from_slice(&salt);
                sse.ssec_salt = Some(hex(&salt));
                sse.ssec_check = Some(hex(&hmac_sha256(ck.expose(), &check_input)));
                let wrap = SymmetricKey::from_bytes(ck.expose()).map_err(|_| S3Error::Internal("customer key".into()))?;
                let mut sealed = Vec::new();
                wrap.seal_into(&[SSEC_AAD, oid.as_bytes()].concat(), key.expose(), &mut sealed)
                    .map_err(|_| S3Error::Internal("sealing an object key failed".into()))?;
                sse.sealed_key = hex(&sealed);
                if plain {
                    sse.mode = SseMode::Plain;
                }
                Ok(Protection { key: (!plain).then_some(key), sse, customer_md5: Some(md5.clone()) })
            }
            Wanted::Kms { key_id, context, bucket_key, dsse } => {
                let mut sse = base(SseMode::Kms);
                sse.dsse = *dsse;
                sse.kms_context = Some(context.clone());
                sse.bucket_key = *bucket_key;
                let key = if *bucket_key {
                    let bk = self.bucket_key_for_writing(caller, b, key_id, context).await?;
                    let key = ObjectKey::random();
                    let mut sealed = Vec::new();
                    bk.key
                        .seal_into(&[BUCKET_KEY_AAD, oid.as_bytes()].concat(), key.expose(), &mut sealed)
                        .map_err(|_| S3Error::Internal("sealing an object key failed".into()))?;
                    sse.sealed_key = hex(&sealed);
                    sse.kms_blob = Some(hex(&bk.blob));
                    sse.kms_key_arn = Some(bk.key_arn.clone());
                    key
                } else {
                    let out = self
                        .kms
                        .generate_data_key(
                            &caller.via("s3"),
                            GenerateDataKeyRequest {
                                key_id: Some(key_id.clone()),
                                key_spec: Some("AES_256".into()),
                                encryption_context: Some(context.clone()),
                                ..Default::default()
                            },
                        )
                        .await
                        .map_err(kms_error)?;
                    self.stats.kms_calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let plaintext = out.plaintext.ok_or_else(|| S3Error::Internal("GenerateDataKey returned no plaintext".into()))?;
                    sse.kms_blob = Some(hex(&out.ciphertext_blob.0));
                    sse.kms_key_arn = Some(out.key_id);
                    ObjectKey::from_bytes(plaintext.0.expose()).map_err(|_| S3Error::Internal("bad data key".into()))?
                };
                if plain {
                    sse.mode = SseMode::Plain;
                }
                Ok(Protection { key: (!plain).then_some(key), sse, customer_md5: None })
            }
        }
    }

    async fn bucket_key_for_writing(
        &self,
        caller: &Caller,
        b: &BucketEntry,
        key_id: &str,
        context: &BTreeMap<String, String>,
    ) -> Result<Arc<BucketKey>, S3Error> {
        let via = caller.via("s3");
        let cache_key = format!("{}\0{key_id}\0{}", b.rec.id, serde_json::to_string(context).unwrap_or_default());
        let cached = self.bucket_keys.writing.lock().expect("bucket key lock").get(&cache_key).cloned();
        if let Some(bk) = cached.filter(|k| k.created.elapsed() < BUCKET_KEY_LIFETIME) {
            // The caller must still be allowed to generate data keys with the KMS key, and the
            // key must still be usable: the same check, without the cryptography.
            let r = self
                .kms
                .generate_data_key(
                    &via,
                    GenerateDataKeyRequest {
                        key_id: Some(bk.key_arn.clone()),
                        key_spec: Some("AES_256".into()),
                        encryption_context: Some(context.clone()),
                        dry_run: Some(true),
                        ..Default::default()
                    },
                )
                .await;
            return match r {
                Err(KmsError::DryRunOperation) | Ok(_) => Ok(bk),
                Err(e) => Err(kms_error(e)),
            };
        }
        let out = self
            .kms
            .generate_data_key(
                &via,
                GenerateDataKeyRequest {
                    key_id: Some(key_id.to_string()),
                    key_spec: Some("AES_256".into()),
                    encryption_context: Some(context.clone()),
                    ..Default::default()
                },
            )
            .await
            .map_err(kms_error)?;
        self.stats.kms_calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let plaintext = out.plaintext.ok_or_else(|| S3Error::Internal("GenerateDataKey returned no plaintext".into()))?;
        let key = Arc::new(SymmetricKey::from_bytes(plaintext.0.expose()).map_err(|_| S3Error::Internal("bad bucket key".into()))?);
        let blob = out.ciphertext_blob.0;
        self.bucket_keys.reading.lock().expect("bucket key lock").insert(sha256(&blob), key.clone());
        let bk = Arc::new(BucketKey { key, blob, key_arn: out.key_id, created: Instant::now() });
        self.bucket_keys.writing.lock().expect("bucket key lock").insert(cache_key, bk.clone());
        Ok(bk)
    }

    /// Checks the SSE-C headers of a read against the object's protection (`copy_source`: the
    /// headers are the `x-amz-copy-source-` ones). Returns the customer key when it applies.
    pub(crate) fn read_customer_key(&self, caller: &Caller, sse: &SseRecord, h: &CustomerHeaders) -> Result<Option<(SecretBytes, String)>, S3Error> {
        let is_customer = sse.ssec_check.is_some();
        let given = customer_key(h)?;
        match (is_customer, given) {
            (true, None) => Err(S3Error::InvalidRequest(
                "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.".into(),
            )),
            (false, Some(_)) => Err(S3Error::InvalidRequest("The encryption parameters are not applicable to this object.".into())),
            (false, None) => Ok(None),
            (true, Some((k, md5))) => {
                self.customer_transport(caller)?;
                let salt = sse.ssec_salt.as_deref().and_then(unhex).unwrap_or_default();
                let mut input = SSEC_CHECK.to_vec();
                input.extend_from_slice(&salt);
                let expected = sse.ssec_check.as_deref().and_then(unhex).unwrap_or_default();
                if !ct_eq(&hmac_sha256(k.expose(), &input), &expected) {
                    return Err(S3Error::AccessDenied(
                        "Requests specifying Server Side Encryption with Customer provided keys must provide the correct secret key.".into(),
                    ));
                }
                Ok(Some((k, md5)))
            }
        }
    }

    /// Recovers the object key of `oid` for a read (None: plaintext mode). `customer` must have
    /// passed [`S3::read_customer_key`].
    pub(crate) async fn unprotect(
        &self,
        caller: &Caller,
        oid: &str,
        sse: &SseRecord,
        customer: Option<&SecretBytes>,
    ) -> Result<Option<ObjectKey>, S3Error> {
        let corrupt = || S3Error::Internal(format!("the stored key of object {oid} does not open"));
        let sealed = || unhex(&sse.sealed_key).ok_or_else(corrupt);
        match sse.mode {
            SseMode::Plain => Ok(None),
            SseMode::S3 => {
                let k = self.root.open(&root_purpose(oid), &sealed()?).map_err(|_| corrupt())?;
                Ok(Some(ObjectKey::from_bytes(k.expose()).map_err(|_| corrupt())?))
            }
            SseMode::Customer => {
                let ck = customer.ok_or_else(|| S3Error::Internal("customer key missing".into()))?;
                let wrap = SymmetricKey::from_bytes(ck.expose()).map_err(|_| corrupt())?;
                let k = wrap.open(&[SSEC_AAD, oid.as_bytes()].concat(), &sealed()?).map_err(|_| {
                    S3Error::AccessDenied(
                        "Requests specifying Server Side Encryption with Customer provided keys must provide the correct secret key.".into(),
                    )
                })?;
                Ok(Some(ObjectKey::from_bytes(k.expose()).map_err(|_| corrupt())?))
            }
            SseMode::Kms => {
                let blob = sse.kms_blob.as_deref().and_then(unhex).ok_or_else(corrupt)?;
                let context = sse.kms_context.clone().unwrap_or_default();
                let via = caller.via("s3");
                let request = |dry_run| DecryptRequest {
                    ciphertext_blob: Some(Blob(blob.clone())),
                    encryption_context: Some(context.clone()),
                    dry_run,
                    ..Default::default()
                };
                if sse.bucket_key {
                    let cached = self.bucket_keys.reading.lock().expect("bucket key lock").get(&sha256(&blob)).cloned();
                    let bk = match cached {
                        Some(bk) => {
                            match self.kms.decrypt(&via, request(Some(true))).await {
                                Err(KmsError::DryRunOperation) | Ok(_) => {}
                                Err(e) => return Err(kms_error(e)),
                            }
                            bk
                        }
                        None => {
                            let out = self.kms.decrypt(&via, request(None)).await.map_err(kms_error)?;
                            self.stats.kms_calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let bk = Arc::new(SymmetricKey::from_bytes(out.plaintext.0.expose()).map_err(|_| corrupt())?);
                            self.bucket_keys.reading.lock().expect("bucket key lock").insert(sha256(&blob), bk.clone());
                            bk
                        }
                    };
                    let k = bk.open(&[BUCKET_KEY_AAD, oid.as_bytes()].concat(), &sealed()?).map_err(|_| corrupt())?;
                    return Ok(Some(ObjectKey::from_bytes(k.expose()).map_err(|_| corrupt())?));
                }
                let out = self.kms.decrypt(&via, request(None)).await.map_err(kms_error)?;
                self.stats.kms_calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(Some(ObjectKey::from_bytes(out.plaintext.0.expose()).map_err(|_| corrupt())?))
            }
        }
    }
}

/// The response headers describing an object's encryption.
pub(crate) fn sse_output(sse: &SseRecord, customer_md5: Option<&str>, with_context: bool) -> SseOutput {
    let mut out = SseOutput::default();
    match sse.mode {
        SseMode::S3 | SseMode::Plain if sse.ssec_check.is_none() && sse.kms_key_arn.is_none() => {
            out.algorithm = Some("AES256".into());
        }
        SseMode::Customer | SseMode::Plain if sse.ssec_check.is_some() => {
            out.customer_algorithm = Some("AES256".into());
            out.customer_key_md5 = customer_md5.map(str::to_string);
        }
        _ => {
            out.algorithm = Some(if sse.dsse { "aws:kms:dsse" } else { "aws:kms" }.into());
            out.kms_key_id = sse.kms_key_arn.clone();
            if sse.bucket_key {
                out.bucket_key_enabled = Some(true);
            }
            if with_context && let Some(c) = &sse.kms_context {
                out.kms_context = Some(B64.encode(serde_json::to_vec(c).unwrap_or_default()));
            }
        }
    }
    out
}
