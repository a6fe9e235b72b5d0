//! Authorization of IAM and STS actions: identity-based policies only (IAM resources have no
//! resource policies; a role's trust policy is handled by AssumeRole). The account root may do
//! everything in its own account; IAM never acts across accounts.

use coffer_policy::{Access, Caller, EvalRequest, Identities, decide, global_context};

use crate::{Iam, IamError};

impl Iam {
    /// The global condition keys for `caller` at the service clock's now.
    pub fn context_for(&self, caller: &Caller) -> coffer_policy::Context {
        let now = self.clock.now();
        global_context(caller, &self.principal_tags(&caller.principal), &now.iso8601(), now.secs())
    }

    /// Checks that `caller` may perform `action` (e.g. `iam:CreateUser`) on `resource`.
    pub(crate) fn authorize(&self, caller: &Caller, action: &str, resource: &str) -> Result<(), IamError> {
        let ctx = self.context_for(caller);
        let identity = self.identity_policies(&caller.principal);
        let session = self.session_policy(&caller.access_key_id);
        let access = Access {
            request: EvalRequest { principal: &caller.principal, action, resource, context: &ctx },
            resource_policy: None,
            resource_account: caller.account(),
            identity: &identity,
            session_policy: session.as_deref(),
            extra_allow: false,
            identity_suffices: false,
        };
        decide(&access).map_err(|d| IamError::AccessDenied(d.message(&caller.principal.arn, action, resource)))
    }
}
