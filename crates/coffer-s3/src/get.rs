//! GetObject and HeadObject: preconditions, ranges and parts, SSE checks, and the streaming
//! body that decrypts only the chunks a range needs.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use coffer_crypto::object::ObjectKey;
use coffer_policy::Caller;

use crate::checks::{check_conditions, parse_range};
use crate::data::{PendingRead, ReadPin, SegmentFile};
use crate::encryption::sse_output;
use crate::model::{ChecksumOut, GetObjectInput, ObjectMeta};
use crate::records::{BucketEntry, ObjectRecord, object_arn};
use crate::{S3, S3Error, S3Stats};

/// Reads in flight per body, the one [`ObjectBody::next`] waits for included: batches already
/// delivered are sent (from the response's channel) while the following ones are read and
/// decrypted on blocking threads, so decryption and sending overlap (one read at a time, started
/// only when the previous one was delivered, left a core idle).
const READ_AHEAD: usize = 2;

/// An object's bytes, streamed: `next` delivers about 1 MiB at a time, read and decrypted ahead.
pub struct ObjectBody {
    root: PathBuf,
    bucket_id: String,
    key: Option<ObjectKey>,
    /// (segment id, segment size, first byte, end byte) still to send, in order.
    pieces: VecDeque<(String, u64, u64, u64)>,
    current: Option<(SegmentFile, u64, u64)>,
    /// Reads started and not yet delivered, in body order.
    inflight: VecDeque<PendingRead>,
    stats: Arc<S3Stats>,
    /// Keeps the data files from being deleted by an overwrite while the body is read.
    _pin: ReadPin,
}

impl ObjectBody {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        root: PathBuf,
        bucket_id: String,
        key: Option<ObjectKey>,
        rec: &ObjectRecord,
        start: u64,
        end: u64,
        stats: Arc<S3Stats>,
        pin: ReadPin,
    ) -> ObjectBody {
        let mut pieces = VecDeque::new();
        let mut offset = 0u64;
        for s in &rec.segments {
            let (seg_start, seg_end) = (offset, offset + s.size);
            let (a, b) = (start.max(seg_start), end.min(seg_end));
            if a < b {
                pieces.push_back((s.id.clone(), s.size, a - seg_start, b - seg_start));
            }
            offset = seg_end;
        }
        ObjectBody { root, bucket_id, key, pieces, current: None, inflight: VecDeque::new(), stats, _pin: pin }
    }

    /// Starts reads until [`READ_AHEAD`] are in flight or the body is all asked for, opening
    /// the next segment when one is used up.
    async fn fill(&mut self) -> Result<(), S3Error> {
        while self.inflight.len() < READ_AHEAD {
            match &mut self.current {
                Some((file, pos, end)) if *pos < *end => {
                    let read = file.start_read(*pos, *end);
                    *pos += read.len;
                    self.stats.chunks_read.fetch_add(read.chunks, Ordering::Relaxed);
                    self.inflight.push_back(read);
                }
                _ => {
                    let Some((id, size, a, b)) = self.pieces.pop_front() else { break };
                    let file = SegmentFile::open(&self.root, &self.bucket_id, &id, size, self.key.as_ref()).await?;
                    self.current = Some((file, a, b));
                }
            }
        }
        Ok(())
    }

    /// The next piece of the body (about 1 MiB); `None` at the end. An error mid-stream means
    /// the data on disk is damaged: the response must be aborted, not completed.
    pub async fn next(&mut self) -> Option<Result<Bytes, S3Error>> {
        if let Err(e) = self.fill().await {
            return Some(Err(e));
        }
        let read = self.inflight.pop_front()?;
        Some(read.wait().await)
    }
}

impl S3 {
    /// The object's record, or the error S3 gives: NoSuchKey if the caller may list the bucket,
    /// otherwise AccessDenied (so that existence does not leak).
    pub(crate) async fn readable_object(&self, caller: &Caller, b: &BucketEntry, key: &str, action: &str) -> Result<(ObjectRecord, i64), S3Error> {
        let arn = object_arn(&b.rec.name, key);
        self.authorize(caller, Some(b), action, &arn, &Vec::new())?;
        match self.object(b, key).await? {
            Some(x) => Ok(x),
            None => {
                if self.authorize(caller, Some(b), "s3:ListBucket", &b.arn(), &Vec::new()).is_ok() {
                    Err(S3Error::NoSuchKey(key.to_string()))
                } else {
                    Err(S3Error::AccessDenied(format!(
                        "User: {} is not authorized to perform: s3:ListBucket on resource: {} because no identity-based policy allows the s3:ListBucket action",
                        caller.principal.arn,
                        b.arn()
                    )))
                }
            }
        }
    }

