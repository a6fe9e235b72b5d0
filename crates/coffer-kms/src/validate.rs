//! Model constraints shared by several operations (lengths, ranges and enums from botocore's kms
//! model), reported in AWS's words.

use coffer_util::{Validation, marker};

use crate::KmsError;
use crate::model::Tag;

/// `KeyId`: required, 1..2048 characters. Returns the value when present.
pub(crate) fn key_id<'a>(v: &mut Validation, field: &str, val: Option<&'a String>) -> Option<&'a str> {
    if v.required(field, val) {
        let s = val.expect("checked");
        v.str_len(field, s, 1, 2048);
        Some(s.as_str())
    } else {
        None
    }
}

pub(crate) fn opt_key_id(v: &mut Validation, field: &str, val: Option<&String>) {
    if let Some(s) = val {
        v.str_len(field, s, 1, 2048);
    }
}

pub(crate) fn grant_tokens(v: &mut Validation, tokens: Option<&Vec<String>>) {
    if let Some(t) = tokens {
        let shown = format!("[{}]", t.join(", "));
        v.list_len("grantTokens", &shown, t.len(), 0, 10);
        for (i, tok) in t.iter().enumerate() {
            v.str_len(&format!("grantTokens.{}.member", i + 1), tok, 1, 8192);
        }
    }
}

/// `Limit` 1..1000 (default 100) and `Marker` 1..1024.
pub(crate) fn page(v: &mut Validation, limit: Option<i64>, marker: Option<&String>) {
    if let Some(l) = limit {
        v.range("limit", l, 1, 1000);
    }
    if let Some(m) = marker {
        v.str_len("marker", m, 1, 1024);
    }
}

/// Decodes a marker into the sort key to resume after.
pub(crate) fn resume_after(marker: Option<&String>) -> Result<Option<String>, KmsError> {
    match marker {
        None => Ok(None),
        Some(m) => marker::decode(m).map(Some).ok_or(KmsError::InvalidMarker),
    }
}

pub(crate) fn description(v: &mut Validation, d: Option<&String>) {
    if let Some(d) = d {
        v.str_len("description", d, 0, 8192);
    }
}

pub(crate) fn encryption_algorithm(v: &mut Validation, field: &str, a: Option<&String>) {
    if let Some(a) = a {
        v.one_of(field, a, &["SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"]);
    }
}

/// Element constraints of a tag list (`tags.N.member.tagKey` ...).
pub(crate) fn tags(v: &mut Validation, tags: &[Tag]) {
    for (i, t) in tags.iter().enumerate() {
        let n = i + 1;
        let kf = format!("tags.{n}.member.tagKey");
        let vf = format!("tags.{n}.member.tagValue");
        if v.required(&kf, t.tag_key.as_ref()) {
            v.str_len(&kf, t.tag_key.as_ref().expect("checked"), 1, 128);
        }
        if v.required(&vf, t.tag_value.as_ref()) {
            v.str_len(&vf, t.tag_value.as_ref().expect("checked"), 0, 256);
        }
    }
}

/// KMS's own tag rules, checked after the model constraints.
pub(crate) fn tag_rules(tags: &[Tag]) -> Result<(), KmsError> {
    let mut seen = std::collections::HashSet::new();
    for t in tags {
        let k = t.tag_key.as_deref().unwrap_or_default();
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(KmsError::Tag("Tags beginning with aws: are reserved".into()));
        }
        if !seen.insert(k) {
            return Err(KmsError::Tag("Duplicate tag keys".into()));
        }
    }
    Ok(())
}

pub(crate) const MAX_TAGS: usize = 50;
