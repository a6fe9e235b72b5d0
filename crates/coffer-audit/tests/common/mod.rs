#![allow(dead_code)]

use std::path::{Path, PathBuf};

use coffer_audit::{EventBuilder, IdentityType, Resource, UserIdentity};
use serde_json::{Map, Value, json};

/// A fresh directory under `base` (the system temp dir when `None`), removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        TempDir::under(&std::env::temp_dir(), name)
    }
    pub fn under(base: &Path, name: &str) -> TempDir {
        let dir = base.join(format!("coffer-audit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn audit(&self) -> PathBuf {
        self.0.join("audit")
    }
    /// Journal files in order.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.audit())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn user(n: usize) -> UserIdentity {
    UserIdentity {
        kind: IdentityType::IamUser,
        principal_id: format!("AIDAEXAMPLE{n}"),
        arn: format!("arn:aws:iam::111122223333:user/user{n}"),
        account_id: "111122223333".into(),
        access_key_id: Some(format!("AKIAEXAMPLE{n:08}")),
    }
}

pub fn key_arn(n: usize) -> String {
    format!("arn:aws:kms:us-east-1:111122223333:key/0000000{n}-12ab-34cd-56ef-1234567890ab")
}

/// A realistic KMS Encrypt event (~1 KB once written), as a `Map`.
pub fn encrypt_event(user_n: usize, key_n: usize) -> Map<String, Value> {
    encrypt_builder(user_n, key_n).build()
}

/// The same, as a builder (the fast path).
pub fn encrypt_builder(user_n: usize, key_n: usize) -> EventBuilder {
    EventBuilder::new("kms.amazonaws.com", "Encrypt", "us-east-1")
        .identity(user(user_n))
        .source_ip("192.0.2.10")
        .user_agent("aws-sdk-rust/1.3 os/linux lang/rust/1.95")
        .request_id(coffer_crypto::random::uuid_v4())
        .request_parameters(json!({
            "keyId": key_arn(key_n),
            "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "encryptionContext": {"app": "billing", "tenant": "t-42"},
            "Plaintext": "c2VjcmV0IGRhdGE=",
        }))
        .resource(Resource { arn: key_arn(key_n), account_id: "111122223333".into(), kind: "AWS::KMS::Key".into() })
        .read_only(true)
}

pub fn lines(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    bytes.split_inclusive(|b| *b == b'\n').map(|l| l.to_vec()).collect()
}

pub fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    std::fs::write(path, lines.concat()).unwrap();
}
