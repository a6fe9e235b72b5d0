//! Policies: managed (CreatePolicy, GetPolicy, GetPolicyVersion, DeletePolicy, ListPolicies,
//! Attach/Detach/ListAttached for users and roles) and inline (Put/Get/List/Delete for users and
//! roles). Users and roles hold policies the same way, so one set of functions serves both.

use std::collections::BTreeMap;
use std::sync::Arc;

use coffer_crypto::random;
use coffer_policy::{Caller, PolicyDocument, PolicyKind};
use coffer_store::{Expect, Write, tables};
use coffer_util::{Timestamp, Validation, marker};

use crate::error::validated;
use crate::model::{AttachedPolicy, Output, Params, Policy, PolicyVersion};
use crate::records::{PolicyRecord, policy_arn, role_arn, user_arn};
use crate::users::{tag_records, tags_out};
use crate::{ID_ALPHABET, Iam, IamError, PolicyEntry, State, encode, fold, named, parse_stored, validate};

/// AWS managed policies Coffer knows (`arn:aws:iam::aws:policy/<name>`).
const BUILTIN: &[(&str, &str)] = &[
    ("AdministratorAccess", r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#),
    (
        "PowerUserAccess",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeOrganization","account:ListRegions"],"Resource":"*"}]}"#,
    ),
    (
        "ReadOnlyAccess",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*","kms:Describe*","kms:Get*","kms:List*","ssm:Describe*","ssm:Get*","ssm:List*","s3:Get*","s3:List*","sts:GetCallerIdentity"],"Resource":"*"}]}"#,
    ),
    (
        "AWSKeyManagementServicePowerUser",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:CreateAlias","kms:CreateKey","kms:DeleteAlias","kms:Describe*","kms:GenerateRandom","kms:Get*","kms:List*","kms:TagResource","kms:UntagResource","iam:ListGroups","iam:ListRoles","iam:ListUsers"],"Resource":"*"}]}"#,
    ),
];

pub(crate) fn builtin_policies() -> BTreeMap<String, Arc<PolicyEntry>> {
    BUILTIN
        .iter()
        .map(|(name, doc)| {
            let rec = PolicyRecord {
                account: "aws".into(),
                policy_name: name.to_string(),
                policy_id: format!("ANPA{}", name.to_ascii_uppercase().chars().filter(|c| c.is_ascii_alphanumeric()).take(17).collect::<String>()),
                path: "/".into(),
                document: doc.to_string(),
                description: None,
                created_ms: 0,
                updated_ms: 0,
                tags: Vec::new(),
            };
            let doc = Arc::new(PolicyDocument::parse(doc, PolicyKind::Identity).expect("built-in policies are valid"));
            (format!("arn:aws:iam::aws:policy/{name}"), Arc::new(PolicyEntry { rec, version: 1, doc }))
        })
        .collect()
}

pub(crate) fn entry(rec: PolicyRecord, version: i64) -> Result<PolicyEntry, IamError> {
    let doc = parse_stored(&rec.document, PolicyKind::Identity)?;
    Ok(PolicyEntry { rec, version, doc })
}

fn arn_of(r: &PolicyRecord) -> String {
    if r.account == "aws" {
        format!("arn:aws:iam::aws:policy{}{}", r.path, r.policy_name)
    } else {
        policy_arn(&r.account, &r.path, &r.policy_name)
    }
}

/// `(account, name)` of a policy ARN.
fn split_arn(arn: &str) -> Option<(String, String)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, res) = rest.split_once(':')?;
    let path_name = res.strip_prefix("policy/")?;
    let name = path_name.rsplit('/').next()?;
    (!name.is_empty()).then(|| (account.to_string(), name.to_string()))
}

fn no_such_policy(arn: &str) -> IamError {
    IamError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
}

/// A user's or role's ARN, inline policies (name → text) and attached policy ARNs.
type HolderView = (String, BTreeMap<String, String>, Vec<String>);

/// Who holds a policy: a user or a role.
#[derive(Clone, Copy)]
enum Holder {
    User,
    Role,
}

impl Holder {
    fn word(self) -> &'static str {
        match self {
            Holder::User => "User",
            Holder::Role => "Role",
        }
    }
}

impl Iam {
    /// A managed policy by ARN (customer or built-in AWS managed).
    pub(crate) fn managed(&self, st: &State, arn: &str) -> Option<Arc<PolicyEntry>> {
        if let Some(b) = self.builtin.get(arn) {
            return Some(b.clone());
        }
        let (account, name) = split_arn(arn)?;
        st.policies.get(&named(&account, &name)).filter(|e| arn_of(&e.rec) == arn).cloned()
    }

