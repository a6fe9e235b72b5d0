//! The audit trail at the wire: one CloudTrail-shaped event per API call, made durable in the
//! [`coffer_audit::Journal`] before the call's response leaves.
//!
//! Why here, and why this way:
//!
//! - **Every call, one place.** The adapters already know everything an event needs (who signed,
//!   from where, the operation, the request, the result or the AWS error code), so the event is
//!   built where the response is, for every protocol alike — including calls refused before a
//!   service ran (bad signature, throttling), which are the ones an investigator wants most.
//! - **Fail closed.** A call whose event cannot be made durable is answered with a 500
//!   `InternalFailure` instead of its result: nobody receives a plaintext, a data key or a success
//!   that the journal does not show. A state change that already committed stays (it cannot be
//!   undone without a record either); the journal errs towards recording, never towards silence.
//! - **Nothing secret.** Request parameters and response elements pass through the journal's
//!   redaction (plaintexts, data keys, secret access keys, session tokens, SSE-C keys are
//!   dropped; ciphertexts and messages replaced by their length). Parameter Store `Value`s are
//!   always dropped, whatever the type. S3 events carry the bucket, key and the request's
//!   subresource query, never headers or bodies. Read-only calls (Decrypt, GetParameter ...)
//!   record no response elements at all, as CloudTrail does.
//! - **Field names as CloudTrail writes them**: request and response members in camelCase
//!   (`keyId`, `encryptionContext`), except inside maps whose keys are the caller's own data
//!   (encryption contexts, tags given as maps), which are kept verbatim.

use std::net::IpAddr;

use coffer_audit::{EventBuilder, IdentityType, Resource, UserIdentity};
use coffer_policy::{Caller, PrincipalKind};
use serde_json::{Map, Value};

use crate::App;

/// One API call, as the adapters describe it to the journal.
pub(crate) struct Call<'a> {
    /// The signing name: `kms`, `ssm`, `iam`, `sts`, `s3`, or `coffer-admin`.
    pub service: &'a str,
    pub op: &'a str,
    pub region: &'a str,
    pub peer: IpAddr,
    pub user_agent: &'a str,
    pub request_id: &'a str,
    /// The authenticated caller; `None` when authentication failed.
    pub caller: Option<&'a Caller>,
    /// The access key a request claimed, for calls refused before they authenticated.
    pub claimed_access_key: Option<&'a str>,
    pub request: Value,
    /// The response document of a successful call (dropped for read-only calls).
    pub response: Value,
    /// The AWS error code and message of a failed call.
    pub error: Option<(&'a str, &'a str)>,
}

/// The message of the 500 a call gets when its event could not be made durable.
pub(crate) const UNRECORDED: &str =
    "Coffer could not record this request in its audit journal, so its result is withheld. Retry later; an operator should check the audit journal's storage.";

/// Whether the call only reads (CloudTrail's `readOnly`): no response elements are recorded.
pub(crate) fn read_only(op: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "Get", "List", "Describe", "Head", "Decrypt", "Encrypt", "ReEncrypt", "GenerateDataKey", "GenerateRandom",
        "GenerateMac", "VerifyMac", "Sign", "Verify", "Select",
    ];
    PREFIXES.iter().any(|p| op.starts_with(p))
}

fn event_source(service: &str) -> String {
    match service {
        "coffer-admin" => "admin.coffer".to_string(),
        s => format!("{s}.amazonaws.com"),
    }
}

/// CloudTrail's resource type for an ARN Coffer noted while serving the call.
fn resource(arn: &str, caller_account: &str) -> Resource {
    let mut parts = arn.splitn(6, ':');
    let (_, _, service, _, account, rest) =
        (parts.next(), parts.next(), parts.next().unwrap_or(""), parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let kind = match service {
        "kms" if rest.starts_with("alias/") => "AWS::KMS::Alias",
        "kms" => "AWS::KMS::Key",
        "ssm" => "AWS::SSM::Parameter",
        "s3" if rest.contains('/') => "AWS::S3::Object",
        "s3" => "AWS::S3::Bucket",
        "iam" if rest.starts_with("user/") => "AWS::IAM::User",
        "iam" if rest.starts_with("role/") => "AWS::IAM::Role",
        "iam" if rest.starts_with("policy/") => "AWS::IAM::Policy",
        "iam" => "AWS::IAM::Resource",
        "sts" => "AWS::STS::AssumedRole",
        _ => "AWS::Unknown",
    };
    let account_id = if account.is_empty() { caller_account } else { account };
    Resource { arn: arn.to_string(), account_id: account_id.to_string(), kind: kind.to_string() }
}

fn identity(caller: &Caller) -> UserIdentity {
    let p = &caller.principal;
    let kind = match p.kind {
        PrincipalKind::Root => IdentityType::Root,
        PrincipalKind::User => IdentityType::IamUser,
        PrincipalKind::AssumedRole => IdentityType::AssumedRole,
    };
    UserIdentity {
        kind,
        principal_id: p.user_id.clone(),
        arn: p.arn.clone(),
        account_id: p.account.clone(),
        access_key_id: Some(caller.access_key_id.clone()).filter(|k| !k.is_empty()),
    }
}

/// Members whose value is a map of the caller's own keys: kept verbatim.
fn verbatim(key: &str) -> bool {
    key.to_ascii_lowercase().contains("encryptioncontext")
}

/// `KeyId` → `keyId`, recursively (except inside [`verbatim`] maps).
pub(crate) fn camel(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let v = if verbatim(&k) { v } else { camel(v) };
                    (lower_first(&k), v)
                })
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(camel).collect()),
        other => other,
    }
}

