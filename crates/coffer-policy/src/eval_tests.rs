//! Table-driven tests of document evaluation: (documents, principal, action, resource, context)
//! → decision. Two tables: `CASES` (whole documents: actions, resources, principals, variables,
//! Deny precedence, the seed key policy) and `CONDITIONS` (one Condition block each, wrapped
//! into an identity policy and checked both as an Allow and as a Deny).

use crate::context::{Principal, PrincipalKind};
use crate::document::{PolicyDocument, PolicyKind};
use crate::eval::{Context, Decision, EvalRequest, ResourceDecision, evaluate_identity, evaluate_resource};

type Ctx = &'static [(&'static str, &'static [&'static str])];

/// Canned callers.
#[derive(Clone, Copy, Debug)]
enum Who {
    /// `arn:aws:iam::111111111111:root`.
    Root1,
    /// IAM user `myapp` in 111111111111.
    MyApp,
    /// IAM user `div/alice` (with a path) in 111111111111.
    Alice,
    /// Session `s1` of role `myapprole` in 111111111111.
    Session,
    /// Session `s9` of role `other` in 111111111111.
    OtherSession,
    /// `arn:aws:iam::222222222222:root`.
    Root2,
    /// IAM user `bob` in 222222222222.
    Bob2,
    /// Session `s2` of role `r2` in 222222222222.
    Session2,
    /// `arn:aws:iam::333333333333:root`.
    Root3,
}

fn user(account: &str, path_name: &str, name: &str) -> Principal {
    Principal {
        kind: PrincipalKind::User,
        account: account.into(),
        arn: format!("arn:aws:iam::{account}:user/{path_name}"),
        user_id: format!("AIDA{}", name.to_ascii_uppercase()),
        name: name.into(),
        role_arn: None,
    }
}

fn session(account: &str, role: &str, name: &str) -> Principal {
    Principal {
        kind: PrincipalKind::AssumedRole,
        account: account.into(),
        arn: format!("arn:aws:sts::{account}:assumed-role/{role}/{name}"),
        user_id: format!("AROA{}:{name}", role.to_ascii_uppercase()),
        name: name.into(),
        role_arn: Some(format!("arn:aws:iam::{account}:role/{role}")),
    }
}

impl Who {
    fn principal(self) -> Principal {
        match self {
            Who::Root1 => Principal::root("111111111111"),
            Who::MyApp => user("111111111111", "myapp", "myapp"),
            Who::Alice => user("111111111111", "div/alice", "alice"),
            Who::Session => session("111111111111", "myapprole", "s1"),
            Who::OtherSession => session("111111111111", "other", "s9"),
            Who::Root2 => Principal::root("222222222222"),
            Who::Bob2 => user("222222222222", "bob", "bob"),
            Who::Session2 => session("222222222222", "r2", "s2"),
            Who::Root3 => Principal::root("333333333333"),
        }
    }
}

/// Expected outcome; the variant also picks the evaluator (identity vs resource).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Allow,
    Deny,
    NotApplicable,
    Resource(ResourceDecision),
}

const fn res(deny: bool, allow_direct: bool, allow_account: bool) -> Want {
    Want::Resource(ResourceDecision { deny, allow_direct, allow_account })
}
const NONE: Want = res(false, false, false);
const DIRECT: Want = res(false, true, false);
const ACCOUNT: Want = res(false, false, true);
const BOTH: Want = res(false, true, true);
const DENY: Want = res(true, false, false);

struct Case {
    name: &'static str,
    /// One or more documents (identity evaluation takes them as a set).
    docs: &'static [&'static str],
    who: Who,
    action: &'static str,
    resource: &'static str,
    ctx: Ctx,
    want: Want,
}

/// Parses as whatever kind the document is (identity, resource, trust).
fn parse_any(text: &str) -> PolicyDocument {
    [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Trust]
        .iter()
        .find_map(|k| PolicyDocument::parse(text, *k).ok())
        .unwrap_or_else(|| panic!("test policy does not parse: {text}"))
}

fn context(pairs: Ctx) -> Context {
    let mut c = Context::new();
    for (k, vs) in pairs {
        c.set_all(*k, vs.iter().map(|v| v.to_string()).collect());
    }
    c
}

fn run(docs: &[PolicyDocument], who: Who, action: &str, resource: &str, ctx: &Context, resource_eval: bool) -> Want {
    let principal = who.principal();
    let req = EvalRequest { principal: &principal, action, resource, context: ctx };
    if resource_eval {
        assert_eq!(docs.len(), 1, "a resource evaluation takes one document");
        Want::Resource(evaluate_resource(&docs[0], &req))
    } else {
        let refs: Vec<&PolicyDocument> = docs.iter().collect();
        match evaluate_identity(&refs, &req) {
            Decision::Allow => Want::Allow,
            Decision::Deny => Want::Deny,
            Decision::NotApplicable => Want::NotApplicable,
        }
    }
}

const KEY: &str = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";

const SEED: &str = r#"{"Version":"2012-10-17","Id":"key-consolepolicy-3","Statement":[
 {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:*","Resource":"*"},
 {"Sid":"Allow access for Key Administrators","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/myapp"},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion"],"Resource":"*"},
 {"Sid":"Allow use of the key","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:user/myapp","arn:aws:iam::111111111111:role/myapprole","arn:aws:iam::222222222222:root"]},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"},
 {"Sid":"Allow attachment of persistent resources","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/myapp"},"Action":["kms:CreateGrant","kms:ListGrants","kms:RevokeGrant"],"Resource":"*","Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}}]}"#;

/// The seed policy without its "Key Administrators" statement, whose `kms:Create*`, `kms:List*`
/// and `kms:Revoke*` would otherwise allow the grant actions unconditionally.
const SEED_NO_ADMINS: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:*","Resource":"*"},
 {"Sid":"Allow use of the key","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:user/myapp","arn:aws:iam::111111111111:role/myapprole","arn:aws:iam::222222222222:root"]},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"},
 {"Sid":"Allow attachment of persistent resources","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/myapp"},"Action":["kms:CreateGrant","kms:ListGrants","kms:RevokeGrant"],"Resource":"*","Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}}]}"#;

const ALLOW_KMS_ALL: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#;

