//! DeleteObject and DeleteObjects. Deleting a key that does not exist succeeds, as in S3.

use coffer_policy::Caller;
use coffer_store::{Expect, StoreError, Write, tables};

use crate::model::DeleteResult;
use crate::records::{BucketEntry, object_arn};
use crate::{S3, S3Error};

/// DeleteObjects takes at most 1000 keys.
const MAX_KEYS: usize = 1000;

impl S3 {
    async fn remove_object(&self, b: &BucketEntry, key: &str, if_match: Option<&str>) -> Result<(), S3Error> {
        for _ in 0..16 {
            let Some((rec, version)) = self.object(b, key).await? else {
                if if_match.is_some() {
                    return Err(S3Error::NoSuchKey(key.to_string()));
                }
                return Ok(());
            };
            if let Some(m) = if_match
                && !crate::checks::etag_matches(m, &rec.etag)
            {
                return Err(S3Error::precondition("If-Match"));
            }
            let segments: Vec<String> = rec.segments.iter().map(|s| s.id.clone()).collect();
            let mut batch = vec![Write::delete(tables::S3_OBJECTS, &b.rec.id, key, Expect::Version(version))];
            batch.extend(S3::garbage(&b.rec.id, &segments));
            match self.store.write(batch).await {
                Ok(_) => {
                    self.drop_segments(&b.rec.id, segments).await;
                    return Ok(());
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(S3Error::OperationAborted("A conflicting conditional operation is currently in progress against this resource. Please try again.".into()))
    }

    pub async fn delete_object(&self, caller: &Caller, bucket: &str, key: &str, if_match: Option<&str>) -> Result<(), S3Error> {
        let b = self.bucket(caller, bucket)?;
        crate::names::check_key(key)?;
        self.authorize(caller, Some(&b), "s3:DeleteObject", &object_arn(bucket, key), &Vec::new())?;
        self.remove_object(&b, key, if_match).await
    }

    /// Deletes each key as DeleteObject would, reporting per key.
    pub async fn delete_objects(&self, caller: &Caller, bucket: &str, keys: Vec<String>) -> Result<Vec<DeleteResult>, S3Error> {
        let b = self.bucket(caller, bucket)?;
        if keys.is_empty() || keys.len() > MAX_KEYS {
            return Err(S3Error::MalformedXml);
        }
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let result = match crate::names::check_key(&key) {
                Err(e) => Err(e),
                Ok(()) => match self.authorize(caller, Some(&b), "s3:DeleteObject", &object_arn(bucket, &key), &Vec::new()) {
                    Err(e) => Err(e),
                    Ok(()) => self.remove_object(&b, &key, None).await,
                },
            };
            out.push(match result {
                Ok(()) => DeleteResult::Deleted { key },
                Err(e) => DeleteResult::Error { key, code: e.code().to_string(), message: e.message() },
            });
        }
        Ok(out)
    }
}
