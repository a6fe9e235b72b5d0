//! GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext: an asymmetric key pair generated
//! for the caller, its private key (PKCS#8 DER) returned encrypted under a symmetric KMS key with
//! the request's encryption context — a normal ciphertext blob, decryptable with Decrypt.

use coffer_crypto::EncryptionContext;
use coffer_crypto::asym::Spec;
use coffer_crypto::digest::hex;
use coffer_policy::Caller;
use coffer_util::Validation;

use crate::authorize::Req;
use crate::crypto_ops::symmetric_only;
use crate::error::validated;
use crate::keys::usable;
use crate::model::*;
use crate::{Kms, KmsError, validate};

const PAIR_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SM2",
    "ECC_NIST_EDWARDS25519",
];

impl Kms {
    pub async fn generate_data_key_pair(&self, caller: &Caller, req: GenerateDataKeyPairRequest) -> Result<GenerateDataKeyPairResponse, KmsError> {
        self.data_key_pair(caller, req, true).await
    }

    pub async fn generate_data_key_pair_without_plaintext(
        &self,
        caller: &Caller,
        req: GenerateDataKeyPairRequest,
    ) -> Result<GenerateDataKeyPairResponse, KmsError> {
        self.data_key_pair(caller, req, false).await
    }

    async fn data_key_pair(
        &self,
        caller: &Caller,
        req: GenerateDataKeyPairRequest,
        with_plaintext: bool,
    ) -> Result<GenerateDataKeyPairResponse, KmsError> {
        let op = if with_plaintext { "GenerateDataKeyPair" } else { "GenerateDataKeyPairWithoutPlaintext" };
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        if v.required("keyPairSpec", req.key_pair_spec.as_ref()) {
            v.one_of("keyPairSpec", req.key_pair_spec.as_deref().expect("checked"), PAIR_SPECS);
        }
        validate::grant_tokens(&mut v, req.grant_tokens.as_ref());
        validated(v)?;
        self.check_grant_tokens(req.grant_tokens.as_ref())?;
        if req.recipient.is_some() {
            return Err(KmsError::UnsupportedOperation("Recipient (Nitro Enclaves attestation) is not supported by Coffer.".into()));
        }
        let spec_name = req.key_pair_spec.clone().expect("validated");
        let spec = Spec::parse(&spec_name)
            .ok_or_else(|| KmsError::UnsupportedOperation(format!("KeyPairSpec {spec_name} is not supported by Coffer.")))?;
        let param = key_id.expect("validated");
        let e = self.resolve(caller, param, true).await?;
        let ec = EncryptionContext(req.encryption_context.unwrap_or_default());
        self.authorize(caller, &e, Req::new(op).grant(op).ec(&ec).param(param).key("kms:DataKeyPairSpec", vec![spec_name.clone()]))?;
        usable(&e)?;
        symmetric_only(&e, op)?;
        if req.dry_run == Some(true) {
            return Err(KmsError::DryRunOperation);
        }
        let (private, public) =
            coffer_crypto::asym::generate_pair(spec).map_err(|_| KmsError::Internal(format!("generating a {spec_name} key pair failed")))?;
        let (mid, key) = e.current().ok_or_else(|| KmsError::Internal(format!("{} has no current key material", e.arn)))?;
        let header = coffer_crypto::blob::BlobHeader { key_id: e.uuid, material_id: *mid };
        let ct = coffer_crypto::blob::encrypt(key, header, &ec, private.expose()).map_err(|_| KmsError::Internal("encryption failed".into()))?;
        Ok(GenerateDataKeyPairResponse {
            private_key_ciphertext_blob: Blob(ct),
            private_key_plaintext: with_plaintext.then_some(Plaintext(private)),
            public_key: Blob(public),
            key_id: e.arn.clone(),
            key_pair_spec: spec_name,
            key_material_id: hex(mid),
        })
    }
}
