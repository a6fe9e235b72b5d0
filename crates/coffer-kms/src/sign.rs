//! Asymmetric and HMAC operations: Sign, Verify, GetPublicKey, GenerateMac, VerifyMac,
//! DeriveSharedSecret.

use coffer_crypto::asym::{SignError, digest_for};
use coffer_policy::Caller;
use coffer_util::Validation;

use crate::authorize::Req;
use crate::error::validated;
use crate::keys::{algorithms, usable, usage_is};
use crate::model::*;
use crate::state::KeyEntry;
use crate::{Kms, KmsError, validate};

const SIGNING_ALGORITHMS: &[&str] = &[
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "ECDSA_SHA_256",
    "ECDSA_SHA_384",
    "ECDSA_SHA_512",
    "SM2DSA",
    "ML_DSA_SHAKE_256",
    "ED25519_SHA_512",
    "ED25519_PH_SHA_512",
];
const MAC_ALGORITHMS: &[&str] = &["HMAC_SHA_224", "HMAC_SHA_256", "HMAC_SHA_384", "HMAC_SHA_512"];

fn material(e: &KeyEntry) -> Result<&coffer_crypto::asym::AsymKey, KmsError> {
    e.asym().ok_or_else(|| KmsError::InvalidState(format!("{} is pending import.", e.arn)))
}

fn algorithm_of_key(e: &KeyEntry, algorithm: &str) -> Result<(), KmsError> {
    let spec = coffer_crypto::asym::Spec::parse(&e.rec.key_spec);
    if spec.is_some_and(|s| s.signing_algorithms().contains(&algorithm)) {
        Ok(())
    } else {
        Err(KmsError::InvalidKeyUsage(format!("Algorithm {algorithm} is incompatible with key spec {}.", e.rec.key_spec)))
    }
}

