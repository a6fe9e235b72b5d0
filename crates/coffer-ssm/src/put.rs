//! PutParameter.

use std::sync::Arc;

use coffer_policy::Caller;
use coffer_store::{Expect, StoreError, Write, tables};
use coffer_util::Validation;

use crate::error::validated;
use crate::model::{PutParameterRequest, PutParameterResponse, Tag};
use crate::records::{HeadEntry, HeadRecord, Protection, TagRecord, VersionRecord, version_sk, versions_pk};
use crate::{Ssm, SsmError, encode, names, policies};

pub(crate) const TIERS: &[&str] = &["Standard", "Advanced", "Intelligent-Tiering"];
const MAX_VERSIONS: u64 = 100;
const STANDARD_MAX: usize = 4096;
const ADVANCED_MAX: usize = 8192;
const DEFAULT_KEY: &str = "alias/aws/ssm";

pub(crate) fn validate_tags(v: &mut Validation, tags: &[Tag]) {
    let ok = |s: &str| s.chars().all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c));
    for (i, t) in tags.iter().enumerate() {
        let kf = format!("tags.{}.member.key", i + 1);
        let vf = format!("tags.{}.member.value", i + 1);
        if v.required(&kf, t.key.as_ref()) {
            let k = t.key.as_ref().expect("checked");
            v.str_len(&kf, k, 1, 128);
            v.pattern(&kf, k, ok(k), "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$");
        }
        if v.required(&vf, t.value.as_ref()) {
            let val = t.value.as_ref().expect("checked");
            v.str_len(&vf, val, 0, 256);
            v.pattern(&vf, val, ok(val), "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$");
        }
    }
}

pub(crate) fn tag_records(tags: &[Tag]) -> Vec<TagRecord> {
    tags.iter()
        .map(|t| TagRecord { key: t.key.clone().unwrap_or_default(), value: t.value.clone().unwrap_or_default() })
        .collect()
}

/// AllowedPattern is a (Java-style) regular expression the whole value must match.
fn check_pattern(pattern: &str, value: &str) -> Result<(), SsmError> {
    let re = regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(1 << 20)
        .build()
        .map_err(|e| SsmError::InvalidAllowedPattern(format!("The allowed pattern {pattern} is not a valid regular expression: {e}")))?;
    if !re.is_match(value) {
        return Err(SsmError::ParameterPatternMismatch(format!(
            "Parameter value, cannot be validated against allowedPattern: {pattern}"
        )));
    }
    Ok(())
}

fn check_data_type(data_type: &str, kind: &str, value: &str) -> Result<(), SsmError> {
    match data_type {
        "text" | "aws:ssm:integration" => Ok(()),
        "aws:ec2:image" => {
            if kind != "String" {
                return Err(SsmError::Validation("Data type aws:ec2:image is supported only for String parameters.".into()));
            }
            let ok = value.strip_prefix("ami-").is_some_and(|h| {
                (h.len() == 8 || h.len() == 17) && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            });
            if ok {
                Ok(())
            } else {
                Err(SsmError::Validation(format!(
                    "The parameter value {value} is not a valid Amazon Machine Image ID (ami- followed by 8 or 17 hex digits)."
                )))
            }
        }
        other => Err(SsmError::Validation(format!(
            "The following data type is not supported: {other} (Data type names are all lowercase.)"
        ))),
    }
}

