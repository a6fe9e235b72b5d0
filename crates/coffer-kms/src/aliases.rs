//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.
//!
//! An alias is its own store item (pk `<account>:<region>`, sk = alias name), created with an
//! "absent" precondition, so uniqueness holds in the database across processes. Creating or
//! retargeting an alias also checks, in the same atomic batch, that the target key is still the
//! version that was validated — a key scheduled for deletion meanwhile cannot gain an alias.

use std::sync::Arc;

use coffer_policy::Caller;
use coffer_store::{Expect, StoreError, Write, tables};
use coffer_util::{Validation, marker, validate::is_alias_chars};

use crate::authorize::{Req, denied};
use crate::error::validated;
use crate::keys::not_pending_deletion;
use crate::model::*;
use crate::state::{AliasEntry, AliasRecord, KeyEntry, alias_arn, alias_partition};
use crate::{Kms, KmsError, encode, validate};

/// Outcome of [`Kms::write_alias`].
enum AliasWrite {
    Done,
    /// The alias row's precondition failed (it exists, or changed since it was read).
    AliasChanged,
}

const ALIAS_PATTERN: &str = "^[a-zA-Z0-9:/_-]+$";

fn alias_name<'a>(v: &mut Validation, name: Option<&'a String>) -> Option<&'a str> {
    if v.required("aliasName", name) {
        let n = name.expect("checked");
        v.str_len("aliasName", n, 1, 256);
        v.pattern("aliasName", n, is_alias_chars(n), ALIAS_PATTERN);
        Some(n.as_str())
    } else {
        None
    }
}

fn require_prefix(name: &str) -> Result<(), KmsError> {
    if name.starts_with("alias/") && name.len() > "alias/".len() {
        Ok(())
    } else {
        Err(KmsError::Validation(
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html".into(),
        ))
    }
}

fn reserved(caller: &Caller, name: &str, action: &str) -> Result<(), KmsError> {
    if name.starts_with("alias/aws/") {
        return Err(denied(caller, action, &alias_arn(&caller.region, caller.account(), name)));
    }
    Ok(())
}

/// The kind of key an alias may be moved between (same spec family and usage).
fn key_kind(e: &KeyEntry) -> (&str, &str) {
    let family = if e.rec.key_spec == "SYMMETRIC_DEFAULT" {
        "symmetric"
    } else if e.rec.key_spec.starts_with("HMAC_") {
        "hmac"
    } else {
        "asymmetric"
    };
    (family, e.rec.key_usage.as_str())
}

impl Kms {
    fn alias_entry(&self, caller: &Caller, name: &str, rec: AliasRecord, version: i64) -> Arc<AliasEntry> {
        Arc::new(AliasEntry {
            name: name.to_string(),
            account: caller.account().to_string(),
            region: caller.region.clone(),
            rec,
            version,
        })
    }

    fn check_alias_target(&self, caller: &Caller, key: &KeyEntry, exclude: Option<&str>) -> Result<(), KmsError> {
        not_pending_deletion(key)?;
        if key.is_aws_managed() {
            // AWS managed keys keep only their predefined alias.
            return Err(denied(caller, "CreateAlias", &key.arn));
        }
        let count = self
            .cache
            .aliases(&key.rec.account, &key.rec.region, Some(&key.rec.key_id))
            .iter()
            .filter(|a| Some(a.name.as_str()) != exclude)
            .count();
        if count >= self.config.max_aliases_per_key {
            return Err(KmsError::LimitExceeded(format!(
                "The request would exceed the limit of {} aliases for key {}.",
                self.config.max_aliases_per_key, key.arn
            )));
        }
        Ok(())
    }

    pub async fn create_alias(&self, caller: &Caller, req: AliasRequest) -> Result<Empty, KmsError> {
        let mut v = Validation::new();
        let name = alias_name(&mut v, req.alias_name.as_ref());
        let target = validate::key_id(&mut v, "targetKeyId", req.target_key_id.as_ref());
        validated(v)?;
        let name = name.expect("validated");
        require_prefix(name)?;
        reserved(caller, name, "CreateAlias")?;
        self.authorize_alias(caller, "CreateAlias", name)?;
        let key = self.resolve(caller, target.expect("validated"), false).await?;
        self.authorize(caller, &key, Req::new("CreateAlias"))?;
        self.check_alias_target(caller, &key, None)?;
        let now = self.clock.now().millis();
        let rec = AliasRecord { target_key_id: key.rec.key_id.clone(), created_ms: now, updated_ms: now };
        match self.write_alias(caller, name, key, Expect::Absent, rec, None).await? {
            AliasWrite::Done => Ok(Empty {}),
            AliasWrite::AliasChanged => Err(KmsError::AlreadyExists(format!(
                "An alias with the name {} already exists",
                alias_arn(&caller.region, caller.account(), name)
            ))),
        }
    }

    /// Writes an alias row together with a check that its target key is still the version
    /// that was validated. If the key changed meanwhile (a tag, a rotation, another node), it is
    /// re-read and re-validated, then the write is retried; if the alias row's precondition
    /// fails, the caller decides what that means.
    async fn write_alias(
        &self,
        caller: &Caller,
        name: &str,
        mut key: Arc<KeyEntry>,
        alias_expect: Expect,
        rec: AliasRecord,
        exclude: Option<&str>,
    ) -> Result<AliasWrite, KmsError> {
        let pk = alias_partition(caller.account(), &caller.region);
        for _ in 0..crate::MAX_ATTEMPTS {
            let res = self
                .store
                .write(vec![
                    Write::put(tables::KMS_ALIASES, &pk, name, encode(&rec), alias_expect),
                    Write::check(tables::KMS_KEYS, &key.rec.key_id, "", Expect::Version(key.version)),
                ])
                .await;
            match res {
                Ok(v) => {
                    self.cache.put_alias(self.alias_entry(caller, name, rec, v[0]));
                    return Ok(AliasWrite::Done);
                }
                Err(StoreError::Conflict { index: 0 }) => return Ok(AliasWrite::AliasChanged),
                Err(StoreError::Conflict { .. }) => match self.reload_key(&key.rec.key_id).await? {
                    Some(k) => {
                        self.check_alias_target(caller, &k, exclude)?;
                        key = k;
                    }
                    None => return Err(KmsError::NotFound(format!("Key '{}' does not exist", key.arn))),
                },
                Err(e) => return Err(e.into()),
            }
        }
        Err(KmsError::Conflict(format!("{} is being changed concurrently; retry the request.", key.arn)))
    }

