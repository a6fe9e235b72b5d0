//! Object data files: one per segment, under `<data_root>/<bucket id>/<2 hex>/<segment id>`.
//!
//! A segment is written to `<data_root>/<bucket id>/tmp/`, fsynced, renamed into place and the
//! directory fsynced — all before the object record that names it is committed, so a record
//! never names a missing or partial file. Temporary files left by a crash are removed at start;
//! files a commit made unreachable are recorded in `s3.garbage` by that same commit and deleted
//! afterwards (here, or by the job loop after a crash).

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use coffer_crypto::digest::hex;
use coffer_crypto::object::{HEADER_LEN, ObjectKey, SegmentLayout, SegmentReader, SegmentWriter};
use coffer_store::{Expect, Write, tables};

use crate::{S3, S3Error};

/// Chunk size of new segments: 64 KiB.
pub(crate) const CHUNK_LOG2: u8 = 16;
/// Ciphertext is written in batches of this size.
const FLUSH: usize = 1 << 20;
/// Chunks read and decrypted per blocking task.
const BATCH_CHUNKS: u64 = 16;

fn io(what: &str, e: std::io::Error) -> S3Error {
    S3Error::Internal(format!("{what}: {e}"))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, S3Error> + Send + 'static) -> Result<T, S3Error> {
    tokio::task::spawn_blocking(f).await.map_err(|e| S3Error::Internal(format!("blocking task: {e}")))?
}

pub(crate) fn segment_path(root: &Path, bucket_id: &str, segment: &str) -> PathBuf {
    root.join(bucket_id).join(&segment[..2.min(segment.len())]).join(segment)
}

/// Creates the data root and removes temporary files of interrupted writes.
pub(crate) async fn prepare(root: &Path) -> Result<(), S3Error> {
    let root = root.to_path_buf();
    blocking(move || {
        fs::create_dir_all(&root).map_err(|e| io("creating the object data directory", e))?;
        for entry in fs::read_dir(&root).map_err(|e| io("reading the object data directory", e))? {
            let tmp = entry.map_err(|e| io("reading the object data directory", e))?.path().join("tmp");
            if tmp.is_dir() {
                for f in fs::read_dir(&tmp).map_err(|e| io("reading a temporary directory", e))?.flatten() {
                    let _ = fs::remove_file(f.path());
                }
            }
        }
        Ok(())
    })
    .await
}

pub(crate) async fn create_bucket_dir(root: &Path, bucket_id: &str) -> Result<(), S3Error> {
    let dir = root.join(bucket_id).join("tmp");
    blocking(move || fs::create_dir_all(&dir).map_err(|e| io("creating a bucket directory", e))).await
}

pub(crate) async fn remove_bucket_dir(root: &Path, bucket_id: &str) {
    let dir = root.join(bucket_id);
    let _ = blocking(move || {
        let _ = fs::remove_dir_all(&dir);
        Ok(())
    })
    .await;
}

fn sync_dir(dir: &Path) -> Result<(), S3Error> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io("syncing a directory", e))
}

/// A segment being written. Dropping it without `finish` leaves a temporary file that the next
/// start removes; call `abort` to remove it at once.
pub(crate) struct SegmentSink {
    file: Option<File>,
    tmp: PathBuf,
    dest: PathBuf,
    writer: Option<SegmentWriter>,
    out: Vec<u8>,
    size: u64,
}

impl SegmentSink {
    /// `key`: the object key (None: stored as sent, the benchmark-only plaintext mode).
    pub(crate) async fn create(root: &Path, bucket_id: &str, segment: &[u8; 16], key: Option<&ObjectKey>) -> Result<SegmentSink, S3Error> {
        let id = hex(segment);
        let tmp = root.join(bucket_id).join("tmp").join(format!("{id}.tmp"));
        let dest = segment_path(root, bucket_id, &id);
        let mut out = Vec::with_capacity(FLUSH + (1 << CHUNK_LOG2) + 64);
        let writer = key.map(|k| {
            let (w, header) = SegmentWriter::new(k.segment(*segment), CHUNK_LOG2);
            out.extend_from_slice(&header);
            w
        });
        let t = tmp.clone();
        let file = blocking(move || {
            if let Some(dir) = t.parent() {
                fs::create_dir_all(dir).map_err(|e| io("creating a temporary directory", e))?;
            }
            File::create(&t).map_err(|e| io("creating a data file", e))
        })
        .await?;
        Ok(SegmentSink { file: Some(file), tmp, dest, writer, out, size: 0 })
    }

