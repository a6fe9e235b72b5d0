//! KMS against a real coffer process with aws-sdk-kms: every implemented operation, each error
//! path asserted by its AWS error code.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, IncludeKeyMaterial, KeyState, Tag};
use coffer_it::{Coffer, code, err, kms_raw};

async fn new_key(kms: &aws_sdk_kms::Client) -> String {
    kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().tag_key(k).tag_value(v).build().unwrap()
}

#[tokio::test]
async fn key_lifecycle_and_states() {
    let c = Coffer::dev();
    let kms = c.kms();
    let md = kms
        .create_key()
        .description("orders database")
        .tags(tag("team", "payments"))
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let id = md.key_id.clone();
    let arn = md.arn.clone().unwrap();
    assert_eq!(arn, format!("arn:aws:kms:us-east-1:123456789012:key/{id}"));
    assert_eq!(md.aws_account_id.as_deref(), Some("123456789012"));
    assert_eq!(md.key_state, Some(KeyState::Enabled));
    assert!(md.enabled);
    assert_eq!(md.description.as_deref(), Some("orders database"));
    assert_eq!(md.key_manager.as_ref().unwrap().as_str(), "CUSTOMER");
    assert_eq!(md.origin.as_ref().unwrap().as_str(), "AWS_KMS");
    assert_eq!(md.key_spec.as_ref().unwrap().as_str(), "SYMMETRIC_DEFAULT");
    assert_eq!(md.key_usage.as_ref().unwrap().as_str(), "ENCRYPT_DECRYPT");
    assert_eq!(md.encryption_algorithms().len(), 1);
    assert_eq!(md.current_key_material_id.as_ref().unwrap().len(), 64);
    assert!(md.deletion_date.is_none());

    // DescribeKey by id, ARN, alias name and alias ARN.
    kms.create_alias().alias_name("alias/orders").target_key_id(&id).send().await.unwrap();
    for form in [id.clone(), arn.clone(), "alias/orders".into(), "arn:aws:kms:us-east-1:123456789012:alias/orders".into()] {
        let d = kms.describe_key().key_id(&form).send().await.unwrap().key_metadata.unwrap();
        assert_eq!(d.key_id, id, "{form}");
    }
    // Not found, by form.
    let (c1, m1) = err(kms.describe_key().key_id("fake-key-id").send().await);
    assert_eq!((c1.as_str(), m1.as_str()), ("NotFoundException", "Invalid keyId 'fake-key-id'"));
    let missing = "11111111-2222-4333-8444-555555555555";
    let (c2, m2) = err(kms.describe_key().key_id(missing).send().await);
    assert_eq!(c2, "NotFoundException");
    assert_eq!(m2, format!("Key 'arn:aws:kms:us-east-1:123456789012:key/{missing}' does not exist"));
    let (_, m3) = err(kms.describe_key().key_id("alias/nope").send().await);
    assert_eq!(m3, "Alias arn:aws:kms:us-east-1:123456789012:alias/nope is not found.");
    let (c4, m4) = err(kms.describe_key().key_id(arn.replace("us-east-1", "eu-west-1")).send().await);
    assert_eq!((c4.as_str(), m4.as_str()), ("NotFoundException", "Invalid arn eu-west-1"));
    // The key is invisible from another region and another account.
    let other_region = coffer_it::kms_client(&c.endpoint, "x", "y", "eu-west-1");
    assert_eq!(code(other_region.describe_key().key_id(&id).send().await), "NotFoundException");
    let other_account = c.kms_as("222222222222", "y");
    assert_eq!(code(other_account.describe_key().key_id(&id).send().await), "NotFoundException");
    assert_eq!(code(other_account.describe_key().key_id(&arn).send().await), "AccessDeniedException");

    // UpdateKeyDescription.
    kms.update_key_description().key_id(&id).description("renamed").send().await.unwrap();
    let d = kms.describe_key().key_id(&id).send().await.unwrap().key_metadata.unwrap();
    assert_eq!(d.description.as_deref(), Some("renamed"));
    assert_eq!(code(kms.update_key_description().key_id("alias/orders").description("x").send().await), "NotFoundException");

    // Disable → crypto refused with DisabledException; enable again.
    kms.disable_key().key_id(&id).send().await.unwrap();
    kms.disable_key().key_id(&id).send().await.unwrap(); // idempotent
    let (c5, m5) = err(kms.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await);
    assert_eq!((c5.as_str(), m5), ("DisabledException", format!("{arn} is disabled.")));
    let d = kms.describe_key().key_id(&id).send().await.unwrap().key_metadata.unwrap();
    assert_eq!((d.key_state, d.enabled), (Some(KeyState::Disabled), false));
    kms.enable_key().key_id(&id).send().await.unwrap();
    kms.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await.unwrap();

    // ScheduleKeyDeletion: window 7..30, default 30.
    let (c6, m6) = err(kms.schedule_key_deletion().key_id(&id).pending_window_in_days(3).send().await);
    assert_eq!((c6.as_str(), m6.as_str()), ("ValidationException", "PendingWindowInDays must be between 7 and 30"));
    assert_eq!(code(kms.schedule_key_deletion().key_id(&id).pending_window_in_days(366).send().await), "ValidationException");
    let s = kms.schedule_key_deletion().key_id(&id).send().await.unwrap();
    assert_eq!(s.key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(s.pending_window_in_days, Some(30));
    assert_eq!(s.key_state, Some(KeyState::PendingDeletion));
    let days = (s.deletion_date.unwrap().secs() - std::time::UNIX_EPOCH.elapsed().unwrap().as_secs() as i64) / 86_400;
    assert!((29..=30).contains(&days), "{days}");
    let d = kms.describe_key().key_id(&id).send().await.unwrap().key_metadata.unwrap();
    assert_eq!(d.key_state, Some(KeyState::PendingDeletion));
    assert_eq!(d.pending_deletion_window_in_days, Some(30));
    assert!(d.deletion_date.is_some());
    let (c7, m7) = err(kms.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await);
    assert_eq!((c7.as_str(), m7), ("KMSInvalidStateException", format!("{arn} is pending deletion.")));
    for r in [
        code(kms.schedule_key_deletion().key_id(&id).send().await),
        code(kms.enable_key().key_id(&id).send().await),
        code(kms.disable_key().key_id(&id).send().await),
        code(kms.update_key_description().key_id(&id).description("x").send().await),
        code(kms.tag_resource().key_id(&id).tags(tag("a", "b")).send().await),
    ] {
        assert_eq!(r, "KMSInvalidStateException");
    }
    // CancelKeyDeletion leaves the key Disabled.
    let cancel = kms.cancel_key_deletion().key_id(&id).send().await.unwrap();
    assert_eq!(cancel.key_id.as_deref(), Some(arn.as_str()));
    let d = kms.describe_key().key_id(&id).send().await.unwrap().key_metadata.unwrap();
    assert_eq!(d.key_state, Some(KeyState::Disabled));
    assert!(d.deletion_date.is_none() && d.pending_deletion_window_in_days.is_none());
    assert_eq!(code(kms.cancel_key_deletion().key_id(&id).send().await), "KMSInvalidStateException");
    assert_eq!(c.stop().code(), Some(0));
}

#[tokio::test]
async fn create_key_validation() {
    let c = Coffer::dev();
    let kms = c.kms();
    let (c1, m1) = err(kms.create_key().key_spec("HMAC_256".into()).send().await);
    assert_eq!(c1, "ValidationException");
    assert_eq!(m1, "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.");
    let (c2, m2) =
        err(kms.create_key().key_spec("RSA_2048".into()).key_usage("KEY_AGREEMENT".into()).send().await);
    assert_eq!((c2.as_str(), m2.as_str()), ("ValidationException", "KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048"));
    assert_eq!(code(kms.create_key().key_usage("SIGN_VERIFY".into()).send().await), "ValidationException");
    assert_eq!(code(kms.create_key().key_spec("BOGUS".into()).send().await), "ValidationException");
    assert_eq!(code(kms.create_key().description("d".repeat(8193)).send().await), "ValidationException");
    assert_eq!(code(kms.create_key().multi_region(true).send().await), "UnsupportedOperationException");
    assert_eq!(code(kms.create_key().policy("{not json").send().await), "MalformedPolicyDocumentException");
    let (c3, m3) = err(kms.create_key().tags(tag("aws:x", "y")).send().await);
    assert_eq!((c3.as_str(), m3.as_str()), ("TagException", "Tags beginning with aws: are reserved"));
    let many: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
    let (c4, m4) = err(kms.create_key().set_tags(Some(many)).send().await);
    assert_eq!((c4.as_str(), m4.as_str()), ("TagException", "Too many tags"));
    let (_, m5) = err(kms.create_key().tags(tag(&"a".repeat(129), "v")).send().await);
    assert!(m5.starts_with("1 validation error detected: Value '") && m5.contains("at 'tags.1.member.tagKey' failed to satisfy constraint: Member must have length less than or equal to 128"), "{m5}");
    // nothing was created by the failed calls
    assert!(kms.list_keys().send().await.unwrap().keys().is_empty());
}

#[tokio::test]
async fn list_keys_paginates() {
    let c = Coffer::dev();
    let kms = c.kms();
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(new_key(&kms).await);
    }
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = kms.list_keys().limit(2).set_marker(marker.clone()).send().await.unwrap();
        assert!(page.keys().len() <= 2);
        for k in page.keys() {
            assert_eq!(k.key_arn.as_deref().unwrap(), format!("arn:aws:kms:us-east-1:123456789012:key/{}", k.key_id.as_deref().unwrap()));
            seen.push(k.key_id.clone().unwrap());
        }
        if !page.truncated {
            assert!(page.next_marker.is_none());
            break;
        }
        marker = page.next_marker;
    }
    created.sort();
    assert_eq!(seen, created);
    assert_eq!(code(kms.list_keys().marker("garbage").send().await), "InvalidMarkerException");
    assert_eq!(code(kms.list_keys().limit(0).send().await), "ValidationException");
    assert_eq!(code(kms.list_keys().limit(1001).send().await), "ValidationException");
    // accounts do not see each other's keys
    assert!(c.kms_as("210987654321", "s").list_keys().send().await.unwrap().keys().is_empty());
}

