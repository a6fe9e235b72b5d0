//! ListObjectsV2 and ListObjects (V1): prefix, delimiter (common prefixes), pagination by
//! continuation token / marker, in UTF-8 binary key order as S3 lists.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use coffer_policy::Caller;
use coffer_store::tables;

use crate::model::{ListObjectsInput, ListObjectsOutput, ListedObject};
use crate::records::ObjectRecord;
use crate::{S3, S3Error, decode};

/// Sorts after every key that starts with a given prefix (the largest code point).
const AFTER_ALL: char = '\u{10FFFF}';

fn encode_token(key: &str) -> String {
    format!("1{}", B64.encode(key.as_bytes()))
}

fn decode_token(t: &str) -> Result<String, S3Error> {
    t.strip_prefix('1')
        .and_then(|b| B64.decode(b).ok())
        .and_then(|v| String::from_utf8(v).ok())
        .ok_or_else(|| S3Error::invalid_argument("The continuation token provided is incorrect", "continuation-token", t))
}

impl S3 {
    pub async fn list_objects(&self, caller: &Caller, input: ListObjectsInput) -> Result<ListObjectsOutput, S3Error> {
        let b = self.bucket(caller, &input.bucket)?;
        let max_keys = match input.max_keys {
            Some(m) if m < 0 => {
                return Err(S3Error::invalid_argument("Argument maxKeys must be an integer between 0 and 2147483647", "maxKeys", &m.to_string()));
            }
            Some(m) => m,
            None => 1000,
        };
        let mut extra = vec![("s3:prefix".to_string(), vec![input.prefix.clone()]), ("s3:max-keys".to_string(), vec![max_keys.to_string()])];
        if let Some(d) = &input.delimiter {
            extra.push(("s3:delimiter".into(), vec![d.clone()]));
        }
        self.authorize(caller, Some(&b), "s3:ListBucket", &b.arn(), &extra)?;
        let limit = max_keys.min(1000) as usize;
        // Where to start: strictly after this key.
        let mut after: Option<String> = if input.v2 {
            match &input.continuation_token {
                Some(t) => Some(decode_token(t)?),
                None => input.start_after.clone().filter(|s| !s.is_empty()),
            }
        } else {
            input.marker.clone().filter(|s| !s.is_empty())
        };
        let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
        // A common prefix at or before the starting point was already returned.
        let start = after.clone();
        let mut contents = Vec::new();
        let mut prefixes: Vec<String> = Vec::new();
        let mut last: Option<String> = None;
        let mut truncated = false;
        'outer: loop {
            if limit == 0 {
                break;
            }
            let page = self.store.list(tables::S3_OBJECTS, &b.rec.id, &input.prefix, after.as_deref(), 1000).await?;
            if page.is_empty() {
                break;
            }
            let full = page.len() == 1000;
            for item in page {
                if contents.len() + prefixes.len() >= limit {
                    truncated = true;
                    break 'outer;
                }
                let key = item.sk.clone();
                if let Some(d) = &delimiter
                    && let Some(i) = key[input.prefix.len()..].find(d.as_str())
                {
                    let cp = key[..input.prefix.len() + i + d.len()].to_string();
                    // Skip every key under this common prefix.
                    after = Some(format!("{cp}{AFTER_ALL}"));
                    if start.as_deref().is_none_or(|s| cp.as_str() > s) {
                        last = Some(cp.clone());
                        prefixes.push(cp);
                    }
                    continue 'outer;
                }
                let rec: ObjectRecord = decode("object", &item.value)?;
                last = Some(key.clone());
                after = Some(key);
                contents.push(ListedObject {
                    key: rec.key,
                    modified_ms: rec.modified_ms,
                    etag: rec.etag,
                    size: rec.size,
                    storage_class: rec.storage_class,
                    checksum_algorithm: rec.checksum.as_ref().map(|c| c.algorithm.clone()),
                    checksum_type: rec.checksum.as_ref().map(|c| c.kind.clone()),
                });
            }
            if !full {
                break;
            }
        }
        if !truncated && limit > 0 && contents.len() + prefixes.len() >= limit {
            // Exactly full: truncated only if something follows.
            truncated = !self.store.list(tables::S3_OBJECTS, &b.rec.id, &input.prefix, after.as_deref(), 1).await?.is_empty();
        }
        let next = if truncated { last.clone() } else { None };
        Ok(ListObjectsOutput {
            owner: b.rec.account.clone(),
            contents,
            common_prefixes: prefixes,
            is_truncated: truncated,
            next_continuation_token: if input.v2 { next.as_deref().map(encode_token) } else { None },
            next_marker: if !input.v2 && delimiter.is_some() { next } else { None },
            max_keys,
        })
    }
}
