//! `coffer audit verify` and `coffer audit tail`: reading the journal a server writes, offline
//! or beside the running server (a record being written is skipped, never misread).

use std::path::PathBuf;

use coffer_audit::{Anchor, Filter, VerifyReport};
use coffer_util::Timestamp;

use crate::cli::{AuditCommand, AuditSource, AuditTailArgs, AuditVerifyArgs};

/// Runs the command; returns the process exit code (0 ok, 1 broken chain, 2 usage or I/O error).
pub fn run(cmd: AuditCommand) -> i32 {
    let result = match cmd {
        AuditCommand::Verify(a) => verify(a),
        AuditCommand::Tail(a) => tail(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("coffer: {e}");
            2
        }
    }
}

enum Source {
    Dir(PathBuf),
    Postgres(String),
}

fn source(s: AuditSource) -> Result<Source, String> {
    if let Some(url) = s.store.filter(|u| u.starts_with("postgres://") || u.starts_with("postgresql://")) {
        return Ok(Source::Postgres(url));
    }
    let dir = s.audit_dir.or(s.data_dir).unwrap_or_else(|| PathBuf::from("./coffer-data"));
    if !dir.join("audit").is_dir() {
        return Err(format!("no audit journal in {} (expected the directory {})", dir.display(), dir.join("audit").display()));
    }
    Ok(Source::Dir(dir))
}

fn parse_anchor(s: &str) -> Result<Anchor, String> {
    let (seq, hash) = s.split_once(':').ok_or_else(|| format!("anchor {s:?}: expected SEQUENCE:HASH"))?;
    let sequence = seq.parse().map_err(|_| format!("anchor {s:?}: {seq:?} is not a sequence number"))?;
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("anchor {s:?}: the hash must be 64 hex digits"));
    }
    Ok(Anchor { sequence, hash: hash.to_ascii_lowercase() })
}

fn verify(a: AuditVerifyArgs) -> Result<i32, String> {
    let anchors = a.anchor.iter().map(|s| parse_anchor(s)).collect::<Result<Vec<_>, _>>()?;
    let report: VerifyReport = match source(a.source)? {
        Source::Dir(dir) => coffer_audit::verify_anchored(&dir, &anchors).map_err(|e| e.to_string())?,
        Source::Postgres(url) => postgres_verify(&url, &anchors)?,
    };
    println!("{report}");
    if report.is_ok() && report.anchors_matched < anchors.len() {
        println!("anchor mismatch: {} of {} anchors were found in the chain", report.anchors_matched, anchors.len());
        return Ok(1);
    }
    Ok(if report.is_ok() { 0 } else { 1 })
}

fn time(s: &Option<String>, what: &str) -> Result<Option<Timestamp>, String> {
    s.as_deref()
        .map(|t| Timestamp::parse_iso8601(t).ok_or_else(|| format!("--{what} {t:?}: expected an ISO 8601 time such as 2026-11-29T08:00:00Z")))
        .transpose()
}

fn tail(a: AuditTailArgs) -> Result<i32, String> {
    let filter = Filter {
        principal_arn: a.principal.clone(),
        event_name: a.event.clone(),
        event_source: a.service.as_ref().map(|s| if s.contains('.') { s.clone() } else { format!("{s}.amazonaws.com") }),
        resource: a.key.clone(),
        start_time: time(&a.since, "since")?,
        end_time: time(&a.until, "until")?,
    };
    let events = match source(a.source)? {
        Source::Dir(dir) => coffer_audit::read(&dir, &filter, Some(a.lines)).map_err(|e| e.to_string())?,
        Source::Postgres(url) => postgres_read(&url, &filter, a.lines)?,
    };
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for e in events {
        if writeln!(out, "{e}").is_err() {
            break; // a closed pipe (| head) is not an error
        }
    }
    Ok(0)
}

fn postgres_verify(url: &str, anchors: &[Anchor]) -> Result<VerifyReport, String> {
    coffer_audit::verify_postgres_anchored(url, anchors).map_err(|e| e.to_string())
}

fn postgres_read(url: &str, filter: &Filter, n: usize) -> Result<Vec<serde_json::Value>, String> {
    coffer_audit::read_postgres(url, filter, Some(n)).map_err(|e| e.to_string())
}
