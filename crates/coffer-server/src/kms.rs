//! The KMS operation table: `TrentService.<Op>` → a coffer-kms method. Nothing else.

use coffer_kms::{Kms, KmsError};
use coffer_policy::Caller;

use crate::error::WireError;
use crate::protocol::json::call;

/// The awsJson target prefix of KMS.
pub const TARGET_PREFIX: &str = "TrentService.";

/// Operations of botocore's kms model that this release does not implement yet. They answer
/// `UnsupportedOperationException` (rather than "unknown operation") so a client can tell.
pub const NOT_YET: &[&str] = &[
    "ConnectCustomKeyStore",
    "CreateCustomKeyStore",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "DescribeCustomKeyStores",
    "DisconnectCustomKeyStore",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "GetKeyLastUsage",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ReplicateKey",
    "Sign",
    "UpdateCustomKeyStore",
    "UpdatePrimaryRegion",
    "Verify",
    "VerifyMac",
];

/// Every operation this release implements (the coverage test compares it with botocore).
pub const IMPLEMENTED: &[&str] = &[
    "CancelKeyDeletion",
    "CreateAlias",
    "CreateGrant",
    "CreateKey",
    "Decrypt",
    "DeleteAlias",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "EnableKey",
    "EnableKeyRotation",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "ListAliases",
    "ListGrants",
    "ListKeyPolicies",
    "ListKeyRotations",
    "ListKeys",
    "ListResourceTags",
    "ListRetirableGrants",
    "PutKeyPolicy",
    "ReEncrypt",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateKeyDescription",
];

pub async fn dispatch(kms: &Kms, c: &Caller, op: &str, body: &[u8]) -> Result<Vec<u8>, WireError> {
    match op {
        "CancelKeyDeletion" => call(body, |r| kms.cancel_key_deletion(c, r)).await,
        "CreateAlias" => call(body, |r| kms.create_alias(c, r)).await,
        "CreateGrant" => call(body, |r| kms.create_grant(c, r)).await,
        "CreateKey" => call(body, |r| kms.create_key(c, r)).await,
        "Decrypt" => call(body, |r| kms.decrypt(c, r)).await,
        "DeleteAlias" => call(body, |r| kms.delete_alias(c, r)).await,
        "DescribeKey" => call(body, |r| kms.describe_key(c, r)).await,
        "DisableKey" => call(body, |r| kms.disable_key(c, r)).await,
        "DisableKeyRotation" => call(body, |r| kms.disable_key_rotation(c, r)).await,
        "EnableKey" => call(body, |r| kms.enable_key(c, r)).await,
        "EnableKeyRotation" => call(body, |r| kms.enable_key_rotation(c, r)).await,
        "Encrypt" => call(body, |r| kms.encrypt(c, r)).await,
        "GenerateDataKey" => call(body, |r| kms.generate_data_key(c, r)).await,
        "GenerateDataKeyWithoutPlaintext" => call(body, |r| kms.generate_data_key_without_plaintext(c, r)).await,
        "GenerateRandom" => call(body, |r| kms.generate_random(c, r)).await,
        "GetKeyPolicy" => call(body, |r| kms.get_key_policy(c, r)).await,
        "GetKeyRotationStatus" => call(body, |r| kms.get_key_rotation_status(c, r)).await,
        "ListAliases" => call(body, |r| kms.list_aliases(c, r)).await,
        "ListGrants" => call(body, |r| kms.list_grants(c, r)).await,
        "ListKeyPolicies" => call(body, |r| kms.list_key_policies(c, r)).await,
        "ListKeyRotations" => call(body, |r| kms.list_key_rotations(c, r)).await,
        "ListKeys" => call(body, |r| kms.list_keys(c, r)).await,
        "ListResourceTags" => call(body, |r| kms.list_resource_tags(c, r)).await,
        "ListRetirableGrants" => call(body, |r| kms.list_retirable_grants(c, r)).await,
        "PutKeyPolicy" => call(body, |r| kms.put_key_policy(c, r)).await,
        "RetireGrant" => call(body, |r| kms.retire_grant(c, r)).await,
        "RevokeGrant" => call(body, |r| kms.revoke_grant(c, r)).await,
        "ReEncrypt" => call(body, |r| kms.re_encrypt(c, r)).await,
        "RotateKeyOnDemand" => call(body, |r| kms.rotate_key_on_demand(c, r)).await,
        "ScheduleKeyDeletion" => call(body, |r| kms.schedule_key_deletion(c, r)).await,
        "TagResource" => call(body, |r| kms.tag_resource(c, r)).await,
        "UntagResource" => call(body, |r| kms.untag_resource(c, r)).await,
        "UpdateAlias" => call(body, |r| kms.update_alias(c, r)).await,
        "UpdateKeyDescription" => call(body, |r| kms.update_key_description(c, r)).await,
        op if NOT_YET.contains(&op) => Err(KmsError::UnsupportedOperation(format!(
            "{op} is not implemented by this Coffer release."
        ))
        .into()),
        op => Err(WireError::bad_request("UnknownOperationException", format!("Unknown operation {TARGET_PREFIX}{op}"))),
    }
}
