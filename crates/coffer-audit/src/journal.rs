//! The writer: open and recover, group commit, rotation, failure handling.
//!
//! One writer thread per [`Journal`] batches appends and hands each batch to its storage, a
//! `Sink`: the files described here, or the PostgreSQL table of [`Journal::open_postgres`]
//! (see the crate documentation). Both frame records identically (`frame`); only where the
//! lines go and how they are made durable differ.
//!
//! # File format
//!
//! `<data_dir>/audit/journal-<first sequence, 20 digits>.jsonl`. Each record is one UTF-8 line
//! terminated by `\n`:
//!
//! ```text
//! {"sequence":<u64>,"previousHash":"<64 lower-case hex>",<the caller's fields>}
//! ```
//!
//! - `sequence` starts at 1 and increases by exactly 1 per record, across files and restarts.
//!   A file's name is the sequence of its first record, so the next file's name is the previous
//!   file's last sequence + 1.
//! - `previousHash` is the SHA-256 of the previous record's exact bytes, without its newline
//!   (across files too); the first record ever has 64 zeros ([`crate::GENESIS_HASH`]).
//! - The journal writes these two fields first; fields with the same names in the caller's
//!   event are dropped, so an event can never override them. The caller's fields follow in
//!   serde_json's order, compact (no raw newline can occur inside a record).
//! - Only `\n`-terminated lines are records. Bytes after the last newline are a write that never
//!   completed (and was never acknowledged); [`Journal::open`] truncates them and logs that it did.
//!   So are lines with a zero byte and everything after them, when no non-zero byte lies more
//!   than [`files::TORN_LIMIT`] past them: a batch torn by a power loss (any subset of its pages
//!   reached the disk, with allocated zeros between them). Such a tail, if it has a newline, is
//!   copied to `<file>.torn-<offset>` before the truncation. Zeros followed by more bytes further
//!   out are damage: open refuses, as for any broken record.
//! - The file the writer is appending to ends in zero bytes: it is extended ahead of the records
//!   by [`PREALLOCATE`] bytes at a time, written as zeros and fsynced, so that writing a batch
//!   overwrites blocks that already exist and its `fdatasync` has no metadata to write (on the
//!   benchmark machine that halved both the CPU time and the duration of a batch's commit). A
//!   record never contains a zero byte (JSON escapes control characters), so readers take zeros
//!   from the start of a line to the end of the file as the end of the records (open keeps them
//!   and writes on at the end of the records). The zeros are cut off when the file is closed: at
//!   rotation and at a clean shutdown.
//! - [`Journal::open`] checks every record of the newest file (≤ one file size of reading) and
//!   the link from the file before it, and refuses to open ([`AuditError::Corrupt`], naming the
//!   offset) if one is damaged: appending after a damaged record would bury it under good ones.
//!   Older files are left to [`crate::verify`]. If the oldest files were archived, the first
//!   remaining record's `previousHash` is taken on trust.
//! - A file is closed once it has reached [`JournalConfig::max_file_bytes`]; the next batch
//!   starts a new file (so a file exceeds the limit by at most one batch).
//!
//! # Failures
//!
//! A batch whose `write` or `fdatasync` fails is answered with the error, every append in it
//! failing. The writer then truncates the file back to the end of the last durable batch and
//! fsyncs that, so a half-written line is never followed by a good one, and the next batch is
//! tried normally. (Pages that failed writeback belong only to the truncated batch; everything
//! before it was fsynced successfully.) If the truncation or its fsync fails too, the journal is
//! *poisoned*: every later append fails with [`AuditError::Poisoned`] until the journal is
//! reopened, and opening repairs the tail. Records of a failed batch can survive a crash that
//! happens before the truncation reaches the disk; they chain correctly and describe calls
//! whose requests failed.

#[cfg(test)]
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use coffer_crypto::digest::{hex, sha256, unhex};
use serde_json::{Map, Value};
use tokio::sync::oneshot;

use crate::files::{self, LOCK_FILE};
use crate::{AuditError, EventBuilder};

/// How far ahead of its records a journal file is extended with zeros (see the file format).
pub const PREALLOCATE: u64 = 4 << 20;

