//! Integrity and preconditions: Content-MD5, flexible checksums, ETags, conditional requests and
//! ranges — the rules S3 applies before and after moving bytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use coffer_crypto::checksum::{ChecksumAlgorithm, Checksummer, Md5};
use coffer_crypto::digest::{ct_eq, hex};
use coffer_crypto::random;
use coffer_util::Timestamp;

use crate::S3Error;
use crate::model::{ChecksumHeaders, ChecksumOut, Conditions};
use crate::records::{SseMode, SseRecord};

/// The checksum algorithms S3 accepts from clients, by their header names.
pub(crate) fn algorithm(name: &str) -> Result<ChecksumAlgorithm, S3Error> {
    ChecksumAlgorithm::from_name(name).ok_or_else(|| {
        S3Error::invalid_argument(
            format!("Checksum algorithm {name} is not supported; use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256."),
            "x-amz-checksum-algorithm",
            name,
        )
    })
}

/// What the bytes of one write are checked against, and what is computed while they flow.
pub(crate) struct Ingest {
    /// Computed only where needed (an MD5 ETag or a Content-MD5 check): it is the slowest hash.
    md5: Option<Md5>,
    content_md5: Option<[u8; 16]>,
    checksum: Option<(ChecksumAlgorithm, Checksummer)>,
    /// A value given in a header (base64), or expected in the trailer.
    expected: Option<String>,
    trailer: Option<String>,
    /// A second checksum computed alongside (the default CRC64NVME of a multipart upload whose
    /// parts carry another algorithm), for combining into the object's checksum.
    also: Option<(ChecksumAlgorithm, Checksummer)>,
    pub size: u64,
}

/// What a finished write computed.
pub(crate) struct Ingested {
    /// The MD5 of the data, when it was computed (else zeros).
    pub md5: [u8; 16],
    pub checksum: Option<(ChecksumAlgorithm, Vec<u8>)>,
    pub also: Option<(ChecksumAlgorithm, Vec<u8>)>,
    pub size: u64,
}