    fn attachment_count(st: &State, arn: &str) -> i64 {
        let users = st.users.values().filter(|u| u.rec.attached.iter().any(|a| a == arn)).count();
        let roles = st.roles.values().filter(|r| r.rec.attached.iter().any(|a| a == arn)).count();
        (users + roles) as i64
    }

    fn policy_out(st: &State, r: &PolicyRecord) -> Policy {
        let arn = arn_of(r);
        Policy {
            policy_name: r.policy_name.clone(),
            policy_id: r.policy_id.clone(),
            attachment_count: Self::attachment_count(st, &arn),
            arn,
            path: r.path.clone(),
            default_version_id: "v1".into(),
            permissions_boundary_usage_count: 0,
            is_attachable: true,
            description: r.description.clone(),
            create_date: Timestamp(r.created_ms).iso8601(),
            update_date: Timestamp(r.updated_ms).iso8601(),
            tags: tags_out(&r.tags),
        }
    }

    fn policy_arn_param(v: &mut Validation, p: &Params) -> Option<String> {
        if v.required("policyArn", p.policy_arn.as_ref()) {
            let a = p.policy_arn.as_ref().expect("checked");
            v.str_len("policyArn", a, 20, 2048);
            return Some(a.clone());
        }
        None
    }

    pub async fn create_policy(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let name = validate::name(&mut v, "policyName", p.policy_name.as_ref(), 128, true);
        let path = validate::path(&mut v, "path", p.path.as_ref());
        validate::policy_text(&mut v, "policyDocument", p.policy_document.as_ref());
        if let Some(d) = &p.description {
            v.str_len("description", d, 0, 1000);
        }
        let tags = p.tags.unwrap_or_default();
        validate::tags(&mut v, &tags);
        validated(v)?;
        validate::tag_rules(&tags)?;
        let name = name.expect("validated");
        let account = caller.account().to_string();
        let arn = policy_arn(&account, &path, name);
        self.authorize(caller, "iam:CreatePolicy", &arn)?;
        let document = p.policy_document.expect("validated");
        self.check_policy_text(&document, PolicyKind::Identity)?;
        let now = self.now_ms();
        let rec = PolicyRecord {
            account: account.clone(),
            policy_name: name.to_string(),
            policy_id: format!("ANPA{}", random::from_alphabet(ID_ALPHABET, 17)),
            path,
            document,
            description: p.description,
            created_ms: now,
            updated_ms: now,
            tags: tag_records(&tags),
        };
        let n = name.to_string();
        let v = self
            .commit(vec![Write::put(tables::POLICIES, &account, fold(name), encode(&rec), Expect::Absent)], |_| {
                IamError::EntityAlreadyExists(format!("A policy called {n} already exists. Duplicate names are not allowed."))
            })
            .await?;
        let e = Arc::new(entry(rec, v[0])?);
        let mut st = self.write_state();
        st.policies.insert(named(&account, name), e.clone());
        Ok(Output { policy: Some(Self::policy_out(&st, &e.rec)), ..Output::none() })
    }

    fn visible_policy(&self, caller: &Caller, arn: &str) -> Result<Arc<PolicyEntry>, IamError> {
        let st = self.read();
        match self.managed(&st, arn) {
            Some(e) if e.rec.account == "aws" || e.rec.account == caller.account() => Ok(e),
            _ => Err(IamError::NoSuchEntity(format!("Policy {arn} was not found."))),
        }
    }

    pub async fn get_policy(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let arn = Self::policy_arn_param(&mut v, &p);
        validated(v)?;
        let arn = arn.expect("validated");
        self.authorize(caller, "iam:GetPolicy", &arn)?;
        let e = self.visible_policy(caller, &arn)?;
        let st = self.read();
        Ok(Output { policy: Some(Self::policy_out(&st, &e.rec)), ..Output::none() })
    }

    pub async fn get_policy_version(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let arn = Self::policy_arn_param(&mut v, &p);
        v.required("versionId", p.version_id.as_ref());
        validated(v)?;
        let arn = arn.expect("validated");
        self.authorize(caller, "iam:GetPolicyVersion", &arn)?;
        let e = self.visible_policy(caller, &arn)?;
        let version = p.version_id.expect("validated");
        if version != "v1" {
            return Err(IamError::NoSuchEntity(format!("Policy {arn} version {version} does not exist or is not attachable.")));
        }
        Ok(Output {
            policy_version: Some(PolicyVersion {
                document: validate::url_encode(&e.rec.document),
                version_id: "v1".into(),
                is_default_version: true,
                create_date: Timestamp(e.rec.created_ms).iso8601(),
            }),
            ..Output::none()
        })
    }

