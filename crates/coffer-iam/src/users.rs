//! Users: CreateUser, GetUser, ListUsers, DeleteUser, TagUser, UntagUser, ListUserTags.

use std::sync::Arc;

use coffer_crypto::random;
use coffer_policy::{Caller, PolicyKind, Principal, PrincipalKind};
use coffer_store::{Expect, Write, tables};
use coffer_util::{Timestamp, Validation, marker};

use crate::error::validated;
use crate::model::{Output, Params, Tag, User};
use crate::records::{TagRecord, UserRecord, user_arn};
use crate::{ID_ALPHABET, Iam, IamError, UserEntry, encode, fold, named, parse_stored, validate};

pub(crate) fn entry(rec: UserRecord, version: i64) -> Result<UserEntry, IamError> {
    let inline = rec.inline.values().map(|t| parse_stored(t, PolicyKind::Identity)).collect::<Result<_, _>>()?;
    Ok(UserEntry { rec, version, inline })
}

pub(crate) fn principal(rec: &UserRecord) -> Principal {
    Principal {
        kind: PrincipalKind::User,
        account: rec.account.clone(),
        arn: user_arn(&rec.account, &rec.path, &rec.user_name),
        user_id: rec.user_id.clone(),
        name: rec.user_name.clone(),
        role_arn: None,
    }
}

pub(crate) fn tags_out(tags: &[TagRecord]) -> Vec<Tag> {
    tags.iter().map(|t| Tag { key: Some(t.key.clone()), value: Some(t.value.clone()) }).collect()
}

pub(crate) fn tag_records(tags: &[Tag]) -> Vec<TagRecord> {
    tags.iter()
        .map(|t| TagRecord { key: t.key.clone().unwrap_or_default(), value: t.value.clone().unwrap_or_default() })
        .collect()
}

/// Merges `new` into `tags` (keys compare case-insensitively, as IAM's do).
pub(crate) fn merge_tags(tags: &mut Vec<TagRecord>, new: Vec<TagRecord>) -> Result<(), IamError> {
    for t in new {
        match tags.iter_mut().find(|x| x.key.eq_ignore_ascii_case(&t.key)) {
            Some(x) => *x = t,
            None => tags.push(t),
        }
    }
    if tags.len() > 50 {
        return Err(IamError::LimitExceeded("The number of tags has reached the maximum limit.".into()));
    }
    Ok(())
}

fn user_out(rec: &UserRecord) -> User {
    User {
        path: Some(rec.path.clone()),
        user_name: Some(rec.user_name.clone()),
        user_id: rec.user_id.clone(),
        arn: user_arn(&rec.account, &rec.path, &rec.user_name),
        create_date: Timestamp(rec.created_ms).iso8601(),
        tags: tags_out(&rec.tags),
    }
}

pub(crate) fn no_such_user(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
}

impl Iam {
    pub(crate) fn user(&self, account: &str, name: &str) -> Result<Arc<UserEntry>, IamError> {
        self.read().users.get(&named(account, name)).cloned().ok_or_else(|| no_such_user(name))
    }

