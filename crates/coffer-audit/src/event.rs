//! Building CloudTrail-shaped events, and keeping secrets out of them.

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use coffer_util::time::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};

/// Fields removed wherever they occur (any depth, name compared case-insensitively), because
/// their value is a secret or lets a reader recover one:
///
/// - KMS plaintexts and key material: `Plaintext` (Encrypt input; Decrypt, GenerateDataKey and
///   GenerateRandom output), `PrivateKeyPlaintext` (GenerateDataKeyPair), `SharedSecret`
///   (DeriveSharedSecret), `KeyMaterial`; `EncryptedKeyMaterial` and `ImportToken`
///   (ImportKeyMaterial: the material wrapped under a key Coffer itself can unwrap, and the token
///   naming that key — together they are the material).
/// - Credentials: `SecretAccessKey`, `RawSecretAccessKey`, `SessionToken`,
///   `X-Amz-Security-Token`, `Authorization` (a signature is replayable within its window),
///   `Password`, `NewPassword`, `OldPassword`, `KeyStorePassword`, `TokenCode` (MFA),
///   `PrivateKey` (IAM server certificates), `ClientSecret`.
/// - S3 SSE-C keys: `SSECustomerKey`, `CopySourceSSECustomerKey` and their header forms
///   `x-amz-server-side-encryption-customer-key`, `x-amz-copy-source-server-side-encryption-customer-key`
///   (their `-MD5` companions are digests of random keys and are kept).
/// - Secrets of other services: `SecretString`, `SecretBinary`.
///
/// Parameter Store's `Value` is not here: it is secret only for SecureString parameters, so
/// the caller adds it ([`EventBuilder::redact_also`], [`redact_with`]) for those.
///
/// Kept on purpose: key ids, ARNs, access key ids, encryption contexts, algorithms, `Mac` and
/// `Signature` (outputs meant to be published), `...-MD5` digests.
pub const DEFAULT_SECRET_FIELDS: &[&str] = &[
    "Plaintext",
    "PrivateKeyPlaintext",
    "SharedSecret",
    "KeyMaterial",
    "EncryptedKeyMaterial",
    "ImportToken",
    "SecretAccessKey",
    "RawSecretAccessKey",
    "SessionToken",
    "X-Amz-Security-Token",
    "Authorization",
    "Password",
    "NewPassword",
    "OldPassword",
    "KeyStorePassword",
    "TokenCode",
    "PrivateKey",
    "ClientSecret",
    "SSECustomerKey",
    "CopySourceSSECustomerKey",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-copy-source-server-side-encryption-customer-key",
    "SecretString",
    "SecretBinary",
];

/// Fields whose value is replaced by a placeholder (`"<N characters omitted>"`): not secret, but
/// large binary blobs that would multiply the journal's size without helping an audit —
/// ciphertexts (`CiphertextBlob`, `CiphertextForRecipient`, `PrivateKeyCiphertextBlob`), the data
/// signed or MACed (`Message`, which may also be personal data), `PublicKey` (retrievable with
/// GetPublicKey), `AttestationDocument` and object `Body`.
pub const DEFAULT_BLOB_FIELDS: &[&str] = &[
    "CiphertextBlob",
    "CiphertextForRecipient",
    "PrivateKeyCiphertextBlob",
    "Message",
    "PublicKey",
    "AttestationDocument",
    "Body",
];

/// Applies the default lists ([`DEFAULT_SECRET_FIELDS`], [`DEFAULT_BLOB_FIELDS`]) to `value`,
/// recursively through objects and arrays.
pub fn redact(value: &mut Value) {
    redact_with(value, &[]);
}

/// [`redact`], also removing every field named in `extra_secret_fields` (case-insensitive),
/// e.g. `&["Value"]` for a SecureString parameter.
pub fn redact_with(value: &mut Value, extra_secret_fields: &[&str]) {
    let is = |list: &[&str], name: &str| list.iter().any(|f| f.eq_ignore_ascii_case(name));
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !is(DEFAULT_SECRET_FIELDS, k) && !is(extra_secret_fields, k));
            for (k, v) in map.iter_mut() {
                if is(DEFAULT_BLOB_FIELDS, k) {
                    *v = match v {
                        Value::Null => Value::Null,
                        Value::String(s) => Value::String(format!("<{} characters omitted>", s.len())),
                        _ => Value::String("<omitted>".into()),
                    };
                } else {
                    redact_with(v, extra_secret_fields);
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                redact_with(v, extra_secret_fields);
            }
        }
        _ => {}
    }
}

