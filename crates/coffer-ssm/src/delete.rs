//! DeleteParameter and DeleteParameters (versions, labels and tags go with the parameter).

use coffer_policy::Caller;
use coffer_store::{Expect, StoreError, Write, tables};
use coffer_util::Validation;

use crate::error::validated;
use crate::model::*;
use crate::records::{HeadEntry, version_sk, versions_pk};
use crate::{Ssm, SsmError, names, not_found};

impl Ssm {
    /// Deletes a parameter and every retained version in one batch, conditional on the head
    /// being the one examined. Returns false if it changed or vanished meanwhile.
    pub(crate) async fn remove(&self, scope: &str, head: &HeadEntry) -> Result<bool, SsmError> {
        let key = &head.rec.key;
        let mut batch = vec![Write::delete(tables::SSM_PARAMETERS, scope, key, Expect::Version(head.version))];
        for v in head.rec.oldest..=head.rec.latest {
            batch.push(Write::delete(tables::SSM_VERSIONS, versions_pk(scope, key), version_sk(v), Expect::Any));
        }
        match self.store.write(batch).await {
            Ok(_) => {
                self.cache.remove(scope, key);
                Ok(true)
            }
            Err(StoreError::Conflict { .. }) => {
                // Lost a race: refresh the cache for the caller's next look (the expiry job).
                self.reload(scope, key).await?;
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes by name; `Ok(false)` when there is no such parameter.
    async fn delete_named(&self, caller: &Caller, name: &str, action: &str) -> Result<bool, SsmError> {
        let name = names::parse_write(name, &caller.region, caller.account()).map_err(|e| match e {
            // Reserved names cannot exist, so they are simply not found.
            SsmError::AccessDenied(_) => not_found(name),
            e => e,
        })?;
        self.authorize(caller, action, &Self::arn(caller, &name.key), &[])?;
        let scope = Self::scope(caller);
        for _ in 0..64 {
            let Some(head) = self.reload(&scope, &name.key).await? else { return Ok(false) };
            if self.remove(&scope, &head).await? {
                return Ok(true);
            }
        }
        Err(SsmError::TooManyUpdates)
    }

    pub async fn delete_parameter(&self, caller: &Caller, req: DeleteParameterRequest) -> Result<Empty, SsmError> {
        let mut v = Validation::new();
        if v.required("name", req.name.as_ref()) {
            v.str_len("name", req.name.as_ref().expect("checked"), 1, 2048);
        }
        validated(v)?;
        let name = req.name.expect("validated");
        if name.starts_with("arn:") {
            return Err(SsmError::Validation(format!("Parameter name {name} is an ARN; DeleteParameter takes the parameter name.")));
        }
        if self.delete_named(caller, &name, "DeleteParameter").await? { Ok(Empty {}) } else { Err(not_found(&name)) }
    }

    pub async fn delete_parameters(&self, caller: &Caller, req: DeleteParametersRequest) -> Result<DeleteParametersResponse, SsmError> {
        let mut v = Validation::new();
        if v.required("names", req.names.as_ref()) {
            let n = req.names.as_ref().expect("checked");
            v.list_len("names", &format!("[{}]", n.join(", ")), n.len(), 1, 10);
        }
        validated(v)?;
        let (mut deleted, mut invalid) = (Vec::new(), Vec::new());
        for name in req.names.expect("validated") {
            match self.delete_named(caller, &name, "DeleteParameters").await {
                Ok(true) => deleted.push(name),
                Ok(false) | Err(SsmError::ParameterNotFound(_) | SsmError::Validation(_)) => invalid.push(name),
                Err(e) => return Err(e),
            }
        }
        Ok(DeleteParametersResponse { deleted_parameters: deleted, invalid_parameters: invalid })
    }
}
