//! AWS managed keys (`alias/aws/s3`, `alias/aws/ssm`, ...).
//!
//! As in AWS, an AWS managed key is created the first time its predefined alias is used in an
//! account and region: by DescribeKey, or by a service (Parameter Store, S3) encrypting with it.
//! The key is KeyManager AWS, rotates automatically every year, and carries the key policy AWS
//! writes for such keys: use only through the owning service, read-only metadata for the
//! account. The key and its alias are written in one atomic batch with "absent" preconditions,
//! so concurrent first uses (even on several nodes) end with exactly one key.

use std::sync::Arc;

use coffer_policy::Caller;
use coffer_store::{Expect, StoreError, Write, tables};
use coffer_util::time::MILLIS_PER_DAY;

use crate::keys::new_key_record;
use crate::state::{AliasEntry, AliasRecord, KeyEntry, alias_partition};
use crate::{Kms, KmsError, decode, encode};

/// (alias suffix, what the key protects, service endpoint prefix for kms:ViaService).
const PREDEFINED: &[(&str, &str, &str)] = &[
    ("s3", "S3 objects", "s3"),
    ("ssm", "SSM parameters", "ssm"),
    ("ebs", "EBS volumes", "ec2"),
    ("rds", "RDS database volumes", "rds"),
    ("lambda", "Lambda functions", "lambda"),
    ("secretsmanager", "Secrets Manager data", "secretsmanager"),
    ("sns", "SNS data", "sns"),
    ("sqs", "SQS messages", "sqs"),
    ("dynamodb", "DynamoDB tables", "dynamodb"),
    ("elasticfilesystem", "EFS file systems", "elasticfilesystem"),
    ("redshift", "Redshift clusters", "redshift"),
    ("backup", "Backup data", "backup"),
    ("acm", "ACM private keys", "acm"),
];

fn lookup(alias_name: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    let svc = alias_name.strip_prefix("alias/aws/")?;
    PREDEFINED.iter().find(|p| p.0 == svc)
}

pub(crate) fn is_predefined(alias_name: &str) -> bool {
    lookup(alias_name).is_some()
}

/// The key policy AWS writes for an AWS managed key.
pub fn managed_key_policy(service: &str, via: &str, account: &str, region: &str) -> String {
    format!(
        r#"{{
  "Version" : "2012-10-17",
  "Id" : "auto-{service}-1",
  "Statement" : [ {{
    "Sid" : "Allow access through {via} for all principals in the account that are authorized to use {via}",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "*"
    }},
    "Action" : [ "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey" ],
    "Resource" : "*",
    "Condition" : {{
      "StringEquals" : {{
        "kms:CallerAccount" : "{account}",
        "kms:ViaService" : "{via}.{region}.amazonaws.com"
      }}
    }}
  }}, {{
    "Sid" : "Allow direct access to key metadata to the account",
    "Effect" : "Allow",
    "Principal" : {{
      "AWS" : "arn:aws:iam::{account}:root"
    }},
    "Action" : [ "kms:Describe*", "kms:Get*", "kms:List*" ],
    "Resource" : "*"
  }} ]
}}"#
    )
}

impl Kms {
    pub(crate) async fn create_managed_key(&self, caller: &Caller, alias_name: &str) -> Result<Arc<KeyEntry>, KmsError> {
        let (service, protects, via) = *lookup(alias_name).expect("caller checked is_predefined");
        let account = caller.account();
        let region = caller.region.as_str();
        let key_id = coffer_crypto::random::uuid_v4();
        let policy = managed_key_policy(service, via, account, region);
        let description = format!("Default key that protects my {protects} when no other key is defined");
        let mut rec = crate::keys::with_generated_material(self, new_key_record(self, caller, key_id, description, policy))?;
        let now = rec.created_ms;
        rec.key_manager = "AWS".into();
        rec.rotation.enabled = true;
        rec.rotation.anchor_ms = Some(now);
        rec.rotation.next_ms = Some(now + 365 * MILLIS_PER_DAY);
        let alias = AliasRecord { target_key_id: rec.key_id.clone(), created_ms: now, updated_ms: now };
        let pk = alias_partition(account, region);
        let res = self
            .store
            .write(vec![
                Write::put(tables::KMS_KEYS, &rec.key_id, "", encode(&rec), Expect::Absent),
                Write::put(tables::KMS_ALIASES, &pk, alias_name, encode(&alias), Expect::Absent),
            ])
            .await;
        let (alias, alias_version) = match res {
            Ok(v) => {
                let entry = Arc::new(KeyEntry::build(rec, v[0], &self.root, None)?);
                self.cache.put_key(entry);
                (alias, v[1])
            }
            // Another request created this managed key first: use theirs.
            Err(StoreError::Conflict { .. }) => {
                let item = self
                    .store
                    .get(tables::KMS_ALIASES, &pk, alias_name)
                    .await?
                    .ok_or_else(|| KmsError::Internal("managed key alias vanished".into()))?;
                self.reload_key(&decode::<AliasRecord>("alias", &item.value)?.target_key_id).await?;
                (decode("alias", &item.value)?, item.version)
            }
            Err(e) => return Err(e.into()),
        };
        let target = alias.target_key_id.clone();
        self.cache.put_alias(Arc::new(AliasEntry {
            name: alias_name.to_string(),
            account: account.to_string(),
            region: region.to_string(),
            rec: alias,
            version: alias_version,
        }));
        tracing::info!(alias = alias_name, account, region, key = %target, "created AWS managed key");
        let uuid = coffer_crypto::random::parse_uuid(&target).unwrap_or_default();
        self.key_by_uuid(&uuid).ok_or_else(|| KmsError::Internal("managed key missing after creation".into()))
    }
}
