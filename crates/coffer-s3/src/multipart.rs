//! Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads.
//!
//! The object key is chosen (and protected) when the upload is created; every part is its own
//! segment under that key, so completing an upload writes no data — the object record simply
//! names the parts' segments in order.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use coffer_crypto::checksum::{ChecksumAlgorithm, Checksummer, Md5};
use coffer_crypto::digest::{hex, unhex};
use coffer_crypto::random;
use coffer_policy::Caller;
use coffer_store::{Expect, StoreError, Write, tables};

use crate::checks::{Ingest, algorithm};
use crate::encryption::{customer_key, sse_output};
use crate::model::*;
use crate::names::{check_key, check_metadata, check_storage_class, parse_tagging};
use crate::put::{MAX_PUT, WriteCondition, sse_condition_keys};
use crate::records::{BucketEntry, ObjectRecord, PartRecord, PartSummary, StoredChecksum, UploadRecord, object_arn, part_sk};
use crate::{S3, S3Error, decode, encode};

const MIN_PART: u64 = 5 << 20;
const MAX_PARTS: i64 = 10_000;

fn part_number(n: i64) -> Result<u32, S3Error> {
    if (1..=MAX_PARTS).contains(&n) {
        Ok(n as u32)
    } else {
        Err(S3Error::invalid_argument("Part number must be an integer between 1 and 10000, inclusive", "partNumber", &n.to_string()))
    }
}

/// The SSE condition keys of a part or completion request: those of the upload, whose
/// encryption was chosen (and authorized) when it was created — part requests carry no
/// `x-amz-server-side-encryption` header, so a bucket policy requiring SSE-KMS must still let
/// the parts of an SSE-KMS upload through.
fn upload_condition_keys(up: &UploadRecord) -> crate::policy::Extra {
    let mut extra: crate::policy::Extra = Vec::new();
    let sse = &up.sse;
    if sse.ssec_check.is_some() {
        extra.push(("s3:x-amz-server-side-encryption-customer-algorithm".into(), vec!["AES256".into()]));
    } else if let Some(arn) = &sse.kms_key_arn {
        extra.push(("s3:x-amz-server-side-encryption".into(), vec![if sse.dsse { "aws:kms:dsse" } else { "aws:kms" }.into()]));
        extra.push(("s3:x-amz-server-side-encryption-aws-kms-key-id".into(), vec![arn.clone()]));
    } else {
        extra.push(("s3:x-amz-server-side-encryption".into(), vec!["AES256".into()]));
    }
    extra
}

/// `x-amz-copy-source-range`: exactly `bytes=first-last` within the source (no open ends, no
/// clamping, unlike a GET Range).
fn copy_range(r: &str, size: u64) -> Result<(u64, u64), S3Error> {
    let bad = || S3Error::invalid_argument(format!("Range specified is not valid for source object of size: {size}"), "x-amz-copy-source-range", r);
    let spec = r.trim().strip_prefix("bytes=").ok_or_else(bad)?;
    let (a, z) = spec.split_once('-').ok_or_else(bad)?;
    let (a, z) = (a.trim().parse::<u64>().map_err(|_| bad())?, z.trim().parse::<u64>().map_err(|_| bad())?);
    if a > z || z >= size {
        return Err(bad());
    }
    Ok((a, z + 1))
}

fn no_upload(id: &str) -> S3Error {
    S3Error::NoSuchUpload(id.to_string())
}


impl S3 {
    async fn upload(&self, b: &BucketEntry, key: &str, upload_id: &str) -> Result<(UploadRecord, i64), S3Error> {
        match self.store.get(tables::S3_UPLOADS, &b.rec.id, upload_id).await? {
            Some(item) => {
                let rec: UploadRecord = decode("upload", &item.value)?;
                if rec.key != key {
                    return Err(no_upload(upload_id));
                }
                Ok((rec, item.version))
            }
            None => Err(no_upload(upload_id)),
        }
    }