    /// Rewrites a user with optimistic concurrency; `change` runs again after a lost race.
    pub(crate) async fn mutate_user(
        &self,
        account: &str,
        name: &str,
        extra: impl Fn(&UserRecord) -> Vec<Write>,
        mut change: impl FnMut(&UserRecord) -> Result<UserRecord, IamError>,
    ) -> Result<Arc<UserEntry>, IamError> {
        for _ in 0..8 {
            let cur = self.user(account, name)?;
            let rec = change(&cur.rec)?;
            let mut batch = vec![Write::put(tables::USERS, account, fold(name), encode(&rec), Expect::Version(cur.version))];
            batch.extend(extra(&rec));
            match self.store.write(batch).await {
                Ok(v) => {
                    let e = Arc::new(entry(rec, v[0])?);
                    self.write_state().users.insert(named(account, name), e.clone());
                    return Ok(e);
                }
                Err(coffer_store::StoreError::Conflict { index: 0 }) => self.reload_user(account, name).await?,
                Err(coffer_store::StoreError::Conflict { .. }) => {
                    return Err(IamError::NoSuchEntity("A policy named in the request no longer exists.".into()));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(IamError::Conflict(format!("User {name} is being changed concurrently; retry.")))
    }

    async fn reload_user(&self, account: &str, name: &str) -> Result<(), IamError> {
        let key = named(account, name);
        match self.get_item::<UserRecord>(tables::USERS, account, &fold(name)).await? {
            Some((rec, v)) => {
                let e = Arc::new(entry(rec, v)?);
                self.write_state().users.insert(key, e);
            }
            None => {
                self.write_state().users.remove(&key);
            }
        }
        Ok(())
    }

    /// The user a request names (spelt as it was created), or the caller's own user when it
    /// names none.
    pub(crate) fn target_user(&self, caller: &Caller, name: Option<&str>) -> Result<Option<String>, IamError> {
        match name {
            Some(n) => Ok(Some(self.user(caller.account(), n)?.rec.user_name.clone())),
            None if caller.principal.kind == PrincipalKind::User => Ok(Some(caller.principal.name.clone())),
            None if caller.principal.kind == PrincipalKind::Root => Ok(None),
            None => Err(IamError::Validation("Must specify userName when calling with non-User credentials".into())),
        }
    }

    pub async fn create_user(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let name = validate::name(&mut v, "userName", p.user_name.as_ref(), 64, true);
        let path = validate::path(&mut v, "path", p.path.as_ref());
        let tags = p.tags.unwrap_or_default();
        validate::tags(&mut v, &tags);
        validated(v)?;
        let name = name.expect("validated");
        validate::tag_rules(&tags)?;
        if p.permissions_boundary.is_some() {
            return Err(IamError::InvalidInput("Permissions boundaries are not supported by Coffer.".into()));
        }
        let account = caller.account().to_string();
        self.authorize(caller, "iam:CreateUser", &user_arn(&account, &path, name))?;
        let rec = UserRecord {
            account: account.clone(),
            user_name: name.to_string(),
            user_id: format!("AIDA{}", random::from_alphabet(ID_ALPHABET, 17)),
            path,
            created_ms: self.now_ms(),
            tags: tag_records(&tags),
            inline: Default::default(),
            attached: Vec::new(),
        };
        let n = name.to_string();
        let v = self
            .commit(vec![Write::put(tables::USERS, &account, fold(name), encode(&rec), Expect::Absent)], |_| {
                IamError::EntityAlreadyExists(format!("User with name {n} already exists."))
            })
            .await?;
        let out = user_out(&rec);
        self.write_state().users.insert(named(&account, name), Arc::new(entry(rec, v[0])?));
        Ok(Output { user: Some(out), ..Output::none() })
    }

    pub async fn get_user(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let name = validate::name(&mut v, "userName", p.user_name.as_ref(), 128, false);
        validated(v)?;
        let account = caller.account();
        match self.target_user(caller, name)? {
            Some(n) => {
                let u = self.user(account, &n)?;
                self.authorize(caller, "iam:GetUser", &user_arn(account, &u.rec.path, &u.rec.user_name))?;
                Ok(Output { user: Some(user_out(&u.rec)), ..Output::none() })
            }
            None => Ok(Output {
                // The root has no name or path (AWS omits both).
                user: Some(User {
                    path: None,
                    user_name: None,
                    user_id: account.to_string(),
                    arn: caller.principal.arn.clone(),
                    create_date: Timestamp(self.read().accounts.get(account).copied().unwrap_or(0)).iso8601(),
                    tags: Vec::new(),
                }),
                ..Output::none()
            }),
        }
    }

    pub async fn list_users(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let limit = validate::max_items(&mut v, p.max_items);
        validated(v)?;
        let after = validate::resume_after(p.marker.as_ref())?;
        let account = caller.account();
        self.authorize(caller, "iam:ListUsers", &format!("arn:aws:iam::{account}:user/"))?;
        let prefix = p.path_prefix.unwrap_or_else(|| "/".into());
        let st = self.read();
        let mut list: Vec<&UserRecord> = st
            .users
            .range((account.to_string(), String::new())..)
            .take_while(|((a, _), _)| a == account)
            .map(|(_, e)| &e.rec)
            .filter(|r| r.path.starts_with(&prefix))
            .filter(|r| after.as_deref().is_none_or(|a| r.user_name.as_str() > a))
            .take(limit + 1)
            .collect();
        let truncated = list.len() > limit;
        list.truncate(limit);
        Ok(Output {
            marker: truncated.then(|| marker::encode(&list.last().expect("non-empty").user_name)),
            // Listings carry no tags (AWS returns them from GetUser only).
            users: Some(list.into_iter().map(|u| User { tags: Vec::new(), ..user_out(u) }).collect()),
            is_truncated: Some(truncated),
            ..Output::none()
        })
    }

    pub async fn delete_user(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let name = validate::name(&mut v, "userName", p.user_name.as_ref(), 128, true);
        validated(v)?;
        let name = name.expect("validated");
        let account = caller.account();
        let u = self.user(account, name)?;
        self.authorize(caller, "iam:DeleteUser", &user_arn(account, &u.rec.path, &u.rec.user_name))?;
        let has_keys = self.read().key_records.values().any(|(k, _)| k.account_id == account && k.user_name.as_deref() == Some(name));
        if has_keys {
            return Err(IamError::DeleteConflict("Cannot delete entity, must delete access keys first.".into()));
        }
        if !u.rec.inline.is_empty() {
            return Err(IamError::DeleteConflict("Cannot delete entity, must delete policies first.".into()));
        }
        if !u.rec.attached.is_empty() {
            return Err(IamError::DeleteConflict("Cannot delete entity, must detach all policies first.".into()));
        }
        self.commit(vec![Write::delete(tables::USERS, account, fold(name), Expect::Version(u.version))], |_| {
            IamError::Conflict(format!("User {name} changed while being deleted; retry."))
        })
        .await?;
        self.write_state().users.remove(&named(account, name));
        Ok(Output::none())
    }

    pub async fn tag_user(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let name = validate::name(&mut v, "userName", p.user_name.as_ref(), 128, true);
        v.required("tags", p.tags.as_ref());
        let tags = p.tags.unwrap_or_default();
        validate::tags(&mut v, &tags);
        validated(v)?;
        validate::tag_rules(&tags)?;
        let name = name.expect("validated");
        let account = caller.account();
        let u = self.user(account, name)?;
        self.authorize(caller, "iam:TagUser", &user_arn(account, &u.rec.path, &u.rec.user_name))?;
        let new = tag_records(&tags);
        self.mutate_user(account, name, |_| vec![], |r| {
            let mut r = r.clone();
            merge_tags(&mut r.tags, new.clone())?;
            Ok(r)
        })
        .await?;
        Ok(Output::none())
    }

    pub async fn untag_user(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let name = validate::name(&mut v, "userName", p.user_name.as_ref(), 128, true);
        v.required("tagKeys", p.tag_keys.as_ref());
        validated(v)?;
        let name = name.expect("validated");
        let account = caller.account();
        let u = self.user(account, name)?;
        self.authorize(caller, "iam:UntagUser", &user_arn(account, &u.rec.path, &u.rec.user_name))?;
        let keys = p.tag_keys.unwrap_or_default();
        self.mutate_user(account, name, |_| vec![], |r| {
            let mut r = r.clone();
            r.tags.retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
            Ok(r)
        })
        .await?;
        Ok(Output::none())
    }
}
