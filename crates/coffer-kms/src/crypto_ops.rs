//! The symmetric cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey,
//! GenerateDataKeyWithoutPlaintext, GenerateRandom.
//!
//! These are the hot path: after validation they read only the in-memory cache and call
//! aws-lc-rs. The checks run in AWS's order — request validation, key resolution, key state, key
//! usage, then DryRun — so a dry run answers exactly what the real call would.

use std::sync::Arc;

use coffer_crypto::digest::hex;
use coffer_crypto::{EncryptionContext, SecretBytes, blob};
use coffer_policy::Caller;
use coffer_util::Validation;

use crate::authorize::Req;
use crate::error::validated;
use crate::keys::usable;
use crate::model::*;
use crate::state::KeyEntry;
use crate::{Kms, KmsError, validate};

const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";

/// The key may be used with `op` and `algorithm`: symmetric keys take SYMMETRIC_DEFAULT (the
/// default), RSA encryption keys one of the RSAES_OAEP algorithms (required).
pub(crate) fn check_usage(e: &KeyEntry, op: &str, algorithm: Option<&str>) -> Result<(), KmsError> {
    crate::keys::usage_is(e, "ENCRYPT_DECRYPT", op)?;
    let a = algorithm.unwrap_or(SYMMETRIC_DEFAULT);
    let ok = if e.is_symmetric() { a == SYMMETRIC_DEFAULT } else { matches!(a, "RSAES_OAEP_SHA_1" | "RSAES_OAEP_SHA_256") };
    if ok {
        Ok(())
    } else {
        Err(KmsError::InvalidKeyUsage(format!("Algorithm {a} is incompatible with key spec {}.", e.rec.key_spec)))
    }
}

/// Data keys come only from symmetric encryption keys.
pub(crate) fn symmetric_only(e: &KeyEntry, op: &str) -> Result<(), KmsError> {
    crate::keys::usage_is(e, "ENCRYPT_DECRYPT", op)?;
    if e.is_symmetric() {
        Ok(())
    } else {
        Err(KmsError::InvalidKeyUsage(format!("{} key spec is {} which is not valid for {op}.", e.arn, e.rec.key_spec)))
    }
}

/// Asymmetric keys take no encryption context.
fn no_context(e: &KeyEntry, ec: &EncryptionContext) -> Result<(), KmsError> {
    if !e.is_symmetric() && !ec.0.is_empty() {
        return Err(KmsError::Validation(format!(
            "EncryptionContext is not supported with asymmetric KMS key {} (key spec {}).",
            e.arn, e.rec.key_spec
        )));
    }
    Ok(())
}

/// A ciphertext made by [`seal_any`]: bytes, algorithm, and (symmetric keys) the material id.
struct Sealed(Vec<u8>, String, Option<[u8; 32]>);

/// Encrypts under `e`: the blob format for symmetric keys, raw RSA-OAEP for RSA keys.
fn seal_any(e: &KeyEntry, ec: &EncryptionContext, algorithm: Option<&str>, plaintext: &[u8]) -> Result<Sealed, KmsError> {
    if e.is_symmetric() {
        let (ct, mid) = seal(e, ec, plaintext)?;
        return Ok(Sealed(ct, SYMMETRIC_DEFAULT.into(), Some(mid)));
    }
    let alg = algorithm.unwrap_or_default();
    let asym = e.asym().ok_or_else(|| KmsError::Internal(format!("{} has no key material", e.arn)))?;
    let max = coffer_crypto::asym::oaep_max_plaintext(asym.spec().rsa_bytes(), alg);
    if plaintext.len() > max {
        return Err(KmsError::Validation(format!(
            "Algorithm {alg} and key spec {} cannot encrypt data larger than {max} bytes.",
            e.rec.key_spec
        )));
    }
    let ct = coffer_crypto::asym::rsa_encrypt(asym.public_key_der(), alg, plaintext)
        .map_err(|_| KmsError::Internal("RSA encryption failed".into()))?;
    Ok(Sealed(ct, alg.to_string(), None))
}

