//! STS: GetCallerIdentity and AssumeRole.
//!
//! AssumeRole is authorized like any cross-resource call: the role's trust policy is its
//! resource policy (it must allow `sts:AssumeRole` for the caller or the caller's account), and
//! the caller's identity policies must allow it unless the trust policy names the caller directly
//! in the same account. The account root cannot assume roles (AWS refuses it). Temporary
//! credentials are stored with the secret sealed and the session token as a SHA-256 verifier;
//! they work on every node until they expire.

use std::sync::Arc;

use coffer_crypto::digest::{hex, sha256, unhex};
use coffer_crypto::{SecretBytes, random};
use coffer_policy::{Access, Caller, EvalRequest, Identities, PolicyKind, Principal, PrincipalKind, decide};
use coffer_store::{Expect, Write, tables};
use coffer_util::{Timestamp, Validation};

use crate::error::validated;
use crate::model::{AssumedRoleUser, Credentials, Output, Params};
use crate::records::{SessionRecord, role_arn};
use crate::{AKID_ALPHABET, Credential, Iam, IamError, SECRET_ALPHABET, SessionCheck, State, access_key_purpose, encode};

fn session_principal(rec: &SessionRecord) -> Principal {
    Principal {
        kind: PrincipalKind::AssumedRole,
        account: rec.account.clone(),
        arn: format!("arn:aws:sts::{}:assumed-role/{}/{}", rec.account, rec.role_name, rec.session_name),
        user_id: format!("{}:{}", rec.role_id, rec.session_name),
        name: rec.session_name.clone(),
        role_arn: Some(role_arn(&rec.account, &rec.role_path, &rec.role_name)),
    }
}

