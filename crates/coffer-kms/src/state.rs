//! What a KMS key is at rest (records) and in memory (entries), and the in-memory cache.
//!
//! A key is one store item (table `kms.keys`, pk = key id) holding its metadata, key policy,
//! tags, rotation schedule and every key material it ever had, each material sealed under the
//! root key with the purpose `kms-material:<key id>:<material id>`. Keeping a key in one item
//! makes every key change a single conditional write.
//!
//! The cache holds every key and alias of this node with materials already unsealed into
//! aws-lc-rs key objects, so Encrypt/Decrypt/GenerateDataKey never touch the database. It is
//! changed only after a write commits, and only forward (a higher store version replaces a lower
//! one), so concurrent writers cannot leave it older than the store.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use coffer_crypto::digest::{hex, unhex};
use coffer_crypto::asym::{AsymKey, Spec};
use coffer_crypto::{RootKey, SecretBytes, SymmetricKey, random};
use serde::{Deserialize, Serialize};

use crate::KmsError;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    Enabled,
    Disabled,
    PendingDeletion,
    PendingImport,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
            KeyState::PendingImport => "PendingImport",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TagRecord {
    pub key: String,
    pub value: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct RotationRecord {
    pub enabled: bool,
    pub period_days: i64,
    /// When the current automatic period started (rotation enabled, or last automatic rotation).
    pub anchor_ms: Option<i64>,
    pub next_ms: Option<i64>,
    pub on_demand_count: u32,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct MaterialRecord {
    /// 64 lower-case hex characters (32 bytes), as AWS's KeyMaterialId.
    pub id: String,
    pub created_ms: i64,
    /// `None` for the key's original material; `AUTOMATIC` or `ON_DEMAND` for rotations.
    pub rotation_type: Option<String>,
    /// The material sealed under the root key (hex).
    pub sealed: String,
}

/// A pending GetParametersForImport: the wrapping key and the token that names it.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct PendingImport {
    /// Random token id (hex); the ImportToken carries it.
    pub token: String,
    pub wrapping_spec: String,
    pub algorithm: String,
    /// The wrapping key's PKCS#8, sealed under the root key (hex).
    pub wrapping_sealed: String,
    pub valid_to_ms: i64,
}

/// Import state of an EXTERNAL-origin key.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct ImportRecord {
    pub expiration_model: Option<String>,
    pub valid_to_ms: Option<i64>,
    /// Keyed fingerprint (hex) of the material ever imported: a re-import must match it.
    pub fingerprint: Option<String>,
    pub pending: Option<PendingImport>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct KeyRecord {
    pub key_id: String,
    pub account: String,
    pub region: String,
    pub created_ms: i64,
    pub description: String,
    pub key_usage: String,
    pub key_spec: String,
    pub origin: String,
    /// `CUSTOMER` or `AWS`.
    pub key_manager: String,
    pub state: KeyState,
    pub deletion_ms: Option<i64>,
    pub pending_window_days: Option<i64>,
    pub policy: String,
    pub tags: Vec<TagRecord>,
    pub rotation: RotationRecord,
    pub materials: Vec<MaterialRecord>,
    /// The material new ciphertexts use (empty while an EXTERNAL key awaits its material).
    pub current_material: String,
    /// For EXTERNAL-origin keys.
    #[serde(default)]
    pub import: Option<ImportRecord>,
}

/// A grant (table `kms.grants`, pk = key id, sk = grant id).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct GrantRecord {
    pub grant_id: String,
    pub key_id: String,
    pub name: Option<String>,
    pub grantee: String,
    pub retiring: Option<String>,
    pub operations: Vec<String>,
    pub constraints: Option<crate::model::GrantConstraints>,
    pub issuing_account: String,
    pub created_ms: i64,
}

