//! Authorization of S3 actions, and bucket policies (PutBucketPolicy, GetBucketPolicy,
//! DeleteBucketPolicy).
//!
//! Every operation asks [`S3::authorize`] with its IAM action (`s3:GetObject` ...), the bucket or
//! object ARN and the request's S3 condition keys. Identity policies and the bucket policy
//! combine as AWS combines them for S3: within the bucket owner's account either may allow;
//! across accounts both must; an explicit deny anywhere wins. The owner account's root may
//! always read, replace and delete the bucket policy, so a policy can never lock the owner out.

use coffer_policy::document::Matcher;
use coffer_policy::{Access, Caller, EvalRequest, PolicyDocument, PolicyKind, PrincipalKind, arn_like, decide, global_context};

use crate::records::{BucketEntry, bucket_arn};
use crate::{S3, S3Error};

/// AWS's bucket policy size quota.
const MAX_POLICY_BYTES: usize = 20 * 1024;

/// Condition keys of one request beyond the global ones.
pub(crate) type Extra = Vec<(String, Vec<String>)>;

impl S3 {
    /// Decides `action` on `resource` of `bucket` (None: account-level actions).
    pub(crate) fn authorize(
        &self,
        caller: &Caller,
        bucket: Option<&BucketEntry>,
        action: &str,
        resource: &str,
        extra: &Extra,
    ) -> Result<(), S3Error> {
        caller.note_resource(resource);
        let now = self.clock.now();
        let mut ctx = global_context(caller, &self.identities.principal_tags(&caller.principal), &now.iso8601(), now.secs());
        for (k, v) in extra {
            ctx.set_all(k.clone(), v.clone());
        }
        let identity = self.identities.identity_policies(&caller.principal);
        let session = self.identities.session_policy(&caller.access_key_id);
        let owner = bucket.map(|b| b.rec.account.as_str()).unwrap_or(caller.account());
        let access = Access {
            request: EvalRequest { principal: &caller.principal, action, resource, context: &ctx },
            resource_policy: bucket.and_then(|b| b.policy.as_deref()),
            resource_account: owner,
            identity: &identity,
            session_policy: session.as_deref(),
            extra_allow: false,
            identity_suffices: true,
        };
        decide(&access).map_err(|d| S3Error::AccessDenied(d.message(&caller.principal.arn, action, resource)))
    }

    /// Policy management: the owner's root is never locked out.
    fn authorize_policy_admin(&self, caller: &Caller, b: &BucketEntry, action: &str) -> Result<(), S3Error> {
        if caller.principal.kind == PrincipalKind::Root && caller.account() == b.rec.account {
            return Ok(());
        }
        self.authorize(caller, Some(b), action, &b.arn(), &Vec::new())
    }

    /// Checks a bucket policy as S3 does; returns it parsed.
    fn check_bucket_policy(&self, bucket: &str, text: &str) -> Result<PolicyDocument, S3Error> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(S3Error::MalformedPolicy("Policy exceeds the maximum allowed document size.".into()));
        }
        let doc = PolicyDocument::parse(text, PolicyKind::Resource).map_err(|e| S3Error::MalformedPolicy(e.to_string()))?;
        let arn = bucket_arn(bucket);
        let wild = |r: &str| r.contains('*') || r.contains('?');
        let inside = |r: &str| {
            r == "*" || r == arn || r.starts_with(&format!("{arn}/")) || (wild(r) && (arn_like(r, &arn) || arn_like(r, &format!("{arn}/x"))))
        };
        for st in &doc.statements {
            let actions = match &st.action {
                Matcher::Is(l) | Matcher::Not(l) => l,
            };
            if let Some(bad) = actions.iter().find(|a| {
                *a != "*" && !a.split_once(':').is_some_and(|(svc, _)| svc.eq_ignore_ascii_case("s3"))
            }) {
                return Err(S3Error::MalformedPolicy(format!("Policy has invalid action ({bad})")));
            }
            if let Some(Matcher::Is(resources) | Matcher::Not(resources)) = &st.resource
                && let Some(bad) = resources.iter().find(|r| !inside(r))
            {
                return Err(S3Error::MalformedPolicy(format!("Policy has invalid resource ({bad})")));
            }
        }
        if let Some(bad) = doc.aws_principals().find(|a| !self.identities.principal_exists(a)) {
            return Err(S3Error::MalformedPolicy(format!("Invalid principal in policy ({bad})")));
        }
        Ok(doc)
    }

    pub async fn put_bucket_policy(&self, caller: &Caller, bucket: &str, text: &str) -> Result<(), S3Error> {
        let b = self.bucket(caller, bucket)?;
        self.authorize_policy_admin(caller, &b, "s3:PutBucketPolicy")?;
        let doc = self.check_bucket_policy(bucket, text)?;
        drop(doc);
        let text = text.to_string();
        self.mutate_bucket(caller, bucket, move |rec| {
            rec.policy = Some(text.clone());
            Ok(())
        })
        .await?;
        Ok(())
    }

    pub async fn get_bucket_policy(&self, caller: &Caller, bucket: &str) -> Result<String, S3Error> {
        let b = self.bucket(caller, bucket)?;
        self.authorize_policy_admin(caller, &b, "s3:GetBucketPolicy")?;
        b.rec.policy.clone().ok_or_else(|| S3Error::NoSuchBucketPolicy(bucket.to_string()))
    }

    pub async fn delete_bucket_policy(&self, caller: &Caller, bucket: &str) -> Result<(), S3Error> {
        let b = self.bucket(caller, bucket)?;
        self.authorize_policy_admin(caller, &b, "s3:DeleteBucketPolicy")?;
        self.mutate_bucket(caller, bucket, |rec| {
            rec.policy = None;
            Ok(())
        })
        .await?;
        Ok(())
    }
}
