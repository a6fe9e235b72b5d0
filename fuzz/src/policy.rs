//! Target `policy`: parsing an arbitrary document as each kind of policy (coffer-policy
//! `document`) and, when it parses, evaluating it against a request the input describes.
//!
//! Input format (text, so seeds are readable):
//!
//! ```text
//! <policy document>
//! ---
//! <action>
//! <resource ARN>
//! <principal ARN>          kind from its form: `:root` account root, `:assumed-role/` session, else user
//! <role ARN or empty>
//! <condition key>=<value>[\t<value>]...      any number; a bare key is present with no values
//! ```
//!
//! Without a `---` line the whole input is the document and the request is a fixed KMS one. The
//! context starts from the global keys a real request has (`global_context`), then the lines add
//! to or replace them, so operators see both well-formed and hostile values.
//!
//! Checks: parsing and evaluation never panic; a document of only Allow statements never denies
//! and one of only Deny statements never allows (identity and resource evaluation); `decide`
//! never allows against an explicit deny; evaluation is deterministic.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use coffer_policy::document::Effect;
use coffer_policy::{
    Access, Caller, Context, Decision, EvalRequest, PolicyDocument, PolicyKind, Principal, PrincipalKind, decide,
    evaluate_identity, evaluate_resource, global_context,
};

pub const SEPARATOR: &str = "\n---\n";

/// The request part of an input.
pub struct Request {
    pub action: String,
    pub resource: String,
    pub principal: Principal,
    pub context: Context,
}

fn principal_from_arn(arn: &str, role_arn: Option<&str>) -> Principal {
    let account = arn.split(':').nth(4).unwrap_or("").to_string();
    let kind = if arn.ends_with(":root") {
        PrincipalKind::Root
    } else if arn.contains(":assumed-role/") {
        PrincipalKind::AssumedRole
    } else {
        PrincipalKind::User
    };
    let name = arn.rsplit('/').next().unwrap_or("").to_string();
    Principal {
        kind,
        account,
        arn: arn.to_string(),
        user_id: "AIDAFUZZFUZZFUZZFUZZ".into(),
        name,
        role_arn: role_arn.filter(|r| !r.is_empty()).map(str::to_owned),
    }
}

/// Splits an input into the document text and the request.
pub fn split(input: &str) -> (&str, Request) {
    let (doc, rest) = input.split_once(SEPARATOR).unwrap_or((input, ""));
    let mut lines = rest.split('\n');
    let mut next = |default: &str| lines.next().map(str::to_owned).unwrap_or_else(|| default.to_owned());
    let action = next("kms:Encrypt");
    let resource = next("arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let principal_arn = next("arn:aws:iam::111111111111:user/myapp");
    let role_arn = next("");
    let principal = principal_from_arn(&principal_arn, Some(&role_arn));
    let mut caller = Caller::new(principal.clone(), "AKIAFUZZ".into(), "us-east-1".into(), "req".into());
    caller.source_ip = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)));
    caller.secure_transport = true;
    let tags = [("team".to_string(), "red".to_string())];
    let mut context = global_context(&caller, &tags, "2026-11-29T12:00:00Z", 1_795_953_600);
    for line in lines {
        match line.split_once('=') {
            Some((k, v)) => context.set_all(k, v.split('\t').map(str::to_owned).collect()),
            None => context.set_all(line, Vec::new()),
        };
    }
    (doc, Request { action, resource, principal, context })
}

pub fn run(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else { return };
    let (text, req) = split(input);
    let eval = EvalRequest { principal: &req.principal, action: &req.action, resource: &req.resource, context: &req.context };
    let _ = coffer_policy::arn_like(&req.resource, &req.principal.arn);
    for kind in [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Trust] {
        let Ok(doc) = PolicyDocument::parse(text, kind) else { continue };
        assert!(!doc.statements.is_empty());
        let _ = doc.aws_principals().count();
        let all_allow = doc.statements.iter().all(|s| s.effect == Effect::Allow);
        let all_deny = doc.statements.iter().all(|s| s.effect == Effect::Deny);

        let identity = evaluate_identity(&[&doc], &eval);
        assert_eq!(identity, evaluate_identity(&[&doc], &eval), "not deterministic");
        assert!(!(all_allow && identity == Decision::Deny), "allow-only document denies");
        assert!(!(all_deny && identity == Decision::Allow), "deny-only document allows");

        let resource = evaluate_resource(&doc, &eval);
        assert!(!(all_allow && resource.deny), "allow-only resource policy denies");
        assert!(!(all_deny && (resource.allow_direct || resource.allow_account)), "deny-only resource policy allows");

        let identity_docs = [Arc::new(doc.clone())];
        for (session, extra_allow, identity_suffices) in [(false, false, false), (true, true, true)] {
            let access = Access {
                request: eval,
                resource_policy: Some(&doc),
                resource_account: "111111111111",
                identity: &identity_docs,
                session_policy: session.then_some(&doc),
                extra_allow,
                identity_suffices,
            };
            let decision = decide(&access);
            if resource.deny || (req.principal.kind != PrincipalKind::Root && identity == Decision::Deny) {
                assert!(decision.is_err(), "allowed against an explicit deny");
            }
            if let Err(d) = decision {
                let _ = d.message(&req.principal.arn, &req.action, &req.resource);
            }
        }
    }
}