/// Tunables. [`Default`] gives the production values.
#[derive(Clone, Debug)]
pub struct JournalConfig {
    /// Start a new file once the current one has reached this size. Default 64 MiB.
    pub max_file_bytes: u64,
    /// How long an idle writer waits, after the first event arrives, for more events to share
    /// its fsync. Events that arrive while an fsync runs never wait: the writer takes them as
    /// soon as that fsync ends. The wait is also capped at the recent average fsync time:
    /// waiting longer than an fsync takes cannot pay off (a late event would have been covered
    /// by the next fsync sooner), so on fast storage (tmpfs, NVMe with a write cache) the writer
    /// barely waits. `Duration::ZERO` disables waiting. Default 2 ms.
    pub linger: Duration,
    /// The writer waits in slices of this length (sleeping, then collecting what arrived, so
    /// that no event has to wake it) and stops after a slice that brought nothing (so an
    /// isolated request pays about this much, not the whole `linger`). Default 200 µs.
    pub linger_quiet: Duration,
    /// A batch stops growing at this many bytes; the rest goes into the next batch at once.
    /// Default 8 MiB.
    pub max_batch_bytes: usize,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            max_file_bytes: 64 * 1024 * 1024,
            linger: Duration::from_millis(2),
            linger_quiet: Duration::from_micros(200),
            max_batch_bytes: 8 * 1024 * 1024,
        }
    }
}

/// Proof that an event is durable: its sequence and the SHA-256 of its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub sequence: u64,
    pub hash: [u8; 32],
}

impl Receipt {
    pub fn hash_hex(&self) -> String {
        hex(&self.hash)
    }
}

/// Counters since open, for monitoring and for measuring group commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events made durable.
    pub events: u64,
    /// Batches made durable (= data fsyncs).
    pub batches: u64,
    /// The largest batch, in events.
    pub max_batch: u64,
    /// Bytes written in durable batches.
    pub bytes: u64,
    /// New files started.
    pub rotations: u64,
    /// Batches that failed (each failed all its appends).
    pub failed_batches: u64,
}

/// An event serialised for the journal: a compact JSON object without `sequence` and
/// `previousHash`. Made from a [`Value`] (must be an object), a [`Map`] or an [`EventBuilder`]
/// (the fastest: serialised straight from its fields).
pub struct Event(Result<Vec<u8>, AuditError>);

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Ok(b) => write!(f, "Event({} bytes)", b.len()),
            Err(e) => write!(f, "Event({e})"),
        }
    }
}

impl From<Map<String, Value>> for Event {
    fn from(mut map: Map<String, Value>) -> Event {
        map.remove("sequence");
        map.remove("previousHash");
        Event(serde_json::to_vec(&map).map_err(|e| AuditError::Serialize(e.to_string())))
    }
}

impl From<Value> for Event {
    fn from(value: Value) -> Event {
        match value {
            Value::Object(map) => map.into(),
            _ => Event(Err(AuditError::NotAnObject)),
        }
    }
}

impl From<EventBuilder> for Event {
    fn from(builder: EventBuilder) -> Event {
        Event(Ok(builder.to_json_bytes()))
    }
}

/// The future of one [`Journal::append`]: `Send`, `'static`, independent of the journal's
/// lifetime (if the journal closes first, it resolves to [`AuditError::Closed`]).
#[must_use = "an append is durable only when its future resolves Ok"]
#[derive(Debug)]
pub struct Append(Option<Result<oneshot::Receiver<Result<Receipt, AuditError>>, AuditError>>);

impl Future for Append {
    type Output = Result<Receipt, AuditError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = match self.0.as_mut().expect("Append polled after completion") {
            Ok(rx) => match Pin::new(rx).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(result)) => result,
                Poll::Ready(Err(_)) => Err(AuditError::Closed),
            },
            Err(_) => match self.0.take() {
                Some(Err(e)) => Err(e),
                _ => unreachable!(),
            },
        };
        self.0 = None;
        Poll::Ready(result)
    }
}

pub(crate) struct Pending {
    pub(crate) body: Vec<u8>,
    /// The columns derived from the event for the PostgreSQL table (computed on the caller's
    /// thread; `None` for files).
    pub(crate) index: Option<Box<crate::postgres::Index>>,
    reply: oneshot::Sender<Result<Receipt, AuditError>>,
}

