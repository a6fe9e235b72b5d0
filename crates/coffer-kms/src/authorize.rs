//! Who may do what to a key: the key policy, the caller's identity policies and grants, combined
//! as AWS KMS does (coffer_policy::access holds the general rules; docs/policy.md explains them
//! with examples).
//!
//! - The key policy is the root of authority. Identity policies count only where the key policy
//!   allows the caller's account (the default "Enable IAM User Permissions" statement); a key
//!   policy that names the caller directly allows on its own in the key's account.
//! - Another account needs both: the key policy allowing it (or the caller) *and* its own
//!   identity policy allowing the action. Administrative operations are never cross-account.
//! - A grant allows its operations to its grantee (within its constraints), but never against
//!   an explicit Deny.
//!
//! Every decision is made afresh from in-memory state, so a policy, grant or access-key change
//! is in force for the next request; nothing is cached but parsed documents.

use coffer_crypto::EncryptionContext;
use coffer_policy::{Access, Caller, Context, EvalRequest, decide, global_context};

use crate::state::{KeyEntry, alias_arn};
use crate::{Kms, KmsError};

/// Operations that may be performed on another account's key (AWS "Cross-account use: Yes").
const CROSS_ACCOUNT: &[&str] = &[
    "Decrypt",
    "DescribeKey",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "CreateGrant",
    "ListGrants",
    "RetireGrant",
    "RevokeGrant",
    "GetKeyRotationStatus",
    "GetPublicKey",
    "Sign",
    "Verify",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// The facts of one key operation that policies and grants may look at.
pub(crate) struct Req<'a> {
    /// The KMS action without prefix, e.g. `Encrypt` (IAM action `kms:Encrypt`).
    pub action: &'static str,
    /// The grant operation this request needs, if grants can allow it.
    pub grant_op: Option<&'static str>,
    pub ec: Option<&'a EncryptionContext>,
    /// The `KeyId` parameter as given (for `kms:RequestAlias`).
    pub key_param: Option<&'a str>,
    /// Further condition keys (`kms:RotationPeriodInDays`, `kms:GrantOperations`, ...).
    pub keys: Vec<(String, Vec<String>)>,
    /// A grant decision made by the caller (CreateGrant's subset rule) instead of `grant_op`.
    pub by_grant: Option<bool>,
}

impl<'a> Req<'a> {
    pub fn new(action: &'static str) -> Req<'a> {
        Req { action, grant_op: None, ec: None, key_param: None, keys: Vec::new(), by_grant: None }
    }
    /// An operation grants may allow (named as in the grant's Operations list).
    pub fn grant(mut self, op: &'static str) -> Self {
        self.grant_op = Some(op);
        self
    }
    pub fn ec(mut self, ec: &'a EncryptionContext) -> Self {
        self.ec = Some(ec);
        self
    }
    pub fn param(mut self, key_param: &'a str) -> Self {
        self.key_param = Some(key_param);
        self
    }
    pub fn key(mut self, name: impl Into<String>, values: Vec<String>) -> Self {
        self.keys.push((name.into(), values));
        self
    }
}

pub(crate) fn denied(caller: &Caller, action: &str, resource: &str) -> KmsError {
    KmsError::AccessDenied(format!(
        "User: {} is not authorized to perform: kms:{action} on resource: {resource} because no resource-based policy allows the kms:{action} action",
        caller.principal.arn
    ))
}

/// `alias/x` from an alias name or alias ARN parameter.
fn request_alias(param: &str) -> Option<&str> {
    if param.starts_with("alias/") {
        return Some(param);
    }
    param.strip_prefix("arn:").and_then(|_| param.splitn(6, ':').nth(5)).filter(|r| r.starts_with("alias/"))
}

impl Kms {
    /// Condition keys every KMS request has: the global ones plus `kms:CallerAccount` and
    /// `kms:ViaService`.
    fn base_context(&self, caller: &Caller) -> Context {
        let now = self.clock.now();
        let mut c = global_context(caller, &self.identities.principal_tags(&caller.principal), &now.iso8601(), now.secs());
        c.set("kms:CallerAccount", caller.account());
        if let Some(v) = &caller.via_service {
            c.set("kms:ViaService", v.clone());
        }
        c
    }