pub struct GrantEntry {
    pub rec: GrantRecord,
    pub version: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct AliasRecord {
    pub target_key_id: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

pub fn key_arn(region: &str, account: &str, key_id: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:key/{key_id}")
}

pub fn alias_arn(region: &str, account: &str, alias_name: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:{alias_name}")
}

pub fn alias_partition(account: &str, region: &str) -> String {
    format!("{account}:{region}")
}

pub(crate) fn material_purpose(key_id: &str, material_id: &str) -> String {
    format!("kms-material:{key_id}:{material_id}")
}

/// Seals material bytes for `key_id` as material `id`.
pub fn seal_material(root: &RootKey, key_id: &str, id: String, raw: &[u8], now_ms: i64, rotation_type: Option<&str>) -> MaterialRecord {
    let sealed = root.seal(&material_purpose(key_id, &id), raw);
    MaterialRecord { id, created_ms: now_ms, rotation_type: rotation_type.map(str::to_owned), sealed: hex(&sealed) }
}

/// Generates new key material of `key_spec` for `key_id` (AES-256 for symmetric keys, PKCS#8
/// for asymmetric ones, random bytes for HMAC), returning its sealed record.
pub fn new_material(
    root: &RootKey,
    key_id: &str,
    key_spec: &str,
    now_ms: i64,
    rotation_type: Option<&str>,
) -> Result<MaterialRecord, KmsError> {
    let raw = match Spec::parse(key_spec) {
        None => SecretBytes::random(32),
        Some(spec) => coffer_crypto::asym::generate(spec).map_err(|_| KmsError::Internal(format!("generating {key_spec} material failed")))?,
    };
    Ok(seal_material(root, key_id, hex(&random::bytes::<32>()), raw.expose(), now_ms, rotation_type))
}

/// Loaded key material.
pub enum Material {
    Aes(SymmetricKey),
    Asym(AsymKey),
}

/// A key as served from memory. No `Debug`: it holds key objects.
pub struct KeyEntry {
    pub rec: KeyRecord,
    pub version: i64,
    pub arn: String,
    pub uuid: [u8; 16],
    /// The key policy, parsed once per change.
    pub policy: Arc<coffer_policy::PolicyDocument>,
    materials: HashMap<[u8; 32], Arc<Material>>,
    current: Option<[u8; 32]>,
}

fn material_id_bytes(id: &str) -> Result<[u8; 32], KmsError> {
    unhex(id)
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| KmsError::Internal(format!("stored material id {id:?} is malformed")))
}

impl KeyEntry {
    /// Builds the in-memory form, unsealing materials (reusing those of `prev` that are known).
    pub fn build(rec: KeyRecord, version: i64, root: &RootKey, prev: Option<&KeyEntry>) -> Result<KeyEntry, KmsError> {
        let uuid = random::parse_uuid(&rec.key_id)
            .ok_or_else(|| KmsError::Internal(format!("stored key id {:?} is malformed", rec.key_id)))?;
        let mut materials = HashMap::with_capacity(rec.materials.len());
        for m in &rec.materials {
            let id = material_id_bytes(&m.id)?;
            if let Some(k) = prev.and_then(|p| p.materials.get(&id)) {
                materials.insert(id, k.clone());
                continue;
            }
            let sealed = unhex(&m.sealed).ok_or_else(|| KmsError::Internal("sealed material is not hex".into()))?;
            let raw = root
                .open(&material_purpose(&rec.key_id, &m.id), &sealed)
                .map_err(|e| KmsError::Internal(format!("key {} material {}: {e}", rec.key_id, m.id)))?;
            let bad = || KmsError::Internal(format!("key {} material {} does not load", rec.key_id, m.id));
            let loaded = match Spec::parse(&rec.key_spec) {
                None => Material::Aes(SymmetricKey::from_bytes(raw.expose()).map_err(|_| bad())?),
                Some(spec) => Material::Asym(
                    AsymKey::from_material(spec, rec.key_usage == "KEY_AGREEMENT", raw.expose()).map_err(|_| bad())?,
                ),
            };
            materials.insert(id, Arc::new(loaded));
        }
        let current = if rec.current_material.is_empty() { None } else { Some(material_id_bytes(&rec.current_material)?) };
        if current.is_none_or(|c| !materials.contains_key(&c)) && rec.state != KeyState::PendingImport {
            return Err(KmsError::Internal(format!("key {} has no current material", rec.key_id)));
        }
        let arn = key_arn(&rec.region, &rec.account, &rec.key_id);
        let policy = match prev {
            Some(p) if p.rec.policy == rec.policy => p.policy.clone(),
            _ => Arc::new(
                coffer_policy::PolicyDocument::parse(&rec.policy, coffer_policy::PolicyKind::Resource)
                    .map_err(|e| KmsError::Internal(format!("key {} has an unreadable key policy: {e}", rec.key_id)))?,
            ),
        };
        Ok(KeyEntry { rec, version, arn, uuid, policy, materials, current })
    }