    async fn parts(&self, upload_id: &str) -> Result<Vec<(PartRecord, i64)>, S3Error> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.store.list(tables::S3_PARTS, upload_id, "", after.as_deref(), 1000).await?;
            let full = page.len() == 1000;
            for item in page {
                after = Some(item.sk.clone());
                out.push((decode::<PartRecord>("part", &item.value)?, item.version));
            }
            if !full {
                return Ok(out);
            }
        }
    }

    /// The SSE-C key a part request must carry when the upload is SSE-C.
    fn part_customer_key(&self, caller: &Caller, up: &UploadRecord, h: &CustomerHeaders) -> Result<Option<(coffer_crypto::SecretBytes, String)>, S3Error> {
        if up.sse.ssec_check.is_none() && !h.is_empty() {
            customer_key(h)?;
            return Err(S3Error::InvalidRequest(
                "The multipart upload initiate did not request encryption with a customer-provided key; its parts must not carry one.".into(),
            ));
        }
        if up.sse.ssec_check.is_some() && h.is_empty() {
            return Err(S3Error::InvalidRequest(
                "The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.".into(),
            ));
        }
        self.read_customer_key(caller, &up.sse, h)
    }

    pub async fn create_multipart_upload(&self, caller: &Caller, input: CreateMultipartInput) -> Result<CreateMultipartOutput, S3Error> {
        check_key(&input.key)?;
        check_metadata(&input.metadata)?;
        if let Some(s) = &input.storage_class {
            check_storage_class(s)?;
        }
        let tags = match &input.tagging {
            Some(t) => parse_tagging(t)?,
            None => Vec::new(),
        };
        let b = self.bucket(caller, &input.bucket)?;
        self.authorize(
            caller,
            Some(&b),
            "s3:PutObject",
            &object_arn(&b.rec.name, &input.key),
            &sse_condition_keys(&input.sse, input.storage_class.as_deref()),
        )?;
        let alg = input.checksum_algorithm.as_deref().map(algorithm).transpose()?;
        let checksum_type = match (input.checksum_type.as_deref(), alg) {
            (None, None) => None,
            (None, Some(a)) => Some(if a == ChecksumAlgorithm::Crc64Nvme { "FULL_OBJECT" } else { "COMPOSITE" }.to_string()),
            (Some("COMPOSITE"), Some(a)) if a != ChecksumAlgorithm::Crc64Nvme => Some("COMPOSITE".into()),
            (Some("FULL_OBJECT"), Some(a)) if a.is_crc() => Some("FULL_OBJECT".into()),
            (Some(t), a) => {
                return Err(S3Error::InvalidRequest(format!(
                    "The {} checksum type cannot be used with the {} checksum algorithm.",
                    t,
                    a.map(|a| a.name()).unwrap_or("(none)")
                )));
            }
        };
        let wanted = self.wanted(caller, &b, &input.key, &input.sse)?;
        let oid = hex(&random::bytes::<16>());
        let protection = self.protect(caller, &b, &oid, &wanted).await?;
        let upload_id = B64.encode(random::bytes::<48>()).replace(['+', '/', '='], "");
        let rec = UploadRecord {
            upload_id: upload_id.clone(),
            key: input.key.clone(),
            oid,
            initiated_ms: self.now_ms(),
            initiator: caller.principal.arn.clone(),
            headers: input.headers,
            metadata: input.metadata.into_iter().collect(),
            checksum_algorithm: alg.map(|a| a.name().to_string()),
            checksum_type: checksum_type.clone(),
            sse: protection.sse,
            storage_class: input.storage_class.unwrap_or_else(crate::records::standard),
            tags,
        };
        let batch = vec![
            Write::put(tables::S3_UPLOADS, &b.rec.id, &upload_id, encode(&rec), Expect::Absent),
            Write::check(tables::S3_BUCKETS, &b.rec.name, "", Expect::Exists),
        ];
        match self.store.write(batch).await {
            Ok(_) => {}
            Err(StoreError::Conflict { index: 1 }) => return Err(S3Error::NoSuchBucket(b.rec.name.clone())),
            Err(e) => return Err(e.into()),
        }
        Ok(CreateMultipartOutput {
            upload_id,
            sse: sse_output(&rec.sse, protection.customer_md5.as_deref(), true),
            checksum_algorithm: rec.checksum_algorithm.clone(),
            checksum_type,
        })
    }

    /// Stores a part (replacing an earlier one with the same number).
    async fn commit_part(&self, b: &BucketEntry, upload_id: &str, part: PartRecord) -> Result<(), S3Error> {
        let sk = part_sk(part.number);
        let value = encode(&part);
        for _ in 0..16 {
            let old = self.store.get(tables::S3_PARTS, upload_id, &sk).await?;
            let (expect, garbage) = match &old {
                Some(item) => (Expect::Version(item.version), vec![decode::<PartRecord>("part", &item.value)?.segment.id]),
                None => (Expect::Absent, Vec::new()),
            };
            let mut batch = vec![
                Write::put(tables::S3_PARTS, upload_id, &sk, value.clone(), expect),
                Write::check(tables::S3_UPLOADS, &b.rec.id, upload_id, Expect::Exists),
            ];
            batch.extend(S3::garbage(&b.rec.id, &garbage));
            match self.store.write(batch).await {
                Ok(_) => {
                    self.drop_segments(&b.rec.id, garbage).await;
                    return Ok(());
                }
                Err(StoreError::Conflict { index: 0 }) => continue,
                Err(StoreError::Conflict { .. }) => {
                    crate::data::delete_files(&self.config.data_root, &b.rec.id, vec![part.segment.id.clone()]).await;
                    return Err(no_upload(upload_id));
                }
                Err(e) => {
                    crate::data::delete_files(&self.config.data_root, &b.rec.id, vec![part.segment.id.clone()]).await;
                    return Err(e.into());
                }
            }
        }
        crate::data::delete_files(&self.config.data_root, &b.rec.id, vec![part.segment.id.clone()]).await;
        Err(S3Error::OperationAborted("A conflicting conditional operation is currently in progress against this resource. Please try again.".into()))
    }

    fn part_ingest(up: &UploadRecord, content_md5: Option<&str>, h: &ChecksumHeaders) -> Result<Ingest, S3Error> {
        let upload_alg = up.checksum_algorithm.as_deref().and_then(ChecksumAlgorithm::from_name);
        if let (Some(u), Some((name, _))) = (upload_alg, h.values.first())
            && algorithm(name)? != u
        {
            return Err(S3Error::InvalidRequest(format!(
                "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                u.name().to_ascii_lowercase(),
                name.to_ascii_lowercase()
            )));
        }
        // Without an upload algorithm, parts still get CRC64NVME for the full-object checksum
        // (next to whatever checksum the part itself carries).
        let ingest = Ingest::new(content_md5, h, Some(upload_alg.unwrap_or(ChecksumAlgorithm::Crc64Nvme)))?;
        let ingest = if upload_alg.is_none() { ingest.also(ChecksumAlgorithm::Crc64Nvme) } else { ingest };
        Ok(ingest.etag_md5(crate::checks::etag_is_md5(&up.sse)))
    }

    pub async fn upload_part(&self, caller: &Caller, input: UploadPartInput, body: &mut dyn BodySource) -> Result<UploadPartOutput, S3Error> {
        let number = part_number(input.part_number)?;
        let b = self.bucket(caller, &input.bucket)?;
        let (up, _) = self.upload(&b, &input.key, &input.upload_id).await?;
        self.authorize(caller, Some(&b), "s3:PutObject", &object_arn(&b.rec.name, &input.key), &upload_condition_keys(&up))?;
        let customer = self.part_customer_key(caller, &up, &input.customer)?;
        let declared = input.content_length.ok_or(S3Error::MissingContentLength)?;
        if declared > MAX_PUT {
            return Err(S3Error::EntityTooLarge("Your proposed upload exceeds the maximum allowed size".into()));
        }
        let ingest = Self::part_ingest(&up, input.content_md5.as_deref(), &input.checksum)?;
        let key = self.unprotect(caller, &up.oid, &up.sse, customer.as_ref().map(|(k, _)| k)).await?;
        let (segment, done) = self.write_segment(&b.rec.id, key.as_ref(), body, ingest, Some(declared), MAX_PUT).await?;
        self.finish_part(&b, &up, number, segment, done, customer.map(|(_, m)| m)).await
    }

    async fn finish_part(
        &self,
        b: &BucketEntry,
        up: &UploadRecord,
        number: u32,
        segment: crate::records::Segment,
        done: crate::checks::Ingested,
        customer_md5: Option<String>,
    ) -> Result<UploadPartOutput, S3Error> {
        // The part checksum recorded is the upload's algorithm's (none without one); the CRC kept
        // for combining is the upload's algorithm's, or CRC64NVME when the upload names none.
        let upload_alg = up.checksum_algorithm.as_deref().and_then(ChecksumAlgorithm::from_name);
        let combine_alg = upload_alg.unwrap_or(ChecksumAlgorithm::Crc64Nvme);
        let raw_of = |alg: ChecksumAlgorithm| {
            [&done.checksum, &done.also].into_iter().flatten().find(|(a, _)| *a == alg).map(|(_, raw)| raw.clone())
        };
        let checksum = upload_alg.and_then(raw_of).map(|raw| B64.encode(raw));
        let crc = if combine_alg.is_crc() { raw_of(combine_alg).map(|raw| raw.iter().fold(0u64, |acc, b| (acc << 8) | *b as u64)) } else { None };
        let part = PartRecord {
            number,
            segment,
            etag: crate::checks::etag(&up.sse, &done.md5),
            md5: hex(&done.md5),
            modified_ms: self.now_ms(),
            checksum: checksum.clone(),
            crc,
        };
        let etag = part.etag.clone();
        self.commit_part(b, &up.upload_id, part).await?;
        Ok(UploadPartOutput {
            etag,
            sse: sse_output(&up.sse, customer_md5.as_deref(), false),
            checksum: checksum.map(|v| ChecksumOut {
                algorithm: up.checksum_algorithm.clone().unwrap_or_default(),
                value: v,
                kind: up.checksum_type.clone().unwrap_or_else(|| "COMPOSITE".into()),
            }),
        })
    }

    pub async fn upload_part_copy(&self, caller: &Caller, input: UploadPartCopyInput) -> Result<(UploadPartOutput, i64), S3Error> {
        let number = part_number(input.part_number)?;
        let b = self.bucket(caller, &input.bucket)?;
        let (up, _) = self.upload(&b, &input.key, &input.upload_id).await?;
        self.authorize(caller, Some(&b), "s3:PutObject", &object_arn(&b.rec.name, &input.key), &upload_condition_keys(&up))?;
        let customer = self.part_customer_key(caller, &up, &input.customer)?;
        let src = self
            .copy_source(caller, &input.source_bucket, &input.source_key, input.source_version.as_deref(), &input.source_conditions, &input.source_customer)
            .await?;
        let (start, end) = match input.source_range.as_deref() {
            None => (0, src.rec.size),
            Some(r) => copy_range(r, src.rec.size)?,
        };
        if end - start > MAX_PUT {
            return Err(S3Error::InvalidRequest("The specified copy range is larger than the maximum part size (5 GiB).".into()));
        }
        let ingest = Self::part_ingest(&up, None, &ChecksumHeaders::default())?;
        let key = self.unprotect(caller, &up.oid, &up.sse, customer.as_ref().map(|(k, _)| k)).await?;
        let mut body = self.source_body(caller, &src, start, end).await?;
        let (segment, done) = self.write_segment(&b.rec.id, key.as_ref(), &mut body, ingest, Some(end - start), MAX_PUT).await?;
        let out = self.finish_part(&b, &up, number, segment, done, customer.map(|(_, m)| m)).await?;
        Ok((out, self.now_ms()))
    }

    pub async fn complete_multipart_upload(&self, caller: &Caller, input: CompleteMultipartInput) -> Result<CompleteMultipartOutput, S3Error> {
        let b = self.bucket(caller, &input.bucket)?;
        let (up, up_version) = self.upload(&b, &input.key, &input.upload_id).await?;
        self.authorize(caller, Some(&b), "s3:PutObject", &object_arn(&b.rec.name, &input.key), &upload_condition_keys(&up))?;
        if up.sse.ssec_check.is_some() && !input.customer.is_empty() {
            self.read_customer_key(caller, &up.sse, &input.customer)?;
        }
        if input.parts.is_empty() {
            return Err(S3Error::InvalidRequest("You must specify at least one part".into()));
        }
        let stored = self.parts(&input.upload_id).await?;
        let invalid_part = || {
            S3Error::InvalidPart(
                "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.".into(),
            )
        };
        let mut chosen: Vec<&PartRecord> = Vec::with_capacity(input.parts.len());
        let mut previous = 0i64;
        for p in &input.parts {
            if p.number <= previous {
                return Err(S3Error::InvalidPartOrder("The list of parts was not in ascending order. Parts must be ordered by part number.".into()));
            }
            previous = p.number;
            let number = part_number(p.number)?;
            let rec = stored.iter().map(|(r, _)| r).find(|r| r.number == number).ok_or_else(invalid_part)?;
            let given = p.etag.trim().trim_matches('"');
            if given != rec.etag {
                return Err(invalid_part());
            }
            for (alg, value) in &p.checksums {
                if up.checksum_algorithm.as_deref().is_none_or(|a| !a.eq_ignore_ascii_case(alg)) || rec.checksum.as_deref() != Some(value.as_str()) {
                    return Err(invalid_part());
                }
            }
            chosen.push(rec);
        }
        for p in &chosen[..chosen.len() - 1] {
            if p.segment.size < MIN_PART {
                return Err(S3Error::EntityTooSmall("Your proposed upload is smaller than the minimum allowed size".into()));
            }
        }
        // ETag: MD5 of the parts' binary ETags, then "-N".
        let mut md5 = Md5::new();
        for p in &chosen {
            md5.update(&unhex(&p.etag).unwrap_or_default());
        }
        let etag = format!("{}-{}", hex(&md5.finish()), chosen.len());
        let size: u64 = chosen.iter().map(|p| p.segment.size).sum();
        let checksum = self.complete_checksum(&up, &chosen, &input.checksum)?;
        let rec = ObjectRecord {
            key: up.key.clone(),
            oid: up.oid.clone(),
            size,
            etag: etag.clone(),
            modified_ms: self.now_ms(),
            headers: up.headers.clone(),
            metadata: up.metadata.clone(),
            checksum: checksum.clone(),
            sse: up.sse.clone(),
            segments: chosen.iter().map(|p| p.segment.clone()).collect(),
            parts: chosen.iter().map(|p| PartSummary { size: p.segment.size, checksum: p.checksum.clone() }).collect(),
            storage_class: up.storage_class.clone(),
            tags: up.tags.clone(),
        };
        let used: Vec<u32> = chosen.iter().map(|p| p.number).collect();
        let unused: Vec<String> = stored.iter().filter(|(r, _)| !used.contains(&r.number)).map(|(r, _)| r.segment.id.clone()).collect();
        let mut extra = vec![Write::delete(tables::S3_UPLOADS, &b.rec.id, &up.upload_id, Expect::Version(up_version))];
        extra.extend(stored.iter().map(|(r, v)| Write::delete(tables::S3_PARTS, &up.upload_id, part_sk(r.number), Expect::Version(*v))));
        extra.extend(S3::garbage(&b.rec.id, &unused));
        let cond = WriteCondition { if_match: input.if_match.clone(), if_none_match: input.if_none_match.clone() };
        self.commit_object(&b, rec, &cond, extra, false).await.map_err(|e| match e {
            S3Error::OperationAborted(_) => no_upload(&up.upload_id),
            e => e,
        })?;
        self.drop_segments(&b.rec.id, unused).await;
        Ok(CompleteMultipartOutput {
            etag,
            sse: sse_output(&up.sse, None, false),
            checksum: checksum.map(|c| ChecksumOut { algorithm: c.algorithm, value: c.value, kind: c.kind }),
        })
    }

    /// The object checksum of a completed upload: COMPOSITE (checksum of the part checksums,
    /// `-N`) or FULL_OBJECT (the parts' CRCs combined), checked against a value the client sent.
    fn complete_checksum(&self, up: &UploadRecord, parts: &[&PartRecord], h: &ChecksumHeaders) -> Result<Option<StoredChecksum>, S3Error> {
        let alg = up.checksum_algorithm.as_deref().and_then(ChecksumAlgorithm::from_name).unwrap_or(ChecksumAlgorithm::Crc64Nvme);
        let kind = up.checksum_type.clone().unwrap_or_else(|| "FULL_OBJECT".into());
        let value = if kind == "COMPOSITE" {
            let mut c = Checksummer::new(alg);
            for p in parts {
                let Some(v) = p.checksum.as_deref().and_then(|v| B64.decode(v).ok()) else { return Ok(None) };
                c.update(&v);
            }
            format!("{}-{}", B64.encode(c.finish()), parts.len())
        } else {
            let width = alg.value_len();
            let bytes = |crc: u64| crc.to_be_bytes()[8 - width..].to_vec();
            let mut acc: Option<Vec<u8>> = None;
            for p in parts {
                let Some(crc) = p.crc else { return Ok(None) };
                acc = Some(match acc {
                    None => bytes(crc),
                    Some(a) => alg.combine(&a, &bytes(crc), p.segment.size).ok_or_else(|| S3Error::Internal("checksum combine".into()))?,
                });
            }
            match acc {
                Some(a) => B64.encode(a),
                None => return Ok(None),
            }
        };
        if let Some((name, given)) = h.values.first() {
            if !name.eq_ignore_ascii_case(alg.name()) {
                return Err(S3Error::InvalidRequest(format!("The upload was created using the {} checksum algorithm.", alg.name())));
            }
            if given.trim() != value {
                return Err(S3Error::BadDigest(format!("The {} you specified did not match the calculated checksum.", alg.name())));
            }
        }
        Ok(Some(StoredChecksum { algorithm: alg.name().to_string(), value, kind }))
    }

    pub async fn abort_multipart_upload(&self, caller: &Caller, bucket: &str, key: &str, upload_id: &str) -> Result<(), S3Error> {
        let b = self.bucket(caller, bucket)?;
        self.authorize(caller, Some(&b), "s3:AbortMultipartUpload", &object_arn(bucket, key), &Vec::new())?;
        let (up, version) = self.upload(&b, key, upload_id).await?;
        self.remove_upload(&b.rec.id, &up.upload_id, Some(version)).await
    }

    async fn remove_upload(&self, bucket_id: &str, upload_id: &str, version: Option<i64>) -> Result<(), S3Error> {
        let parts = self.parts(upload_id).await?;
        let segments: Vec<String> = parts.iter().map(|(r, _)| r.segment.id.clone()).collect();
        let mut batch = vec![Write::delete(tables::S3_UPLOADS, bucket_id, upload_id, version.map(Expect::Version).unwrap_or(Expect::Any))];
        batch.extend(parts.iter().map(|(r, _)| Write::delete(tables::S3_PARTS, upload_id, part_sk(r.number), Expect::Any)));
        batch.extend(S3::garbage(bucket_id, &segments));
        match self.store.write(batch).await {
            Ok(_) => {
                self.drop_segments(bucket_id, segments).await;
                Ok(())
            }
            Err(StoreError::Conflict { .. }) => Err(no_upload(upload_id)),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes every upload of a deleted bucket (its data directory goes with the bucket).
    pub(crate) async fn discard_uploads(&self, bucket_id: &str) {
        if let Ok(items) = self.store.list(tables::S3_UPLOADS, bucket_id, "", None, 100_000).await {
            for item in items {
                let _ = self.remove_upload(bucket_id, &item.sk, None).await;
            }
        }
    }

    pub async fn list_parts(&self, caller: &Caller, input: ListPartsInput) -> Result<ListPartsOutput, S3Error> {
        let ListPartsInput { bucket, key, upload_id, max_parts, marker, customer } = input;
        let (bucket, key, upload_id, customer) = (bucket.as_str(), key.as_str(), upload_id.as_str(), &customer);
        let b = self.bucket(caller, bucket)?;
        self.authorize(caller, Some(&b), "s3:ListMultipartUploadParts", &object_arn(bucket, key), &Vec::new())?;
        let (up, _) = self.upload(&b, key, upload_id).await?;
        if up.sse.ssec_check.is_some() && !customer.is_empty() {
            self.read_customer_key(caller, &up.sse, customer)?;
        }
        let max = match max_parts {
            Some(m) if m < 0 => return Err(S3Error::invalid_argument("Argument max-parts must be an integer between 0 and 2147483647", "max-parts", &m.to_string())),
            Some(m) => m.min(1000),
            None => 1000,
        };
        let marker = marker.unwrap_or(0).max(0) as u32;
        let all: Vec<PartRecord> = self.parts(upload_id).await?.into_iter().map(|(r, _)| r).filter(|r| r.number > marker).collect();
        let truncated = all.len() as i64 > max;
        let parts: Vec<ListedPart> = all
            .into_iter()
            .take(max as usize)
            .map(|r| ListedPart { number: r.number, modified_ms: r.modified_ms, etag: r.etag, size: r.segment.size, checksum: r.checksum })
            .collect();
        Ok(ListPartsOutput {
            upload_id: up.upload_id.clone(),
            key: up.key.clone(),
            initiator: up.initiator.clone(),
            owner: b.rec.account.clone(),
            storage_class: up.storage_class.clone(),
            part_number_marker: marker,
            next_part_number_marker: parts.last().map(|p| p.number),
            max_parts: max,
            is_truncated: truncated,
            parts,
            checksum_algorithm: up.checksum_algorithm.clone(),
            checksum_type: up.checksum_type.clone(),
            sse: sse_output(&up.sse, None, false),
        })
    }

    pub async fn list_multipart_uploads(&self, caller: &Caller, input: ListUploadsInput) -> Result<ListUploadsOutput, S3Error> {
        let b = self.bucket(caller, &input.bucket)?;
        self.authorize(caller, Some(&b), "s3:ListBucketMultipartUploads", &b.arn(), &Vec::new())?;
        let max = match input.max_uploads {
            Some(m) if m < 0 => return Err(S3Error::invalid_argument("Argument max-uploads must be an integer between 0 and 2147483647", "max-uploads", &m.to_string())),
            Some(m) => m.min(1000),
            None => 1000,
        };
        let mut all: Vec<UploadRecord> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.store.list(tables::S3_UPLOADS, &b.rec.id, "", after.as_deref(), 1000).await?;
            let full = page.len() == 1000;
            for item in page {
                after = Some(item.sk.clone());
                let u: UploadRecord = decode("upload", &item.value)?;
                if u.key.starts_with(&input.prefix) {
                    all.push(u);
                }
            }
            if !full {
                break;
            }
        }
        all.sort_by(|a, b| a.key.cmp(&b.key).then(a.initiated_ms.cmp(&b.initiated_ms)).then(a.upload_id.cmp(&b.upload_id)));
        if let Some(km) = input.key_marker.as_deref().filter(|k| !k.is_empty()) {
            let um = input.upload_id_marker.clone();
            all.retain(|u| match &um {
                Some(id) if u.key == km => u.upload_id.as_str() > id.as_str(),
                _ => u.key.as_str() > km,
            });
        }
        let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
        let mut uploads = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut truncated = false;
        let mut last: Option<(String, Option<String>)> = None;
        for u in all {
            if (uploads.len() + prefixes.len()) as i64 >= max {
                truncated = true;
                break;
            }
            if let Some(d) = &delimiter
                && let Some(i) = u.key[input.prefix.len()..].find(d.as_str())
            {
                let cp = u.key[..input.prefix.len() + i + d.len()].to_string();
                if !prefixes.contains(&cp) {
                    last = Some((cp.clone(), None));
                    prefixes.push(cp);
                }
                continue;
            }
            last = Some((u.key.clone(), Some(u.upload_id.clone())));
            uploads.push(ListedUpload {
                key: u.key,
                upload_id: u.upload_id,
                initiator: u.initiator,
                initiated_ms: u.initiated_ms,
                storage_class: u.storage_class,
                checksum_algorithm: u.checksum_algorithm,
                checksum_type: u.checksum_type,
            });
        }
        let (next_key, next_id) = if truncated { last.map(|(k, id)| (Some(k), id)).unwrap_or((None, None)) } else { (None, None) };
        Ok(ListUploadsOutput {
            owner: b.rec.account.clone(),
            uploads,
            common_prefixes: prefixes,
            is_truncated: truncated,
            next_key_marker: next_key,
            next_upload_id_marker: next_id,
            max_uploads: max,
        })
    }
}
