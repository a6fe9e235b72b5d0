//! Target `json_request`: awsJson1.1 request decoding (coffer-server `protocol::json::decode`,
//! the function every KMS and SSM operation's body goes through) into each request type the
//! operation tables (coffer-server `kms.rs`, `ssm.rs`) hand to the services.
//!
//! Input format: `<X-Amz-Target>\n<body>`, e.g. `TrentService.Encrypt\n{"KeyId": ...}`. A target
//! that names no known operation picks a request type from its bytes, so every type stays
//! reachable whatever the fuzzer does to the first line.
//!
//! Checks: decoding never panics; every failure is a 400 `SerializationException` whose error body
//! serialises; a body of only whitespace decodes (as `{}`).

use coffer_kms::model as kms;
use coffer_server::protocol::json::decode;
use coffer_ssm::model as ssm;
use serde::de::DeserializeOwned;

fn check<T: DeserializeOwned>(body: &[u8]) {
    match decode::<T>(body) {
        Ok(_) => {}
        Err(e) => {
            assert_eq!(e.code, "SerializationException");
            assert_eq!(e.status.as_u16(), 400);
            assert!(!body.iter().all(u8::is_ascii_whitespace), "an empty body must decode");
            let _ = e.json_body();
        }
    }
}

macro_rules! operations {
    ($($target:literal => $ty:ty,)*) => {
        /// Every awsJson operation Coffer implements, by `X-Amz-Target`.
        pub const TARGETS: &[&str] = &[$($target),*];

        fn dispatch(index: usize, body: &[u8]) {
            let mut i = 0usize;
            $(
                if i == index {
                    return check::<$ty>(body);
                }
                i += 1;
            )*
            let _ = i;
        }
    };
}

operations! {
    "TrentService.CancelKeyDeletion" => kms::KeyIdRequest,
    "TrentService.CreateAlias" => kms::AliasRequest,
    "TrentService.CreateGrant" => kms::CreateGrantRequest,
    "TrentService.CreateKey" => kms::CreateKeyRequest,
    "TrentService.Decrypt" => kms::DecryptRequest,
    "TrentService.DeleteAlias" => kms::AliasRequest,
    "TrentService.DeleteImportedKeyMaterial" => kms::DeleteImportedKeyMaterialRequest,
    "TrentService.DeriveSharedSecret" => kms::DeriveSharedSecretRequest,
    "TrentService.DescribeKey" => kms::KeyIdRequest,
    "TrentService.DisableKey" => kms::KeyIdRequest,
    "TrentService.DisableKeyRotation" => kms::KeyIdRequest,
    "TrentService.EnableKey" => kms::KeyIdRequest,
    "TrentService.EnableKeyRotation" => kms::EnableKeyRotationRequest,
    "TrentService.Encrypt" => kms::EncryptRequest,
    "TrentService.GenerateDataKey" => kms::GenerateDataKeyRequest,
    "TrentService.GenerateDataKeyPair" => kms::GenerateDataKeyPairRequest,
    "TrentService.GenerateDataKeyPairWithoutPlaintext" => kms::GenerateDataKeyPairRequest,
    "TrentService.GenerateDataKeyWithoutPlaintext" => kms::GenerateDataKeyRequest,
    "TrentService.GenerateMac" => kms::MacRequest,
    "TrentService.GenerateRandom" => kms::GenerateRandomRequest,
    "TrentService.GetKeyPolicy" => kms::GetKeyPolicyRequest,
    "TrentService.GetKeyRotationStatus" => kms::KeyIdRequest,
    "TrentService.GetParametersForImport" => kms::GetParametersForImportRequest,
    "TrentService.GetPublicKey" => kms::KeyIdRequest,
    "TrentService.ImportKeyMaterial" => kms::ImportKeyMaterialRequest,
    "TrentService.ListAliases" => kms::PageRequest,
    "TrentService.ListGrants" => kms::ListGrantsRequest,
    "TrentService.ListKeyPolicies" => kms::PageRequest,
    "TrentService.ListKeyRotations" => kms::ListKeyRotationsRequest,
    "TrentService.ListKeys" => kms::PageRequest,
    "TrentService.ListResourceTags" => kms::PageRequest,
    "TrentService.ListRetirableGrants" => kms::ListRetirableGrantsRequest,
    "TrentService.PutKeyPolicy" => kms::PutKeyPolicyRequest,
    "TrentService.ReEncrypt" => kms::ReEncryptRequest,
    "TrentService.RetireGrant" => kms::RetireGrantRequest,
    "TrentService.RevokeGrant" => kms::RevokeGrantRequest,
    "TrentService.RotateKeyOnDemand" => kms::KeyIdRequest,
    "TrentService.ScheduleKeyDeletion" => kms::ScheduleKeyDeletionRequest,
    "TrentService.Sign" => kms::SignRequest,
    "TrentService.TagResource" => kms::TagResourceRequest,
    "TrentService.UntagResource" => kms::UntagResourceRequest,
    "TrentService.UpdateAlias" => kms::AliasRequest,
    "TrentService.UpdateKeyDescription" => kms::UpdateKeyDescriptionRequest,
    "TrentService.Verify" => kms::SignRequest,
    "TrentService.VerifyMac" => kms::MacRequest,
    "AmazonSSM.AddTagsToResource" => ssm::TagsRequest,
    "AmazonSSM.DeleteParameter" => ssm::DeleteParameterRequest,
    "AmazonSSM.DeleteParameters" => ssm::DeleteParametersRequest,
    "AmazonSSM.DescribeParameters" => ssm::DescribeParametersRequest,
    "AmazonSSM.GetParameter" => ssm::GetParameterRequest,
    "AmazonSSM.GetParameterHistory" => ssm::GetParameterHistoryRequest,
    "AmazonSSM.GetParameters" => ssm::GetParametersRequest,
    "AmazonSSM.GetParametersByPath" => ssm::GetParametersByPathRequest,
    "AmazonSSM.LabelParameterVersion" => ssm::LabelRequest,
    "AmazonSSM.ListTagsForResource" => ssm::TagsRequest,
    "AmazonSSM.PutParameter" => ssm::PutParameterRequest,
    "AmazonSSM.RemoveTagsFromResource" => ssm::TagsRequest,
    "AmazonSSM.UnlabelParameterVersion" => ssm::LabelRequest,
}

pub fn run(data: &[u8]) {
    let (target, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b""[..], data),
    };
    let index = TARGETS.iter().position(|t| t.as_bytes() == target).unwrap_or_else(|| {
        target.iter().fold(0usize, |a, &b| a.wrapping_mul(31).wrapping_add(usize::from(b))) % TARGETS.len()
    });
    dispatch(index, body);
}
