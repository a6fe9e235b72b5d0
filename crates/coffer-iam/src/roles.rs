//! Roles: CreateRole, GetRole, ListRoles, DeleteRole, UpdateAssumeRolePolicy.

use std::sync::Arc;

use coffer_crypto::random;
use coffer_policy::{Caller, PolicyKind};
use coffer_store::{Expect, Write, tables};
use coffer_util::{Timestamp, Validation, marker};

use crate::error::validated;
use crate::model::{Output, Params, Role};
use crate::records::{RoleRecord, role_arn};
use crate::users::{tag_records, tags_out};
use crate::{ID_ALPHABET, Iam, IamError, RoleEntry, encode, fold, named, parse_stored, validate};

pub(crate) fn entry(rec: RoleRecord, version: i64) -> Result<RoleEntry, IamError> {
    let trust = parse_stored(&rec.trust_policy, PolicyKind::Trust)?;
    let inline = rec.inline.values().map(|t| parse_stored(t, PolicyKind::Identity)).collect::<Result<_, _>>()?;
    Ok(RoleEntry { rec, version, trust, inline })
}

pub(crate) fn role_out(r: &RoleRecord) -> Role {
    Role {
        path: r.path.clone(),
        role_name: r.role_name.clone(),
        role_id: r.role_id.clone(),
        arn: role_arn(&r.account, &r.path, &r.role_name),
        create_date: Timestamp(r.created_ms).iso8601(),
        assume_role_policy_document: validate::url_encode(&r.trust_policy),
        description: r.description.clone(),
        max_session_duration: r.max_session_duration,
        tags: tags_out(&r.tags),
    }
}

pub(crate) fn no_such_role(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
}

impl Iam {
    pub(crate) fn role(&self, account: &str, name: &str) -> Result<Arc<RoleEntry>, IamError> {
        self.read().roles.get(&named(account, name)).cloned().ok_or_else(|| no_such_role(name))
    }

