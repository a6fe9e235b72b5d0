//! Combining policy decisions into an access decision, as AWS does.
//!
//! [`crate::eval`] answers what one document or one set of documents says. This module applies
//! AWS's rules on top, in one place for every service:
//!
//! - an explicit Deny anywhere wins;
//! - within one account, a resource policy that names the caller allows on its own; a resource
//!   policy that names the caller's *account* delegates to the caller's identity policies (which
//!   the account root satisfies implicitly); without a resource policy, identity policies decide;
//! - across accounts, the resource policy must allow (the caller or its account) *and* the
//!   caller's identity policies must allow;
//! - an extra allow (a KMS grant) allows on its own, but never against an explicit Deny.
//!
//! It also builds the global condition keys (`aws:PrincipalArn`, `aws:SourceIp`, ...) every
//! evaluation starts from.

use std::sync::Arc;

use crate::context::{Caller, Principal, PrincipalKind};
use crate::document::PolicyDocument;
use crate::eval::{Context, Decision, EvalRequest, ResourceDecision, evaluate_identity, evaluate_resource};

/// What the services need to know about identities to authorize a request. Implemented by the
/// IAM service; handed to other services so that they do not depend on it.
pub trait Identities: Send + Sync {
    /// Identity-based policies in force for the principal (empty for an account root).
    fn identity_policies(&self, principal: &Principal) -> Vec<Arc<PolicyDocument>>;
    /// Tags of the principal's user or role, for `aws:PrincipalTag/<key>`.
    fn principal_tags(&self, principal: &Principal) -> Vec<(String, String)>;
    /// Whether an `AWS` principal named in a policy (account id, account root ARN, user, role or
    /// assumed-role ARN) exists, so that policies naming nobody are refused.
    fn principal_exists(&self, principal: &str) -> bool;
    /// The session policy of temporary credentials, by their access key id.
    fn session_policy(&self, access_key_id: &str) -> Option<Arc<PolicyDocument>>;
}

/// Why access was denied; decides the wording of `AccessDenied`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    ExplicitResource,
    ExplicitIdentity,
    NoResourceAllow,
    NoIdentityAllow,
    NoSessionAllow,
}

impl Denial {
    /// AWS's message: "User: <arn> is not authorized to perform: <action> on resource: <arn>
    /// because no resource-based policy allows the <action> action".
    pub fn message(self, principal_arn: &str, action: &str, resource: &str) -> String {
        let why = match self {
            Denial::ExplicitResource => "with an explicit deny in a resource-based policy".to_string(),
            Denial::ExplicitIdentity => "with an explicit deny in an identity-based policy".to_string(),
            Denial::NoResourceAllow => format!("because no resource-based policy allows the {action} action"),
            Denial::NoIdentityAllow => format!("because no identity-based policy allows the {action} action"),
            Denial::NoSessionAllow => format!("because no session policy allows the {action} action"),
        };
        format!("User: {principal_arn} is not authorized to perform: {action} on resource: {resource} {why}")
    }
}

/// One access question.
pub struct Access<'a> {
    pub request: EvalRequest<'a>,
    /// The resource's own policy (key policy, trust policy), if the resource kind has one.
    pub resource_policy: Option<&'a PolicyDocument>,
    /// The account that owns the resource.
    pub resource_account: &'a str,
    /// The caller's identity-based policies ([`Identities::identity_policies`]).
    pub identity: &'a [Arc<PolicyDocument>],
    /// For a role session created with a session policy: that policy, which every permission of
    /// the session must also satisfy (it limits; it never grants).
    pub session_policy: Option<&'a PolicyDocument>,
    /// An allow from outside policies (a KMS grant), subject only to explicit denies.
    pub extra_allow: bool,
    /// Within the resource's account, whether an identity-policy allow suffices when the
    /// resource policy is silent: true for S3 bucket policies (as for most AWS resources);
    /// false for KMS key policies and role trust policies, which must allow themselves —
    /// naming the principal, or naming its account and so delegating to identity policies.
    pub identity_suffices: bool,
}