#[derive(Default)]
pub(crate) struct Shared {
    poisoned: AtomicBool,
    events: AtomicU64,
    batches: AtomicU64,
    max_batch: AtomicU64,
    bytes: AtomicU64,
    rotations: AtomicU64,
    failed_batches: AtomicU64,
    pub(crate) head: Mutex<Option<Receipt>>,
    #[cfg(test)]
    faults: Mutex<VecDeque<Fault>>,
    /// Held by a test to keep the writer from closing a batch while it queues (see
    /// [`Journal::hold`]).
    #[cfg(test)]
    gate: Mutex<()>,
}

/// Failures a unit test can inject into the writer, consumed in order.
#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The next batch write writes this many bytes, then fails.
    Write { after: usize },
    /// The next fsync of a batch fails.
    Sync,
    /// The next truncation after a failure fails.
    Truncate,
}

/// The audit journal of one data directory ([`Journal::open`]) or of one PostgreSQL database
/// shared by several nodes ([`Journal::open_postgres`]). Share it behind an `Arc`; every method
/// takes `&self`. Dropping it (or [`Journal::close`]) writes what is queued, stops the writer and
/// releases the lock; it blocks until then (one last batch), so at shutdown drop it outside async
/// code or accept a short block. Opening the same directory again before that fails with
/// [`AuditError::Locked`].
pub struct Journal {
    tx: Option<mpsc::Sender<Pending>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    location: Location,
}

/// Where a journal writes.
pub(crate) enum Location {
    /// `<data_dir>/audit`.
    Dir(PathBuf),
    /// A PostgreSQL database: `user@host:port/database`, without the password.
    Postgres(String),
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Journal");
        match &self.location {
            Location::Dir(dir) => d.field("dir", dir),
            Location::Postgres(target) => d.field("postgres", target),
        };
        d.finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens (creating if needed) `<data_dir>/audit`, takes its lock, recovers the chain head
    /// from the last file (truncating a partial last line) and starts the writer thread. Needs
    /// no async runtime.
    pub fn open(data_dir: impl AsRef<Path>, config: JournalConfig) -> Result<Journal, AuditError> {
        let data_dir = data_dir.as_ref();
        let dir = files::audit_dir(data_dir);
        if !dir.is_dir() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(&dir).map_err(|e| AuditError::io("create directory", &dir, e))?;
            files::sync_dir(data_dir)?;
        }
        let lock_path = dir.join(LOCK_FILE);
        let lock = private(OpenOptions::new().create(true).truncate(false).write(true))
            .open(&lock_path)
            .map_err(|e| AuditError::io("open", &lock_path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(AuditError::Locked(lock_path)),
            Err(std::fs::TryLockError::Error(e)) => return Err(AuditError::io("lock", &lock_path, e)),
        }
        let shared = Arc::new(Shared::default());
        let sink = FileSink::recover(&dir, config.max_file_bytes, shared.clone(), lock)?;
        if sink.next_sequence > 1 {
            *shared.head.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(Receipt { sequence: sink.next_sequence - 1, hash: sink.prev_hash });
        }
        let writer = Writer::new(config, shared.clone(), sink);
        let (tx, rx) = mpsc::channel();
        let thread =
            spawn_writer(move || writer.run(rx)).map_err(|e| AuditError::io("start writer thread", &dir, e))?;
        Ok(Journal::assemble(tx, shared, thread, Location::Dir(dir)))
    }

    pub(crate) fn assemble(
        tx: mpsc::Sender<Pending>,
        shared: Arc<Shared>,
        thread: JoinHandle<()>,
        location: Location,
    ) -> Journal {
        Journal { tx: Some(tx), shared, thread: Some(thread), location }
    }

    /// Queues `event` (a JSON object: [`Value`], [`Map`] or [`EventBuilder`]) and resolves once
    /// it is durable, with its sequence and hash; or with the error that kept it from being
    /// durable. `sequence` and `previousHash` in `event` are ignored. The event is serialised
    /// before this returns, on the caller's thread; the future only waits. Appends awaited one
    /// after another get increasing sequences.
    pub fn append(&self, event: impl Into<Event>) -> Append {
        Append(Some(self.enqueue(event.into())))
    }

