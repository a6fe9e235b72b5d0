//! Policy documents: parsing and validation.
//!
//! The grammar is IAM's (`Version`, `Id`, `Statement` with `Sid`, `Effect`, `Principal` /
//! `NotPrincipal`, `Action` / `NotAction`, `Resource` / `NotResource`, `Condition`). Single
//! strings and arrays are both accepted wherever IAM accepts both. Which elements are required
//! depends on where the document is attached ([`PolicyKind`]): a key policy or trust policy must
//! name principals, an identity policy must not.
//!
//! Errors say what is wrong and where ("Statement 2 (Sid "Admins"): ..."), because a user staring
//! at a rejected 5 KB key policy deserves better than "syntax error".

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Where a document is attached, which decides the required elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// Attached to an identity (user, role): no Principal.
    Identity,
    /// A resource policy such as a KMS key policy: Principal required, Resource required.
    Resource,
    /// A role trust policy: Principal required, Resource not allowed.
    Trust,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Principal` / `NotPrincipal` content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principals {
    /// `"*"`: everyone (including anonymous, where that exists).
    Any,
    /// `{"AWS": [...], "Service": [...], "Federated": [...], "CanonicalUser": [...]}`.
    Typed(BTreeMap<String, Vec<String>>),
}

/// A list that is either positive (`Action`) or negated (`NotAction`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Matcher {
    Is(Vec<String>),
    Not(Vec<String>),
}

/// Set qualifier of a condition operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetQualifier {
    ForAllValues,
    ForAnyValue,
}

/// One `operator: {key: values}` entry of a Condition block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// The operator as written, e.g. `ForAnyValue:StringLikeIfExists`.
    pub operator: String,
    /// The base operator, e.g. `StringLike`.
    pub base: String,
    pub if_exists: bool,
    pub set: Option<SetQualifier>,
    /// The condition key as written (keys compare case-insensitively).
    pub key: String,
    /// Values, JSON scalars rendered as strings.
    pub values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    /// `(principals, negated)`.
    pub principal: Option<(Principals, bool)>,
    pub action: Matcher,
    pub resource: Option<Matcher>,
    pub conditions: Vec<Condition>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyDocument {
    pub version: Option<String>,
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

/// A document that is not a valid policy; the message says what and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for PolicyError {}

/// Condition operators IAM knows, without `IfExists` and set qualifiers.
pub const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Null",
];

const VERSIONS: &[&str] = &["2012-10-17", "2008-10-17"];
const PRINCIPAL_TYPES: &[&str] = &["AWS", "Service", "Federated", "CanonicalUser"];

struct Where {
    index: usize,
    sid: Option<String>,
}

impl Where {
    fn err(&self, msg: impl AsRef<str>) -> PolicyError {
        match &self.sid {
            Some(s) => PolicyError(format!("Statement {} (Sid \"{s}\"): {}", self.index, msg.as_ref())),
            None => PolicyError(format!("Statement {}: {}", self.index, msg.as_ref())),
        }
    }
}

fn string_list(w: &Where, field: &str, v: &Value) -> Result<Vec<String>, PolicyError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => {
            if items.is_empty() {
                return Err(w.err(format!("{field} must not be an empty list")));
            }
            items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(w.err(format!("{field} must contain only strings"))),
                })
                .collect()
        }
        _ => Err(w.err(format!("{field} must be a string or a list of strings"))),
    }
}

fn scalar_list(w: &Where, what: &str, v: &Value) -> Result<Vec<String>, PolicyError> {
    let one = |x: &Value| match x {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(w.err(format!("condition values for {what} must be strings, numbers or booleans"))),
    };
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn is_valid_action(a: &str) -> bool {
    if a == "*" {
        return true;
    }
    match a.split_once(':') {
        Some((svc, name)) => {
            !svc.is_empty()
                && svc.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'?')
        }
        None => false,
    }
}

fn is_valid_resource(r: &str) -> bool {
    r == "*" || (r.starts_with("arn:") && r.split(':').count() >= 6) || r.starts_with("arn:*")
}

/// Splits `ForAnyValue:StringLikeIfExists` into its parts, or `None` if unknown.
pub fn parse_operator(op: &str) -> Option<(Option<SetQualifier>, &str, bool)> {
    let (set, rest) = if let Some(r) = op.strip_prefix("ForAllValues:") {
        (Some(SetQualifier::ForAllValues), r)
    } else if let Some(r) = op.strip_prefix("ForAnyValue:") {
        (Some(SetQualifier::ForAnyValue), r)
    } else {
        (None, op)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(b) if b != "Null" => (b, true),
        _ => (rest, false),
    };
    OPERATORS.iter().find(|o| **o == base).map(|o| (set, *o, if_exists))
}

fn parse_principal(w: &Where, field: &str, v: &Value) -> Result<Principals, PolicyError> {
    match v {
        Value::String(s) if s == "*" => Ok(Principals::Any),
        Value::Object(m) => {
            if m.is_empty() {
                return Err(w.err(format!("{field} must not be empty")));
            }
            let mut out = BTreeMap::new();
            for (k, v) in m {
                if !PRINCIPAL_TYPES.contains(&k.as_str()) {
                    return Err(w.err(format!(
                        "{field} has an unknown principal type \"{k}\" (expected one of AWS, Service, Federated, CanonicalUser)"
                    )));
                }
                let list = string_list(w, &format!("{field}.{k}"), v)?;
                if k == "AWS" {
                    for p in &list {
                        if !is_valid_aws_principal(p) {
                            return Err(w.err(format!("{field} contains an invalid AWS principal \"{p}\"")));
                        }
                    }
                }
                out.insert(k.clone(), list);
            }
            Ok(Principals::Typed(out))
        }
        _ => Err(w.err(format!("{field} must be \"*\" or an object such as {{\"AWS\": [...]}}"))),
    }
}

/// Syntactic validity of an `AWS` principal: `*`, a 12-digit account id, or an IAM/STS ARN.
pub fn is_valid_aws_principal(p: &str) -> bool {
    if p == "*" || (p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit())) {
        return true;
    }
    let parts: Vec<&str> = p.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[1].is_empty() || !parts[3].is_empty() {
        return false;
    }
    let acct_ok = parts[4].len() == 12 && parts[4].bytes().all(|b| b.is_ascii_digit());
    match parts[2] {
        "iam" => {
            acct_ok
                && (parts[5] == "root"
                    || parts[5].strip_prefix("user/").is_some_and(|n| !n.is_empty())
                    || parts[5].strip_prefix("role/").is_some_and(|n| !n.is_empty())
                    || parts[5].strip_prefix("group/").is_some_and(|n| !n.is_empty()))
        }
        "sts" => acct_ok && parts[5].strip_prefix("assumed-role/").is_some_and(|n| n.contains('/')),
        _ => false,
    }
}

fn parse_matcher(
    w: &Where,
    obj: &Map<String, Value>,
    pos: &str,
    neg: &str,
    valid: fn(&str) -> bool,
    what: &str,
) -> Result<Option<Matcher>, PolicyError> {
    match (obj.get(pos), obj.get(neg)) {
        (Some(_), Some(_)) => Err(w.err(format!("{pos} and {neg} must not both be present"))),
        (Some(v), None) | (None, Some(v)) => {
            let negated = obj.get(neg).is_some();
            let field = if negated { neg } else { pos };
            let list = string_list(w, field, v)?;
            for item in &list {
                if !valid(item) {
                    return Err(w.err(format!("{field} contains an invalid {what} \"{item}\"")));
                }
            }
            Ok(Some(if negated { Matcher::Not(list) } else { Matcher::Is(list) }))
        }
        (None, None) => Ok(None),
    }
}

fn parse_conditions(w: &Where, v: &Value) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(ops) = v else {
        return Err(w.err("Condition must be an object of operator to {key: values}"));
    };
    let mut out = Vec::new();
    for (op, block) in ops {
        let Some((set, base, if_exists)) = parse_operator(op) else {
            return Err(w.err(format!("Condition has an unknown operator \"{op}\"")));
        };
        let Value::Object(keys) = block else {
            return Err(w.err(format!("Condition operator {op} must map condition keys to values")));
        };
        if keys.is_empty() {
            return Err(w.err(format!("Condition operator {op} has no condition keys")));
        }
        for (key, vals) in keys {
            if key.is_empty() {
                return Err(w.err(format!("Condition operator {op} has an empty condition key")));
            }
            let values = scalar_list(w, &format!("{op} {key}"), vals)?;
            out.push(Condition {
                operator: op.clone(),
                base: base.to_string(),
                if_exists,
                set,
                key: key.clone(),
                values,
            });
        }
    }
    Ok(out)
}

const STATEMENT_FIELDS: &[&str] =
    &["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"];

fn parse_statement(index: usize, kind: PolicyKind, v: &Value) -> Result<Statement, PolicyError> {
    let mut w = Where { index, sid: None };
    let Value::Object(obj) = v else {
        return Err(w.err("a statement must be a JSON object"));
    };
    let sid = match obj.get("Sid") {
        None => None,
        Some(Value::String(s)) => {
            if !s.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
                return Err(w.err("Sid must contain only printable ASCII characters"));
            }
            Some(s.clone())
        }
        Some(_) => return Err(w.err("Sid must be a string")),
    };
    w.sid = sid.clone();
    if let Some(unknown) = obj.keys().find(|k| !STATEMENT_FIELDS.contains(&k.as_str())) {
        return Err(w.err(format!("unknown field \"{unknown}\"")));
    }
    let effect = match obj.get("Effect") {
        Some(Value::String(s)) if s == "Allow" => Effect::Allow,
        Some(Value::String(s)) if s == "Deny" => Effect::Deny,
        Some(other) => return Err(w.err(format!("Effect must be \"Allow\" or \"Deny\", not {other}"))),
        None => return Err(w.err("missing required field Effect")),
    };
    let principal = match (obj.get("Principal"), obj.get("NotPrincipal")) {
        (Some(_), Some(_)) => return Err(w.err("Principal and NotPrincipal must not both be present")),
        (Some(p), None) => Some((parse_principal(&w, "Principal", p)?, false)),
        (None, Some(p)) => Some((parse_principal(&w, "NotPrincipal", p)?, true)),
        (None, None) => None,
    };
    match (kind, &principal) {
        (PolicyKind::Identity, Some(_)) => {
            return Err(w.err("an identity-based policy must not specify a Principal or NotPrincipal"));
        }
        (PolicyKind::Resource | PolicyKind::Trust, None) => {
            return Err(w.err("missing required field Principal"));
        }
        _ => {}
    }
    let action = parse_matcher(&w, obj, "Action", "NotAction", is_valid_action, "action")?
        .ok_or_else(|| w.err("missing required field Action"))?;
    let resource = parse_matcher(&w, obj, "Resource", "NotResource", is_valid_resource, "resource")?;
    match (kind, &resource) {
        (PolicyKind::Identity | PolicyKind::Resource, None) => {
            return Err(w.err("missing required field Resource"));
        }
        (PolicyKind::Trust, Some(_)) => {
            return Err(w.err("a trust policy must not specify a Resource or NotResource"));
        }
        _ => {}
    }
    let conditions = match obj.get("Condition") {
        Some(c) => parse_conditions(&w, c)?,
        None => Vec::new(),
    };
    Ok(Statement { sid, effect, principal, action, resource, conditions })
}

impl PolicyDocument {
    /// Parses and validates a policy document of the given kind.
    pub fn parse(text: &str, kind: PolicyKind) -> Result<PolicyDocument, PolicyError> {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            PolicyError(format!("the policy is not valid JSON: {e} (line {}, column {})", e.line(), e.column()))
        })?;
        let Value::Object(top) = v else {
            return Err(PolicyError("the policy must be a JSON object".into()));
        };
        if let Some(unknown) = top.keys().find(|k| !["Version", "Id", "Statement"].contains(&k.as_str())) {
            return Err(PolicyError(format!("unknown top-level field \"{unknown}\"")));
        }
        let version = match top.get("Version") {
            None => None,
            Some(Value::String(s)) if VERSIONS.contains(&s.as_str()) => Some(s.clone()),
            Some(other) => {
                return Err(PolicyError(format!(
                    "Version must be \"2012-10-17\" or \"2008-10-17\", not {other}"
                )));
            }
        };
        let id = match top.get("Id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(PolicyError("Id must be a string".into())),
        };
        let raw: Vec<&Value> = match top.get("Statement") {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(obj @ Value::Object(_)) => vec![obj],
            Some(_) => return Err(PolicyError("Statement must be an object or a list of objects".into())),
            None => return Err(PolicyError("missing required field Statement".into())),
        };
        if raw.is_empty() {
            return Err(PolicyError("Statement must contain at least one statement".into()));
        }
        let mut statements = Vec::with_capacity(raw.len());
        for (i, s) in raw.into_iter().enumerate() {
            statements.push(parse_statement(i + 1, kind, s)?);
        }
        let mut sids: Vec<&str> = statements.iter().filter_map(|s| s.sid.as_deref()).filter(|s| !s.is_empty()).collect();
        sids.sort_unstable();
        if let Some(d) = sids.windows(2).find(|p| p[0] == p[1]) {
            return Err(PolicyError(format!("statement ids (Sid) must be unique; \"{}\" appears twice", d[0])));
        }
        Ok(PolicyDocument { version, id, statements })
    }

    /// Every `AWS` principal named in Principal or NotPrincipal elements.
    pub fn aws_principals(&self) -> impl Iterator<Item = &str> {
        self.statements.iter().filter_map(|s| s.principal.as_ref()).flat_map(|(p, _)| match p {
            Principals::Any => Vec::new(),
            Principals::Typed(m) => m.get("AWS").map(|v| v.iter().map(String::as_str).collect()).unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed document's key policy, verbatim statements.
    const SEED: &str = r#"{
      "Version": "2012-10-17",
      "Id": "key-consolepolicy-3",
      "Statement": [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::111111111111:root" },
            "Action": "kms:*",
            "Resource": "*"
        },
        {
            "Sid": "Allow access for Key Administrators",
            "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::111111111111:user/myapp" },
            "Action": ["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*",
                       "kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource",
                       "kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion"],
            "Resource": "*"
        },
        {
            "Sid": "Allow use of the key",
            "Effect": "Allow",
            "Principal": { "AWS": [
                "arn:aws:iam::111111111111:user/myapp",
                "arn:aws:iam::111111111111:role/myapprole",
                "arn:aws:iam::222222222222:root" ] },
            "Action": ["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],
            "Resource": "*"
        },
        {
            "Sid": "Allow attachment of persistent resources",
            "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::111111111111:user/myapp" },
            "Action": ["kms:CreateGrant","kms:ListGrants","kms:RevokeGrant"],
            "Resource": "*",
            "Condition": { "Bool": { "kms:GrantIsForAWSResource": "true" } }
        }
      ]
    }"#;

    #[test]
    fn seed_policy_parses() {
        let d = PolicyDocument::parse(SEED, PolicyKind::Resource).unwrap();
        assert_eq!(d.statements.len(), 4);
        assert_eq!(d.statements[3].conditions[0].base, "Bool");
        assert_eq!(d.aws_principals().count(), 6);
        assert!(matches!(&d.statements[2].action, Matcher::Is(a) if a.len() == 5));
    }

    fn err(doc: &str, kind: PolicyKind) -> String {
        PolicyDocument::parse(doc, kind).unwrap_err().0
    }

    #[test]
    fn rejections_say_where() {
        let table: &[(&str, PolicyKind, &str)] = &[
            ("{", PolicyKind::Resource, "not valid JSON"),
            ("[]", PolicyKind::Resource, "must be a JSON object"),
            (r#"{"Statement": []}"#, PolicyKind::Resource, "at least one statement"),
            (r#"{"Version":"2020-01-01","Statement":{}}"#, PolicyKind::Resource, "Version must be"),
            (r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#, PolicyKind::Resource, "Statement 1: missing required field Principal"),
            (r#"{"Statement":{"Sid":"x","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#, PolicyKind::Identity, "Statement 1 (Sid \"x\"): an identity-based policy must not"),
            (r#"{"Statement":{"Effect":"Permit","Principal":"*","Action":"kms:*","Resource":"*"}}"#, PolicyKind::Resource, "Effect must be"),
            (r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms","Resource":"*"}}"#, PolicyKind::Resource, "invalid action \"kms\""),
            (r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"kms:*","Resource":"*"}}"#, PolicyKind::Resource, "invalid AWS principal \"bob\""),
            (r#"{"Statement":{"Effect":"Allow","Principal":{"Aws":"*"},"Action":"kms:*","Resource":"*"}}"#, PolicyKind::Resource, "unknown principal type"),
            (r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEqual":{"a":"b"}}}}"#, PolicyKind::Resource, "unknown operator \"StringEqual\""),
            (r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Extra":1}}"#, PolicyKind::Resource, "unknown field \"Extra\""),
            (r#"{"Statement":[{"Sid":"a","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},{"Sid":"a","Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*"}]}"#, PolicyKind::Resource, "unique"),
            (r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole","Resource":"*"}}"#, PolicyKind::Trust, "must not specify a Resource"),
            (r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","NotAction":"kms:X","Resource":"*"}}"#, PolicyKind::Resource, "must not both be present"),
        ];
        for (doc, kind, want) in table {
            let e = err(doc, *kind);
            assert!(e.contains(want), "{doc}: got {e:?}, want {want:?}");
        }
    }

    #[test]
    fn operators() {
        assert_eq!(parse_operator("ForAnyValue:StringLikeIfExists"), Some((Some(SetQualifier::ForAnyValue), "StringLike", true)));
        assert_eq!(parse_operator("Null"), Some((None, "Null", false)));
        assert_eq!(parse_operator("NullIfExists"), None);
        assert_eq!(parse_operator("Bogus"), None);
        let d = PolicyDocument::parse(
            r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"aws:EpochTime":[5, "6"]},"Bool":{"aws:SecureTransport":false}}}}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        let c = &d.statements[0].conditions;
        assert_eq!(c.len(), 2);
        assert!(c.iter().any(|c| c.values == ["false"]));
        assert!(c.iter().any(|c| c.values == ["5", "6"]));
    }

    #[test]
    fn principals() {
        for ok in ["*", "111111111111", "arn:aws:iam::111111111111:root", "arn:aws:iam::111111111111:user/a/b", "arn:aws:sts::111111111111:assumed-role/r/s"] {
            assert!(is_valid_aws_principal(ok), "{ok}");
        }
        for bad in ["", "11111111111", "arn:aws:iam::11:root", "arn:aws:iam::111111111111:user/", "arn:aws:s3:::b", "arn:aws:iam:us-east-1:111111111111:root"] {
            assert!(!is_valid_aws_principal(bad), "{bad}");
        }
    }
}
