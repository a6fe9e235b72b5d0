//! Statement evaluation: which statements of a document apply to a request, and what that means
//! for identity-based and resource-based documents.
//!
//! A statement applies when its action list, its resource list and every one of its conditions
//! match the request (and, in a resource-based document, its principal list matches the caller).
//! The cheap checks run first — action, then principal, then resource, then conditions — and
//! evaluation stops as soon as the answer can no longer change (an explicit Deny in identity
//! policies), because this runs on every KMS request.
//!
//! Operators live in [`crate::conditions`], wildcards in [`crate::matching`], `${...}` in
//! [`crate::variables`].

use crate::conditions;
use crate::context::Principal;
use crate::document::{Effect, Matcher, PolicyDocument, Principals, Statement};
use crate::eval::{Decision, EvalRequest, ResourceDecision};
use crate::matching::action_match;
use crate::variables::expand;

/// The only version with policy variables; older documents treat `${...}` as text.
const VARIABLES_VERSION: &str = "2012-10-17";

fn variables_enabled(doc: &PolicyDocument) -> bool {
    doc.version.as_deref() == Some(VARIABLES_VERSION)
}

pub(crate) fn identity(docs: &[&PolicyDocument], req: &EvalRequest<'_>) -> Decision {
    let mut allowed = false;
    for doc in docs {
        let vars = variables_enabled(doc);
        for st in &doc.statements {
            // Once allowed, only a Deny can change the answer.
            if allowed && st.effect == Effect::Allow {
                continue;
            }
            if action_matches(st, req.action) && resource_and_conditions_match(st, req, vars) {
                match st.effect {
                    Effect::Deny => return Decision::Deny,
                    Effect::Allow => allowed = true,
                }
            }
        }
    }
    if allowed { Decision::Allow } else { Decision::NotApplicable }
}

pub(crate) fn resource(doc: &PolicyDocument, req: &EvalRequest<'_>) -> ResourceDecision {
    let vars = variables_enabled(doc);
    let mut out = ResourceDecision::default();
    for st in &doc.statements {
        if !action_matches(st, req.action) {
            continue;
        }
        let m = principal_match(st, req.principal);
        if !m.direct && !m.account {
            continue;
        }
        let useful = match st.effect {
            Effect::Deny => !out.deny,
            Effect::Allow => (m.direct && !out.allow_direct) || (m.account && !out.allow_account),
        };
        if !useful || !resource_and_conditions_match(st, req, vars) {
            continue;
        }
        match st.effect {
            Effect::Deny => out.deny = true,
            Effect::Allow => {
                out.allow_direct |= m.direct;
                out.allow_account |= m.account;
            }
        }
    }
    out
}

fn action_matches(st: &Statement, action: &str) -> bool {
    match &st.action {
        Matcher::Is(list) => list.iter().any(|p| action_match(p, action)),
        Matcher::Not(list) => !list.iter().any(|p| action_match(p, action)),
    }
}

fn resource_and_conditions_match(st: &Statement, req: &EvalRequest<'_>, vars: bool) -> bool {
    let resource_ok = match &st.resource {
        // Trust policies have no Resource: the statement is about the role itself.
        None => true,
        Some(Matcher::Is(list)) => list.iter().any(|p| resource_match(p, req, vars)),
        Some(Matcher::Not(list)) => !list.iter().any(|p| resource_match(p, req, vars)),
    };
    resource_ok && st.conditions.iter().all(|c| conditions::holds(c, req.context, vars))
}

/// One `Resource` entry: case-sensitive glob after variable substitution; an entry with an
/// unresolvable variable matches nothing.
fn resource_match(pattern: &str, req: &EvalRequest<'_>, vars: bool) -> bool {
    if pattern == "*" {
        return true;
    }
    expand(pattern, req.context, vars).is_some_and(|e| e.glob(req.resource))
}

/// How a statement's Principal / NotPrincipal element matches the caller.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct PrincipalMatch {
    /// Named directly: `*`, the user, the role (for its sessions), the session; or, for
    /// NotPrincipal, not named at all.
    direct: bool,
    /// Named through the account (`111111111111` or `arn:aws:iam::111111111111:root`).
    account: bool,
}

fn principal_match(st: &Statement, p: &Principal) -> PrincipalMatch {
    match &st.principal {
        // A statement without Principal names nobody (cannot happen for parsed resource or
        // trust documents); it must not grant or deny anything here.
        None => PrincipalMatch::default(),
        Some((list, false)) => named(list, p),
        Some((list, true)) => {
            let m = named(list, p);
            PrincipalMatch { direct: !m.direct && !m.account, account: false }
        }
    }
}

/// Does the principal list name the caller, and how?
fn named(list: &Principals, p: &Principal) -> PrincipalMatch {
    let mut m = PrincipalMatch::default();
    match list {
        Principals::Any => m.direct = true,
        Principals::Typed(map) => {
            // Service, Federated and CanonicalUser principals are never our callers, who are
            // all IAM identities (root, users, role sessions).
            for entry in map.get("AWS").into_iter().flatten() {
                match aws_entry(entry, p) {
                    Some(Via::Direct) => m.direct = true,
                    Some(Via::Account) => m.account = true,
                    None => {}
                }
            }
        }
    }
    m
}

enum Via {
    Direct,
    Account,
}

/// One `"AWS"` principal entry against the caller. ARNs are compared exactly (IAM principals
/// take no wildcards other than a lone `*`).
fn aws_entry(entry: &str, p: &Principal) -> Option<Via> {
    if entry == "*" {
        return Some(Via::Direct);
    }
    if entry.len() == 12 && entry.bytes().all(|b| b.is_ascii_digit()) {
        return (entry == p.account).then_some(Via::Account);
    }
    let mut parts = entry.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(""), Some(account), Some(resource)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    match (service, resource) {
        ("iam", "root") => {
            let caller_partition = p.arn.split(':').nth(1);
            (account == p.account && caller_partition == Some(partition)).then_some(Via::Account)
        }
        ("iam", r) if r.starts_with("user/") => (p.arn == entry).then_some(Via::Direct),
        ("iam", r) if r.starts_with("role/") => {
            (p.role_arn.as_deref() == Some(entry) || p.arn == entry).then_some(Via::Direct)
        }
        ("sts", r) if r.starts_with("assumed-role/") => (p.arn == entry).then_some(Via::Direct),
        // Groups (and anything else) are not principals.
        _ => None,
    }
}
