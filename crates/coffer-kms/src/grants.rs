//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant, and the
//! check that lets a grant allow an operation.
//!
//! A grant gives its grantee principal some operations on one key, optionally only for requests
//! whose encryption context contains (`EncryptionContextSubset`) or equals
//! (`EncryptionContextEquals`) given pairs — keys compared case-insensitively, values
//! case-sensitively, as AWS does. Grants are strongly consistent here: a grant works from the
//! moment CreateGrant returns and stops when RetireGrant or RevokeGrant returns. Grant tokens are
//! still accepted and checked (a malformed or unknown one is `InvalidGrantTokenException`).
//!
//! Grant token format: `CGT1` + the 64-hex grant id + 32 random hex characters.

use std::collections::BTreeMap;
use std::sync::Arc;

use coffer_crypto::EncryptionContext;
use coffer_crypto::digest::hex;
use coffer_crypto::random;
use coffer_policy::{Caller, EvalRequest, PrincipalKind, evaluate_identity};
use coffer_store::{Expect, StoreError, Write, tables};
use coffer_util::{Validation, marker};

use crate::authorize::Req;
use crate::error::validated;
use crate::keys::usable;
use crate::model::*;
use crate::state::{GrantEntry, GrantRecord, KeyEntry};
use crate::{Kms, KmsError, encode, validate};

pub(crate) const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// Operations a grant may give on a key, by key type.
fn operations_for(e: &KeyEntry) -> &'static [&'static str] {
    match (e.rec.key_usage.as_str(), e.is_symmetric()) {
        ("ENCRYPT_DECRYPT", true) => &[
            "Decrypt",
            "Encrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "ReEncryptFrom",
            "ReEncryptTo",
            "CreateGrant",
            "RetireGrant",
            "DescribeKey",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
        ],
        ("ENCRYPT_DECRYPT", false) => {
            &["Decrypt", "Encrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey", "CreateGrant", "RetireGrant", "DescribeKey"]
        }
        ("SIGN_VERIFY", _) => &["Sign", "Verify", "GetPublicKey", "CreateGrant", "RetireGrant", "DescribeKey"],
        ("GENERATE_VERIFY_MAC", _) => &["GenerateMac", "VerifyMac", "CreateGrant", "RetireGrant", "DescribeKey"],
        ("KEY_AGREEMENT", _) => &["DeriveSharedSecret", "GetPublicKey", "CreateGrant", "RetireGrant", "DescribeKey"],
        _ => &[],
    }
}

/// Operations that take no encryption context, so constraints cannot apply to them.
const NO_CONTEXT: &[&str] = &["DescribeKey", "RetireGrant", "GetPublicKey", "Sign", "Verify", "GenerateMac", "VerifyMac", "DeriveSharedSecret"];

const TOKEN_PREFIX: &str = "CGT1";
const MAX_GRANTS_PER_KEY: usize = 50_000;

fn new_token(grant_id: &str) -> String {
    format!("{TOKEN_PREFIX}{grant_id}{}", hex(&random::bytes::<16>()))
}

/// The grant id a token names, if it is one of ours.
fn token_grant_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    (rest.len() == 96 && rest.bytes().all(|b| b.is_ascii_hexdigit())).then(|| &rest[..64])
}

/// Keys compare case-insensitively, values case-sensitively.
fn pair_present(ec: &EncryptionContext, k: &str, v: &str) -> bool {
    ec.0.iter().any(|(rk, rv)| rk.eq_ignore_ascii_case(k) && rv == v)
}

fn constraints_hold(c: &Option<GrantConstraints>, ec: Option<&EncryptionContext>) -> bool {
    let Some(c) = c else { return true };
    let empty = EncryptionContext::default();
    let ec = ec.unwrap_or(&empty);
    if let Some(sub) = &c.encryption_context_subset
        && !sub.iter().all(|(k, v)| pair_present(ec, k, v))
    {
        return false;
    }
    if let Some(eq) = &c.encryption_context_equals
        && (eq.len() != ec.0.len() || !eq.iter().all(|(k, v)| pair_present(ec, k, v)))
    {
        return false;
    }
    true
}

/// Whether constraints `new` are at least as strict as `old` (for grants created by grant).
fn at_least_as_strict(new: &Option<GrantConstraints>, old: &Option<GrantConstraints>) -> bool {
    let Some(old) = old else { return true };
    let Some(new) = new else { return false };
    let lower = |m: &EncryptionContextMap| -> BTreeMap<String, String> {
        m.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect()
    };
    if let Some(o) = &old.encryption_context_equals {
        return new.encryption_context_equals.as_ref().is_some_and(|n| lower(n) == lower(o));
    }
    if let Some(o) = &old.encryption_context_subset {
        let o = lower(o);
        let contains = |n: &EncryptionContextMap| o.iter().all(|(k, v)| lower(n).get(k) == Some(v));
        return new.encryption_context_subset.as_ref().is_some_and(contains)
            || new.encryption_context_equals.as_ref().is_some_and(contains);
    }
    true
}

