//! AWS-worded validation errors.
//!
//! AWS front ends validate every request against the API model before the service sees it and
//! answer with one `ValidationException` listing every violated constraint, for example
//! `1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint:
//! Member must have value less than or equal to 1024`. Clients and people grep for these exact
//! phrasings, so they are produced in one place. Field names are the model's member names with a
//! lower-case first letter, as AWS prints them.

/// Collects constraint violations for one request.
#[derive(Default, Debug)]
pub struct Validation {
    errors: Vec<String>,
}

/// How a value is shown in a message: AWS hides blobs (they may be secrets).
pub enum Shown<'a> {
    Text(&'a str),
    Hidden,
}

impl Validation {
    pub fn new() -> Validation {
        Validation::default()
    }

    fn push(&mut self, value: Shown<'_>, field: &str, constraint: &str) {
        let v = match value {
            Shown::Text(t) => format!("Value '{t}' at"),
            Shown::Hidden => "Value at".to_string(),
        };
        self.errors.push(format!("{v} '{field}' failed to satisfy constraint: {constraint}"));
    }

    /// A required member that is absent. Returns whether it was present.
    pub fn required<T>(&mut self, field: &str, v: Option<&T>) -> bool {
        if v.is_none() {
            self.errors
                .push(format!("Value null at '{field}' failed to satisfy constraint: Member must not be null"));
            false
        } else {
            true
        }
    }

    /// String length in characters, inclusive bounds.
    pub fn str_len(&mut self, field: &str, v: &str, min: usize, max: usize) {
        let n = v.chars().count();
        if n < min {
            self.push(Shown::Text(v), field, &format!("Member must have length greater than or equal to {min}"));
        } else if n > max {
            self.push(Shown::Text(v), field, &format!("Member must have length less than or equal to {max}"));
        }
    }

    /// Blob length in bytes; the value is never printed.
    pub fn blob_len(&mut self, field: &str, len: usize, min: usize, max: usize) {
        if len < min {
            self.push(Shown::Hidden, field, &format!("Member must have length greater than or equal to {min}"));
        } else if len > max {
            self.push(Shown::Hidden, field, &format!("Member must have length less than or equal to {max}"));
        }
    }

    /// List length, inclusive bounds.
    pub fn list_len(&mut self, field: &str, shown: &str, len: usize, min: usize, max: usize) {
        if len < min {
            self.push(Shown::Text(shown), field, &format!("Member must have length greater than or equal to {min}"));
        } else if len > max {
            self.push(Shown::Text(shown), field, &format!("Member must have length less than or equal to {max}"));
        }
    }

    /// Integer range, inclusive bounds.
    pub fn range(&mut self, field: &str, v: i64, min: i64, max: i64) {
        let shown = v.to_string();
        if v < min {
            self.push(Shown::Text(&shown), field, &format!("Member must have value greater than or equal to {min}"));
        } else if v > max {
            self.push(Shown::Text(&shown), field, &format!("Member must have value less than or equal to {max}"));
        }
    }

    /// Enum membership. Returns whether the value is allowed.
    pub fn one_of(&mut self, field: &str, v: &str, allowed: &[&str]) -> bool {
        if allowed.contains(&v) {
            return true;
        }
        let set = allowed.join(", ");
        self.push(Shown::Text(v), field, &format!("Member must satisfy enum value set: [{set}]"));
        false
    }

    /// A regular-expression constraint, checked by the caller (`ok`).
    pub fn pattern(&mut self, field: &str, v: &str, ok: bool, pattern: &str) {
        if !ok {
            self.push(Shown::Text(v), field, &format!("Member must satisfy regular expression pattern: {pattern}"));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The AWS message, or `Ok` when nothing was violated.
    pub fn finish(self) -> Result<(), String> {
        match self.errors.len() {
            0 => Ok(()),
            1 => Err(format!("1 validation error detected: {}", self.errors[0])),
            n => Err(format!("{n} validation errors detected: {}", self.errors.join("; "))),
        }
    }
}

/// Characters allowed by the model's `^[a-zA-Z0-9:/_-]+$` (alias and grant names).
pub fn is_alias_chars(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_like_aws() {
        let mut v = Validation::new();
        v.range("numberOfBytes", 1025, 1, 1024);
        assert_eq!(
            v.finish().unwrap_err(),
            "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"
        );
        let mut v = Validation::new();
        v.blob_len("plaintext", 4097, 1, 4096);
        v.required::<String>("keyId", None);
        assert_eq!(
            v.finish().unwrap_err(),
            "2 validation errors detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096; Value null at 'keyId' failed to satisfy constraint: Member must not be null"
        );
        let mut v = Validation::new();
        assert!(!v.one_of("keySpec", "X", &["AES_256", "AES_128"]));
        assert!(v.finish().unwrap_err().ends_with("Member must satisfy enum value set: [AES_256, AES_128]"));
    }
}
