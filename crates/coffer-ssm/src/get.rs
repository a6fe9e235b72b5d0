//! GetParameter and GetParameters, with `:version` / `:label` selectors and ARNs.

use std::sync::Arc;

use coffer_policy::Caller;
use coffer_store::tables;
use coffer_util::{Timestamp, Validation};

use crate::error::validated;
use crate::model::*;
use crate::names::{self, Selector};
use crate::records::{HeadEntry, VersionRecord, version_sk, versions_pk};
use crate::{Ssm, SsmError, decode, not_found};

impl Ssm {
    /// The version a selector names (the latest without one), reading older versions from the
    /// store.
    pub(crate) async fn select(&self, scope: &str, head: &HeadEntry, selector: Option<&Selector>) -> Result<VersionRecord, SsmError> {
        let h = &head.rec;
        let version = match selector {
            None => return Ok(h.current.clone()),
            Some(Selector::Version(v)) => *v,
            Some(Selector::Label(l)) => *h.labels.get(l).ok_or_else(|| not_found(&format!("{}:{l}", h.name)))?,
        };
        if version == h.latest {
            return Ok(h.current.clone());
        }
        let missing = || {
            SsmError::ParameterVersionNotFound(format!(
                "Systems Manager could not find version {version} of {}. Verify the version and try again.",
                h.name
            ))
        };
        if version < h.oldest || version > h.latest {
            return Err(missing());
        }
        match self.store.get(tables::SSM_VERSIONS, &versions_pk(scope, &h.key), &version_sk(version)).await? {
            Some(item) => decode("parameter version", &item.value),
            None => Err(missing()),
        }
    }

    /// The wire form of one version, decrypting a SecureString when asked.
    pub(crate) async fn render(
        &self,
        caller: &Caller,
        head: &HeadEntry,
        v: &VersionRecord,
        selector: Option<String>,
        decrypt: bool,
    ) -> Result<Parameter, SsmError> {
        let arn = Self::arn(caller, &head.rec.key);
        let value = if decrypt && v.kind == "SecureString" {
            let plain = self.reveal(caller, v, &arn).await?;
            String::from_utf8(plain.expose().to_vec()).map_err(|_| SsmError::Internal("decrypted value is not UTF-8".into()))?
        } else {
            v.value.clone()
        };
        Ok(Parameter {
            name: head.rec.name.clone(),
            kind: v.kind.clone(),
            value,
            version: v.version,
            selector,
            last_modified_date: Date(Timestamp(v.modified_ms)),
            arn,
            data_type: v.data_type.clone(),
        })
    }

    fn head(&self, scope: &str, key: &str, display: &str) -> Result<Arc<HeadEntry>, SsmError> {
        self.cache.get(scope, key).ok_or_else(|| not_found(display))
    }

    pub async fn get_parameter(&self, caller: &Caller, req: GetParameterRequest) -> Result<GetParameterResponse, SsmError> {
        let mut v = Validation::new();
        if v.required("name", req.name.as_ref()) {
            v.str_len("name", req.name.as_ref().expect("checked"), 1, 2048);
        }
        validated(v)?;
        let raw = req.name.expect("validated");
        let (name, selector) = names::parse_read(&raw, &caller.region, caller.account(), true)?;
        let arn = Self::arn(caller, &name.key);
        self.authorize(caller, "GetParameter", &arn, &[])?;
        let scope = Self::scope(caller);
        let head = self.head(&scope, &name.key, &name.display)?;
        let version = self.select(&scope, &head, selector.as_ref().map(|s| &s.1)).await?;
        let parameter = self
            .render(caller, &head, &version, selector.map(|s| s.0), req.with_decryption.unwrap_or(false))
            .await?;
        Ok(GetParameterResponse { parameter })
    }

    pub async fn get_parameters(&self, caller: &Caller, req: GetParametersRequest) -> Result<GetParametersResponse, SsmError> {
        let mut v = Validation::new();
        if v.required("names", req.names.as_ref()) {
            let n = req.names.as_ref().expect("checked");
            v.list_len("names", &format!("[{}]", n.join(", ")), n.len(), 1, 10);
            for (i, name) in n.iter().enumerate() {
                v.str_len(&format!("names.{}.member", i + 1), name, 1, 2048);
            }
        }
        validated(v)?;
        let mut requested = req.names.expect("validated");
        requested.dedup();
        let decrypt = req.with_decryption.unwrap_or(false);
        let scope = Self::scope(caller);
        let mut parameters = Vec::new();
        let mut invalid = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for raw in requested {
            if !seen.insert(raw.clone()) {
                continue;
            }
            let Ok((name, selector)) = names::parse_read(&raw, &caller.region, caller.account(), true) else {
                invalid.push(raw);
                continue;
            };
            self.authorize(caller, "GetParameters", &Self::arn(caller, &name.key), &[])?;
            let Some(head) = self.cache.get(&scope, &name.key) else {
                invalid.push(raw);
                continue;
            };
            let version = match self.select(&scope, &head, selector.as_ref().map(|s| &s.1)).await {
                Ok(v) => v,
                Err(SsmError::ParameterNotFound(_) | SsmError::ParameterVersionNotFound(_)) => {
                    invalid.push(raw);
                    continue;
                }
                Err(e) => return Err(e),
            };
            parameters.push(self.render(caller, &head, &version, selector.map(|s| s.0), decrypt).await?);
        }
        parameters.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(GetParametersResponse { parameters, invalid_parameters: invalid })
    }
}
