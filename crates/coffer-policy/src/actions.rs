//! The actions of the services Coffer implements, so that a policy naming an action that does
//! not exist (`kms:Encrpyt`) is refused instead of silently never matching.
//!
//! Only the prefixes listed here are checked; actions of other services (`ec2:*`) are accepted
//! as written, because policies are often shared with real AWS.

use crate::document::{Matcher, PolicyDocument, PolicyError};

/// KMS permissions: every API operation, with ReEncrypt split into its two permissions.
pub const KMS: &[&str] = &[
    "CancelKeyDeletion",
    "ConnectCustomKeyStore",
    "CreateAlias",
    "CreateCustomKeyStore",
    "CreateGrant",
    "CreateKey",
    "Decrypt",
    "DeleteAlias",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "DescribeCustomKeyStores",
    "DescribeKey",
    "DisableKey",
    "DisableKeyRotation",
    "DisconnectCustomKeyStore",
    "EnableKey",
    "EnableKeyRotation",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "GetKeyLastUsage",
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
    "ReEncryptFrom",
    "ReEncryptTo",
    "ReplicateKey",
    "RetireGrant",
    "RevokeGrant",
    "RotateKeyOnDemand",
    "ScheduleKeyDeletion",
    "Sign",
    "SynchronizeMultiRegionKey",
    "TagResource",
    "UntagResource",
    "UpdateAlias",
    "UpdateCustomKeyStore",
    "UpdateKeyDescription",
    "UpdatePrimaryRegion",
    "Verify",
    "VerifyMac",
];

/// STS permissions.
pub const STS: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "AssumeRoot",
    "DecodeAuthorizationMessage",
    "GetAccessKeyInfo",
    "GetCallerIdentity",
    "GetDelegatedAccessToken",
    "GetFederationToken",
    "GetServiceBearerToken",
    "GetSessionToken",
    "GetWebIdentityToken",
    "SetContext",
    "SetSourceIdentity",
    "TagSession",
];

fn known(prefix: &str) -> Option<&'static [&'static str]> {
    match prefix.to_ascii_lowercase().as_str() {
        "kms" => Some(KMS),
        "sts" => Some(STS),
        _ => None,
    }
}

/// Refuses a document naming an action of a checked service that matches no real action.
pub fn check_actions(doc: &PolicyDocument) -> Result<(), PolicyError> {
    for (i, st) in doc.statements.iter().enumerate() {
        let list = match &st.action {
            Matcher::Is(l) | Matcher::Not(l) => l,
        };
        for a in list {
            let Some((svc, name)) = a.split_once(':') else { continue };
            let Some(actions) = known(svc) else { continue };
            if !actions.iter().any(|k| crate::matching::action_match(name, k)) {
                let sid = st.sid.as_deref().map(|s| format!(" (Sid \"{s}\")")).unwrap_or_default();
                return Err(PolicyError(format!(
                    "Statement {}{sid}: {a} is not a valid action: no {svc} action matches it",
                    i + 1
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::PolicyKind;

    fn check(action: &str) -> Result<(), PolicyError> {
        let doc = PolicyDocument::parse(
            &format!(r#"{{"Statement":{{"Effect":"Allow","Action":"{action}","Resource":"*"}}}}"#),
            PolicyKind::Identity,
        )
        .unwrap();
        check_actions(&doc)
    }

    #[test]
    fn typos_are_refused_wildcards_and_other_services_accepted() {
        for ok in ["kms:Encrypt", "kms:encrypt", "kms:*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Create*", "sts:AssumeRole", "ec2:Whatever", "*"] {
            assert!(check(ok).is_ok(), "{ok}");
        }
        for bad in ["kms:Encrpyt", "kms:ReEncrypt", "kms:Foo*", "sts:AssumeRoles"] {
            let e = check(bad).unwrap_err();
            assert!(e.0.contains("is not a valid action"), "{bad}: {e}");
        }
    }
}
