//! PutObject, and the write path every operation that creates data shares: stream a body into a
//! new encrypted segment, then commit the object record.

use coffer_crypto::checksum::ChecksumAlgorithm;
use coffer_crypto::digest::hex;
use coffer_crypto::object::{ObjectKey, new_segment_id};
use coffer_crypto::random;
use coffer_policy::Caller;
use coffer_store::{Expect, StoreError, Write, tables};

use crate::checks::{Ingest, Ingested, checksum_out, etag, etag_matches};
use crate::encryption::sse_output;
use crate::model::{BodySource, Frame, PutObjectInput, PutObjectOutput, SseHeaders};
use crate::names::{check_key, check_metadata, check_storage_class, parse_tagging};
use crate::policy::Extra;
use crate::records::{BucketEntry, ObjectRecord, Segment, StoredChecksum, object_arn};
use crate::{S3, S3Error, decode, encode};

/// The largest single PUT (5 GiB).
pub(crate) const MAX_PUT: u64 = 5 << 30;

/// Condition keys describing a write's SSE headers.
pub(crate) fn sse_condition_keys(h: &SseHeaders, storage_class: Option<&str>) -> Extra {
    let mut extra: Extra = Vec::new();
    if let Some(a) = &h.algorithm {
        extra.push(("s3:x-amz-server-side-encryption".into(), vec![a.clone()]));
    }
    if let Some(k) = &h.kms_key_id {
        extra.push(("s3:x-amz-server-side-encryption-aws-kms-key-id".into(), vec![k.clone()]));
    }
    if let Some(a) = &h.customer.algorithm {
        extra.push(("s3:x-amz-server-side-encryption-customer-algorithm".into(), vec![a.clone()]));
    }
    if let Some(s) = storage_class {
        extra.push(("s3:x-amz-storage-class".into(), vec![s.to_string()]));
    }
    extra
}

