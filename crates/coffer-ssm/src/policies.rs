//! Parameter policies (advanced tier): Expiration, ExpirationNotification, NoChangeNotification,
//! and the job that acts on them.
//!
//! AWS sends notifications to EventBridge, which Coffer does not have: a notification that falls
//! due is logged once (target `coffer::ssm::policy`) and its policy reported `Finished`.
//! Expiration really deletes the parameter (all versions, labels and tags) when due.

use serde_json::Value;

use coffer_util::Timestamp;

use crate::model::ParameterInlinePolicy;
use crate::records::HeadRecord;
use crate::{Ssm, SsmError};

const MAX_POLICIES: usize = 10;

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Policy {
    Expiration { at: Timestamp },
    ExpirationNotification { before_ms: i64 },
    NoChangeNotification { after_ms: i64 },
}

impl Policy {
    fn kind(&self) -> &'static str {
        match self {
            Policy::Expiration { .. } => "Expiration",
            Policy::ExpirationNotification { .. } => "ExpirationNotification",
            Policy::NoChangeNotification { .. } => "NoChangeNotification",
        }
    }
}

fn attr<'a>(p: &'a Value, name: &str, kind: &str) -> Result<&'a str, SsmError> {
    p.get("Attributes")
        .and_then(|a| a.get(name))
        .and_then(Value::as_str)
        .ok_or_else(|| SsmError::InvalidPolicyAttribute(format!("A policy of type {kind} needs the attribute {name}.")))
}

fn duration(p: &Value, name: &str, kind: &str) -> Result<i64, SsmError> {
    let n: i64 = attr(p, name, kind)?
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| SsmError::InvalidPolicyAttribute(format!("The {name} attribute of a {kind} policy must be a positive integer.")))?;
    let unit = attr(p, "Unit", kind)?;
    let ms = match unit {
        "Days" => 86_400_000,
        "Hours" => 3_600_000,
        other => return Err(SsmError::InvalidPolicyAttribute(format!("Unit {other} is not valid; use Days or Hours."))),
    };
    Ok(n * ms)
}

/// Parses a `Policies` string. `[{}]` (or `[]`) clears the policies: an empty result.
pub(crate) fn parse(text: &str) -> Result<Vec<Policy>, SsmError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| SsmError::InvalidPolicyAttribute(format!("The parameter policies are not valid JSON: {e}")))?;
    let Value::Array(items) = v else {
        return Err(SsmError::InvalidPolicyAttribute("Parameter policies must be a JSON array.".into()));
    };
    if items.len() > MAX_POLICIES {
        return Err(SsmError::PoliciesLimitExceeded(format!("A parameter can have at most {MAX_POLICIES} policies.")));
    }
    let mut out: Vec<Policy> = Vec::new();
    for p in &items {
        if p.as_object().is_some_and(|o| o.is_empty()) {
            continue;
        }
        let kind = p.get("Type").and_then(Value::as_str).unwrap_or_default();
        let policy = match kind {
            "Expiration" => {
                let ts = attr(p, "Timestamp", kind)?;
                let at = Timestamp::parse_iso8601(ts)
                    .ok_or_else(|| SsmError::InvalidPolicyAttribute(format!("Timestamp {ts} is not an ISO 8601 time.")))?;
                Policy::Expiration { at }
            }
            "ExpirationNotification" => Policy::ExpirationNotification { before_ms: duration(p, "Before", kind)? },
            "NoChangeNotification" => Policy::NoChangeNotification { after_ms: duration(p, "After", kind)? },
            other => {
                return Err(SsmError::InvalidPolicyType(format!(
                    "The policy type {other} is not supported. Supported types: Expiration, ExpirationNotification, NoChangeNotification."
                )));
            }
        };
        if out.iter().any(|o| o.kind() == policy.kind()) {
            return Err(SsmError::IncompatiblePolicy(format!("A parameter can have only one {kind} policy.")));
        }
        out.push(policy);
    }
    if out.iter().any(|p| matches!(p, Policy::ExpirationNotification { .. }))
        && !out.iter().any(|p| matches!(p, Policy::Expiration { .. }))
    {
        return Err(SsmError::IncompatiblePolicy("An ExpirationNotification policy needs an Expiration policy.".into()));
    }
    Ok(out)
}

