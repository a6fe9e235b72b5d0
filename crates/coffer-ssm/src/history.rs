//! GetParameterHistory.

use coffer_policy::Caller;
use coffer_store::tables;
use coffer_util::{Timestamp, Validation, marker};

use crate::error::validated;
use crate::model::*;
use crate::records::{VersionRecord, version_sk, versions_pk};
use crate::{Ssm, SsmError, decode, names, not_found, policies};

impl Ssm {
    pub async fn get_parameter_history(
        &self,
        caller: &Caller,
        req: GetParameterHistoryRequest,
    ) -> Result<GetParameterHistoryResponse, SsmError> {
        let mut v = Validation::new();
        if v.required("name", req.name.as_ref()) {
            v.str_len("name", req.name.as_ref().expect("checked"), 1, 2048);
        }
        if let Some(m) = req.max_results {
            v.range("maxResults", m, 1, 50);
        }
        validated(v)?;
        let (name, selector) = names::parse_read(req.name.as_deref().expect("validated"), &caller.region, caller.account(), true)?;
        if selector.is_some() {
            return Err(SsmError::Validation("GetParameterHistory takes a parameter name without a version or label selector.".into()));
        }
        let after = match &req.next_token {
            Some(t) => Some(marker::decode(t).ok_or(SsmError::InvalidNextToken)?),
            None => None,
        };
        let arn = Self::arn(caller, &name.key);
        self.authorize(caller, "GetParameterHistory", &arn, &[])?;
        let scope = Self::scope(caller);
        let head = self.cache.get(&scope, &name.key).ok_or_else(|| not_found(&name.display))?;
        let limit = req.max_results.unwrap_or(50) as usize;
        let items = self
            .store
            .list(tables::SSM_VERSIONS, &versions_pk(&scope, &name.key), "", after.as_deref(), limit + 1)
            .await?;
        let truncated = items.len() > limit;
        let decrypt = req.with_decryption.unwrap_or(false);
        let mut parameters = Vec::new();
        let mut last = None;
        for item in items.into_iter().take(limit) {
            let rec: VersionRecord = decode("parameter version", &item.value)?;
            // Rows of a version dropped by the 100-version limit but not yet removed.
            if rec.version < head.rec.oldest || rec.version > head.rec.latest {
                continue;
            }
            let value = if decrypt && rec.kind == "SecureString" {
                let plain = self.reveal(caller, &rec, &arn).await?;
                String::from_utf8(plain.expose().to_vec()).map_err(|_| SsmError::Internal("decrypted value is not UTF-8".into()))?
            } else {
                rec.value.clone()
            };
            last = Some(version_sk(rec.version));
            parameters.push(ParameterHistory {
                name: head.rec.name.clone(),
                kind: rec.kind.clone(),
                key_id: rec.key_id.clone(),
                last_modified_date: Date(Timestamp(rec.modified_ms)),
                last_modified_user: rec.user.clone(),
                description: rec.description.clone(),
                value,
                allowed_pattern: rec.allowed_pattern.clone(),
                version: rec.version,
                labels: head.rec.labels_of(rec.version),
                tier: rec.tier.clone(),
                policies: policies::inline(rec.policies.as_deref(), &[]),
                data_type: rec.data_type.clone(),
            });
        }
        Ok(GetParameterHistoryResponse { next_token: if truncated { last.map(|l| marker::encode(&l)) } else { None }, parameters })
    }
}