/// AWS's decision for one request.
pub fn decide(a: &Access<'_>) -> Result<(), Denial> {
    let p = a.request.principal;
    let identity = if p.kind == PrincipalKind::Root {
        Decision::Allow // the account root may do everything its account may do
    } else {
        let docs: Vec<&PolicyDocument> = a.identity.iter().map(|d| d.as_ref()).collect();
        evaluate_identity(&docs, &a.request)
    };
    let resource = a.resource_policy.map(|d| evaluate_resource(d, &a.request));
    let session = a.session_policy.map(|d| evaluate_identity(&[d], &a.request));
    if identity == Decision::Deny || session == Some(Decision::Deny) {
        return Err(Denial::ExplicitIdentity);
    }
    if resource.is_some_and(|r| r.deny) {
        return Err(Denial::ExplicitResource);
    }
    if a.extra_allow {
        return Ok(());
    }
    if session.is_some_and(|d| d != Decision::Allow) {
        return Err(Denial::NoSessionAllow);
    }
    let id_allows = identity == Decision::Allow;
    let same_account = p.account == a.resource_account;
    match resource {
        None if same_account => if id_allows { Ok(()) } else { Err(Denial::NoIdentityAllow) },
        None => Err(Denial::NoResourceAllow),
        Some(ResourceDecision { allow_direct, allow_account, .. }) => {
            let allowed = if same_account {
                allow_direct || ((allow_account || a.identity_suffices) && id_allows)
            } else {
                (allow_direct || allow_account) && id_allows
            };
            match (allowed, allow_direct || allow_account || (same_account && a.identity_suffices)) {
                (true, _) => Ok(()),
                (false, true) => Err(Denial::NoIdentityAllow),
                (false, false) => Err(Denial::NoResourceAllow),
            }
        }
    }
}

