//! Key policies: GetKeyPolicy, PutKeyPolicy, ListKeyPolicies, and the policies KMS writes itself.
//!
//! A key policy is stored exactly as given (GetKeyPolicy returns the caller's own text) after
//! it passed validation as a resource policy by coffer-policy. Evaluation of the policy on each
//! request is the authorization layer's job (authorize.rs).

use coffer_policy::{Caller, PolicyDocument, PolicyKind};
use coffer_util::Validation;

use crate::authorize::Req;
use crate::error::validated;
use crate::model::*;
use crate::{Kms, KmsError, validate};

/// AWS's key policy size quota, in bytes.
pub(crate) const MAX_POLICY_BYTES: usize = 32 * 1024;
const POLICY_PATTERN: &str = "[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+";

/// Model constraints on a `Policy` member.
pub(crate) fn validate_policy_text(v: &mut Validation, p: &str) {
    v.str_len("policy", p, 1, 131_072);
    let ok = p.chars().all(|c| matches!(c, '\u{9}' | '\u{a}' | '\u{d}' | '\u{20}'..='\u{ff}'));
    if !ok {
        v.pattern("policy", p, false, POLICY_PATTERN);
    }
}

/// The lockout safety check's refusal.
pub(crate) fn lockout() -> KmsError {
    KmsError::MalformedPolicyDocument("The new key policy will not allow you to update the key policy in the future.".into())
}

impl Kms {
    /// Semantic checks: size quota, a valid resource policy, principals that exist.
    pub(crate) fn check_policy(&self, p: &str) -> Result<PolicyDocument, KmsError> {
        if p.len() > MAX_POLICY_BYTES {
            return Err(KmsError::LimitExceeded(format!(
                "The key policy is {} bytes, more than the {MAX_POLICY_BYTES}-byte limit.",
                p.len()
            )));
        }
        let doc = PolicyDocument::parse(p, PolicyKind::Resource).map_err(|e| KmsError::MalformedPolicyDocument(e.to_string()))?;
        coffer_policy::actions::check_actions(&doc).map_err(|e| KmsError::MalformedPolicyDocument(e.to_string()))?;
        if let Some(bad) = doc.aws_principals().find(|a| !self.identities.principal_exists(a)) {
            return Err(KmsError::MalformedPolicyDocument(format!(
                "Policy contains a statement with one or more invalid principals. ({bad} does not exist.)"
            )));
        }
        Ok(doc)
    }
}

/// The default key policy KMS gives keys created without one: the account (and through it IAM
/// policies) may do everything.
pub fn default_key_policy(account: &str) -> String {
    format!(
        r#"{{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {{
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "arn:aws:iam::{account}:root"
    }},
    "Action" : "kms:*",
    "Resource" : "*"
  }} ]
}}"#
    )
}

fn policy_name(v: &mut Validation, name: Option<&String>) -> Result<(), KmsError> {
    if let Some(n) = name {
        v.str_len("policyName", n, 1, 128);
        let ok = n.chars().all(|c| c.is_alphanumeric() || c == '_');
        v.pattern("policyName", n, ok, "[\\w]+");
    }
    Ok(())
}

fn only_default(name: Option<&String>) -> Result<(), KmsError> {
    match name.map(String::as_str) {
        None | Some("default") => Ok(()),
        Some(other) => Err(KmsError::NotFound(format!(
            "No such policy exists: '{other}'. The only key policy name is 'default'."
        ))),
    }
}

impl Kms {
    pub async fn get_key_policy(&self, caller: &Caller, req: GetKeyPolicyRequest) -> Result<GetKeyPolicyResponse, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        policy_name(&mut v, req.policy_name.as_ref())?;
        validated(v)?;
        let e = self.resolve(caller, key_id.expect("validated"), false).await?;
        self.authorize(caller, &e, Req::new("GetKeyPolicy"))?;
        only_default(req.policy_name.as_ref())?;
        Ok(GetKeyPolicyResponse { policy: e.rec.policy.clone(), policy_name: "default".into() })
    }

    pub async fn put_key_policy(&self, caller: &Caller, req: PutKeyPolicyRequest) -> Result<Empty, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        policy_name(&mut v, req.policy_name.as_ref())?;
        if v.required("policy", req.policy.as_ref()) {
            validate_policy_text(&mut v, req.policy.as_ref().expect("checked"));
        }
        validated(v)?;
        let e = self.resolve(caller, key_id.expect("validated"), false).await?;
        let bypass = req.bypass_policy_lockout_safety_check.unwrap_or(false);
        self.authorize(caller, &e, Req::new("PutKeyPolicy").key("kms:BypassPolicyLockoutSafetyCheck", vec![bypass.to_string()]))?;
        only_default(req.policy_name.as_ref())?;
        let policy = req.policy.expect("validated");
        let doc = self.check_policy(&policy)?;
        if !bypass && !self.keeps_control(caller, &e, &doc) {
            return Err(lockout());
        }
        self.mutate_key(e, |e| {
            let mut rec = e.rec.clone();
            rec.policy = policy.clone();
            Ok((rec, vec![], ()))
        })
        .await?;
        Ok(Empty {})
    }

    pub async fn list_key_policies(&self, caller: &Caller, req: PageRequest) -> Result<ListKeyPoliciesResponse, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        validate::page(&mut v, req.limit, req.marker.as_ref());
        validated(v)?;
        let e = self.resolve(caller, key_id.expect("validated"), false).await?;
        self.authorize(caller, &e, Req::new("ListKeyPolicies"))?;
        Ok(ListKeyPoliciesResponse { policy_names: vec!["default".into()], next_marker: None, truncated: false })
    }
}
