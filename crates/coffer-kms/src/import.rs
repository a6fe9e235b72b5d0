//! Bring your own key: GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial,
//! and the expiry of imported material.
//!
//! An EXTERNAL-origin key starts in PendingImport with no material. GetParametersForImport
//! creates an RSA wrapping key (valid 24 hours) and an import token naming it; the client wraps
//! its material with the public half (coffer-crypto `wrap`) and ImportKeyMaterial unwraps it,
//! checks it fits the key spec, seals it under the root key like generated material and enables
//! the key. The material's keyed fingerprint is remembered: a later import must bring the same
//! material (IncorrectKeyMaterialException otherwise), and because the material id is derived
//! from the fingerprint, ciphertexts made before an expiry or deletion decrypt again after the
//! same material is re-imported.

use coffer_crypto::asym::{AsymKey, Spec};
use coffer_crypto::digest::{hex, unhex};
use coffer_crypto::random;
use coffer_policy::Caller;
use coffer_util::{Timestamp, Validation};

use crate::authorize::Req;
use crate::error::validated;
use crate::keys::pending_deletion;
use crate::model::*;
use crate::state::{ImportRecord, KeyEntry, KeyState, PendingImport, seal_material};
use crate::{Kms, KmsError, validate};

const TOKEN_MAGIC: &[u8; 4] = b"CIT1";
const PARAMETERS_VALID_MS: i64 = 24 * 3600 * 1000;
const MAX_VALID_TO_MS: i64 = 365 * 24 * 3600 * 1000;

fn wrapping_purpose(key_id: &str) -> String {
    format!("kms-import-wrapping:{key_id}")
}

fn external_only(e: &KeyEntry) -> Result<(), KmsError> {
    if e.rec.origin == "EXTERNAL" {
        Ok(())
    } else {
        Err(KmsError::UnsupportedOperation(format!("{} origin is {} which is not valid for this operation.", e.arn, e.rec.origin)))
    }
}

/// Checks unwrapped material against the key spec.
fn fits(e: &KeyEntry, material: &[u8]) -> Result<(), KmsError> {
    let ok = match Spec::parse(&e.rec.key_spec) {
        None => material.len() == 32,
        Some(spec) => AsymKey::from_material(spec, e.rec.key_usage == "KEY_AGREEMENT", material).is_ok(),
    };
    if ok {
        Ok(())
    } else {
        Err(KmsError::IncorrectKeyMaterial(format!(
            "The key material is not valid for a key of spec {}.",
            e.rec.key_spec
        )))
    }
}

