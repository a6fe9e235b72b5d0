//! Key lifecycle: CreateKey, DescribeKey, ListKeys, UpdateKeyDescription, EnableKey, DisableKey,
//! ScheduleKeyDeletion, CancelKeyDeletion — and the key-state rules every operation applies.

use std::sync::Arc;

use coffer_policy::Caller;
use coffer_store::{Expect, Write, tables};
use coffer_util::{Validation, marker};

use crate::authorize::Req;
use crate::error::validated;
use crate::model::*;
use crate::state::{KeyEntry, KeyRecord, KeyState, RotationRecord, TagRecord, new_material};
use crate::{Kms, KmsError, encode, validate};

pub(crate) const KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
];
const CMK_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
];
const KEY_USAGES: &[&str] = &["SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"];
const ORIGINS: &[&str] = &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"];

/// AWS's KeySpec/KeyUsage pairing rules.
fn usage_compatible(spec: &str, usage: &str) -> bool {
    match spec {
        "SYMMETRIC_DEFAULT" => usage == "ENCRYPT_DECRYPT",
        s if s.starts_with("RSA_") => matches!(usage, "ENCRYPT_DECRYPT" | "SIGN_VERIFY"),
        s if s.starts_with("ECC_NIST_P") => matches!(usage, "SIGN_VERIFY" | "KEY_AGREEMENT"),
        "ECC_SECG_P256K1" | "ECC_NIST_EDWARDS25519" => usage == "SIGN_VERIFY",
        s if s.starts_with("ML_DSA_") => usage == "SIGN_VERIFY",
        s if s.starts_with("HMAC_") => usage == "GENERATE_VERIFY_MAC",
        "SM2" => matches!(usage, "ENCRYPT_DECRYPT" | "SIGN_VERIFY" | "KEY_AGREEMENT"),
        _ => false,
    }
}

// ---------------------------------------------------------------- key-state rules

pub(crate) fn pending_deletion(e: &KeyEntry) -> KmsError {
    KmsError::InvalidState(format!("{} is pending deletion.", e.arn))
}

/// Administrative changes are refused while a key waits for deletion.
pub(crate) fn not_pending_deletion(e: &KeyEntry) -> Result<(), KmsError> {
    if e.rec.state == KeyState::PendingDeletion { Err(pending_deletion(e)) } else { Ok(()) }
}

/// The key's usage must be `usage` for `op` (AWS: InvalidKeyUsageException).
pub(crate) fn usage_is(e: &KeyEntry, usage: &str, op: &str) -> Result<(), KmsError> {
    if e.rec.key_usage == usage {
        Ok(())
    } else {
        Err(KmsError::InvalidKeyUsage(format!("{} key usage is {} which is not valid for {op}.", e.arn, e.rec.key_usage)))
    }
}

/// Cryptographic use needs an Enabled key.
pub(crate) fn usable(e: &KeyEntry) -> Result<(), KmsError> {
    match e.rec.state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(KmsError::Disabled(format!("{} is disabled.", e.arn))),
        KeyState::PendingDeletion => Err(pending_deletion(e)),
        KeyState::PendingImport => Err(KmsError::InvalidState(format!("{} is pending import.", e.arn))),
    }
}

/// The algorithm lists DescribeKey and GetPublicKey show for a key (absent when they do not
/// apply): encryption, signing, key agreement, MAC.
pub(crate) type AlgorithmLists = (Option<Vec<String>>, Option<Vec<String>>, Option<Vec<String>>, Option<Vec<String>>);