impl Ingest {
    /// Validates the integrity headers of a write. `default`: compute this algorithm when the
    /// client names none (S3 gives every new object a CRC64NVME checksum).
    pub(crate) fn new(content_md5: Option<&str>, h: &ChecksumHeaders, default: Option<ChecksumAlgorithm>) -> Result<Ingest, S3Error> {
        let content_md5 = match content_md5 {
            None => None,
            Some(m) => Some(
                B64.decode(m.trim())
                    .ok()
                    .and_then(|v| <[u8; 16]>::try_from(v).ok())
                    .ok_or_else(|| S3Error::InvalidDigest("The Content-MD5 you specified was invalid.".into()))?,
            ),
        };
        if h.values.len() > 1 {
            return Err(S3Error::InvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.".into()));
        }
        let mut alg = None;
        let mut expected = None;
        if let Some((name, value)) = h.values.first() {
            alg = Some(algorithm(name)?);
            expected = Some(value.clone());
        }
        let trailer = match &h.trailer {
            Some(t) => {
                let name = t.trim().to_ascii_lowercase();
                let Some(a) = name.strip_prefix("x-amz-checksum-") else {
                    return Err(S3Error::InvalidRequest(format!("The value specified in the x-amz-trailer header is not supported: {t}")));
                };
                let a = algorithm(a)?;
                if alg.is_some_and(|x| x != a) {
                    return Err(S3Error::InvalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.".into()));
                }
                alg = Some(a);
                Some(name)
            }
            None => None,
        };
        if let Some(named) = &h.algorithm {
            let a = algorithm(named)?;
            match alg {
                Some(x) if x != a => {
                    return Err(S3Error::InvalidRequest(format!(
                        "Value for x-amz-sdk-checksum-algorithm header is invalid. ({named} does not match the x-amz-checksum header)"
                    )));
                }
                _ => alg = Some(a),
            }
        }
        let alg = alg.or(default);
        Ok(Ingest {
            md5: Some(Md5::new()),
            content_md5,
            checksum: alg.map(|a| (a, Checksummer::new(a))),
            expected,
            trailer,
            also: None,
            size: 0,
        })
    }

    /// The algorithm of the checksum being computed, if any.
    pub(crate) fn algorithm(&self) -> Option<ChecksumAlgorithm> {
        self.checksum.as_ref().map(|(a, _)| *a)
    }

    /// Also computes `alg` (unless it is already the checksum's algorithm).
    pub(crate) fn also(mut self, alg: ChecksumAlgorithm) -> Ingest {
        if self.algorithm() != Some(alg) {
            self.also = Some((alg, Checksummer::new(alg)));
        }
        self
    }

    /// Skips the MD5 unless the ETag is MD5-based or the client sent Content-MD5.
    pub(crate) fn etag_md5(mut self, needed: bool) -> Ingest {
        if !needed && self.content_md5.is_none() {
            self.md5 = None;
        }
        self
    }

    pub(crate) fn update(&mut self, data: &[u8]) {
        if let Some(m) = &mut self.md5 {
            m.update(data);
        }
        if let Some((_, c)) = &mut self.checksum {
            c.update(data);
        }
        if let Some((_, c)) = &mut self.also {
            c.update(data);
        }
        self.size += data.len() as u64;
    }

    /// A trailing header arrived (aws-chunked).
    pub(crate) fn trailers(&mut self, trailers: &[(String, String)]) -> Result<(), S3Error> {
        if let Some(name) = &self.trailer {
            match trailers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
                Some((_, v)) => self.expected = Some(v.trim().to_string()),
                None => return Err(S3Error::InvalidRequest(format!("The {name} trailer was declared but not sent."))),
            }
        }
        Ok(())
    }

    /// Checks what arrived against what was promised.
    pub(crate) fn finish(self, declared_length: Option<u64>) -> Result<Ingested, S3Error> {
        if let Some(n) = declared_length
            && n != self.size
        {
            return Err(S3Error::IncompleteBody("You did not provide the number of bytes specified by the Content-Length HTTP header".into()));
        }
        let md5 = self.md5.map(Md5::finish).unwrap_or_default();
        if let Some(m) = self.content_md5
            && !ct_eq(&m, &md5)
        {
            return Err(S3Error::BadDigest("The Content-MD5 you specified did not match what we received.".into()));
        }
        if self.trailer.is_some() && self.expected.is_none() {
            return Err(S3Error::IncompleteBody("The checksum trailer was not received.".into()));
        }
        let checksum = match self.checksum {
            Some((alg, c)) => {
                let value = c.finish();
                if let Some(e) = &self.expected
                    && B64.decode(e.trim()).ok().is_none_or(|given| !ct_eq(&given, &value))
                {
                    return Err(S3Error::BadDigest(format!(
                        "The {} you specified did not match the calculated checksum.",
                        alg.name()
                    )));
                }
                Some((alg, value))
            }
            None => None,
        };
        let also = self.also.map(|(a, c)| (a, c.finish()));
        Ok(Ingested { md5, checksum, also, size: self.size })
    }
}

/// Whether ETags of data protected this way are the MD5 of the plaintext: for SSE-S3 (and
/// unencrypted data); for SSE-KMS and SSE-C AWS says the ETag is "not an MD5 digest of the
/// object data", and Coffer makes it random.
pub(crate) fn etag_is_md5(sse: &SseRecord) -> bool {
    match sse.mode {
        SseMode::S3 => true,
        SseMode::Plain => sse.ssec_check.is_none() && sse.kms_key_arn.is_none(),
        _ => false,
    }
}

/// The ETag of a single-part object or a part.
pub(crate) fn etag(sse: &SseRecord, md5: &[u8; 16]) -> String {
    if etag_is_md5(sse) { hex(md5) } else { hex(&random::bytes::<16>()) }
}

pub(crate) fn checksum_out(alg: ChecksumAlgorithm, raw: &[u8]) -> ChecksumOut {
    ChecksumOut { algorithm: alg.name().to_string(), value: B64.encode(raw), kind: "FULL_OBJECT".into() }
}

fn strip_quotes(s: &str) -> &str {
    let s = s.trim();
    let s = s.strip_prefix("W/").unwrap_or(s);
    s.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(s)
}

/// Whether an `If-Match` / `If-None-Match` list names `etag` (or is `*`).
pub(crate) fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').any(|e| {
        let e = e.trim();
        e == "*" || strip_quotes(e) == etag
    })
}