/// CloudTrail's `eventTime` form: ISO 8601 UTC with seconds, `2026-11-29T02:45:01Z`.
pub fn event_time(t: Timestamp) -> String {
    let c = t.civil();
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", c.year, c.month, c.day, c.hour, c.minute, c.second)
}

/// `userIdentity.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum IdentityType {
    Root,
    #[serde(rename = "IAMUser")]
    IamUser,
    AssumedRole,
    #[serde(rename = "AWSService")]
    AwsService,
}

impl IdentityType {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityType::Root => "Root",
            IdentityType::IamUser => "IAMUser",
            IdentityType::AssumedRole => "AssumedRole",
            IdentityType::AwsService => "AWSService",
        }
    }
}

/// The caller, as CloudTrail's `userIdentity`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    #[serde(rename = "type")]
    pub kind: IdentityType,
    pub principal_id: String,
    pub arn: String,
    pub account_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
}

impl UserIdentity {
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// One entry of `resources`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Resource {
    #[serde(rename = "ARN")]
    pub arn: String,
    #[serde(rename = "accountId")]
    pub account_id: String,
    /// e.g. `AWS::KMS::Key`, `AWS::SSM::Parameter`, `AWS::S3::Object`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A unique `eventID` in UUID form, cheaply: 64 random bits drawn once per process, then a
/// counter (drawing 128 fresh random bits per event costs more than the rest of the event).
/// Event ids only need to be unique, not unpredictable.
fn next_event_id() -> String {
    static PREFIX: OnceLock<[u8; 8]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(coffer_crypto::random::bytes::<8>);
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(prefix);
    b[8..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    coffer_crypto::random::format_uuid(&b)
}

/// Fills the CloudTrail event shape consistently, and serialises it in CloudTrail's field order
/// without building an intermediate JSON tree (pass the builder itself to
/// [`crate::Journal::append`]; [`EventBuilder::build`] gives a `Map` for callers that want to
/// add fields).
///
/// ```
/// # use coffer_audit::{EventBuilder, IdentityType, Resource, UserIdentity};
/// let event = EventBuilder::new("kms.amazonaws.com", "Encrypt", "us-east-1")
///     .identity(UserIdentity {
///         kind: IdentityType::IamUser,
///         principal_id: "AIDAEXAMPLE".into(),
///         arn: "arn:aws:iam::111122223333:user/alice".into(),
///         account_id: "111122223333".into(),
///         access_key_id: Some("AKIAEXAMPLE".into()),
///     })
///     .source_ip("192.0.2.10")
///     .user_agent("aws-cli/2")
///     .request_id("0b6c2a0e-4c1f-4b8e-9b0a-6f0b7a0c1d2e")
///     .request_parameters(serde_json::json!({"KeyId": "alias/app", "Plaintext": "c2VjcmV0"}))
///     .resource(Resource {
///         arn: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab".into(),
///         account_id: "111122223333".into(),
///         kind: "AWS::KMS::Key".into(),
///     })
///     .read_only(true)
///     .build();
/// assert!(event["requestParameters"].get("Plaintext").is_none()); // redacted
/// ```
///
/// Defaults: `eventTime` now, a fresh `eventID`, `readOnly` false, `requestParameters` and
/// `responseElements` null, `recipientAccountId` the caller's account. Request parameters and
/// response elements are always passed through [`redact_with`] (default lists plus
/// [`EventBuilder::redact_also`]) when the event is serialised or built.
pub struct EventBuilder {
    time: Timestamp,
    event_source: String,
    event_name: String,
    aws_region: String,
    source_ip: Option<String>,
    user_agent: Option<String>,
    identity: Option<UserIdentity>,
    request: Value,
    response: Value,
    error: Option<(String, String)>,
    request_id: Option<String>,
    event_id: String,
    read_only: bool,
    resources: Vec<Resource>,
    recipient_account_id: Option<String>,
    extra_secret_fields: Vec<String>,
}

impl fmt::Debug for EventBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventBuilder")
            .field("eventName", &self.event_name)
            .field("eventID", &self.event_id)
            .finish_non_exhaustive()
    }
}