const CASES: &[Case] = &[
    // ---- Action / NotAction -------------------------------------------------------------
    Case { name: "action kms:* allows kms:Encrypt", docs: &[ALLOW_KMS_ALL], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::Allow },
    Case { name: "action kms:* does not cover iam", docs: &[ALLOW_KMS_ALL], who: Who::MyApp, action: "iam:CreateUser", resource: "*", ctx: &[], want: Want::NotApplicable },
    Case { name: "action * covers every service", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#], who: Who::MyApp, action: "iam:CreateUser", resource: "*", ctx: &[], want: Want::Allow },
    Case { name: "action match is case-insensitive (policy side)", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"KMS:ENCRYPT","Resource":"*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::Allow },
    Case { name: "action match is case-insensitive (request side)", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"kms:Create*","Resource":"*"}}"#], who: Who::MyApp, action: "KMS:createkey", resource: "*", ctx: &[], want: Want::Allow },
    Case { name: "action ? matches exactly one character", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"kms:?ncrypt","Resource":"*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::Allow },
    Case { name: "action ? does not match zero characters", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"kms:?Encrypt","Resource":"*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::NotApplicable },
    Case { name: "action prefix glob does not match other names", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"kms:Create*","Resource":"*"}}"#], who: Who::MyApp, action: "kms:DescribeKey", resource: KEY, ctx: &[], want: Want::NotApplicable },
    Case { name: "action without wildcard must match whole name", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}}"#], who: Who::MyApp, action: "kms:EncryptMore", resource: KEY, ctx: &[], want: Want::NotApplicable },
    Case { name: "NotAction matches unlisted actions", docs: &[r#"{"Statement":{"Effect":"Allow","NotAction":"kms:Decrypt","Resource":"*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::Allow },
    Case { name: "NotAction excludes listed actions", docs: &[r#"{"Statement":{"Effect":"Allow","NotAction":["kms:Decrypt","kms:Sign"],"Resource":"*"}}"#], who: Who::MyApp, action: "kms:Decrypt", resource: KEY, ctx: &[], want: Want::NotApplicable },
    Case { name: "NotAction is case-insensitive", docs: &[r#"{"Statement":{"Effect":"Allow","NotAction":"KMS:DECRYPT","Resource":"*"}}"#], who: Who::MyApp, action: "kms:Decrypt", resource: KEY, ctx: &[], want: Want::NotApplicable },
    Case { name: "NotAction with service wildcard covers other services", docs: &[r#"{"Statement":{"Effect":"Allow","NotAction":"kms:*","Resource":"*"}}"#], who: Who::MyApp, action: "iam:GetUser", resource: "*", ctx: &[], want: Want::Allow },
    Case { name: "Deny NotAction denies everything else", docs: &[ALLOW_KMS_ALL, r#"{"Statement":{"Effect":"Deny","NotAction":"kms:Describe*","Resource":"*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::Deny },
    Case { name: "Deny NotAction spares listed actions", docs: &[ALLOW_KMS_ALL, r#"{"Statement":{"Effect":"Deny","NotAction":"kms:Describe*","Resource":"*"}}"#], who: Who::MyApp, action: "kms:DescribeKey", resource: KEY, ctx: &[], want: Want::Allow },
    // ---- Resource / NotResource ---------------------------------------------------------
    Case { name: "resource exact ARN", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::Allow },
    Case { name: "resource other key", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:us-east-1:111111111111:key/other"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::NotApplicable },
    Case { name: "resource key/* wildcard", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:*:111111111111:key/*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::Allow },
    Case { name: "resource wildcard is account-specific", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:*:222222222222:key/*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::NotApplicable },
    Case { name: "resource * spans colons and slashes", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"arn:*:key/*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::Allow },
    Case { name: "resource ? is one character", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:us-east-?:111111111111:key/*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::Allow },
    Case { name: "resource match is case-sensitive", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:US-EAST-1:111111111111:key/*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::NotApplicable },
    Case { name: "resource ARN pattern does not match resource *", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:*:111111111111:key/*"}}"#], who: Who::MyApp, action: "kms:CreateKey", resource: "*", ctx: &[], want: Want::NotApplicable },
    Case { name: "resource list is OR", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":["arn:aws:kms:*:111111111111:alias/*","arn:aws:kms:*:111111111111:key/*"]}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::Allow },
    Case { name: "NotResource matches other resources", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"kms:*","NotResource":"arn:aws:kms:*:111111111111:alias/*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::Allow },
    Case { name: "NotResource excludes listed resources", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"kms:*","NotResource":["arn:aws:kms:*:111111111111:alias/*","arn:aws:kms:*:111111111111:key/*"]}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::NotApplicable },
    // ---- Deny precedence ----------------------------------------------------------------
    Case { name: "explicit Deny overrides Allow in one document", docs: &[r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}"#], who: Who::MyApp, action: "kms:Decrypt", resource: KEY, ctx: &[], want: Want::Deny },
    Case { name: "explicit Deny overrides Allow across documents", docs: &[r#"{"Statement":{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}}"#, ALLOW_KMS_ALL], who: Who::MyApp, action: "kms:Decrypt", resource: KEY, ctx: &[], want: Want::Deny },
    Case { name: "Deny for another action leaves Allow", docs: &[r#"{"Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}]}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::Allow },
    Case { name: "Deny alone is Deny", docs: &[r#"{"Statement":{"Effect":"Deny","Action":"kms:*","Resource":"*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::Deny },
    Case { name: "Deny with failing condition does not apply", docs: &[ALLOW_KMS_ALL, r#"{"Statement":{"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[("aws:SecureTransport", &["true"])], want: Want::Allow },
    Case { name: "Deny with holding condition applies", docs: &[ALLOW_KMS_ALL, r#"{"Statement":{"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[("aws:SecureTransport", &["false"])], want: Want::Deny },
    Case { name: "no documents is NotApplicable", docs: &[], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::NotApplicable },
    Case { name: "identity evaluation ignores Principal", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"kms:*","Resource":"*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: Want::Allow },
    // ---- Policy variables in Resource ---------------------------------------------------
    Case { name: "variable aws:username in resource", docs: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/${aws:username}/*"}}"#], who: Who::MyApp, action: "s3:GetObject", resource: "arn:aws:s3:::bucket/myapp/doc", ctx: &[("aws:username", &["myapp"])], want: Want::Allow },
    Case { name: "variable aws:username is not someone else", docs: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/${aws:username}/*"}}"#], who: Who::MyApp, action: "s3:GetObject", resource: "arn:aws:s3:::bucket/bob/doc", ctx: &[("aws:username", &["myapp"])], want: Want::NotApplicable },
    Case { name: "missing variable key matches nothing", docs: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/${aws:username}*"}}"#], who: Who::Session, action: "s3:GetObject", resource: "arn:aws:s3:::bucket/anything", ctx: &[], want: Want::NotApplicable },
    Case { name: "variable default used when key missing", docs: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/${aws:PrincipalTag/team, 'shared'}/*"}}"#], who: Who::MyApp, action: "s3:GetObject", resource: "arn:aws:s3:::bucket/shared/doc", ctx: &[], want: Want::Allow },
    Case { name: "variable default ignored when key present", docs: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/${aws:PrincipalTag/team, 'shared'}/*"}}"#], who: Who::MyApp, action: "s3:GetObject", resource: "arn:aws:s3:::bucket/shared/doc", ctx: &[("aws:PrincipalTag/team", &["red"])], want: Want::NotApplicable },
    Case { name: "variable aws:PrincipalAccount in resource", docs: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"arn:aws:kms:*:${aws:PrincipalAccount}:key/*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[("aws:PrincipalAccount", &["111111111111"])], want: Want::Allow },
    Case { name: "${*} is a literal star, not a wildcard", docs: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/${*}"}}"#], who: Who::MyApp, action: "s3:GetObject", resource: "arn:aws:s3:::bucket/doc", ctx: &[], want: Want::NotApplicable },
    Case { name: "${*} matches a literal star", docs: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/${*}"}}"#], who: Who::MyApp, action: "s3:GetObject", resource: "arn:aws:s3:::bucket/*", ctx: &[], want: Want::Allow },
    Case { name: "${?} and ${$} are literals", docs: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/${?}${$}"}}"#], who: Who::MyApp, action: "s3:GetObject", resource: "arn:aws:s3:::bucket/?$", ctx: &[], want: Want::Allow },
    Case { name: "${?} does not match any character", docs: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/${?}"}}"#], who: Who::MyApp, action: "s3:GetObject", resource: "arn:aws:s3:::bucket/x", ctx: &[], want: Want::NotApplicable },
    Case { name: "substituted value containing * is literal", docs: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/${aws:PrincipalTag/team}"}}"#], who: Who::MyApp, action: "s3:GetObject", resource: "arn:aws:s3:::bucket/anything", ctx: &[("aws:PrincipalTag/team", &["*"])], want: Want::NotApplicable },
    Case { name: "version 2008: variables are literal text", docs: &[r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/${aws:username}"}}"#], who: Who::MyApp, action: "s3:GetObject", resource: "arn:aws:s3:::bucket/myapp", ctx: &[("aws:username", &["myapp"])], want: Want::NotApplicable },
    Case { name: "version 2008: literal ${...} text matches itself", docs: &[r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/${aws:username}"}}"#], who: Who::MyApp, action: "s3:GetObject", resource: "arn:aws:s3:::bucket/${aws:username}", ctx: &[("aws:username", &["myapp"])], want: Want::Allow },
    Case { name: "no Version: variables are literal text", docs: &[r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/${aws:username}"}}"#], who: Who::MyApp, action: "s3:GetObject", resource: "arn:aws:s3:::bucket/myapp", ctx: &[("aws:username", &["myapp"])], want: Want::NotApplicable },
    Case { name: "version 2008: condition values are literal", docs: &[r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/owner":"${aws:username}"}}}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[("aws:username", &["myapp"]), ("aws:PrincipalTag/owner", &["myapp"])], want: Want::NotApplicable },
    Case { name: "NotResource with variable excludes own prefix", docs: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","NotResource":"arn:aws:s3:::bucket/${aws:username}/*"}}"#], who: Who::MyApp, action: "s3:GetObject", resource: "arn:aws:s3:::bucket/myapp/doc", ctx: &[("aws:username", &["myapp"])], want: Want::NotApplicable },
    Case { name: "NotResource with variable matches other prefixes", docs: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","NotResource":"arn:aws:s3:::bucket/${aws:username}/*"}}"#], who: Who::MyApp, action: "s3:GetObject", resource: "arn:aws:s3:::bucket/bob/doc", ctx: &[("aws:username", &["myapp"])], want: Want::Allow },
    Case { name: "Deny with unresolvable variable does not apply", docs: &[r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::bucket/${aws:username}/*"}]}"#], who: Who::Session, action: "s3:GetObject", resource: "arn:aws:s3:::bucket/s1/doc", ctx: &[], want: Want::Allow },
    // ---- Principals (resource policies) -------------------------------------------------
    Case { name: "Principal * is direct for a user", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: DIRECT },
    Case { name: "Principal * is direct for another account", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#], who: Who::Bob2, action: "kms:Encrypt", resource: KEY, ctx: &[], want: DIRECT },
    Case { name: "Principal AWS:* is direct", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*","Resource":"*"}}"#], who: Who::Session2, action: "kms:Encrypt", resource: KEY, ctx: &[], want: DIRECT },
    Case { name: "account id names the account", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"kms:*","Resource":"*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: ACCOUNT },
    Case { name: "account id does not name other accounts", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"kms:*","Resource":"*"}}"#], who: Who::Root2, action: "kms:Encrypt", resource: KEY, ctx: &[], want: NONE },
    Case { name: "root ARN names the account (root user)", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:*","Resource":"*"}}"#], who: Who::Root1, action: "kms:Encrypt", resource: KEY, ctx: &[], want: ACCOUNT },
    Case { name: "root ARN names the account (role session)", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:*","Resource":"*"}}"#], who: Who::Session, action: "kms:Encrypt", resource: KEY, ctx: &[], want: ACCOUNT },
    Case { name: "root ARN in another partition does not match", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws-cn:iam::111111111111:root"},"Action":"kms:*","Resource":"*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: NONE },
    Case { name: "user ARN is direct for that user", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/myapp"},"Action":"kms:*","Resource":"*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: DIRECT },
    Case { name: "user ARN does not name the account root", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/myapp"},"Action":"kms:*","Resource":"*"}}"#], who: Who::Root1, action: "kms:Encrypt", resource: KEY, ctx: &[], want: NONE },
    Case { name: "user ARN does not name other users", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/myapp"},"Action":"kms:*","Resource":"*"}}"#], who: Who::Alice, action: "kms:Encrypt", resource: KEY, ctx: &[], want: NONE },
    Case { name: "user ARN with path must match exactly", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:user/div/alice"]},"Action":"kms:*","Resource":"*"}}"#], who: Who::Alice, action: "kms:Encrypt", resource: KEY, ctx: &[], want: DIRECT },
    Case { name: "user ARN without the path does not match", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/alice"},"Action":"kms:*","Resource":"*"}}"#], who: Who::Alice, action: "kms:Encrypt", resource: KEY, ctx: &[], want: NONE },
    Case { name: "role ARN is direct for its sessions", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/myapprole"},"Action":"kms:*","Resource":"*"}}"#], who: Who::Session, action: "kms:Decrypt", resource: KEY, ctx: &[], want: DIRECT },
    Case { name: "role ARN does not name other roles' sessions", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/myapprole"},"Action":"kms:*","Resource":"*"}}"#], who: Who::OtherSession, action: "kms:Decrypt", resource: KEY, ctx: &[], want: NONE },
    Case { name: "role ARN does not name a user", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/myapprole"},"Action":"kms:*","Resource":"*"}}"#], who: Who::MyApp, action: "kms:Decrypt", resource: KEY, ctx: &[], want: NONE },
    Case { name: "assumed-role ARN is direct for that session", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111111111111:assumed-role/myapprole/s1"},"Action":"kms:*","Resource":"*"}}"#], who: Who::Session, action: "kms:Decrypt", resource: KEY, ctx: &[], want: DIRECT },
    Case { name: "assumed-role ARN of another session does not match", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:sts::111111111111:assumed-role/myapprole/other"},"Action":"kms:*","Resource":"*"}}"#], who: Who::Session, action: "kms:Decrypt", resource: KEY, ctx: &[], want: NONE },
    Case { name: "Service principals never match IAM callers", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"Service":"logs.amazonaws.com"},"Action":"kms:*","Resource":"*"}}"#], who: Who::Root1, action: "kms:Encrypt", resource: KEY, ctx: &[], want: NONE },
    Case { name: "Federated principals never match IAM callers", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"Federated":"cognito-identity.amazonaws.com"},"Action":"sts:AssumeRoleWithWebIdentity"}}"#], who: Who::MyApp, action: "sts:AssumeRoleWithWebIdentity", resource: "arn:aws:iam::111111111111:role/r", ctx: &[], want: NONE },
    Case { name: "AWS entry next to Service entry still matches", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"Service":"logs.amazonaws.com","AWS":"111111111111"},"Action":"kms:*","Resource":"*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: ACCOUNT },
    Case { name: "statement naming account and user sets both", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["111111111111","arn:aws:iam::111111111111:user/myapp"]},"Action":"kms:*","Resource":"*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: BOTH },
    Case { name: "Deny naming the account denies its users", docs: &[r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/myapp"},"Action":"kms:*","Resource":"*"},{"Effect":"Deny","Principal":{"AWS":"111111111111"},"Action":"kms:Decrypt","Resource":"*"}]}"#], who: Who::MyApp, action: "kms:Decrypt", resource: KEY, ctx: &[], want: res(true, true, false) },
    Case { name: "Deny * denies everyone", docs: &[r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"kms:ScheduleKeyDeletion","Resource":"*"}}"#], who: Who::Root1, action: "kms:ScheduleKeyDeletion", resource: KEY, ctx: &[], want: DENY },
    Case { name: "resource policy Resource must match", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"arn:aws:kms:*:111111111111:key/other"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: NONE },
    Case { name: "resource policy conditions must hold", docs: &[r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalAccount":"111111111111"}}}}"#], who: Who::Bob2, action: "kms:Encrypt", resource: KEY, ctx: &[("aws:PrincipalAccount", &["222222222222"])], want: NONE },
    Case { name: "trust policy without Resource matches any resource", docs: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/myapp"},"Action":"sts:AssumeRole"}}"#], who: Who::MyApp, action: "sts:AssumeRole", resource: "arn:aws:iam::111111111111:role/myapprole", ctx: &[], want: DIRECT },
    Case { name: "trust policy naming another account", docs: &[r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"sts:AssumeRole"}}"#], who: Who::Bob2, action: "sts:AssumeRole", resource: "arn:aws:iam::111111111111:role/myapprole", ctx: &[], want: ACCOUNT },
    // ---- NotPrincipal -------------------------------------------------------------------
    Case { name: "Deny NotPrincipal spares the listed user", docs: &[r#"{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111111111111:user/myapp"},"Action":"kms:*","Resource":"*"}}"#], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: NONE },
    Case { name: "Deny NotPrincipal denies everyone else", docs: &[r#"{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111111111111:user/myapp"},"Action":"kms:*","Resource":"*"}}"#], who: Who::Alice, action: "kms:Encrypt", resource: KEY, ctx: &[], want: DENY },
    Case { name: "Deny NotPrincipal account spares all its principals", docs: &[r#"{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"111111111111"},"Action":"kms:*","Resource":"*"}}"#], who: Who::Session, action: "kms:Encrypt", resource: KEY, ctx: &[], want: NONE },
    Case { name: "Deny NotPrincipal account denies other accounts", docs: &[r#"{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:*","Resource":"*"}}"#], who: Who::Bob2, action: "kms:Encrypt", resource: KEY, ctx: &[], want: DENY },
    Case { name: "Deny NotPrincipal role spares its sessions", docs: &[r#"{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111111111111:role/myapprole"},"Action":"kms:*","Resource":"*"}}"#], who: Who::Session, action: "kms:Encrypt", resource: KEY, ctx: &[], want: NONE },
    Case { name: "Allow NotPrincipal is direct for the unlisted", docs: &[r#"{"Statement":{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111111111111:user/myapp"},"Action":"kms:*","Resource":"*"}}"#], who: Who::Session2, action: "kms:Encrypt", resource: KEY, ctx: &[], want: DIRECT },
    Case { name: "NotPrincipal * excludes everyone", docs: &[r#"{"Statement":{"Effect":"Deny","NotPrincipal":"*","Action":"kms:*","Resource":"*"}}"#], who: Who::Root3, action: "kms:Encrypt", resource: KEY, ctx: &[], want: NONE },
    Case { name: "NotPrincipal with only a Service applies to everyone", docs: &[r#"{"Statement":{"Effect":"Deny","NotPrincipal":{"Service":"logs.amazonaws.com"},"Action":"kms:*","Resource":"*"}}"#], who: Who::Root1, action: "kms:Encrypt", resource: KEY, ctx: &[], want: DENY },
    // ---- The seed key policy ------------------------------------------------------------
    Case { name: "seed: root may kms:Encrypt via its account", docs: &[SEED], who: Who::Root1, action: "kms:Encrypt", resource: KEY, ctx: &[], want: ACCOUNT },
    Case { name: "seed: root may kms:ScheduleKeyDeletion via its account", docs: &[SEED], who: Who::Root1, action: "kms:ScheduleKeyDeletion", resource: KEY, ctx: &[], want: ACCOUNT },
    Case { name: "seed: root may kms:PutKeyPolicy via its account", docs: &[SEED], who: Who::Root1, action: "kms:PutKeyPolicy", resource: KEY, ctx: &[], want: ACCOUNT },
    Case { name: "seed: myapp administers (kms:CreateAlias) directly", docs: &[SEED], who: Who::MyApp, action: "kms:CreateAlias", resource: KEY, ctx: &[], want: BOTH },
    Case { name: "seed: myapp administers (kms:ScheduleKeyDeletion) directly", docs: &[SEED], who: Who::MyApp, action: "kms:ScheduleKeyDeletion", resource: KEY, ctx: &[], want: BOTH },
    Case { name: "seed: myapp kms:PutKeyPolicy directly (kms:Put*)", docs: &[SEED], who: Who::MyApp, action: "kms:PutKeyPolicy", resource: KEY, ctx: &[], want: BOTH },
    Case { name: "seed: myapp kms:Encrypt directly (use statement)", docs: &[SEED], who: Who::MyApp, action: "kms:Encrypt", resource: KEY, ctx: &[], want: BOTH },
    Case { name: "seed: myapp kms:GenerateDataKeyWithoutPlaintext directly", docs: &[SEED], who: Who::MyApp, action: "kms:GenerateDataKeyWithoutPlaintext", resource: KEY, ctx: &[], want: BOTH },
    Case { name: "seed: myapp kms:Sign only via the account", docs: &[SEED], who: Who::MyApp, action: "kms:Sign", resource: KEY, ctx: &[], want: ACCOUNT },
    Case { name: "seed: alice only via the account", docs: &[SEED], who: Who::Alice, action: "kms:Encrypt", resource: KEY, ctx: &[], want: ACCOUNT },
    Case { name: "seed: myapprole session kms:Decrypt directly", docs: &[SEED], who: Who::Session, action: "kms:Decrypt", resource: KEY, ctx: &[], want: BOTH },
    Case { name: "seed: myapprole session kms:ReEncryptFrom directly", docs: &[SEED], who: Who::Session, action: "kms:ReEncryptFrom", resource: KEY, ctx: &[], want: BOTH },
    Case { name: "seed: myapprole session cannot administer directly", docs: &[SEED], who: Who::Session, action: "kms:DisableKey", resource: KEY, ctx: &[], want: ACCOUNT },
    Case { name: "seed: other role's session only via the account", docs: &[SEED], who: Who::OtherSession, action: "kms:Decrypt", resource: KEY, ctx: &[], want: ACCOUNT },
    Case { name: "seed: 222222222222 root kms:Encrypt via its account", docs: &[SEED], who: Who::Root2, action: "kms:Encrypt", resource: KEY, ctx: &[], want: ACCOUNT },
    Case { name: "seed: 222222222222 user kms:Encrypt via its account", docs: &[SEED], who: Who::Bob2, action: "kms:Encrypt", resource: KEY, ctx: &[], want: ACCOUNT },
    Case { name: "seed: 222222222222 session kms:DescribeKey via its account", docs: &[SEED], who: Who::Session2, action: "kms:DescribeKey", resource: KEY, ctx: &[], want: ACCOUNT },
    Case { name: "seed: 222222222222 may not administer", docs: &[SEED], who: Who::Bob2, action: "kms:ScheduleKeyDeletion", resource: KEY, ctx: &[], want: NONE },
    Case { name: "seed: 222222222222 may not kms:CreateGrant", docs: &[SEED], who: Who::Root2, action: "kms:CreateGrant", resource: KEY, ctx: &[("kms:GrantIsForAWSResource", &["true"])], want: NONE },
    Case { name: "seed: 333333333333 gets nothing", docs: &[SEED], who: Who::Root3, action: "kms:Encrypt", resource: KEY, ctx: &[], want: NONE },
    Case { name: "seed: myapp kms:CreateGrant directly via kms:Create* (no context)", docs: &[SEED], who: Who::MyApp, action: "kms:CreateGrant", resource: KEY, ctx: &[], want: BOTH },
    Case { name: "seed w/o admins: myapp kms:CreateGrant for AWS resource", docs: &[SEED_NO_ADMINS], who: Who::MyApp, action: "kms:CreateGrant", resource: KEY, ctx: &[("kms:GrantIsForAWSResource", &["true"])], want: BOTH },
    Case { name: "seed w/o admins: myapp kms:CreateGrant not for AWS resource", docs: &[SEED_NO_ADMINS], who: Who::MyApp, action: "kms:CreateGrant", resource: KEY, ctx: &[("kms:GrantIsForAWSResource", &["false"])], want: ACCOUNT },
    Case { name: "seed w/o admins: myapp kms:CreateGrant without the key", docs: &[SEED_NO_ADMINS], who: Who::MyApp, action: "kms:CreateGrant", resource: KEY, ctx: &[], want: ACCOUNT },
    Case { name: "seed w/o admins: myapp kms:RevokeGrant for AWS resource", docs: &[SEED_NO_ADMINS], who: Who::MyApp, action: "kms:RevokeGrant", resource: KEY, ctx: &[("kms:GrantIsForAWSResource", &["TRUE"])], want: BOTH },
];

#[test]
fn document_cases() {
    for case in CASES {
        let docs: Vec<PolicyDocument> = case.docs.iter().map(|d| parse_any(d)).collect();
        let ctx = context(case.ctx);
        let resource_eval = matches!(case.want, Want::Resource(_));
        let got = run(&docs, case.who, case.action, case.resource, &ctx, resource_eval);
        assert_eq!(got, case.want, "case {:?}", case.name);
    }
}

/// One Condition block: does it hold for the context? Evaluated for user myapp, who is also
/// `aws:username` "myapp" only where the context says so.
struct CondCase {
    name: &'static str,
    condition: &'static str,
    ctx: Ctx,
    holds: bool,
}

const fn cc(name: &'static str, condition: &'static str, ctx: Ctx, holds: bool) -> CondCase {
    CondCase { name, condition, ctx, holds }
}

const CONDITIONS: &[CondCase] = &[
    // ---- String -------------------------------------------------------------------------
    cc("StringEquals match", r#"{"StringEquals":{"k":"v"}}"#, &[("k", &["v"])], true),
    cc("StringEquals is case-sensitive", r#"{"StringEquals":{"k":"v"}}"#, &[("k", &["V"])], false),
    cc("StringEquals no wildcards", r#"{"StringEquals":{"k":"v*"}}"#, &[("k", &["vv"])], false),
    cc("StringEquals OR across values", r#"{"StringEquals":{"k":["a","b"]}}"#, &[("k", &["b"])], true),
    cc("StringEquals missing key", r#"{"StringEquals":{"k":"v"}}"#, &[], false),
    cc("condition key lookup is case-insensitive", r#"{"StringEquals":{"KMS:CallerAccount":"111111111111"}}"#, &[("kms:calleraccount", &["111111111111"])], true),
    cc("AND across keys (one fails)", r#"{"StringEquals":{"a":"1","b":"2"}}"#, &[("a", &["1"]), ("b", &["3"])], false),
    cc("AND across keys (both hold)", r#"{"StringEquals":{"a":"1","b":"2"}}"#, &[("a", &["1"]), ("b", &["2"])], true),
    cc("AND across operators (both hold)", r#"{"StringEquals":{"a":"1"},"StringLike":{"b":"x*"}}"#, &[("a", &["1"]), ("b", &["xy"])], true),
    cc("AND across operators (one fails)", r#"{"StringEquals":{"a":"1"},"StringLike":{"b":"x*"}}"#, &[("a", &["1"]), ("b", &["yx"])], false),
    cc("StringNotEquals differing value", r#"{"StringNotEquals":{"k":"v"}}"#, &[("k", &["w"])], true),
    cc("StringNotEquals equal value", r#"{"StringNotEquals":{"k":"v"}}"#, &[("k", &["v"])], false),
    cc("StringNotEquals must match none of the values", r#"{"StringNotEquals":{"k":["a","b"]}}"#, &[("k", &["b"])], false),
    cc("StringNotEquals none of the values", r#"{"StringNotEquals":{"k":["a","b"]}}"#, &[("k", &["c"])], true),
    cc("StringNotEquals missing key", r#"{"StringNotEquals":{"k":"v"}}"#, &[], true),
    cc("StringEqualsIgnoreCase match", r#"{"StringEqualsIgnoreCase":{"k":"hello"}}"#, &[("k", &["HeLLo"])], true),
    cc("StringEqualsIgnoreCase mismatch", r#"{"StringEqualsIgnoreCase":{"k":"hello"}}"#, &[("k", &["help"])], false),
    cc("StringNotEqualsIgnoreCase equal ignoring case", r#"{"StringNotEqualsIgnoreCase":{"k":"hello"}}"#, &[("k", &["HELLO"])], false),
    cc("StringNotEqualsIgnoreCase missing key", r#"{"StringNotEqualsIgnoreCase":{"k":"hello"}}"#, &[], true),
    cc("StringLike prefix", r#"{"StringLike":{"k":"team-*"}}"#, &[("k", &["team-red"])], true),
    cc("StringLike whole string", r#"{"StringLike":{"k":"team"}}"#, &[("k", &["team-red"])], false),
    cc("StringLike ? one char", r#"{"StringLike":{"k":"a?c"}}"#, &[("k", &["abc"])], true),
    cc("StringLike ? not two chars", r#"{"StringLike":{"k":"a?c"}}"#, &[("k", &["abbc"])], false),
    cc("StringLike is case-sensitive", r#"{"StringLike":{"k":"ABC*"}}"#, &[("k", &["abcd"])], false),
    cc("StringLike missing key", r#"{"StringLike":{"k":"*"}}"#, &[], false),
    cc("StringNotLike matching value", r#"{"StringNotLike":{"k":"team-*"}}"#, &[("k", &["team-red"])], false),
    cc("StringNotLike other value", r#"{"StringNotLike":{"k":"team-*"}}"#, &[("k", &["ops"])], true),
    cc("StringNotLike missing key", r#"{"StringNotLike":{"k":"team-*"}}"#, &[], true),
    // ---- IfExists -----------------------------------------------------------------------
    cc("StringEqualsIfExists missing key", r#"{"StringEqualsIfExists":{"k":"v"}}"#, &[], true),
    cc("StringEqualsIfExists present, mismatch", r#"{"StringEqualsIfExists":{"k":"v"}}"#, &[("k", &["w"])], false),
    cc("StringEqualsIfExists present, match", r#"{"StringEqualsIfExists":{"k":"v"}}"#, &[("k", &["v"])], true),
    cc("NumericLessThanIfExists missing key", r#"{"NumericLessThanIfExists":{"k":"5"}}"#, &[], true),
    cc("NumericLessThanIfExists present, too big", r#"{"NumericLessThanIfExists":{"k":"5"}}"#, &[("k", &["7"])], false),
    cc("BoolIfExists missing key", r#"{"BoolIfExists":{"aws:MultiFactorAuthPresent":"true"}}"#, &[], true),
    cc("StringNotEqualsIfExists present, equal", r#"{"StringNotEqualsIfExists":{"k":"v"}}"#, &[("k", &["v"])], false),
    // ---- Numeric ------------------------------------------------------------------------
    cc("NumericEquals 10 == 10.0", r#"{"NumericEquals":{"k":"10"}}"#, &[("k", &["10.0"])], true),
    cc("NumericEquals 11 != 10", r#"{"NumericEquals":{"k":"10"}}"#, &[("k", &["11"])], false),
    cc("NumericEquals JSON number in policy", r#"{"NumericEquals":{"k":10}}"#, &[("k", &["10"])], true),
    cc("NumericNotEquals differing", r#"{"NumericNotEquals":{"k":"10"}}"#, &[("k", &["11"])], true),
    cc("NumericNotEquals equal", r#"{"NumericNotEquals":{"k":"10"}}"#, &[("k", &["1e1"])], false),
    cc("NumericNotEquals missing key", r#"{"NumericNotEquals":{"k":"10"}}"#, &[], true),
    cc("NumericLessThan 5 < 10", r#"{"NumericLessThan":{"k":"10"}}"#, &[("k", &["5"])], true),
    cc("NumericLessThan 10 < 10", r#"{"NumericLessThan":{"k":"10"}}"#, &[("k", &["10"])], false),
    cc("NumericLessThan negative", r#"{"NumericLessThan":{"k":"0"}}"#, &[("k", &["-0.5"])], true),
    cc("NumericLessThanEquals 10 <= 10", r#"{"NumericLessThanEquals":{"k":"10"}}"#, &[("k", &["10"])], true),
    cc("NumericLessThanEquals 11 <= 10", r#"{"NumericLessThanEquals":{"k":"10"}}"#, &[("k", &["11"])], false),
    cc("NumericGreaterThan 11 > 10", r#"{"NumericGreaterThan":{"k":"10"}}"#, &[("k", &["11"])], true),
    cc("NumericGreaterThan 10 > 10", r#"{"NumericGreaterThan":{"k":"10"}}"#, &[("k", &["10"])], false),
    cc("NumericGreaterThanEquals 10 >= 10", r#"{"NumericGreaterThanEquals":{"k":"10"}}"#, &[("k", &["10"])], true),
    cc("NumericGreaterThanEquals 9 >= 10", r#"{"NumericGreaterThanEquals":{"k":"10"}}"#, &[("k", &["9"])], false),
    cc("Numeric unparsable context value", r#"{"NumericEquals":{"k":"10"}}"#, &[("k", &["ten"])], false),
    cc("Numeric unparsable policy value", r#"{"NumericLessThan":{"k":"many"}}"#, &[("k", &["1"])], false),
    cc("Numeric inf is not a number", r#"{"NumericGreaterThan":{"k":"0"}}"#, &[("k", &["inf"])], false),
    cc("Numeric one unparsable policy value among good ones", r#"{"NumericEquals":{"k":["x","3"]}}"#, &[("k", &["3"])], true),
    cc("NumericNotEquals unparsable context value matches none", r#"{"NumericNotEquals":{"k":"10"}}"#, &[("k", &["ten"])], true),
    cc("Numeric missing key", r#"{"NumericGreaterThan":{"k":"0"}}"#, &[], false),
    // ---- Date ---------------------------------------------------------------------------
    cc("DateGreaterThan later", r#"{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#, &[("aws:CurrentTime", &["2026-06-01T12:00:00Z"])], true),
    cc("DateGreaterThan earlier", r#"{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#, &[("aws:CurrentTime", &["2025-12-31T23:59:59Z"])], false),
    cc("DateLessThan date-only policy value", r#"{"DateLessThan":{"aws:CurrentTime":"2026-01-01"}}"#, &[("aws:CurrentTime", &["2025-12-31T23:59:59Z"])], true),
    cc("DateLessThan date-only is midnight UTC", r#"{"DateLessThan":{"aws:CurrentTime":"2026-01-01"}}"#, &[("aws:CurrentTime", &["2026-01-01T00:00:00Z"])], false),
    cc("DateEquals epoch vs ISO", r#"{"DateEquals":{"aws:EpochTime":"2026-01-01T00:00:00Z"}}"#, &[("aws:EpochTime", &["1767225600"])], true),
    cc("DateEquals epoch JSON number in policy", r#"{"DateEquals":{"aws:CurrentTime":1767225600}}"#, &[("aws:CurrentTime", &["2026-01-01T00:00:00Z"])], true),
    cc("DateLessThan fractional seconds", r#"{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:01Z"}}"#, &[("aws:CurrentTime", &["2026-01-01T00:00:00.999Z"])], true),
    cc("DateEquals with offset", r#"{"DateEquals":{"aws:CurrentTime":"2026-01-01T01:00:00+01:00"}}"#, &[("aws:CurrentTime", &["2026-01-01T00:00:00Z"])], true),
    cc("DateNotEquals different", r#"{"DateNotEquals":{"aws:CurrentTime":"2026-01-01"}}"#, &[("aws:CurrentTime", &["2026-01-02"])], true),
    cc("DateNotEquals same instant", r#"{"DateNotEquals":{"aws:CurrentTime":"2026-01-01"}}"#, &[("aws:CurrentTime", &["2026-01-01T00:00:00Z"])], false),
    cc("DateNotEquals missing key", r#"{"DateNotEquals":{"aws:CurrentTime":"2026-01-01"}}"#, &[], true),
    cc("DateLessThanEquals equal", r#"{"DateLessThanEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}"#, &[("aws:CurrentTime", &["2026-01-01T00:00:00.000Z"])], true),
    cc("DateGreaterThanEquals earlier", r#"{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-01-01"}}"#, &[("aws:CurrentTime", &["2025-06-01"])], false),
    cc("Date unparsable context value", r#"{"DateLessThan":{"aws:CurrentTime":"2026-01-01"}}"#, &[("aws:CurrentTime", &["soon"])], false),
    cc("Date unparsable policy value", r#"{"DateGreaterThan":{"aws:CurrentTime":"2026-02-30"}}"#, &[("aws:CurrentTime", &["2026-06-01"])], false),
    cc("Date missing key", r#"{"DateLessThan":{"aws:CurrentTime":"2026-01-01"}}"#, &[], false),
    // ---- Bool / Binary ------------------------------------------------------------------
    cc("Bool true", r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[("aws:SecureTransport", &["true"])], true),
    cc("Bool is case-insensitive", r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[("aws:SecureTransport", &["TRUE"])], true),
    cc("Bool false != true", r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[("aws:SecureTransport", &["false"])], false),
    cc("Bool JSON boolean in policy", r#"{"Bool":{"aws:SecureTransport":false}}"#, &[("aws:SecureTransport", &["false"])], true),
    cc("Bool non-boolean context value", r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[("aws:SecureTransport", &["yes"])], false),
    cc("Bool missing key", r#"{"Bool":{"aws:SecureTransport":"false"}}"#, &[], false),
    cc("BinaryEquals equal", r#"{"BinaryEquals":{"k":"QmluYXJ5VmFsdWU="}}"#, &[("k", &["QmluYXJ5VmFsdWU="])], true),
    cc("BinaryEquals different", r#"{"BinaryEquals":{"k":"QmluYXJ5VmFsdWU="}}"#, &[("k", &["b3RoZXI="])], false),
    cc("BinaryEquals missing key", r#"{"BinaryEquals":{"k":"QmluYXJ5VmFsdWU="}}"#, &[], false),
    // ---- IP -----------------------------------------------------------------------------
    cc("IpAddress v4 inside CIDR", r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[("aws:SourceIp", &["203.0.113.77"])], true),
    cc("IpAddress v4 outside CIDR", r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[("aws:SourceIp", &["203.0.114.1"])], false),
    cc("IpAddress bare address", r#"{"IpAddress":{"aws:SourceIp":"198.51.100.7"}}"#, &[("aws:SourceIp", &["198.51.100.7"])], true),
    cc("IpAddress list is OR", r#"{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}"#, &[("aws:SourceIp", &["192.168.3.4"])], true),
    cc("IpAddress v6 inside CIDR", r#"{"IpAddress":{"aws:SourceIp":"2001:db8:1234::/48"}}"#, &[("aws:SourceIp", &["2001:db8:1234:ffff::1"])], true),
    cc("IpAddress v6 outside CIDR", r#"{"IpAddress":{"aws:SourceIp":"2001:db8:1234::/48"}}"#, &[("aws:SourceIp", &["2001:db8:1235::1"])], false),
    cc("IpAddress v4 policy, v6 caller", r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#, &[("aws:SourceIp", &["2001:db8::1"])], false),
    cc("IpAddress v4-mapped v6 caller", r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[("aws:SourceIp", &["::ffff:10.2.3.4"])], true),
    cc("IpAddress unparsable caller", r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[("aws:SourceIp", &["localhost"])], false),
    cc("IpAddress missing key", r#"{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}"#, &[], false),
    cc("NotIpAddress outside", r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[("aws:SourceIp", &["11.0.0.1"])], true),
    cc("NotIpAddress inside", r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[("aws:SourceIp", &["10.0.0.1"])], false),
    cc("NotIpAddress v6 inside", r#"{"NotIpAddress":{"aws:SourceIp":"fd00::/8"}}"#, &[("aws:SourceIp", &["fd12::1"])], false),
    cc("NotIpAddress missing key", r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[], true),
    // ---- ARN ----------------------------------------------------------------------------
    cc("ArnEquals exact", r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111111111111:role/myapprole"}}"#, &[("aws:PrincipalArn", &["arn:aws:iam::111111111111:role/myapprole"])], true),
    cc("ArnEquals different", r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111111111111:role/myapprole"}}"#, &[("aws:PrincipalArn", &["arn:aws:iam::111111111111:role/other"])], false),
    cc("ArnEquals is case-sensitive", r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111111111111:role/MyAppRole"}}"#, &[("aws:PrincipalArn", &["arn:aws:iam::111111111111:role/myapprole"])], false),
    cc("ArnLike wildcard partition", r#"{"ArnLike":{"aws:SourceArn":"arn:*:sns:us-east-1:111111111111:topic"}}"#, &[("aws:SourceArn", &["arn:aws-us-gov:sns:us-east-1:111111111111:topic"])], true),
    cc("ArnLike wildcard service", r#"{"ArnLike":{"aws:SourceArn":"arn:aws:s*:us-east-1:111111111111:topic"}}"#, &[("aws:SourceArn", &["arn:aws:sqs:us-east-1:111111111111:topic"])], true),
    cc("ArnLike wildcard region", r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:111111111111:topic"}}"#, &[("aws:SourceArn", &["arn:aws:sns:eu-west-3:111111111111:topic"])], true),
    cc("ArnLike wildcard account", r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:us-east-1:*:topic"}}"#, &[("aws:SourceArn", &["arn:aws:sns:us-east-1:222222222222:topic"])], true),
    cc("ArnLike ? in account", r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:us-east-1:22222222222?:topic"}}"#, &[("aws:SourceArn", &["arn:aws:sns:us-east-1:222222222229:topic"])], true),
    cc("ArnLike wildcard resource with colons", r#"{"ArnLike":{"aws:SourceArn":"arn:aws:logs:us-east-1:111111111111:log-group:*"}}"#, &[("aws:SourceArn", &["arn:aws:logs:us-east-1:111111111111:log-group:/app:log-stream:x"])], true),
    cc("ArnLike region wildcard cannot cross parts", r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:topic"}}"#, &[("aws:SourceArn", &["arn:aws:sns:us-east-1:111111111111:topic"])], false),
    cc("ArnLike wrong-shape context value", r#"{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:*:*"}}"#, &[("aws:SourceArn", &["topic"])], false),
    cc("ArnLike mismatch in resource part", r#"{"ArnLike":{"aws:SourceArn":"arn:aws:iam::111111111111:role/app-*"}}"#, &[("aws:SourceArn", &["arn:aws:iam::111111111111:role/web-1"])], false),
    cc("ArnNotEquals different", r#"{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111111111111:role/a"}}"#, &[("aws:PrincipalArn", &["arn:aws:iam::111111111111:role/b"])], true),
    cc("ArnNotEquals same", r#"{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111111111111:role/a"}}"#, &[("aws:PrincipalArn", &["arn:aws:iam::111111111111:role/a"])], false),
    cc("ArnNotEquals missing key", r#"{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111111111111:role/a"}}"#, &[], true),
    cc("ArnNotLike matching", r#"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin-*"}}"#, &[("aws:PrincipalArn", &["arn:aws:iam::111111111111:role/admin-x"])], false),
    cc("ArnNotLike other", r#"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin-*"}}"#, &[("aws:PrincipalArn", &["arn:aws:iam::111111111111:user/admin-x"])], true),
    cc("ArnNotLike missing key", r#"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin-*"}}"#, &[], true),
    // ---- Null ---------------------------------------------------------------------------
    cc("Null true, key missing", r#"{"Null":{"aws:TokenIssueTime":"true"}}"#, &[], true),
    cc("Null true, key present", r#"{"Null":{"aws:TokenIssueTime":"true"}}"#, &[("aws:TokenIssueTime", &["2026-01-01T00:00:00Z"])], false),
    cc("Null true, key present but empty", r#"{"Null":{"aws:TagKeys":"true"}}"#, &[("aws:TagKeys", &[])], true),
    cc("Null false, key present", r#"{"Null":{"aws:TokenIssueTime":"false"}}"#, &[("aws:TokenIssueTime", &["2026-01-01T00:00:00Z"])], true),
    cc("Null false, key missing", r#"{"Null":{"aws:TokenIssueTime":"false"}}"#, &[], false),
    cc("Null JSON boolean", r#"{"Null":{"aws:TokenIssueTime":true}}"#, &[], true),
    // ---- Set qualifiers and multi-valued keys -------------------------------------------
    cc("ForAllValues all in set", r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}"#, &[("aws:TagKeys", &["team", "env"])], true),
    cc("ForAllValues one outside set", r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]}}"#, &[("aws:TagKeys", &["team", "cost"])], false),
    cc("ForAllValues missing key", r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}"#, &[], true),
    cc("ForAllValues empty list", r#"{"ForAllValues:StringEquals":{"aws:TagKeys":["env"]}}"#, &[("aws:TagKeys", &[])], true),
    cc("ForAllValues:StringLike", r#"{"ForAllValues:StringLike":{"aws:TagKeys":["app-*"]}}"#, &[("aws:TagKeys", &["app-a", "app-b"])], true),
    cc("ForAllValues:StringNotEquals any forbidden value fails", r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}"#, &[("aws:TagKeys", &["env", "secret"])], false),
    cc("ForAllValues:StringNotEquals no forbidden value", r#"{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}"#, &[("aws:TagKeys", &["env", "team"])], true),
    cc("ForAnyValue one in set", r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}}"#, &[("aws:TagKeys", &["team", "env"])], true),
    cc("ForAnyValue none in set", r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}}"#, &[("aws:TagKeys", &["team", "cost"])], false),
    cc("ForAnyValue missing key", r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}}"#, &[], false),
    cc("ForAnyValue empty list", r#"{"ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}}"#, &[("aws:TagKeys", &[])], false),
    cc("ForAnyValue:...IfExists missing key", r#"{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["env"]}}"#, &[], true),
    cc("ForAnyValue:StringNotEquals one other value", r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}"#, &[("aws:TagKeys", &["env", "team"])], true),
    cc("ForAnyValue:StringNotEquals only listed values", r#"{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["env"]}}"#, &[("aws:TagKeys", &["env"])], false),
    cc("multi-valued key, no qualifier: any value", r#"{"StringEquals":{"k":"b"}}"#, &[("k", &["a", "b"])], true),
    cc("multi-valued key, no qualifier: no value", r#"{"StringEquals":{"k":"c"}}"#, &[("k", &["a", "b"])], false),
    cc("multi-valued key, negated: some value matches none", r#"{"StringNotEquals":{"k":"a"}}"#, &[("k", &["a", "b"])], true),
    cc("multi-valued key, negated: all values listed", r#"{"StringNotEquals":{"k":["a","b"]}}"#, &[("k", &["a", "b"])], false),
    cc("negated operator with empty list counts as missing", r#"{"StringNotEquals":{"k":"a"}}"#, &[("k", &[])], true),
    cc("positive operator with empty list counts as missing", r#"{"StringEquals":{"k":"a"}}"#, &[("k", &[])], false),
    // ---- Policy variables in condition values -------------------------------------------
    cc("variable in StringEquals value", r#"{"StringEquals":{"aws:PrincipalTag/owner":"${aws:username}"}}"#, &[("aws:username", &["myapp"]), ("aws:PrincipalTag/owner", &["myapp"])], true),
    cc("variable in StringEquals value, other owner", r#"{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}"#, &[("aws:username", &["myapp"]), ("aws:ResourceTag/owner", &["bob"])], false),
    cc("variable missing: value matches nothing", r#"{"StringEquals":{"aws:ResourceTag/owner":"${aws:username}"}}"#, &[("aws:ResourceTag/owner", &["${aws:username}"])], false),
    cc("variable missing in negated operator", r#"{"StringNotEquals":{"aws:ResourceTag/owner":"${aws:username}"}}"#, &[("aws:ResourceTag/owner", &["bob"])], true),
    cc("variable default in condition", r#"{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team, 'none'}"}}"#, &[("aws:ResourceTag/team", &["none"])], true),
    cc("variable userid", r#"{"StringLike":{"s3:prefix":"home/${aws:userid}/*"}}"#, &[("aws:userid", &["AIDAMYAPP"]), ("s3:prefix", &["home/AIDAMYAPP/x"])], true),
    cc("${*} in StringLike is literal", r#"{"StringLike":{"k":"a${*}"}}"#, &[("k", &["abc"])], false),
    cc("${*} in StringLike matches a star", r#"{"StringLike":{"k":"a${*}"}}"#, &[("k", &["a*"])], true),
    cc("variable in ArnEquals", r#"{"ArnEquals":{"aws:SourceArn":"arn:aws:iam::${aws:PrincipalAccount}:user/${aws:username}"}}"#, &[("aws:PrincipalAccount", &["111111111111"]), ("aws:username", &["myapp"]), ("aws:SourceArn", &["arn:aws:iam::111111111111:user/myapp"])], true),
    cc("variable in Bool", r#"{"Bool":{"k":"${aws:PrincipalTag/flag}"}}"#, &[("aws:PrincipalTag/flag", &["true"]), ("k", &["true"])], true),
    cc("no variables in Numeric values", r#"{"NumericEquals":{"k":"${aws:PrincipalTag/n}"}}"#, &[("aws:PrincipalTag/n", &["5"]), ("k", &["5"])], false),
];

#[test]
fn condition_cases() {
    let principal = Who::MyApp.principal();
    for case in CONDITIONS {
        let ctx = context(case.ctx);
        let req = EvalRequest { principal: &principal, action: "kms:Encrypt", resource: KEY, context: &ctx };
        let allow = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{}}}}}"#,
            case.condition
        );
        let allow = PolicyDocument::parse(&allow, PolicyKind::Identity)
            .unwrap_or_else(|e| panic!("case {:?}: {e}", case.name));
        let want = if case.holds { Decision::Allow } else { Decision::NotApplicable };
        assert_eq!(evaluate_identity(&[&allow], &req), want, "case {:?} (as Allow)", case.name);
        // The same block in a Deny next to an unconditional Allow.
        let deny = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*"}},{{"Effect":"Deny","Action":"kms:Encrypt","Resource":"*","Condition":{}}}]}}"#,
            case.condition
        );
        let deny = PolicyDocument::parse(&deny, PolicyKind::Identity).unwrap();
        let want = if case.holds { Decision::Deny } else { Decision::Allow };
        assert_eq!(evaluate_identity(&[&deny], &req), want, "case {:?} (as Deny)", case.name);
        // And in a key policy naming the caller directly.
        let key_policy = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111111111111:user/myapp"}},"Action":"kms:*","Resource":"*","Condition":{}}}}}"#,
            case.condition
        );
        let key_policy = PolicyDocument::parse(&key_policy, PolicyKind::Resource).unwrap();
        let want = ResourceDecision { deny: false, allow_direct: case.holds, allow_account: false };
        assert_eq!(evaluate_resource(&key_policy, &req), want, "case {:?} (in a key policy)", case.name);
    }
}

#[test]
fn enough_cases() {
    assert!(CASES.len() + CONDITIONS.len() >= 100, "{} cases", CASES.len() + CONDITIONS.len());
    let mut names: Vec<&str> = CASES.iter().map(|c| c.name).chain(CONDITIONS.iter().map(|c| c.name)).collect();
    names.sort_unstable();
    let dup = names.windows(2).find(|w| w[0] == w[1]);
    assert!(dup.is_none(), "duplicate case name {dup:?}");
}
