//! Rotation: EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand,
//! ListKeyRotations, and the rotation step the scheduler runs.
//!
//! Rotating adds a new key material and makes it current; old materials stay forever so every
//! earlier ciphertext (whose blob names its material) still decrypts. The key id, ARN and
//! aliases never change.

use std::sync::Arc;

use coffer_policy::Caller;
use coffer_util::time::MILLIS_PER_DAY;
use coffer_util::{Validation, marker};

use crate::authorize::Req;
use crate::error::validated;
use crate::model::*;
use crate::state::{KeyEntry, KeyRecord, KeyState, new_material};
use crate::{Kms, KmsError, validate};

/// Automatic rotation applies to symmetric encryption keys with AWS-generated material only.
fn rotatable(e: &KeyEntry) -> Result<(), KmsError> {
    if e.rec.key_spec != "SYMMETRIC_DEFAULT" {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} key spec is {} which does not support rotation.",
            e.arn, e.rec.key_spec
        )));
    }
    if e.rec.origin != "AWS_KMS" {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} origin is {} which is not valid for this operation.",
            e.arn, e.rec.origin
        )));
    }
    Ok(())
}

/// Rotation changes need an Enabled key (AWS: DisabledException / KMSInvalidStateException).
fn enabled_for_rotation(e: &KeyEntry) -> Result<(), KmsError> {
    match e.rec.state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(KmsError::Disabled(format!("{} is disabled.", e.arn))),
        KeyState::PendingDeletion => Err(crate::keys::pending_deletion(e)),
        KeyState::PendingImport => Err(KmsError::InvalidState(format!("{} is pending import.", e.arn))),
    }
}

/// Adds a material of `rotation_type` to `rec` and makes it current.
pub(crate) fn rotate_record(kms: &Kms, rec: &mut KeyRecord, rotation_type: &str, now_ms: i64) -> Result<(), KmsError> {
    let m = new_material(&kms.root, &rec.key_id, &rec.key_spec, now_ms, Some(rotation_type))?;
    rec.current_material = m.id.clone();
    rec.materials.push(m);
    Ok(())
}

