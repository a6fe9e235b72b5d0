//! Opaque pagination markers.
//!
//! AWS list operations hand out a `NextMarker`/`NextToken` the client must pass back verbatim.
//! Ours encode the last returned sort key (hex, behind a version tag) so that a listing resumes
//! exactly after it even if items were added or removed meanwhile, and so that a marker that was
//! not issued by us is recognised and refused with the service's invalid-marker error.

const TAG: &str = "c1.";

/// Encodes the sort key after which the next page starts.
pub fn encode(after: &str) -> String {
    let mut s = String::with_capacity(TAG.len() + after.len() * 2);
    s.push_str(TAG);
    for b in after.as_bytes() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Decodes a marker; `None` when it was not produced by [`encode`].
pub fn decode(marker: &str) -> Option<String> {
    let hex = marker.strip_prefix(TAG)?;
    if hex.len() % 2 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(hex.len() / 2);
    for pair in hex.as_bytes().chunks(2) {
        let s = std::str::from_utf8(pair).ok()?;
        out.push(u8::from_str_radix(s, 16).ok()?);
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        let m = super::encode("alias/x:y");
        assert_eq!(super::decode(&m).as_deref(), Some("alias/x:y"));
        assert!(super::decode("garbage").is_none());
        assert!(super::decode("c1.zz").is_none());
        assert!(super::decode("c1.abc").is_none());
    }
}
