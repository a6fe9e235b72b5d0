//! Randomness from aws-lc-rs, and the identifiers built from it.

/// Fills `dest` from the system CSPRNG. Panics only if the operating system's generator is
/// unavailable, in which case no secure operation is possible anyway.
pub fn fill(dest: &mut [u8]) {
    aws_lc_rs::rand::fill(dest).expect("system random number generator unavailable");
}

pub fn bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    fill(&mut b);
    b
}

/// A random (version 4) UUID in its canonical lower-case text form.
pub fn uuid_v4() -> String {
    let mut b: [u8; 16] = bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    format_uuid(&b)
}

pub fn format_uuid(b: &[u8; 16]) -> String {
    let h = crate::digest::hex(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

/// Parses a canonical UUID (any case) into its 16 bytes.
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    let v = crate::digest::unhex(&hex)?;
    v.try_into().ok()
}

/// A random decimal string of `n` digits whose first digit is not zero.
pub fn digits(n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let b: [u8; 1] = bytes();
        if b[0] >= 250 {
            continue; // reject to keep the distribution uniform
        }
        let d = b[0] % 10;
        if out.is_empty() && d == 0 {
            continue;
        }
        out.push(char::from(b'0' + d));
    }
    out
}

/// `n` characters uniformly from `alphabet` (length at most 256).
pub fn from_alphabet(alphabet: &[u8], n: usize) -> String {
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let b: [u8; 1] = bytes();
        if (b[0] as usize) < limit {
            out.push(char::from(alphabet[b[0] as usize % alphabet.len()]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_eq!(format_uuid(&parse_uuid(&u).unwrap()), u);
        assert!(parse_uuid("not-a-uuid").is_none());
    }

    #[test]
    fn digits_shape() {
        let d = digits(12);
        assert_eq!(d.len(), 12);
        assert!(d.bytes().all(|c| c.is_ascii_digit()));
        assert_ne!(&d[0..1], "0");
    }
}
