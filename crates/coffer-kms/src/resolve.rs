//! The forms a `KeyId` parameter takes, and resolving them to a key.
//!
//! AWS accepts a key id, a key ARN, an alias name and an alias ARN — but not every form in every
//! operation (aliases only where a key is *used*, not where it is *administered*). Errors differ
//! by form and are reproduced here: a malformed id is "Invalid keyId", a well-formed id that does
//! not exist is "Key '<arn>' does not exist", an ARN of another region is "Invalid arn <region>".

use std::sync::Arc;

use coffer_policy::Caller;

use crate::state::{KeyEntry, alias_arn, key_arn};
use crate::{Kms, KmsError};

enum KeyRef<'a> {
    Key { account: &'a str, id: &'a str },
    Alias { account: &'a str, name: &'a str },
}

fn invalid_key_id(s: &str) -> KmsError {
    KmsError::NotFound(format!("Invalid keyId '{s}'"))
}

fn is_key_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

/// Splits `arn:aws:kms:<region>:<account>:<resource>`.
fn parse_kms_arn(s: &str) -> Option<(&str, &str, &str)> {
    let mut p = s.splitn(6, ':');
    let (arn, partition, service) = (p.next()?, p.next()?, p.next()?);
    let (region, account, resource) = (p.next()?, p.next()?, p.next()?);
    if arn != "arn" || partition.is_empty() || service != "kms" || region.is_empty() {
        return None;
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((region, account, resource))
}

fn parse<'a>(caller: &'a Caller, s: &'a str, aliases: bool) -> Result<KeyRef<'a>, KmsError> {
    if s.starts_with("arn:") {
        let (region, account, resource) = parse_kms_arn(s).ok_or_else(|| invalid_key_id(s))?;
        if region != caller.region {
            return Err(KmsError::NotFound(format!("Invalid arn {region}")));
        }
        if let Some(id) = resource.strip_prefix("key/") {
            return if is_key_uuid(id) { Ok(KeyRef::Key { account, id }) } else { Err(invalid_key_id(s)) };
        }
        if resource.starts_with("alias/") {
            if !aliases {
                return Err(KmsError::InvalidArn("Key Aliases are not supported for this operation.".into()));
            }
            return Ok(KeyRef::Alias { account, name: resource });
        }
        return Err(invalid_key_id(s));
    }
    if s.starts_with("alias/") {
        if !aliases {
            return Err(invalid_key_id(s));
        }
        return Ok(KeyRef::Alias { account: caller.account(), name: s });
    }
    if is_key_uuid(s) { Ok(KeyRef::Key { account: caller.account(), id: s }) } else { Err(invalid_key_id(s)) }
}

impl Kms {
    /// Resolves a `KeyId` parameter. `aliases` says whether alias names and ARNs are accepted.
    /// A predefined AWS alias (`alias/aws/s3` ...) of the caller's own account that does not exist
    /// yet creates its AWS managed key, as in AWS.
    pub(crate) async fn resolve(&self, caller: &Caller, key_id: &str, aliases: bool) -> Result<Arc<KeyEntry>, KmsError> {
        let region = caller.region.as_str();
        let entry = match parse(caller, key_id, aliases)? {
            KeyRef::Key { account, id } => self.key_in(account, region, id),
            KeyRef::Alias { account, name } => match self.cache.alias(account, region, name) {
                Some(a) => self.key_in(account, region, &a.rec.target_key_id),
                None if account == caller.account() && crate::managed::is_predefined(name) => {
                    self.create_managed_key(caller, name).await
                }
                None => Err(KmsError::NotFound(format!("Alias {} is not found.", alias_arn(region, account, name)))),
            },
        }?;
        caller.note_resource(&entry.arn);
        Ok(entry)
    }

    /// Like [`Kms::resolve`] for the key's own account, without the ARN-region check: the key a
    /// ciphertext blob names.
    pub(crate) fn key_by_uuid(&self, uuid: &[u8; 16]) -> Option<Arc<KeyEntry>> {
        self.cache.key(uuid)
    }

    fn key_in(&self, account: &str, region: &str, id: &str) -> Result<Arc<KeyEntry>, KmsError> {
        let not_found = || KmsError::NotFound(format!("Key '{}' does not exist", key_arn(region, account, id)));
        let uuid = coffer_crypto::random::parse_uuid(id).ok_or_else(not_found)?;
        match self.cache.key(&uuid) {
            Some(e) if e.rec.account == account && e.rec.region == region => Ok(e),
            _ => Err(not_found()),
        }
    }
}