fn context(ec: Option<EncryptionContextMap>) -> EncryptionContext {
    EncryptionContext(ec.unwrap_or_default())
}

fn no_recipient(r: &Option<serde_json::Value>) -> Result<(), KmsError> {
    match r {
        Some(_) => Err(KmsError::UnsupportedOperation(
            "Recipient (Nitro Enclaves attestation) is not supported by Coffer.".into(),
        )),
        None => Ok(()),
    }
}

fn seal(e: &KeyEntry, ec: &EncryptionContext, plaintext: &[u8]) -> Result<(Vec<u8>, [u8; 32]), KmsError> {
    let (mid, key) = e
        .current()
        .ok_or_else(|| KmsError::Internal(format!("{} has no current key material", e.arn)))?;
    let header = blob::BlobHeader { key_id: e.uuid, material_id: *mid };
    let ct = blob::encrypt(key, header, ec, plaintext).map_err(|_| KmsError::Internal("encryption failed".into()))?;
    Ok((ct, *mid))
}

/// A ciphertext opened by [`Kms::open`].
struct Opened {
    entry: Arc<KeyEntry>,
    /// Symmetric keys: the material that encrypted it.
    material_id: Option<[u8; 32]>,
    algorithm: String,
    plaintext: SecretBytes,
}

fn ignores_ciphertext(dry_run: Option<bool>, modifiers: &Option<Vec<String>>) -> bool {
    dry_run == Some(true) && modifiers.as_ref().is_some_and(|m| m.iter().any(|x| x == "IGNORE_CIPHERTEXT"))
}

fn dry_run_modifiers(v: &mut Validation, m: &Option<Vec<String>>) {
    for (i, x) in m.iter().flatten().enumerate() {
        v.one_of(&format!("dryRunModifiers.{}.member", i + 1), x, &["IGNORE_CIPHERTEXT"]);
    }
}

impl Kms {
    /// Finds the key a blob names, checks `key_id` (if given) identifies the same key, checks
    /// authorization, state and usage, and decrypts.
    #[allow(clippy::too_many_arguments)]
    async fn open(
        &self,
        caller: &Caller,
        ciphertext: &[u8],
        key_id: Option<&str>,
        ec: &EncryptionContext,
        action: &'static str,
        op: &str,
        algorithm: Option<&str>,
        dry_run: bool,
        same_key: Option<bool>,
    ) -> Result<Opened, KmsError> {
        // An asymmetric key is named by the KeyId; its ciphertext is raw RSA-OAEP.
        let named = match key_id {
            Some(k) => Some(self.resolve(caller, k, true).await?),
            None => None,
        };
        if let Some(named) = named.as_ref().filter(|n| !n.is_symmetric()) {
            let mut r = Req::new(action)
                .grant(action)
                .key("kms:EncryptionAlgorithm", vec![algorithm.unwrap_or(SYMMETRIC_DEFAULT).to_string()]);
            if let Some(k) = key_id {
                r = r.param(k);
            }
            self.authorize(caller, named, r)?;
            usable(named)?;
            check_usage(named, op, algorithm)?;
            no_context(named, ec)?;
            if dry_run {
                return Err(KmsError::DryRunOperation);
            }
            let asym = named.asym().ok_or(KmsError::InvalidCiphertext)?;
            let alg = algorithm.unwrap_or_default();
            let plaintext = asym.decrypt(alg, ciphertext).map_err(|_| KmsError::InvalidCiphertext)?;
            return Ok(Opened { entry: named.clone(), material_id: None, algorithm: alg.to_string(), plaintext });
        }
        let header = blob::parse_header(ciphertext).map_err(|_| KmsError::InvalidCiphertext)?;
        let entry = self.key_by_uuid(&header.key_id).ok_or(KmsError::InvalidCiphertext)?;
        if entry.rec.region != caller.region {
            return Err(KmsError::InvalidCiphertext);
        }
        if named.as_ref().is_some_and(|n| n.uuid != entry.uuid) {
            return Err(KmsError::IncorrectKey);
        }
        caller.note_resource(&entry.arn);
        let mut r = Req::new(action).grant(action).ec(ec).key("kms:EncryptionAlgorithm", vec![algorithm.unwrap_or(SYMMETRIC_DEFAULT).to_string()]);
        if let Some(k) = key_id {
            r = r.param(k);
        }
        if let Some(same) = same_key {
            r = r.key("kms:ReEncryptOnSameKey", vec![same.to_string()]);
        }
        self.authorize(caller, &entry, r)?;
        usable(&entry)?;
        check_usage(&entry, op, algorithm)?;
        if dry_run {
            return Err(KmsError::DryRunOperation);
        }
        let material = entry.material(&header.material_id).ok_or(KmsError::InvalidCiphertext)?;
        let plaintext = blob::decrypt(material, ciphertext, ec).map_err(|_| KmsError::InvalidCiphertext)?;
        Ok(Opened { material_id: Some(header.material_id), algorithm: SYMMETRIC_DEFAULT.into(), plaintext, entry: entry.clone() })
    }

