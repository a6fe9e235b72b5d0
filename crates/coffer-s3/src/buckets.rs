//! Buckets: CreateBucket, HeadBucket, ListBuckets, DeleteBucket, GetBucketLocation, and the
//! write-through bucket cache every operation reads.

use std::sync::Arc;

use coffer_crypto::digest::hex;
use coffer_crypto::random;
use coffer_policy::{Caller, PolicyDocument, PolicyKind};
use coffer_store::{Expect, StoreError, Write, tables};

use crate::model::BucketInfo;
use crate::names::check_bucket_name;
use crate::records::{BucketEntry, BucketRecord, bucket_arn};
use crate::{S3, S3Error, decode, encode};

/// Buckets per account (AWS's default quota is 10,000 since 2024).
const MAX_BUCKETS: usize = 10_000;

impl S3 {
    pub(crate) fn bucket_entry(&self, rec: BucketRecord, version: i64) -> Result<BucketEntry, S3Error> {
        let policy = match &rec.policy {
            Some(p) => Some(Arc::new(
                PolicyDocument::parse(p, PolicyKind::Resource)
                    .map_err(|e| S3Error::Internal(format!("stored policy of {}: {e}", rec.name)))?,
            )),
            None => None,
        };
        Ok(BucketEntry { rec, version, policy })
    }

    fn cache_bucket(&self, entry: BucketEntry) -> Arc<BucketEntry> {
        let e = Arc::new(entry);
        let mut map = self.buckets.write().expect("bucket lock");
        match map.get(&e.rec.name) {
            Some(cur) if cur.rec.id == e.rec.id && cur.version > e.version => cur.clone(),
            _ => {
                map.insert(e.rec.name.clone(), e.clone());
                e
            }
        }
    }

    /// Re-reads a bucket after losing a write race (or learning of a change).
    pub(crate) async fn reload_bucket(&self, name: &str) -> Result<Option<Arc<BucketEntry>>, S3Error> {
        match self.store.get(tables::S3_BUCKETS, name, "").await? {
            Some(item) => {
                let rec: BucketRecord = decode("bucket", &item.value)?;
                Ok(Some(self.cache_bucket(self.bucket_entry(rec, item.version)?)))
            }
            None => {
                self.buckets.write().expect("bucket lock").remove(name);
                Ok(None)
            }
        }
    }

