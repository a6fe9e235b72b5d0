//! S3's naming rules: bucket names, object keys, user metadata, tags.

use crate::S3Error;

/// AWS's general-purpose bucket naming rules.
pub fn check_bucket_name(name: &str) -> Result<(), S3Error> {
    let bad = || S3Error::InvalidBucketName(name.to_string());
    let b = name.as_bytes();
    if !(3..=63).contains(&b.len()) {
        return Err(bad());
    }
    if !b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'.') {
        return Err(bad());
    }
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return Err(bad());
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Err(bad());
    }
    // Not formatted as an IP address.
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() == 4 && parts.iter().all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|c| c.is_ascii_digit())) {
        return Err(bad());
    }
    const PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    const SUFFIXES: [&str; 4] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3"];
    if PREFIXES.iter().any(|p| name.starts_with(p)) || SUFFIXES.iter().any(|s| name.ends_with(s)) {
        return Err(bad());
    }
    Ok(())
}

/// Object keys: 1 to 1024 bytes of UTF-8.
pub fn check_key(key: &str) -> Result<(), S3Error> {
    if key.is_empty() {
        return Err(S3Error::invalid_argument("Key must not be empty.", "key", ""));
    }
    if key.len() > 1024 {
        return Err(S3Error::KeyTooLong("Your key is too long".into()));
    }
    // XML 1.0 cannot carry NUL (listings could not return the key), nor can PostgreSQL text.
    if key.contains('\0') {
        return Err(S3Error::invalid_argument("Object key must not contain the NUL character.", "key", ""));
    }
    Ok(())
}

/// User metadata: names are lower-cased HTTP token characters; at most 2 KB of names and values.
pub fn check_metadata(meta: &[(String, String)]) -> Result<(), S3Error> {
    let size: usize = meta.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > 2048 {
        return Err(S3Error::MetadataTooLarge(format!(
            "Your metadata headers exceed the maximum allowed metadata size. ({size} bytes; the limit is 2048)"
        )));
    }
    Ok(())
}

/// `x-amz-tagging`: a URL query string of at most 10 tags.
pub fn parse_tagging(s: &str) -> Result<Vec<(String, String)>, S3Error> {
    let mut tags: Vec<(String, String)> = Vec::new();
    for pair in s.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (url_decode(k), url_decode(v));
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(S3Error::InvalidTag("The TagKey you have provided is invalid".into()));
        }
        if k.starts_with("aws:") {
            return Err(S3Error::InvalidTag("Your TagKey cannot be prefixed with aws:".into()));
        }
        if tags.iter().any(|(t, _)| *t == k) {
            return Err(S3Error::InvalidTag("Cannot provide multiple Tags with the same key".into()));
        }
        tags.push((k, v));
    }
    if tags.len() > 10 {
        return Err(S3Error::InvalidTag("Object tags cannot be greater than 10".into()));
    }
    Ok(tags)
}

/// Percent-decoding of a form value (`+` is a space).
pub fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = |c: u8| (c as char).to_digit(16);
                match (h(b[i + 1]), h(b[i + 2])) {
                    (Some(x), Some(y)) => {
                        out.push((x * 16 + y) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Storage classes S3 accepts (all stored alike here).
pub fn check_storage_class(s: &str) -> Result<(), S3Error> {
    const CLASSES: [&str; 11] = [
        "STANDARD",
        "REDUCED_REDUNDANCY",
        "STANDARD_IA",
        "ONEZONE_IA",
        "INTELLIGENT_TIERING",
        "GLACIER",
        "DEEP_ARCHIVE",
        "OUTPOSTS",
        "GLACIER_IR",
        "SNOW",
        "EXPRESS_ONEZONE",
    ];
    if CLASSES.contains(&s) {
        Ok(())
    } else {
        Err(S3Error::InvalidStorageClass("The storage class you specified is not valid".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.example", "a1b2c3", &"a".repeat(63)] {
            assert!(check_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "ABC", "-abc", "abc-", "a..b", "192.168.1.1", "xn--abc", "abc-s3alias", "a_b", &"a".repeat(64), "a.-b"] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tagging() {
        assert_eq!(parse_tagging("a=1&b=two%20words").unwrap(), vec![("a".into(), "1".into()), ("b".into(), "two words".into())]);
        assert!(parse_tagging("a=1&a=2").is_err());
        assert!(parse_tagging("aws:x=1").is_err());
        assert_eq!(url_decode("%zz%4"), "%zz%4");
    }
}