fn session_name_ok(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

impl Iam {
    pub(crate) fn install_session(&self, rec: &SessionRecord, st: &mut State) -> Result<(), IamError> {
        let sealed = unhex(&rec.secret_sealed).ok_or_else(|| IamError::Corrupt("sealed session secret is not hex".into()))?;
        let secret = self
            .root
            .open(&access_key_purpose(&rec.access_key_id), &sealed)
            .map_err(|e| IamError::Corrupt(format!("session {}: {e}", rec.access_key_id)))?;
        let token = unhex(&rec.token_sha256)
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .ok_or_else(|| IamError::Corrupt("session token verifier is malformed".into()))?;
        let cred = Credential {
            access_key_id: rec.access_key_id.clone(),
            principal: session_principal(rec),
            active: true,
            secret,
            session: Some(SessionCheck { token_sha256: token, expires_ms: rec.expires_ms }),
        };
        st.keys.insert(rec.access_key_id.clone(), Arc::new(cred));
        if let Some(p) = &rec.session_policy {
            st.session_policies.insert(rec.access_key_id.clone(), crate::parse_stored(p, PolicyKind::Identity)?);
        }
        Ok(())
    }

    pub async fn get_caller_identity(&self, caller: &Caller, _p: Params) -> Result<Output, IamError> {
        let p = &caller.principal;
        Ok(Output {
            user_id: Some(p.user_id.clone()),
            account: Some(p.account.clone()),
            arn: Some(p.arn.clone()),
            ..Output::none()
        })
    }

    pub async fn assume_role(&self, caller: &Caller, p: Params) -> Result<Output, IamError> {
        let mut v = Validation::new();
        if v.required("roleArn", p.role_arn.as_ref()) {
            v.str_len("roleArn", p.role_arn.as_ref().expect("checked"), 20, 2048);
        }
        if v.required("roleSessionName", p.role_session_name.as_ref()) {
            let s = p.role_session_name.as_ref().expect("checked");
            v.str_len("roleSessionName", s, 2, 64);
            v.pattern("roleSessionName", s, session_name_ok(s), "[\\w+=,.@-]*");
        }
        if let Some(d) = p.duration_seconds {
            v.range("durationSeconds", d, 900, 43200);
        }
        if let Some(e) = &p.external_id {
            v.str_len("externalId", e, 2, 1224);
        }
        if let Some(pol) = &p.policy {
            v.str_len("policy", pol, 1, 2048);
        }
        validated(v)?;
        let role_arn_s = p.role_arn.expect("validated");
        let session_name = p.role_session_name.expect("validated");
        let action = "sts:AssumeRole";
        let denied = || IamError::AccessDenied(format!(
            "User: {} is not authorized to perform: {action} on resource: {role_arn_s}",
            caller.principal.arn
        ));
        if caller.principal.kind == PrincipalKind::Root {
            return Err(IamError::AccessDenied("Roles may not be assumed by root accounts.".into()));
        }
        // arn:aws:iam::<account>:role/<path/>name
        let (account, name) = role_arn_s
            .strip_prefix("arn:aws:iam::")
            .and_then(|r| r.split_once(":role/"))
            .map(|(a, r)| (a.to_string(), r.rsplit('/').next().unwrap_or_default().to_string()))
            .ok_or_else(|| IamError::Validation(format!("{role_arn_s} is invalid")))?;
        let role = self.role(&account, &name).map_err(|_| denied())?;
        if role_arn(&account, &role.rec.path, &role.rec.role_name) != role_arn_s {
            return Err(denied());
        }
        let mut ctx = self.context_for(caller);
        ctx.set("sts:RoleSessionName", session_name.clone());
        if let Some(e) = &p.external_id {
            ctx.set("sts:ExternalId", e.clone());
        }
        let identity = self.identity_policies(&caller.principal);
        let session = self.session_policy(&caller.access_key_id);
        let access = Access {
            request: EvalRequest { principal: &caller.principal, action, resource: &role_arn_s, context: &ctx },
            resource_policy: Some(&role.trust),
            resource_account: &account,
            identity: &identity,
            session_policy: session.as_deref(),
            extra_allow: false,
            identity_suffices: false,
        };
        decide(&access).map_err(|d| IamError::AccessDenied(d.message(&caller.principal.arn, action, &role_arn_s)))?;
        // Duration: 900 s up to the role's maximum (1 hour when chaining from a role session).
        let max = if caller.principal.kind == PrincipalKind::AssumedRole { 3600 } else { role.rec.max_session_duration };
        let duration = p.duration_seconds.unwrap_or(3600);
        if duration > max {
            return Err(IamError::Validation(format!(
                "The requested DurationSeconds exceeds the {} set for this role.",
                if caller.principal.kind == PrincipalKind::AssumedRole { "1 hour session limit for roles assumed by role chaining" } else { "MaxSessionDuration" }
            )));
        }
        if let Some(pol) = &p.policy {
            coffer_policy::PolicyDocument::parse(pol, PolicyKind::Identity)
                .map_err(|e| IamError::MalformedPolicyDocument(e.to_string()))?;
        }
        let akid = format!("ASIA{}", random::from_alphabet(AKID_ALPHABET, 16));
        let secret = SecretBytes::new(random::from_alphabet(SECRET_ALPHABET, 40).into_bytes());
        let token = format!("CofferSession{}", hex(&random::bytes::<48>()));
        let now = self.now_ms();
        let rec = SessionRecord {
            access_key_id: akid.clone(),
            account: account.clone(),
            role_name: role.rec.role_name.clone(),
            role_path: role.rec.path.clone(),
            role_id: role.rec.role_id.clone(),
            session_name: session_name.clone(),
            created_ms: now,
            expires_ms: now + duration * 1000,
            secret_sealed: hex(&self.root.seal(&access_key_purpose(&akid), secret.expose())),
            token_sha256: hex(&sha256(token.as_bytes())),
            session_policy: p.policy.clone(),
        };
        self.commit(vec![Write::put(tables::SESSIONS, &akid, "", encode(&rec), Expect::Absent)], |_| {
            IamError::Conflict("Session id collision; retry.".into())
        })
        .await?;
        self.install_session(&rec, &mut self.write_state())?;
        let principal = session_principal(&rec);
        Ok(Output {
            credentials: Some(Credentials {
                access_key_id: akid,
                secret_access_key: String::from_utf8_lossy(secret.expose()).into_owned(),
                session_token: token,
                expiration: Timestamp(rec.expires_ms).iso8601(),
            }),
            assumed_role_user: Some(AssumedRoleUser { assumed_role_id: principal.user_id, arn: principal.arn }),
            packed_policy_size: p.policy.as_ref().map(|pol| (pol.len() as i64 * 100 / 2048).min(100)),
            ..Output::none()
        })
    }
}