    pub(crate) async fn write(&mut self, data: &[u8]) -> Result<(), S3Error> {
        self.size += data.len() as u64;
        match &mut self.writer {
            Some(w) => w.push(data, &mut self.out),
            None => self.out.extend_from_slice(data),
        }
        if self.out.len() >= FLUSH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), S3Error> {
        let mut file = self.file.take().ok_or_else(|| S3Error::Internal("data file already closed".into()))?;
        let buf = std::mem::take(&mut self.out);
        let (file, mut buf) = blocking(move || {
            file.write_all(&buf).map_err(|e| io("writing a data file", e))?;
            Ok((file, buf))
        })
        .await?;
        buf.clear();
        self.out = buf;
        self.file = Some(file);
        Ok(())
    }

    /// Completes the file: last chunk, fsync, rename into place, directory fsync. Returns the
    /// plaintext size.
    pub(crate) async fn finish(mut self) -> Result<u64, S3Error> {
        if let Some(w) = self.writer.take() {
            w.finish(&mut self.out);
        }
        self.flush().await?;
        let file = self.file.take().ok_or_else(|| S3Error::Internal("data file already closed".into()))?;
        let (tmp, dest) = (self.tmp.clone(), self.dest.clone());
        let result = blocking(move || {
            file.sync_all().map_err(|e| io("syncing a data file", e))?;
            drop(file);
            let dir = dest.parent().expect("segment paths have a parent");
            fs::create_dir_all(dir).map_err(|e| io("creating a data directory", e))?;
            fs::rename(&tmp, &dest).map_err(|e| io("renaming a data file", e))?;
            sync_dir(dir)
        })
        .await;
        if result.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        result.map(|()| self.size)
    }

    pub(crate) async fn abort(mut self) {
        self.file.take();
        let tmp = self.tmp.clone();
        let _ = blocking(move || {
            let _ = fs::remove_file(tmp);
            Ok(())
        })
        .await;
    }
}

/// Deletes the files of segments no record names any more.
pub(crate) async fn delete_files(root: &Path, bucket_id: &str, segments: Vec<String>) {
    if segments.is_empty() {
        return;
    }
    let paths: Vec<PathBuf> = segments.iter().map(|s| segment_path(root, bucket_id, s)).collect();
    let _ = blocking(move || {
        for p in paths {
            let _ = fs::remove_file(p);
        }
        Ok(())
    })
    .await;
}

/// `len` bytes of `file` from `offset`, read without zero-filling the buffer first; a short
/// file is an error.
fn read_at(file: &mut File, offset: u64, len: u64) -> Result<Vec<u8>, S3Error> {
    let mut buf = Vec::with_capacity(len as usize);
    file.seek(SeekFrom::Start(offset)).map_err(|e| io("reading a data file", e))?;
    file.take(len).read_to_end(&mut buf).map_err(|e| io("reading a data file", e))?;
    if buf.len() as u64 != len {
        return Err(S3Error::Internal("an object data file ended early".into()));
    }
    Ok(buf)
}

/// An open segment, ready for range reads. Reads run on blocking threads, several at once (see
/// [`crate::get::ObjectBody`]): the file is shared behind a lock held only while bytes are copied
/// from it, so the decryption, the expensive part, runs in parallel.
pub(crate) struct SegmentFile {
    file: Arc<std::sync::Mutex<File>>,
    reader: Option<Arc<SegmentReader>>,
    layout: SegmentLayout,
}