/// An HTTP date (RFC 7231, also RFC 850 and asctime) or ISO 8601, as epoch milliseconds.
pub(crate) fn parse_http_date(s: &str) -> Option<i64> {
    Timestamp::parse_http_date(s).or_else(|| Timestamp::parse_iso8601(s)).map(|t| t.millis())
}

/// Evaluates GET/HEAD preconditions with S3's precedence rules.
pub(crate) fn check_conditions(c: &Conditions, etag: &str, modified_ms: i64, copy_source: bool) -> Result<(), S3Error> {
    let modified_s = modified_ms / 1000;
    let since = |s: &Option<String>| s.as_deref().and_then(parse_http_date).map(|ms| ms / 1000);
    let failed = |h: &str| {
        if copy_source {
            S3Error::precondition(&format!("x-amz-copy-source-{}", h.to_ascii_lowercase()))
        } else {
            S3Error::precondition(h)
        }
    };
    let if_match = c.if_match.as_deref().map(|l| etag_matches(l, etag));
    if if_match == Some(false) {
        return Err(failed("If-Match"));
    }
    if if_match.is_none()
        && let Some(t) = since(&c.if_unmodified_since)
        && modified_s > t
    {
        return Err(failed("If-Unmodified-Since"));
    }
    let if_none = c.if_none_match.as_deref().map(|l| etag_matches(l, etag));
    if if_none == Some(true) {
        return Err(if copy_source { failed("If-None-Match") } else { S3Error::NotModified });
    }
    if if_none.is_none()
        && let Some(t) = since(&c.if_modified_since)
        && modified_s <= t
    {
        return Err(if copy_source { failed("If-Modified-Since") } else { S3Error::NotModified });
    }
    Ok(())
}

/// A `Range: bytes=...` header against an object of `size` bytes: `Ok(None)` when the header is
/// absent or not one well-formed byte range (S3 then returns the whole object).
pub(crate) fn parse_range(h: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, S3Error> {
    let Some(spec) = h.map(str::trim).and_then(|h| h.strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else { return Ok(None) };
        if n == 0 || size == 0 {
            return Err(S3Error::InvalidRange { size });
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let Ok(start) = a.parse::<u64>() else { return Ok(None) };
        let end = if b.is_empty() {
            u64::MAX
        } else {
            match b.parse::<u64>() {
                Ok(e) if e >= start => e,
                _ => return Ok(None),
            }
        };
        if start >= size {
            return Err(S3Error::InvalidRange { size });
        }
        (start, end.min(size - 1))
    };
    Ok(Some(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range(Some("bytes=0-9"), 100).unwrap(), Some((0, 9)));
        assert_eq!(parse_range(Some("bytes=90-"), 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range(Some("bytes=-10"), 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range(Some("bytes=-1000"), 100).unwrap(), Some((0, 99)));
        assert_eq!(parse_range(Some("bytes=50-1000"), 100).unwrap(), Some((50, 99)));
        assert!(parse_range(Some("bytes=100-"), 100).is_err());
        assert_eq!(parse_range(Some("bytes=9-0"), 100).unwrap(), None);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100).unwrap(), None);
        assert_eq!(parse_range(Some("items=0-1"), 100).unwrap(), None);
        assert!(parse_range(Some("bytes=0-"), 0).is_err());
    }

    #[test]
    fn conditions() {
        let c = Conditions { if_match: Some("\"abc\"".into()), ..Default::default() };
        assert!(check_conditions(&c, "abc", 0, false).is_ok());
        assert!(check_conditions(&c, "abd", 0, false).is_err());
        let c = Conditions { if_none_match: Some("*".into()), ..Default::default() };
        assert_eq!(check_conditions(&c, "abc", 0, false), Err(S3Error::NotModified));
        // If-Match true wins over If-Unmodified-Since false.
        let c = Conditions {
            if_match: Some("abc".into()),
            if_unmodified_since: Some("Thu, 01 Jan 1970 00:00:00 GMT".into()),
            ..Default::default()
        };
        assert!(check_conditions(&c, "abc", 5_000_000, false).is_ok());
    }
}