    /// A symmetric material by id.
    pub fn material(&self, id: &[u8; 32]) -> Option<&SymmetricKey> {
        match self.materials.get(id).map(|m| m.as_ref()) {
            Some(Material::Aes(k)) => Some(k),
            _ => None,
        }
    }

    /// The symmetric material new ciphertexts use, and its id.
    pub fn current(&self) -> Option<(&[u8; 32], &SymmetricKey)> {
        let id = self.current.as_ref()?;
        match self.materials.get(id).map(|m| m.as_ref()) {
            Some(Material::Aes(k)) => Some((id, k)),
            _ => None,
        }
    }

    /// The asymmetric (or HMAC) material of an asymmetric key.
    pub fn asym(&self) -> Option<&AsymKey> {
        match self.materials.get(self.current.as_ref()?).map(|m| m.as_ref()) {
            Some(Material::Asym(k)) => Some(k),
            _ => None,
        }
    }

    pub fn is_symmetric(&self) -> bool {
        self.rec.key_spec == "SYMMETRIC_DEFAULT"
    }

    pub fn is_aws_managed(&self) -> bool {
        self.rec.key_manager == "AWS"
    }
}

pub struct AliasEntry {
    pub name: String,
    pub account: String,
    pub region: String,
    pub rec: AliasRecord,
    pub version: i64,
}

type Scope = (String, String);

#[derive(Default)]
struct Inner {
    keys: HashMap<[u8; 16], Arc<KeyEntry>>,
    /// (account, region) → key ids, for listing in a stable order.
    by_scope: BTreeMap<Scope, BTreeSet<String>>,
    /// (account, region) → alias name → alias.
    aliases: BTreeMap<Scope, BTreeMap<String, Arc<AliasEntry>>>,
    /// Grants by key, and grant id → key.
    grants: HashMap<[u8; 16], Vec<Arc<GrantEntry>>>,
    grant_keys: HashMap<String, [u8; 16]>,
}

#[derive(Default)]
pub struct Cache {
    inner: RwLock<Inner>,
}

impl Cache {
    /// Replaces everything with `other`'s contents (a full reload).
    pub fn replace(&self, other: Cache) {
        *self.inner.write().expect("cache lock") = other.inner.into_inner().expect("cache lock");
    }

    /// Sets an alias to exactly what the store holds (None: absent), whatever its version —
    /// a deleted and re-created alias starts again at version 1.
    pub fn set_alias(&self, account: &str, region: &str, name: &str, a: Option<Arc<AliasEntry>>) {
        let mut g = self.inner.write().expect("cache lock");
        let m = g.aliases.entry((account.to_string(), region.to_string())).or_default();
        match a {
            Some(a) => {
                m.insert(name.to_string(), a);
            }
            None => {
                m.remove(name);
            }
        }
    }

    pub fn key(&self, uuid: &[u8; 16]) -> Option<Arc<KeyEntry>> {
        self.inner.read().expect("cache lock").keys.get(uuid).cloned()
    }

    /// Inserts or replaces a key unless the cache already holds a newer version.
    pub fn put_key(&self, e: Arc<KeyEntry>) {
        let mut g = self.inner.write().expect("cache lock");
        if g.keys.get(&e.uuid).is_some_and(|old| old.version >= e.version) {
            return;
        }
        g.by_scope.entry((e.rec.account.clone(), e.rec.region.clone())).or_default().insert(e.rec.key_id.clone());
        g.keys.insert(e.uuid, e);
    }