/// A read of part of a segment under way on a blocking thread.
pub(crate) struct PendingRead {
    /// Plaintext bytes it delivers.
    pub(crate) len: u64,
    /// Chunks it decrypts.
    pub(crate) chunks: u64,
    task: tokio::task::JoinHandle<Result<Bytes, S3Error>>,
}

impl PendingRead {
    pub(crate) async fn wait(self) -> Result<Bytes, S3Error> {
        self.task.await.map_err(|e| S3Error::Internal(format!("blocking task: {e}")))?
    }
}

impl SegmentFile {
    /// Opens a segment of `size` plaintext bytes (reads and checks its header when encrypted).
    pub(crate) async fn open(root: &Path, bucket_id: &str, segment: &str, size: u64, key: Option<&ObjectKey>) -> Result<SegmentFile, S3Error> {
        let path = segment_path(root, bucket_id, segment);
        let id: [u8; 16] = coffer_crypto::digest::unhex(segment)
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| S3Error::Internal(format!("bad segment id {segment}")))?;
        let layout = SegmentLayout { plaintext_len: size, chunk_size_log2: CHUNK_LOG2 };
        let encrypted = key.is_some();
        let (file, header) = blocking(move || {
            let mut f = File::open(&path).map_err(|e| io("opening a data file", e))?;
            let mut header = [0u8; HEADER_LEN];
            if encrypted {
                f.read_exact(&mut header).map_err(|e| io("reading a data file header", e))?;
            }
            Ok((f, header))
        })
        .await?;
        let reader = match key {
            Some(k) => Some(Arc::new(
                SegmentReader::new(k.segment(id), &header, SegmentLayout { plaintext_len: size, chunk_size_log2: CHUNK_LOG2 })
                    .map_err(|_| S3Error::Internal(format!("data file {segment} has a bad header")))?,
            )),
            None => None,
        };
        Ok(SegmentFile { file: Arc::new(std::sync::Mutex::new(file)), reader, layout })
    }

    /// Starts reading plaintext from `start` towards `end` (`start < end`): up to about 1 MiB,
    /// decrypting only the chunks that hold it. The read delivers exactly `len` bytes or fails.
    /// The chunks are decrypted in the buffer they were read into, each shifted over the tags
    /// before it by the decryption itself: no copy besides the read.
    pub(crate) fn start_read(&self, start: u64, end: u64) -> PendingRead {
        debug_assert!(start < end);
        let file = self.file.clone();
        let read = move |offset: u64, len: u64| {
            let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
            read_at(&mut f, offset, len)
        };
        let Some(reader) = self.reader.clone() else {
            let n = (end - start).min(FLUSH as u64);
            let task = tokio::task::spawn_blocking(move || read(start, n).map(Bytes::from));
            return PendingRead { len: n, chunks: 0, task };
        };
        let chunk = 1u64 << CHUNK_LOG2;
        let batch_end = end.min(((start >> CHUNK_LOG2) + BATCH_CHUNKS) << CHUNK_LOG2);
        let plan = self.layout.read_plan(start, batch_end);
        let (skip, take) = (plan.skip, plan.take as usize);
        let task = tokio::task::spawn_blocking(move || {
            let mut buf = read(plan.file_offset, plan.file_len)?;
            let out = reader
                .decrypt_chunks_within(plan.first_chunk, &mut buf)
                .map_err(|_| S3Error::Internal("an object data chunk failed authentication".into()))?;
            if out < skip + take {
                return Err(S3Error::Internal("an object data file is shorter than its record".into()));
            }
            Ok(Bytes::from(buf).slice(skip..skip + take))
        });
        PendingRead { len: plan.take, chunks: (skip as u64 + plan.take).div_ceil(chunk), task }
    }
}