    fn existing_alias(&self, caller: &Caller, name: &str) -> Result<Arc<AliasEntry>, KmsError> {
        self.cache.alias(caller.account(), &caller.region, name).ok_or_else(|| {
            KmsError::NotFound(format!("Alias {} is not found.", alias_arn(&caller.region, caller.account(), name)))
        })
    }

    pub async fn update_alias(&self, caller: &Caller, req: AliasRequest) -> Result<Empty, KmsError> {
        let mut v = Validation::new();
        let name = alias_name(&mut v, req.alias_name.as_ref());
        let target = validate::key_id(&mut v, "targetKeyId", req.target_key_id.as_ref());
        validated(v)?;
        let name = name.expect("validated");
        require_prefix(name)?;
        reserved(caller, name, "UpdateAlias")?;
        let alias = self.existing_alias(caller, name)?;
        self.authorize_alias(caller, "UpdateAlias", name)?;
        let key = self.resolve(caller, target.expect("validated"), false).await?;
        self.authorize(caller, &key, Req::new("UpdateAlias"))?;
        self.check_alias_target(caller, &key, Some(name))?;
        if let Some(old) = self.key_by_uuid(
            &coffer_crypto::random::parse_uuid(&alias.rec.target_key_id).unwrap_or_default(),
        ) {
            self.authorize(caller, &old, Req::new("UpdateAlias"))?;
            if key_kind(&old) != key_kind(&key) {
                return Err(KmsError::Validation(format!(
                    "{} is not the same type of KMS key (key spec family and key usage) as the alias's current key {}.",
                    key.arn, old.arn
                )));
            }
        }
        let rec = AliasRecord {
            target_key_id: key.rec.key_id.clone(),
            created_ms: alias.rec.created_ms,
            updated_ms: self.clock.now().millis(),
        };
        match self.write_alias(caller, name, key, Expect::Version(alias.version), rec, Some(name)).await? {
            AliasWrite::Done => Ok(Empty {}),
            AliasWrite::AliasChanged => {
                Err(KmsError::Conflict(format!("Alias {name} was changed concurrently; retry the request.")))
            }
        }
    }

    pub async fn delete_alias(&self, caller: &Caller, req: AliasRequest) -> Result<Empty, KmsError> {
        let mut v = Validation::new();
        let name = alias_name(&mut v, req.alias_name.as_ref());
        validated(v)?;
        let name = name.expect("validated");
        require_prefix(name)?;
        reserved(caller, name, "DeleteAlias")?;
        self.authorize_alias(caller, "DeleteAlias", name)?;
        let alias = self.existing_alias(caller, name)?;
        if let Some(key) =
            self.key_by_uuid(&coffer_crypto::random::parse_uuid(&alias.rec.target_key_id).unwrap_or_default())
        {
            self.authorize(caller, &key, Req::new("DeleteAlias"))?;
        }
        let pk = alias_partition(caller.account(), &caller.region);
        match self.store.write(vec![Write::delete(tables::KMS_ALIASES, &pk, name, Expect::Exists)]).await {
            Ok(_) | Err(StoreError::Conflict { .. }) => {
                self.cache.remove_alias(caller.account(), &caller.region, name);
                Ok(Empty {})
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn list_aliases(&self, caller: &Caller, req: PageRequest) -> Result<ListAliasesResponse, KmsError> {
        let mut v = Validation::new();
        validate::opt_key_id(&mut v, "keyId", req.key_id.as_ref());
        validate::page(&mut v, req.limit, req.marker.as_ref());
        validated(v)?;
        let after = validate::resume_after(req.marker.as_ref())?;
        self.authorize_account(caller, Req::new("ListAliases"), "*")?;
        let target = match &req.key_id {
            Some(k) => Some(self.resolve(caller, k, false).await?.rec.key_id.clone()),
            None => None,
        };
        let limit = req.limit.unwrap_or(100) as usize;
        let mut list: Vec<Arc<AliasEntry>> = self
            .cache
            .aliases(caller.account(), &caller.region, target.as_deref())
            .into_iter()
            .filter(|a| after.as_deref().is_none_or(|x| a.name.as_str() > x))
            .take(limit + 1)
            .collect();
        let truncated = list.len() > limit;
        list.truncate(limit);
        let next_marker = truncated.then(|| marker::encode(&list.last().expect("non-empty").name));
        let aliases = list
            .iter()
            .map(|a| AliasListEntry {
                alias_name: a.name.clone(),
                alias_arn: alias_arn(&a.region, &a.account, &a.name),
                target_key_id: a.rec.target_key_id.clone(),
                creation_date: Date(coffer_util::Timestamp(a.rec.created_ms)),
                last_updated_date: Date(coffer_util::Timestamp(a.rec.updated_ms)),
            })
            .collect();
        Ok(ListAliasesResponse { aliases, next_marker, truncated })
    }
}