/// The `Policies` member of DescribeParameters / GetParameterHistory.
pub(crate) fn inline(text: Option<&str>, fired: &[String]) -> Vec<ParameterInlinePolicy> {
    let Some(Value::Array(items)) = text.and_then(|t| serde_json::from_str::<Value>(t).ok()) else {
        return Vec::new();
    };
    items
        .iter()
        .filter(|p| !p.as_object().is_some_and(|o| o.is_empty()))
        .map(|p| {
            let kind = p.get("Type").and_then(Value::as_str).unwrap_or_default().to_string();
            ParameterInlinePolicy {
                policy_text: p.to_string(),
                policy_status: if fired.contains(&kind) { "Finished" } else { "Pending" }.into(),
                policy_type: kind,
            }
        })
        .collect()
}

/// What one run of the policy job did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JobReport {
    pub expired: usize,
    pub notified: usize,
}

fn due(rec: &HeadRecord, now: i64) -> (bool, Vec<&'static str>) {
    let Some(text) = rec.current.policies.as_deref() else { return (false, Vec::new()) };
    let Ok(policies) = parse(text) else { return (false, Vec::new()) };
    let expires = policies.iter().find_map(|p| match p {
        Policy::Expiration { at } => Some(at.millis()),
        _ => None,
    });
    let mut notes = Vec::new();
    for p in &policies {
        let kind = p.kind();
        if rec.fired.iter().any(|f| f == kind) {
            continue;
        }
        let fire = match p {
            Policy::ExpirationNotification { before_ms } => expires.is_some_and(|e| now >= e - before_ms),
            Policy::NoChangeNotification { after_ms } => now >= rec.current.modified_ms + after_ms,
            Policy::Expiration { .. } => false,
        };
        if fire {
            notes.push(kind);
        }
    }
    (expires.is_some_and(|e| now >= e), notes)
}

pub(crate) async fn run(ssm: &Ssm) -> JobReport {
    let mut report = JobReport::default();
    let now = ssm.clock.now().millis();
    for (scope, head) in ssm.cache.all() {
        let (expired, notes) = due(&head.rec, now);
        if expired {
            match ssm.remove(&scope, &head).await {
                Ok(true) => {
                    tracing::info!(target: "coffer::ssm::policy", scope = %scope, parameter = %head.rec.name, "parameter expired and was deleted (Expiration policy)");
                    report.expired += 1;
                }
                Ok(false) => {}
                Err(e) => tracing::error!(parameter = %head.rec.name, error = %e, "expiring a parameter failed"),
            }
            continue;
        }
        if notes.is_empty() {
            continue;
        }
        let r = ssm
            .mutate_head(&scope, &head.rec.key, &head.rec.name, |h| {
                let mut rec = h.clone();
                for n in &notes {
                    if !rec.fired.iter().any(|f| f == n) {
                        rec.fired.push(n.to_string());
                    }
                }
                Ok((rec, ()))
            })
            .await;
        match r {
            Ok(()) => {
                for n in &notes {
                    tracing::warn!(target: "coffer::ssm::policy", scope = %scope, parameter = %head.rec.name, policy = n, "Parameter Store Policy Action");
                    report.notified += 1;
                }
            }
            Err(e) => tracing::error!(parameter = %head.rec.name, error = %e, "recording a parameter notification failed"),
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing() {
        let p = parse(r#"[{"Type":"Expiration","Version":"1.0","Attributes":{"Timestamp":"2030-01-01T00:00:00.000Z"}},{"Type":"ExpirationNotification","Version":"1.0","Attributes":{"Before":"15","Unit":"Days"}},{"Type":"NoChangeNotification","Version":"1.0","Attributes":{"After":"2","Unit":"Hours"}}]"#).unwrap();
        assert_eq!(p.len(), 3);
        assert!(parse("[{}]").unwrap().is_empty());
        assert!(matches!(parse(r#"[{"Type":"Bogus"}]"#), Err(SsmError::InvalidPolicyType(_))));
        assert!(matches!(parse(r#"[{"Type":"Expiration","Attributes":{}}]"#), Err(SsmError::InvalidPolicyAttribute(_))));
        assert!(matches!(parse(r#"[{"Type":"NoChangeNotification","Attributes":{"After":"x","Unit":"Days"}}]"#), Err(SsmError::InvalidPolicyAttribute(_))));
        let two = r#"[{"Type":"Expiration","Attributes":{"Timestamp":"2030-01-01T00:00:00Z"}},{"Type":"Expiration","Attributes":{"Timestamp":"2031-01-01T00:00:00Z"}}]"#;
        assert!(matches!(parse(two), Err(SsmError::IncompatiblePolicy(_))));
        let many = format!("[{}]", [r#"{"Type":"NoChangeNotification","Attributes":{"After":"1","Unit":"Days"}}"#; 11].join(","));
        assert!(matches!(parse(&many), Err(SsmError::PoliciesLimitExceeded(_))));
        assert!(parse("{}").is_err());
    }
}
