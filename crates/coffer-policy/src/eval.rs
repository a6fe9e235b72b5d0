//! Policy evaluation: does a set of policy documents allow, deny, or not speak to a request?
//!
//! This module only answers questions about documents; combining the answers (key policy as the
//! root of authority, identity policies, grants, cross-account rules) is the caller's job — see
//! docs/policy.md.

use std::borrow::Cow;

use crate::context::Principal;
use crate::document::PolicyDocument;

/// Condition-key values of one request. Keys are case-insensitive (ASCII case folding, as
/// AWS's key names are ASCII); every key may hold several values (multi-valued keys such as
/// `kms:EncryptionContextKeys` or `aws:TagKeys`). Booleans are `"true"`/`"false"`, numbers and
/// dates their decimal / ISO 8601 text, binary values base64.
///
/// A request has a few dozen keys at most and each evaluation looks up a handful, so a vector
/// scanned with case-insensitive comparison beats a hash map here: no allocation per lookup.
///
/// Every authorized call builds one, so it is cheap to fill: key names are usually `'static`
/// (borrowed, not copied) and a single value needs no vector of its own.
#[derive(Clone, Debug, Default)]
pub struct Context {
    values: Vec<(Cow<'static, str>, Values)>,
}

#[derive(Clone, Debug)]
enum Values {
    One([String; 1]),
    Many(Vec<String>),
}

impl Values {
    fn as_slice(&self) -> &[String] {
        match self {
            Values::One(v) => v,
            Values::Many(v) => v,
        }
    }
}

impl Context {
    pub fn new() -> Context {
        Context { values: Vec::with_capacity(24) }
    }
    fn position(&self, key: &str) -> Option<usize> {
        self.values.iter().position(|(k, _)| k.eq_ignore_ascii_case(key))
    }
    fn put(&mut self, key: Cow<'static, str>, values: Values) -> &mut Self {
        match self.position(&key) {
            Some(i) => self.values[i].1 = values,
            None => self.values.push((key, values)),
        }
        self
    }
    /// Sets a single-valued key (replacing any earlier value).
    pub fn set(&mut self, key: impl Into<Cow<'static, str>>, value: impl Into<String>) -> &mut Self {
        self.put(key.into(), Values::One([value.into()]))
    }
    /// Sets a multi-valued key (an empty list means "present, with no values").
    pub fn set_all(&mut self, key: impl Into<Cow<'static, str>>, values: Vec<String>) -> &mut Self {
        self.put(key.into(), Values::Many(values))
    }
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.position(key).map(|i| self.values[i].1.as_slice())
    }
    pub fn remove(&mut self, key: &str) {
        if let Some(i) = self.position(key) {
            self.values.swap_remove(i);
        }
    }
}

/// One request as the evaluator sees it.
#[derive(Clone, Copy, Debug)]
pub struct EvalRequest<'a> {
    pub principal: &'a Principal,
    /// `service:Operation`, e.g. `kms:Encrypt`.
    pub action: &'a str,
    /// The resource ARN (or `*` for actions without a resource).
    pub resource: &'a str,
    pub context: &'a Context,
}

/// Result of evaluating identity-based policies (or any set where principals are implicit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// A matching Deny statement.
    Deny,
    /// A matching Allow statement and no matching Deny.
    Allow,
    /// No statement matched.
    NotApplicable,
}

/// Result of evaluating a resource-based policy (key policy, trust policy), which names
/// principals. An account principal (`"AWS": "111111111111"` or `arn:aws:iam::111111111111:root`)
/// allows *the account*: its principals then also need an identity-policy allow (the root user
/// has that implicitly). Any other matching principal (`*`, the user, the role, the session) is
/// allowed directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ResourceDecision {
    /// A matching Deny statement (for any principal form).
    pub deny: bool,
    /// A matching Allow statement naming the caller directly (or `*`).
    pub allow_direct: bool,
    /// A matching Allow statement naming the caller's account.
    pub allow_account: bool,
}

/// Evaluates identity-based policies: principals are implicit (the documents are attached to
/// the caller).
///
/// `Deny` if any statement with Effect Deny applies (Action / NotAction, Resource / NotResource
/// and every condition match), else `Allow` if any Allow statement applies, else
/// `NotApplicable`. Principal / NotPrincipal elements, if present, are ignored. Policy
/// variables are substituted only in documents with `"Version": "2012-10-17"`. Full rules in
/// docs/policy.md ("Evaluation").
pub fn evaluate_identity(docs: &[&PolicyDocument], req: &EvalRequest<'_>) -> Decision {
    crate::evaluate::identity(docs, req)
}

/// Evaluates a resource-based policy, matching each statement's Principal / NotPrincipal
/// against `req.principal`.
///
/// Only `"AWS"` principal entries can name our callers (`Service`, `Federated` and
/// `CanonicalUser` never match). `*` and `{"AWS": "*"}`, a user ARN equal to the caller's ARN, a
/// role ARN equal to the caller's `role_arn` (its sessions) and an assumed-role ARN equal to the
/// caller's ARN match directly; a 12-digit account id or `arn:aws:iam::<account>:root` matches
/// every principal of that account (including the root user) through the account. NotPrincipal
/// applies to every caller its list does not match in either way, and then counts as direct.
/// A statement without Resource (trust policies) applies to any resource. Full rules in
/// docs/policy.md ("Evaluation").
pub fn evaluate_resource(doc: &PolicyDocument, req: &EvalRequest<'_>) -> ResourceDecision {
    crate::evaluate::resource(doc, req)
}