impl Kms {
    pub async fn enable_key_rotation(&self, caller: &Caller, req: EnableKeyRotationRequest) -> Result<Empty, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        if let Some(p) = req.rotation_period_in_days {
            v.range("rotationPeriodInDays", p, 90, 2560);
        }
        validated(v)?;
        let e = self.resolve(caller, key_id.expect("validated"), false).await?;
        let period = req.rotation_period_in_days.unwrap_or(365);
        self.authorize(caller, &e, Req::new("EnableKeyRotation").key("kms:RotationPeriodInDays", vec![period.to_string()]))?;
        let now = self.clock.now().millis();
        self.mutate_key(e, |e| {
            enabled_for_rotation(e)?;
            rotatable(e)?;
            let mut rec = e.rec.clone();
            let r = &mut rec.rotation;
            if !r.enabled {
                r.anchor_ms = Some(now);
            }
            let anchor = r.anchor_ms.unwrap_or(now);
            r.enabled = true;
            r.period_days = period;
            r.next_ms = Some((anchor + period * MILLIS_PER_DAY).max(now));
            Ok((rec, vec![], ()))
        })
        .await?;
        Ok(Empty {})
    }

    pub async fn disable_key_rotation(&self, caller: &Caller, req: KeyIdRequest) -> Result<Empty, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        validated(v)?;
        let e = self.resolve(caller, key_id.expect("validated"), false).await?;
        self.authorize(caller, &e, Req::new("DisableKeyRotation"))?;
        self.mutate_key(e, |e| {
            enabled_for_rotation(e)?;
            rotatable(e)?;
            let mut rec = e.rec.clone();
            rec.rotation.enabled = false;
            rec.rotation.next_ms = None;
            rec.rotation.anchor_ms = None;
            Ok((rec, vec![], ()))
        })
        .await?;
        Ok(Empty {})
    }

    pub async fn get_key_rotation_status(
        &self,
        caller: &Caller,
        req: KeyIdRequest,
    ) -> Result<GetKeyRotationStatusResponse, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        validated(v)?;
        let e = self.resolve(caller, key_id.expect("validated"), false).await?;
        self.authorize(caller, &e, Req::new("GetKeyRotationStatus"))?;
        let r = &e.rec.rotation;
        let on = r.enabled && e.rec.state != KeyState::PendingDeletion;
        Ok(GetKeyRotationStatusResponse {
            key_id: e.rec.key_id.clone(),
            key_rotation_enabled: on,
            rotation_period_in_days: on.then_some(r.period_days),
            next_rotation_date: if on { r.next_ms.map(|n| Date(coffer_util::Timestamp(n))) } else { None },
        })
    }

    pub async fn rotate_key_on_demand(&self, caller: &Caller, req: KeyIdRequest) -> Result<KeyIdResponse, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        validated(v)?;
        let e = self.resolve(caller, key_id.expect("validated"), false).await?;
        self.authorize(caller, &e, Req::new("RotateKeyOnDemand"))?;
        let now = self.clock.now().millis();
        let max = self.config.max_on_demand_rotations;
        let (e, ()) = self
            .mutate_key(e, |e| {
                enabled_for_rotation(e)?;
                rotatable(e)?;
                if e.rec.rotation.on_demand_count >= max {
                    return Err(KmsError::LimitExceeded(format!(
                        "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: {}",
                        e.arn
                    )));
                }
                let mut rec = e.rec.clone();
                rotate_record(self, &mut rec, "ON_DEMAND", now)?;
                rec.rotation.on_demand_count += 1;
                Ok((rec, vec![], ()))
            })
            .await?;
        Ok(KeyIdResponse { key_id: e.rec.key_id.clone() })
    }

    pub async fn list_key_rotations(
        &self,
        caller: &Caller,
        req: ListKeyRotationsRequest,
    ) -> Result<ListKeyRotationsResponse, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        if let Some(i) = &req.include_key_material {
            v.one_of("includeKeyMaterial", i, &["ALL_KEY_MATERIAL", "ROTATIONS_ONLY"]);
        }
        validate::page(&mut v, req.limit, req.marker.as_ref());
        validated(v)?;
        let after = validate::resume_after(req.marker.as_ref())?;
        let e = self.resolve(caller, key_id.expect("validated"), false).await?;
        self.authorize(caller, &e, Req::new("ListKeyRotations"))?;
        rotatable(&e)?;
        let all = req.include_key_material.as_deref() == Some("ALL_KEY_MATERIAL");
        let limit = req.limit.unwrap_or(100) as usize;
        // Materials are kept in creation order; the marker is the index to resume after.
        let start = match after {
            Some(a) => a.parse::<usize>().map_err(|_| KmsError::InvalidMarker)? + 1,
            None => 0,
        };
        let entries: Vec<(usize, RotationsListEntry)> = e
            .rec
            .materials
            .iter()
            .enumerate()
            .filter(|(_, m)| all || m.rotation_type.is_some())
            .filter(|(i, _)| *i >= start)
            .take(limit + 1)
            .map(|(i, m)| {
                (
                    i,
                    RotationsListEntry {
                        key_id: e.rec.key_id.clone(),
                        key_material_id: m.id.clone(),
                        key_material_state: if m.id == e.rec.current_material { "CURRENT" } else { "NON_CURRENT" }
                            .into(),
                        rotation_date: m.rotation_type.as_ref().map(|_| Date(coffer_util::Timestamp(m.created_ms))),
                        rotation_type: m.rotation_type.clone(),
                    },
                )
            })
            .collect();
        let truncated = entries.len() > limit;
        let mut entries = entries;
        entries.truncate(limit);
        let next_marker = truncated.then(|| marker::encode(&entries.last().expect("non-empty").0.to_string()));
        Ok(ListKeyRotationsResponse { rotations: entries.into_iter().map(|(_, r)| r).collect(), next_marker, truncated })
    }

    /// One automatic rotation of a due key (scheduler step). Returns whether it rotated.
    pub(crate) async fn rotate_if_due(&self, e: Arc<KeyEntry>) -> Result<bool, KmsError> {
        let now = self.clock.now().millis();
        let is_due = |e: &KeyEntry| {
            let r = &e.rec.rotation;
            e.rec.state == KeyState::Enabled && r.enabled && r.next_ms.is_some_and(|n| n <= now)
        };
        if !is_due(&e) {
            return Ok(false);
        }
        let (_, rotated) = self
            .mutate_key(e, |e| {
                let due = is_due(e);
                let mut rec = e.rec.clone();
                if due {
                    rotate_record(self, &mut rec, "AUTOMATIC", now)?;
                    rec.rotation.anchor_ms = Some(now);
                    rec.rotation.next_ms = Some(now + rec.rotation.period_days * MILLIS_PER_DAY);
                }
                Ok((rec, vec![], due))
            })
            .await?;
        Ok(rotated)
    }
}