    fn enqueue(&self, event: Event) -> Result<oneshot::Receiver<Result<Receipt, AuditError>>, AuditError> {
        if self.shared.poisoned.load(Ordering::Acquire) {
            return Err(AuditError::Poisoned);
        }
        let body = event.0?;
        let index = match self.location {
            Location::Dir(_) => None,
            Location::Postgres(_) => Some(Box::new(crate::postgres::Index::of(&body))),
        };
        let (reply, rx) = oneshot::channel();
        let tx = self.tx.as_ref().ok_or(AuditError::Closed)?;
        tx.send(Pending { body, index, reply }).map_err(|_| AuditError::Closed)?;
        Ok(rx)
    }

    /// The last durable record (`None` for an empty journal): record its hash elsewhere to anchor
    /// the chain (see [`crate::verify_anchored`]). For a PostgreSQL journal: the last record
    /// this journal wrote, or the table's newest at open (other nodes may have appended since).
    pub fn head(&self) -> Option<Receipt> {
        *self.shared.head.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a failed, un-undoable write has stopped the journal (files only: a failed
    /// PostgreSQL batch is rolled back by the database).
    pub fn is_poisoned(&self) -> bool {
        self.shared.poisoned.load(Ordering::Acquire)
    }

    pub fn stats(&self) -> Stats {
        let s = &self.shared;
        Stats {
            events: s.events.load(Ordering::Relaxed),
            batches: s.batches.load(Ordering::Relaxed),
            max_batch: s.max_batch.load(Ordering::Relaxed),
            bytes: s.bytes.load(Ordering::Relaxed),
            rotations: s.rotations.load(Ordering::Relaxed),
            failed_batches: s.failed_batches.load(Ordering::Relaxed),
        }
    }

    /// Writes everything queued, stops the writer and releases the lock (as dropping does, but
    /// explicit at shutdown).
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    #[cfg(test)]
    pub(crate) fn inject(&self, fault: Fault) {
        self.shared.faults.lock().unwrap().push_back(fault);
    }

    /// While the guard lives, the writer takes the first queued event and then waits, so every
    /// event queued meanwhile lands in that one batch, however the machine schedules threads.
    #[cfg(test)]
    pub(crate) fn hold(&self) -> std::sync::MutexGuard<'_, ()> {
        self.shared.gate.lock().unwrap()
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Where a [`Writer`] puts its batches.
pub(crate) trait Sink {
    /// Chains `batch` onto the journal's head, framing it into `buf` (one `\n`-terminated line
    /// per event, see [`frame`]) with one receipt per event in `receipts`, and makes it durable.
    /// On success returns how long making it durable took (which caps the linger); on failure,
    /// nothing of the batch may be acknowledged.
    fn write(
        &mut self,
        batch: &[Pending],
        buf: &mut Vec<u8>,
        receipts: &mut Vec<Receipt>,
    ) -> Result<Duration, AuditError>;

    /// Called after a failed [`Sink::write`], to restore the state of the last durable batch.
    fn undo(&mut self);

    /// Called once when the writer stops, after the last batch.
    fn close(&mut self) {}
}

/// The writer thread's loop: group commit over any [`Sink`].
pub(crate) struct Writer<S> {
    config: JournalConfig,
    shared: Arc<Shared>,
    sink: S,
    buf: Vec<u8>,
    receipts: Vec<Receipt>,
    /// Moving average of the time batches took to become durable (caps the linger).
    fsync_avg: Duration,
}

/// Starts a writer thread.
pub(crate) fn spawn_writer(run: impl FnOnce() + Send + 'static) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("coffer-audit-writer".into()).spawn(run)
}

/// Formats `batch` as chained lines into `buf` (cleared first), the first with `sequence` and
/// linking to `prev`, and one receipt per line into `receipts` (cleared first).
pub(crate) fn frame(
    batch: &[Pending],
    mut sequence: u64,
    mut prev: [u8; 32],
    buf: &mut Vec<u8>,
    receipts: &mut Vec<Receipt>,
) {
    buf.clear();
    receipts.clear();
    for p in batch {
        let start = buf.len();
        buf.extend_from_slice(b"{\"sequence\":");
        let _ = write!(buf, "{sequence}");
        buf.extend_from_slice(b",\"previousHash\":\"");
        buf.extend_from_slice(hex(&prev).as_bytes());
        buf.push(b'"');
        if p.body.len() > 2 {
            buf.push(b',');
            buf.extend_from_slice(&p.body[1..]);
        } else {
            buf.push(b'}');
        }
        prev = sha256(&buf[start..]);
        buf.push(b'\n');
        receipts.push(Receipt { sequence, hash: prev });
        sequence += 1;
    }
}

impl<S: Sink> Writer<S> {
    pub(crate) fn new(config: JournalConfig, shared: Arc<Shared>, sink: S) -> Writer<S> {
        Writer {
            shared,
            sink,
            buf: Vec::with_capacity(1 << 20),
            receipts: Vec::new(),
            // Until fsyncs have been timed, allow the whole linger.
            fsync_avg: config.linger,
            config,
        }
    }

    pub(crate) fn run(mut self, rx: mpsc::Receiver<Pending>) {
        let mut batch: Vec<Pending> = Vec::new();
        loop {
            let mut bytes = 0usize;
            let idle = match rx.try_recv() {
                Ok(p) => {
                    bytes += p.body.len();
                    batch.push(p);
                    false
                }
                Err(mpsc::TryRecvError::Disconnected) => break,
                Err(mpsc::TryRecvError::Empty) => match rx.recv() {
                    Ok(p) => {
                        bytes += p.body.len();
                        batch.push(p);
                        true
                    }
                    Err(_) => break,
                },
            };
            #[cfg(test)]
            drop(self.shared.gate.lock());
            self.drain(&rx, &mut batch, &mut bytes);
            let linger = self.config.linger.min(self.fsync_avg);
            if idle && !linger.is_zero() {
                // Sleep in slices and collect what arrived, rather than wait on the channel: a
                // wake-up per event (a futex wake on the request's thread, a context switch
                // here) cost more CPU than writing the event.
                let deadline = Instant::now() + linger;
                while bytes < self.config.max_batch_bytes {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    std::thread::sleep(self.config.linger_quiet.min(deadline - now));
                    let before = batch.len();
                    self.drain(&rx, &mut batch, &mut bytes);
                    if batch.len() == before {
                        // Quiet for a whole slice: nobody else is coming soon.
                        break;
                    }
                }
            }
            self.commit(&mut batch);
        }
        self.sink.close();
    }

    fn drain(&self, rx: &mpsc::Receiver<Pending>, batch: &mut Vec<Pending>, bytes: &mut usize) {
        while *bytes < self.config.max_batch_bytes {
            match rx.try_recv() {
                Ok(p) => {
                    *bytes += p.body.len();
                    batch.push(p);
                }
                Err(_) => break,
            }
        }
    }

    fn commit(&mut self, batch: &mut Vec<Pending>) {
        if self.shared.poisoned.load(Ordering::Acquire) {
            for p in batch.drain(..) {
                let _ = p.reply.send(Err(AuditError::Poisoned));
            }
            return;
        }
        match self.sink.write(batch, &mut self.buf, &mut self.receipts) {
            Ok(took) => {
                self.fsync_avg = (self.fsync_avg * 7 + took) / 8;
                let s = &self.shared;
                let n = batch.len() as u64;
                s.events.fetch_add(n, Ordering::Relaxed);
                s.batches.fetch_add(1, Ordering::Relaxed);
                s.max_batch.fetch_max(n, Ordering::Relaxed);
                s.bytes.fetch_add(self.buf.len() as u64, Ordering::Relaxed);
                *s.head.lock().unwrap_or_else(|p| p.into_inner()) = self.receipts.last().copied();
                for (p, r) in batch.drain(..).zip(self.receipts.iter()) {
                    let _ = p.reply.send(Ok(*r));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, events = batch.len(), "audit journal batch failed; failing its requests");
                self.shared.failed_batches.fetch_add(1, Ordering::Relaxed);
                self.sink.undo();
                for p in batch.drain(..) {
                    let _ = p.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// The files of `<data_dir>/audit`.
struct FileSink {
    dir: PathBuf,
    max_file_bytes: u64,
    shared: Arc<Shared>,
    _lock: File,
    file: File,
    path: PathBuf,
    /// Length of the current file up to the end of the last durable batch.
    file_len: u64,
    /// Its length on disk: `file_len` and the zeros allocated after it.
    allocated: u64,
    next_sequence: u64,
    prev_hash: [u8; 32],
}

/// Journal files are readable by the owner only: they name principals, keys and addresses.
fn private(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, 0o600);
    options
}

/// Opens a journal file for writing at explicit offsets (not `O_APPEND`: the file's end is the
/// end of its allocated zeros, not of its records).
fn open_rw(path: &Path) -> Result<File, AuditError> {
    private(OpenOptions::new().read(true).write(true).create(true).truncate(false))
        .open(path)
        .map_err(|e| AuditError::io("open", path, e))
}

impl Sink for FileSink {
    /// Writes the batch with one `write` and one `fdatasync`. Commits the chain state only when
    /// both succeeded.
    fn write(
        &mut self,
        batch: &[Pending],
        buf: &mut Vec<u8>,
        receipts: &mut Vec<Receipt>,
    ) -> Result<Duration, AuditError> {
        if self.file_len >= self.max_file_bytes && self.file_len > 0 {
            self.rotate()?;
        }
        frame(batch, self.next_sequence, self.prev_hash, buf, receipts);
        self.allocate(buf.len() as u64)?;
        self.write_all(buf)?;
        let took = self.sync()?;
        self.file_len += buf.len() as u64;
        if let Some(last) = receipts.last() {
            self.next_sequence = last.sequence + 1;
            self.prev_hash = last.hash;
        }
        Ok(took)
    }

    /// After a failed batch: cut the file back to its last durable length, or poison.
    fn undo(&mut self) {
        #[cfg(test)]
        let injected = self.take_fault(|f| *f == Fault::Truncate).is_some();
        #[cfg(not(test))]
        let injected = false;
        let result = if injected {
            Err(AuditError::io("truncate", &self.path, std::io::Error::other("injected truncate failure")))
        } else {
            self.trim()
        };
        if let Err(e) = result {
            tracing::error!(
                file = %self.path.display(),
                error = %e,
                "audit journal could not be truncated after a failed write; refusing appends until reopened"
            );
            self.shared.poisoned.store(true, Ordering::Release);
        }
    }

    /// Cuts off the allocated zeros, so that a journal at rest holds only records (readers
    /// would stop at the zeros anyway). A poisoned journal is left for the next open to repair.
    fn close(&mut self) {
        if self.shared.poisoned.load(Ordering::Acquire) {
            return;
        }
        if let Err(e) = self.trim() {
            tracing::warn!(error = %e, "audit journal: could not cut the allocated space off the last file");
        }
    }
}

impl FileSink {
    /// Finds the chain head. The last file is checked record by record (the previous file
    /// only for its last record): the writer must never append after a damaged record, which
    /// would bury the damage under good records. A partial last line is cut off.
    fn recover(dir: &Path, max_file_bytes: u64, shared: Arc<Shared>, lock: File) -> Result<FileSink, AuditError> {
        let list = files::list(dir)?;
        let Some((first_sequence, path)) = list.last().cloned() else {
            let path = dir.join(files::file_name(1));
            let file = open_rw(&path)?;
            file.sync_all().map_err(|e| AuditError::io("fsync", &path, e))?;
            files::sync_dir(dir)?;
            return Ok(FileSink::new(dir, max_file_bytes, shared, lock, file, path, 0, 0, 1, [0; 32]));
        };
        // Where the last file must continue from.
        let prev_hash: Option<String> = if list.len() >= 2 {
            let (_, prev_path) = &list[list.len() - 2];
            let mut prev = File::open(prev_path).map_err(|e| AuditError::io("open", prev_path, e))?;
            let tail = files::read_tail(&mut prev, prev_path)?;
            let corrupt = |offset, detail: String| AuditError::Corrupt { path: prev_path.clone(), offset, detail };
            if tail.complete_len != tail.file_len {
                return Err(corrupt(tail.complete_len, "file ends with a partial record".into()));
            }
            let Some((offset, line)) = &tail.last_line else {
                return Err(corrupt(0, "file is empty".into()));
            };
            let seq = parse_sequence(line, prev_path, *offset)?;
            if seq + 1 != first_sequence {
                return Err(corrupt(
                    *offset,
                    format!("last record has sequence {seq} but the next file starts at {first_sequence}"),
                ));
            }
            Some(hex(&sha256(line)))
        } else if first_sequence == 1 {
            Some(crate::GENESIS_HASH.to_string())
        } else {
            // Older files were archived: trust the first record's link.
            None
        };
        let check = crate::verify::check_file(&path, first_sequence, prev_hash.as_deref(), &mut |_, _| None)?;
        if let Some(b) = check.broken {
            return Err(AuditError::Corrupt {
                path,
                offset: b.offset,
                detail: format!(
                    "record at line {}: {}; refusing to append after it (run verify; move the damaged tail aside to continue)",
                    b.line, b.problem
                ),
            });
        }
        let file = open_rw(&path)?;
        let len = file.metadata().map_err(|e| AuditError::io("stat", &path, e))?.len();
        // (end of the records, end of the file): allocated zeros after the records are kept.
        let (file_len, allocated) = match check.partial {
            None => (check.end, len),
            Some((offset, bytes)) => {
                set_aside_torn_tail(&file, &path, offset, len)?;
                tracing::warn!(
                    file = %path.display(),
                    offset,
                    dropped_bytes = bytes,
                    "audit journal ends with a partial record (a write interrupted by a crash, never acknowledged); truncating it"
                );
                file.set_len(offset).map_err(|e| AuditError::io("truncate", &path, e))?;
                file.sync_all().map_err(|e| AuditError::io("fsync", &path, e))?;
                (offset, offset)
            }
        };
        let prev_hash = match unhex(&check.last_hash).and_then(|h| <[u8; 32]>::try_from(h).ok()) {
            Some(h) => h,
            None => {
                return Err(AuditError::Corrupt {
                    path,
                    offset: 0,
                    detail: format!("empty file starting at sequence {first_sequence} and no earlier file to chain to"),
                });
            }
        };
        Ok(FileSink::new(dir, max_file_bytes, shared, lock, file, path, file_len, allocated, check.last_sequence + 1, prev_hash))
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        dir: &Path,
        max_file_bytes: u64,
        shared: Arc<Shared>,
        lock: File,
        file: File,
        path: PathBuf,
        file_len: u64,
        allocated: u64,
        next_sequence: u64,
        prev_hash: [u8; 32],
    ) -> FileSink {
        FileSink {
            dir: dir.to_owned(),
            max_file_bytes,
            shared,
            _lock: lock,
            file,
            path,
            file_len,
            allocated,
            next_sequence,
            prev_hash,
        }
    }

    /// Makes sure `n` more bytes fit before the end of the allocated zeros, extending the file
    /// by [`PREALLOCATE`] (not past `max_file_bytes` unless the batch itself needs it) and
    /// fsyncing the extension (its size is metadata, written once here rather than per batch).
    fn allocate(&mut self, n: u64) -> Result<(), AuditError> {
        let need = self.file_len + n;
        if need <= self.allocated {
            return Ok(());
        }
        let target = (need + PREALLOCATE).min(self.max_file_bytes.max(need));
        let zeros = vec![0u8; (target - self.allocated).min(1 << 20) as usize];
        let mut at = self.allocated;
        while at < target {
            let len = (target - at).min(zeros.len() as u64) as usize;
            self.file.write_all_at(&zeros[..len], at).map_err(|e| AuditError::io("allocate", &self.path, e))?;
            at += len as u64;
        }
        self.file.sync_all().map_err(|e| AuditError::io("fsync", &self.path, e))?;
        self.allocated = target;
        Ok(())
    }

    /// Cuts the current file back to the end of its last durable batch (off go the allocated
    /// zeros, and a failed batch's bytes) and fsyncs that.
    fn trim(&mut self) -> Result<(), AuditError> {
        self.file.set_len(self.file_len).map_err(|e| AuditError::io("truncate", &self.path, e))?;
        self.file.sync_all().map_err(|e| AuditError::io("fsync", &self.path, e))?;
        self.allocated = self.file_len;
        Ok(())
    }

    fn write_all(&mut self, buf: &[u8]) -> Result<(), AuditError> {
        #[cfg(test)]
        if let Some(Fault::Write { after }) = self.take_fault(|f| matches!(f, Fault::Write { .. })) {
            let _ = self.file.write_all_at(&buf[..after.min(buf.len())], self.file_len);
            return Err(AuditError::io("write", &self.path, std::io::Error::other("injected write failure")));
        }
        self.file.write_all_at(buf, self.file_len).map_err(|e| AuditError::io("write", &self.path, e))
    }

    /// `fdatasync`; returns how long it took.
    fn sync(&mut self) -> Result<Duration, AuditError> {
        #[cfg(test)]
        if self.take_fault(|f| *f == Fault::Sync).is_some() {
            return Err(AuditError::io("fsync", &self.path, std::io::Error::other("injected fsync failure")));
        }
        let start = Instant::now();
        self.file.sync_data().map_err(|e| AuditError::io("fsync", &self.path, e))?;
        Ok(start.elapsed())
    }

    fn rotate(&mut self) -> Result<(), AuditError> {
        // The closed file ends with its last record (before the next one exists, so that only
        // the newest file can have a zero tail).
        self.trim()?;
        let path = self.dir.join(files::file_name(self.next_sequence));
        let file = open_rw(&path)?;
        // Anything already in a file of this name is from a batch that failed: unacknowledged.
        file.set_len(0).map_err(|e| AuditError::io("truncate", &path, e))?;
        file.sync_all().map_err(|e| AuditError::io("fsync", &path, e))?;
        files::sync_dir(&self.dir)?;
        tracing::info!(file = %path.display(), "audit journal started a new file");
        self.file = file;
        self.path = path;
        self.file_len = 0;
        self.allocated = 0;
        self.shared.rotations.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    #[cfg(test)]
    fn take_fault(&self, pick: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let mut q = self.shared.faults.lock().unwrap();
        if q.front().is_some_and(&pick) { q.pop_front() } else { None }
    }
}

/// Before an unfinished tail (from `offset` to the file's length `len`) is cut off: if it holds
/// a newline (a batch torn by a power loss, rather than one cut-short line), its bytes are first
/// copied to `<file>.torn-<offset>`, so that cutting it can never destroy what an operator might
/// want to look at.
fn set_aside_torn_tail(file: &File, path: &Path, offset: u64, len: u64) -> Result<(), AuditError> {
    let mut tail = vec![0u8; len.saturating_sub(offset).min(files::TORN_LIMIT + 1) as usize];
    file.read_exact_at(&mut tail, offset).map_err(|e| AuditError::io("read", path, e))?;
    while tail.last() == Some(&0) {
        tail.pop();
    }
    if !tail.contains(&b'\n') {
        return Ok(());
    }
    let aside = PathBuf::from(format!("{}.torn-{offset}", path.display()));
    let mut f = private(OpenOptions::new().write(true).create(true).truncate(true))
        .open(&aside)
        .map_err(|e| AuditError::io("open", &aside, e))?;
    f.write_all(&tail).and_then(|()| f.sync_all()).map_err(|e| AuditError::io("write", &aside, e))?;
    if let Some(dir) = aside.parent() {
        files::sync_dir(dir)?;
    }
    tracing::warn!(file = %aside.display(), bytes = tail.len(), "audit journal: the unfinished tail cut off below was copied aside first");
    Ok(())
}

fn parse_sequence(line: &[u8], path: &Path, offset: u64) -> Result<u64, AuditError> {
    let corrupt = |detail: &str| AuditError::Corrupt { path: path.to_owned(), offset, detail: detail.into() };
    let v: Value = serde_json::from_slice(line).map_err(|_| corrupt("last record is not valid JSON"))?;
    match files::chain_fields(&v) {
        (Some(seq), Some(h)) if seq > 0 && h.len() == 64 => Ok(seq),
        _ => Err(corrupt("last record lacks a valid sequence or previousHash")),
    }
}

#[cfg(test)]
mod tests;
