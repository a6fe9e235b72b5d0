//! GetParameter of a cached parameter (the latest version, SecureString decrypted through KMS)
//! does no database I/O; a write is visible to the very next read.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use coffer_crypto::RootKey;
use coffer_kms::{Kms, KmsConfig};
use coffer_policy::{Caller, PolicyDocument, Principal};
use coffer_ssm::model::*;
use coffer_ssm::{Ssm, SsmConfig};
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

struct NoIdentities;
impl coffer_policy::Identities for NoIdentities {
    fn identity_policies(&self, _: &Principal) -> Vec<Arc<PolicyDocument>> {
        Vec::new()
    }
    fn principal_tags(&self, _: &Principal) -> Vec<(String, String)> {
        Vec::new()
    }
    fn principal_exists(&self, _: &str) -> bool {
        true
    }
    fn session_policy(&self, _: &str) -> Option<Arc<PolicyDocument>> {
        None
    }
}

fn caller() -> Caller {
    Caller::new(Principal::root("123456789012"), "AKIATEST".into(), "us-east-1".into(), "r".into())
}

#[tokio::test]
async fn get_parameter_reads_memory_only() {
    let store = Arc::new(Counting { inner: SqliteStore::memory().unwrap(), calls: AtomicUsize::new(0) });
    let clock = Arc::new(Clock::new());
    let ids: Arc<dyn coffer_policy::Identities> = Arc::new(NoIdentities);
    let kms = Arc::new(
        Kms::load(store.clone(), Arc::new(RootKey::generate().0), clock.clone(), KmsConfig::default(), ids.clone()).await.unwrap(),
    );
    let ssm = Ssm::load(store.clone(), kms, ids, clock, SsmConfig::default()).await.unwrap();
    let c = caller();
    let put = |value: &str| PutParameterRequest {
        name: Some("/dev/dbconnectionstring".into()),
        value: Some(value.into()),
        kind: Some("SecureString".into()),
        overwrite: Some(true),
        ..Default::default()
    };
    ssm.put_parameter(&c, put("first")).await.unwrap();
    let get = || GetParameterRequest { name: Some("/dev/dbconnectionstring".into()), with_decryption: Some(true) };
    // Warm the managed key (created on first use) with one read.
    ssm.get_parameter(&c, get()).await.unwrap();
    let before = store.calls.load(Ordering::SeqCst);
    for _ in 0..50 {
        let p = ssm.get_parameter(&c, get()).await.unwrap();
        assert_eq!(p.parameter.value, "first");
    }
    assert_eq!(store.calls.load(Ordering::SeqCst), before, "GetParameter touched the store");
    ssm.put_parameter(&c, put("second")).await.unwrap();
    assert_eq!(ssm.get_parameter(&c, get()).await.unwrap().parameter.value, "second");
}
