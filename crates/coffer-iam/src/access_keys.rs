//! Access keys: CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey.
//!
//! Every change is applied to the in-memory credential table right after it commits, so an
//! access key that is deactivated or deleted fails on the very next request.

use std::sync::Arc;

use coffer_policy::Caller;
use coffer_store::{Expect, Write, tables};
use coffer_util::{Timestamp, Validation};

use crate::error::validated;
use crate::model::{AccessKey, AccessKeyMetadata, Output, Params};
use crate::records::{AccessKeyRecord, user_arn};
use crate::{Iam, IamError, encode, fold, validate};

/// AWS's quota: two access keys per user (and per root).
const MAX_KEYS: usize = 2;

fn no_such_key(id: &str) -> IamError {
    IamError::NoSuchEntity(format!("The Access Key with id {id} cannot be found."))
}

impl Iam {
    /// The IAM resource ARN of a user's keys (the root's: the account root ARN).
    fn key_owner_arn(&self, account: &str, user: Option<&str>) -> Result<String, IamError> {
        match user {
            Some(u) => {
                let e = self.user(account, u)?;
                Ok(user_arn(account, &e.rec.path, &e.rec.user_name))
            }
            None => Ok(format!("arn:aws:iam::{account}:root")),
        }
    }

    fn keys_of(&self, account: &str, user: Option<&str>) -> Vec<(AccessKeyRecord, i64)> {
        self.read()
            .key_records
            .values()
            .filter(|(k, _)| k.account_id == account && k.user_name.as_deref() == user)
            .cloned()
            .collect()
    }

    pub async fn create_access_key(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let name = validate::name(&mut v, "userName", p.user_name.as_ref(), 128, false);
        validated(v)?;
        let account = caller.account();
        let user = self.target_user(caller, name)?;
        let user = user.as_deref();
        let owner = self.key_owner_arn(account, user)?;
        self.authorize(caller, "iam:CreateAccessKey", &owner)?;
        if self.keys_of(account, user).len() >= MAX_KEYS {
            return Err(IamError::LimitExceeded(format!("Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS}")));
        }
        let (rec, key) = self.new_access_key(account, user);
        let mut batch = vec![Write::put(tables::ACCESS_KEYS, &rec.access_key_id, "", encode(&rec), Expect::Absent)];
        if let Some(u) = user {
            let e = self.user(account, u)?;
            batch.push(Write::check(tables::USERS, account, fold(u), Expect::Version(e.version)));
        }
        self.commit(batch, |_| IamError::Conflict("The user changed while the key was created; retry.".into())).await?;
        {
            let mut st = self.write_state();
            let cred = self.key_credential(&rec, &st)?;
            st.keys.insert(rec.access_key_id.clone(), Arc::new(cred));
            st.key_records.insert(rec.access_key_id.clone(), (rec.clone(), 1));
        }
        let secret = String::from_utf8_lossy(key.secret_access_key.expose()).into_owned();
        Ok(Output {
            access_key: Some(AccessKey {
                user_name: user.unwrap_or_default().to_string(),
                access_key_id: rec.access_key_id,
                status: rec.status,
                secret_access_key: secret,
                create_date: Timestamp(rec.created_ms).iso8601(),
            }),
            ..Output::none()
        })
    }

    pub async fn list_access_keys(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        let name = validate::name(&mut v, "userName", p.user_name.as_ref(), 128, false);
        validate::max_items(&mut v, p.max_items);
        validated(v)?;
        let account = caller.account();
        let user = self.target_user(caller, name)?;
        let user = user.as_deref();
        let owner = self.key_owner_arn(account, user)?;
        self.authorize(caller, "iam:ListAccessKeys", &owner)?;
        let mut keys = self.keys_of(account, user);
        keys.sort_by_key(|(k, _)| k.created_ms);
        Ok(Output {
            access_key_metadata: Some(
                keys.into_iter()
                    .map(|(k, _)| AccessKeyMetadata {
                        user_name: k.user_name.unwrap_or_default(),
                        access_key_id: k.access_key_id,
                        status: k.status,
                        create_date: Timestamp(k.created_ms).iso8601(),
                    })
                    .collect(),
            ),
            is_truncated: Some(false),
            ..Output::none()
        })
    }

    /// The key a request names, checked to belong to the named (or calling) user.
    fn owned_key(&self, caller: &Caller, p: &Params, action: &str) -> Result<(AccessKeyRecord, i64), IamError> {
        let mut v = Validation::new();
        let name = validate::name(&mut v, "userName", p.user_name.as_ref(), 128, false);
        if v.required("accessKeyId", p.access_key_id.as_ref()) {
            let id = p.access_key_id.as_ref().expect("checked");
            v.str_len("accessKeyId", id, 16, 128);
            v.pattern("accessKeyId", id, id.bytes().all(|b| b.is_ascii_alphanumeric()), "[\\w]+");
        }
        validated(v)?;
        let id = p.access_key_id.as_deref().expect("validated");
        let account = caller.account();
        let user = self.target_user(caller, name)?;
        let user = user.as_deref();
        let owner = self.key_owner_arn(account, user)?;
        self.authorize(caller, action, &owner)?;
        let found = self.read().key_records.get(id).cloned();
        match found {
            Some((k, v)) if k.account_id == account && k.user_name.as_deref() == user => Ok((k, v)),
            _ => Err(no_such_key(id)),
        }
    }

    pub async fn update_access_key(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let (mut rec, version) = self.owned_key(caller, &p, "iam:UpdateAccessKey")?;
        let mut v = Validation::new();
        if v.required("status", p.status.as_ref()) {
            v.one_of("status", p.status.as_deref().expect("checked"), &["Active", "Inactive", "Expired"]);
        }
        validated(v)?;
        let status = p.status.expect("validated");
        if status == "Expired" {
            return Err(IamError::InvalidInput("Status Expired cannot be set.".into()));
        }
        rec.status = status;
        let id = rec.access_key_id.clone();
        let v = self
            .commit(vec![Write::put(tables::ACCESS_KEYS, &id, "", encode(&rec), Expect::Version(version))], |_| {
                IamError::Conflict(format!("Access key {id} changed concurrently; retry."))
            })
            .await?;
        let mut st = self.write_state();
        let cred = self.key_credential(&rec, &st)?;
        st.keys.insert(id.clone(), Arc::new(cred));
        st.key_records.insert(id, (rec, v[0]));
        Ok(Output::none())
    }

    pub async fn delete_access_key(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let (rec, version) = self.owned_key(caller, &p, "iam:DeleteAccessKey")?;
        let id = rec.access_key_id.clone();
        self.commit(vec![Write::delete(tables::ACCESS_KEYS, &id, "", Expect::Version(version))], |_| {
            IamError::Conflict(format!("Access key {id} changed concurrently; retry."))
        })
        .await?;
        let mut st = self.write_state();
        st.keys.remove(&id);
        st.key_records.remove(&id);
        Ok(Output::none())
    }
}
