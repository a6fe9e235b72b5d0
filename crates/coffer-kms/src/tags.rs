//! Tags: TagResource, UntagResource, ListResourceTags.

use coffer_policy::Caller;
use coffer_util::{Validation, marker};

use crate::authorize::Req;
use crate::error::validated;
use crate::keys::{not_pending_deletion, tag_records};
use crate::model::*;
use crate::{Kms, KmsError, validate};

impl Kms {
    pub async fn tag_resource(&self, caller: &Caller, req: TagResourceRequest) -> Result<Empty, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        let tags = req.tags.unwrap_or_default();
        if req.key_id.is_some() || !tags.is_empty() {
            validate::tags(&mut v, &tags);
        }
        validated(v)?;
        validate::tag_rules(&tags)?;
        let e = self.resolve(caller, key_id.expect("validated"), false).await?;
        self.authorize(caller, &e, Req::new("TagResource").key("aws:TagKeys", tags.iter().map(|t| t.tag_key.clone().unwrap_or_default()).collect()))?;
        let new = tag_records(&tags);
        self.mutate_key(e, |e| {
            not_pending_deletion(e)?;
            let mut rec = e.rec.clone();
            for t in &new {
                match rec.tags.iter_mut().find(|x| x.key == t.key) {
                    Some(x) => x.value = t.value.clone(),
                    None => rec.tags.push(t.clone()),
                }
            }
            if rec.tags.len() > validate::MAX_TAGS {
                return Err(KmsError::Tag("Too many tags".into()));
            }
            Ok((rec, vec![], ()))
        })
        .await?;
        Ok(Empty {})
    }

    pub async fn untag_resource(&self, caller: &Caller, req: UntagResourceRequest) -> Result<Empty, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        if v.required("tagKeys", req.tag_keys.as_ref()) {
            for (i, k) in req.tag_keys.as_ref().expect("checked").iter().enumerate() {
                v.str_len(&format!("tagKeys.{}.member", i + 1), k, 1, 128);
            }
        }
        validated(v)?;
        let keys = req.tag_keys.expect("validated");
        if keys.iter().any(|k| k.to_ascii_lowercase().starts_with("aws:")) {
            return Err(KmsError::Tag("Tags beginning with aws: are reserved".into()));
        }
        let e = self.resolve(caller, key_id.expect("validated"), false).await?;
        self.authorize(caller, &e, Req::new("UntagResource").key("aws:TagKeys", keys.clone()))?;
        self.mutate_key(e, |e| {
            not_pending_deletion(e)?;
            let mut rec = e.rec.clone();
            rec.tags.retain(|t| !keys.contains(&t.key));
            Ok((rec, vec![], ()))
        })
        .await?;
        Ok(Empty {})
    }

    pub async fn list_resource_tags(
        &self,
        caller: &Caller,
        req: PageRequest,
    ) -> Result<ListResourceTagsResponse, KmsError> {
        let mut v = Validation::new();
        let key_id = validate::key_id(&mut v, "keyId", req.key_id.as_ref());
        validate::page(&mut v, req.limit, req.marker.as_ref());
        validated(v)?;
        let after = validate::resume_after(req.marker.as_ref())?;
        let e = self.resolve(caller, key_id.expect("validated"), false).await?;
        self.authorize(caller, &e, Req::new("ListResourceTags"))?;
        let limit = req.limit.unwrap_or(50) as usize;
        let mut tags = e.rec.tags.clone();
        tags.sort_by(|a, b| a.key.cmp(&b.key));
        let mut page: Vec<_> =
            tags.into_iter().filter(|t| after.as_deref().is_none_or(|a| t.key.as_str() > a)).take(limit + 1).collect();
        let truncated = page.len() > limit;
        page.truncate(limit);
        let next_marker = truncated.then(|| marker::encode(&page.last().expect("non-empty").key));
        Ok(ListResourceTagsResponse {
            tags: page.into_iter().map(|t| Tag { tag_key: Some(t.key), tag_value: Some(t.value) }).collect(),
            next_marker,
            truncated,
        })
    }
}
