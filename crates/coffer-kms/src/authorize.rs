//! Who may do what to a key.
//!
//! Until key-policy evaluation lands (issue "Identities, key policies and grants"), the rule is
//! the one AWS applies to a key with the default key policy and no other principals: the key's
//! own account may do everything; another account may do nothing. AWS managed keys additionally
//! refuse administrative actions, as their AWS-written key policy does.

use coffer_policy::Caller;

use crate::KmsError;
use crate::state::KeyEntry;

/// Read-only or cryptographic actions an AWS managed key's policy lets its account use.
fn managed_key_allows(action: &str) -> bool {
    action.starts_with("Describe")
        || action.starts_with("Get")
        || action.starts_with("List")
        || matches!(
            action,
            "Encrypt" | "Decrypt" | "ReEncryptFrom" | "ReEncryptTo" | "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext"
        )
}

pub(crate) fn denied(caller: &Caller, action: &str, resource: &str) -> KmsError {
    KmsError::AccessDenied(format!(
        "User: {} is not authorized to perform: kms:{action} on resource: {resource} because no resource-based policy allows the kms:{action} action",
        caller.principal.arn
    ))
}

/// Checks that `caller` may perform `kms:<action>` on `key`.
pub(crate) fn authorize(caller: &Caller, key: &KeyEntry, action: &str) -> Result<(), KmsError> {
    if caller.account() != key.rec.account {
        return Err(denied(caller, action, &key.arn));
    }
    if key.is_aws_managed() && !managed_key_allows(action) {
        return Err(denied(caller, action, &key.arn));
    }
    Ok(())
}