    pub async fn delete_policy(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let arn = Self::policy_arn_param(&mut v, &p);
        validated(v)?;
        let arn = arn.expect("validated");
        self.authorize(caller, "iam:DeletePolicy", &arn)?;
        let e = self.visible_policy(caller, &arn)?;
        if e.rec.account == "aws" {
            return Err(IamError::InvalidInput("AWS managed policies cannot be deleted.".into()));
        }
        if Self::attachment_count(&self.read(), &arn) > 0 {
            return Err(IamError::DeleteConflict("Cannot delete a policy attached to entities.".into()));
        }
        let (account, name) = (e.rec.account.clone(), e.rec.policy_name.clone());
        self.commit(vec![Write::delete(tables::POLICIES, &account, fold(&name), Expect::Version(e.version))], |_| {
            IamError::DeleteConflict("The policy changed or was attached while being deleted; retry.".into())
        })
        .await?;
        self.write_state().policies.remove(&named(&account, &name));
        Ok(Output::none())
    }

    pub async fn list_policies(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let limit = validate::max_items(&mut v, p.max_items);
        if let Some(s) = &p.scope {
            v.one_of("scope", s, &["All", "AWS", "Local"]);
        }
        validated(v)?;
        let after = validate::resume_after(p.marker.as_ref())?;
        self.authorize(caller, "iam:ListPolicies", "*")?;
        let scope = p.scope.unwrap_or_else(|| "All".into());
        let prefix = p.path_prefix.unwrap_or_else(|| "/".into());
        let st = self.read();
        let mut all: Vec<Arc<PolicyEntry>> = Vec::new();
        if scope != "Local" {
            all.extend(self.builtin.values().cloned());
        }
        if scope != "AWS" {
            all.extend(st.policies.iter().filter(|((a, _), _)| a == caller.account()).map(|(_, e)| e.clone()));
        }
        let mut list: Vec<(String, Arc<PolicyEntry>)> = all
            .into_iter()
            .map(|e| (arn_of(&e.rec), e))
            .filter(|(_, e)| e.rec.path.starts_with(&prefix))
            .filter(|(a, _)| p.only_attached != Some(true) || Self::attachment_count(&st, a) > 0)
            .collect();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        let mut page: Vec<_> = list.into_iter().filter(|(a, _)| after.as_deref().is_none_or(|x| a.as_str() > x)).take(limit + 1).collect();
        let truncated = page.len() > limit;
        page.truncate(limit);
        Ok(Output {
            marker: truncated.then(|| marker::encode(&page.last().expect("non-empty").0)),
            policies: Some(page.iter().map(|(_, e)| Self::policy_out(&st, &e.rec)).collect()),
            is_truncated: Some(truncated),
            ..Output::none()
        })
    }

    // ------------------------------------------------------------- users and roles alike

    /// The user or role name a request gives.
    fn holder(h: Holder, p: &Params, v: &mut Validation) -> Option<String> {
        match h {
            Holder::User => validate::name(v, "userName", p.user_name.as_ref(), 128, true).map(str::to_owned),
            Holder::Role => validate::name(v, "roleName", p.role_name.as_ref(), 64, true).map(str::to_owned),
        }
    }

    /// ARN and (inline, attached) policies of a user or role.
    fn holder_arn(&self, account: &str, h: Holder, name: &str) -> Result<HolderView, IamError> {
        match h {
            Holder::User => {
                let u = self.user(account, name)?;
                Ok((user_arn(account, &u.rec.path, &u.rec.user_name), u.rec.inline.clone(), u.rec.attached.clone()))
            }
            Holder::Role => {
                let r = self.role(account, name)?;
                Ok((role_arn(account, &r.rec.path, &r.rec.role_name), r.rec.inline.clone(), r.rec.attached.clone()))
            }
        }
    }

    /// Applies `change` to the holder's (inline, attached) policies, with `extra` writes in the
    /// same batch (e.g. a check that an attached policy still exists).
    async fn change_holder(
        &self,
        account: &str,
        h: Holder,
        name: &str,
        extra: Vec<Write>,
        change: impl Fn(&mut BTreeMap<String, String>, &mut Vec<String>) -> Result<(), IamError>,
    ) -> Result<(), IamError> {
        match h {
            Holder::User => {
                self.mutate_user(account, name, |_| extra.clone(), |r| {
                    let mut r = r.clone();
                    change(&mut r.inline, &mut r.attached)?;
                    Ok(r)
                })
                .await?;
            }
            Holder::Role => {
                self.mutate_role(account, name, |_| extra.clone(), |r| {
                    let mut r = r.clone();
                    change(&mut r.inline, &mut r.attached)?;
                    Ok(r)
                })
                .await?;
            }
        }
        Ok(())
    }

