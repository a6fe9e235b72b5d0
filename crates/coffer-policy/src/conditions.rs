//! Condition operators: one `operator: {key: values}` entry against the request context.
//!
//! How one entry is decided:
//! 1. `Null` only looks at presence: `"true"` holds when the key is absent or has no values,
//!    `"false"` when it has at least one value.
//! 2. If the key is absent — or present with an empty value list, which IAM treats the same way
//!    for multi-valued keys — the entry holds for `ForAllValues:` (vacuously), for `...IfExists`,
//!    and for the negated operators (`StringNotEquals`, `NotIpAddress`, ...); otherwise not.
//! 3. Otherwise each context value gets the *single-value test*: for a positive operator, does
//!    it match at least one policy value (OR across policy values)? For a negated operator, does
//!    it match none of them? `ForAllValues:` needs every context value to pass, `ForAnyValue:`
//!    and unqualified operators at least one.
//!
//! Typed operators parse both sides: a value that does not parse (a number, date, address or
//! boolean) never matches, so a positive operator is false for it and a negated operator
//! treats it as "matches none". Policy variables are substituted in the values of String*, Bool
//! and Arn* operators — the families AWS documents as supporting variables; Numeric, Date,
//! Binary, IP and Null values are literal.

use std::cmp::Ordering;
use std::net::IpAddr;

use crate::document::{Condition, SetQualifier};
use crate::eval::Context;
use crate::matching::eq_ignore_case;
use crate::variables::expand;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn test(self, o: Ordering) -> bool {
        match self {
            Cmp::Eq => o == Ordering::Equal,
            Cmp::Lt => o == Ordering::Less,
            Cmp::Le => o != Ordering::Greater,
            Cmp::Gt => o == Ordering::Greater,
            Cmp::Ge => o != Ordering::Less,
        }
    }
}

/// The positive form of an operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Binary,
    Ip,
    /// `ArnEquals` and `ArnLike` are the same test: AWS documents wildcards for both.
    Arn,
    Null,
}

/// `(positive operator, negated)` for a base operator name.
fn classify(base: &str) -> Option<(Op, bool)> {
    Some(match base {
        "StringEquals" => (Op::StringEquals, false),
        "StringNotEquals" => (Op::StringEquals, true),
        "StringEqualsIgnoreCase" => (Op::StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (Op::StringEqualsIgnoreCase, true),
        "StringLike" => (Op::StringLike, false),
        "StringNotLike" => (Op::StringLike, true),
        "NumericEquals" => (Op::Numeric(Cmp::Eq), false),
        "NumericNotEquals" => (Op::Numeric(Cmp::Eq), true),
        "NumericLessThan" => (Op::Numeric(Cmp::Lt), false),
        "NumericLessThanEquals" => (Op::Numeric(Cmp::Le), false),
        "NumericGreaterThan" => (Op::Numeric(Cmp::Gt), false),
        "NumericGreaterThanEquals" => (Op::Numeric(Cmp::Ge), false),
        "DateEquals" => (Op::Date(Cmp::Eq), false),
        "DateNotEquals" => (Op::Date(Cmp::Eq), true),
        "DateLessThan" => (Op::Date(Cmp::Lt), false),
        "DateLessThanEquals" => (Op::Date(Cmp::Le), false),
        "DateGreaterThan" => (Op::Date(Cmp::Gt), false),
        "DateGreaterThanEquals" => (Op::Date(Cmp::Ge), false),
        "Bool" => (Op::Bool, false),
        "BinaryEquals" => (Op::Binary, false),
        "IpAddress" => (Op::Ip, false),
        "NotIpAddress" => (Op::Ip, true),
        "ArnEquals" | "ArnLike" => (Op::Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Op::Arn, true),
        "Null" => (Op::Null, false),
        _ => return None,
    })
}

/// Does one condition entry hold for the request context? `vars`: the document has policy
/// variables (version 2012-10-17).
pub(crate) fn holds(c: &Condition, ctx: &Context, vars: bool) -> bool {
    // Unknown operators cannot get past the parser; if one did, it must not grant anything.
    let Some((op, negated)) = classify(&c.base) else {
        return false;
    };
    let found = ctx.get(&c.key);
    if op == Op::Null {
        let absent = found.is_none_or(<[String]>::is_empty);
        return c.values.iter().any(|v| match parse_bool(v) {
            Some(want_absent) => want_absent == absent,
            None => false,
        });
    }
    let values = match found {
        Some(v) if !v.is_empty() => v,
        _ => {
            return match c.set {
                Some(SetQualifier::ForAllValues) => true,
                Some(SetQualifier::ForAnyValue) => c.if_exists,
                None => c.if_exists || negated,
            };
        }
    };
    let single = |v: &String| matches_any(op, v, &c.values, ctx, vars) != negated;
    match c.set {
        Some(SetQualifier::ForAllValues) => values.iter().all(single),
        Some(SetQualifier::ForAnyValue) | None => values.iter().any(single),
    }
}

/// Does the context value `v` match at least one of the policy values under `op`?
fn matches_any(op: Op, v: &str, policy: &[String], ctx: &Context, vars: bool) -> bool {
    match op {
        Op::StringEquals => {
            policy.iter().any(|p| expand(p, ctx, vars).is_some_and(|e| e.text() == v))
        }
        Op::StringEqualsIgnoreCase => {
            policy.iter().any(|p| expand(p, ctx, vars).is_some_and(|e| eq_ignore_case(&e.text(), v)))
        }
        Op::StringLike => policy.iter().any(|p| expand(p, ctx, vars).is_some_and(|e| e.glob(v))),
        Op::Arn => policy.iter().any(|p| expand(p, ctx, vars).is_some_and(|e| e.arn(v))),
        Op::Bool => {
            let Some(x) = parse_bool(v) else { return false };
            policy.iter().any(|p| {
                expand(p, ctx, vars).is_some_and(|e| parse_bool(&e.text()) == Some(x))
            })
        }
        Op::Binary => policy.iter().any(|p| p == v),
        Op::Numeric(cmp) => {
            let Some(x) = parse_number(v) else { return false };
            policy.iter().any(|p| {
                parse_number(p).and_then(|y| x.partial_cmp(&y)).is_some_and(|o| cmp.test(o))
            })
        }
        Op::Date(cmp) => {
            let Some(x) = parse_date(v) else { return false };
            policy.iter().any(|p| parse_date(p).is_some_and(|y| cmp.test(x.cmp(&y))))
        }
        Op::Ip => {
            let Ok(addr) = v.trim().parse::<IpAddr>() else { return false };
            let addr = addr.to_canonical();
            policy.iter().any(|p| cidr_contains(p, addr))
        }
        Op::Null => false,
    }
}

/// `true` / `false`, case-insensitively.
fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// A decimal number (`12`, `-1.5`, `2e3`). Rust's float parser also accepts `inf` and `NaN`,
/// which IAM does not; restricting the alphabet first rules those out.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E')) {
        return None;
    }
    s.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// A date as nanoseconds since the Unix epoch. Accepted forms:
