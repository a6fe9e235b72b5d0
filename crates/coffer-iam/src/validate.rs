//! IAM's model constraints (names, paths, lists), in AWS's wording.

use coffer_util::Validation;

use crate::IamError;
use crate::model::Tag;

const NAME_PATTERN: &str = "[\\w+=,.@-]+";
const PATH_PATTERN: &str = "(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)";

fn name_chars(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// A user, role or policy name: required (when `required`), 1..`max`, `[\w+=,.@-]+`.
pub(crate) fn name<'a>(v: &mut Validation, field: &str, value: Option<&'a String>, max: usize, required: bool) -> Option<&'a str> {
    match value {
        None => {
            if required {
                v.required::<String>(field, None);
            }
            None
        }
        Some(s) => {
            v.str_len(field, s, 1, max);
            v.pattern(field, s, name_chars(s), NAME_PATTERN);
            Some(s.as_str())
        }
    }
}

/// A path: `/` or `/a/b/`, 1..512 printable ASCII characters.
pub(crate) fn path(v: &mut Validation, field: &str, value: Option<&String>) -> String {
    match value {
        None => "/".into(),
        Some(p) => {
            v.str_len(field, p, 1, 512);
            let ok = p == "/" || (p.len() >= 2 && p.starts_with('/') && p.ends_with('/') && p.bytes().all(|b| (0x21..=0x7e).contains(&b)));
            v.pattern(field, p, ok, PATH_PATTERN);
            p.clone()
        }
    }
}

pub(crate) fn max_items(v: &mut Validation, value: Option<i64>) -> usize {
    if let Some(m) = value {
        v.range("maxItems", m, 1, 1000);
    }
    value.unwrap_or(100).clamp(1, 1000) as usize
}

pub(crate) fn policy_text(v: &mut Validation, field: &str, value: Option<&String>) {
    if v.required(field, value) {
        let p = value.expect("checked");
        v.str_len(field, p, 1, 131_072);
        let ok = p.chars().all(|c| matches!(c, '\u{9}' | '\u{a}' | '\u{d}' | '\u{20}'..='\u{ff}'));
        v.pattern(field, p, ok, "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+");
    }
}

pub(crate) fn tags(v: &mut Validation, tags: &[Tag]) {
    v.list_len("tags", &format!("{} tags", tags.len()), tags.len(), 0, 50);
    for (i, t) in tags.iter().enumerate() {
        let kf = format!("tags.{}.member.key", i + 1);
        let vf = format!("tags.{}.member.value", i + 1);
        if v.required(&kf, t.key.as_ref()) {
            v.str_len(&kf, t.key.as_ref().expect("checked"), 1, 128);
        }
        if v.required(&vf, t.value.as_ref()) {
            v.str_len(&vf, t.value.as_ref().expect("checked"), 0, 256);
        }
    }
}

pub(crate) fn tag_rules(tags: &[Tag]) -> Result<(), IamError> {
    let mut seen = std::collections::HashSet::new();
    for t in tags {
        let k = t.key.as_deref().unwrap_or_default();
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(IamError::InvalidInput("User-provided tag keys cannot start with the prefix 'aws:'.".into()));
        }
        if !seen.insert(k.to_ascii_lowercase()) {
            return Err(IamError::InvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.".into()));
        }
    }
    Ok(())
}

/// A marker issued by a list operation, decoded.
pub(crate) fn resume_after(marker: Option<&String>) -> Result<Option<String>, IamError> {
    match marker {
        None => Ok(None),
        Some(m) => coffer_util::marker::decode(m)
            .map(Some)
            .ok_or_else(|| IamError::InvalidInput("Invalid Marker.".into())),
    }
}

/// IAM percent-encodes policy documents in responses; botocore and the CLI decode them.
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
