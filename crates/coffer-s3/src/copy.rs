//! CopyObject (including a copy onto itself to change encryption or metadata), and the source
//! side shared with UploadPartCopy. A copy always decrypts the source and encrypts the
//! destination under a fresh object key — re-keying, not re-wrapping, so rotating an SSE-C or
//! KMS key by copying really leaves no data under the old key.

use std::sync::Arc;

use async_trait::async_trait;
use coffer_crypto::checksum::ChecksumAlgorithm;
use coffer_crypto::digest::hex;
use coffer_crypto::random;
use coffer_policy::Caller;

use crate::checks::{Ingest, check_conditions, checksum_out, etag};
use crate::encryption::sse_output;
use crate::get::ObjectBody;
use crate::model::{BodySource, ChecksumHeaders, Conditions, CopyObjectInput, CopyObjectOutput, CustomerHeaders, Frame};
use crate::names::{check_key, check_metadata, check_storage_class, parse_tagging};
use crate::put::{MAX_PUT, WriteCondition, sse_condition_keys};
use crate::records::{BucketEntry, ObjectRecord, StoredChecksum, object_arn};
use crate::{S3, S3Error};

#[async_trait]
impl BodySource for ObjectBody {
    async fn next(&mut self) -> Option<Result<Frame, S3Error>> {
        ObjectBody::next(self).await.map(|r| r.map(Frame::Data))
    }
}

/// An object opened as the source of a copy.
pub(crate) struct Source {
    pub bucket: Arc<BucketEntry>,
    pub rec: ObjectRecord,
    pub customer: Option<(coffer_crypto::SecretBytes, String)>,
    pub pin: crate::data::ReadPin,
}

impl S3 {
    /// A bucket regardless of the request's region (copy sources may live elsewhere).
    fn any_bucket(&self, name: &str) -> Result<Arc<BucketEntry>, S3Error> {
        self.buckets.read().expect("bucket lock").get(name).cloned().ok_or_else(|| S3Error::NoSuchBucket(name.to_string()))
    }

    /// Opens a copy source: authorized for `s3:GetObject`, its conditions and SSE-C key checked.
    pub(crate) async fn copy_source(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        conditions: &Conditions,
        customer: &CustomerHeaders,
    ) -> Result<Source, S3Error> {
        if version.is_some_and(|v| v != "null") {
            return Err(S3Error::InvalidRequest("Coffer buckets are not versioned; a copy source versionId must be absent or null.".into()));
        }
        let sb = self.any_bucket(bucket)?;
        let (rec, pin) = self.pinned_object(caller, &sb, key, "s3:GetObject").await?;
        check_conditions(conditions, &rec.etag, rec.modified_ms, true)?;
        let customer = self.read_customer_key(caller, &rec.sse, customer)?;
        Ok(Source { bucket: sb, rec, customer, pin })
    }

    /// The plaintext of `[start, end)` of a copy source, as a body.
    pub(crate) async fn source_body(&self, caller: &Caller, src: &Source, start: u64, end: u64) -> Result<ObjectBody, S3Error> {
        let key = self.unprotect(caller, &src.rec.oid, &src.rec.sse, src.customer.as_ref().map(|(k, _)| k)).await?;
        Ok(ObjectBody::new(
            self.config.data_root.clone(),
            src.bucket.rec.id.clone(),
            key,
            &src.rec,
            start,
            end,
            self.stats.clone(),
            src.pin.clone(),
        ))
    }

