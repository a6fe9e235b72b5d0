//! Time as AWS prints it, and the service clock.
//!
//! Two clocks exist on purpose. SigV4 always checks request times against the wall clock. Domain
//! schedules (key deletion windows, rotation periods, parameter expiry) read [`Clock`], which is the
//! wall clock plus an offset that only a test harness can move. That lets tests prove "the key is
//! gone after its 7-day window" without waiting 7 days and without weakening authentication.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

pub const MILLIS_PER_DAY: i64 = 86_400_000;
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

impl Timestamp {
    pub fn wall() -> Timestamp {
        let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp(d.as_millis() as i64)
    }
    pub fn from_secs(s: i64) -> Timestamp {
        Timestamp(s.saturating_mul(1000))
    }
    pub fn millis(self) -> i64 {
        self.0
    }
    pub fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }
    /// Epoch seconds with millisecond fraction, as AWS JSON protocols encode timestamps.
    pub fn epoch_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
    pub fn plus_days(self, days: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(days.saturating_mul(MILLIS_PER_DAY)))
    }
    pub fn plus_secs(self, secs: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(secs.saturating_mul(1000)))
    }
    /// Truncated to the start of its UTC day (AWS reports deletion dates at day granularity for
    /// some operations; we keep full precision and only use this where AWS does).
    pub fn civil(self) -> Civil {
        let secs = self.secs();
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Civil {
            year: y,
            month: m,
            day: d,
            hour: (rem / 3600) as u32,
            minute: ((rem % 3600) / 60) as u32,
            second: (rem % 60) as u32,
            millis: self.0.rem_euclid(1000) as u32,
        }
    }
    /// `20261129T024501Z`, the SigV4 `X-Amz-Date` form.
    pub fn amz_date(self) -> String {
        let c = self.civil();
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            c.year, c.month, c.day, c.hour, c.minute, c.second
        )
    }
    /// `2026-11-29T02:45:01.000Z`, the ISO 8601 form of XML protocols.
    pub fn iso8601(self) -> String {
        let c = self.civil();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            c.year, c.month, c.day, c.hour, c.minute, c.second, c.millis
        )
    }
    /// `Sun, 29 Nov 2026 02:45:01 GMT`, the HTTP date form (RFC 7231 IMF-fixdate).
    pub fn http_date(self) -> String {
        let c = self.civil();
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][self.secs().div_euclid(86_400).rem_euclid(7) as usize];
        format!(
            "{weekday}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            c.day,
            MONTHS[(c.month - 1) as usize],
            c.year,
            c.hour,
            c.minute,
            c.second
        )
    }
    /// Parses the three HTTP date forms: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), RFC 850
    /// (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`).
    pub fn parse_http_date(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        let month = |m: &str| MONTHS.iter().position(|x| x.eq_ignore_ascii_case(m)).map(|i| i as u32 + 1);
        let hms = |t: &str| -> Option<i64> {
            let mut p = t.split(':');
            let (h, mi, se): (i64, i64, i64) = (p.next()?.parse().ok()?, p.next()?.parse().ok()?, p.next()?.parse().ok()?);
            (p.next().is_none() && h < 24 && mi < 60 && se <= 60).then_some(h * 3600 + mi * 60 + se)
        };
        let (y, mo, d, secs) = if let Some((_, rest)) = s.split_once(", ") {
            let parts: Vec<&str> = rest.split_whitespace().collect();
            if parts.len() == 5 && parts[4] == "GMT" {
                // IMF-fixdate
                (parts[2].parse::<i64>().ok()?, month(parts[1])?, parts[0].parse::<u32>().ok()?, hms(parts[3])?)
            } else if parts.len() == 3 && parts[2] == "GMT" {
                // RFC 850: 06-Nov-94
                let mut dp = parts[0].split('-');
                let d: u32 = dp.next()?.parse().ok()?;
                let m = month(dp.next()?)?;
                let yy: i64 = dp.next()?.parse().ok()?;
                let y = if yy < 100 { if yy < 70 { 2000 + yy } else { 1900 + yy } } else { yy };
                (y, m, d, hms(parts[1])?)
            } else {
                return None;
            }
        } else {
            let parts: Vec<&str> = s.split_whitespace().collect();
            if parts.len() != 5 {
                return None;
            }
            (parts[4].parse::<i64>().ok()?, month(parts[1])?, parts[2].parse::<u32>().ok()?, hms(parts[3])?)
        };
        if !(1..=31).contains(&d) {
            return None;
        }
        Some(Timestamp::from_secs(days_from_civil(y, mo, d) * 86_400 + secs))
    }
    /// Parses `YYYYMMDDTHHMMSSZ`.
    pub fn parse_amz_date(s: &str) -> Option<Timestamp> {
        let b = s.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let part = s.get(r)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
        let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        let days = days_from_civil(y, mo as u32, d as u32);
        Some(Timestamp::from_secs(days * 86_400 + h * 3600 + mi * 60 + se))
    }
    /// Parses ISO 8601 / RFC 3339 UTC forms: `2026-11-29T02:45:01Z`, with optional fraction.
    pub fn parse_iso8601(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        let (date, time) = s.split_once('T').or_else(|| s.split_once(' '))?;
        let mut dp = date.split('-');
        let y: i64 = dp.next()?.parse().ok()?;
        let mo: u32 = dp.next()?.parse().ok()?;
        let d: u32 = dp.next()?.parse().ok()?;
        if dp.next().is_some() || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
            return None;
        }
        let time = time.strip_suffix('Z').or_else(|| time.strip_suffix("+00:00"))?;
        let (hms, frac) = match time.split_once('.') {
            Some((a, b)) => (a, b),
            None => (time, ""),
        };
        let mut tp = hms.split(':');
        let h: i64 = tp.next()?.parse().ok()?;
        let mi: i64 = tp.next()?.parse().ok()?;
        let se: i64 = tp.next()?.parse().ok()?;
        if tp.next().is_some() || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        let mut millis = 0i64;
        if !frac.is_empty() {
            if !frac.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let f3: String = frac.chars().chain("000".chars()).take(3).collect();
            millis = f3.parse().ok()?;
        }
        let days = days_from_civil(y, mo, d);
        Some(Timestamp((days * 86_400 + h * 3600 + mi * 60 + se) * 1000 + millis))
    }
}

