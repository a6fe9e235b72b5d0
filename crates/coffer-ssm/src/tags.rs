//! AddTagsToResource, ListTagsForResource, RemoveTagsFromResource for parameters.

use coffer_policy::Caller;
use coffer_util::Validation;

use crate::error::validated;
use crate::model::*;
use crate::put::{tag_records, validate_tags};
use crate::{Ssm, SsmError, names};

const MAX_TAGS: usize = 50;

impl Ssm {
    /// The parameter a tagging request names (ResourceType Parameter, ResourceId its name).
    async fn tagged(&self, caller: &Caller, req: &TagsRequest, v: &mut Validation) -> Result<Option<names::Name>, SsmError> {
        if v.required("resourceType", req.resource_type.as_ref()) {
            v.one_of(
                "resourceType",
                req.resource_type.as_deref().expect("checked"),
                &["Document", "ManagedInstance", "MaintenanceWindow", "Parameter", "PatchBaseline", "OpsItem", "OpsMetadata", "Automation", "Association"],
            );
        }
        v.required("resourceId", req.resource_id.as_ref());
        if !v.is_empty() {
            return Ok(None);
        }
        if req.resource_type.as_deref() != Some("Parameter") {
            return Err(SsmError::InvalidResourceType(format!(
                "Coffer supports tags on resource type Parameter only, not {}.",
                req.resource_type.as_deref().unwrap_or_default()
            )));
        }
        let id = req.resource_id.as_deref().expect("checked");
        let name = names::parse_write(id, &caller.region, caller.account())
            .map_err(|_| SsmError::InvalidResourceId(format!("The resource ID \"{id}\" is not valid. Verify the ID and try again.")))?;
        // A miss is confirmed in the store: the parameter may be new on another node.
        let scope = Self::scope(caller);
        if self.cache.get(&scope, &name.key).is_none() && self.reload(&scope, &name.key).await?.is_none() {
            return Err(SsmError::InvalidResourceId(format!("The resource ID \"{id}\" is not valid. Verify the ID and try again.")));
        }
        Ok(Some(name))
    }

    pub async fn add_tags_to_resource(&self, caller: &Caller, req: TagsRequest) -> Result<Empty, SsmError> {
        let mut v = Validation::new();
        let tags = req.tags.clone().unwrap_or_default();
        v.required("tags", req.tags.as_ref());
        validate_tags(&mut v, &tags);
        let name = self.tagged(caller, &req, &mut v).await?;
        validated(v)?;
        let name = name.expect("validated");
        let keys: Vec<String> = tags.iter().map(|t| t.key.clone().unwrap_or_default()).collect();
        self.authorize(caller, "AddTagsToResource", &Self::arn(caller, &name.key), &[("aws:TagKeys".into(), keys)])?;
        let new = tag_records(&tags);
        self.mutate_head(&Self::scope(caller), &name.key, &name.display, |h| {
            let mut rec = h.clone();
            for t in &new {
                match rec.tags.iter_mut().find(|x| x.key == t.key) {
                    Some(x) => x.value = t.value.clone(),
                    None => rec.tags.push(t.clone()),
                }
            }
            if rec.tags.len() > MAX_TAGS {
                return Err(SsmError::TooManyTags(format!(
                    "The Targets parameter includes too many tags. Remove one or more tags and try the request again. (At most {MAX_TAGS} tags per parameter.)"
                )));
            }
            Ok((rec, ()))
        })
        .await?;
        Ok(Empty {})
    }

    pub async fn remove_tags_from_resource(&self, caller: &Caller, req: TagsRequest) -> Result<Empty, SsmError> {
        let mut v = Validation::new();
        v.required("tagKeys", req.tag_keys.as_ref());
        let name = self.tagged(caller, &req, &mut v).await?;
        validated(v)?;
        let name = name.expect("validated");
        let keys = req.tag_keys.clone().unwrap_or_default();
        self.authorize(caller, "RemoveTagsFromResource", &Self::arn(caller, &name.key), &[("aws:TagKeys".into(), keys.clone())])?;
        self.mutate_head(&Self::scope(caller), &name.key, &name.display, |h| {
            let mut rec = h.clone();
            rec.tags.retain(|t| !keys.contains(&t.key));
            Ok((rec, ()))
        })
        .await?;
        Ok(Empty {})
    }

    pub async fn list_tags_for_resource(&self, caller: &Caller, req: TagsRequest) -> Result<ListTagsForResourceResponse, SsmError> {
        let mut v = Validation::new();
        let name = self.tagged(caller, &req, &mut v).await?;
        validated(v)?;
        let name = name.expect("validated");
        self.authorize(caller, "ListTagsForResource", &Self::arn(caller, &name.key), &[])?;
        let head = self.cache.get(&Self::scope(caller), &name.key).ok_or_else(|| crate::not_found(&name.display))?;
        Ok(ListTagsForResourceResponse {
            tag_list: head.rec.tags.iter().map(|t| Tag { key: Some(t.key.clone()), value: Some(t.value.clone()) }).collect(),
        })
    }
}