#[tokio::test]
async fn encrypt_decrypt_and_context() {
    let c = Coffer::dev();
    let kms = c.kms();
    let id = new_key(&kms).await;
    let arn = format!("arn:aws:kms:us-east-1:123456789012:key/{id}");
    let out = kms
        .encrypt()
        .key_id(&id)
        .plaintext(Blob::new("top secret"))
        .encryption_context("purpose", "test")
        .encryption_context("Tenant", "A")
        .send()
        .await
        .unwrap();
    assert_eq!(out.key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(out.encryption_algorithm.as_ref().unwrap().as_str(), "SYMMETRIC_DEFAULT");
    let ct = out.ciphertext_blob.unwrap();
    // Context order does not matter; no KeyId needed.
    let d = kms
        .decrypt()
        .ciphertext_blob(ct.clone())
        .encryption_context("Tenant", "A")
        .encryption_context("purpose", "test")
        .send()
        .await
        .unwrap();
    assert_eq!(d.plaintext.unwrap().as_ref(), b"top secret");
    assert_eq!(d.key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(d.key_material_id.as_ref().unwrap().len(), 64);
    // Any difference in the context — missing, extra, case — fails with InvalidCiphertextException.
    for ec in [vec![("purpose", "test")], vec![("purpose", "test"), ("Tenant", "a")], vec![("purpose", "test"), ("tenant", "A")], vec![("purpose", "test"), ("Tenant", "A"), ("x", "y")]] {
        let mut req = kms.decrypt().ciphertext_blob(ct.clone());
        for (k, v) in ec {
            req = req.encryption_context(k, v);
        }
        assert_eq!(code(req.send().await), "InvalidCiphertextException");
    }
    let with_ec = |r: aws_sdk_kms::operation::decrypt::builders::DecryptFluentBuilder| {
        r.encryption_context("purpose", "test").encryption_context("Tenant", "A")
    };
    // KeyId forms accepted by Decrypt; a different key is IncorrectKeyException.
    for form in [id.clone(), arn.clone()] {
        with_ec(kms.decrypt().ciphertext_blob(ct.clone()).key_id(form)).send().await.unwrap();
    }
    kms.create_alias().alias_name("alias/enc").target_key_id(&id).send().await.unwrap();
    with_ec(kms.decrypt().ciphertext_blob(ct.clone()).key_id("alias/enc")).send().await.unwrap();
    let other = new_key(&kms).await;
    let (c1, m1) = err(with_ec(kms.decrypt().ciphertext_blob(ct.clone()).key_id(&other)).send().await);
    assert_eq!(c1, "IncorrectKeyException");
    assert_eq!(m1, "The key ID in the request does not identify a CMK that can perform this operation.");
    // Tampering anywhere, truncation, garbage: InvalidCiphertextException, never a 500.
    let bytes = ct.as_ref().to_vec();
    for i in [0usize, 1, 5, 20, 55, bytes.len() - 1] {
        let mut t = bytes.clone();
        t[i] ^= 1;
        assert_eq!(code(with_ec(kms.decrypt().ciphertext_blob(Blob::new(t))).send().await), "InvalidCiphertextException", "flip {i}");
    }
    for blob in [bytes[..10].to_vec(), bytes[..bytes.len() - 1].to_vec(), b"not a kms ciphertext at all".to_vec(), vec![0xC1]] {
        assert_eq!(code(kms.decrypt().ciphertext_blob(Blob::new(blob)).send().await), "InvalidCiphertextException");
    }
    // Blobs do not cross accounts or regions.
    assert_eq!(code(c.kms_as("222222222222", "s").decrypt().ciphertext_blob(ct.clone()).send().await), "AccessDeniedException");
    let eu = coffer_it::kms_client(&c.endpoint, "x", "y", "eu-west-1");
    assert_eq!(code(with_ec(eu.decrypt().ciphertext_blob(ct.clone())).send().await), "InvalidCiphertextException");
    // Plaintext limits: 1..4096 bytes; the largest blob stays under 6144 bytes.
    let big = kms.encrypt().key_id(&id).plaintext(Blob::new(vec![7u8; 4096])).send().await.unwrap();
    assert!(big.ciphertext_blob.unwrap().as_ref().len() <= 6144);
    let (c2, m2) = err(kms.encrypt().key_id(&id).plaintext(Blob::new(vec![7u8; 4097])).send().await);
    assert_eq!(c2, "ValidationException");
    assert_eq!(m2, "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096");
    assert_eq!(code(kms.encrypt().key_id(&id).encryption_algorithm("RSAES_OAEP_SHA_256".into()).plaintext(Blob::new("x")).send().await), "InvalidKeyUsageException");
    // DryRun answers what the real call would, and does nothing.
    let (c3, m3) = err(kms.encrypt().key_id(&id).plaintext(Blob::new("x")).dry_run(true).send().await);
    assert_eq!((c3.as_str(), m3.as_str()), ("DryRunOperationException", "The request would have succeeded, but the DryRun option is set."));
    assert_eq!(code(with_ec(kms.decrypt().ciphertext_blob(ct.clone()).dry_run(true)).send().await), "DryRunOperationException");
    kms.disable_key().key_id(&id).send().await.unwrap();
    assert_eq!(code(kms.encrypt().key_id(&id).plaintext(Blob::new("x")).dry_run(true).send().await), "DisabledException");
    assert_eq!(code(with_ec(kms.decrypt().ciphertext_blob(ct.clone())).send().await), "DisabledException");
}

#[tokio::test]
async fn re_encrypt_moves_between_keys_and_contexts() {
    let c = Coffer::dev();
    let kms = c.kms();
    let (a, b) = (new_key(&kms).await, new_key(&kms).await);
    let ct = kms.encrypt().key_id(&a).plaintext(Blob::new("payload")).encryption_context("k", "1").send().await.unwrap().ciphertext_blob.unwrap();
    let r = kms
        .re_encrypt()
        .ciphertext_blob(ct.clone())
        .source_encryption_context("k", "1")
        .destination_key_id(&b)
        .destination_encryption_context("k", "2")
        .send()
        .await
        .unwrap();
    assert!(r.source_key_id.unwrap().ends_with(&a));
    assert!(r.key_id.unwrap().ends_with(&b));
    assert_eq!(r.source_key_material_id.unwrap().len(), 64);
    assert_eq!(r.destination_key_material_id.unwrap().len(), 64);
    let ct2 = r.ciphertext_blob.unwrap();
    let d = kms.decrypt().ciphertext_blob(ct2.clone()).encryption_context("k", "2").send().await.unwrap();
    assert!(d.key_id.unwrap().ends_with(&b));
    assert_eq!(d.plaintext.unwrap().as_ref(), b"payload");
    assert_eq!(code(kms.re_encrypt().ciphertext_blob(ct.clone()).destination_key_id(&b).send().await), "InvalidCiphertextException");
    assert_eq!(code(kms.re_encrypt().ciphertext_blob(ct.clone()).source_encryption_context("k", "1").source_key_id(&b).destination_key_id(&b).send().await), "IncorrectKeyException");
    assert_eq!(code(kms.re_encrypt().ciphertext_blob(ct.clone()).source_encryption_context("k", "1").destination_key_id("alias/missing").send().await), "NotFoundException");
    kms.disable_key().key_id(&b).send().await.unwrap();
    assert_eq!(code(kms.re_encrypt().ciphertext_blob(ct).source_encryption_context("k", "1").destination_key_id(&b).send().await), "DisabledException");
}

#[tokio::test]
async fn data_keys_and_random() {
    let c = Coffer::dev();
    let kms = c.kms();
    let id = new_key(&kms).await;
    for (spec, len) in [(DataKeySpec::Aes256, 32usize), (DataKeySpec::Aes128, 16)] {
        let g = kms.generate_data_key().key_id(&id).key_spec(spec).encryption_context("app", "x").send().await.unwrap();
        let pt = g.plaintext.unwrap();
        assert_eq!(pt.as_ref().len(), len);
        assert!(g.key_id.unwrap().starts_with("arn:aws:kms:"));
        assert_eq!(g.key_material_id.unwrap().len(), 64);
        let d = kms.decrypt().ciphertext_blob(g.ciphertext_blob.unwrap()).encryption_context("app", "x").send().await.unwrap();
        assert_eq!(d.plaintext.unwrap().as_ref(), pt.as_ref());
    }
    let g = kms.generate_data_key().key_id(&id).number_of_bytes(1024).send().await.unwrap();
    assert_eq!(g.plaintext.unwrap().as_ref().len(), 1024);
    let w = kms.generate_data_key_without_plaintext().key_id(&id).key_spec(DataKeySpec::Aes256).send().await.unwrap();
    let d = kms.decrypt().ciphertext_blob(w.ciphertext_blob.unwrap()).send().await.unwrap();
    assert_eq!(d.plaintext.unwrap().as_ref().len(), 32);
    let (c1, m1) = err(kms.generate_data_key().key_id(&id).send().await);
    assert_eq!((c1.as_str(), m1.as_str()), ("ValidationException", "Please specify either number of bytes or key spec."));
    assert_eq!(code(kms.generate_data_key().key_id(&id).number_of_bytes(16).key_spec(DataKeySpec::Aes128).send().await), "ValidationException");
    assert_eq!(code(kms.generate_data_key().key_id(&id).number_of_bytes(1025).send().await), "ValidationException");
    assert_eq!(code(kms.generate_data_key_without_plaintext().key_id(&id).number_of_bytes(0).send().await), "ValidationException");
    assert_eq!(code(kms.generate_data_key().key_id(&id).key_spec(DataKeySpec::Aes256).dry_run(true).send().await), "DryRunOperationException");
    // GenerateRandom
    for n in [1, 32, 1024] {
        let r = kms.generate_random().number_of_bytes(n).send().await.unwrap();
        assert_eq!(r.plaintext.unwrap().as_ref().len(), n as usize);
    }
    let (c2, m2) = err(kms.generate_random().number_of_bytes(1025).send().await);
    assert_eq!(c2, "ValidationException");
    assert_eq!(m2, "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024");
    let (_, m3) = err(kms.generate_random().number_of_bytes(0).send().await);
    assert_eq!(m3, "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1");
    let (c4, m4) = err(kms.generate_random().send().await);
    assert_eq!((c4.as_str(), m4.as_str()), ("ValidationException", "NumberOfBytes is required."));
    let a = kms.generate_random().number_of_bytes(32).send().await.unwrap().plaintext.unwrap();
    let b = kms.generate_random().number_of_bytes(32).send().await.unwrap().plaintext.unwrap();
    assert_ne!(a.as_ref(), b.as_ref());
}

#[tokio::test]
async fn aliases() {
    let c = Coffer::dev();
    let kms = c.kms();
    let (a, b) = (new_key(&kms).await, new_key(&kms).await);
    kms.create_alias().alias_name("alias/app/db").target_key_id(&a).send().await.unwrap();
    let (c1, m1) = err(kms.create_alias().alias_name("alias/app/db").target_key_id(&b).send().await);
    assert_eq!(c1, "AlreadyExistsException");
    assert_eq!(m1, "An alias with the name arn:aws:kms:us-east-1:123456789012:alias/app/db already exists");
    let (c2, m2) = err(kms.create_alias().alias_name("app").target_key_id(&a).send().await);
    assert_eq!(c2, "ValidationException");
    assert_eq!(m2, "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html");
    let (c3, m3) = err(kms.create_alias().alias_name("alias/has space").target_key_id(&a).send().await);
    assert_eq!(c3, "ValidationException");
    assert!(m3.contains("Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"), "{m3}");
    assert_eq!(code(kms.create_alias().alias_name("alias/aws/mine").target_key_id(&a).send().await), "AccessDeniedException");
    assert_eq!(code(kms.create_alias().alias_name("alias/x").target_key_id("alias/app/db").send().await), "NotFoundException");
    assert_eq!(code(kms.create_alias().alias_name("alias/x").target_key_id("arn:aws:kms:us-east-1:123456789012:alias/app/db").send().await), "InvalidArnException");
    assert_eq!(code(kms.create_alias().alias_name("alias/x").target_key_id("11111111-2222-4333-8444-555555555555").send().await), "NotFoundException");
    // Encrypt through the alias, retarget it, old ciphertexts still decrypt.
    let ct = kms.encrypt().key_id("alias/app/db").plaintext(Blob::new("v1")).send().await.unwrap();
    assert!(ct.key_id.unwrap().ends_with(&a));
    kms.update_alias().alias_name("alias/app/db").target_key_id(&b).send().await.unwrap();
    let ct2 = kms.encrypt().key_id("alias/app/db").plaintext(Blob::new("v2")).send().await.unwrap();
    assert!(ct2.key_id.unwrap().ends_with(&b));
    kms.decrypt().ciphertext_blob(ct.ciphertext_blob.unwrap()).send().await.unwrap();
    assert_eq!(code(kms.update_alias().alias_name("alias/none").target_key_id(&b).send().await), "NotFoundException");
    // ListAliases, with and without a KeyId filter, paged.
    kms.create_alias().alias_name("alias/app/cache").target_key_id(&a).send().await.unwrap();
    kms.create_alias().alias_name("alias/app/queue").target_key_id(&a).send().await.unwrap();
    let all = kms.list_aliases().send().await.unwrap();
    let names: Vec<_> = all.aliases().iter().map(|x| x.alias_name.clone().unwrap()).collect();
    assert_eq!(names, ["alias/app/cache", "alias/app/db", "alias/app/queue"]);
    let e = &all.aliases()[1];
    assert_eq!(e.alias_arn.as_deref(), Some("arn:aws:kms:us-east-1:123456789012:alias/app/db"));
    assert_eq!(e.target_key_id.as_deref(), Some(b.as_str()));
    assert!(e.creation_date.is_some() && e.last_updated_date.is_some());
    let of_a = kms.list_aliases().key_id(&a).send().await.unwrap();
    assert_eq!(of_a.aliases().len(), 2);
    let p1 = kms.list_aliases().limit(2).send().await.unwrap();
    assert!(p1.truncated && p1.aliases().len() == 2);
    let p2 = kms.list_aliases().limit(2).marker(p1.next_marker.unwrap()).send().await.unwrap();
    assert!(!p2.truncated && p2.aliases().len() == 1);
    assert_eq!(code(kms.list_aliases().key_id("11111111-2222-4333-8444-555555555555").send().await), "NotFoundException");
    // DeleteAlias.
    kms.delete_alias().alias_name("alias/app/cache").send().await.unwrap();
    assert_eq!(code(kms.delete_alias().alias_name("alias/app/cache").send().await), "NotFoundException");
    assert_eq!(code(kms.describe_key().key_id("alias/app/cache").send().await), "NotFoundException");
    // An alias cannot point at a key pending deletion.
    kms.schedule_key_deletion().key_id(&a).pending_window_in_days(7).send().await.unwrap();
    assert_eq!(code(kms.create_alias().alias_name("alias/late").target_key_id(&a).send().await), "KMSInvalidStateException");
}

#[tokio::test]
async fn aws_managed_keys_are_created_on_first_use() {
    let c = Coffer::dev();
    let kms = c.kms();
    let md = kms.describe_key().key_id("alias/aws/s3").send().await.unwrap().key_metadata.unwrap();
    assert_eq!(md.key_manager.as_ref().unwrap().as_str(), "AWS");
    assert_eq!(md.description.as_deref(), Some("Default key that protects my S3 objects when no other key is defined"));
    let again = kms.describe_key().key_id("alias/aws/s3").send().await.unwrap().key_metadata.unwrap();
    assert_eq!(again.key_id, md.key_id);
    // The managed key's policy allows use only through its service: direct use is denied.
    let (c0, m0) = err(kms.encrypt().key_id("alias/aws/ssm").plaintext(Blob::new("p")).send().await);
    assert_eq!(c0, "AccessDeniedException");
    let ssm = kms.describe_key().key_id("alias/aws/ssm").send().await.unwrap().key_metadata.unwrap();
    assert!(m0.contains("kms:Encrypt") && m0.contains(ssm.arn.as_deref().unwrap()), "{m0}");
    let st = kms.get_key_rotation_status().key_id(&md.key_id).send().await.unwrap();
    assert!(st.key_rotation_enabled);
    let policy = kms.get_key_policy().key_id(&md.key_id).send().await.unwrap().policy.unwrap();
    assert!(policy.contains("kms:ViaService") && policy.contains("s3.us-east-1.amazonaws.com"), "{policy}");
    for r in [
        code(kms.disable_key().key_id(&md.key_id).send().await),
        code(kms.schedule_key_deletion().key_id(&md.key_id).send().await),
        code(kms.put_key_policy().key_id(&md.key_id).policy(policy.clone()).send().await),
        code(kms.update_key_description().key_id(&md.key_id).description("x").send().await),
        code(kms.tag_resource().key_id(&md.key_id).tags(tag("a", "b")).send().await),
        code(kms.disable_key_rotation().key_id(&md.key_id).send().await),
        code(kms.delete_alias().alias_name("alias/aws/s3").send().await),
    ] {
        assert_eq!(r, "AccessDeniedException");
    }
    let aliases = kms.list_aliases().send().await.unwrap();
    assert_eq!(aliases.aliases().len(), 2);
    // Unknown predefined-looking aliases are not invented.
    assert_eq!(code(kms.describe_key().key_id("alias/aws/not-a-service").send().await), "NotFoundException");
}

#[tokio::test]
async fn tags() {
    let c = Coffer::dev();
    let kms = c.kms();
    let id = new_key(&kms).await;
    kms.tag_resource().key_id(&id).tags(tag("b", "2")).tags(tag("a", "1")).send().await.unwrap();
    kms.tag_resource().key_id(&id).tags(tag("a", "one")).send().await.unwrap(); // overwrite
    let t = kms.list_resource_tags().key_id(&id).send().await.unwrap();
    let got: Vec<_> = t.tags().iter().map(|t| (t.tag_key.clone(), t.tag_value.clone())).collect();
    assert_eq!(got, [("a".to_string(), "one".to_string()), ("b".to_string(), "2".to_string())]);
    let p = kms.list_resource_tags().key_id(&id).limit(1).send().await.unwrap();
    assert!(p.truncated);
    let p2 = kms.list_resource_tags().key_id(&id).limit(1).marker(p.next_marker.unwrap()).send().await.unwrap();
    assert_eq!(p2.tags()[0].tag_key, "b");
    kms.untag_resource().key_id(&id).tag_keys("a").tag_keys("missing").send().await.unwrap();
    assert_eq!(kms.list_resource_tags().key_id(&id).send().await.unwrap().tags().len(), 1);
    let (c1, m1) = err(kms.tag_resource().key_id(&id).tags(tag("x", "1")).tags(tag("x", "2")).send().await);
    assert_eq!((c1.as_str(), m1.as_str()), ("TagException", "Duplicate tag keys"));
    assert_eq!(code(kms.tag_resource().key_id(&id).tags(tag("AWS:x", "1")).send().await), "TagException");
    assert_eq!(code(kms.untag_resource().key_id(&id).tag_keys("aws:x").send().await), "TagException");
    assert_eq!(code(kms.tag_resource().key_id(&id).tags(tag("k", &"v".repeat(257))).send().await), "ValidationException");
    let many: Vec<Tag> = (0..50).map(|i| tag(&format!("k{i}"), "v")).collect();
    assert_eq!(code(kms.tag_resource().key_id(&id).set_tags(Some(many)).send().await), "TagException");
    assert_eq!(code(kms.tag_resource().key_id("alias/none").tags(tag("a", "b")).send().await), "NotFoundException");
}

#[tokio::test]
async fn rotation_keeps_old_ciphertexts_readable() {
    let c = Coffer::dev();
    let kms = c.kms();
    let id = new_key(&kms).await;
    kms.create_alias().alias_name("alias/rot").target_key_id(&id).send().await.unwrap();
    let first = kms.encrypt().key_id(&id).plaintext(Blob::new("before rotation")).send().await.unwrap().ciphertext_blob.unwrap();
    let m0 = kms.describe_key().key_id(&id).send().await.unwrap().key_metadata.unwrap().current_key_material_id.unwrap();
    assert!(kms.list_key_rotations().key_id(&id).send().await.unwrap().rotations().is_empty());
    // Two on-demand rotations.
    for _ in 0..2 {
        let r = kms.rotate_key_on_demand().key_id(&id).send().await.unwrap();
        assert_eq!(r.key_id.as_deref(), Some(id.as_str()));
    }
    let m2 = kms.describe_key().key_id("alias/rot").send().await.unwrap().key_metadata.unwrap().current_key_material_id.unwrap();
    assert_ne!(m0, m2);
    let d = kms.decrypt().ciphertext_blob(first.clone()).send().await.unwrap();
    assert_eq!(d.plaintext.unwrap().as_ref(), b"before rotation");
    assert_eq!(d.key_material_id.as_deref(), Some(m0.as_str()));
    let newer = kms.encrypt().key_id("alias/rot").plaintext(Blob::new("after")).send().await.unwrap().ciphertext_blob.unwrap();
    let d2 = kms.decrypt().ciphertext_blob(newer).send().await.unwrap();
    assert_eq!(d2.key_material_id.as_deref(), Some(m2.as_str()));
    let rot = kms.list_key_rotations().key_id(&id).send().await.unwrap();
    assert_eq!(rot.rotations().len(), 2);
    assert!(rot.rotations().iter().all(|r| r.rotation_type.as_ref().unwrap().as_str() == "ON_DEMAND" && r.rotation_date.is_some()));
    assert_eq!(rot.rotations()[1].key_material_state.as_ref().unwrap().as_str(), "CURRENT");
    assert_eq!(rot.rotations()[0].key_material_state.as_ref().unwrap().as_str(), "NON_CURRENT");
    let all = kms.list_key_rotations().key_id(&id).include_key_material(IncludeKeyMaterial::AllKeyMaterial).send().await.unwrap();
    assert_eq!(all.rotations().len(), 3);
    assert_eq!(all.rotations()[0].key_material_id.as_deref(), Some(m0.as_str()));
    assert!(all.rotations()[0].rotation_type.is_none());
    let page = kms.list_key_rotations().key_id(&id).limit(1).send().await.unwrap();
    assert!(page.truncated);
    let page2 = kms.list_key_rotations().key_id(&id).limit(1).marker(page.next_marker.unwrap()).send().await.unwrap();
    assert_eq!(page2.rotations().len(), 1);
    assert!(!page2.truncated);

    // Automatic rotation: status, period limits, the scheduler.
    let st = kms.get_key_rotation_status().key_id(&id).send().await.unwrap();
    assert!(!st.key_rotation_enabled && st.rotation_period_in_days.is_none());
    let (c1, m1) = err(kms.enable_key_rotation().key_id(&id).rotation_period_in_days(30).send().await);
    assert_eq!(c1, "ValidationException");
    assert_eq!(m1, "1 validation error detected: Value '30' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value greater than or equal to 90");
    assert_eq!(code(kms.enable_key_rotation().key_id(&id).rotation_period_in_days(2561).send().await), "ValidationException");
    kms.enable_key_rotation().key_id(&id).rotation_period_in_days(90).send().await.unwrap();
    let st = kms.get_key_rotation_status().key_id(&id).send().await.unwrap();
    assert!(st.key_rotation_enabled);
    assert_eq!(st.rotation_period_in_days, Some(90));
    let next = st.next_rotation_date.unwrap().secs();
    let now = std::time::UNIX_EPOCH.elapsed().unwrap().as_secs() as i64;
    assert!((next - now - 90 * 86_400).abs() < 120);
    let report = c.advance_clock(91 * 86_400);
    assert_eq!(report["rotated"], 1);
    let rot = kms.list_key_rotations().key_id(&id).send().await.unwrap();
    assert_eq!(rot.rotations().len(), 3);
    assert_eq!(rot.rotations()[2].rotation_type.as_ref().unwrap().as_str(), "AUTOMATIC");
    kms.decrypt().ciphertext_blob(first.clone()).send().await.unwrap();
    kms.disable_key_rotation().key_id(&id).send().await.unwrap();
    assert!(!kms.get_key_rotation_status().key_id(&id).send().await.unwrap().key_rotation_enabled);
    // Disabled keys cannot be rotated or change rotation.
    kms.disable_key().key_id(&id).send().await.unwrap();
    assert_eq!(code(kms.rotate_key_on_demand().key_id(&id).send().await), "DisabledException");
    assert_eq!(code(kms.enable_key_rotation().key_id(&id).send().await), "DisabledException");
    assert_eq!(code(kms.rotate_key_on_demand().key_id("alias/rot").send().await), "NotFoundException");
}

#[tokio::test]
async fn on_demand_rotation_limit() {
    let c = Coffer::dev();
    let kms = c.kms();
    let id = new_key(&kms).await;
    let ct = kms.encrypt().key_id(&id).plaintext(Blob::new("old")).send().await.unwrap().ciphertext_blob.unwrap();
    for _ in 0..25 {
        kms.rotate_key_on_demand().key_id(&id).send().await.unwrap();
    }
    let (c1, m1) = err(kms.rotate_key_on_demand().key_id(&id).send().await);
    assert_eq!(c1, "LimitExceededException");
    assert!(m1.starts_with("The on-demand rotations limit has been reached for the given keyId."), "{m1}");
    assert_eq!(kms.decrypt().ciphertext_blob(ct).send().await.unwrap().plaintext.unwrap().as_ref(), b"old");
}

const SEED_POLICY: &str = r#"{"Version":"2012-10-17","Id":"key-consolepolicy-3","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:*","Resource":"*"},{"Sid":"Allow access for Key Administrators","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/myapp"},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion"],"Resource":"*"},{"Sid":"Allow use of the key","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:user/myapp","arn:aws:iam::111111111111:role/myapprole","arn:aws:iam::222222222222:root"]},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"},{"Sid":"Allow attachment of persistent resources","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/myapp"},"Action":["kms:CreateGrant","kms:ListGrants","kms:RevokeGrant"],"Resource":"*","Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}}]}"#;

#[tokio::test]
async fn key_policies() {
    let c = Coffer::dev();
    // The seed's principals: account 111111111111 (a 12-digit access key id selects it in --dev)
    // with user myapp and role myapprole; account 222222222222 exists implicitly in --dev.
    let root = coffer_it::Creds::new("111111111111", "x");
    let kms = c.kms_with(&root);
    let iam = c.iam_with(&root);
    iam.create_user().user_name("myapp").send().await.unwrap();
    iam.create_role()
        .role_name("myapprole")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let id = new_key(&kms).await;
    let p = kms.get_key_policy().key_id(&id).send().await.unwrap();
    assert_eq!(p.policy_name.as_deref(), Some("default"));
    let doc: serde_json::Value = serde_json::from_str(p.policy.as_deref().unwrap()).unwrap();
    assert_eq!(doc["Statement"][0]["Principal"]["AWS"], "arn:aws:iam::111111111111:root");
    assert_eq!(doc["Statement"][0]["Action"], "kms:*");
    kms.put_key_policy().key_id(&id).policy(SEED_POLICY).send().await.unwrap();
    let p = kms.get_key_policy().key_id(&id).policy_name("default").send().await.unwrap();
    assert_eq!(p.policy.as_deref(), Some(SEED_POLICY));
    let names = kms.list_key_policies().key_id(&id).send().await.unwrap();
    assert_eq!(names.policy_names(), ["default"]);
    assert!(!names.truncated);
    // Created with the policy directly, too.
    let k2 = kms.create_key().policy(SEED_POLICY).send().await.unwrap().key_metadata.unwrap().key_id;
    assert_eq!(kms.get_key_policy().key_id(&k2).send().await.unwrap().policy.as_deref(), Some(SEED_POLICY));
    for bad in [
        "{",
        "[]",
        r#"{"Statement":[]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Principal":"*","Action":"kms:*","Resource":"*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"not-an-arn"},"Action":"kms:*","Resource":"*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":["kms:*","kms:Encrpyt"],"Resource":"*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:*","Resource":"arn:nope"}]}"#,
    ] {
        let (c1, m1) = err(kms.put_key_policy().key_id(&id).policy(bad).send().await);
        assert_eq!(c1, "MalformedPolicyDocumentException", "{bad}");
        assert!(!m1.is_empty());
    }
    let (c2, m2) = err(kms.put_key_policy().key_id(&id).policy(r#"{"Statement":{"Sid":"a","Effect":"Allow","Action":"kms:*","Resource":"*"}}"#).send().await);
    assert_eq!(c2, "MalformedPolicyDocumentException");
    assert_eq!(m2, "Statement 1 (Sid \"a\"): missing required field Principal");
    // Principals that do not exist are refused.
    let (c3, m3) = err(kms.put_key_policy().key_id(&id).policy(SEED_POLICY.replace("user/myapp", "user/nobody")).send().await);
    assert_eq!(c3, "MalformedPolicyDocumentException");
    assert!(m3.starts_with("Policy contains a statement with one or more invalid principals."), "{m3}");
    // The lockout safety check, and its bypass.
    let lockout = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/myapp"},"Action":"kms:*","Resource":"*"}]}"#;
    let (c4, m4) = err(kms.put_key_policy().key_id(&id).policy(lockout).send().await);
    assert_eq!((c4.as_str(), m4.as_str()), ("MalformedPolicyDocumentException", "The new key policy will not allow you to update the key policy in the future."));
    assert_eq!(code(kms.create_key().policy(lockout).send().await), "MalformedPolicyDocumentException");
    let locked = kms.create_key().policy(lockout).bypass_policy_lockout_safety_check(true).send().await.unwrap().key_metadata.unwrap().key_id;
    assert_eq!(code(kms.describe_key().key_id(&locked).send().await), "AccessDeniedException");
    assert_eq!(code(kms.get_key_policy().key_id(&id).policy_name("other").send().await), "NotFoundException");
    assert_eq!(code(kms.put_key_policy().key_id(&id).policy_name("other").policy(SEED_POLICY).send().await), "NotFoundException");
    let huge = format!(r#"{{"Statement":{{"Sid":"{}","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}}}"#, "x".repeat(33_000));
    assert_eq!(code(kms.put_key_policy().key_id(&id).policy(huge).send().await), "LimitExceededException");
    // the rejected policies changed nothing
    assert_eq!(kms.get_key_policy().key_id(&id).send().await.unwrap().policy.as_deref(), Some(SEED_POLICY));
}

#[tokio::test]
async fn deletion_reaper_deletes_key_and_aliases() {
    let c = Coffer::dev();
    let kms = c.kms();
    let id = new_key(&kms).await;
    let keep = new_key(&kms).await;
    kms.create_alias().alias_name("alias/doomed").target_key_id(&id).send().await.unwrap();
    kms.create_alias().alias_name("alias/kept").target_key_id(&keep).send().await.unwrap();
    let ct = kms.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await.unwrap().ciphertext_blob.unwrap();
    kms.schedule_key_deletion().key_id(&id).pending_window_in_days(7).send().await.unwrap();
    assert_eq!(c.advance_clock(6 * 86_400)["deleted"], 0);
    assert_eq!(kms.describe_key().key_id(&id).send().await.unwrap().key_metadata.unwrap().key_state, Some(KeyState::PendingDeletion));
    assert_eq!(c.advance_clock(2 * 86_400)["deleted"], 1);
    assert_eq!(code(kms.describe_key().key_id(&id).send().await), "NotFoundException");
    assert_eq!(code(kms.describe_key().key_id("alias/doomed").send().await), "NotFoundException");
    assert_eq!(code(kms.decrypt().ciphertext_blob(ct).send().await), "InvalidCiphertextException");
    let names: Vec<_> = kms.list_aliases().send().await.unwrap().aliases().iter().map(|a| a.alias_name.clone().unwrap()).collect();
    assert_eq!(names, ["alias/kept"]);
    let keys: Vec<_> = kms.list_keys().send().await.unwrap().keys().iter().map(|k| k.key_id.clone().unwrap()).collect();
    assert_eq!(keys, [keep]);
}

#[tokio::test]
async fn bad_input_gets_aws_errors() {
    let c = Coffer::dev();
    let cred = Some(("AKIADEVELOPMENT00001", "x"));
    let a = c.addr.as_str();
    let r = kms_raw(a, "ListKeys", b"{not json", cred);
    assert_eq!((r.status, r.error_type()), (400, "SerializationException".into()));
    let r = kms_raw(a, "GenerateRandom", br#"{"NumberOfBytes":"ten"}"#, cred);
    assert_eq!((r.status, r.error_type(), r.message()), (400, "SerializationException".into(), "STRING_VALUE can not be converted to an Integer".into()));
    let r = kms_raw(a, "Encrypt", br#"{"KeyId":{"a":1}}"#, cred);
    assert_eq!(r.error_type(), "SerializationException");
    let r = kms_raw(a, "Encrypt", br#"{"KeyId":"x","Plaintext":"!!!not base64"}"#, cred);
    assert_eq!(r.error_type(), "SerializationException");
    let r = kms_raw(a, "Encrypt", b"{}", cred);
    assert_eq!(r.status, 400);
    assert_eq!(r.error_type(), "ValidationException");
    assert_eq!(r.message(), "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; Value null at 'plaintext' failed to satisfy constraint: Member must not be null");
    let r = kms_raw(a, "NoSuchThing", b"{}", cred);
    assert_eq!((r.status, r.error_type()), (400, "UnknownOperationException".into()));
    let r = kms_raw(a, "Sign", b"{}", cred);
    assert_eq!(r.error_type(), "ValidationException");
    let big = vec![b' '; 2 * 1024 * 1024];
    let r = kms_raw(a, "ListKeys", &big, cred);
    assert_eq!(r.status, 413);
    // Wrong JSON shapes never produce a 500 and never write.
    for body in [&b"null"[..], b"1", b"\"s\"", br#"{"Limit": 1e99}"#, br#"{"Limit": -5}"#, br#"{"Marker": 5}"#, &[0xff, 0xfe]] {
        let r = kms_raw(a, "ListKeys", body, cred);
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
    }
    for body in [&br#"{"Description": 5}"#[..], br#"{"Tags": "x"}"#, br#"{"Tags": [{"TagKey": 1}]}"#, br#"{"KeySpec": null, "Policy": 3}"#] {
        let r = kms_raw(a, "CreateKey", body, cred);
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
    }
    let r = kms_raw(a, "ListKeys", b"{}", cred);
    assert_eq!(r.json()["Keys"].as_array().unwrap().len(), 0);
    // the health endpoint needs no signature
    let h = coffer_it::raw(a, "GET", "/_coffer/health", &[], b"");
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["status"], "ok");
}
