//! The cryptographic hot path does no database I/O: Encrypt, Decrypt, ReEncrypt and
//! GenerateDataKey are served from the in-memory cache. A store that counts its calls proves it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use coffer_crypto::{RootKey, SecretBytes};
use coffer_kms::model::*;
use coffer_kms::{Kms, KmsConfig};
use coffer_policy::{Caller, Principal};
use coffer_store::{Item, SqliteStore, Store, StoreError, Table, Write};
use coffer_util::Clock;

struct Counting {
    inner: SqliteStore,
    calls: AtomicUsize,
}

#[async_trait]
impl Store for Counting {
    async fn get(&self, t: Table, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.get(t, pk, sk).await
    }
    async fn list(&self, t: Table, pk: &str, p: &str, a: Option<&str>, l: usize) -> Result<Vec<Item>, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.list(t, pk, p, a, l).await
    }
    async fn scan(&self, t: Table, a: Option<(&str, &str)>, l: usize) -> Result<Vec<Item>, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.scan(t, a, l).await
    }
    async fn write(&self, b: Vec<Write>) -> Result<Vec<i64>, StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.write(b).await
    }
    fn kind(&self) -> &'static str {
        "counting"
    }
}

/// No IAM: only account roots exist.
struct NoIdentities;
impl coffer_policy::Identities for NoIdentities {
    fn identity_policies(&self, _: &Principal) -> Vec<Arc<coffer_policy::PolicyDocument>> {
        Vec::new()
    }
    fn principal_tags(&self, _: &Principal) -> Vec<(String, String)> {
        Vec::new()
    }
    fn principal_exists(&self, _: &str) -> bool {
        true
    }
    fn session_policy(&self, _: &str) -> Option<Arc<coffer_policy::PolicyDocument>> {
        None
    }
}

fn caller() -> Caller {
    Caller::new(Principal::root("123456789012"), "AKIATEST".into(), "us-east-1".into(), "r".into())
}

fn from_json<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn crypto_operations_touch_no_store() {
    let store = Arc::new(Counting { inner: SqliteStore::memory().unwrap(), calls: AtomicUsize::new(0) });
    let kms = Kms::load(store.clone(), Arc::new(RootKey::generate().0), Arc::new(Clock::new()), KmsConfig::default(), Arc::new(NoIdentities))
        .await
        .unwrap();
    let c = caller();
    let key = kms.create_key(&c, CreateKeyRequest::default()).await.unwrap().key_metadata.key_id;
    kms.create_alias(&c, from_json(serde_json::json!({"AliasName": "alias/hot", "TargetKeyId": key}))).await.unwrap();
    let before = store.calls.load(Ordering::SeqCst);
    for _ in 0..50 {
        let enc = kms
            .encrypt(
                &c,
                EncryptRequest {
                    key_id: Some("alias/hot".into()),
                    plaintext: Some(Plaintext(SecretBytes::new(b"hot path".to_vec()))),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let dec = kms
            .decrypt(&c, DecryptRequest { ciphertext_blob: Some(enc.ciphertext_blob.clone()), ..Default::default() })
            .await
            .unwrap();
        assert_eq!(dec.plaintext.0.expose(), b"hot path");
        kms.re_encrypt(
            &c,
            ReEncryptRequest {
                ciphertext_blob: Some(enc.ciphertext_blob),
                destination_key_id: Some(key.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        kms.generate_data_key(
            &c,
            GenerateDataKeyRequest { key_id: Some(key.clone()), key_spec: Some("AES_256".into()), ..Default::default() },
        )
        .await
        .unwrap();
        kms.describe_key(&c, KeyIdRequest { key_id: Some(key.clone()), grant_tokens: None }).await.unwrap();
    }
    assert_eq!(store.calls.load(Ordering::SeqCst), before, "the hot path called the store");
}