/// The wire form, in CloudTrail's order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Wire<'a> {
    event_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_identity: Option<&'a UserIdentity>,
    event_time: String,
    event_source: &'a str,
    event_name: &'a str,
    aws_region: &'a str,
    #[serde(rename = "sourceIPAddress", skip_serializing_if = "Option::is_none")]
    source_ip_address: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
    request_parameters: &'a Value,
    response_elements: &'a Value,
    #[serde(rename = "requestID", skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(rename = "eventID")]
    event_id: &'a str,
    read_only: bool,
    #[serde(skip_serializing_if = "<[Resource]>::is_empty")]
    resources: &'a [Resource],
    event_type: &'a str,
    management_event: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient_account_id: Option<&'a str>,
    event_category: &'a str,
}

impl EventBuilder {
    pub fn new(event_source: &str, event_name: &str, aws_region: &str) -> EventBuilder {
        EventBuilder {
            time: Timestamp::wall(),
            event_source: event_source.into(),
            event_name: event_name.into(),
            aws_region: aws_region.into(),
            source_ip: None,
            user_agent: None,
            identity: None,
            request: Value::Null,
            response: Value::Null,
            error: None,
            request_id: None,
            event_id: next_event_id(),
            read_only: false,
            resources: Vec::new(),
            recipient_account_id: None,
            extra_secret_fields: Vec::new(),
        }
    }

    pub fn time(mut self, t: Timestamp) -> EventBuilder {
        self.time = t;
        self
    }
    pub fn source_ip(mut self, ip: impl Into<String>) -> EventBuilder {
        self.source_ip = Some(ip.into());
        self
    }
    pub fn user_agent(mut self, agent: impl Into<String>) -> EventBuilder {
        self.user_agent = Some(agent.into());
        self
    }
    pub fn identity(mut self, identity: UserIdentity) -> EventBuilder {
        self.identity = Some(identity);
        self
    }
    /// The request's parameters (the decoded request body / query), redacted when serialised.
    pub fn request_parameters(mut self, params: Value) -> EventBuilder {
        self.request = params;
        self
    }
    /// The response's elements, redacted when serialised.
    pub fn response_elements(mut self, elements: Value) -> EventBuilder {
        self.response = elements;
        self
    }
    /// The call failed: `errorCode` (e.g. `AccessDeniedException`) and `errorMessage`.
    pub fn error(mut self, code: impl Into<String>, message: impl Into<String>) -> EventBuilder {
        self.error = Some((code.into(), message.into()));
        self
    }
    pub fn request_id(mut self, id: impl Into<String>) -> EventBuilder {
        self.request_id = Some(id.into());
        self
    }
    /// Replaces the generated `eventID`.
    pub fn event_id(mut self, id: impl Into<String>) -> EventBuilder {
        self.event_id = id.into();
        self
    }
    pub fn read_only(mut self, read_only: bool) -> EventBuilder {
        self.read_only = read_only;
        self
    }
    pub fn resource(mut self, r: Resource) -> EventBuilder {
        self.resources.push(r);
        self
    }
    /// Defaults to the caller's account.
    pub fn recipient_account_id(mut self, account: impl Into<String>) -> EventBuilder {
        self.recipient_account_id = Some(account.into());
        self
    }
    /// More field names to remove from request parameters and response elements, e.g.
    /// `&["Value"]` for a SecureString parameter.
    pub fn redact_also(mut self, fields: &[&str]) -> EventBuilder {
        self.extra_secret_fields.extend(fields.iter().map(|f| f.to_string()));
        self
    }

    fn redact(&mut self) {
        let extra: Vec<&str> = self.extra_secret_fields.iter().map(String::as_str).collect();
        redact_with(&mut self.request, &extra);
        redact_with(&mut self.response, &extra);
    }

