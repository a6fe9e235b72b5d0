//! Where log lines go: standard output, through one in-memory buffer that a background thread
//! writes out, instead of one `write(2)` per line from the thread that logged it.
//!
//! Why: Coffer logs a line for every API call. Written straight through, each line is a system
//! call into a file or a pipe on the request path — several microseconds of an Encrypt that
//! otherwise costs a few dozen (BENCHMARKS.md). Buffering keeps the cost of a line to a copy.
//!
//! What it keeps:
//! - **Order.** One buffer; whoever writes it out swaps it under the output lock, so batches
//!   leave in the order their lines were logged.
//! - **Promptness.** A line logged while nothing is waiting and nobody is writing is written
//!   through at once by its own thread, so a lightly loaded server logs exactly as an
//!   unbuffered one would (a line is out before its response leaves). Only lines that arrive
//!   while another write is under way wait in the buffer: at most [`INTERVAL`], or until
//!   [`MAX_BUFFER`] bytes are waiting. Lines at WARN and above are written through at once,
//!   together with every line before them.
//! - **Completeness at exit.** [`flush`] runs before anything is printed to standard output
//!   directly (the ready line) and before the process exits. Only a crash (SIGKILL, abort) can
//!   lose the last few milliseconds of INFO lines; the audit journal, not this log, is the
//!   durable record of calls.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in the buffer.
pub const INTERVAL: Duration = Duration::from_millis(10);
/// Buffered bytes that trigger a write at once.
pub const MAX_BUFFER: usize = 256 * 1024;

struct Shared {
    pending: Mutex<Pending>,
    /// Held while a batch is written, so batches leave in order.
    out: Mutex<()>,
    /// Signalled when the buffer stops being empty.
    filled: Condvar,
    /// The writer thread could not be started: every line is written through.
    unbuffered: AtomicBool,
}

#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    /// A thread is writing a line through (see [`LineWriter::write`]).
    writing: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Writes out everything buffered so far.
    fn write_out(&self) {
        let _order = lock(&self.out);
        let batch = std::mem::take(&mut lock(&self.pending).buf);
        if !batch.is_empty() {
            emit(&batch);
        }
    }
}

/// Writes to standard output; the caller holds `Shared::out`. A log line that cannot be
/// written (closed pipe, full disk) is dropped, as with any logger: failing the request that
/// logged it would be worse.
fn emit(data: &[u8]) {
    let mut stdout = io::stdout().lock();
    let _ = stdout.write_all(data);
    let _ = stdout.flush();
}

static SHARED: OnceLock<Arc<Shared>> = OnceLock::new();

/// The buffered standard output, for `tracing_subscriber::fmt().with_writer(...)`. The first
/// call starts the thread that writes the buffer out.
pub fn stdout() -> BufferedStdout {
    let shared = SHARED.get_or_init(|| {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            out: Mutex::new(()),
            filled: Condvar::new(),
            unbuffered: AtomicBool::new(false),
        });
        let s = shared.clone();
        let spawned = std::thread::Builder::new().name("coffer-log".into()).spawn(move || {
            loop {
                let mut pending = lock(&s.pending);
                while pending.buf.is_empty() {
                    pending = s.filled.wait(pending).unwrap_or_else(|p| p.into_inner());
                }
                drop(pending);
                // Let lines gather, then write them out together.
                std::thread::sleep(INTERVAL);
                s.write_out();
            }
        });
        if let Err(e) = spawned {
            // Without the thread lines would only leave with a WARN or a full buffer.
            eprintln!("coffer: warning: could not start the log writer thread ({e}); logging unbuffered");
            shared.unbuffered.store(true, Ordering::Relaxed);
        }
        shared
    });
    BufferedStdout { shared: shared.clone() }
}

/// Writes out everything logged so far (call before printing to standard output directly, and
/// before exiting).
pub fn flush() {
    if let Some(s) = SHARED.get() {
        s.write_out();
    }
}

/// See [`stdout`].
#[derive(Clone)]
pub struct BufferedStdout {
    shared: Arc<Shared>,
}

/// One line's writer: `tracing_subscriber` formats a whole event, then writes it with one
/// `write_all`.
pub struct LineWriter<'a> {
    shared: &'a Shared,
    through: bool,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut pending = lock(&self.shared.pending);
        if pending.buf.is_empty() && !pending.writing && !self.through {
            // Nothing waiting, nobody writing: write this line through, as an unbuffered
            // logger would. Lines logged meanwhile queue behind it.
            pending.writing = true;
            drop(pending);
            {
                let _order = lock(&self.shared.out);
                emit(data);
            }
            lock(&self.shared.pending).writing = false;
            return Ok(data.len());
        }
        let was_empty = pending.buf.is_empty();
        pending.buf.extend_from_slice(data);
        let full = pending.buf.len() >= MAX_BUFFER;
        drop(pending);
        if self.through || full {
            self.shared.write_out();
        } else if was_empty {
            self.shared.filled.notify_one();
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BufferedStdout {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> LineWriter<'a> {
        LineWriter { shared: &self.shared, through: self.shared.unbuffered.load(Ordering::Relaxed) }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> LineWriter<'a> {
        let through = self.shared.unbuffered.load(Ordering::Relaxed) || *meta.level() <= Level::WARN;
        LineWriter { shared: &self.shared, through }
    }
}
