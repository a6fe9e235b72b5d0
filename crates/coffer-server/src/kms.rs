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
    "DescribeCustomKeyStores",
    "DisconnectCustomKeyStore",
    "GetKeyLastUsage",
    "ReplicateKey",
    "UpdateCustomKeyStore",
    "UpdatePrimaryRegion",
];

/// Every operation this release implements (the coverage test compares it with botocore).
pub const IMPLEMENTED: &[&str] = &[
    "CancelKeyDeletion",
    "CreateAlias",
    "CreateGrant",
    "CreateKey",
    "Decrypt",
    "DeleteAlias",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "EnableKey",
    "EnableKeyRotation",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "GetKeyPolicy",
    "GetKeyRotationStatus",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
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
    "Sign",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateKeyDescription",
    "Verify",
    "VerifyMac",
];

pub async fn dispatch(kms: &Kms, c: &Caller, op: &str, body: &[u8]) -> Result<Vec<u8>, WireError> {
    match op {
        "CancelKeyDeletion" => call(body, |r| kms.cancel_key_deletion(c, r)).await,
        "CreateAlias" => call(body, |r| kms.create_alias(c, r)).await,
        "CreateGrant" => call(body, |r| kms.create_grant(c, r)).await,
        "CreateKey" => call(body, |r| kms.create_key(c, r)).await,
        "Decrypt" => call(body, |r| kms.decrypt(c, r)).await,
        "DeleteAlias" => call(body, |r| kms.delete_alias(c, r)).await,
        "DeleteImportedKeyMaterial" => call(body, |r| kms.delete_imported_key_material(c, r)).await,
        "DeriveSharedSecret" => call(body, |r| kms.derive_shared_secret(c, r)).await,
        "DescribeKey" => call(body, |r| kms.describe_key(c, r)).await,
        "DisableKey" => call(body, |r| kms.disable_key(c, r)).await,
        "DisableKeyRotation" => call(body, |r| kms.disable_key_rotation(c, r)).await,
        "EnableKey" => call(body, |r| kms.enable_key(c, r)).await,
        "EnableKeyRotation" => call(body, |r| kms.enable_key_rotation(c, r)).await,
        "Encrypt" => call(body, |r| kms.encrypt(c, r)).await,
        "GenerateDataKey" => call(body, |r| kms.generate_data_key(c, r)).await,
        "GenerateDataKeyPair" => call(body, |r| kms.generate_data_key_pair(c, r)).await,
        "GenerateDataKeyPairWithoutPlaintext" => call(body, |r| kms.generate_data_key_pair_without_plaintext(c, r)).await,
        "GenerateDataKeyWithoutPlaintext" => call(body, |r| kms.generate_data_key_without_plaintext(c, r)).await,
        "GenerateMac" => call(body, |r| kms.generate_mac(c, r)).await,
        "GenerateRandom" => call(body, |r| kms.generate_random(c, r)).await,
        "GetKeyPolicy" => call(body, |r| kms.get_key_policy(c, r)).await,
        "GetKeyRotationStatus" => call(body, |r| kms.get_key_rotation_status(c, r)).await,
        "GetParametersForImport" => call(body, |r| kms.get_parameters_for_import(c, r)).await,
        "GetPublicKey" => call(body, |r| kms.get_public_key(c, r)).await,
        "ImportKeyMaterial" => call(body, |r| kms.import_key_material(c, r)).await,
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
        "Sign" => call(body, |r| kms.sign(c, r)).await,
        "TagResource" => call(body, |r| kms.tag_resource(c, r)).await,
        "UntagResource" => call(body, |r| kms.untag_resource(c, r)).await,
        "UpdateAlias" => call(body, |r| kms.update_alias(c, r)).await,
        "UpdateKeyDescription" => call(body, |r| kms.update_key_description(c, r)).await,
        "Verify" => call(body, |r| kms.verify(c, r)).await,
        "VerifyMac" => call(body, |r| kms.verify_mac(c, r)).await,
        op if NOT_YET.contains(&op) => Err(KmsError::UnsupportedOperation(format!(
            "{op} is not implemented by this Coffer release."
        ))
        .into()),
        op => Err(WireError::bad_request("UnknownOperationException", format!("Unknown operation {TARGET_PREFIX}{op}"))),
    }
}
