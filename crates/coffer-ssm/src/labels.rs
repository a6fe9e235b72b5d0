//! LabelParameterVersion and UnlabelParameterVersion.
//!
//! A label names one version of a parameter; labelling another version moves it there. A version
//! carries at most 10 labels. Labels that break the naming rules are returned in `InvalidLabels`
//! and not applied, as AWS does.

use std::sync::Arc;

use coffer_policy::Caller;
use coffer_store::{Expect, StoreError, Write, tables};
use coffer_util::Validation;

use crate::error::validated;
use crate::model::*;
use crate::records::{HeadEntry, HeadRecord};
use crate::{Ssm, SsmError, encode, names, not_found};

const MAX_LABELS: usize = 10;

/// AWS's label rules: `[a-zA-Z0-9_.-]`, not starting with a digit, `aws` or `ssm`.
fn valid_label(l: &str) -> bool {
    let lower = l.to_ascii_lowercase();
    !l.is_empty()
        && l.len() <= 100
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !l.as_bytes()[0].is_ascii_digit()
        && !lower.starts_with("aws")
        && !lower.starts_with("ssm")
}

fn labels_param(v: &mut Validation, labels: Option<&Vec<String>>) {
    if v.required("labels", labels) {
        let l = labels.expect("checked");
        v.list_len("labels", &format!("[{}]", l.join(", ")), l.len(), 1, 10);
        for (i, x) in l.iter().enumerate() {
            v.str_len(&format!("labels.{}.member", i + 1), x, 1, 100);
        }
    }
}

impl Ssm {
    /// Applies `change` to a parameter head with optimistic concurrency.
    pub(crate) async fn mutate_head<T>(
        &self,
        scope: &str,
        key: &str,
        display: &str,
        mut change: impl FnMut(&HeadRecord) -> Result<(HeadRecord, T), SsmError>,
    ) -> Result<T, SsmError> {
        for _ in 0..64 {
            let head = self.reload(scope, key).await?.ok_or_else(|| not_found(display))?;
            let (rec, out) = change(&head.rec)?;
            match self
                .store
                .write(vec![Write::put(tables::SSM_PARAMETERS, scope, key, encode(&rec), Expect::Version(head.version))])
                .await
            {
                Ok(v) => {
                    self.cache.put(scope, Arc::new(HeadEntry { rec, version: v[0] }));
                    return Ok(out);
                }
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(SsmError::TooManyUpdates)
    }

    pub async fn label_parameter_version(&self, caller: &Caller, req: LabelRequest) -> Result<LabelParameterVersionResponse, SsmError> {
        let mut v = Validation::new();
        if v.required("name", req.name.as_ref()) {
            v.str_len("name", req.name.as_ref().expect("checked"), 1, 2048);
        }
        labels_param(&mut v, req.labels.as_ref());
        validated(v)?;
        let name = names::parse_write(req.name.as_deref().expect("validated"), &caller.region, caller.account())?;
        self.authorize(caller, "LabelParameterVersion", &Self::arn(caller, &name.key), &[])?;
        let labels = req.labels.expect("validated");
        let scope = Self::scope(caller);
        self.mutate_head(&scope, &name.key, &name.display, |h| {
            let version = req.parameter_version.unwrap_or(h.latest);
            if version < h.oldest || version > h.latest {
                return Err(SsmError::ParameterVersionNotFound(format!(
                    "Systems Manager could not find version {version} of {}. Verify the version and try again.",
                    h.name
                )));
            }
            let (good, bad): (Vec<String>, Vec<String>) = labels.iter().cloned().partition(|l| valid_label(l));
            let mut rec = h.clone();
            for l in &good {
                rec.labels.insert(l.clone(), version);
            }
            if rec.labels_of(version).len() > MAX_LABELS {
                return Err(SsmError::ParameterVersionLabelLimitExceeded(format!(
                    "A parameter version can have a maximum of {MAX_LABELS} labels. Move one or more labels to another version and try again."
                )));
            }
            Ok((rec, LabelParameterVersionResponse { invalid_labels: bad, parameter_version: version }))
        })
        .await
    }

    pub async fn unlabel_parameter_version(
        &self,
        caller: &Caller,
        req: LabelRequest,
    ) -> Result<UnlabelParameterVersionResponse, SsmError> {
        let mut v = Validation::new();
        if v.required("name", req.name.as_ref()) {
            v.str_len("name", req.name.as_ref().expect("checked"), 1, 2048);
        }
        v.required("parameterVersion", req.parameter_version.as_ref());
        labels_param(&mut v, req.labels.as_ref());
        validated(v)?;
        let name = names::parse_write(req.name.as_deref().expect("validated"), &caller.region, caller.account())?;
        self.authorize(caller, "UnlabelParameterVersion", &Self::arn(caller, &name.key), &[])?;
        let labels = req.labels.expect("validated");
        let version = req.parameter_version.expect("validated");
        let scope = Self::scope(caller);
        self.mutate_head(&scope, &name.key, &name.display, |h| {
            if version < h.oldest || version > h.latest {
                return Err(SsmError::ParameterVersionNotFound(format!(
                    "Systems Manager could not find version {version} of {}. Verify the version and try again.",
                    h.name
                )));
            }
            let mut rec = h.clone();
            let (mut removed, mut invalid) = (Vec::new(), Vec::new());
            for l in &labels {
                if rec.labels.get(l) == Some(&version) {
                    rec.labels.remove(l);
                    removed.push(l.clone());
                } else {
                    invalid.push(l.clone());
                }
            }
            Ok((rec, UnlabelParameterVersionResponse { removed_labels: removed, invalid_labels: invalid }))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn label_rules() {
        for ok in ["prod", "Release_1.0", "a-b"] {
            assert!(super::valid_label(ok), "{ok}");
        }
        for bad in ["1st", "awsprod", "SSM-x", "has space", "", &"a".repeat(101)] {
            assert!(!super::valid_label(bad), "{bad}");
        }
    }
}