/// - ISO 8601: `2026-01-01`, `2026-01-01T10:00Z`, `2026-01-01T10:00:00Z`,
///   `2026-01-01T10:00:00.123456Z`, with `Z`, `+hh:mm`, `+hhmm`, `+hh` offsets (a missing zone
///   is read as UTC; `t`/`z` in lower case are accepted);
/// - epoch seconds: `1767225600` or `1767225600.5` (optionally signed).
pub(crate) fn parse_date(s: &str) -> Option<i128> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+') && !s[1..].contains(['-', '+']) {
        return parse_epoch(s);
    }
    parse_iso(s)
}

const NANOS: i128 = 1_000_000_000;

fn parse_epoch(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() || int.len() > 18 || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let total = int.parse::<i128>().ok()? * NANOS + fraction_nanos(frac)?;
    Some(if neg { -total } else { total })
}

/// `123` after a decimal point → nanoseconds (digits beyond nanoseconds are truncated).
fn fraction_nanos(frac: &str) -> Option<i128> {
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n: i128 = 0;
    for i in 0..9 {
        n = n * 10 + frac.as_bytes().get(i).map_or(0, |b| i128::from(b - b'0'));
    }
    Some(n)
}

/// Fixed-width unsigned decimal field.
fn digits(s: &str, len: usize) -> Option<i64> {
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_iso(s: &str) -> Option<i128> {
    let (date, time) = match s.find(['T', 't']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let year = digits(dp.next()?, 4)?;
    let month = digits(dp.next()?, 2)?;
    let day = digits(dp.next()?, 2)?;
    if dp.next().is_some() || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut secs = days_from_civil(year, month, day) * 86_400;
    let mut nanos: i128 = 0;
    if let Some(time) = time {
        // Split off the zone designator.
        let (clock, offset) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else if let Some(i) = time.find(['+', '-']) {
            (&time[..i], parse_offset(&time[i..])?)
        } else {
            (time, 0)
        };
        let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
        let mut tp = hms.split(':');
        let h = digits(tp.next()?, 2)?;
        let m = digits(tp.next()?, 2)?;
        let sec = match tp.next() {
            Some(x) => digits(x, 2)?,
            None if frac.is_empty() => 0,
            None => return None,
        };
        if tp.next().is_some() || h > 23 || m > 59 || sec > 59 {
            return None;
        }
        if clock.contains('.') {
            if frac.is_empty() {
                return None;
            }
            nanos = fraction_nanos(frac)?;
        }
        secs += h * 3600 + m * 60 + sec - offset;
    }
    Some(i128::from(secs) * NANOS + nanos)
}

/// `+hh:mm`, `+hhmm` or `+hh` (or `-`) → seconds east of UTC.
fn parse_offset(s: &str) -> Option<i64> {
    let sign = if s.starts_with('-') { -1 } else { 1 };
    let body = &s[1..];
    let (h, m) = match body.len() {
        2 => (digits(body, 2)?, 0),
        4 => (digits(&body[..2], 2)?, digits(&body[2..], 2)?),
        5 if body.as_bytes()[2] == b':' => (digits(&body[..2], 2)?, digits(&body[3..], 2)?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (years counted from March, so the leap
/// day is the last day of the counting year; 400-year eras of 146097 days).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let month_from_march = (m + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Is `addr` inside the policy's CIDR block (or equal to the policy's bare address)? Families
/// must agree, except that an IPv4-mapped IPv6 block (`::ffff:10.0.0.0/104`) also matches IPv4
/// callers (the caller's address has already been canonicalized, so a mapped caller address
/// arrives as IPv4).
pub(crate) fn cidr_contains(policy: &str, addr: IpAddr) -> bool {
    let policy = policy.trim();
    let (net, prefix) = match policy.split_once('/') {
        Some((n, p)) => {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) || p.len() > 3 {
                return false;
            }
            let Ok(p) = p.parse::<u32>() else { return false };
            (n, Some(p))
        }
        None => (policy, None),
    };
    let Ok(net) = net.parse::<IpAddr>() else { return false };
    let (net, prefix) = match net {
        IpAddr::V6(v6) => match (v6.to_ipv4_mapped(), prefix) {
            (Some(v4), None) => (IpAddr::V4(v4), None),
            (Some(v4), Some(p)) if p >= 96 => (IpAddr::V4(v4), Some(p - 96)),
            _ => (net, prefix),
        },
        IpAddr::V4(_) => (net, prefix),
    };
    match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let p = prefix.unwrap_or(32);
            if p > 32 {
                return false;
            }
            let mask = u32::MAX.checked_shl(32 - p).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let p = prefix.unwrap_or(128);
            if p > 128 {
                return false;
            }
            let mask = u128::MAX.checked_shl(128 - p).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_table() {
        let day = 86_400 * NANOS;
        // 2026-01-01T00:00:00Z
        let jan1 = 1_767_225_600 * NANOS;
        let table: &[(&str, Option<i128>)] = &[
            ("1970-01-01", Some(0)),
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2026-01-01", Some(jan1)),
            ("2026-01-01T00:00:00Z", Some(jan1)),
            ("2026-01-01t00:00:00z", Some(jan1)),
            ("2026-01-01T00:00Z", Some(jan1)),
            ("2026-01-01T00:00:00", Some(jan1)),
            ("2026-01-01T01:00:00+01:00", Some(jan1)),
            ("2025-12-31T23:00:00-0100", Some(jan1)),
            ("2026-01-01T02:00:00+02", Some(jan1)),
            ("2026-01-01T00:00:00.5Z", Some(jan1 + NANOS / 2)),
            ("2026-01-01T00:00:00.123456789123Z", Some(jan1 + 123_456_789)),
            ("2026-03-01", Some(jan1 + 59 * day)),
            ("2024-03-01", Some(1_709_251_200 * NANOS)),
            ("2000-02-29", Some(951_782_400 * NANOS)),
            ("1969-12-31", Some(-day)),
            ("1767225600", Some(jan1)),
            ("1767225600.25", Some(jan1 + NANOS / 4)),
            ("-86400", Some(-day)),
            ("2025-02-29", None),
            ("2026-13-01", None),
            ("2026-1-01", None),
            ("2026-01-01T24:00:00Z", None),
            ("2026-01-01T00:00:00.Z", None),
            ("2026-01-01T00:00:00+25:00", None),
            ("yesterday", None),
            ("", None),
            ("12-3", None),
        ];
        for (text, want) in table {
            assert_eq!(parse_date(text), *want, "{text:?}");
        }
    }

    #[test]
    fn number_table() {
        let table: &[(&str, Option<f64>)] = &[
            ("10", Some(10.0)),
            ("-1.5", Some(-1.5)),
            ("2e3", Some(2000.0)),
            ("+7", Some(7.0)),
            ("inf", None),
            ("NaN", None),
            ("", None),
            ("1.2.3", None),
            ("ten", None),
            (" 1", None),
        ];
        for (text, want) in table {
            assert_eq!(parse_number(text), *want, "{text:?}");
        }
    }

    #[test]
    fn cidr_table() {
        let table: &[(&str, &str, bool)] = &[
            ("10.0.0.0/8", "10.255.1.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("10.1.2.3", "10.1.2.3", true),
            ("10.1.2.3", "10.1.2.4", false),
            ("10.1.2.3/32", "10.1.2.3", true),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("10.1.2.3/8", "10.9.9.9", true),
            ("10.0.0.0/33", "10.0.0.1", false),
            ("10.0.0.0/", "10.0.0.1", false),
            ("10.0.0.0/8", "2001:db8::1", false),
            ("2001:db8::/32", "2001:db8:ffff::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("::/0", "::1", true),
            ("2001:db8::1", "2001:db8::1", true),
            ("2001:db8::/129", "2001:db8::1", false),
            ("::ffff:10.0.0.0/104", "10.1.1.1", true),
            ("10.0.0.0/8", "::ffff:10.1.1.1", true),
            ("not-an-ip", "10.0.0.1", false),
        ];
        for (policy, addr, want) in table {
            let a: IpAddr = addr.parse::<IpAddr>().unwrap().to_canonical();
            assert_eq!(cidr_contains(policy, a), *want, "{addr} in {policy}");
        }
    }
}