/// The global condition keys of a request: `aws:PrincipalArn`, `aws:PrincipalAccount`,
/// `aws:PrincipalType`, `aws:username` (users), `aws:userid`, `aws:SourceIp`,
/// `aws:SecureTransport`, `aws:CurrentTime`, `aws:EpochTime`, `aws:PrincipalTag/<key>`, and
/// `aws:ViaAWSService` / `kms:ViaService`-style facts are added by the service.
pub fn global_context(caller: &Caller, principal_tags: &[(String, String)], now_iso: &str, now_epoch: i64) -> Context {
    let p = &caller.principal;
    let mut c = Context::new();
    let principal_arn = match (&p.kind, &p.role_arn) {
        (PrincipalKind::AssumedRole, Some(role)) => role.as_str(),
        _ => p.arn.as_str(),
    };
    c.set("aws:PrincipalArn", principal_arn);
    c.set("aws:PrincipalAccount", p.account.clone());
    c.set("aws:PrincipalType", p.kind.as_str());
    c.set("aws:userid", p.user_id.clone());
    if p.kind == PrincipalKind::User {
        c.set("aws:username", p.name.clone());
    }
    if let Some(ip) = caller.source_ip {
        c.set("aws:SourceIp", ip.to_string());
    }
    c.set("aws:SecureTransport", if caller.secure_transport { "true" } else { "false" });
    c.set("aws:CurrentTime", now_iso);
    c.set("aws:EpochTime", now_epoch.to_string());
    c.set("aws:ViaAWSService", if caller.via_service.is_some() { "true" } else { "false" });
    for (k, v) in principal_tags {
        c.set(format!("aws:PrincipalTag/{k}"), v.clone());
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::PolicyKind;

    fn user(account: &str, name: &str) -> Principal {
        Principal {
            kind: PrincipalKind::User,
            account: account.into(),
            arn: format!("arn:aws:iam::{account}:user/{name}"),
            user_id: format!("AIDA{name}"),
            name: name.into(),
            role_arn: None,
        }
    }

    #[test]
    fn denial_messages() {
        assert_eq!(
            Denial::NoResourceAllow.message("arn:aws:iam::1:user/a", "kms:Encrypt", "arn:k"),
            "User: arn:aws:iam::1:user/a is not authorized to perform: kms:Encrypt on resource: arn:k because no resource-based policy allows the kms:Encrypt action"
        );
        assert!(Denial::ExplicitIdentity.message("a", "b", "c").ends_with("with an explicit deny in an identity-based policy"));
    }

    #[test]
    fn root_without_resource_policy_is_allowed_in_its_account_only() {
        let root = Principal::root("111111111111");
        let ctx = Context::new();
        let req = EvalRequest { principal: &root, action: "iam:CreateUser", resource: "*", context: &ctx };
        let a = Access { request: req, resource_policy: None, resource_account: "111111111111", identity: &[], session_policy: None, extra_allow: false, identity_suffices: false };
        assert_eq!(decide(&a), Ok(()));
        let b = Access { resource_account: "222222222222", ..a };
        assert_eq!(decide(&b), Err(Denial::NoResourceAllow));
        let u = user("111111111111", "bob");
        let req = EvalRequest { principal: &u, action: "iam:CreateUser", resource: "*", context: &ctx };
        let c = Access { request: req, resource_policy: None, resource_account: "111111111111", identity: &[], session_policy: None, extra_allow: false, identity_suffices: false };
        assert_eq!(decide(&c), Err(Denial::NoIdentityAllow));
        let doc = PolicyDocument::parse(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#, PolicyKind::Identity).unwrap();
        let docs = [Arc::new(doc)];
        let d = Access { identity: &docs, ..c };
        assert_eq!(decide(&d), Ok(()));
    }

    /// Bucket-policy combining (identity_suffices) against key-policy combining, same account and
    /// cross-account, for a user with and without an identity allow.
    #[test]
    fn resource_policy_roles() {
        let ctx = Context::new();
        let bob = user("111111111111", "bob");
        let allow_all = [Arc::new(
            PolicyDocument::parse(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#, PolicyKind::Identity).unwrap(),
        )];
        let silent = PolicyDocument::parse(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::999999999999:root"},"Action":"*","Resource":"*"}}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        let names_bob = PolicyDocument::parse(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/bob"},"Action":"*","Resource":"*"}}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        let denies = PolicyDocument::parse(
            r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}}"#,
            PolicyKind::Resource,
        )
        .unwrap();
        let req = EvalRequest { principal: &bob, action: "s3:GetObject", resource: "arn:aws:s3:::b/k", context: &ctx };
        let case = |policy: &PolicyDocument, account: &str, identity: bool, suffices: bool| {
            decide(&Access {
                request: EvalRequest { ..req },
                resource_policy: Some(policy),
                resource_account: account,
                identity: if identity { &allow_all } else { &[] },
                session_policy: None,
                extra_allow: false,
                identity_suffices: suffices,
            })
        };
        // Same account, resource policy silent: S3 allows on identity alone; KMS does not.
        assert_eq!(case(&silent, "111111111111", true, true), Ok(()));
        assert_eq!(case(&silent, "111111111111", true, false), Err(Denial::NoResourceAllow));
        assert_eq!(case(&silent, "111111111111", false, true), Err(Denial::NoIdentityAllow));
        // Naming the user suffices in its own account, either way.
        assert_eq!(case(&names_bob, "111111111111", false, true), Ok(()));
        assert_eq!(case(&names_bob, "111111111111", false, false), Ok(()));
        // Cross-account needs both, either way.
        assert_eq!(case(&silent, "222222222222", true, true), Err(Denial::NoResourceAllow));
        assert_eq!(case(&names_bob, "222222222222", false, true), Err(Denial::NoIdentityAllow));
        assert_eq!(case(&names_bob, "222222222222", true, true), Ok(()));
        // An explicit deny wins.
        assert_eq!(case(&denies, "111111111111", true, true), Err(Denial::ExplicitResource));
    }
}