    async fn put_inline(&self, caller: &Caller, h: Holder, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let name = Self::holder(h, &p, &mut v);
        let policy = validate::name(&mut v, "policyName", p.policy_name.as_ref(), 128, true).map(str::to_owned);
        validate::policy_text(&mut v, "policyDocument", p.policy_document.as_ref());
        validated(v)?;
        let (name, policy) = (name.expect("validated"), policy.expect("validated"));
        let account = caller.account();
        let (arn, _, _) = self.holder_arn(account, h, &name)?;
        self.authorize(caller, &format!("iam:Put{}Policy", h.word()), &arn)?;
        let doc = p.policy_document.expect("validated");
        self.check_policy_text(&doc, PolicyKind::Identity)?;
        self.change_holder(account, h, &name, vec![], |inline, _| {
            inline.insert(policy.clone(), doc.clone());
            Ok(())
        })
        .await?;
        Ok(Output::none())
    }

    async fn get_inline(&self, caller: &Caller, h: Holder, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let name = Self::holder(h, &p, &mut v);
        let policy = validate::name(&mut v, "policyName", p.policy_name.as_ref(), 128, true).map(str::to_owned);
        validated(v)?;
        let (name, policy) = (name.expect("validated"), policy.expect("validated"));
        let account = caller.account();
        let (arn, inline, _) = self.holder_arn(account, h, &name)?;
        self.authorize(caller, &format!("iam:Get{}Policy", h.word()), &arn)?;
        let doc = inline.get(&policy).ok_or_else(|| {
            IamError::NoSuchEntity(format!("The {} policy with name {policy} cannot be found.", h.word().to_lowercase()))
        })?;
        let mut out = Output { policy_name: Some(policy), policy_document: Some(validate::url_encode(doc)), ..Output::none() };
        match h {
            Holder::User => out.user_name = Some(name),
            Holder::Role => out.role_name = Some(name),
        }
        Ok(out)
    }

    async fn list_inline(&self, caller: &Caller, h: Holder, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let name = Self::holder(h, &p, &mut v);
        let limit = validate::max_items(&mut v, p.max_items);
        validated(v)?;
        let after = validate::resume_after(p.marker.as_ref())?;
        let name = name.expect("validated");
        let account = caller.account();
        let (arn, inline, _) = self.holder_arn(account, h, &name)?;
        self.authorize(caller, &format!("iam:List{}Policies", h.word()), &arn)?;
        let mut names: Vec<String> = inline.into_keys().filter(|n| after.as_deref().is_none_or(|a| n.as_str() > a)).take(limit + 1).collect();
        let truncated = names.len() > limit;
        names.truncate(limit);
        Ok(Output {
            marker: truncated.then(|| marker::encode(names.last().expect("non-empty"))),
            policy_names: Some(names),
            is_truncated: Some(truncated),
            ..Output::none()
        })
    }

    async fn delete_inline(&self, caller: &Caller, h: Holder, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let name = Self::holder(h, &p, &mut v);
        let policy = validate::name(&mut v, "policyName", p.policy_name.as_ref(), 128, true).map(str::to_owned);
        validated(v)?;
        let (name, policy) = (name.expect("validated"), policy.expect("validated"));
        let account = caller.account();
        let (arn, _, _) = self.holder_arn(account, h, &name)?;
        self.authorize(caller, &format!("iam:Delete{}Policy", h.word()), &arn)?;
        let word = h.word().to_lowercase();
        self.change_holder(account, h, &name, vec![], |inline, _| {
            inline
                .remove(&policy)
                .map(|_| ())
                .ok_or_else(|| IamError::NoSuchEntity(format!("The {word} policy with name {policy} cannot be found.")))
        })
        .await?;
        Ok(Output::none())
    }