/// A timestamp as AWS JSON protocols put it on the wire: epoch seconds, with a millisecond
/// fraction when there is one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochSeconds(pub Timestamp);

impl serde::Serialize for EpochSeconds {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ms = self.0.millis();
        if ms % 1000 == 0 { s.serialize_i64(ms / 1000) } else { s.serialize_f64(self.0.epoch_f64()) }
    }
}

/// A broken-down UTC time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
}

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The service clock: wall time plus an offset a test harness may advance.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn new() -> Clock {
        Clock::default()
    }
    pub fn now(&self) -> Timestamp {
        Timestamp(Timestamp::wall().0 + self.offset_ms.load(Ordering::Relaxed))
    }
    /// Moves the service clock forward (never backward: schedules must stay monotonic).
    pub fn advance(&self, secs: u64) {
        let ms = i64::try_from(secs).unwrap_or(i64::MAX / 4000).saturating_mul(1000);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
    pub fn offset_secs(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed) / 1000
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_dates() {
        let t = Timestamp::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(t.http_date(), "Sun, 06 Nov 1994 08:49:37 GMT");
        for s in ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
            assert_eq!(Timestamp::parse_http_date(s), Some(t), "{s}");
        }
        assert_eq!(Timestamp::parse_http_date("yesterday"), None);
        assert_eq!(Timestamp::from_secs(0).http_date(), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-1_000_000i64, -1, 0, 1, 10_957, 20_786, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn amz_date_round_trip() {
        let t = Timestamp::parse_amz_date("20261129T024501Z").unwrap();
        assert_eq!(t.amz_date(), "20261129T024501Z");
        assert_eq!(t.iso8601(), "2026-11-29T02:45:01.000Z");
        assert!(Timestamp::parse_amz_date("20261329T024501Z").is_none());
        assert!(Timestamp::parse_amz_date("2026112xT024501Z").is_none());
        assert!(Timestamp::parse_amz_date("20261129T024501").is_none());
    }

    #[test]
    fn iso_parse() {
        let t = Timestamp::parse_iso8601("2026-11-29T02:45:01.5Z").unwrap();
        assert_eq!(t.iso8601(), "2026-11-29T02:45:01.500Z");
        assert_eq!(Timestamp::parse_iso8601("2026-11-29T02:45:01Z").unwrap().millis() % 1000, 0);
        assert!(Timestamp::parse_iso8601("2026-11-29").is_none());
    }

    #[test]
    fn clock_advances() {
        let c = Clock::new();
        let a = c.now();
        c.advance(86_400);
        assert!(c.now().0 - a.0 >= MILLIS_PER_DAY);
    }
}