fn lower_first(k: &str) -> String {
    let mut c = k.chars();
    match c.next() {
        Some(f) if f.is_ascii_uppercase() => {
            let mut s = String::with_capacity(k.len());
            s.push(f.to_ascii_lowercase());
            s.push_str(c.as_str());
            s
        }
        _ => k.to_string(),
    }
}

/// The request document of a JSON-protocol call, as the event records it (before redaction).
pub(crate) fn json_request(body: &[u8]) -> Value {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => camel(v),
        _ => Value::Null,
    }
}

/// Records a call refused before it authenticated (bad headers, body or signature), with the
/// service, region and access key its signature claims (`fallback_service` when it claims none;
/// a malformed region becomes `us-east-1`). Same contract as [`record`].
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_refused(
    app: &App,
    parts: &hyper::http::request::Parts,
    fallback_service: &str,
    op: &str,
    peer: IpAddr,
    request_id: &str,
    code: &str,
    message: &str,
) -> Result<(), ()> {
    if app.audit.is_none() {
        return Ok(());
    }
    let claimed = crate::sigv4::parse_request(&parts.headers, parts.uri.query().unwrap_or("")).ok();
    let user_agent = crate::route::user_agent(parts);
    let call = Call {
        service: claimed.as_ref().map(|c| c.service.as_str()).unwrap_or(fallback_service),
        op,
        region: claimed.as_ref().map(|c| c.region.as_str()).filter(|r| crate::route::valid_region(r)).unwrap_or("us-east-1"),
        peer,
        user_agent: &user_agent,
        request_id,
        caller: None,
        claimed_access_key: claimed.as_ref().map(|c| c.access_key_id.as_str()),
        request: Value::Null,
        response: Value::Null,
        error: Some((code, message)),
    };
    record(app, call).await
}

/// Appends the call's event and waits until it is durable. `Err(())` means the call must fail
/// (with [`UNRECORDED`]). Without a journal (auditing off) every call passes.
pub(crate) async fn record(app: &App, call: Call<'_>) -> Result<(), ()> {
    let Some(journal) = &app.audit else { return Ok(()) };
    let mut b = EventBuilder::new(&event_source(call.service), call.op, call.region)
        .source_ip(call.peer.to_string())
        .user_agent(call.user_agent)
        .request_id(call.request_id)
        .read_only(read_only(call.op))
        .request_parameters(call.request);
    if call.service == "ssm" {
        b = b.redact_also(&["Value"]);
    }
    if let Some((code, message)) = call.error {
        b = b.error(code, message);
    } else if !read_only(call.op) {
        b = b.response_elements(call.response);
    }
    let result = match call.caller {
        Some(caller) => {
            b = b.identity(identity(caller)).recipient_account_id(caller.account());
            for arn in caller.resources() {
                b = b.resource(resource(&arn, caller.account()));
            }
            journal.append(b).await
        }
        None => {
            // Not authenticated: record the access key the request claimed, nothing more.
            let mut event = b.build();
            if let Some(key) = call.claimed_access_key.filter(|k| !k.is_empty()) {
                let mut id = Map::new();
                id.insert("type".into(), "Unknown".into());
                id.insert("accessKeyId".into(), key.into());
                event.insert("userIdentity".into(), Value::Object(id));
            }
            journal.append(event).await
        }
    };
    result.map(|_| ()).map_err(|e| {
        tracing::error!(request_id = call.request_id, error = %e, "audit journal append failed; failing the request");
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_keeps_encryption_contexts() {
        let v = json_request(br#"{"KeyId":"alias/a","EncryptionContext":{"Department":"x"},"Tags":[{"TagKey":"K","TagValue":"v"}]}"#);
        assert_eq!(
            v,
            serde_json::json!({"keyId":"alias/a","encryptionContext":{"Department":"x"},"tags":[{"tagKey":"K","tagValue":"v"}]})
        );
        assert_eq!(json_request(b"not json"), Value::Null);
    }

    #[test]
    fn resources_are_typed() {
        let r = resource("arn:aws:kms:us-east-1:111122223333:key/abc", "1");
        assert_eq!((r.kind.as_str(), r.account_id.as_str()), ("AWS::KMS::Key", "111122223333"));
        assert_eq!(resource("arn:aws:s3:::b/k", "9").kind, "AWS::S3::Object");
        assert_eq!(resource("arn:aws:s3:::b/k", "9").account_id, "9");
        assert_eq!(resource("arn:aws:s3:::b", "9").kind, "AWS::S3::Bucket");
        assert_eq!(resource("arn:aws:ssm:us-east-1:1:parameter/x", "9").kind, "AWS::SSM::Parameter");
    }

    #[test]
    fn read_only_calls() {
        for op in ["Encrypt", "Decrypt", "GenerateDataKey", "GetParameter", "ListKeys", "HeadObject", "GetObject"] {
            assert!(read_only(op), "{op}");
        }
        for op in ["CreateKey", "PutParameter", "PutObject", "DeleteAlias", "AssumeRole", "CreateAccessKey"] {
            assert!(!read_only(op), "{op}");
        }
    }
}