impl S3 {
    /// Deletes the data files recorded as garbage, then their records. Returns how many.
    pub(crate) async fn collect_garbage(&self) -> usize {
        let mut done = 0;
        let Ok(items) = coffer_store::scan_all(self.store.as_ref(), tables::S3_GARBAGE).await else {
            return 0;
        };
        for item in items {
            let free = self.readers.claim(&item.pk, vec![item.sk.clone()]);
            if free.is_empty() {
                continue; // still being read: next time
            }
            delete_files(&self.config.data_root, &item.pk, free.clone()).await;
            self.readers.release(&item.pk, &free);
            if self.store.write(vec![Write::delete(tables::S3_GARBAGE, &item.pk, &item.sk, Expect::Any)]).await.is_ok() {
                done += 1;
            }
        }
        done
    }

    /// Deletes data files that no record names and that are older than `min_age`: files a crash
    /// left between their rename and the commit of their record, and directories of deleted
    /// buckets. The age guard keeps files of writes in flight (on any node) safe. Returns how
    /// many files were removed.
    pub(crate) async fn sweep_orphans(&self, min_age: std::time::Duration) -> Result<usize, S3Error> {
        let buckets: std::collections::HashMap<String, ()> =
            self.buckets.read().expect("bucket lock").values().map(|b| (b.rec.id.clone(), ())).collect();
        let mut referenced = std::collections::HashSet::new();
        for id in buckets.keys() {
            let mut after: Option<String> = None;
            loop {
                let page = self.store.list(tables::S3_OBJECTS, id, "", after.as_deref(), 1000).await?;
                for item in &page {
                    let rec: crate::records::ObjectRecord = crate::decode("object", &item.value)?;
                    referenced.extend(rec.segments.into_iter().map(|s| s.id));
                }
                if page.len() < 1000 {
                    break;
                }
                after = page.last().map(|i| i.sk.clone());
            }
            for upload in self.store.list(tables::S3_UPLOADS, id, "", None, usize::MAX / 2).await? {
                let mut after: Option<String> = None;
                loop {
                    let page = self.store.list(tables::S3_PARTS, &upload.sk, "", after.as_deref(), 1000).await?;
                    for item in &page {
                        let rec: crate::records::PartRecord = crate::decode("part", &item.value)?;
                        referenced.insert(rec.segment.id);
                    }
                    if page.len() < 1000 {
                        break;
                    }
                    after = page.last().map(|i| i.sk.clone());
                }
            }
        }
        let root = self.config.data_root.clone();
        blocking(move || {
            let old = |p: &Path| {
                fs::metadata(p).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).is_some_and(|age| age >= min_age)
            };
            let mut removed = 0;
            for entry in fs::read_dir(&root).map_err(|e| io("reading the object data directory", e))?.flatten() {
                let dir = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if !dir.is_dir() {
                    continue;
                }
                if !buckets.contains_key(&name) {
                    if old(&dir) {
                        let _ = fs::remove_dir_all(&dir);
                    }
                    continue;
                }
                for sub in fs::read_dir(&dir).map_err(|e| io("reading a bucket directory", e))?.flatten() {
                    if sub.file_name() == "tmp" || !sub.path().is_dir() {
                        continue;
                    }
                    for f in fs::read_dir(sub.path()).map_err(|e| io("reading a bucket directory", e))?.flatten() {
                        let seg = f.file_name().to_string_lossy().into_owned();
                        if !referenced.contains(&seg) && old(&f.path()) && fs::remove_file(f.path()).is_ok() {
                            removed += 1;
                        }
                    }
                }
            }
            Ok(removed)
        })
        .await
    }

    /// The garbage records for `segments` (to go into the batch that unreferences them).
    pub(crate) fn garbage(bucket_id: &str, segments: &[String]) -> Vec<Write> {
        segments.iter().map(|s| Write::put(tables::S3_GARBAGE, bucket_id, s, Vec::new(), Expect::Any)).collect()
    }

    /// After the batch with [`S3::garbage`] committed: delete the files and forget the records.
    pub(crate) async fn drop_segments(&self, bucket_id: &str, segments: Vec<String>) {
        if segments.is_empty() {
            return;
        }
        // Files a body is still reading stay recorded as garbage; the job loop deletes them later.
        let free = self.readers.claim(bucket_id, segments);
        delete_files(&self.config.data_root, bucket_id, free.clone()).await;
        self.readers.release(bucket_id, &free);
        if free.is_empty() {
            return;
        }
        let batch = free.iter().map(|s| Write::delete(tables::S3_GARBAGE, bucket_id, s, Expect::Any)).collect();
        let _ = self.store.write(batch).await;
    }
}