/// Conditions on the object a write replaces.
#[derive(Default, Clone)]
pub(crate) struct WriteCondition {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

impl WriteCondition {
    fn check(&self, current: Option<&ObjectRecord>) -> Result<(), S3Error> {
        if let Some(n) = &self.if_none_match {
            if n.trim() != "*" {
                return Err(S3Error::NotImplemented("If-None-Match on a write only supports '*'.".into()));
            }
            if current.is_some() {
                return Err(S3Error::precondition("If-None-Match"));
            }
        }
        if let Some(m) = &self.if_match {
            match current {
                None => return Err(S3Error::NoSuchKey(String::new())),
                Some(c) if !etag_matches(m, &c.etag) => return Err(S3Error::precondition("If-Match")),
                Some(_) => {}
            }
        }
        Ok(())
    }
}

impl S3 {
    /// Streams `body` into a new segment of `bucket_id` under `key` (None: plaintext mode).
    /// Nothing is visible until the caller commits a record naming the returned segment.
    pub(crate) async fn write_segment(
        &self,
        bucket_id: &str,
        key: Option<&ObjectKey>,
        body: &mut dyn BodySource,
        mut ingest: Ingest,
        declared: Option<u64>,
        max: u64,
    ) -> Result<(Segment, Ingested), S3Error> {
        let id = new_segment_id();
        let mut sink = crate::data::SegmentSink::create(&self.config.data_root, bucket_id, &id, key).await?;
        let result: Result<(), S3Error> = async {
            while let Some(frame) = body.next().await {
                match frame? {
                    Frame::Data(d) => {
                        if ingest.size + d.len() as u64 > max {
                            return Err(S3Error::EntityTooLarge("Your proposed upload exceeds the maximum allowed size".into()));
                        }
                        ingest.update(&d);
                        sink.write(&d).await?;
                    }
                    Frame::Trailers(t) => ingest.trailers(&t)?,
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            sink.abort().await;
            return Err(e);
        }
        let done = match ingest.finish(declared) {
            Ok(d) => d,
            Err(e) => {
                sink.abort().await;
                return Err(e);
            }
        };
        let size = sink.finish().await?;
        Ok((Segment { id: hex(&id), size }, done))
    }

    /// The current record of an object with its store version.
    pub(crate) async fn object(&self, b: &BucketEntry, key: &str) -> Result<Option<(ObjectRecord, i64)>, S3Error> {
        match self.store.get(tables::S3_OBJECTS, &b.rec.id, key).await? {
            Some(item) => Ok(Some((decode("object", &item.value)?, item.version))),
            None => Ok(None),
        }
    }

    /// Commits `rec` as the object's new record, replacing whatever is there (subject to
    /// `cond`), together with `extra` writes. The replaced record's data becomes garbage in the
    /// same transaction and is deleted afterwards. On failure the new record's data is deleted.
    /// `owns_data`: the new segments belong to this request alone (not to a multipart upload
    /// that outlives a failed completion), so they are deleted if the commit fails.
    pub(crate) async fn commit_object(
        &self,
        b: &BucketEntry,
        rec: ObjectRecord,
        cond: &WriteCondition,
        extra: Vec<Write>,
        owns_data: bool,
    ) -> Result<(), S3Error> {
        let new_segments: Vec<String> = rec.segments.iter().map(|s| s.id.clone()).collect();
        let result = self.try_commit_object(b, &rec, cond, extra).await;
        if result.is_err() && owns_data {
            crate::data::delete_files(&self.config.data_root, &b.rec.id, new_segments).await;
        }
        result
    }

    async fn try_commit_object(&self, b: &BucketEntry, rec: &ObjectRecord, cond: &WriteCondition, extra: Vec<Write>) -> Result<(), S3Error> {
        let value = encode(rec);
        for _ in 0..16 {
            let current = self.object(b, &rec.key).await?;
            cond.check(current.as_ref().map(|(r, _)| r)).map_err(|e| match e {
                S3Error::NoSuchKey(_) => S3Error::NoSuchKey(rec.key.clone()),
                e => e,
            })?;
            let (expect, old) = match &current {
                Some((r, v)) => (Expect::Version(*v), r.segments.iter().map(|s| s.id.clone()).collect::<Vec<_>>()),
                None => (Expect::Absent, Vec::new()),
            };
            let mut batch = vec![
                Write::put(tables::S3_OBJECTS, &b.rec.id, &rec.key, value.clone(), expect),
                Write::check(tables::S3_BUCKETS, &b.rec.name, "", Expect::Exists),
            ];
            batch.extend(S3::garbage(&b.rec.id, &old));
            batch.extend(extra.iter().cloned());
            match self.store.write(batch).await {
                Ok(_) => {
                    self.drop_segments(&b.rec.id, old).await;
                    return Ok(());
                }
                Err(StoreError::Conflict { index: 0 }) => continue,
                Err(StoreError::Conflict { index: 1 }) => return Err(S3Error::NoSuchBucket(b.rec.name.clone())),
                Err(StoreError::Conflict { .. }) => {
                    return Err(S3Error::OperationAborted(
                        "A conflicting conditional operation is currently in progress against this resource. Please try again.".into(),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(S3Error::OperationAborted("A conflicting conditional operation is currently in progress against this resource. Please try again.".into()))
    }

    pub async fn put_object(&self, caller: &Caller, input: PutObjectInput, body: &mut dyn BodySource) -> Result<PutObjectOutput, S3Error> {
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
        let arn = object_arn(&b.rec.name, &input.key);
        self.authorize(caller, Some(&b), "s3:PutObject", &arn, &sse_condition_keys(&input.sse, input.storage_class.as_deref()))?;
        let declared = input.content_length.ok_or(S3Error::MissingContentLength)?;
        if declared > MAX_PUT {
            return Err(S3Error::EntityTooLarge("Your proposed upload exceeds the maximum allowed size".into()));
        }
        let ingest = Ingest::new(input.content_md5.as_deref(), &input.checksum, Some(ChecksumAlgorithm::Crc64Nvme))?;
        let cond = WriteCondition { if_match: input.if_match.clone(), if_none_match: input.if_none_match.clone() };
        if cond.if_match.is_some() || cond.if_none_match.is_some() {
            // Fail early (before reading the body); checked again at commit.
            cond.check(self.object(&b, &input.key).await?.as_ref().map(|(r, _)| r)).map_err(|e| match e {
                S3Error::NoSuchKey(_) => S3Error::NoSuchKey(input.key.clone()),
                e => e,
            })?;
        }
        let wanted = self.wanted(caller, &b, &input.key, &input.sse)?;
        let oid = hex(&random::bytes::<16>());
        let protection = self.protect(caller, &b, &oid, &wanted).await?;
        let ingest = ingest.etag_md5(crate::checks::etag_is_md5(&protection.sse));
        let (segment, done) = self.write_segment(&b.rec.id, protection.key.as_ref(), body, ingest, Some(declared), MAX_PUT).await?;
        let rec = ObjectRecord {
            key: input.key.clone(),
            oid,
            size: done.size,
            etag: etag(&protection.sse, &done.md5),
            modified_ms: self.now_ms(),
            headers: input.headers,
            metadata: input.metadata.into_iter().collect(),
            checksum: done.checksum.as_ref().map(|(a, v)| {
                let c = checksum_out(*a, v);
                StoredChecksum { algorithm: c.algorithm, value: c.value, kind: c.kind }
            }),
            sse: protection.sse,
            segments: vec![segment],
            parts: Vec::new(),
            storage_class: input.storage_class.unwrap_or_else(crate::records::standard),
            tags,
        };
        let out = PutObjectOutput {
            etag: rec.etag.clone(),
            sse: sse_output(&rec.sse, protection.customer_md5.as_deref(), true),
            checksum: done.checksum.as_ref().map(|(a, v)| checksum_out(*a, v)),
            size: rec.size,
        };
        self.commit_object(&b, rec, &cond, Vec::new(), true).await?;
        Ok(out)
    }
}