pub(crate) fn algorithms(key_spec: &str, key_usage: &str) -> AlgorithmLists {
    let list = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let spec = coffer_crypto::asym::Spec::parse(key_spec);
    match (key_usage, spec) {
        ("ENCRYPT_DECRYPT", None) => (list(&["SYMMETRIC_DEFAULT"]), None, None, None),
        ("ENCRYPT_DECRYPT", Some(_)) => (list(&["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]), None, None, None),
        ("SIGN_VERIFY", Some(s)) => (None, list(s.signing_algorithms()), None, None),
        ("KEY_AGREEMENT", Some(_)) => (None, None, list(&["ECDH"]), None),
        ("GENERATE_VERIFY_MAC", Some(s)) => (None, None, None, s.mac_algorithm().map(|m| vec![m.to_string()])),
        _ => (None, None, None, None),
    }
}

pub(crate) fn metadata(e: &KeyEntry) -> KeyMetadata {
    let r = &e.rec;
    let symmetric = r.key_spec == "SYMMETRIC_DEFAULT";
    let (enc, sign, agree, mac) = algorithms(&r.key_spec, &r.key_usage);
    let import = r.import.as_ref();
    KeyMetadata {
        aws_account_id: r.account.clone(),
        key_id: r.key_id.clone(),
        arn: e.arn.clone(),
        creation_date: Date(coffer_util::Timestamp(r.created_ms)),
        enabled: r.state == KeyState::Enabled,
        description: r.description.clone(),
        key_usage: r.key_usage.clone(),
        key_state: r.state.as_str().to_string(),
        deletion_date: r.deletion_ms.map(|d| Date(coffer_util::Timestamp(d))),
        origin: r.origin.clone(),
        key_manager: r.key_manager.clone(),
        customer_master_key_spec: r.key_spec.clone(),
        key_spec: r.key_spec.clone(),
        valid_to: import.and_then(|i| i.valid_to_ms).filter(|_| r.state != KeyState::PendingImport).map(|v| Date(coffer_util::Timestamp(v))),
        expiration_model: import.and_then(|i| i.expiration_model.clone()).filter(|_| r.state != KeyState::PendingImport),
        encryption_algorithms: enc,
        signing_algorithms: sign,
        key_agreement_algorithms: agree,
        mac_algorithms: mac,
        multi_region: false,
        pending_deletion_window_in_days: if r.state == KeyState::PendingDeletion { r.pending_window_days } else { None },
        current_key_material_id: (symmetric && r.state != KeyState::PendingImport).then(|| r.current_material.clone()),
    }
}

pub(crate) fn tag_records(tags: &[Tag]) -> Vec<TagRecord> {
    tags.iter()
        .map(|t| TagRecord {
            key: t.tag_key.clone().unwrap_or_default(),
            value: t.tag_value.clone().unwrap_or_default(),
        })
        .collect()
}

/// The fields every new key record shares; the caller fills in what differs.
pub(crate) fn new_key_record(kms: &Kms, caller: &Caller, key_id: String, description: String, policy: String) -> KeyRecord {
    let now = kms.clock.now().millis();
    KeyRecord {
        current_material: String::new(),
        key_id,
        account: caller.account().to_string(),
        region: caller.region.clone(),
        created_ms: now,
        description,
        key_usage: "ENCRYPT_DECRYPT".into(),
        key_spec: "SYMMETRIC_DEFAULT".into(),
        origin: "AWS_KMS".into(),
        key_manager: "CUSTOMER".into(),
        state: KeyState::Enabled,
        deletion_ms: None,
        pending_window_days: None,
        policy,
        tags: Vec::new(),
        rotation: RotationRecord { period_days: 365, ..Default::default() },
        materials: Vec::new(),
        import: None,
    }
}

/// Gives a new record its first, generated material.
pub(crate) fn with_generated_material(kms: &Kms, mut rec: KeyRecord) -> Result<KeyRecord, KmsError> {
    let m = new_material(&kms.root, &rec.key_id, &rec.key_spec, rec.created_ms, None)?;
    rec.current_material = m.id.clone();
    rec.materials = vec![m];
    Ok(rec)
}

impl Kms {
    /// Writes a brand-new key (and any `extra` writes, such as its alias) atomically.
    pub(crate) async fn insert_key(&self, rec: KeyRecord, extra: Vec<Write>) -> Result<Arc<KeyEntry>, KmsError> {
        let mut batch = vec![Write::put(tables::KMS_KEYS, &rec.key_id, "", encode(&rec), Expect::Absent)];
        batch.extend(extra);
        let versions = self.store.write(batch).await?;
        let entry = Arc::new(KeyEntry::build(rec, versions[0], &self.root, None)?);
        self.cache.put_key(entry.clone());
        Ok(entry)
    }

    pub async fn create_key(&self, caller: &Caller, req: CreateKeyRequest) -> Result<KeyMetadataResponse, KmsError> {
        let mut v = Validation::new();
        if let Some(p) = &req.policy {
            crate::policy::validate_policy_text(&mut v, p);
        }
        validate::description(&mut v, req.description.as_ref());
        if let Some(u) = &req.key_usage {
            v.one_of("keyUsage", u, KEY_USAGES);
        }
        if let Some(s) = &req.key_spec {
            v.one_of("keySpec", s, KEY_SPECS);
        }
        if let Some(s) = &req.customer_master_key_spec {
            v.one_of("customerMasterKeySpec", s, CMK_SPECS);
        }
        if let Some(o) = &req.origin {
            v.one_of("origin", o, ORIGINS);
        }
        if let Some(c) = &req.custom_key_store_id {
            v.str_len("customKeyStoreId", c, 1, 64);
        }
        if let Some(x) = &req.xks_key_id {
            v.str_len("xksKeyId", x, 1, 128);
        }
        let tags = req.tags.unwrap_or_default();
        validate::tags(&mut v, &tags);
        validated(v)?;

        if req.key_spec.is_some() && req.customer_master_key_spec.is_some() {
            return Err(KmsError::Validation(
                "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec parameter is deprecated. Use KeySpec parameter instead.".into(),
            ));
        }
        let spec = req.key_spec.or(req.customer_master_key_spec).unwrap_or_else(|| "SYMMETRIC_DEFAULT".into());
        if spec != "SYMMETRIC_DEFAULT" && req.key_usage.is_none() {
            return Err(KmsError::Validation(
                "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.".into(),
            ));
        }
        let usage = req.key_usage.unwrap_or_else(|| "ENCRYPT_DECRYPT".into());
        if !usage_compatible(&spec, &usage) {
            return Err(KmsError::Validation(format!("KeyUsage {usage} is not compatible with KeySpec {spec}")));
        }
        if spec == "SM2" {
            return Err(KmsError::UnsupportedOperation(
                "KeySpec SM2 is available only in China Regions and is not supported by Coffer.".into(),
            ));
        }
        let origin = req.origin.as_deref().unwrap_or("AWS_KMS");
        if req.custom_key_store_id.is_some() || matches!(origin, "AWS_CLOUDHSM" | "EXTERNAL_KEY_STORE") {
            return Err(KmsError::UnsupportedOperation("Custom key stores are not supported by Coffer.".into()));
        }
        if origin == "EXTERNAL" && (spec.starts_with("ML_DSA_") || spec == "ECC_NIST_EDWARDS25519") {
            return Err(KmsError::UnsupportedOperation(format!(
                "Imported key material is supported for symmetric, HMAC, RSA and ECC (NIST, secp256k1) keys, not {spec}."
            )));
        }
        if req.multi_region == Some(true) {
            return Err(KmsError::UnsupportedOperation("Multi-Region keys are not supported by Coffer.".into()));
        }
        validate::tag_rules(&tags)?;
        if tags.len() > validate::MAX_TAGS {
            return Err(KmsError::Tag("Too many tags".into()));
        }
        let mut auth = Req::new("CreateKey")
            .key("kms:KeySpec", vec![spec.clone()])
            .key("kms:CustomerMasterKeySpec", vec![spec.clone()])
            .key("kms:KeyUsage", vec![usage.clone()])
            .key("kms:CustomerMasterKeyUsage", vec![usage.clone()])
            .key("kms:KeyOrigin", vec![origin.to_string()])
            .key("kms:MultiRegion", vec!["false".into()])
            .key("kms:BypassPolicyLockoutSafetyCheck", vec![req.bypass_policy_lockout_safety_check.unwrap_or(false).to_string()]);
        if !tags.is_empty() {
            auth = auth.key("aws:TagKeys", tags.iter().map(|t| t.tag_key.clone().unwrap_or_default()).collect());
            for t in &tags {
                let name = format!("aws:RequestTag/{}", t.tag_key.as_deref().unwrap_or_default());
                auth = auth.key(name, vec![t.tag_value.clone().unwrap_or_default()]);
            }
        }
        self.authorize_account(caller, auth, "*")?;
        let given_policy = req.policy.is_some();
        let policy = match req.policy {
            Some(p) => {
                self.check_policy(&p)?;
                p
            }
            None => crate::policy::default_key_policy(caller.account()),
        };
        let key_id = coffer_crypto::random::uuid_v4();
        let mut rec = new_key_record(self, caller, key_id, req.description.unwrap_or_default(), policy);
        rec.tags = tag_records(&tags);
        rec.key_spec = spec.clone();
        rec.key_usage = usage.clone();
        rec.origin = origin.to_string();
        if origin == "EXTERNAL" {
            rec.state = KeyState::PendingImport;
            rec.import = Some(Default::default());
        } else {
            rec = with_generated_material(self, rec)?;
        }
        if given_policy && req.bypass_policy_lockout_safety_check != Some(true) {
            // The lockout safety check: the creator of a key with its own policy must be able to
            // change that policy later. (The default policy always leaves the account in control.)
            let probe = KeyEntry::build(rec.clone(), 0, &self.root, None)?;
            if !self.keeps_control(caller, &probe, &probe.policy) {
                return Err(crate::policy::lockout());
            }
        }
        let entry = self.insert_key(rec, Vec::new()).await?;
        caller.note_resource(&entry.arn);
        Ok(KeyMetadataResponse { key_metadata: metadata(&entry) })
    }

    pub async fn describe_key(&self, caller: &Caller, req: KeyIdRequest) -> Result<KeyMetadataResponse, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        validate::grant_tokens(&mut v, req.grant_tokens.as_ref());
        validated(v)?;
        self.check_grant_tokens(req.grant_tokens.as_ref())?;
        let param = key_id.expect("validated");
        let e = self.resolve(caller, param, true).await?;
        self.authorize(caller, &e, Req::new("DescribeKey").grant("DescribeKey").param(param))?;
        Ok(KeyMetadataResponse { key_metadata: metadata(&e) })
    }

    pub async fn list_keys(&self, caller: &Caller, req: PageRequest) -> Result<ListKeysResponse, KmsError> {
        let mut v = Validation::new();
        validate::page(&mut v, req.limit, req.marker.as_ref());
        validated(v)?;
        let after = validate::resume_after(req.marker.as_ref())?;
        self.authorize_account(caller, Req::new("ListKeys"), "*")?;
        let limit = req.limit.unwrap_or(100) as usize;
        let mut ids = self.cache.key_ids(caller.account(), &caller.region, after.as_deref(), limit + 1);
        let truncated = ids.len() > limit;
        ids.truncate(limit);
        let next_marker = truncated.then(|| marker::encode(ids.last().expect("non-empty")));
        let keys = ids
            .into_iter()
            .map(|id| KeyListEntry {
                key_arn: crate::state::key_arn(&caller.region, caller.account(), &id),
                key_id: id,
            })
            .collect();
        Ok(ListKeysResponse { keys, next_marker, truncated })
    }

    pub async fn update_key_description(
        &self,
        caller: &Caller,
        req: UpdateKeyDescriptionRequest,
    ) -> Result<Empty, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        if v.required("description", req.description.as_ref()) {
            validate::description(&mut v, req.description.as_ref());
        }
        validated(v)?;
        let e = self.resolve(caller, key_id.expect("validated"), false).await?;
        self.authorize(caller, &e, Req::new("UpdateKeyDescription"))?;
        let description = req.description.expect("validated");
        self.mutate_key(e, |e| {
            not_pending_deletion(e)?;
            let mut rec = e.rec.clone();
            rec.description = description.clone();
            Ok((rec, vec![], ()))
        })
        .await?;
        Ok(Empty {})
    }

    pub async fn enable_key(&self, caller: &Caller, req: KeyIdRequest) -> Result<Empty, KmsError> {
        self.set_enabled(caller, req, true).await
    }

    pub async fn disable_key(&self, caller: &Caller, req: KeyIdRequest) -> Result<Empty, KmsError> {
        self.set_enabled(caller, req, false).await
    }

    async fn set_enabled(&self, caller: &Caller, req: KeyIdRequest, enable: bool) -> Result<Empty, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        validated(v)?;
        let e = self.resolve(caller, key_id.expect("validated"), false).await?;
        self.authorize(caller, &e, Req::new(if enable { "EnableKey" } else { "DisableKey" }))?;
        let target = if enable { KeyState::Enabled } else { KeyState::Disabled };
        if e.rec.state == target {
            return Ok(Empty {});
        }
        self.mutate_key(e, |e| {
            match e.rec.state {
                KeyState::PendingDeletion => return Err(pending_deletion(e)),
                KeyState::PendingImport => {
                    return Err(KmsError::InvalidState(format!("{} is pending import.", e.arn)));
                }
                KeyState::Enabled | KeyState::Disabled => {}
            }
            let mut rec = e.rec.clone();
            rec.state = target;
            Ok((rec, vec![], ()))
        })
        .await?;
        Ok(Empty {})
    }

    pub async fn schedule_key_deletion(
        &self,
        caller: &Caller,
        req: ScheduleKeyDeletionRequest,
    ) -> Result<ScheduleKeyDeletionResponse, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        if let Some(d) = req.pending_window_in_days {
            v.range("pendingWindowInDays", d, 1, 365);
        }
        validated(v)?;
        let days = req.pending_window_in_days.unwrap_or(30);
        if !(7..=30).contains(&days) {
            return Err(KmsError::Validation("PendingWindowInDays must be between 7 and 30".into()));
        }
        let e = self.resolve(caller, key_id.expect("validated"), false).await?;
        self.authorize(caller, &e, Req::new("ScheduleKeyDeletion").key("kms:ScheduleKeyDeletionPendingWindowInDays", vec![days.to_string()]))?;
        let now = self.clock.now();
        let deletion = now.plus_days(days);
        let (e, ()) = self
            .mutate_key(e, |e| {
                not_pending_deletion(e)?;
                let mut rec = e.rec.clone();
                rec.state = KeyState::PendingDeletion;
                rec.deletion_ms = Some(deletion.millis());
                rec.pending_window_days = Some(days);
                Ok((rec, vec![], ()))
            })
            .await?;
        Ok(ScheduleKeyDeletionResponse {
            key_id: e.arn.clone(),
            deletion_date: Date(deletion),
            key_state: KeyState::PendingDeletion.as_str().into(),
            pending_window_in_days: days,
        })
    }

    pub async fn cancel_key_deletion(&self, caller: &Caller, req: KeyIdRequest) -> Result<KeyIdResponse, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        validated(v)?;
        let e = self.resolve(caller, key_id.expect("validated"), false).await?;
        self.authorize(caller, &e, Req::new("CancelKeyDeletion"))?;
        let (e, ()) = self
            .mutate_key(e, |e| {
                if e.rec.state != KeyState::PendingDeletion {
                    return Err(KmsError::InvalidState(format!("{} is not pending deletion.", e.arn)));
                }
                let mut rec = e.rec.clone();
                rec.state = KeyState::Disabled;
                rec.deletion_ms = None;
                rec.pending_window_days = None;
                Ok((rec, vec![], ()))
            })
            .await?;
        Ok(KeyIdResponse { key_id: e.arn.clone() })
    }
}