impl Kms {
    pub async fn get_parameters_for_import(
        &self,
        caller: &Caller,
        req: GetParametersForImportRequest,
    ) -> Result<GetParametersForImportResponse, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        if v.required("wrappingAlgorithm", req.wrapping_algorithm.as_ref()) {
            v.one_of(
                "wrappingAlgorithm",
                req.wrapping_algorithm.as_deref().expect("checked"),
                &["RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256", "SM2PKE"],
            );
        }
        if v.required("wrappingKeySpec", req.wrapping_key_spec.as_ref()) {
            v.one_of("wrappingKeySpec", req.wrapping_key_spec.as_deref().expect("checked"), &["RSA_2048", "RSA_3072", "RSA_4096", "SM2"]);
        }
        validated(v)?;
        let algorithm = req.wrapping_algorithm.expect("validated");
        let spec = req.wrapping_key_spec.expect("validated");
        if !coffer_crypto::wrap::WRAPPING_ALGORITHMS.contains(&algorithm.as_str()) || spec == "SM2" {
            return Err(KmsError::UnsupportedOperation(format!(
                "Wrapping algorithm {algorithm} with wrapping key spec {spec} is not supported (RSAES_PKCS1_V1_5 is deprecated; SM2 is China-only)."
            )));
        }
        let e = self.resolve(caller, key_id.expect("validated"), false).await?;
        self.authorize(
            caller,
            &e,
            Req::new("GetParametersForImport")
                .key("kms:WrappingAlgorithm", vec![algorithm.clone()])
                .key("kms:WrappingKeySpec", vec![spec.clone()]),
        )?;
        external_only(&e)?;
        if e.rec.state == KeyState::PendingDeletion {
            return Err(pending_deletion(&e));
        }
        let (pkcs8, public) =
            coffer_crypto::wrap::generate_wrapping_key(&spec).map_err(|_| KmsError::Internal("wrapping key generation failed".into()))?;
        let token = random::bytes::<32>();
        let valid_to = self.clock.now().millis() + PARAMETERS_VALID_MS;
        let pending = PendingImport {
            token: hex(&token),
            wrapping_spec: spec,
            algorithm,
            wrapping_sealed: hex(&self.root.seal(&wrapping_purpose(&e.rec.key_id), pkcs8.expose())),
            valid_to_ms: valid_to,
        };
        let (e, ()) = self
            .mutate_key(e, |e| {
                let mut rec = e.rec.clone();
                rec.import.get_or_insert_with(ImportRecord::default).pending = Some(pending.clone());
                Ok((rec, vec![], ()))
            })
            .await?;
        let mut import_token = TOKEN_MAGIC.to_vec();
        import_token.extend_from_slice(&e.uuid);
        import_token.extend_from_slice(&token);
        Ok(GetParametersForImportResponse {
            key_id: e.arn.clone(),
            import_token: Blob(import_token),
            public_key: Blob(public),
            parameters_valid_to: Date(Timestamp(valid_to)),
        })
    }

    pub async fn import_key_material(&self, caller: &Caller, req: ImportKeyMaterialRequest) -> Result<ImportKeyMaterialResponse, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        if v.required("importToken", req.import_token.as_ref()) {
            v.blob_len("importToken", req.import_token.as_ref().expect("checked").0.len(), 1, 6144);
        }
        if v.required("encryptedKeyMaterial", req.encrypted_key_material.as_ref()) {
            v.blob_len("encryptedKeyMaterial", req.encrypted_key_material.as_ref().expect("checked").0.len(), 1, 6144);
        }
        if let Some(m) = &req.expiration_model {
            v.one_of("expirationModel", m, &["KEY_MATERIAL_EXPIRES", "KEY_MATERIAL_DOES_NOT_EXPIRE"]);
        }
        if let Some(t) = &req.import_type {
            v.one_of("importType", t, &["NEW_KEY_MATERIAL", "EXISTING_KEY_MATERIAL"]);
        }
        if let Some(d) = &req.key_material_description {
            v.str_len("keyMaterialDescription", d, 0, 256);
        }
        validated(v)?;
        let model = req.expiration_model.clone().unwrap_or_else(|| "KEY_MATERIAL_EXPIRES".into());
        let now = self.clock.now().millis();
        let valid_to = match (model.as_str(), req.valid_to) {
            ("KEY_MATERIAL_EXPIRES", None) => {
                return Err(KmsError::Validation("A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES".into()));
            }
            ("KEY_MATERIAL_EXPIRES", Some(t)) => {
                let ms = (t * 1000.0) as i64;
                if ms <= now || ms > now + MAX_VALID_TO_MS {
                    return Err(KmsError::Validation(
                        "ValidTo must be in the future and at most 365 days from now.".into(),
                    ));
                }
                Some(ms)
            }
            (_, Some(_)) => {
                return Err(KmsError::Validation(
                    "A validTo date must not be set if the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE".into(),
                ));
            }
            (_, None) => None,
        };
        if req.import_type.as_deref() == Some("NEW_KEY_MATERIAL") && req.key_material_id.is_some() {
            return Err(KmsError::Validation("KeyMaterialId is only valid with ImportType EXISTING_KEY_MATERIAL.".into()));
        }
        let e = self.resolve(caller, key_id.expect("validated"), false).await?;
        let mut r = Req::new("ImportKeyMaterial").key("kms:ExpirationModel", vec![model.clone()]);
        if let Some(t) = valid_to {
            r = r.key("kms:ValidTo", vec![(t / 1000).to_string()]);
        }
        self.authorize(caller, &e, r)?;
        external_only(&e)?;
        if e.rec.state == KeyState::PendingDeletion {
            return Err(pending_deletion(&e));
        }
        // The token names this key and its pending wrapping key.
        let token = req.import_token.expect("validated").0;
        let invalid = || KmsError::InvalidImportToken("Import token is not valid for this key. Call GetParametersForImport for a new token.".into());
        if token.len() != 52 || &token[..4] != TOKEN_MAGIC || token[4..20] != e.uuid {
            return Err(invalid());
        }
        let pending = e.rec.import.as_ref().and_then(|i| i.pending.clone()).ok_or_else(invalid)?;
        if !coffer_crypto::digest::ct_eq(&unhex(&pending.token).unwrap_or_default(), &token[20..]) {
            return Err(invalid());
        }
        if pending.valid_to_ms <= now {
            return Err(KmsError::ExpiredImportToken("The import token has expired. Call GetParametersForImport for a new one.".into()));
        }
        let sealed = unhex(&pending.wrapping_sealed).ok_or_else(|| KmsError::Internal("wrapping key is not hex".into()))?;
        let wrapping = self
            .root
            .open(&wrapping_purpose(&e.rec.key_id), &sealed)
            .map_err(|err| KmsError::Internal(format!("wrapping key of {}: {err}", e.arn)))?;
        let material = coffer_crypto::wrap::unwrap(wrapping.expose(), &pending.algorithm, &req.encrypted_key_material.expect("validated").0)
            .map_err(|_| KmsError::InvalidCiphertext)?;
        fits(&e, material.expose())?;
        let fingerprint = hex(&self.root.fingerprint(&format!("kms-import:{}", e.rec.key_id), material.expose()));
        let previous = e.rec.import.as_ref().and_then(|i| i.fingerprint.as_ref());
        if previous.is_some() && req.import_type.as_deref() == Some("NEW_KEY_MATERIAL") {
            return Err(KmsError::UnsupportedOperation(format!(
                "{} already has key material; Coffer keeps one key material per imported key, so only EXISTING_KEY_MATERIAL can be imported.",
                e.arn
            )));
        }
        if let Some(previous) = previous
            && !coffer_crypto::digest::ct_eq(previous.as_bytes(), fingerprint.as_bytes())
        {
            return Err(KmsError::IncorrectKeyMaterial(
                "The key material in the request is, expired, invalid, or is not the same key material that was previously imported into this KMS key.".into(),
            ));
        }
        let material_id = fingerprint.clone();
        let (e, ()) = self
            .mutate_key(e, |e| {
                if e.rec.import.as_ref().and_then(|i| i.pending.as_ref()).map(|p| &p.token) != Some(&pending.token) {
                    return Err(invalid());
                }
                let mut rec = e.rec.clone();
                if !rec.materials.iter().any(|m| m.id == material_id) {
                    rec.materials.push(seal_material(&self.root, &rec.key_id, material_id.clone(), material.expose(), now, None));
                }
                rec.current_material = material_id.clone();
                if rec.state == KeyState::PendingImport {
                    rec.state = KeyState::Enabled;
                }
                let imp = rec.import.get_or_insert_with(ImportRecord::default);
                imp.pending = None;
                imp.fingerprint = Some(fingerprint.clone());
                imp.expiration_model = Some(model.clone());
                imp.valid_to_ms = valid_to;
                Ok((rec, vec![], ()))
            })
            .await?;
        Ok(ImportKeyMaterialResponse { key_id: e.arn.clone(), key_material_id: e.rec.current_material.clone() })
    }

    pub async fn delete_imported_key_material(
        &self,
        caller: &Caller,
        req: DeleteImportedKeyMaterialRequest,
    ) -> Result<DeleteImportedKeyMaterialResponse, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        if let Some(m) = &req.key_material_id {
            v.str_len("keyMaterialId", m, 64, 64);
        }
        validated(v)?;
        let e = self.resolve(caller, key_id.expect("validated"), false).await?;
        self.authorize(caller, &e, Req::new("DeleteImportedKeyMaterial"))?;
        external_only(&e)?;
        let current = e.rec.current_material.clone();
        if let Some(m) = &req.key_material_id
            && m != &current
        {
            return Err(KmsError::NotFound(format!("Key material {m} was not found for {}.", e.arn)));
        }
        let (e, ()) = self
            .mutate_key(e, |e| {
                let mut rec = e.rec.clone();
                rec.materials.clear();
                rec.current_material.clear();
                if rec.state != KeyState::PendingDeletion {
                    rec.state = KeyState::PendingImport;
                }
                if let Some(i) = rec.import.as_mut() {
                    i.valid_to_ms = None;
                    i.expiration_model = None;
                }
                Ok((rec, vec![], ()))
            })
            .await?;
        Ok(DeleteImportedKeyMaterialResponse { key_id: e.arn.clone(), key_material_id: current })
    }

    /// Job step: imported material past its ValidTo is deleted; the key goes to PendingImport.
    pub(crate) async fn expire_if_due(&self, e: std::sync::Arc<KeyEntry>) -> Result<bool, KmsError> {
        let now = self.clock.now().millis();
        let due = |e: &KeyEntry| {
            e.rec.import.as_ref().and_then(|i| i.valid_to_ms).is_some_and(|v| v <= now) && !e.rec.materials.is_empty()
        };
        if !due(&e) {
            return Ok(false);
        }
        let (_, expired) = self
            .mutate_key(e, |e| {
                let mut rec = e.rec.clone();
                let d = due(e);
                if d {
                    rec.materials.clear();
                    rec.current_material.clear();
                    if rec.state != KeyState::PendingDeletion {
                        rec.state = KeyState::PendingImport;
                    }
                }
                Ok((rec, vec![], d))
            })
            .await?;
        Ok(expired)
    }
}