/// The data files this node is reading (bodies in flight) or deleting.
///
/// Why: an overwrite or delete unreferences the old object's data files and deletes them right
/// after its commit, while a GET that read the old record a moment earlier may still be
/// streaming them. A reader *pins* its files; a deleter *claims* files and skips pinned ones
/// (they stay recorded in `s3.garbage` and the job loop deletes them once unpinned). The race
/// between a reader's record read and its pin is closed by an epoch: every claim bumps it, and a
/// reader whose record is older than the last claim checks under the lock that its files still
/// exist, or reads the record again. Node-local: on several nodes sharing the objects directory
/// a reader on one node is not protected from a delete on another (docs/design.md).
#[derive(Default)]
pub(crate) struct Readers {
    inner: std::sync::Mutex<ReadersInner>,
}

#[derive(Default)]
struct ReadersInner {
    epoch: u64,
    reading: std::collections::HashMap<String, usize>,
    deleting: std::collections::HashSet<String>,
}

fn pin_key(bucket_id: &str, segment: &str) -> String {
    format!("{bucket_id}/{segment}")
}

impl Readers {
    fn lock(&self) -> std::sync::MutexGuard<'_, ReadersInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// Pins the files of a record read at `epoch`; `None` if they are being or have been
    /// deleted since (read the record again).
    pub(crate) fn pin(self: &Arc<Self>, root: &Path, bucket_id: &str, segments: &[String], epoch: u64) -> Option<ReadPin> {
        let keys: Vec<String> = segments.iter().map(|s| pin_key(bucket_id, s)).collect();
        let mut g = self.lock();
        if keys.iter().any(|k| g.deleting.contains(k)) {
            return None;
        }
        if g.epoch != epoch && !segments.iter().all(|s| segment_path(root, bucket_id, s).exists()) {
            return None;
        }
        for k in &keys {
            *g.reading.entry(k.clone()).or_default() += 1;
        }
        Some(ReadPin { readers: self.clone(), keys })
    }

    /// Claims `segments` for deletion: returns those not pinned, marked as being deleted until
    /// [`Readers::release`].
    fn claim(&self, bucket_id: &str, segments: Vec<String>) -> Vec<String> {
        let mut g = self.lock();
        g.epoch += 1;
        let free: Vec<String> = segments.into_iter().filter(|s| !g.reading.contains_key(&pin_key(bucket_id, s))).collect();
        for s in &free {
            g.deleting.insert(pin_key(bucket_id, s));
        }
        free
    }

    fn release(&self, bucket_id: &str, segments: &[String]) {
        let mut g = self.lock();
        for s in segments {
            g.deleting.remove(&pin_key(bucket_id, s));
        }
    }
}

/// Keeps a body's data files from being deleted on this node while it is read.
pub(crate) struct ReadPin {
    readers: Arc<Readers>,
    keys: Vec<String>,
}

impl Clone for ReadPin {
    fn clone(&self) -> Self {
        let mut g = self.readers.lock();
        for k in &self.keys {
            *g.reading.entry(k.clone()).or_default() += 1;
        }
        ReadPin { readers: self.readers.clone(), keys: self.keys.clone() }
    }
}

impl Drop for ReadPin {
    fn drop(&mut self) {
        let mut g = self.readers.lock();
        for k in &self.keys {
            if let Some(n) = g.reading.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    g.reading.remove(k);
                }
            }
        }
    }
}
