//! The text log format: the lines `tracing_subscriber`'s default (full, no colour) format
//! writes, made with less work per line.
//!
//! Why: every API call logs a line, so formatting is on the request path. The stock formatter
//! renders the timestamp from scratch, writes every string field through `Debug` (an escape
//! check per character) and every number through the formatting machinery; on the Encrypt
//! path that was a measurable share of the server's CPU (BENCHMARKS.md). This one writes the
//! same text — `2026-11-29T11:56:20.020971Z  INFO target: message key="value" n=1` — with
//! the timestamp's date and time reused within a second and plain strings copied between
//! quotes. Anything unusual (a string needing escapes, a `Debug`
//! value) goes through the same `Debug` formatting as before, so the output does not change.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The full text format (see the module documentation).
pub struct Text;

impl<S, N> FormatEvent<S, N> for Text
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        write_timestamp(&mut writer)?;
        let meta = event.metadata();
        // The level right-aligned in five columns after two spaces, as the stock format does.
        let level = match *meta.level() {
            tracing::Level::TRACE => "TRACE",
            tracing::Level::DEBUG => "DEBUG",
            tracing::Level::INFO => " INFO",
            tracing::Level::WARN => " WARN",
            tracing::Level::ERROR => "ERROR",
        };
        writer.write_str(" ")?;
        writer.write_str(level)?;
        writer.write_str(" ")?;
        if let Some(scope) = ctx.event_scope() {
            let mut any = false;
            for span in scope.from_root() {
                writer.write_str(span.name())?;
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(writer, "{{{fields}}}")?;
                }
                writer.write_char(':')?;
                any = true;
            }
            if any {
                writer.write_char(' ')?;
            }
        }
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        let mut fields = Fields { out: &mut writer, first: true, result: Ok(()) };
        event.record(&mut fields);
        fields.result?;
        writer.write_char('\n')
    }
}

thread_local! {
    /// The second last formatted on this thread and its `YYYY-MM-DDTHH:MM:SS` text.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// RFC 3339 UTC with microseconds, as the stock format's default timer writes it.
fn write_timestamp(w: &mut Writer<'_>) -> fmt::Result {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let (secs, micros) = (now.as_secs(), now.subsec_micros());
    SECOND.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            let c = coffer_util::time::Timestamp::from_secs(secs as i64).civil();
            cached.1.clear();
            let _ = write!(cached.1, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", c.year, c.month, c.day, c.hour, c.minute, c.second);
            cached.0 = secs;
        }
        w.write_str(&cached.1)
    })?;
    write!(w, ".{micros:06}Z")
}

/// Writes an event's fields as the stock format does: the message bare and first, then
/// `name=value` pairs separated by spaces, strings quoted and escaped as `Debug` does.
struct Fields<'a, 'w> {
    out: &'a mut Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    fn name(&mut self, field: &Field) -> fmt::Result {
        if !self.first {
            self.out.write_char(' ')?;
        }
        self.first = false;
        if field.name() == "message" {
            return Ok(());
        }
        self.out.write_str(field.name().strip_prefix("r#").unwrap_or(field.name()))?;
        self.out.write_char('=')
    }

    fn record(&mut self, f: impl FnOnce(&mut Self) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = f(self);
        }
    }
}

/// Whether `Debug` would print `s` unchanged between quotes.
fn plain(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(|s| {
            s.name(field)?;
            if field.name() == "message" {
                s.out.write_str(value)
            } else if plain(value) {
                s.out.write_char('"')?;
                s.out.write_str(value)?;
                s.out.write_char('"')
            } else {
                write!(s.out, "{value:?}")
            }
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record(|s| {
            s.name(field)?;
            write!(s.out, "{value}")
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record(|s| {
            s.name(field)?;
            write!(s.out, "{value}")
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record(|s| {
            s.name(field)?;
            s.out.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record(|s| {
            s.name(field)?;
            write!(s.out, "{value}")?;
            let mut source = value.source();
            if source.is_some() {
                write!(s.out, " {}.sources=[", field.name())?;
                let mut first = true;
                while let Some(e) = source {
                    if !first {
                        s.out.write_str(", ")?;
                    }
                    first = false;
                    write!(s.out, "{e}")?;
                    source = e.source();
                }
                s.out.write_char(']')?;
            }
            Ok(())
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record(|s| {
            s.name(field)?;
            write!(s.out, "{value:?}")
        });
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Capture {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    fn emit(custom: bool, f: impl FnOnce()) -> String {
        let out = Capture::default();
        let builder = tracing_subscriber::fmt().with_writer(out.clone()).with_ansi(false).with_max_level(tracing::Level::TRACE);
        if custom {
            tracing::subscriber::with_default(builder.event_format(Text).finish(), f);
        } else {
            tracing::subscriber::with_default(builder.finish(), f);
        }
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    /// The same line as the stock format, but for the microseconds of its timestamp.
    #[test]
    fn writes_what_the_stock_format_writes() {
        let err = io::Error::other("disk on fire");
        let events = || {
            tracing::info!(target: "coffer::request", service = "kms", op = "Encrypt", principal = %"arn:aws:iam::1:root",
                status = 200u16, error = "", latency_us = 412u64, neg = -3i64, ok = true, request_id = "a\"b\\c\u{7}é", peer = %"127.0.0.1");
            tracing::warn!(count = 2, "something odd: {}", "formatted");
            tracing::error!(error = &err as &(dyn std::error::Error + 'static), "failed");
            tracing::debug!(r#type = "x", list = ?vec![1, 2], "debug");
            let span = tracing::info_span!("outer", id = 7);
            let _g = span.enter();
            tracing::info!("inside");
        };
        let stock = emit(false, events);
        let ours = emit(true, events);
        let strip = |s: &str| -> Vec<String> { s.lines().map(|l| l.split_once('.').map(|(_, rest)| rest[7..].to_string()).unwrap()).collect() };
        assert_eq!(strip(&ours), strip(&stock), "\nours:\n{ours}\nstock:\n{stock}");
        assert_eq!(ours.lines().count(), 5, "{ours}");
        // Dates agree too (the same second, almost surely).
        assert_eq!(ours.lines().next().unwrap()[..17], stock.lines().next().unwrap()[..17]);
    }
}