    /// Rewrites a role with optimistic concurrency; `change` runs again after a lost race.
    pub(crate) async fn mutate_role(
        &self,
        account: &str,
        name: &str,
        extra: impl Fn(&RoleRecord) -> Vec<Write>,
        mut change: impl FnMut(&RoleRecord) -> Result<RoleRecord, IamError>,
    ) -> Result<Arc<RoleEntry>, IamError> {
        for _ in 0..8 {
            let cur = self.role(account, name)?;
            let rec = change(&cur.rec)?;
            let mut batch = vec![Write::put(tables::ROLES, account, fold(name), encode(&rec), Expect::Version(cur.version))];
            batch.extend(extra(&rec));
            match self.store.write(batch).await {
                Ok(v) => {
                    let e = Arc::new(entry(rec, v[0])?);
                    self.write_state().roles.insert(named(account, name), e.clone());
                    return Ok(e);
                }
                Err(coffer_store::StoreError::Conflict { index: 0 }) => {
                    let key = named(account, name);
                    match self.get_item::<RoleRecord>(tables::ROLES, account, &fold(name)).await? {
                        Some((r, v)) => {
                            let e = Arc::new(entry(r, v)?);
                            self.write_state().roles.insert(key, e);
                        }
                        None => {
                            self.write_state().roles.remove(&key);
                        }
                    }
                }
                Err(coffer_store::StoreError::Conflict { .. }) => {
                    return Err(IamError::NoSuchEntity("A policy named in the request no longer exists.".into()));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(IamError::Conflict(format!("Role {name} is being changed concurrently; retry.")))
    }

    pub async fn create_role(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let name = validate::name(&mut v, "roleName", p.role_name.as_ref(), 64, true);
        let path = validate::path(&mut v, "path", p.path.as_ref());
        validate::policy_text(&mut v, "assumeRolePolicyDocument", p.assume_role_policy_document.as_ref());
        if let Some(d) = &p.description {
            v.str_len("description", d, 0, 1000);
        }
        if let Some(m) = p.max_session_duration {
            v.range("maxSessionDuration", m, 3600, 43200);
        }
        let tags = p.tags.unwrap_or_default();
        validate::tags(&mut v, &tags);
        validated(v)?;
        validate::tag_rules(&tags)?;
        if p.permissions_boundary.is_some() {
            return Err(IamError::InvalidInput("Permissions boundaries are not supported by Coffer.".into()));
        }
        let name = name.expect("validated");
        let account = caller.account().to_string();
        self.authorize(caller, "iam:CreateRole", &role_arn(&account, &path, name))?;
        let trust = p.assume_role_policy_document.expect("validated");
        self.check_policy_text(&trust, PolicyKind::Trust)?;
        let rec = RoleRecord {
            account: account.clone(),
            role_name: name.to_string(),
            role_id: format!("AROA{}", random::from_alphabet(ID_ALPHABET, 17)),
            path,
            created_ms: self.now_ms(),
            description: p.description,
            max_session_duration: p.max_session_duration.unwrap_or(3600),
            trust_policy: trust,
            tags: tag_records(&tags),
            inline: Default::default(),
            attached: Vec::new(),
        };
        let n = name.to_string();
        let v = self
            .commit(vec![Write::put(tables::ROLES, &account, fold(name), encode(&rec), Expect::Absent)], |_| {
                IamError::EntityAlreadyExists(format!("Role with name {n} already exists."))
            })
            .await?;
        let out = role_out(&rec);
        self.write_state().roles.insert(named(&account, name), Arc::new(entry(rec, v[0])?));
        Ok(Output { role: Some(out), ..Output::none() })
    }

    pub async fn get_role(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let name = validate::name(&mut v, "roleName", p.role_name.as_ref(), 64, true);
        validated(v)?;
        let name = name.expect("validated");
        let account = caller.account();
        let r = self.role(account, name)?;
        self.authorize(caller, "iam:GetRole", &role_arn(account, &r.rec.path, &r.rec.role_name))?;
        Ok(Output { role: Some(role_out(&r.rec)), ..Output::none() })
    }

    pub async fn list_roles(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let limit = validate::max_items(&mut v, p.max_items);
        validated(v)?;
        let after = validate::resume_after(p.marker.as_ref())?;
        let account = caller.account();
        self.authorize(caller, "iam:ListRoles", &format!("arn:aws:iam::{account}:role/"))?;
        let prefix = p.path_prefix.unwrap_or_else(|| "/".into());
        let st = self.read();
        let mut list: Vec<&RoleRecord> = st
            .roles
            .range((account.to_string(), String::new())..)
            .take_while(|((a, _), _)| a == account)
            .map(|(_, e)| &e.rec)
            .filter(|r| r.path.starts_with(&prefix))
            .filter(|r| after.as_deref().is_none_or(|a| r.role_name.as_str() > a))
            .take(limit + 1)
            .collect();
        let truncated = list.len() > limit;
        list.truncate(limit);
        Ok(Output {
            marker: truncated.then(|| marker::encode(&list.last().expect("non-empty").role_name)),
            // Listings carry no tags (AWS returns them from GetRole only).
            roles: Some(list.into_iter().map(|r| Role { tags: Vec::new(), ..role_out(r) }).collect()),
            is_truncated: Some(truncated),
            ..Output::none()
        })
    }

    pub async fn delete_role(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let name = validate::name(&mut v, "roleName", p.role_name.as_ref(), 64, true);
        validated(v)?;
        let name = name.expect("validated");
        let account = caller.account();
        let r = self.role(account, name)?;
        self.authorize(caller, "iam:DeleteRole", &role_arn(account, &r.rec.path, &r.rec.role_name))?;
        if !r.rec.inline.is_empty() {
            return Err(IamError::DeleteConflict("Cannot delete entity, must delete policies first.".into()));
        }
        if !r.rec.attached.is_empty() {
            return Err(IamError::DeleteConflict("Cannot delete entity, must detach all policies first.".into()));
        }
        self.commit(vec![Write::delete(tables::ROLES, account, fold(name), Expect::Version(r.version))], |_| {
            IamError::Conflict(format!("Role {name} changed while being deleted; retry."))
        })
        .await?;
        self.write_state().roles.remove(&named(account, name));
        Ok(Output::none())
    }

    pub async fn update_assume_role_policy(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let name = validate::name(&mut v, "roleName", p.role_name.as_ref(), 64, true);
        validate::policy_text(&mut v, "policyDocument", p.policy_document.as_ref());
        validated(v)?;
        let name = name.expect("validated");
        let account = caller.account();
        let r = self.role(account, name)?;
        self.authorize(caller, "iam:UpdateAssumeRolePolicy", &role_arn(account, &r.rec.path, &r.rec.role_name))?;
        let doc = p.policy_document.expect("validated");
        self.check_policy_text(&doc, PolicyKind::Trust)?;
        self.mutate_role(account, name, |_| vec![], |r| {
            let mut r = r.clone();
            r.trust_policy = doc.clone();
            Ok(r)
        })
        .await?;
        Ok(Output::none())
    }
}
