//! GetParametersByPath, and the parameter filters it shares with DescribeParameters.

use coffer_policy::Caller;
use coffer_util::{Validation, marker};

use crate::error::validated;
use crate::model::*;
use crate::names::{self, Selector};
use crate::records::HeadRecord;
use crate::{Ssm, SsmError};

/// One validated `ParameterStringFilter`.
#[derive(Clone, Debug)]
pub(crate) struct Filter {
    pub key: String,
    pub option: String,
    pub values: Vec<String>,
}

/// Validates filters against the keys and options an operation allows.
pub(crate) fn parse_filters(
    filters: &[ParameterStringFilter],
    allowed_keys: &[&str],
    allow_tags: bool,
) -> Result<Vec<Filter>, SsmError> {
    let mut v = Validation::new();
    for (i, f) in filters.iter().enumerate() {
        let kf = format!("parameterFilters.{}.member.key", i + 1);
        if v.required(&kf, f.key.as_ref()) {
            v.str_len(&kf, f.key.as_ref().expect("checked"), 1, 132);
        }
        if let Some(o) = &f.option {
            v.str_len(&format!("parameterFilters.{}.member.option", i + 1), o, 1, 10);
        }
        if let Some(vals) = &f.values {
            v.list_len(&format!("parameterFilters.{}.member.values", i + 1), &format!("[{}]", vals.join(", ")), vals.len(), 1, 50);
            for (j, val) in vals.iter().enumerate() {
                v.str_len(&format!("parameterFilters.{}.member.values.{}.member", i + 1, j + 1), val, 1, 1024);
            }
        }
    }
    validated(v)?;
    let mut out: Vec<Filter> = Vec::new();
    for f in filters {
        let key = f.key.clone().expect("validated");
        let is_tag = key.starts_with("tag:") && key.len() > 4;
        if !(allowed_keys.contains(&key.as_str()) || (allow_tags && is_tag)) {
            return Err(SsmError::InvalidFilterKey(format!(
                "The following filter key is not valid: {key}. Valid filter keys include: [{}].",
                allowed_keys.join(", ")
            )));
        }
        if out.iter().any(|o| o.key == key) {
            return Err(SsmError::InvalidFilterKey(format!("The following filter is duplicated in the request: {key}. A request can contain only one occurrence of a specific filter.")));
        }
        let default = match key.as_str() {
            "Path" => "OneLevel",
            _ => "Equals",
        };
        let option = f.option.clone().unwrap_or_else(|| default.into());
        let options: &[&str] = match key.as_str() {
            "Path" => &["OneLevel", "Recursive"],
            "Name" => &["Equals", "BeginsWith", "Contains"],
            "Label" | "Tier" | "DataType" => &["Equals"],
            _ if is_tag => &["Equals"],
            _ => &["Equals", "BeginsWith"],
        };
        if !options.contains(&option.as_str()) {
            return Err(SsmError::InvalidFilterOption(format!(
                "The following filter option is not valid: {option}. Valid options include: [{}].",
                options.join(", ")
            )));
        }
        let values = f.values.clone().unwrap_or_default();
        if values.is_empty() && !is_tag {
            return Err(SsmError::InvalidFilterValue(format!("The following filter values are missing : null for filter key {key}.")));
        }
        let allowed_values: Option<&[&str]> = match key.as_str() {
            "Type" => Some(&["String", "StringList", "SecureString"]),
            "Tier" => Some(&["Standard", "Advanced", "Intelligent-Tiering"]),
            "DataType" => Some(&["text", "aws:ec2:image", "aws:ssm:integration"]),
            _ => None,
        };
        if let Some(allowed) = allowed_values
            && let Some(bad) = values.iter().find(|x| !allowed.contains(&x.as_str()))
        {
            return Err(SsmError::InvalidFilterValue(format!(
                "The following filter value is not valid: {bad}. Valid values include: [{}].",
                allowed.join(", ")
            )));
        }
        if key == "Path" {
            for p in &values {
                let first = p.trim_start_matches('/').to_ascii_lowercase();
                if !p.starts_with('/') {
                    return Err(SsmError::InvalidFilterValue(format!("The parameter path {p} is not valid: a path begins with /.")));
                }
                if first.starts_with("aws") || first.starts_with("ssm") {
                    return Err(SsmError::Validation(
                        "Filters for common parameters can't be prefixed with \"aws\" or \"ssm\" (case-insensitive).".into(),
                    ));
                }
            }
        }
        out.push(Filter { key, option, values });
    }
    Ok(out)
}