    async fn attach(&self, caller: &Caller, h: Holder, p: Params, attach: bool) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let name = Self::holder(h, &p, &mut v);
        let policy = Self::policy_arn_param(&mut v, &p);
        validated(v)?;
        let (name, policy) = (name.expect("validated"), policy.expect("validated"));
        let account = caller.account();
        let (arn, _, _) = self.holder_arn(account, h, &name)?;
        let verb = if attach { "Attach" } else { "Detach" };
        self.authorize(caller, &format!("iam:{verb}{}Policy", h.word()), &arn)?;
        let mut extra = Vec::new();
        if attach {
            let e = {
                let st = self.read();
                self.managed(&st, &policy)
            };
            match e {
                Some(e) if e.rec.account == "aws" => {}
                Some(e) if e.rec.account == account => {
                    extra.push(Write::check(tables::POLICIES, account, fold(&e.rec.policy_name), Expect::Exists));
                }
                _ => return Err(no_such_policy(&policy)),
            }
        }
        let word = h.word().to_lowercase();
        self.change_holder(account, h, &name, extra, |_, attached| {
            if attach {
                if !attached.contains(&policy) {
                    if attached.len() >= 10 {
                        return Err(IamError::LimitExceeded(format!("Cannot exceed quota for PoliciesPer{}: 10", h.word())));
                    }
                    attached.push(policy.clone());
                }
                Ok(())
            } else {
                let before = attached.len();
                attached.retain(|a| a != &policy);
                if attached.len() == before {
                    return Err(IamError::NoSuchEntity(format!("Policy {policy} was not found attached to the {word}.")));
                }
                Ok(())
            }
        })
        .await?;
        Ok(Output::none())
    }

    async fn list_attached(&self, caller: &Caller, h: Holder, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let name = Self::holder(h, &p, &mut v);
        let limit = validate::max_items(&mut v, p.max_items);
        validated(v)?;
        let after = validate::resume_after(p.marker.as_ref())?;
        let name = name.expect("validated");
        let account = caller.account();
        let (arn, _, attached) = self.holder_arn(account, h, &name)?;
        self.authorize(caller, &format!("iam:ListAttached{}Policies", h.word()), &arn)?;
        let mut list: Vec<AttachedPolicy> = attached
            .into_iter()
            .filter(|a| after.as_deref().is_none_or(|x| a.as_str() > x))
            .map(|a| AttachedPolicy { policy_name: a.rsplit('/').next().unwrap_or_default().to_string(), policy_arn: a })
            .collect();
        list.sort_by(|a, b| a.policy_arn.cmp(&b.policy_arn));
        list.truncate(limit + 1);
        let truncated = list.len() > limit;
        list.truncate(limit);
        Ok(Output {
            marker: truncated.then(|| marker::encode(&list.last().expect("non-empty").policy_arn)),
            attached_policies: Some(list),
            is_truncated: Some(truncated),
            ..Output::none()
        })
    }

    pub async fn put_user_policy(&self, c: &Caller, p: Params) -> Result<Output, IamError> {
        self.put_inline(c, Holder::User, p).await
    }
    pub async fn get_user_policy(&self, c: &Caller, p: Params) -> Result<Output, IamError> {
        self.get_inline(c, Holder::User, p).await
    }
    pub async fn list_user_policies(&self, c: &Caller, p: Params) -> Result<Output, IamError> {
        self.list_inline(c, Holder::User, p).await
    }
    pub async fn delete_user_policy(&self, c: &Caller, p: Params) -> Result<Output, IamError> {
        self.delete_inline(c, Holder::User, p).await
    }
    pub async fn put_role_policy(&self, c: &Caller, p: Params) -> Result<Output, IamError> {
        self.put_inline(c, Holder::Role, p).await
    }
    pub async fn get_role_policy(&self, c: &Caller, p: Params) -> Result<Output, IamError> {
        self.get_inline(c, Holder::Role, p).await
    }
    pub async fn list_role_policies(&self, c: &Caller, p: Params) -> Result<Output, IamError> {
        self.list_inline(c, Holder::Role, p).await
    }
    pub async fn delete_role_policy(&self, c: &Caller, p: Params) -> Result<Output, IamError> {
        self.delete_inline(c, Holder::Role, p).await
    }
    pub async fn attach_user_policy(&self, c: &Caller, p: Params) -> Result<Output, IamError> {
        self.attach(c, Holder::User, p, true).await
    }
    pub async fn detach_user_policy(&self, c: &Caller, p: Params) -> Result<Output, IamError> {
        self.attach(c, Holder::User, p, false).await
    }
    pub async fn attach_role_policy(&self, c: &Caller, p: Params) -> Result<Output, IamError> {
        self.attach(c, Holder::Role, p, true).await
    }
    pub async fn detach_role_policy(&self, c: &Caller, p: Params) -> Result<Output, IamError> {
        self.attach(c, Holder::Role, p, false).await
    }
    pub async fn list_attached_user_policies(&self, c: &Caller, p: Params) -> Result<Output, IamError> {
        self.list_attached(c, Holder::User, p).await
    }
    pub async fn list_attached_role_policies(&self, c: &Caller, p: Params) -> Result<Output, IamError> {
        self.list_attached(c, Holder::Role, p).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_policies_parse() {
        assert_eq!(super::builtin_policies().len(), super::BUILTIN.len());
    }
}