fn list_entry(key: &KeyEntry, g: &GrantRecord) -> GrantListEntry {
    GrantListEntry {
        key_id: key.arn.clone(),
        grant_id: g.grant_id.clone(),
        name: g.name.clone(),
        creation_date: Date(coffer_util::Timestamp(g.created_ms)),
        grantee_principal: g.grantee.clone(),
        retiring_principal: g.retiring.clone(),
        issuing_account: format!("arn:aws:iam::{}:root", g.issuing_account),
        operations: g.operations.clone(),
        constraints: g.constraints.clone(),
    }
}

fn principal_ok(p: &str) -> bool {
    !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || "_+=,.@:/-".contains(c))
}

impl Kms {
    /// Does the grantee `caller` hold a grant on `key` for `op` whose constraints `ec` meets?
    pub(crate) fn grant_allows(&self, caller: &Caller, key: &KeyEntry, op: &str, ec: Option<&EncryptionContext>) -> bool {
        self.cache.grants_of(&key.uuid).iter().any(|g| {
            g.rec.operations.iter().any(|o| o == op)
                && constraints_hold(&g.rec.constraints, ec)
                && self.grantee_matches(caller, key, &g.rec.grantee, op)
        })
    }

    /// A grant names a user, role, session — or an account, whose principals then also need an
    /// identity policy allowing the operation (its root does not).
    fn grantee_matches(&self, caller: &Caller, key: &KeyEntry, grantee: &str, op: &str) -> bool {
        let p = &caller.principal;
        if p.arn == grantee || p.role_arn.as_deref() == Some(grantee) {
            return true;
        }
        if grantee != format!("arn:aws:iam::{}:root", p.account) {
            return false;
        }
        if p.kind == PrincipalKind::Root {
            return true;
        }
        let action = format!("kms:{op}");
        let ctx = coffer_policy::Context::new();
        let docs = self.identities.identity_policies(p);
        let refs: Vec<&coffer_policy::PolicyDocument> = docs.iter().map(|d| d.as_ref()).collect();
        evaluate_identity(&refs, &EvalRequest { principal: p, action: &action, resource: &key.arn, context: &ctx })
            == coffer_policy::Decision::Allow
    }

    /// Checks the `GrantTokens` of a request: each must name an existing grant.
    pub(crate) fn check_grant_tokens(&self, tokens: Option<&Vec<String>>) -> Result<(), KmsError> {
        for t in tokens.into_iter().flatten() {
            let known = token_grant_id(t).is_some_and(|id| self.cache.grant_key(id).is_some());
            if !known {
                return Err(KmsError::InvalidGrantToken("The grant token is invalid or the grant no longer exists.".into()));
            }
        }
        Ok(())
    }