    pub async fn encrypt(&self, caller: &Caller, req: EncryptRequest) -> Result<EncryptResponse, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        if v.required("plaintext", req.plaintext.as_ref()) {
            v.blob_len("plaintext", req.plaintext.as_ref().expect("checked").0.len(), 1, 4096);
        }
        validate::grant_tokens(&mut v, req.grant_tokens.as_ref());
        validate::encryption_algorithm(&mut v, "encryptionAlgorithm", req.encryption_algorithm.as_ref());
        validated(v)?;
        self.check_grant_tokens(req.grant_tokens.as_ref())?;
        let param = key_id.expect("validated");
        let e = self.resolve(caller, param, true).await?;
        let ec = context(req.encryption_context);
        let alg = req.encryption_algorithm.as_deref().unwrap_or(SYMMETRIC_DEFAULT).to_string();
        self.authorize(caller, &e, Req::new("Encrypt").grant("Encrypt").ec(&ec).param(param).key("kms:EncryptionAlgorithm", vec![alg]))?;
        usable(&e)?;
        check_usage(&e, "Encrypt", req.encryption_algorithm.as_deref())?;
        no_context(&e, &ec)?;
        if req.dry_run == Some(true) {
            return Err(KmsError::DryRunOperation);
        }
        let plaintext = req.plaintext.expect("validated");
        let Sealed(ct, algorithm, _) = seal_any(&e, &ec, req.encryption_algorithm.as_deref(), plaintext.0.expose())?;
        Ok(EncryptResponse { ciphertext_blob: Blob(ct), key_id: e.arn.clone(), encryption_algorithm: algorithm })
    }

    pub async fn decrypt(&self, caller: &Caller, req: DecryptRequest) -> Result<DecryptResponse, KmsError> {
        let ignore_ct = ignores_ciphertext(req.dry_run, &req.dry_run_modifiers);
        let mut v = Validation::new();
        if !ignore_ct && v.required("ciphertextBlob", req.ciphertext_blob.as_ref()) {
            v.blob_len("ciphertextBlob", req.ciphertext_blob.as_ref().expect("checked").0.len(), 1, 6144);
        }
        validate::opt_key_id(&mut v, "keyId", req.key_id.as_ref());
        validate::grant_tokens(&mut v, req.grant_tokens.as_ref());
        validate::encryption_algorithm(&mut v, "encryptionAlgorithm", req.encryption_algorithm.as_ref());
        dry_run_modifiers(&mut v, &req.dry_run_modifiers);
        validated(v)?;
        self.check_grant_tokens(req.grant_tokens.as_ref())?;
        no_recipient(&req.recipient)?;
        if ignore_ct {
            let key_id = req.key_id.as_deref().ok_or_else(|| {
                KmsError::Validation("KeyId is required when DryRunModifiers includes IGNORE_CIPHERTEXT.".into())
            })?;
            let e = self.resolve(caller, key_id, true).await?;
            self.authorize(caller, &e, Req::new("Decrypt").grant("Decrypt").param(key_id))?;
            usable(&e)?;
            check_usage(&e, "Decrypt", req.encryption_algorithm.as_deref())?;
            return Err(KmsError::DryRunOperation);
        }
        let ec = context(req.encryption_context);
        let blob = req.ciphertext_blob.expect("validated");
        let o = self
            .open(
                caller,
                &blob.0,
                req.key_id.as_deref(),
                &ec,
                "Decrypt",
                "Decrypt",
                req.encryption_algorithm.as_deref(),
                req.dry_run == Some(true),
                None,
            )
            .await?;
        Ok(DecryptResponse {
            key_id: o.entry.arn.clone(),
            plaintext: Plaintext(o.plaintext),
            encryption_algorithm: o.algorithm,
            key_material_id: o.material_id.map(|m| hex(&m)),
        })
    }

    pub async fn re_encrypt(&self, caller: &Caller, req: ReEncryptRequest) -> Result<ReEncryptResponse, KmsError> {
        let ignore_ct = ignores_ciphertext(req.dry_run, &req.dry_run_modifiers);
        let mut v = Validation::new();
        if !ignore_ct && v.required("ciphertextBlob", req.ciphertext_blob.as_ref()) {
            v.blob_len("ciphertextBlob", req.ciphertext_blob.as_ref().expect("checked").0.len(), 1, 6144);
        }
        validate::opt_key_id(&mut v, "sourceKeyId", req.source_key_id.as_ref());
        let dest_id = validate::key_id(&mut v, "destinationKeyId", req.destination_key_id.as_ref());
        validate::encryption_algorithm(&mut v, "sourceEncryptionAlgorithm", req.source_encryption_algorithm.as_ref());
        validate::encryption_algorithm(
            &mut v,
            "destinationEncryptionAlgorithm",
            req.destination_encryption_algorithm.as_ref(),
        );
        validate::grant_tokens(&mut v, req.grant_tokens.as_ref());
        dry_run_modifiers(&mut v, &req.dry_run_modifiers);
        validated(v)?;
        self.check_grant_tokens(req.grant_tokens.as_ref())?;
        let dry_run = req.dry_run == Some(true);
        let dest_param = dest_id.expect("validated");
        let dest = self.resolve(caller, dest_param, true).await?;
        let dest_ec = context(req.destination_encryption_context);
        if ignore_ct {
            let src_id = req.source_key_id.as_deref().ok_or_else(|| {
                KmsError::Validation("SourceKeyId is required when DryRunModifiers includes IGNORE_CIPHERTEXT.".into())
            })?;
            let src = self.resolve(caller, src_id, true).await?;
            self.authorize(caller, &src, Req::new("ReEncryptFrom").grant("ReEncryptFrom").param(src_id))?;
            usable(&src)?;
            check_usage(&src, "ReEncrypt", req.source_encryption_algorithm.as_deref())?;
        }
        let same = blob::parse_header(req.ciphertext_blob.as_ref().map(|b| b.0.as_slice()).unwrap_or_default())
            .map(|h| h.key_id == dest.uuid)
            .unwrap_or(false);
        self.authorize(
            caller,
            &dest,
            Req::new("ReEncryptTo")
                .grant("ReEncryptTo")
                .ec(&dest_ec)
                .param(dest_param)
                .key("kms:EncryptionAlgorithm", vec![req.destination_encryption_algorithm.clone().unwrap_or_else(|| SYMMETRIC_DEFAULT.into())])
                .key("kms:ReEncryptOnSameKey", vec![same.to_string()]),
        )?;
        usable(&dest)?;
        check_usage(&dest, "ReEncrypt", req.destination_encryption_algorithm.as_deref())?;
        no_context(&dest, &dest_ec)?;
        if ignore_ct {
            return Err(KmsError::DryRunOperation);
        }
        let blob = req.ciphertext_blob.expect("validated");
        let o = self
            .open(
                caller,
                &blob.0,
                req.source_key_id.as_deref(),
                &context(req.source_encryption_context),
                "ReEncryptFrom",
                "ReEncrypt",
                req.source_encryption_algorithm.as_deref(),
                dry_run,
                Some(same),
            )
            .await?;
        let Sealed(ct, dest_alg, dest_mid) =
            seal_any(&dest, &dest_ec, req.destination_encryption_algorithm.as_deref(), o.plaintext.expose())?;
        Ok(ReEncryptResponse {
            ciphertext_blob: Blob(ct),
            source_key_id: o.entry.arn.clone(),
            key_id: dest.arn.clone(),
            source_encryption_algorithm: o.algorithm,
            destination_encryption_algorithm: dest_alg,
            source_key_material_id: o.material_id.map(|m| hex(&m)),
            destination_key_material_id: dest_mid.map(|m| hex(&m)),
        })
    }

    pub async fn generate_data_key(
        &self,
        caller: &Caller,
        req: GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyResponse, KmsError> {
        self.data_key(caller, req, true).await
    }

    pub async fn generate_data_key_without_plaintext(
        &self,
        caller: &Caller,
        req: GenerateDataKeyRequest,
    ) -> Result<GenerateDataKeyResponse, KmsError> {
        self.data_key(caller, req, false).await
    }

    async fn data_key(
        &self,
        caller: &Caller,
        req: GenerateDataKeyRequest,
        with_plaintext: bool,
    ) -> Result<GenerateDataKeyResponse, KmsError> {
        let op = if with_plaintext { "GenerateDataKey" } else { "GenerateDataKeyWithoutPlaintext" };
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        if let Some(n) = req.number_of_bytes {
            v.range("numberOfBytes", n, 1, 1024);
        }
        if let Some(s) = &req.key_spec {
            v.one_of("keySpec", s, &["AES_256", "AES_128"]);
        }
        validate::grant_tokens(&mut v, req.grant_tokens.as_ref());
        validated(v)?;
        let len = match (req.number_of_bytes, req.key_spec.as_deref()) {
            (Some(n), None) => n as usize,
            (None, Some("AES_256")) => 32,
            (None, Some(_)) => 16,
            _ => return Err(KmsError::Validation("Please specify either number of bytes or key spec.".into())),
        };
        no_recipient(&req.recipient)?;
        self.check_grant_tokens(req.grant_tokens.as_ref())?;
        let param = key_id.expect("validated");
        let e = self.resolve(caller, param, true).await?;
        let ec = context(req.encryption_context);
        let mut r = Req::new(op).grant(op).ec(&ec).param(param);
        if let Some(s) = &req.key_spec {
            r = r.key("kms:DataKeySpec", vec![s.clone()]);
        }
        self.authorize(caller, &e, r)?;
        usable(&e)?;
        symmetric_only(&e, op)?;
        if req.dry_run == Some(true) {
            return Err(KmsError::DryRunOperation);
        }
        let data_key = SecretBytes::random(len);
        let (ct, mid) = seal(&e, &ec, data_key.expose())?;
        Ok(GenerateDataKeyResponse {
            ciphertext_blob: Blob(ct),
            plaintext: with_plaintext.then_some(Plaintext(data_key)),
            key_id: e.arn.clone(),
            key_material_id: hex(&mid),
        })
    }

    pub async fn generate_random(
        &self,
        caller: &Caller,
        req: GenerateRandomRequest,
    ) -> Result<GenerateRandomResponse, KmsError> {
        let Some(n) = req.number_of_bytes else {
            return Err(KmsError::Validation("NumberOfBytes is required.".into()));
        };
        let mut v = Validation::new();
        v.range("numberOfBytes", n, 1, 1024);
        if let Some(c) = &req.custom_key_store_id {
            v.str_len("customKeyStoreId", c, 1, 64);
        }
        validated(v)?;
        if req.custom_key_store_id.is_some() {
            return Err(KmsError::UnsupportedOperation("Custom key stores are not supported by Coffer.".into()));
        }
        no_recipient(&req.recipient)?;
        self.authorize_account(caller, Req::new("GenerateRandom"), "*")?;
        Ok(GenerateRandomResponse { plaintext: Plaintext(SecretBytes::random(n as usize)) })
    }
}