    fn wire(&self) -> Wire<'_> {
        Wire {
            event_version: "1.11",
            user_identity: self.identity.as_ref(),
            event_time: event_time(self.time),
            event_source: &self.event_source,
            event_name: &self.event_name,
            aws_region: &self.aws_region,
            source_ip_address: self.source_ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
            error_code: self.error.as_ref().map(|e| e.0.as_str()),
            error_message: self.error.as_ref().map(|e| e.1.as_str()),
            request_parameters: &self.request,
            response_elements: &self.response,
            request_id: self.request_id.as_deref(),
            event_id: &self.event_id,
            read_only: self.read_only,
            resources: &self.resources,
            event_type: "AwsApiCall",
            management_event: true,
            recipient_account_id: self
                .recipient_account_id
                .as_deref()
                .or(self.identity.as_ref().map(|i| i.account_id.as_str())),
            event_category: "Management",
        }
    }

    /// The redacted event as compact JSON bytes, in CloudTrail's field order.
    pub fn to_json_bytes(mut self) -> Vec<u8> {
        self.redact();
        let mut out = Vec::with_capacity(1024);
        // Serialising strings, bools and `Value`s into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, &self.wire());
        out
    }

    /// The redacted event as a JSON object.
    pub fn build(mut self) -> Map<String, Value> {
        self.redact();
        match serde_json::to_value(self.wire()) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn redaction_removes_secrets_at_any_depth_and_shrinks_blobs() {
        let mut v = json!({
            "KeyId": "alias/a",
            "plaintext": "c2VjcmV0",
            "CiphertextBlob": "QUJDREVGRw==",
            "Credentials": {"AccessKeyId": "ASIA1", "SecretAccessKey": "s", "sessionToken": "t"},
            "Parameters": [{"Name": "/p", "Value": "v"}],
            "SSECustomerKey": "k",
            "x-amz-server-side-encryption-customer-key-MD5": "md5",
            "Mac": "bWFj",
            "Signature": "c2ln",
        });
        let mut plain = v.clone();
        redact(&mut plain);
        assert_eq!(plain["Parameters"][0]["Value"], "v", "Value is kept unless the caller asks");
        redact_with(&mut v, &["value"]);
        assert_eq!(
            v,
            json!({
                "KeyId": "alias/a",
                "CiphertextBlob": "<12 characters omitted>",
                "Credentials": {"AccessKeyId": "ASIA1"},
                "Parameters": [{"Name": "/p"}],
                "x-amz-server-side-encryption-customer-key-MD5": "md5",
                "Mac": "bWFj",
                "Signature": "c2ln",
            })
        );
    }

    #[test]
    fn builder_fills_the_cloudtrail_shape() {
        let identity = UserIdentity {
            kind: IdentityType::AssumedRole,
            principal_id: "AROAEXAMPLE:s".into(),
            arn: "arn:aws:sts::111122223333:assumed-role/r/s".into(),
            account_id: "111122223333".into(),
            access_key_id: Some("ASIAEXAMPLE".into()),
        };
        let e = EventBuilder::new("ssm.amazonaws.com", "PutParameter", "eu-west-1")
            .time(Timestamp::from_secs(1_800_000_000))
            .identity(identity)
            .request_parameters(json!({"Name": "/db/pw", "Type": "SecureString", "Value": "hunter2"}))
            .redact_also(&["Value"])
            .error("AccessDeniedException", "denied")
            .build();
        assert_eq!(e["eventTime"], "2027-01-15T08:00:00Z");
        assert_eq!(e["eventVersion"], "1.11");
        assert_eq!(e["eventType"], "AwsApiCall");
        assert_eq!(e["userIdentity"]["type"], "AssumedRole");
        assert_eq!(e["recipientAccountId"], "111122223333");
        assert_eq!(e["requestParameters"], json!({"Name": "/db/pw", "Type": "SecureString"}));
        assert_eq!(e["responseElements"], Value::Null);
        assert_eq!(e["errorCode"], "AccessDeniedException");
        assert_eq!(e["eventID"].as_str().unwrap().len(), 36);
        assert!(e.get("resources").is_none());
    }
}