    pub async fn copy_object(&self, caller: &Caller, input: CopyObjectInput) -> Result<CopyObjectOutput, S3Error> {
        check_key(&input.key)?;
        check_metadata(&input.metadata)?;
        if let Some(s) = &input.storage_class {
            check_storage_class(s)?;
        }
        let replace_meta = match input.metadata_directive.as_deref() {
            None | Some("COPY") => false,
            Some("REPLACE") => true,
            Some(other) => return Err(S3Error::invalid_argument("Unknown metadata directive.", "x-amz-metadata-directive", other)),
        };
        let replace_tags = match input.tagging_directive.as_deref() {
            None | Some("COPY") => false,
            Some("REPLACE") => true,
            Some(other) => return Err(S3Error::invalid_argument("Unknown tagging directive.", "x-amz-tagging-directive", other)),
        };
        let b = self.bucket(caller, &input.bucket)?;
        self.authorize(
            caller,
            Some(&b),
            "s3:PutObject",
            &object_arn(&b.rec.name, &input.key),
            &sse_condition_keys(&input.sse, input.storage_class.as_deref()),
        )?;
        let src = self
            .copy_source(caller, &input.source_bucket, &input.source_key, input.source_version.as_deref(), &input.source_conditions, &input.source_customer)
            .await?;
        if src.rec.size > MAX_PUT {
            return Err(S3Error::InvalidRequest(format!(
                "The specified copy source is larger than the maximum allowable size for a copy source: {MAX_PUT}"
            )));
        }
        let wanted = self.wanted(caller, &b, &input.key, &input.sse)?;
        let same_object = src.bucket.rec.id == b.rec.id && src.rec.key == input.key;
        if same_object
            && !replace_meta
            && input.storage_class.as_ref().is_none_or(|s| *s == src.rec.storage_class)
            && input.website_redirect.is_none()
            && wanted.same_as(&src.rec.sse)
        {
            return Err(S3Error::InvalidRequest(
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.".into(),
            ));
        }
        let (headers, metadata) = if replace_meta {
            (input.headers, input.metadata.into_iter().collect())
        } else {
            (src.rec.headers.clone(), src.rec.metadata.clone())
        };
        let tags = if replace_tags {
            match &input.tagging {
                Some(t) => parse_tagging(t)?,
                None => Vec::new(),
            }
        } else {
            src.rec.tags.clone()
        };
        let algorithm = match &input.checksum_algorithm {
            Some(a) => Some(crate::checks::algorithm(a)?),
            None => src.rec.checksum.as_ref().and_then(|c| ChecksumAlgorithm::from_name(&c.algorithm)),
        }
        .or(Some(ChecksumAlgorithm::Crc64Nvme));
        let ingest = Ingest::new(None, &ChecksumHeaders::default(), algorithm)?;
        let oid = hex(&random::bytes::<16>());
        let protection = self.protect(caller, &b, &oid, &wanted).await?;
        let ingest = ingest.etag_md5(crate::checks::etag_is_md5(&protection.sse));
        let mut body = self.source_body(caller, &src, 0, src.rec.size).await?;
        let (segment, done) = self.write_segment(&b.rec.id, protection.key.as_ref(), &mut body, ingest, Some(src.rec.size), MAX_PUT).await?;
        let rec = ObjectRecord {
            key: input.key.clone(),
            oid,
            size: done.size,
            etag: etag(&protection.sse, &done.md5),
            modified_ms: self.now_ms(),
            headers: crate::records::StoredHeaders { website_redirect: input.website_redirect.or(headers.website_redirect.clone()), ..headers },
            metadata,
            checksum: done.checksum.as_ref().map(|(a, v)| {
                let c = checksum_out(*a, v);
                StoredChecksum { algorithm: c.algorithm, value: c.value, kind: c.kind }
            }),
            sse: protection.sse,
            segments: vec![segment],
            parts: Vec::new(),
            storage_class: input.storage_class.unwrap_or_else(|| src.rec.storage_class.clone()),
            tags,
        };
        let out = CopyObjectOutput {
            etag: rec.etag.clone(),
            modified_ms: rec.modified_ms,
            sse: sse_output(&rec.sse, protection.customer_md5.as_deref(), true),
            checksum: done.checksum.as_ref().map(|(a, v)| checksum_out(*a, v)),
        };
        self.commit_object(&b, rec, &WriteCondition::default(), Vec::new(), true).await?;
        Ok(out)
    }
}