    fn request_context(&self, caller: &Caller, key: Option<&KeyEntry>, req: &Req<'_>) -> Context {
        let mut c = self.base_context(caller);
        if let Some(k) = key {
            c.set("kms:KeySpec", k.rec.key_spec.clone());
            c.set("kms:CustomerMasterKeySpec", k.rec.key_spec.clone());
            c.set("kms:KeyUsage", k.rec.key_usage.clone());
            c.set("kms:CustomerMasterKeyUsage", k.rec.key_usage.clone());
            c.set("kms:KeyOrigin", k.rec.origin.clone());
            c.set("kms:MultiRegion", "false");
            let aliases = self.cache.aliases(&k.rec.account, &k.rec.region, Some(&k.rec.key_id));
            c.set_all("kms:ResourceAliases", aliases.iter().map(|a| a.name.clone()).collect());
            for t in &k.rec.tags {
                c.set(format!("aws:ResourceTag/{}", t.key), t.value.clone());
            }
        }
        if let Some(ec) = req.ec {
            for (k, v) in &ec.0 {
                c.set(format!("kms:EncryptionContext:{k}"), v.clone());
            }
            c.set_all("kms:EncryptionContextKeys", ec.0.keys().cloned().collect());
        }
        if let Some(alias) = req.key_param.and_then(request_alias) {
            c.set("kms:RequestAlias", alias);
        }
        for (name, values) in &req.keys {
            c.set_all(name.clone(), values.clone());
        }
        c
    }

    /// Checks that `caller` may perform `req.action` on `key`.
    pub(crate) fn authorize(&self, caller: &Caller, key: &KeyEntry, req: Req<'_>) -> Result<(), KmsError> {
        let action = format!("kms:{}", req.action);
        let cross = caller.account() != key.rec.account;
        if cross && !CROSS_ACCOUNT.contains(&req.action) {
            return Err(denied(caller, req.action, &key.arn));
        }
        let ctx = self.request_context(caller, Some(key), &req);
        let identity = self.identities.identity_policies(&caller.principal);
        let session = self.identities.session_policy(&caller.access_key_id);
        let by_grant = req.by_grant.unwrap_or_else(|| req.grant_op.is_some_and(|op| self.grant_allows(caller, key, op, req.ec)));
        let access = Access {
            request: EvalRequest { principal: &caller.principal, action: &action, resource: &key.arn, context: &ctx },
            resource_policy: Some(&key.policy),
            resource_account: &key.rec.account,
            identity: &identity,
            session_policy: session.as_deref(),
            extra_allow: by_grant,
            identity_suffices: false,
        };
        decide(&access).map_err(|d| KmsError::AccessDenied(d.message(&caller.principal.arn, &action, &key.arn)))
    }

    /// Checks an action that has no key (CreateKey, ListKeys, GenerateRandom, ...) or an alias
    /// resource: identity-based policies of the caller's own account decide.
    pub(crate) fn authorize_account(&self, caller: &Caller, req: Req<'_>, resource: &str) -> Result<(), KmsError> {
        let action = format!("kms:{}", req.action);
        let ctx = self.request_context(caller, None, &req);
        let identity = self.identities.identity_policies(&caller.principal);
        let session = self.identities.session_policy(&caller.access_key_id);
        let access = Access {
            request: EvalRequest { principal: &caller.principal, action: &action, resource, context: &ctx },
            resource_policy: None,
            resource_account: caller.account(),
            identity: &identity,
            session_policy: session.as_deref(),
            extra_allow: false,
            identity_suffices: false,
        };
        decide(&access).map_err(|d| KmsError::AccessDenied(d.message(&caller.principal.arn, &action, resource)))
    }

    /// Alias operations need permission on the alias itself (identity policy, alias ARN) as
    /// well as on the key.
    pub(crate) fn authorize_alias(&self, caller: &Caller, action: &'static str, alias_name: &str) -> Result<(), KmsError> {
        let arn = alias_arn(&caller.region, caller.account(), alias_name);
        self.authorize_account(caller, Req::new(action), &arn)
    }

    /// Would `caller` still be allowed `kms:PutKeyPolicy` on `key` under the policy `doc`?
    /// (The lockout safety check of CreateKey and PutKeyPolicy.)
    pub(crate) fn keeps_control(&self, caller: &Caller, key: &KeyEntry, doc: &coffer_policy::PolicyDocument) -> bool {
        let req = Req::new("PutKeyPolicy");
        let ctx = self.request_context(caller, Some(key), &req);
        let identity = self.identities.identity_policies(&caller.principal);
        let session = self.identities.session_policy(&caller.access_key_id);
        let access = Access {
            request: EvalRequest { principal: &caller.principal, action: "kms:PutKeyPolicy", resource: &key.arn, context: &ctx },
            resource_policy: Some(doc),
            resource_account: &key.rec.account,
            identity: &identity,
            session_policy: session.as_deref(),
            extra_allow: false,
            identity_suffices: false,
        };
        decide(&access).is_ok()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_alias_forms() {
        assert_eq!(super::request_alias("alias/a"), Some("alias/a"));
        assert_eq!(super::request_alias("arn:aws:kms:us-east-1:111111111111:alias/a/b"), Some("alias/a/b"));
        assert_eq!(super::request_alias("arn:aws:kms:us-east-1:111111111111:key/x"), None);
        assert_eq!(super::request_alias("1234"), None);
    }
}