impl Kms {
    /// Shared by Sign and Verify: validation, key, authorization, checks. Returns the key and
    /// whether the message is a digest.
    async fn sign_common(&self, caller: &Caller, req: &SignRequest, op: &'static str) -> Result<(std::sync::Arc<KeyEntry>, bool), KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        if v.required("message", req.message.as_ref()) {
            v.blob_len("message", req.message.as_ref().expect("checked").0.len(), 1, 4096);
        }
        if v.required("signingAlgorithm", req.signing_algorithm.as_ref()) {
            v.one_of("signingAlgorithm", req.signing_algorithm.as_deref().expect("checked"), SIGNING_ALGORITHMS);
        }
        if let Some(m) = &req.message_type {
            v.one_of("messageType", m, &["RAW", "DIGEST", "EXTERNAL_MU"]);
        }
        if op == "Verify" && v.required("signature", req.signature.as_ref()) {
            v.blob_len("signature", req.signature.as_ref().expect("checked").0.len(), 1, 6144);
        }
        validate::grant_tokens(&mut v, req.grant_tokens.as_ref());
        validated(v)?;
        self.check_grant_tokens(req.grant_tokens.as_ref())?;
        let param = key_id.expect("validated");
        let e = self.resolve(caller, param, true).await?;
        let alg = req.signing_algorithm.clone().expect("validated");
        let message_type = req.message_type.clone().unwrap_or_else(|| "RAW".into());
        self.authorize(
            caller,
            &e,
            Req::new(op)
                .grant(op)
                .param(param)
                .key("kms:SigningAlgorithm", vec![alg.clone()])
                .key("kms:MessageType", vec![message_type.clone()]),
        )?;
        usable(&e)?;
        usage_is(&e, "SIGN_VERIFY", op)?;
        algorithm_of_key(&e, &alg)?;
        let digest = match message_type.as_str() {
            "RAW" => false,
            "DIGEST" => {
                let len = req.message.as_ref().map(|m| m.0.len()).unwrap_or(0);
                let supported = !alg.starts_with("ED25519") && !alg.starts_with("ML_DSA");
                if !supported {
                    return Err(KmsError::Validation(format!("MessageType DIGEST is not supported for signing algorithm {alg}.")));
                }
                if digest_for(&alg).map(|d| d.output_len()) != Some(len) {
                    return Err(KmsError::Validation(format!("Digest is invalid length for algorithm {alg}.")));
                }
                true
            }
            _ => {
                return Err(KmsError::Validation(format!(
                    "MessageType {message_type} is not supported by Coffer for signing algorithm {alg}."
                )));
            }
        };
        if req.dry_run == Some(true) {
            return Err(KmsError::DryRunOperation);
        }
        Ok((e, digest))
    }

    pub async fn sign(&self, caller: &Caller, req: SignRequest) -> Result<SignResponse, KmsError> {
        let (e, digest) = self.sign_common(caller, &req, "Sign").await?;
        let alg = req.signing_algorithm.expect("validated");
        let message = req.message.expect("validated");
        let sig = material(&e)?.sign(&alg, message.0.expose(), digest).map_err(|err| match err {
            SignError::DigestLength => KmsError::Validation(format!("Digest is invalid length for algorithm {alg}.")),
            _ => KmsError::Internal(format!("signing with {} failed", e.arn)),
        })?;
        Ok(SignResponse { key_id: e.arn.clone(), signature: Blob(sig), signing_algorithm: alg })
    }

    pub async fn verify(&self, caller: &Caller, req: SignRequest) -> Result<VerifyResponse, KmsError> {
        let (e, digest) = self.sign_common(caller, &req, "Verify").await?;
        let alg = req.signing_algorithm.expect("validated");
        let message = req.message.expect("validated");
        let sig = req.signature.expect("validated");
        let ok = material(&e)?.verify(&alg, message.0.expose(), digest, &sig.0).map_err(|_| KmsError::InvalidSignature)?;
        if !ok {
            return Err(KmsError::InvalidSignature);
        }
        Ok(VerifyResponse { key_id: e.arn.clone(), signature_valid: true, signing_algorithm: alg })
    }

    pub async fn get_public_key(&self, caller: &Caller, req: KeyIdRequest) -> Result<GetPublicKeyResponse, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        validate::grant_tokens(&mut v, req.grant_tokens.as_ref());
        validated(v)?;
        self.check_grant_tokens(req.grant_tokens.as_ref())?;
        let param = key_id.expect("validated");
        let e = self.resolve(caller, param, true).await?;
        self.authorize(caller, &e, Req::new("GetPublicKey").grant("GetPublicKey").param(param))?;
        let spki = match e.asym() {
            Some(k) if !k.spec().is_hmac() => k.public_key_der().to_vec(),
            _ if e.is_symmetric() || e.rec.key_spec.starts_with("HMAC_") => {
                return Err(KmsError::UnsupportedOperation(format!(
                    "{} key spec is {} which is not valid for GetPublicKey.",
                    e.arn, e.rec.key_spec
                )));
            }
            _ => {
                usable(&e)?;
                return Err(KmsError::InvalidState(format!("{} is pending import.", e.arn)));
            }
        };
        match e.rec.state {
            crate::state::KeyState::Disabled => return Err(KmsError::Disabled(format!("{} is disabled.", e.arn))),
            crate::state::KeyState::PendingDeletion => return Err(crate::keys::pending_deletion(&e)),
            _ => {}
        }
        let (enc, sign, agree, _) = algorithms(&e.rec.key_spec, &e.rec.key_usage);
        Ok(GetPublicKeyResponse {
            key_id: e.arn.clone(),
            public_key: Blob(spki),
            customer_master_key_spec: e.rec.key_spec.clone(),
            key_spec: e.rec.key_spec.clone(),
            key_usage: e.rec.key_usage.clone(),
            encryption_algorithms: enc,
            signing_algorithms: sign,
            key_agreement_algorithms: agree,
        })
    }

    async fn mac_common(&self, caller: &Caller, req: &MacRequest, op: &'static str) -> Result<std::sync::Arc<KeyEntry>, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        if v.required("message", req.message.as_ref()) {
            v.blob_len("message", req.message.as_ref().expect("checked").0.len(), 1, 4096);
        }
        if v.required("macAlgorithm", req.mac_algorithm.as_ref()) {
            v.one_of("macAlgorithm", req.mac_algorithm.as_deref().expect("checked"), MAC_ALGORITHMS);
        }
        if op == "VerifyMac" && v.required("mac", req.mac.as_ref()) {
            v.blob_len("mac", req.mac.as_ref().expect("checked").0.len(), 1, 6144);
        }
        validate::grant_tokens(&mut v, req.grant_tokens.as_ref());
        validated(v)?;
        self.check_grant_tokens(req.grant_tokens.as_ref())?;
        let param = key_id.expect("validated");
        let e = self.resolve(caller, param, true).await?;
        let alg = req.mac_algorithm.clone().expect("validated");
        self.authorize(caller, &e, Req::new(op).grant(op).param(param).key("kms:MacAlgorithm", vec![alg.clone()]))?;
        usable(&e)?;
        usage_is(&e, "GENERATE_VERIFY_MAC", op)?;
        let spec = coffer_crypto::asym::Spec::parse(&e.rec.key_spec);
        if spec.and_then(|s| s.mac_algorithm()) != Some(alg.as_str()) {
            return Err(KmsError::InvalidKeyUsage(format!("Algorithm {alg} is incompatible with key spec {}.", e.rec.key_spec)));
        }
        if req.dry_run == Some(true) {
            return Err(KmsError::DryRunOperation);
        }
        Ok(e)
    }

    pub async fn generate_mac(&self, caller: &Caller, req: MacRequest) -> Result<GenerateMacResponse, KmsError> {
        let e = self.mac_common(caller, &req, "GenerateMac").await?;
        let mac = material(&e)?.mac(req.message.expect("validated").0.expose()).map_err(|_| KmsError::Internal("HMAC failed".into()))?;
        Ok(GenerateMacResponse { mac: Blob(mac), mac_algorithm: req.mac_algorithm.expect("validated"), key_id: e.arn.clone() })
    }

    pub async fn verify_mac(&self, caller: &Caller, req: MacRequest) -> Result<VerifyMacResponse, KmsError> {
        let e = self.mac_common(caller, &req, "VerifyMac").await?;
        let expected = material(&e)?.mac(req.message.expect("validated").0.expose()).map_err(|_| KmsError::Internal("HMAC failed".into()))?;
        if !coffer_crypto::digest::ct_eq(&expected, &req.mac.expect("validated").0) {
            return Err(KmsError::InvalidMac);
        }
        Ok(VerifyMacResponse { key_id: e.arn.clone(), mac_valid: true, mac_algorithm: req.mac_algorithm.expect("validated") })
    }

    pub async fn derive_shared_secret(
        &self,
        caller: &Caller,
        req: DeriveSharedSecretRequest,
    ) -> Result<DeriveSharedSecretResponse, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        if v.required("keyAgreementAlgorithm", req.key_agreement_algorithm.as_ref()) {
            v.one_of("keyAgreementAlgorithm", req.key_agreement_algorithm.as_deref().expect("checked"), &["ECDH"]);
        }
        if v.required("publicKey", req.public_key.as_ref()) {
            v.blob_len("publicKey", req.public_key.as_ref().expect("checked").0.len(), 1, 8192);
        }
        validate::grant_tokens(&mut v, req.grant_tokens.as_ref());
        validated(v)?;
        self.check_grant_tokens(req.grant_tokens.as_ref())?;
        if req.recipient.is_some() {
            return Err(KmsError::UnsupportedOperation("Recipient (Nitro Enclaves attestation) is not supported by Coffer.".into()));
        }
        let param = key_id.expect("validated");
        let e = self.resolve(caller, param, true).await?;
        self.authorize(
            caller,
            &e,
            Req::new("DeriveSharedSecret").grant("DeriveSharedSecret").param(param).key("kms:KeyAgreementAlgorithm", vec!["ECDH".into()]),
        )?;
        usable(&e)?;
        usage_is(&e, "KEY_AGREEMENT", "DeriveSharedSecret")?;
        if req.dry_run == Some(true) {
            return Err(KmsError::DryRunOperation);
        }
        let secret = material(&e)?.agree(&req.public_key.expect("validated").0).map_err(|_| KmsError::Validation(String::new()))?;
        Ok(DeriveSharedSecretResponse {
            key_id: e.arn.clone(),
            shared_secret: Plaintext(secret),
            key_agreement_algorithm: "ECDH".into(),
            key_origin: e.rec.origin.clone(),
        })
    }
}