fn text_match(option: &str, candidate: &str, value: &str) -> bool {
    match option {
        "BeginsWith" => candidate.starts_with(value),
        "Contains" => candidate.contains(value),
        _ => candidate == value,
    }
}

/// Is `key` (canonical) under `path`, one level down or at any depth?
pub(crate) fn under(path: &str, key: &str, recursive: bool) -> bool {
    if path == "/" {
        return recursive || !key.starts_with('/');
    }
    let Some(rest) = key.strip_prefix(path).and_then(|r| r.strip_prefix('/')) else { return false };
    !rest.is_empty() && (recursive || !rest.contains('/'))
}

/// Whether a head passes the filters that look only at metadata (not Label, which selects).
pub(crate) fn passes(rec: &HeadRecord, filters: &[Filter]) -> bool {
    filters.iter().all(|f| {
        let any = |candidate: Option<&str>| {
            candidate.is_some_and(|c| f.values.iter().any(|v| text_match(&f.option, c, v)))
        };
        match f.key.as_str() {
            "Type" => any(Some(&rec.current.kind)),
            "KeyId" => any(rec.current.key_id.as_deref()),
            "Tier" => any(Some(&rec.current.tier)),
            "DataType" => any(Some(&rec.current.data_type)),
            "Name" => {
                f.values.iter().any(|v| {
                    let v = names::key_of(v);
                    text_match(&f.option, &rec.key, &v) || text_match(&f.option, &rec.name, &v)
                })
            }
            "Path" => f.values.iter().any(|p| {
                let p = p.strip_suffix('/').filter(|s| !s.is_empty()).unwrap_or(p);
                under(p, &rec.key, f.option == "Recursive")
            }),
            "Label" => f.values.iter().any(|l| rec.labels.contains_key(l)),
            k => match k.strip_prefix("tag:") {
                Some(tag) => rec.tags.iter().any(|t| t.key == tag && (f.values.is_empty() || f.values.contains(&t.value))),
                None => true,
            },
        }
    })
}

impl Ssm {
    pub async fn get_parameters_by_path(
        &self,
        caller: &Caller,
        req: GetParametersByPathRequest,
    ) -> Result<GetParametersByPathResponse, SsmError> {
        let mut v = Validation::new();
        if v.required("path", req.path.as_ref()) {
            v.str_len("path", req.path.as_ref().expect("checked"), 1, 2048);
        }
        if let Some(m) = req.max_results {
            v.range("maxResults", m, 1, 10);
        }
        validated(v)?;
        let filters = parse_filters(req.parameter_filters.as_deref().unwrap_or_default(), &["Type", "KeyId", "Label"], false)?;
        let path = names::parse_path(req.path.as_deref().expect("validated"))?;
        let after = match &req.next_token {
            Some(t) => Some(marker::decode(t).ok_or(SsmError::InvalidNextToken)?),
            None => None,
        };
        let resource = Self::arn(caller, &path);
        self.authorize(caller, "GetParametersByPath", &resource, &[])?;
        let recursive = req.recursive.unwrap_or(false);
        let limit = req.max_results.unwrap_or(10) as usize;
        let scope = Self::scope(caller);
        let prefix = if path == "/" { "" } else { path.as_str() };
        let heads = self.cache.range(&scope, prefix, after.as_deref(), |r| under(&path, &r.key, recursive) && passes(r, &filters), limit + 1);
        let truncated = heads.len() > limit;
        let heads = &heads[..heads.len().min(limit)];
        let label = filters.iter().find(|f| f.key == "Label");
        let decrypt = req.with_decryption.unwrap_or(false);
        let mut parameters = Vec::with_capacity(heads.len());
        for h in heads {
            // A Label filter returns the labelled version.
            let selector = label.and_then(|f| f.values.iter().find(|l| h.rec.labels.contains_key(*l))).map(|l| Selector::Label(l.clone()));
            let version = self.select(&scope, h, selector.as_ref()).await?;
            parameters.push(self.render(caller, h, &version, None, decrypt).await?);
        }
        Ok(GetParametersByPathResponse {
            next_token: truncated.then(|| marker::encode(&heads.last().expect("non-empty").rec.key)),
            parameters,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::under;

    #[test]
    fn levels() {
        assert!(under("/", "foo", false));
        assert!(!under("/", "/a/b", false));
        assert!(under("/", "/a/b", true));
        assert!(under("/a", "/a/b", false));
        assert!(!under("/a", "/a/b/c", false));
        assert!(under("/a", "/a/b/c", true));
        assert!(!under("/a", "/ab/c", true));
        assert!(!under("/a", "/a", true));
    }
}
