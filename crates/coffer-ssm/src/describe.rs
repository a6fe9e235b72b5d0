//! DescribeParameters.

use coffer_policy::Caller;
use coffer_util::{Timestamp, Validation, marker};

use crate::error::validated;
use crate::model::*;
use crate::path::{Filter, parse_filters, passes};
use crate::records::HeadRecord;
use crate::{Ssm, SsmError, policies};

pub(crate) fn metadata(caller: &Caller, rec: &HeadRecord) -> ParameterMetadata {
    let c = &rec.current;
    ParameterMetadata {
        name: rec.name.clone(),
        arn: Ssm::arn(caller, &rec.key),
        kind: c.kind.clone(),
        key_id: c.key_id.clone(),
        last_modified_date: Date(Timestamp(c.modified_ms)),
        last_modified_user: c.user.clone(),
        description: c.description.clone(),
        allowed_pattern: c.allowed_pattern.clone(),
        version: c.version,
        tier: c.tier.clone(),
        policies: policies::inline(c.policies.as_deref(), &rec.fired),
        data_type: c.data_type.clone(),
    }
}

impl Ssm {
    pub async fn describe_parameters(
        &self,
        caller: &Caller,
        req: DescribeParametersRequest,
    ) -> Result<DescribeParametersResponse, SsmError> {
        let mut v = Validation::new();
        if let Some(m) = req.max_results {
            v.range("maxResults", m, 1, 50);
        }
        for (i, f) in req.filters.iter().flatten().enumerate() {
            if v.required(&format!("filters.{}.member.key", i + 1), f.key.as_ref()) {
                v.one_of(&format!("filters.{}.member.key", i + 1), f.key.as_deref().expect("checked"), &["Name", "Type", "KeyId"]);
            }
            v.required(&format!("filters.{}.member.values", i + 1), f.values.as_ref());
        }
        validated(v)?;
        if req.filters.as_ref().is_some_and(|f| !f.is_empty()) && req.parameter_filters.as_ref().is_some_and(|f| !f.is_empty()) {
            return Err(SsmError::Validation("You can use either Filters or ParameterFilters in a single request.".into()));
        }
        // The deprecated Filters are ParameterFilters with option Equals (BeginsWith for Name).
        let filters: Vec<Filter> = match &req.filters {
            Some(f) if !f.is_empty() => f
                .iter()
                .map(|f| Filter {
                    key: f.key.clone().unwrap_or_default(),
                    option: if f.key.as_deref() == Some("Name") { "BeginsWith".into() } else { "Equals".into() },
                    values: f.values.clone().unwrap_or_default(),
                })
                .collect(),
            _ => parse_filters(
                req.parameter_filters.as_deref().unwrap_or_default(),
                &["Name", "Type", "KeyId", "Path", "Tier", "DataType"],
                true,
            )?,
        };
        let after = match &req.next_token {
            Some(t) => Some(marker::decode(t).ok_or(SsmError::InvalidNextToken)?),
            None => None,
        };
        self.authorize(caller, "DescribeParameters", "*", &[])?;
        if req.shared == Some(true) {
            // Coffer has no cross-account parameter sharing: nothing is shared with the caller.
            return Ok(DescribeParametersResponse { parameters: Vec::new(), next_token: None });
        }
        let limit = req.max_results.unwrap_or(50) as usize;
        let heads = self.cache.range(&Self::scope(caller), "", after.as_deref(), |r| passes(r, &filters), limit + 1);
        let truncated = heads.len() > limit;
        let heads = &heads[..heads.len().min(limit)];
        Ok(DescribeParametersResponse {
            next_token: truncated.then(|| marker::encode(&heads.last().expect("non-empty").rec.key)),
            parameters: heads.iter().map(|h| metadata(caller, &h.rec)).collect(),
        })
    }
}