    pub async fn create_grant(&self, caller: &Caller, req: CreateGrantRequest) -> Result<CreateGrantResponse, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        if v.required("granteePrincipal", req.grantee_principal.as_ref()) {
            let g = req.grantee_principal.as_ref().expect("checked");
            v.str_len("granteePrincipal", g, 1, 256);
            v.pattern("granteePrincipal", g, principal_ok(g), "^[\\w+=,.@:/-]+$");
        }
        if let Some(r) = &req.retiring_principal {
            v.str_len("retiringPrincipal", r, 1, 256);
            v.pattern("retiringPrincipal", r, principal_ok(r), "^[\\w+=,.@:/-]+$");
        }
        if v.required("operations", req.operations.as_ref()) {
            for (i, op) in req.operations.as_ref().expect("checked").iter().enumerate() {
                v.one_of(&format!("operations.{}.member", i + 1), op, GRANT_OPERATIONS);
            }
        }
        if let Some(n) = &req.name {
            v.str_len("name", n, 1, 256);
            v.pattern("name", n, coffer_util::validate::is_alias_chars(n), "^[a-zA-Z0-9:/_-]+$");
        }
        validate::grant_tokens(&mut v, req.grant_tokens.as_ref());
        validated(v)?;
        self.check_grant_tokens(req.grant_tokens.as_ref())?;
        let grantee = req.grantee_principal.expect("validated");
        let mut ops = req.operations.expect("validated");
        ops.sort();
        ops.dedup();
        if ops.is_empty() {
            return Err(KmsError::Validation("Operations must contain at least one grant operation.".into()));
        }
        let constraints = req.constraints.filter(|c| c.encryption_context_subset.is_some() || c.encryption_context_equals.is_some());
        let key = self.resolve(caller, key_id.expect("validated"), false).await?;
        for p in std::iter::once(&grantee).chain(req.retiring_principal.as_ref()) {
            if !self.identities.principal_exists(p) {
                return Err(KmsError::Validation(format!("Invalid principal: {p}")));
            }
        }
        if let Some(bad) = ops.iter().find(|o| !operations_for(&key).contains(&o.as_str())) {
            return Err(KmsError::Validation(format!(
                "Grant operation {bad} is not valid for a key of spec {} and usage {}.",
                key.rec.key_spec, key.rec.key_usage
            )));
        }
        if constraints.is_some() && !key.is_symmetric() {
            return Err(KmsError::Validation("Grant constraints are supported only for symmetric encryption keys.".into()));
        }
        if constraints.is_some()
            && let Some(bad) = ops.iter().find(|o| NO_CONTEXT.contains(&o.as_str()))
        {
            return Err(KmsError::Validation(format!(
                "Grant constraints cannot be used with the {bad} operation, which takes no encryption context."
            )));
        }
        // A grantee with a CreateGrant grant may create grants for a subset of its operations
        // with constraints at least as strict.
        let by_grant = self.cache.grants_of(&key.uuid).iter().any(|g| {
            g.rec.operations.iter().any(|o| o == "CreateGrant")
                && self.grantee_matches(caller, &key, &g.rec.grantee, "CreateGrant")
                && ops.iter().all(|o| g.rec.operations.contains(o))
                && at_least_as_strict(&constraints, &g.rec.constraints)
        });
        let mut constraint_types = Vec::new();
        if let Some(c) = &constraints {
            if c.encryption_context_subset.is_some() {
                constraint_types.push("EncryptionContextSubset".to_string());
            }
            if c.encryption_context_equals.is_some() {
                constraint_types.push("EncryptionContextEquals".to_string());
            }
        }
        let mut r = Req::new("CreateGrant")
            .key("kms:GrantOperations", ops.clone())
            .key("kms:GranteePrincipal", vec![grantee.clone()])
            .key("kms:GrantIsForAWSResource", vec![caller.via_service.is_some().to_string()]);
        if !constraint_types.is_empty() {
            r = r.key("kms:GrantConstraintType", constraint_types);
        }
        if let Some(rp) = &req.retiring_principal {
            r = r.key("kms:RetiringPrincipal", vec![rp.clone()]);
        }
        r.by_grant = Some(by_grant);
        self.authorize(caller, &key, r)?;
        usable(&key)?;
        if req.dry_run == Some(true) {
            return Err(KmsError::DryRunOperation);
        }
        let rec = GrantRecord {
            grant_id: hex(&random::bytes::<32>()),
            key_id: key.rec.key_id.clone(),
            name: req.name.clone(),
            grantee,
            retiring: req.retiring_principal,
            operations: ops,
            constraints,
            issuing_account: caller.account().to_string(),
            created_ms: self.clock.now().millis(),
        };
        let existing = self.cache.grants_of(&key.uuid);
        if rec.name.is_some()
            && let Some(same) = existing.iter().find(|g| GrantRecord { grant_id: g.rec.grant_id.clone(), created_ms: g.rec.created_ms, ..rec.clone() } == g.rec)
        {
            return Ok(CreateGrantResponse { grant_token: new_token(&same.rec.grant_id), grant_id: same.rec.grant_id.clone() });
        }
        if existing.len() >= MAX_GRANTS_PER_KEY {
            return Err(KmsError::LimitExceeded(format!("The request would exceed the limit of {MAX_GRANTS_PER_KEY} grants for key {}.", key.arn)));
        }
        let batch = vec![
            Write::put(tables::KMS_GRANTS, &rec.key_id, &rec.grant_id, encode(&rec), Expect::Absent),
            Write::check(tables::KMS_KEYS, &key.rec.key_id, "", Expect::Exists),
        ];
        let versions = match self.store.write(batch).await {
            Ok(v) => v,
            Err(StoreError::Conflict { .. }) => return Err(KmsError::NotFound(format!("Key '{}' does not exist", key.arn))),
            Err(e) => return Err(e.into()),
        };
        let id = rec.grant_id.clone();
        self.cache.put_grant(key.uuid, Arc::new(GrantEntry { rec, version: versions[0] }));
        Ok(CreateGrantResponse { grant_token: new_token(&id), grant_id: id })
    }

    pub async fn list_grants(&self, caller: &Caller, req: ListGrantsRequest) -> Result<ListGrantsResponse, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        validate::page(&mut v, req.limit, req.marker.as_ref());
        if let Some(g) = &req.grant_id {
            v.str_len("grantId", g, 1, 128);
        }
        if let Some(g) = &req.grantee_principal {
            v.str_len("granteePrincipal", g, 1, 256);
        }
        validated(v)?;
        let after = validate::resume_after(req.marker.as_ref())?;
        let key = self.resolve(caller, key_id.expect("validated"), false).await?;
        self.authorize(caller, &key, Req::new("ListGrants"))?;
        let mut grants: Vec<Arc<GrantEntry>> = self
            .cache
            .grants_of(&key.uuid)
            .into_iter()
            .filter(|g| req.grant_id.as_ref().is_none_or(|id| &g.rec.grant_id == id))
            .filter(|g| req.grantee_principal.as_ref().is_none_or(|p| &g.rec.grantee == p))
            .collect();
        grants.sort_by(|a, b| a.rec.grant_id.cmp(&b.rec.grant_id));
        self.page_grants(grants, after, req.limit, |_| Some(key.clone()))
    }

    fn page_grants(
        &self,
        grants: Vec<Arc<GrantEntry>>,
        after: Option<String>,
        limit: Option<i64>,
        key_of: impl Fn(&GrantRecord) -> Option<Arc<KeyEntry>>,
    ) -> Result<ListGrantsResponse, KmsError> {
        let limit = limit.unwrap_or(50) as usize;
        let mut page: Vec<Arc<GrantEntry>> =
            grants.into_iter().filter(|g| after.as_deref().is_none_or(|a| g.rec.grant_id.as_str() > a)).take(limit + 1).collect();
        let truncated = page.len() > limit;
        page.truncate(limit);
        Ok(ListGrantsResponse {
            next_marker: truncated.then(|| marker::encode(&page.last().expect("non-empty").rec.grant_id)),
            grants: page.iter().filter_map(|g| key_of(&g.rec).map(|k| list_entry(&k, &g.rec))).collect(),
            truncated,
        })
    }

    pub async fn list_retirable_grants(
        &self,
        caller: &Caller,
        req: ListRetirableGrantsRequest,
    ) -> Result<ListGrantsResponse, KmsError> {
        let mut v = Validation::new();
        if v.required("retiringPrincipal", req.retiring_principal.as_ref()) {
            v.str_len("retiringPrincipal", req.retiring_principal.as_ref().expect("checked"), 1, 256);
        }
        validate::page(&mut v, req.limit, req.marker.as_ref());
        validated(v)?;
        let after = validate::resume_after(req.marker.as_ref())?;
        self.authorize_account(caller, Req::new("ListRetirableGrants"), "*")?;
        let who = req.retiring_principal.expect("validated");
        let mut grants: Vec<Arc<GrantEntry>> =
            self.cache.all_grants().into_iter().filter(|g| g.rec.retiring.as_deref() == Some(who.as_str())).collect();
        grants.sort_by(|a, b| a.rec.grant_id.cmp(&b.rec.grant_id));
        self.page_grants(grants, after, req.limit, |g| {
            coffer_crypto::random::parse_uuid(&g.key_id).and_then(|u| self.key_by_uuid(&u))
        })
    }

    /// The grant a RetireGrant/RevokeGrant names, with its key.
    fn find_grant(&self, key: &KeyEntry, grant_id: &str) -> Result<Arc<GrantEntry>, KmsError> {
        self.cache
            .grants_of(&key.uuid)
            .into_iter()
            .find(|g| g.rec.grant_id == grant_id)
            .ok_or_else(|| KmsError::NotFound(format!("Grant ID {grant_id} not found for key {}.", key.arn)))
    }

    async fn delete_grant(&self, key: &KeyEntry, g: &GrantEntry) -> Result<(), KmsError> {
        match self
            .store
            .write(vec![Write::delete(tables::KMS_GRANTS, &g.rec.key_id, &g.rec.grant_id, Expect::Exists)])
            .await
        {
            Ok(_) | Err(StoreError::Conflict { .. }) => {
                self.cache.remove_grant(&key.uuid, &g.rec.grant_id);
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn retire_grant(&self, caller: &Caller, req: RetireGrantRequest) -> Result<Empty, KmsError> {
        let mut v = Validation::new();
        if let Some(t) = &req.grant_token {
            v.str_len("grantToken", t, 1, 8192);
        }
        validate::opt_key_id(&mut v, "keyId", req.key_id.as_ref());
        if let Some(g) = &req.grant_id {
            v.str_len("grantId", g, 1, 128);
        }
        validated(v)?;
        let (key, grant) = match (&req.grant_token, &req.key_id, &req.grant_id) {
            (Some(t), _, _) => {
                let id = token_grant_id(t)
                    .ok_or_else(|| KmsError::InvalidGrantToken("The grant token is invalid.".into()))?;
                let uuid = self
                    .cache
                    .grant_key(id)
                    .ok_or_else(|| KmsError::InvalidGrantToken("The grant token is invalid or the grant no longer exists.".into()))?;
                let key = self.key_by_uuid(&uuid).ok_or(KmsError::InvalidGrantToken("The grant's key no longer exists.".into()))?;
                let g = self.find_grant(&key, id)?;
                (key, g)
            }
            (None, Some(k), Some(id)) => {
                if !k.starts_with("arn:") {
                    return Err(KmsError::Validation("RetireGrant needs the key ARN (not a key id) with GrantId.".into()));
                }
                let key = self.resolve(caller, k, false).await?;
                let g = self.find_grant(&key, id)?;
                (key, g)
            }
            _ => {
                return Err(KmsError::Validation("Specify either GrantToken, or KeyId (a key ARN) and GrantId.".into()));
            }
        };
        caller.note_resource(&key.arn);
        let p = &caller.principal;
        let may = grant.rec.retiring.as_deref() == Some(p.arn.as_str())
            || (grant.rec.operations.iter().any(|o| o == "RetireGrant")
                && self.grantee_matches(caller, &key, &grant.rec.grantee, "RetireGrant"))
            || (p.kind == PrincipalKind::Root && (p.account == grant.rec.issuing_account || p.account == key.rec.account));
        if !may {
            self.authorize(caller, &key, Req::new("RetireGrant"))?;
        }
        if req.dry_run == Some(true) {
            return Err(KmsError::DryRunOperation);
        }
        self.delete_grant(&key, &grant).await?;
        Ok(Empty {})
    }

    pub async fn revoke_grant(&self, caller: &Caller, req: RevokeGrantRequest) -> Result<Empty, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        if v.required("grantId", req.grant_id.as_ref()) {
            v.str_len("grantId", req.grant_id.as_ref().expect("checked"), 1, 128);
        }
        validated(v)?;
        let key = self.resolve(caller, key_id.expect("validated"), false).await?;
        self.authorize(caller, &key, Req::new("RevokeGrant"))?;
        let grant = self.find_grant(&key, req.grant_id.as_deref().expect("validated"))?;
        if req.dry_run == Some(true) {
            return Err(KmsError::DryRunOperation);
        }
        self.delete_grant(&key, &grant).await?;
        Ok(Empty {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ec(p: &[(&str, &str)]) -> EncryptionContext {
        EncryptionContext(p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    fn c(subset: Option<&[(&str, &str)]>, equals: Option<&[(&str, &str)]>) -> Option<GrantConstraints> {
        let m = |p: &[(&str, &str)]| p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Some(GrantConstraints { encryption_context_subset: subset.map(m), encryption_context_equals: equals.map(m) })
    }

    #[test]
    fn constraints_compare_keys_case_insensitively_values_exactly() {
        let sub = c(Some(&[("Dept", "IT")]), None);
        assert!(constraints_hold(&sub, Some(&ec(&[("dept", "IT"), ("x", "y")]))));
        assert!(!constraints_hold(&sub, Some(&ec(&[("dept", "it")]))));
        assert!(!constraints_hold(&sub, None));
        let eq = c(None, Some(&[("Dept", "IT")]));
        assert!(constraints_hold(&eq, Some(&ec(&[("DEPT", "IT")]))));
        assert!(!constraints_hold(&eq, Some(&ec(&[("dept", "IT"), ("x", "y")]))));
        assert!(constraints_hold(&None, None));
    }

    #[test]
    fn strictness() {
        let sub = c(Some(&[("a", "1")]), None);
        assert!(at_least_as_strict(&c(Some(&[("A", "1"), ("b", "2")]), None), &sub));
        assert!(at_least_as_strict(&c(None, Some(&[("a", "1")])), &sub));
        assert!(!at_least_as_strict(&None, &sub));
        assert!(!at_least_as_strict(&c(Some(&[("a", "2")]), None), &sub));
        assert!(at_least_as_strict(&None, &None));
    }

    #[test]
    fn tokens() {
        let id = "a".repeat(64);
        let t = new_token(&id);
        assert_eq!(token_grant_id(&t), Some(id.as_str()));
        assert_eq!(token_grant_id("CGT1xyz"), None);
        assert_eq!(token_grant_id("garbage"), None);
    }
}