    /// Changes a bucket record with optimistic concurrency (retried after a lost race).
    pub(crate) async fn mutate_bucket(
        &self,
        caller: &Caller,
        name: &str,
        change: impl Fn(&mut BucketRecord) -> Result<(), S3Error>,
    ) -> Result<Arc<BucketEntry>, S3Error> {
        for _ in 0..8 {
            let cur = self.bucket(caller, name)?;
            let mut rec = cur.rec.clone();
            change(&mut rec)?;
            let entry = self.bucket_entry(rec.clone(), 0)?;
            match self.store.write(vec![Write::put(tables::S3_BUCKETS, name, "", encode(&rec), Expect::Version(cur.version))]).await {
                Ok(v) => return Ok(self.cache_bucket(BucketEntry { version: v[0], ..entry })),
                Err(StoreError::Conflict { .. }) => {
                    self.reload_bucket(name).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(S3Error::OperationAborted("A conflicting conditional operation is currently in progress against this resource. Please try again.".into()))
    }

    pub async fn create_bucket(&self, caller: &Caller, name: &str, location: Option<&str>, object_lock: bool) -> Result<(), S3Error> {
        check_bucket_name(name)?;
        let region = caller.region.clone();
        match location {
            Some("") | None if region != "us-east-1" => {
                return Err(S3Error::IllegalLocationConstraint(
                    "The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.".into(),
                ));
            }
            Some(l) if !l.is_empty() && l != region && !(l == "EU" && region == "eu-west-1") => {
                return Err(S3Error::IllegalLocationConstraint(format!(
                    "The {l} location constraint is incompatible for the region specific endpoint this request was sent to."
                )));
            }
            Some("us-east-1") => {
                return Err(S3Error::InvalidLocationConstraint("The specified location-constraint is not valid".into()));
            }
            _ => {}
        }
        self.authorize(caller, None, "s3:CreateBucket", &bucket_arn(name), &Vec::new())?;
        if object_lock {
            return Err(S3Error::NotImplemented("Coffer does not implement S3 Object Lock.".into()));
        }
        let owned = self.buckets.read().expect("bucket lock").values().filter(|b| b.rec.account == caller.account()).count();
        if owned >= MAX_BUCKETS {
            return Err(S3Error::InvalidRequest(format!("You have attempted to create more buckets than allowed ({MAX_BUCKETS}).")));
        }
        let rec = BucketRecord {
            name: name.to_string(),
            id: hex(&random::bytes::<16>()),
            account: caller.account().to_string(),
            region: region.clone(),
            created_ms: self.now_ms(),
            encryption: None,
            policy: None,
        };
        match self.store.write(vec![Write::put(tables::S3_BUCKETS, name, "", encode(&rec), Expect::Absent)]).await {
            Ok(v) => {
                crate::data::create_bucket_dir(&self.config.data_root, &rec.id).await?;
                self.cache_bucket(self.bucket_entry(rec, v[0])?);
                Ok(())
            }
            Err(StoreError::Conflict { .. }) => {
                let existing = self.reload_bucket(name).await?;
                match existing {
                    // us-east-1 answers success to the owner, for legacy compatibility.
                    Some(b) if b.rec.account == caller.account() && b.rec.region == "us-east-1" && region == "us-east-1" => Ok(()),
                    Some(b) if b.rec.account == caller.account() => Err(S3Error::BucketAlreadyOwnedByYou(name.to_string())),
                    _ => Err(S3Error::BucketAlreadyExists(name.to_string())),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// HeadBucket: the bucket's region if the caller may list it.
    pub async fn head_bucket(&self, caller: &Caller, name: &str) -> Result<String, S3Error> {
        let b = self.bucket(caller, name)?;
        self.authorize(caller, Some(&b), "s3:ListBucket", &b.arn(), &Vec::new())?;
        Ok(b.rec.region.clone())
    }

    pub async fn get_bucket_location(&self, caller: &Caller, name: &str) -> Result<String, S3Error> {
        // GetBucketLocation answers from any region (that is what it is for).
        let b = self
            .buckets
            .read()
            .expect("bucket lock")
            .get(name)
            .cloned()
            .ok_or_else(|| S3Error::NoSuchBucket(name.to_string()))?;
        self.authorize(caller, Some(&b), "s3:GetBucketLocation", &b.arn(), &Vec::new())?;
        Ok(if b.rec.region == "us-east-1" { String::new() } else { b.rec.region.clone() })
    }

    /// ListBuckets: the caller's account's buckets, by name, optionally filtered by prefix and
    /// region, paginated by name.
    pub async fn list_buckets(
        &self,
        caller: &Caller,
        prefix: Option<&str>,
        region: Option<&str>,
        max: Option<i64>,
        after: Option<&str>,
    ) -> Result<(Vec<BucketInfo>, Option<String>), S3Error> {
        self.authorize(caller, None, "s3:ListAllMyBuckets", "*", &Vec::new())?;
        let max = match max {
            Some(m) if !(1..=10_000).contains(&m) => {
                return Err(S3Error::invalid_argument("Argument max-buckets must be an integer between 1 and 10000", "max-buckets", &m.to_string()));
            }
            Some(m) => m as usize,
            None => usize::MAX,
        };
        let mut all: Vec<BucketInfo> = self
            .buckets
            .read()
            .expect("bucket lock")
            .values()
            .filter(|b| b.rec.account == caller.account())
            .filter(|b| prefix.is_none_or(|p| b.rec.name.starts_with(p)))
            .filter(|b| region.is_none_or(|r| b.rec.region == r))
            .filter(|b| after.is_none_or(|a| b.rec.name.as_str() > a))
            .map(|b| BucketInfo { name: b.rec.name.clone(), created_ms: b.rec.created_ms, region: b.rec.region.clone() })
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        let next = (all.len() > max).then(|| all[max - 1].name.clone());
        all.truncate(max);
        Ok((all, next))
    }

    /// DeleteBucket: only when no object is left; uploads in progress are discarded with it.
    pub async fn delete_bucket(&self, caller: &Caller, name: &str) -> Result<(), S3Error> {
        let b = self.bucket(caller, name)?;
        self.authorize(caller, Some(&b), "s3:DeleteBucket", &b.arn(), &Vec::new())?;
        if !self.store.list(tables::S3_OBJECTS, &b.rec.id, "", None, 1).await?.is_empty() {
            return Err(S3Error::BucketNotEmpty(name.to_string()));
        }
        match self.store.write(vec![Write::delete(tables::S3_BUCKETS, name, "", Expect::Version(b.version))]).await {
            Ok(_) => {}
            Err(StoreError::Conflict { .. }) => {
                self.reload_bucket(name).await?;
                return Err(S3Error::OperationAborted(
                    "A conflicting conditional operation is currently in progress against this resource. Please try again.".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        self.buckets.write().expect("bucket lock").remove(name);
        self.discard_uploads(&b.rec.id).await;
        crate::data::remove_bucket_dir(&self.config.data_root, &b.rec.id).await;
        Ok(())
    }
}