    /// [`S3::readable_object`], with its data files pinned against deletion on this node (see
    /// `data::Readers`): a GET racing an overwrite streams the version it read, whole.
    pub(crate) async fn pinned_object(&self, caller: &Caller, b: &BucketEntry, key: &str, action: &str) -> Result<(ObjectRecord, ReadPin), S3Error> {
        for _ in 0..8 {
            let epoch = self.readers.epoch();
            let (rec, _) = self.readable_object(caller, b, key, action).await?;
            let segments: Vec<String> = rec.segments.iter().map(|s| s.id.clone()).collect();
            if let Some(pin) = self.readers.pin(&self.config.data_root, &b.rec.id, &segments, epoch) {
                return Ok((rec, pin));
            }
        }
        Err(S3Error::Wire {
            code: "ServiceUnavailable".into(),
            status: 503,
            message: "The object is being rewritten too often to be read; retry.".into(),
        })
    }

    /// GetObject (and HeadObject when `input.head`): the metadata and, for GET, the body.
    pub async fn get_object(&self, caller: &Caller, input: GetObjectInput) -> Result<(ObjectMeta, Option<ObjectBody>), S3Error> {
        let b = self.bucket(caller, &input.bucket)?;
        let (rec, pin) = self.pinned_object(caller, &b, &input.key, "s3:GetObject").await?;
        if input.sse_algorithm_header.is_some() {
            return Err(S3Error::invalid_argument(
                "x-amz-server-side-encryption header is not supported for this operation.",
                "x-amz-server-side-encryption",
                input.sse_algorithm_header.as_deref().unwrap_or(""),
            ));
        }
        let customer = self.read_customer_key(caller, &rec.sse, &input.customer)?;
        check_conditions(&input.conditions, &rec.etag, rec.modified_ms, false)?;
        let size = rec.size;
        let (start, end, content_range, part) = match input.part_number {
            Some(n) => {
                let count = rec.parts.len().max(1);
                if n == 0 || n as usize > count {
                    return Err(S3Error::InvalidPart(format!("The requested partnumber is not satisfiable (part {n} of {count})")));
                }
                if rec.parts.is_empty() {
                    (0, size, None, None)
                } else {
                    let before: u64 = rec.parts[..(n - 1) as usize].iter().map(|p| p.size).sum();
                    let len = rec.parts[(n - 1) as usize].size;
                    let range = (len > 0).then(|| (before, before + len - 1, size));
                    (before, before + len, range, Some(n))
                }
            }
            None => match parse_range(input.range.as_deref(), size)? {
                Some((a, z)) => (a, z + 1, Some((a, z, size)), None),
                None => (0, size, None, None),
            },
        };
        let customer_md5 = customer.as_ref().map(|(_, m)| m.clone());
        let checksum = if input.checksum_mode && (content_range.is_none() || part.is_some()) {
            match (&rec.checksum, part) {
                (Some(c), None) => Some(ChecksumOut { algorithm: c.algorithm.clone(), value: c.value.clone(), kind: c.kind.clone() }),
                (Some(c), Some(n)) => rec.parts.get((n - 1) as usize).and_then(|p| p.checksum.clone()).map(|v| ChecksumOut {
                    algorithm: c.algorithm.clone(),
                    value: v,
                    kind: "COMPOSITE".into(),
                }),
                _ => None,
            }
        } else {
            None
        };
        let meta = ObjectMeta {
            key: rec.key.clone(),
            content_length: end - start,
            content_range,
            etag: rec.etag.clone(),
            modified_ms: rec.modified_ms,
            headers: rec.headers.clone(),
            metadata: rec.metadata.clone(),
            sse: sse_output(&rec.sse, customer_md5.as_deref(), false),
            checksum,
            // AWS reports the part count only to requests that name a part.
            parts_count: input.part_number.map(|_| rec.parts.len().max(1)),
            storage_class: rec.storage_class.clone(),
            tag_count: rec.tags.len(),
        };
        if input.head {
            return Ok((meta, None));
        }
        let key = self.unprotect(caller, &rec.oid, &rec.sse, customer.as_ref().map(|(k, _)| k)).await?;
        let body = ObjectBody::new(self.config.data_root.clone(), b.rec.id.clone(), key, &rec, start, end, self.stats.clone(), pin);
        Ok((meta, Some(body)))
    }
}