    pub fn remove_key(&self, uuid: &[u8; 16]) {
        let mut g = self.inner.write().expect("cache lock");
        if let Some(list) = g.grants.remove(uuid) {
            for gr in list {
                g.grant_keys.remove(&gr.rec.grant_id);
            }
        }
        if let Some(e) = g.keys.remove(uuid)
            && let Some(set) = g.by_scope.get_mut(&(e.rec.account.clone(), e.rec.region.clone()))
        {
            set.remove(&e.rec.key_id);
        }
    }

    /// Key ids of one account and region, in order, strictly after `after`.
    pub fn key_ids(&self, account: &str, region: &str, after: Option<&str>, limit: usize) -> Vec<String> {
        let g = self.inner.read().expect("cache lock");
        let Some(set) = g.by_scope.get(&(account.to_string(), region.to_string())) else {
            return Vec::new();
        };
        let iter: Box<dyn Iterator<Item = &String>> = match after {
            Some(a) => Box::new(set.range::<str, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))),
            None => Box::new(set.iter()),
        };
        iter.take(limit).cloned().collect()
    }

    pub fn all_keys(&self) -> Vec<Arc<KeyEntry>> {
        self.inner.read().expect("cache lock").keys.values().cloned().collect()
    }

    pub fn alias(&self, account: &str, region: &str, name: &str) -> Option<Arc<AliasEntry>> {
        let g = self.inner.read().expect("cache lock");
        g.aliases.get(&(account.to_string(), region.to_string())).and_then(|m| m.get(name)).cloned()
    }

    pub fn put_alias(&self, a: Arc<AliasEntry>) {
        let mut g = self.inner.write().expect("cache lock");
        let m = g.aliases.entry((a.account.clone(), a.region.clone())).or_default();
        if m.get(&a.name).is_some_and(|old| old.version >= a.version) {
            return;
        }
        m.insert(a.name.clone(), a);
    }

    pub fn remove_alias(&self, account: &str, region: &str, name: &str) {
        let mut g = self.inner.write().expect("cache lock");
        if let Some(m) = g.aliases.get_mut(&(account.to_string(), region.to_string())) {
            m.remove(name);
        }
    }

    /// Aliases of one account and region in name order, optionally only those of one key.
    pub fn aliases(&self, account: &str, region: &str, target: Option<&str>) -> Vec<Arc<AliasEntry>> {
        let g = self.inner.read().expect("cache lock");
        g.aliases
            .get(&(account.to_string(), region.to_string()))
            .map(|m| {
                m.values().filter(|a| target.is_none_or(|t| a.rec.target_key_id == t)).cloned().collect()
            })
            .unwrap_or_default()
    }

    pub fn grants_of(&self, uuid: &[u8; 16]) -> Vec<Arc<GrantEntry>> {
        self.inner.read().expect("cache lock").grants.get(uuid).cloned().unwrap_or_default()
    }

    /// The key a grant id belongs to.
    pub fn grant_key(&self, grant_id: &str) -> Option<[u8; 16]> {
        self.inner.read().expect("cache lock").grant_keys.get(grant_id).copied()
    }

    pub fn all_grants(&self) -> Vec<Arc<GrantEntry>> {
        self.inner.read().expect("cache lock").grants.values().flatten().cloned().collect()
    }

    pub fn put_grant(&self, uuid: [u8; 16], gr: Arc<GrantEntry>) {
        let mut g = self.inner.write().expect("cache lock");
        g.grant_keys.insert(gr.rec.grant_id.clone(), uuid);
        let list = g.grants.entry(uuid).or_default();
        match list.iter_mut().find(|x| x.rec.grant_id == gr.rec.grant_id) {
            Some(x) if x.version < gr.version => *x = gr,
            Some(_) => {}
            None => list.push(gr),
        }
    }

    pub fn remove_grant(&self, uuid: &[u8; 16], grant_id: &str) {
        let mut g = self.inner.write().expect("cache lock");
        g.grant_keys.remove(grant_id);
        if let Some(list) = g.grants.get_mut(uuid) {
            list.retain(|x| x.rec.grant_id != grant_id);
        }
    }
}