impl Ssm {
    pub async fn put_parameter(&self, caller: &Caller, req: PutParameterRequest) -> Result<PutParameterResponse, SsmError> {
        let mut v = Validation::new();
        if v.required("name", req.name.as_ref()) {
            v.str_len("name", req.name.as_ref().expect("checked"), 1, 2048);
        }
        if v.required("value", req.value.as_ref()) && req.value.as_deref() == Some("") {
            v.str_len("value", "", 1, usize::MAX);
        }
        if let Some(d) = &req.description {
            v.str_len("description", d, 0, 1024);
        }
        if let Some(t) = &req.kind {
            v.one_of("type", t, &["SecureString", "StringList", "String"]);
        }
        if let Some(k) = &req.key_id {
            v.str_len("keyId", k, 1, 256);
            v.pattern("keyId", k, coffer_util::validate::is_alias_chars(k), "^([a-zA-Z0-9:/_-]+)$");
        }
        if let Some(p) = &req.allowed_pattern {
            v.str_len("allowedPattern", p, 0, 1024);
        }
        if let Some(t) = &req.tier {
            v.one_of("tier", t, TIERS);
        }
        if let Some(p) = &req.policies {
            v.str_len("policies", p, 1, 4096);
        }
        if let Some(d) = &req.data_type {
            v.str_len("dataType", d, 0, 128);
        }
        let tags = req.tags.clone().unwrap_or_default();
        validate_tags(&mut v, &tags);
        validated(v)?;
        let name = names::parse_write(req.name.as_deref().expect("validated"), &caller.region, caller.account())?;
        let value = req.value.as_deref().expect("validated");
        let overwrite = req.overwrite.unwrap_or(false);
        if !tags.is_empty() && overwrite {
            return Err(SsmError::Validation(
                "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.".into(),
            ));
        }
        let arn = Self::arn(caller, &name.key);
        let mut extra = Vec::new();
        if !tags.is_empty() {
            extra.push(("aws:TagKeys".to_string(), tags.iter().map(|t| t.key.clone().unwrap_or_default()).collect()));
            for t in &tags {
                extra.push((format!("aws:RequestTag/{}", t.key.as_deref().unwrap_or_default()), vec![t.value.clone().unwrap_or_default()]));
            }
        }
        self.authorize(caller, "PutParameter", &arn, &extra)?;
        let policies = match &req.policies {
            Some(p) => Some(policies::parse(p)?),
            None => None,
        };
        let data_type = req.data_type.clone().unwrap_or_else(|| "text".into());
        let scope = Self::scope(caller);

        // The KMS call happens once; a retry after a lost race reuses its ciphertext unless the
        // type or tier it depended on changed meanwhile.
        let mut sealed: Option<((String, Protection), bool, String)> = None;
        for attempt in 0..64 {
            if attempt > 0 {
                tokio::task::yield_now().await;
            }
            let head = self.reload(&scope, &name.key).await?;
            let cur = head.as_ref().map(|h| &h.rec);
            if cur.is_some() && !overwrite {
                return Err(SsmError::ParameterAlreadyExists);
            }
            let kind = match (&req.kind, cur) {
                (Some(k), _) => k.clone(),
                (None, Some(c)) => c.current.kind.clone(),
                (None, None) => {
                    return Err(SsmError::Validation("A parameter type is required when you create a parameter.".into()));
                }
            };
            if kind != "SecureString" && req.key_id.is_some() {
                return Err(SsmError::Validation("KeyId is required for SecureString type parameter only.".into()));
            }
            check_data_type(&data_type, &kind, value)?;
            // Tier: what was asked (or the default), upgraded by Intelligent-Tiering, never down.
            let counts = self.cache.counts(&scope);
            let asked = req.tier.clone().unwrap_or_else(|| match cur {
                Some(c) if c.current.tier == "Advanced" => "Advanced".into(),
                _ => self.config.default_tier.clone(),
            });
            let tier = match asked.as_str() {
                "Intelligent-Tiering" => {
                    let needs = value.chars().count() > STANDARD_MAX
                        || policies.as_ref().is_some_and(|p| !p.is_empty())
                        || cur.is_some_and(|c| c.current.tier == "Advanced")
                        || (cur.is_none() && counts.standard >= self.config.max_standard);
                    if needs { "Advanced" } else { "Standard" }.to_string()
                }
                t => t.to_string(),
            };
            if tier == "Standard" && cur.is_some_and(|c| c.current.tier == "Advanced") {
                return Err(SsmError::Validation(
                    "This parameter uses the advanced-parameter tier. You can't downgrade a parameter from the advanced-parameter tier to the standard-parameter tier. If necessary, you can delete the advanced parameter and recreate it as a standard parameter.".into(),
                ));
            }
            let len = value.chars().count();
            if tier == "Standard" && len > STANDARD_MAX {
                return Err(SsmError::Validation(
                    "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more information, see https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html".into(),
                ));
            }
            if len > ADVANCED_MAX {
                return Err(SsmError::Validation(format!(
                    "Advanced tier parameters support a maximum parameter value of {ADVANCED_MAX} characters."
                )));
            }
            if tier == "Standard" && policies.as_ref().is_some_and(|p| !p.is_empty()) {
                return Err(SsmError::Validation(
                    "Parameter policies are supported only for advanced-tier parameters. Use the Advanced or Intelligent-Tiering tier.".into(),
                ));
            }
            let allowed = req.allowed_pattern.clone().or_else(|| cur.and_then(|c| c.current.allowed_pattern.clone()));
            if let Some(p) = allowed.as_deref().filter(|p| !p.is_empty()) {
                check_pattern(p, value)?;
            }
            // Quotas count parameters by tier, per account and region.
            let was = cur.map(|c| c.current.tier.as_str());
            if tier == "Advanced" && was != Some("Advanced") && counts.advanced >= self.config.max_advanced {
                return Err(SsmError::ParameterLimitExceeded(
                    "You have exceeded the number of advanced parameters for this AWS account and Region. Delete unused parameters and try again.".into(),
                ));
            }
            if tier == "Standard" && was.is_none() && counts.standard >= self.config.max_standard {
                return Err(SsmError::ParameterLimitExceeded(
                    "You have exceeded the number of parameters for this AWS account. Delete unused parameters and try again.".into(),
                ));
            }
            // Versions: at most 100; the oldest goes unless it carries a label.
            let (latest, mut oldest) = cur.map(|c| (c.latest, c.oldest)).unwrap_or((0, 1));
            let version = latest + 1;
            let mut batch = Vec::new();
            if let Some(c) = cur
                && version - oldest + 1 > MAX_VERSIONS
            {
                if !c.labels_of(oldest).is_empty() {
                    return Err(SsmError::ParameterMaxVersionLimitExceeded(format!(
                        "You attempted to create a new version of {} by calling the PutParameter API with the overwrite flag. Version {oldest}, the oldest version, can't be deleted because it has a label associated with it. Move the label to another version of the parameter, and try again.",
                        c.name
                    )));
                }
                batch.push(Write::delete(tables::SSM_VERSIONS, versions_pk(&scope, &name.key), version_sk(oldest), Expect::Any));
                oldest += 1;
            }
            let (stored, protection, key_id) = if kind == "SecureString" {
                let key_id = req.key_id.clone().unwrap_or_else(|| DEFAULT_KEY.into());
                let envelope = tier == "Advanced";
                let reuse = sealed.as_ref().filter(|(_, e, k)| *e == envelope && *k == key_id);
                let s = match reuse {
                    Some((s, _, _)) => s.clone(),
                    None => {
                        let s = self.protect(caller, &key_id, &arn, value, envelope).await?;
                        sealed = Some((s.clone(), envelope, key_id.clone()));
                        s
                    }
                };
                (s.0, Some(s.1), Some(key_id))
            } else {
                (value.to_string(), None, None)
            };
            let record = VersionRecord {
                version,
                kind: kind.clone(),
                value: stored,
                protection,
                key_id,
                description: req.description.clone().or_else(|| cur.and_then(|c| c.current.description.clone())),
                allowed_pattern: allowed.clone().filter(|p| !p.is_empty()),
                tier: tier.clone(),
                policies: match &policies {
                    Some(p) if p.is_empty() => None,
                    Some(_) => req.policies.clone(),
                    None => cur.and_then(|c| c.current.policies.clone()),
                },
                data_type: data_type.clone(),
                modified_ms: self.clock.now().millis(),
                user: caller.principal.arn.clone(),
            };
            let rec = HeadRecord {
                name: cur.map(|c| c.name.clone()).unwrap_or_else(|| name.display.clone()),
                key: name.key.clone(),
                latest: version,
                oldest,
                labels: cur.map(|c| c.labels.clone()).unwrap_or_default(),
                tags: cur.map(|c| c.tags.clone()).unwrap_or_else(|| tag_records(&tags)),
                current: record.clone(),
                fired: Vec::new(),
            };
            let expect = match &head {
                Some(h) => Expect::Version(h.version),
                None => Expect::Absent,
            };
            batch.insert(0, Write::put(tables::SSM_PARAMETERS, &scope, &name.key, encode(&rec), expect));
            batch.insert(1, Write::put(tables::SSM_VERSIONS, versions_pk(&scope, &name.key), version_sk(version), encode(&record), Expect::Any));
            match self.store.write(batch).await {
                Ok(v) => {
                    self.cache.put(&scope, Arc::new(HeadEntry { rec, version: v[0] }));
                    return Ok(PutParameterResponse { version, tier });
                }
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(SsmError::TooManyUpdates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_whole_values() {
        assert!(check_pattern("\\d+", "123").is_ok());
        assert!(matches!(check_pattern("\\d+", "12a"), Err(SsmError::ParameterPatternMismatch(_))));
        assert!(matches!(check_pattern("(", "x"), Err(SsmError::InvalidAllowedPattern(_))));
        assert!(check_pattern("^[a-z]+$", "abc").is_ok());
    }

    #[test]
    fn data_types() {
        assert!(check_data_type("aws:ec2:image", "String", "ami-12345678").is_ok());
        assert!(check_data_type("aws:ec2:image", "String", "ami-0123456789abcdef0").is_ok());
        assert!(check_data_type("aws:ec2:image", "String", "ami-xyz").is_err());
        assert!(check_data_type("aws:ec2:image", "SecureString", "ami-12345678").is_err());
        assert!(check_data_type("TEXT", "String", "x").is_err());
    }
}
