//! S3 driven by aws-sdk-s3 (and raw signed HTTP where the SDK cannot misbehave on purpose):
//! buckets, objects, integrity, multipart, copy, every encryption mode, bucket policies,
//! presigned URLs, durability and what lands on disk, range-read efficiency, and the
//! protocol-level errors. Every refusal is asserted by its AWS error code (and HTTP status).
//!
//! Accounts: on a `--dev` instance a 12-digit access key id is the root of that account
//! (signatures unchecked); IAM users created there are real principals with checked signatures
//! and enforced policies — the tests that need a verified signature use one.

use std::collections::HashMap;
use std::fmt::Debug;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectOutput;
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    BlockedEncryptionTypes, BucketLocationConstraint, ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload,
    CompletedPart, CreateBucketConfiguration, Delete, EncryptionType, MetadataDirective, ObjectIdentifier, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use coffer_it::{Coffer, Creds, Options, RawResponse, raw, raw_streaming, sha256_hex, sign, sign_s3, temp_dir};

const A: &str = "111111111111";
const B: &str = "222222222222";
const MIB: usize = 1 << 20;

// ------------------------------------------------------------------ helpers

/// The root of a dev account (a 12-digit access key id names the account).
fn root(account: &str) -> Creds {
    Creds::new(account, "dev-secret-not-checked")
}

/// (HTTP status, AWS error code) of a call that must fail. HEAD errors have no body: the SDK
/// names 404 `NotFound` and leaves other codes empty, so assert their status.
fn fail<T: Debug, E: ProvideErrorMetadata + Debug>(r: Result<T, SdkError<E, HttpResponse>>) -> (u16, String) {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
            let code = e.code().unwrap_or("").to_string();
            if status == 0 {
                panic!("no HTTP response: {e:?}");
            }
            (status, code)
        }
    }
}

fn is(status: u16, code: &str) -> (u16, String) {
    (status, code.to_string())
}

async fn read(o: GetObjectOutput) -> Vec<u8> {
    o.body.collect().await.expect("the body (and its checksum, validated by the SDK)").into_bytes().to_vec()
}

async fn get(s3: &Client, bucket: &str, key: &str) -> Vec<u8> {
    read(s3.get_object().bucket(bucket).key(key).send().await.unwrap_or_else(|e| panic!("GET {bucket}/{key}: {e:?}"))).await
}

async fn put(s3: &Client, bucket: &str, key: &str, data: impl Into<Vec<u8>>) -> aws_sdk_s3::operation::put_object::PutObjectOutput {
    s3.put_object().bucket(bucket).key(key).body(ByteStream::from(data.into())).send().await.unwrap_or_else(|e| panic!("PUT {bucket}/{key}: {e:?}"))
}

async fn exists(s3: &Client, bucket: &str, key: &str) -> bool {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => true,
        Err(e) => {
            assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404), "{e:?}");
            false
        }
    }
}

fn md5(data: &[u8]) -> [u8; 16] {
    use md5::Digest;
    md5::Md5::digest(data).into()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn quoted_md5(data: &[u8]) -> String {
    format!("\"{}\"", hex(&md5(data)))
}

/// Deterministic data: the 8-byte word at word index `w` is `w * φ` (little-endian), so any range
/// can be regenerated without keeping the object.
fn fill(offset: u64, buf: &mut [u8]) {
    if offset.is_multiple_of(8) && buf.len().is_multiple_of(8) {
        for (i, w) in buf.chunks_exact_mut(8).enumerate() {
            w.copy_from_slice(&((offset / 8 + i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_le_bytes());
        }
    } else {
        for (i, b) in buf.iter_mut().enumerate() {
            let p = offset + i as u64;
            *b = ((p / 8).wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_le_bytes()[(p % 8) as usize];
        }
    }
}

fn pattern(offset: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0; len];
    fill(offset, &mut v);
    v
}

/// A client that adds no checksum unless the operation requires one. Multipart uploads without
/// a checksum algorithm use it for their parts: the SDK's default CRC32 on UploadPart hits a
/// Coffer bug (see `multipart_default_checksum_with_crc32_parts`).
fn no_default_checksums(c: &Coffer, creds: &Creds) -> Client {
    Client::from_conf(c.s3_config(creds, coffer_it::REGION).request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired).build())
}

/// An IAM user of the account `admin` is root of, with an inline policy (if any) and a key.
async fn user(c: &Coffer, admin: &Creds, name: &str, policy: Option<&str>) -> Creds {
    let iam = c.iam_with(admin);
    iam.create_user().user_name(name).send().await.unwrap();
    if let Some(p) = policy {
        set_policy(c, admin, name, p).await;
    }
    let k = iam.create_access_key().user_name(name).send().await.unwrap().access_key.unwrap();
    Creds::new(&k.access_key_id, &k.secret_access_key)
}

async fn set_policy(c: &Coffer, admin: &Creds, name: &str, policy: &str) {
    c.iam_with(admin).put_user_policy().user_name(name).policy_name("inline").policy_document(policy).send().await.unwrap();
}

/// `{"Effect":"Allow","Action":[..],"Resource":[..]}` statements as a policy document.
fn allow(statements: &[(&[&str], &[&str])]) -> String {
    let st: Vec<serde_json::Value> = statements
        .iter()
        .map(|(a, r)| serde_json::json!({"Effect": "Allow", "Action": a, "Resource": r}))
        .collect();
    serde_json::json!({"Version": "2012-10-17", "Statement": st}).to_string()
}

fn eu_west_1() -> CreateBucketConfiguration {
    CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::EuWest1).build()
}

fn sse_config(algorithm: ServerSideEncryption, key: Option<&str>, bucket_key: bool) -> ServerSideEncryptionConfiguration {
    ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder().sse_algorithm(algorithm).set_kms_master_key_id(key.map(str::to_string)).build().unwrap(),
                )
                .bucket_key_enabled(bucket_key)
                .build(),
        )
        .build()
        .unwrap()
}

/// An SSE-C key: (its 32 bytes, base64, base64 of its MD5).
fn customer_key(seed: u8) -> (Vec<u8>, String, String) {
    let k: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(seed)).collect();
    let (b64, md5) = (B64.encode(&k), B64.encode(md5(&k)));
    (k, b64, md5)
}

// ------------------------------------------------------------------ 1. buckets

#[tokio::test]
async fn buckets() {
    let c = Coffer::dev();
    let (a, b) = (c.s3_with(&root(A)), c.s3_with(&root(B)));
    for name in ["alpha-one", "alpha-two", "beta-one"] {
        a.create_bucket().bucket(name).send().await.unwrap();
    }
    // us-east-1: the owner creating its bucket again is answered 200 (S3's legacy behaviour);
    // another account gets BucketAlreadyExists.
    a.create_bucket().bucket("alpha-one").send().await.unwrap();
    assert_eq!(fail(b.create_bucket().bucket("alpha-one").send().await), is(409, "BucketAlreadyExists"));

    // Other regions need the matching LocationConstraint.
    let eu = c.s3_in(&root(A), "eu-west-1");
    assert_eq!(fail(eu.create_bucket().bucket("eu-bucket").send().await), is(400, "IllegalLocationConstraintException"));
    assert_eq!(
        fail(a.create_bucket().bucket("eu-bucket").create_bucket_configuration(eu_west_1()).send().await),
        is(400, "IllegalLocationConstraintException")
    );
    let us_east_1 = CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from("us-east-1")).build();
    assert_eq!(fail(a.create_bucket().bucket("explicit-us").create_bucket_configuration(us_east_1).send().await), is(400, "InvalidLocationConstraint"));
    eu.create_bucket().bucket("eu-bucket").create_bucket_configuration(eu_west_1()).send().await.unwrap();
    assert_eq!(
        fail(eu.create_bucket().bucket("eu-bucket").create_bucket_configuration(eu_west_1()).send().await),
        is(409, "BucketAlreadyOwnedByYou")
    );
    // A request signed for the wrong region is refused, naming the bucket's region.
    assert_eq!(fail(a.put_object().bucket("eu-bucket").key("k").body(ByteStream::from_static(b"x")).send().await), is(400, "AuthorizationHeaderMalformed"));
    put(&eu, "eu-bucket", "k", "x").await;

    let long = "x".repeat(64);
    for bad in ["ab", "Upper-Case", "under_score", "-leading", "trailing-", "double..dot", "192.168.10.20", "xn--punycode", &long] {
        assert_eq!(fail(a.create_bucket().bucket(bad).send().await), is(400, "InvalidBucketName"), "{bad}");
    }

    // HeadBucket: 200 with the region; 404 for a missing bucket; 403 for another account's.
    let h = a.head_bucket().bucket("alpha-one").send().await.unwrap();
    assert_eq!(h.bucket_region(), Some("us-east-1"));
    assert_eq!(fail(a.head_bucket().bucket("no-such-bucket-here").send().await), is(404, "NotFound"));
    assert_eq!(fail(b.head_bucket().bucket("alpha-one").send().await).0, 403);

    // ListBuckets: the caller's account's buckets only, by name; prefix filter.
    b.create_bucket().bucket("gamma-of-b").send().await.unwrap();
    let names = |o: aws_sdk_s3::operation::list_buckets::ListBucketsOutput| {
        o.buckets().iter().filter_map(|b| b.name()).map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(names(a.list_buckets().send().await.unwrap()), ["alpha-one", "alpha-two", "beta-one", "eu-bucket"]);
    assert_eq!(names(a.list_buckets().prefix("alpha").send().await.unwrap()), ["alpha-one", "alpha-two"]);
    assert_eq!(names(b.list_buckets().send().await.unwrap()), ["gamma-of-b"]);
    let (mut paged, mut token) = (Vec::new(), None::<String>);
    loop {
        let o = a.list_buckets().max_buckets(3).set_continuation_token(token.clone()).send().await.unwrap();
        token = o.continuation_token().map(str::to_string);
        paged.extend(names(o));
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, ["alpha-one", "alpha-two", "beta-one", "eu-bucket"]);
    // x-amz-expected-bucket-owner: a mismatch is AccessDenied.
    a.head_bucket().bucket("alpha-one").expected_bucket_owner(A).send().await.unwrap();
    assert_eq!(fail(a.head_bucket().bucket("alpha-one").expected_bucket_owner(B).send().await).0, 403);
    assert_eq!(fail(a.list_objects_v2().bucket("alpha-one").expected_bucket_owner(B).send().await), is(403, "AccessDenied"));

    // GetBucketLocation: empty for us-east-1, answered from any region.
    let loc = a.get_bucket_location().bucket("alpha-one").send().await.unwrap();
    assert_eq!(loc.location_constraint().map(|l| l.as_str()).unwrap_or(""), "");
    assert_eq!(fail(a.get_bucket_location().bucket("no-such-bucket-here").send().await), is(404, "NoSuchBucket"));
    let loc = a.get_bucket_location().bucket("eu-bucket").send().await.unwrap();
    assert_eq!(loc.location_constraint(), Some(&BucketLocationConstraint::EuWest1));

    // DeleteBucket: only when empty; then gone (and the name is free for anyone).
    put(&a, "beta-one", "some/object", "x").await;
    assert_eq!(fail(b.delete_bucket().bucket("beta-one").send().await), is(403, "AccessDenied"));
    assert_eq!(fail(a.delete_bucket().bucket("beta-one").send().await), is(409, "BucketNotEmpty"));
    a.delete_object().bucket("beta-one").key("some/object").send().await.unwrap();
    a.delete_bucket().bucket("beta-one").send().await.unwrap();
    assert_eq!(fail(a.delete_bucket().bucket("beta-one").send().await), is(404, "NoSuchBucket"));
    assert_eq!(fail(a.head_bucket().bucket("beta-one").send().await), is(404, "NotFound"));
    assert_eq!(fail(a.get_object().bucket("beta-one").key("some/object").send().await), is(404, "NoSuchBucket"));
    b.create_bucket().bucket("beta-one").send().await.unwrap();
    eu.delete_object().bucket("eu-bucket").key("k").send().await.unwrap();
    eu.delete_bucket().bucket("eu-bucket").send().await.unwrap();
    assert_eq!(c.stop().code(), Some(0));
}

// ------------------------------------------------------------------ 2. objects

#[tokio::test]
async fn objects() {
    let c = Coffer::dev();
    let s3 = c.s3();
    let bk = "objects";
    s3.create_bucket().bucket(bk).send().await.unwrap();

    // Put/Get/Head with stored headers and user metadata.
    let body = b"hello, object world";
    let p = s3
        .put_object()
        .bucket(bk)
        .key("doc.txt")
        .body(ByteStream::from_static(body))
        .content_type("text/plain; charset=utf-8")
        .cache_control("max-age=60")
        .content_disposition("attachment; filename=\"doc.txt\"")
        .content_language("en-GB")
        .content_encoding("identity")
        .metadata("color", "blue")
        .metadata("Owner-Name", "Zoe Example")
        .send()
        .await
        .unwrap();
    let etag = p.e_tag().unwrap().to_string();
    assert_eq!(etag, quoted_md5(body));
    assert_eq!(p.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let want_meta: HashMap<String, String> = [("color", "blue"), ("owner-name", "Zoe Example")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    let g = s3.get_object().bucket(bk).key("doc.txt").send().await.unwrap();
    assert_eq!(g.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(g.cache_control(), Some("max-age=60"));
    assert_eq!(g.content_disposition(), Some("attachment; filename=\"doc.txt\""));
    assert_eq!(g.content_language(), Some("en-GB"));
    assert_eq!(g.content_encoding(), Some("identity"));
    assert_eq!(g.metadata(), Some(&want_meta));
    assert_eq!(g.e_tag(), Some(etag.as_str()));
    assert_eq!(g.content_length(), Some(body.len() as i64));
    assert_eq!(read(g).await, body);
    let h = s3.head_object().bucket(bk).key("doc.txt").send().await.unwrap();
    assert_eq!((h.content_length(), h.e_tag(), h.metadata()), (Some(body.len() as i64), Some(etag.as_str()), Some(&want_meta)));
    assert_eq!(h.content_type(), Some("text/plain; charset=utf-8"));
    let last_modified = *h.last_modified().unwrap();
    // Without a Content-Type, S3 answers binary/octet-stream (the SDK always sends one: raw).
    let cr = c.creds();
    let (h, _) = sign_s3(&c.addr, "PUT", "/objects/untyped", "", &[], &sha256_hex(b"x"), &cr.access_key, &cr.secret_key, SystemTime::now(), None);
    assert_eq!(raw(&c.addr, "PUT", "/objects/untyped", &h, b"x").status, 200);
    assert_eq!(s3.head_object().bucket(bk).key("untyped").send().await.unwrap().content_type(), Some("binary/octet-stream"));

    // Ranges.
    let data: Vec<u8> = (0..100u8).collect();
    put(&s3, bk, "range.bin", data.clone()).await;
    for (range, want, content_range) in [
        ("bytes=10-19", 10..20, "bytes 10-19/100"),
        ("bytes=90-", 90..100, "bytes 90-99/100"),
        ("bytes=-5", 95..100, "bytes 95-99/100"),
        ("bytes=95-500", 95..100, "bytes 95-99/100"),
        ("bytes=0-0", 0..1, "bytes 0-0/100"),
    ] {
        let o = s3.get_object().bucket(bk).key("range.bin").range(range).send().await.unwrap();
        assert_eq!(o.content_range(), Some(content_range), "{range}");
        assert_eq!(o.content_length(), Some(want.len() as i64), "{range}");
        assert_eq!(read(o).await, &data[want], "{range}");
    }
    assert_eq!(fail(s3.get_object().bucket(bk).key("range.bin").range("bytes=100-").send().await), is(416, "InvalidRange"));
    assert_eq!(fail(s3.get_object().bucket(bk).key("range.bin").range("bytes=200-300").send().await), is(416, "InvalidRange"));
    // An empty object: readable, but no range of it is satisfiable.
    put(&s3, bk, "empty", Vec::new()).await;
    let g = s3.get_object().bucket(bk).key("empty").send().await.unwrap();
    assert_eq!(g.content_length(), Some(0));
    assert!(read(g).await.is_empty());
    assert_eq!(fail(s3.get_object().bucket(bk).key("empty").range("bytes=0-0").send().await), is(416, "InvalidRange"));
    // Response header overrides (response-content-type ...) on a signed GET.
    let g = s3.get_object().bucket(bk).key("range.bin").response_content_type("image/png").response_cache_control("no-store").send().await.unwrap();
    assert_eq!((g.content_type(), g.cache_control()), (Some("image/png"), Some("no-store")));
    // Limits: keys up to 1024 bytes, user metadata up to 2 KB.
    let long_key = "k".repeat(1025);
    assert_eq!(fail(s3.put_object().bucket(bk).key(&long_key).body(ByteStream::from_static(b"x")).send().await), is(400, "KeyTooLongError"));
    put(&s3, bk, &long_key[..1024], "x").await;
    let big_meta = s3.put_object().bucket(bk).key("meta").metadata("big", "v".repeat(2100)).body(ByteStream::from_static(b"x")).send().await;
    assert_eq!(fail(big_meta), is(400, "MetadataTooLarge"));

    // Preconditions on GET and HEAD.
    let get_doc = || s3.get_object().bucket(bk).key("doc.txt");
    let past = DateTime::from_secs(last_modified.secs() - 3600);
    get_doc().if_match(&etag).send().await.unwrap();
    assert_eq!(fail(get_doc().if_match("\"00000000000000000000000000000000\"").send().await), is(412, "PreconditionFailed"));
    assert_eq!(fail(get_doc().if_none_match(&etag).send().await).0, 304);
    get_doc().if_none_match("\"other\"").send().await.unwrap();
    assert_eq!(fail(get_doc().if_modified_since(last_modified).send().await).0, 304);
    get_doc().if_modified_since(past).send().await.unwrap();
    assert_eq!(fail(get_doc().if_unmodified_since(past).send().await), is(412, "PreconditionFailed"));
    get_doc().if_unmodified_since(last_modified).send().await.unwrap();
    // S3's precedence: If-Match true wins over If-Unmodified-Since false; If-None-Match false
    // (the ETag differs) wins over If-Modified-Since false.
    get_doc().if_match(&etag).if_unmodified_since(past).send().await.unwrap();
    get_doc().if_none_match("\"other\"").if_modified_since(last_modified).send().await.unwrap();
    assert_eq!(fail(s3.head_object().bucket(bk).key("doc.txt").if_match("\"nope\"").send().await).0, 412);
    assert_eq!(fail(s3.head_object().bucket(bk).key("doc.txt").if_none_match(&etag).send().await).0, 304);

    // Conditional writes.
    s3.put_object().bucket(bk).key("once").if_none_match("*").body(ByteStream::from_static(b"first")).send().await.unwrap();
    assert_eq!(
        fail(s3.put_object().bucket(bk).key("once").if_none_match("*").body(ByteStream::from_static(b"second")).send().await),
        is(412, "PreconditionFailed")
    );
    assert_eq!(
        fail(s3.put_object().bucket(bk).key("once").if_match("\"0123\"").body(ByteStream::from_static(b"third")).send().await),
        is(412, "PreconditionFailed")
    );
    assert_eq!(get(&s3, bk, "once").await, b"first");
    s3.put_object().bucket(bk).key("once").if_match(quoted_md5(b"first")).body(ByteStream::from_static(b"fourth")).send().await.unwrap();
    assert_eq!(get(&s3, bk, "once").await, b"fourth");
    assert_eq!(
        fail(s3.put_object().bucket(bk).key("never").if_match("\"0123\"").body(ByteStream::from_static(b"x")).send().await),
        is(404, "NoSuchKey")
    );

    // Missing keys; DeleteObject (idempotent).
    assert_eq!(fail(s3.get_object().bucket(bk).key("missing").send().await), is(404, "NoSuchKey"));
    assert_eq!(fail(s3.head_object().bucket(bk).key("missing").send().await), is(404, "NotFound"));
    s3.delete_object().bucket(bk).key("doc.txt").send().await.unwrap();
    assert_eq!(fail(s3.get_object().bucket(bk).key("doc.txt").send().await), is(404, "NoSuchKey"));
    s3.delete_object().bucket(bk).key("doc.txt").send().await.unwrap();

    // DeleteObjects: existing and missing keys are all reported deleted; quiet mode reports
    // nothing but errors.
    for k in ["d1", "d2", "d3"] {
        put(&s3, bk, k, k).await;
    }
    let delete = |keys: &[&str], quiet: bool| {
        Delete::builder()
            .set_objects(Some(keys.iter().map(|k| ObjectIdentifier::builder().key(*k).build().unwrap()).collect()))
            .quiet(quiet)
            .build()
            .unwrap()
    };
    let out = s3.delete_objects().bucket(bk).delete(delete(&["d1", "d2", "not-there"], false)).send().await.unwrap();
    let mut deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort();
    assert_eq!(deleted, ["d1", "d2", "not-there"]);
    assert!(out.errors().is_empty(), "{:?}", out.errors());
    let out = s3.delete_objects().bucket(bk).delete(delete(&["d3", "also-not-there"], true)).send().await.unwrap();
    assert!(out.deleted().is_empty() && out.errors().is_empty(), "{out:?}");
    for k in ["d1", "d2", "d3"] {
        assert!(!exists(&s3, bk, k).await, "{k}");
    }

    // Listing 25 keys, some under common prefixes.
    let mut keys: Vec<String> = (0..10).map(|i| format!("list/file-{i:02}")).collect();
    for d in ["dir-a", "dir-b", "dir-c"] {
        keys.extend((0..4).map(|i| format!("list/{d}/f{i}")));
    }
    keys.extend(["list/dir-b/sub/deep".to_string(), "list/dir-".to_string(), "list/zz".to_string()]);
    keys.sort();
    assert_eq!(keys.len(), 25);
    for k in &keys {
        put(&s3, bk, k, k.as_str()).await;
    }
    put(&s3, bk, "listless", "outside the prefix").await;
    // V2 paging without a delimiter.
    let (mut seen, mut token, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let o = s3.list_objects_v2().bucket(bk).prefix("list/").max_keys(7).set_continuation_token(token.clone()).send().await.unwrap();
        pages += 1;
        assert_eq!(o.key_count(), Some(o.contents().len() as i32));
        seen.extend(o.contents().iter().map(|x| x.key().unwrap().to_string()));
        assert_eq!(o.contents()[0].size(), Some(o.contents()[0].key().unwrap().len() as i64));
        if o.is_truncated() != Some(true) {
            assert!(o.next_continuation_token().is_none());
            break;
        }
        token = o.next_continuation_token().map(str::to_string);
    }
    assert_eq!((seen.clone(), pages), (keys.clone(), 4));
    // V2 with a delimiter: common prefixes count toward max-keys and page like keys.
    let mut want: Vec<String> = keys.iter().filter(|k| !k["list/".len()..].contains('/')).cloned().collect();
    want.extend(["list/dir-a/", "list/dir-b/", "list/dir-c/"].map(String::from));
    want.sort();
    assert_eq!(want.len(), 15);
    let (mut seen, mut token, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let o = s3
            .list_objects_v2()
            .bucket(bk)
            .prefix("list/")
            .delimiter("/")
            .max_keys(4)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert_eq!(o.key_count(), Some((o.contents().len() + o.common_prefixes().len()) as i32));
        seen.extend(o.contents().iter().map(|x| x.key().unwrap().to_string()));
        seen.extend(o.common_prefixes().iter().map(|p| p.prefix().unwrap().to_string()));
        if o.is_truncated() != Some(true) {
            break;
        }
        token = o.next_continuation_token().map(str::to_string);
    }
    seen.sort();
    assert_eq!((seen, pages), (want, 4));
    let o = s3.list_objects_v2().bucket(bk).prefix("list/dir-b/").delimiter("/").send().await.unwrap();
    assert_eq!(o.contents().iter().map(|x| x.key().unwrap()).collect::<Vec<_>>(), ["list/dir-b/f0", "list/dir-b/f1", "list/dir-b/f2", "list/dir-b/f3"]);
    assert_eq!(o.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect::<Vec<_>>(), ["list/dir-b/sub/"]);
    let o = s3.list_objects_v2().bucket(bk).prefix("list/").start_after("list/file-07").send().await.unwrap();
    assert_eq!(o.contents().iter().map(|x| x.key().unwrap()).collect::<Vec<_>>(), ["list/file-08", "list/file-09", "list/zz"]);
    let bad_token = s3.list_objects_v2().bucket(bk).continuation_token("not-a-token").send().await;
    assert_eq!(fail(bad_token), is(400, "InvalidArgument"));
    let o = s3.list_objects_v2().bucket(bk).prefix("nothing/").send().await.unwrap();
    assert_eq!((o.contents().len(), o.key_count(), o.is_truncated()), (0, Some(0), Some(false)));
    // V1 with markers: NextMarker only with a delimiter; otherwise the last key is the marker.
    let (mut seen, mut marker) = (Vec::new(), None::<String>);
    loop {
        let o = s3.list_objects().bucket(bk).prefix("list/").max_keys(10).set_marker(marker.clone()).send().await.unwrap();
        assert!(o.next_marker().is_none());
        seen.extend(o.contents().iter().map(|x| x.key().unwrap().to_string()));
        if o.is_truncated() != Some(true) {
            break;
        }
        marker = seen.last().cloned();
    }
    assert_eq!(seen, keys);
    let o = s3.list_objects().bucket(bk).prefix("list/").delimiter("/").max_keys(3).send().await.unwrap();
    assert_eq!(o.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect::<Vec<_>>(), ["list/dir-a/", "list/dir-b/"]);
    assert_eq!(o.contents().iter().map(|x| x.key().unwrap()).collect::<Vec<_>>(), ["list/dir-"]);
    assert_eq!((o.is_truncated(), o.next_marker()), (Some(true), Some("list/dir-b/")));
    let o = s3.list_objects().bucket(bk).prefix("list/").delimiter("/").marker("list/dir-b/").max_keys(2).send().await.unwrap();
    assert_eq!(o.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect::<Vec<_>>(), ["list/dir-c/"]);
    assert_eq!(o.contents().iter().map(|x| x.key().unwrap()).collect::<Vec<_>>(), ["list/file-00"]);

    // '.' sorts before '/': a common prefix between keys, as the NextMarker and across pages.
    for k in ["tricky/sub.ext", "tricky/sub/file", "tricky/sub1.ext", "tricky/sub2.ext"] {
        put(&s3, bk, k, "t").await;
    }
    let o = s3.list_objects().bucket(bk).prefix("tricky/").delimiter("/").max_keys(2).send().await.unwrap();
    assert_eq!(o.contents().iter().map(|x| x.key().unwrap()).collect::<Vec<_>>(), ["tricky/sub.ext"]);
    assert_eq!(o.common_prefixes().iter().map(|p| p.prefix().unwrap()).collect::<Vec<_>>(), ["tricky/sub/"]);
    assert_eq!((o.is_truncated(), o.next_marker()), (Some(true), Some("tricky/sub/")));
    let o = s3.list_objects().bucket(bk).prefix("tricky/").delimiter("/").max_keys(2).marker("tricky/sub/").send().await.unwrap();
    assert_eq!(o.contents().iter().map(|x| x.key().unwrap()).collect::<Vec<_>>(), ["tricky/sub1.ext", "tricky/sub2.ext"]);
    assert!(o.common_prefixes().is_empty());
    assert_eq!(o.is_truncated(), Some(false));
    let o = s3.list_objects_v2().bucket(bk).prefix("tricky/").delimiter("/").max_keys(2).send().await.unwrap();
    let o = s3.list_objects_v2().bucket(bk).prefix("tricky/").delimiter("/").continuation_token(o.next_continuation_token().unwrap()).send().await.unwrap();
    assert_eq!(o.contents().iter().map(|x| x.key().unwrap()).collect::<Vec<_>>(), ["tricky/sub1.ext", "tricky/sub2.ext"]);
    assert!(o.common_prefixes().is_empty());

    // Keys that need encoding round-trip through PUT, GET, HEAD, LIST and DELETE.
    let odd = [
        "odd/ünïcödé-日本語-😀",
        "odd/a key with spaces",
        "odd/a+b+c",
        "odd/100% and %41%2F",
        "odd/deep/a/b/c/d/e/f/g/h/i/j/k.txt",
        "odd/symbols !'()*,;=@$&~[]{}^`|",
        "odd/question?and#hash",
        "odd/trailing/",
    ];
    for k in odd {
        put(&s3, bk, k, k.as_bytes().to_vec()).await;
        assert_eq!(get(&s3, bk, k).await, k.as_bytes(), "{k}");
        assert!(exists(&s3, bk, k).await, "{k}");
    }
    let listed = s3.list_objects_v2().bucket(bk).prefix("odd/").send().await.unwrap();
    let mut want: Vec<&str> = odd.to_vec();
    want.sort();
    assert_eq!(listed.contents().iter().map(|x| x.key().unwrap()).collect::<Vec<_>>(), want);
    for k in odd {
        s3.delete_object().bucket(bk).key(k).send().await.unwrap();
        assert!(!exists(&s3, bk, k).await, "{k}");
    }
    assert_eq!(c.stop().code(), Some(0));
}

// ------------------------------------------------------------------ 3. integrity

#[tokio::test]
async fn integrity() {
    let c = Coffer::dev();
    let s3 = c.s3();
    let bk = "integrity";
    s3.create_bucket().bucket(bk).send().await.unwrap();
    let data = pattern(0, 200_000);

    // Content-MD5: right, wrong (BadDigest), malformed (InvalidDigest). A failed put shows nothing.
    let put_md5 = |key: &'static str, md5: String| s3.put_object().bucket(bk).key(key).content_md5(md5).body(ByteStream::from(data.clone())).send();
    let p = put_md5("md5-ok", B64.encode(md5(&data))).await.unwrap();
    assert_eq!(p.e_tag(), Some(quoted_md5(&data).as_str()));
    assert_eq!(fail(put_md5("md5-bad", B64.encode(md5(b"other"))).await), is(400, "BadDigest"));
    // A malformed digest is refused before the body is read: small bodies (a large one may be
    // cut short by the connection's close while the client is still writing).
    for bad in ["not a digest".to_string(), B64.encode([1u8; 15])] {
        let r = s3.put_object().bucket(bk).key("md5-bad").content_md5(&bad).body(ByteStream::from_static(b"small")).send().await;
        assert_eq!(fail(r), is(400, "InvalidDigest"), "{bad}");
    }
    assert!(!exists(&s3, bk, "md5-bad").await);
    // ... and a failed overwrite leaves the old object intact.
    assert_eq!(fail(put_md5("md5-ok", B64.encode(md5(b"other"))).await), is(400, "BadDigest"));
    assert_eq!(get(&s3, bk, "md5-ok").await, data);

    // Flexible checksums. A file body is a streaming body: the SDK sends it aws-chunked with the
    // checksum in a trailer (x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER). GetObject
    // with ChecksumMode=ENABLED returns the same value and the SDK validates the body against it.
    let tmp = temp_dir("s3-integrity");
    let file = tmp.join("body.bin");
    std::fs::write(&file, &data).unwrap();
    let local = |alg: &ChecksumAlgorithm| match alg {
        ChecksumAlgorithm::Sha256 => Some(B64.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &data))),
        ChecksumAlgorithm::Sha1 => Some(B64.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &data))),
        ChecksumAlgorithm::Crc32 => Some(B64.encode(crc32(&data).to_be_bytes())),
        _ => None,
    };
    for alg in [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32C, ChecksumAlgorithm::Sha1, ChecksumAlgorithm::Sha256, ChecksumAlgorithm::Crc64Nvme] {
        let key = format!("sum-{}", alg.as_str());
        let p = s3
            .put_object()
            .bucket(bk)
            .key(&key)
            .checksum_algorithm(alg.clone())
            .body(ByteStream::from_path(&file).await.unwrap())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{alg:?}: {e:?}"));
        let put_value = [p.checksum_crc32(), p.checksum_crc32_c(), p.checksum_sha1(), p.checksum_sha256(), p.checksum_crc64_nvme()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        assert_eq!(put_value.len(), 1, "{alg:?}: {p:?}");
        let put_value = put_value[0].to_string();
        if let Some(want) = local(&alg) {
            assert_eq!(put_value, want, "{alg:?}");
        }
        let g = s3.get_object().bucket(bk).key(&key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        let get_value = match alg {
            ChecksumAlgorithm::Crc32 => g.checksum_crc32(),
            ChecksumAlgorithm::Crc32C => g.checksum_crc32_c(),
            ChecksumAlgorithm::Sha1 => g.checksum_sha1(),
            ChecksumAlgorithm::Sha256 => g.checksum_sha256(),
            _ => g.checksum_crc64_nvme(),
        };
        assert_eq!(get_value, Some(put_value.as_str()), "{alg:?}");
        assert_eq!(g.checksum_type(), Some(&ChecksumType::FullObject), "{alg:?}");
        assert_eq!(read(g).await, data, "{alg:?}");
        // An in-memory body sends the checksum as a header instead: same value.
        let p2 = s3.put_object().bucket(bk).key(format!("{key}-header")).checksum_algorithm(alg.clone()).body(ByteStream::from(data.clone())).send().await.unwrap();
        let v2 = [p2.checksum_crc32(), p2.checksum_crc32_c(), p2.checksum_sha1(), p2.checksum_sha256(), p2.checksum_crc64_nvme()].into_iter().flatten().next();
        assert_eq!(v2, Some(put_value.as_str()), "{alg:?}");
    }
    // A wrong checksum value is BadDigest, and nothing becomes visible.
    let bad = s3.put_object().bucket(bk).key("bad-sum").checksum_crc32("AAAAAA==").body(ByteStream::from(data.clone())).send().await;
    assert_eq!(fail(bad), is(400, "BadDigest"));
    let bad = s3.put_object().bucket(bk).key("bad-sum").checksum_sha256(B64.encode([0u8; 32])).body(ByteStream::from(data.clone())).send().await;
    assert_eq!(fail(bad), is(400, "BadDigest"));
    assert!(!exists(&s3, bk, "bad-sum").await);
    // The same through an aws-chunked trailer (built by hand: the SDK computes it right).
    let payload = &data[..20_000];
    let mut body = format!("{:x}\r\n", payload.len()).into_bytes();
    body.extend_from_slice(payload);
    body.extend_from_slice(b"\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n");
    let headers = vec![
        ("content-encoding".to_string(), "aws-chunked".to_string()),
        ("x-amz-decoded-content-length".to_string(), payload.len().to_string()),
        ("x-amz-trailer".to_string(), "x-amz-checksum-crc32".to_string()),
    ];
    let creds = c.creds();
    let (h, _) = sign_s3(&c.addr, "PUT", "/integrity/bad-trailer", "", &headers, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", &creds.access_key, &creds.secret_key, SystemTime::now(), None);
    let r = raw(&c.addr, "PUT", "/integrity/bad-trailer", &h, &body);
    assert_eq!((r.status, r.s3_code()), (400, "BadDigest".to_string()), "{}", String::from_utf8_lossy(&r.body));
    assert!(!exists(&s3, bk, "bad-trailer").await);
    // ... and with the right trailer value it is stored.
    let good = body.len() - b"AAAAAA==\r\n\r\n".len();
    let mut body2 = body[..good].to_vec();
    body2.extend_from_slice(format!("{}\r\n\r\n", B64.encode(crc32(payload).to_be_bytes())).as_bytes());
    let r = raw(&c.addr, "PUT", "/integrity/bad-trailer", &h, &body2);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(get(&s3, bk, "bad-trailer").await, payload);
    let _ = std::fs::remove_dir_all(&tmp);
    assert_eq!(c.stop().code(), Some(0));
}

/// CRC-32 (ISO-HDLC), bitwise: the reference for the values S3 reports.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

// ------------------------------------------------------------------ 4. multipart

#[tokio::test]
async fn multipart() {
    let c = Coffer::dev();
    let s3 = c.s3();
    let plain = no_default_checksums(&c, &c.creds());
    let bk = "multipart";
    s3.create_bucket().bucket(bk).send().await.unwrap();
    let data = pattern(0, 10 * MIB + 100_000);
    let ranges = [0..5 * MIB, 5 * MIB..10 * MIB, 10 * MIB..data.len()];

    let upload = |key: &'static str| s3.create_multipart_upload().bucket(bk).key(key);
    let part = |key: &str, id: &str, n: i32, bytes: &[u8]| {
        plain
            .upload_part().bucket(bk).key(key).upload_id(id).part_number(n).body(ByteStream::from(bytes.to_vec())).send()
    };
    let completed = |parts: &[(i32, &str)]| {
        CompletedMultipartUpload::builder()
            .set_parts(Some(parts.iter().map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(*e).build()).collect()))
            .build()
    };

    let id = upload("big").content_type("application/x-test").metadata("m", "1").send().await.unwrap().upload_id.unwrap();
    let mut etags = Vec::new();
    for (i, r) in ranges.iter().enumerate() {
        let p = part("big", &id, i as i32 + 1, &data[r.clone()]).await.unwrap();
        etags.push(p.e_tag().unwrap().to_string());
    }
    assert_eq!(etags[0], quoted_md5(&data[ranges[0].clone()]));
    let lp = s3.list_parts().bucket(bk).key("big").upload_id(&id).send().await.unwrap();
    assert_eq!(lp.parts().iter().map(|p| (p.part_number(), p.size(), p.e_tag().map(str::to_string))).collect::<Vec<_>>(), [
        (Some(1), Some(5 * MIB as i64), Some(etags[0].clone())),
        (Some(2), Some(5 * MIB as i64), Some(etags[1].clone())),
        (Some(3), Some(100_000), Some(etags[2].clone())),
    ]);
    let page = s3.list_parts().bucket(bk).key("big").upload_id(&id).max_parts(2).send().await.unwrap();
    assert_eq!((page.parts().len(), page.is_truncated(), page.next_part_number_marker()), (2, Some(true), Some("2")));
    let page = s3.list_parts().bucket(bk).key("big").upload_id(&id).part_number_marker("2").send().await.unwrap();
    assert_eq!((page.parts().iter().map(|p| p.part_number()).collect::<Vec<_>>(), page.is_truncated()), (vec![Some(3)], Some(false)));
    assert_eq!(fail(s3.list_parts().bucket(bk).key("other-key").upload_id(&id).send().await), is(404, "NoSuchUpload"));
    let lu = s3.list_multipart_uploads().bucket(bk).send().await.unwrap();
    assert_eq!(lu.uploads().iter().map(|u| (u.key(), u.upload_id())).collect::<Vec<_>>(), [(Some("big"), Some(id.as_str()))]);
    assert!(!exists(&s3, bk, "big").await, "nothing is visible before completion");

    let complete = |key: &str, id: &str, parts: CompletedMultipartUpload| {
        s3.complete_multipart_upload().bucket(bk).key(key).upload_id(id).multipart_upload(parts).send()
    };
    let e: Vec<&str> = etags.iter().map(String::as_str).collect();
    assert_eq!(fail(complete("big", &id, completed(&[(2, e[1]), (1, e[0])])).await), is(400, "InvalidPartOrder"));
    assert_eq!(fail(complete("big", &id, completed(&[(1, e[0]), (2, "\"0123456789abcdef0123456789abcdef\"")])).await), is(400, "InvalidPart"));
    assert_eq!(fail(complete("big", &id, completed(&[(1, e[0]), (4, e[1])])).await), is(400, "InvalidPart"));
    let done = complete("big", &id, completed(&[(1, e[0]), (2, e[1]), (3, e[2])])).await.unwrap();
    // The ETag is the MD5 of the parts' binary MD5s, then -<number of parts>.
    let mut cat = Vec::new();
    for r in &ranges {
        cat.extend_from_slice(&md5(&data[r.clone()]));
    }
    assert_eq!(done.e_tag(), Some(format!("\"{}-3\"", hex(&md5(&cat))).as_str()));
    let g = s3.get_object().bucket(bk).key("big").send().await.unwrap();
    assert_eq!((g.content_type(), g.e_tag(), g.content_length()), (Some("application/x-test"), done.e_tag(), Some(data.len() as i64)));
    assert_eq!(g.metadata().and_then(|m| m.get("m")).map(String::as_str), Some("1"));
    assert_eq!(read(g).await, data);
    let g = s3.get_object().bucket(bk).key("big").part_number(2).send().await.unwrap();
    assert_eq!(g.parts_count(), Some(3));
    assert_eq!(g.content_range(), Some(format!("bytes {}-{}/{}", 5 * MIB, 10 * MIB - 1, data.len()).as_str()));
    assert_eq!(read(g).await, &data[ranges[1].clone()]);
    // A range across all three parts, starting and ending inside chunks.
    let (a, b) = (5 * MIB - 100_001, 10 * MIB + 70_000);
    let g = s3.get_object().bucket(bk).key("big").range(format!("bytes={a}-{b}")).send().await.unwrap();
    assert_eq!(read(g).await, &data[a..=b]);
    assert_eq!(fail(s3.get_object().bucket(bk).key("big").part_number(4).send().await), is(400, "InvalidPart"));
    assert!(s3.list_multipart_uploads().bucket(bk).send().await.unwrap().uploads().is_empty());
    assert_eq!(fail(s3.list_parts().bucket(bk).key("big").upload_id(&id).send().await), is(404, "NoSuchUpload"));

    // EntityTooSmall; AbortMultipartUpload.
    let id = upload("small").send().await.unwrap().upload_id.unwrap();
    let e1 = part("small", &id, 1, b"tiny part one").await.unwrap().e_tag.unwrap();
    let e2 = part("small", &id, 2, b"tiny part two").await.unwrap().e_tag.unwrap();
    assert_eq!(fail(complete("small", &id, completed(&[(1, &e1), (2, &e2)])).await), is(400, "EntityTooSmall"));
    s3.abort_multipart_upload().bucket(bk).key("small").upload_id(&id).send().await.unwrap();
    assert_eq!(fail(s3.list_parts().bucket(bk).key("small").upload_id(&id).send().await), is(404, "NoSuchUpload"));
    assert_eq!(fail(s3.abort_multipart_upload().bucket(bk).key("small").upload_id(&id).send().await), is(404, "NoSuchUpload"));
    assert_eq!(fail(part("small", &id, 3, b"late").await), is(404, "NoSuchUpload"));
    assert_eq!(fail(complete("small", &id, completed(&[(1, &e1)])).await), is(404, "NoSuchUpload"));
    assert!(!exists(&s3, bk, "small").await);

    // A part uploaded again replaces the earlier one; a single small part is a valid upload;
    // CompleteMultipartUpload honours If-None-Match: *.
    let id = upload("redo").send().await.unwrap().upload_id.unwrap();
    let old = part("redo", &id, 1, b"first version").await.unwrap().e_tag.unwrap();
    let new = part("redo", &id, 1, b"second version").await.unwrap().e_tag.unwrap();
    assert_eq!(fail(complete("redo", &id, completed(&[(1, &old)])).await), is(400, "InvalidPart"));
    let done = complete("redo", &id, completed(&[(1, &new)])).await.unwrap();
    assert!(done.e_tag().unwrap().ends_with("-1\""));
    assert_eq!(get(&s3, bk, "redo").await, b"second version");
    let id = upload("redo").send().await.unwrap().upload_id.unwrap();
    let e = part("redo", &id, 1, b"third version").await.unwrap().e_tag.unwrap();
    let r = s3.complete_multipart_upload().bucket(bk).key("redo").upload_id(&id).if_none_match("*").multipart_upload(completed(&[(1, &e)])).send().await;
    assert_eq!(fail(r), is(412, "PreconditionFailed"));
    assert_eq!(get(&s3, bk, "redo").await, b"second version");

    // UploadPartCopy with ranges of an existing object.
    let id = upload("copied").send().await.unwrap().upload_id.unwrap();
    let mut etags = Vec::new();
    for (n, range) in [(1, format!("bytes=0-{}", 5 * MIB - 1)), (2, format!("bytes={}-{}", 5 * MIB, 6 * MIB - 1))] {
        let r = s3.upload_part_copy().bucket(bk).key("copied").upload_id(&id).part_number(n).copy_source(format!("{bk}/big")).copy_source_range(range).send().await.unwrap();
        etags.push(r.copy_part_result().unwrap().e_tag().unwrap().to_string());
    }
    assert_eq!(etags[1], quoted_md5(&data[5 * MIB..6 * MIB]));
    // (A range past the end of the source: see upload_part_copy_range_beyond_the_source.)
    let done = complete("copied", &id, completed(&[(1, etags[0].as_str()), (2, etags[1].as_str())])).await.unwrap();
    assert!(done.e_tag().unwrap().ends_with("-2\""));
    assert_eq!(get(&s3, bk, "copied").await, &data[..6 * MIB]);

    // Checksums. Reference values come from single PUTs of the same bytes.
    let two = [0..5 * MIB, 5 * MIB..6 * MIB];
    let whole = &data[..6 * MIB];
    let single = |alg: ChecksumAlgorithm| s3.put_object().bucket(bk).key("single").checksum_algorithm(alg).body(ByteStream::from(whole.to_vec())).send();
    // CRC32, COMPOSITE (the default type for CRC32): the checksum of the part checksums, -N.
    let id = upload("crc32-composite").checksum_algorithm(ChecksumAlgorithm::Crc32).send().await.unwrap().upload_id.unwrap();
    let mut parts = Vec::new();
    for (i, r) in two.iter().enumerate() {
        let p = s3
            .upload_part()
            .bucket(bk)
            .key("crc32-composite")
            .upload_id(&id)
            .part_number(i as i32 + 1)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(data[r.clone()].to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(p.checksum_crc32(), Some(B64.encode(crc32(&data[r.clone()]).to_be_bytes()).as_str()));
        parts.push(CompletedPart::builder().part_number(i as i32 + 1).e_tag(p.e_tag().unwrap()).checksum_crc32(p.checksum_crc32().unwrap()).build());
    }
    let done = s3
        .complete_multipart_upload()
        .bucket(bk)
        .key("crc32-composite")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    let mut raw_parts = Vec::new();
    for r in &two {
        raw_parts.extend_from_slice(&crc32(&data[r.clone()]).to_be_bytes());
    }
    let composite = format!("{}-2", B64.encode(crc32(&raw_parts).to_be_bytes()));
    assert_eq!((done.checksum_crc32(), done.checksum_type()), (Some(composite.as_str()), Some(&ChecksumType::Composite)));
    let g = s3.get_object().bucket(bk).key("crc32-composite").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!((g.checksum_crc32(), g.checksum_type()), (Some(composite.as_str()), Some(&ChecksumType::Composite)));
    assert_eq!(read(g).await, whole);
    // A part read returns (and the SDK validates) that part's checksum.
    let g = s3.get_object().bucket(bk).key("crc32-composite").part_number(2).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(g.checksum_crc32(), Some(B64.encode(crc32(&data[two[1].clone()]).to_be_bytes()).as_str()));
    assert_eq!(read(g).await, &data[two[1].clone()]);

    // FULL_OBJECT: the parts' CRCs combined equal the CRC of the whole object.
    for alg in [ChecksumAlgorithm::Crc64Nvme, ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32C] {
        let key = format!("full-{}", alg.as_str());
        let id = s3
            .create_multipart_upload()
            .bucket(bk)
            .key(&key)
            .checksum_algorithm(alg.clone())
            .checksum_type(ChecksumType::FullObject)
            .send()
            .await
            .unwrap()
            .upload_id
            .unwrap();
        let mut parts = Vec::new();
        for (i, r) in two.iter().enumerate() {
            let p = s3
                .upload_part()
                .bucket(bk)
                .key(&key)
                .upload_id(&id)
                .part_number(i as i32 + 1)
                .checksum_algorithm(alg.clone())
                .body(ByteStream::from(data[r.clone()].to_vec()))
                .send()
                .await
                .unwrap();
            parts.push(CompletedPart::builder().part_number(i as i32 + 1).e_tag(p.e_tag().unwrap()).build());
        }
        let done = s3
            .complete_multipart_upload()
            .bucket(bk)
            .key(&key)
            .upload_id(&id)
            .checksum_type(ChecksumType::FullObject)
            .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{alg:?}: {e:?}"));
        let reference = single(alg.clone()).await.unwrap();
        let (got, want) = match alg {
            ChecksumAlgorithm::Crc64Nvme => (done.checksum_crc64_nvme(), reference.checksum_crc64_nvme()),
            ChecksumAlgorithm::Crc32 => (done.checksum_crc32(), reference.checksum_crc32()),
            _ => (done.checksum_crc32_c(), reference.checksum_crc32_c()),
        };
        assert!(want.is_some());
        assert_eq!((got, done.checksum_type()), (want, Some(&ChecksumType::FullObject)), "{alg:?}");
        // The SDK validates the whole body against the full-object checksum.
        let g = s3.get_object().bucket(bk).key(&key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        assert_eq!(read(g).await, whole, "{alg:?}");
    }
    assert_eq!(c.stop().code(), Some(0));
}

/// An upload created without a checksum algorithm whose parts the SDK checksums with CRC32 (its
/// default for UploadPart): the object's checksum must still be right (AWS gives it a correct
/// full-object CRC64NVME, or none).
#[tokio::test]
async fn multipart_default_checksum_with_crc32_parts() {
    let c = Coffer::dev();
    let s3 = c.s3();
    let bk = "mp-default";
    s3.create_bucket().bucket(bk).send().await.unwrap();
    let data = pattern(0, 5 * MIB + 1000);
    let id = s3.create_multipart_upload().bucket(bk).key("obj").send().await.unwrap().upload_id.unwrap();
    let mut parts = Vec::new();
    for (n, r) in [(1, 0..5 * MIB), (2, 5 * MIB..data.len())] {
        // The SDK adds x-amz-checksum-crc32 to every UploadPart by default.
        let p = s3.upload_part().bucket(bk).key("obj").upload_id(&id).part_number(n).body(ByteStream::from(data[r].to_vec())).send().await.unwrap();
        parts.push(CompletedPart::builder().part_number(n).e_tag(p.e_tag().unwrap()).build());
    }
    s3.complete_multipart_upload()
        .bucket(bk)
        .key("obj")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    let reference = s3.put_object().bucket(bk).key("ref").checksum_algorithm(ChecksumAlgorithm::Crc64Nvme).body(ByteStream::from(data.clone())).send().await.unwrap();
    let g = s3.get_object().bucket(bk).key("obj").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(g.checksum_crc64_nvme(), reference.checksum_crc64_nvme());
    assert_eq!(read(g).await, data);
    assert_eq!(c.stop().code(), Some(0));
}

/// UploadPartCopy with a range that ends past the end of the source: AWS refuses it ("400
/// InvalidArgument: Range specified is not valid for source object of size: N", as observed
/// against S3 in versity/versitygw#610); Ceph's s3-tests accept InvalidRange 400/416.
#[tokio::test]
async fn upload_part_copy_range_beyond_the_source() {
    let c = Coffer::dev();
    let s3 = c.s3();
    s3.create_bucket().bucket("upc").send().await.unwrap();
    put(&s3, "upc", "src", vec![7u8; 100]).await;
    let id = s3.create_multipart_upload().bucket("upc").key("dst").send().await.unwrap().upload_id.unwrap();
    let r = s3.upload_part_copy().bucket("upc").key("dst").upload_id(&id).part_number(1).copy_source("upc/src").copy_source_range("bytes=0-199").send().await;
    assert_eq!(fail(r), is(400, "InvalidArgument"));
    assert_eq!(c.stop().code(), Some(0));
}

// ------------------------------------------------------------------ 5. copy

#[tokio::test]
async fn copy_object() {
    let c = Coffer::dev();
    let s3 = c.s3();
    for b in ["copy-src", "copy-dst"] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    let body = b"copy me, please".to_vec();
    let orig = s3
        .put_object()
        .bucket("copy-src")
        .key("orig")
        .content_type("text/plain")
        .metadata("a", "1")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let meta = |o: Option<&HashMap<String, String>>| {
        let mut v: Vec<(String, String)> = o.cloned().unwrap_or_default().into_iter().collect();
        v.sort();
        v
    };
    let pair = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];

    // To another key (metadata copied by default) and to another bucket.
    let r = s3.copy_object().bucket("copy-src").key("dup").copy_source("copy-src/orig").send().await.unwrap();
    assert_eq!(r.copy_object_result().unwrap().e_tag(), orig.e_tag());
    let h = s3.head_object().bucket("copy-src").key("dup").send().await.unwrap();
    assert_eq!((h.content_type(), meta(h.metadata())), (Some("text/plain"), pair("a", "1")));
    // COPY ignores metadata given with the request; REPLACE takes it (and only it).
    s3.copy_object().bucket("copy-dst").key("kept").copy_source("copy-src/orig").metadata("b", "2").send().await.unwrap();
    let h = s3.head_object().bucket("copy-dst").key("kept").send().await.unwrap();
    assert_eq!(meta(h.metadata()), pair("a", "1"));
    s3.copy_object()
        .bucket("copy-dst")
        .key("replaced")
        .copy_source("copy-src/orig")
        .metadata_directive(MetadataDirective::Replace)
        .metadata("b", "2")
        .content_type("application/json")
        .send()
        .await
        .unwrap();
    let h = s3.head_object().bucket("copy-dst").key("replaced").send().await.unwrap();
    assert_eq!((h.content_type(), meta(h.metadata())), (Some("application/json"), pair("b", "2")));
    for (b, k) in [("copy-src", "dup"), ("copy-dst", "kept"), ("copy-dst", "replaced")] {
        assert_eq!(get(&s3, b, k).await, body);
    }

    // Onto itself: refused without a change; allowed when metadata or encryption changes.
    let self_copy = || s3.copy_object().bucket("copy-src").key("orig").copy_source("copy-src/orig");
    assert_eq!(fail(self_copy().send().await), is(400, "InvalidRequest"));
    assert_eq!(fail(self_copy().server_side_encryption(ServerSideEncryption::Aes256).send().await), is(400, "InvalidRequest"));
    self_copy().metadata_directive(MetadataDirective::Replace).metadata("a", "2").content_type("text/plain").send().await.unwrap();
    let h = s3.head_object().bucket("copy-src").key("orig").send().await.unwrap();
    assert_eq!((meta(h.metadata()), h.server_side_encryption()), (pair("a", "2"), Some(&ServerSideEncryption::Aes256)));
    let r = self_copy().server_side_encryption(ServerSideEncryption::AwsKms).send().await.unwrap();
    let aws_s3 = c.kms().describe_key().key_id("alias/aws/s3").send().await.unwrap().key_metadata.unwrap();
    assert_eq!((r.server_side_encryption(), r.ssekms_key_id()), (Some(&ServerSideEncryption::AwsKms), aws_s3.arn()));
    let h = s3.head_object().bucket("copy-src").key("orig").send().await.unwrap();
    assert_eq!((h.server_side_encryption(), h.ssekms_key_id()), (Some(&ServerSideEncryption::AwsKms), aws_s3.arn()));
    assert_eq!(meta(h.metadata()), pair("a", "2"));
    assert_ne!(h.e_tag(), orig.e_tag(), "an SSE-KMS ETag is not the MD5 of the data");
    let same_key = self_copy().server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(aws_s3.arn().unwrap()).send().await;
    assert_eq!(fail(same_key), is(400, "InvalidRequest"));
    assert_eq!(get(&s3, "copy-src", "orig").await, body);
    self_copy().server_side_encryption(ServerSideEncryption::Aes256).send().await.unwrap();
    let h = s3.head_object().bucket("copy-src").key("orig").send().await.unwrap();
    assert_eq!((h.server_side_encryption(), h.e_tag()), (Some(&ServerSideEncryption::Aes256), orig.e_tag()));

    // Source errors.
    assert_eq!(fail(s3.copy_object().bucket("copy-dst").key("x").copy_source("copy-src/missing").send().await), is(404, "NoSuchKey"));
    assert_eq!(fail(s3.copy_object().bucket("copy-dst").key("x").copy_source("no-such-bucket-x/orig").send().await), is(404, "NoSuchBucket"));
    assert_eq!(
        fail(s3.copy_object().bucket("copy-dst").key("x").copy_source("copy-src/orig").copy_source_if_match("\"nope\"").send().await),
        is(412, "PreconditionFailed")
    );
    s3.copy_object().bucket("copy-dst").key("x").copy_source("copy-src/orig").copy_source_if_match(orig.e_tag().unwrap()).send().await.unwrap();
    // A key that needs encoding, URL-encoded in x-amz-copy-source.
    put(&s3, "copy-src", "dir/sp ace+plus", "odd").await;
    s3.copy_object().bucket("copy-dst").key("odd").copy_source("copy-src/dir/sp%20ace%2Bplus").send().await.unwrap();
    assert_eq!(get(&s3, "copy-dst", "odd").await, b"odd");
    assert_eq!(c.stop().code(), Some(0));
}

// ------------------------------------------------------------------ 6. encryption

#[tokio::test]
async fn encryption_sse_s3_and_kms() {
    let c = Coffer::dev();
    let (s3, kms) = (c.s3(), c.kms());
    let bk = "enc";
    s3.create_bucket().bucket(bk).send().await.unwrap();
    let body = b"secret body".to_vec();

    // Default: SSE-S3 (AES256) on Put, Head and Get; the ETag is the MD5.
    let p = put(&s3, bk, "plain", body.clone()).await;
    assert_eq!((p.server_side_encryption(), p.e_tag()), (Some(&ServerSideEncryption::Aes256), Some(quoted_md5(&body).as_str())));
    let h = s3.head_object().bucket(bk).key("plain").send().await.unwrap();
    assert_eq!(h.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let g = s3.get_object().bucket(bk).key("plain").send().await.unwrap();
    assert_eq!(g.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    let e = s3.get_bucket_encryption().bucket(bk).send().await.unwrap();
    let rule = &e.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(rule.apply_server_side_encryption_by_default().unwrap().sse_algorithm(), &ServerSideEncryption::Aes256);
    assert_eq!(rule.bucket_key_enabled(), Some(false));

    // SSE-KMS with an explicit key.
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap();
    let (key_id, key_arn) = (key.key_id.clone(), key.arn.clone().unwrap());
    let p = s3.put_object().bucket(bk).key("kms").server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(&key_id).body(ByteStream::from(body.clone())).send().await.unwrap();
    assert_eq!((p.server_side_encryption(), p.ssekms_key_id()), (Some(&ServerSideEncryption::AwsKms), Some(key_arn.as_str())));
    assert_ne!(p.e_tag(), Some(quoted_md5(&body).as_str()), "an SSE-KMS ETag is not the MD5 of the data");
    let h = s3.head_object().bucket(bk).key("kms").send().await.unwrap();
    assert_eq!((h.server_side_encryption(), h.ssekms_key_id(), h.e_tag()), (Some(&ServerSideEncryption::AwsKms), Some(key_arn.as_str()), p.e_tag()));
    assert_eq!(get(&s3, bk, "kms").await, body);
    // By alias and by ARN.
    kms.create_alias().alias_name("alias/s3-test").target_key_id(&key_id).send().await.unwrap();
    for id in ["alias/s3-test", key_arn.as_str()] {
        let p = s3.put_object().bucket(bk).key("kms-2").server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(id).body(ByteStream::from(body.clone())).send().await.unwrap();
        assert_eq!(p.ssekms_key_id(), Some(key_arn.as_str()), "{id}");
    }
    let missing = s3.put_object().bucket(bk).key("x").server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id("alias/does-not-exist").body(ByteStream::from_static(b"x")).send().await;
    assert_eq!(fail(missing), is(400, "KMS.NotFoundException"));
    // A KMS key id without aws:kms is refused.
    let bad = s3.put_object().bucket(bk).key("x").ssekms_key_id(&key_id).body(ByteStream::from_static(b"x")).send().await;
    assert_eq!(fail(bad), is(400, "InvalidArgument"));

    // SSE-KMS multipart: the upload's key protects every part.
    let id = s3
        .create_multipart_upload()
        .bucket(bk)
        .key("kms-mp")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key_id)
        .send()
        .await
        .unwrap();
    assert_eq!((id.server_side_encryption(), id.ssekms_key_id()), (Some(&ServerSideEncryption::AwsKms), Some(key_arn.as_str())));
    let id = id.upload_id.unwrap();
    let mp_data = pattern(11, 5 * MIB + 77);
    let plain = no_default_checksums(&c, &c.creds());
    let mut parts = Vec::new();
    for (n, r) in [(1, 0..5 * MIB), (2, 5 * MIB..mp_data.len())] {
        let p = plain.upload_part().bucket(bk).key("kms-mp").upload_id(&id).part_number(n).body(ByteStream::from(mp_data[r].to_vec())).send().await.unwrap();
        assert_eq!(p.server_side_encryption(), Some(&ServerSideEncryption::AwsKms));
        parts.push(CompletedPart::builder().part_number(n).e_tag(p.e_tag().unwrap()).build());
    }
    let done = s3
        .complete_multipart_upload()
        .bucket(bk)
        .key("kms-mp")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .unwrap();
    assert_eq!((done.server_side_encryption(), done.ssekms_key_id()), (Some(&ServerSideEncryption::AwsKms), Some(key_arn.as_str())));
    assert_eq!(get(&s3, bk, "kms-mp").await, mp_data);

    // SSE-KMS without a key: the AWS managed key alias/aws/s3, created on first use.
    // (DescribeKey of alias/aws/s3 would create it, as in AWS: count keys instead.)
    let keys_before = kms.list_keys().send().await.unwrap().keys().len();
    let p = s3.put_object().bucket(bk).key("kms-default").server_side_encryption(ServerSideEncryption::AwsKms).body(ByteStream::from(body.clone())).send().await.unwrap();
    assert_eq!(kms.list_keys().send().await.unwrap().keys().len(), keys_before + 1);
    let managed = kms.describe_key().key_id("alias/aws/s3").send().await.unwrap().key_metadata.unwrap();
    assert_eq!(managed.key_manager(), Some(&aws_sdk_kms::types::KeyManagerType::Aws));
    assert_eq!(p.ssekms_key_id(), managed.arn());
    assert_eq!(get(&s3, bk, "kms-default").await, body);

    // An encryption context: returned by PutObject with aws:s3:arn added; GET needs none.
    let ctx = B64.encode(br#"{"project":"coffer","team":"storage"}"#);
    let p = s3
        .put_object()
        .bucket(bk)
        .key("kms-ctx")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key_id)
        .ssekms_encryption_context(&ctx)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let returned: HashMap<String, String> = serde_json::from_slice(&B64.decode(p.ssekms_encryption_context().unwrap()).unwrap()).unwrap();
    let want: HashMap<String, String> =
        [("project", "coffer"), ("team", "storage"), ("aws:s3:arn", "arn:aws:s3:::enc/kms-ctx")].into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    assert_eq!(returned, want);
    assert_eq!(get(&s3, bk, "kms-ctx").await, body);
    for bad_ctx in ["not base64!".to_string(), B64.encode("not json"), B64.encode(r#"{"aws:s3:arn":"arn:aws:s3:::enc/other"}"#)] {
        let r = s3.put_object().bucket(bk).key("x").server_side_encryption(ServerSideEncryption::AwsKms).ssekms_encryption_context(&bad_ctx).body(ByteStream::from_static(b"x")).send().await;
        assert_eq!(fail(r), is(400, "InvalidArgument"), "{bad_ctx}");
    }

    // Bucket default encryption: aws:kms with a key and Bucket Keys.
    s3.put_bucket_encryption().bucket(bk).server_side_encryption_configuration(sse_config(ServerSideEncryption::AwsKms, Some(&key_id), true)).send().await.unwrap();
    let e = s3.get_bucket_encryption().bucket(bk).send().await.unwrap();
    let rule = &e.server_side_encryption_configuration().unwrap().rules()[0];
    let d = rule.apply_server_side_encryption_by_default().unwrap();
    assert_eq!((d.sse_algorithm(), d.kms_master_key_id(), rule.bucket_key_enabled()), (&ServerSideEncryption::AwsKms, Some(key_id.as_str()), Some(true)));
    let p = put(&s3, bk, "after-default", body.clone()).await;
    assert_eq!(
        (p.server_side_encryption(), p.ssekms_key_id(), p.bucket_key_enabled()),
        (Some(&ServerSideEncryption::AwsKms), Some(key_arn.as_str()), Some(true))
    );
    let h = s3.head_object().bucket(bk).key("after-default").send().await.unwrap();
    assert_eq!((h.server_side_encryption(), h.ssekms_key_id(), h.bucket_key_enabled()), (Some(&ServerSideEncryption::AwsKms), Some(key_arn.as_str()), Some(true)));
    // Not retroactive.
    let h = s3.head_object().bucket(bk).key("plain").send().await.unwrap();
    assert_eq!((h.server_side_encryption(), h.ssekms_key_id()), (Some(&ServerSideEncryption::Aes256), None));
    // A request's own choice still wins over the default.
    let p = s3.put_object().bucket(bk).key("explicit-s3").server_side_encryption(ServerSideEncryption::Aes256).body(ByteStream::from(body.clone())).send().await.unwrap();
    assert_eq!(p.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    // KMSMasterKeyID with AES256 is refused.
    let bad = s3.put_bucket_encryption().bucket(bk).server_side_encryption_configuration(sse_config(ServerSideEncryption::Aes256, Some(&key_id), false)).send().await;
    assert_eq!(fail(bad), is(400, "InvalidArgument"));

    // A disabled key makes its objects unreadable (with and without Bucket Keys) and refuses
    // new ones; enabling it again restores them. SSE-S3 objects are unaffected.
    kms.disable_key().key_id(&key_id).send().await.unwrap();
    for k in ["kms", "after-default", "kms-ctx", "kms-mp"] {
        assert_eq!(fail(s3.get_object().bucket(bk).key(k).send().await), is(400, "KMS.DisabledException"), "{k}");
    }
    assert_eq!(fail(s3.put_object().bucket(bk).key("new").body(ByteStream::from_static(b"x")).send().await), is(400, "KMS.DisabledException"));
    assert_eq!(get(&s3, bk, "plain").await, body);
    kms.enable_key().key_id(&key_id).send().await.unwrap();
    for k in ["kms", "after-default", "kms-ctx"] {
        assert_eq!(get(&s3, bk, k).await, body, "{k}");
    }

    // DeleteBucketEncryption: back to SSE-S3 for new objects; existing ones unchanged.
    s3.delete_bucket_encryption().bucket(bk).send().await.unwrap();
    let e = s3.get_bucket_encryption().bucket(bk).send().await.unwrap();
    let rule = &e.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(rule.apply_server_side_encryption_by_default().unwrap().sse_algorithm(), &ServerSideEncryption::Aes256);
    assert_eq!(put(&s3, bk, "after-delete", body.clone()).await.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(s3.head_object().bucket(bk).key("after-default").send().await.unwrap().ssekms_key_id(), Some(key_arn.as_str()));
    assert_eq!(c.stop().code(), Some(0));
}

#[tokio::test]
async fn encryption_kms_permissions_and_bucket_keys() {
    let c = Coffer::dev();
    let admin = root(A);
    let (s3, kms) = (c.s3_with(&admin), c.kms_with(&admin));
    // A customer managed key with the default key policy: IAM policies decide who may use it.
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap();
    let key_arn = key.arn.clone().unwrap();
    s3.create_bucket().bucket("perm").send().await.unwrap();
    let body = b"kms protected".to_vec();
    put(&s3, "perm", "sse-s3", body.clone()).await;
    s3.put_object().bucket("perm").key("sse-kms").server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(&key_arn).body(ByteStream::from(body.clone())).send().await.unwrap();

    // s3:* without kms:Decrypt: SSE-S3 readable, SSE-KMS not (HEAD needs no key).
    let reader = c.s3_with(&user(&c, &admin, "reader", Some(&allow(&[(&["s3:*"], &["*"])]))).await);
    assert_eq!(get(&reader, "perm", "sse-s3").await, body);
    assert_eq!(fail(reader.get_object().bucket("perm").key("sse-kms").send().await), is(403, "AccessDenied"));
    reader.head_object().bucket("perm").key("sse-kms").send().await.unwrap();
    // The AWS managed key alias/aws/s3 lets every principal of the account use it through S3:
    // no KMS permission needed.
    s3.put_object().bucket("perm").key("aws-managed").server_side_encryption(ServerSideEncryption::AwsKms).body(ByteStream::from(body.clone())).send().await.unwrap();
    assert_eq!(get(&reader, "perm", "aws-managed").await, body);
    reader.put_object().bucket("perm").key("aws-managed-2").server_side_encryption(ServerSideEncryption::AwsKms).body(ByteStream::from(body.clone())).send().await.unwrap();
    assert_eq!(get(&s3, "perm", "aws-managed-2").await, body);
    // ... but not directly.
    let blob = c.kms_with(&admin).encrypt().key_id("alias/aws/s3").plaintext(aws_sdk_kms::primitives::Blob::new("x")).send().await;
    assert_eq!(coffer_it::any_code(blob), "AccessDeniedException");
    // Copying it decrypts it: refused too; copying the SSE-S3 object works.
    assert_eq!(fail(reader.copy_object().bucket("perm").key("copy").copy_source("perm/sse-kms").send().await), is(403, "AccessDenied"));
    reader.copy_object().bucket("perm").key("copy").copy_source("perm/sse-s3").send().await.unwrap();
    // ... nor write with the key (kms:GenerateDataKey).
    let w = reader.put_object().bucket("perm").key("w").server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(&key_arn).body(ByteStream::from_static(b"x")).send().await;
    assert_eq!(fail(w), is(403, "AccessDenied"));
    assert!(!exists(&s3, "perm", "w").await);

    // Without Bucket Keys every object costs a KMS call.
    let calls = || c.stat("s3_kms_calls");
    let before = calls();
    for i in 0..5 {
        s3.put_object().bucket("perm").key(format!("each-{i}")).server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(&key_arn).body(ByteStream::from(body.clone())).send().await.unwrap();
    }
    assert_eq!(calls() - before, 5);

    // With Bucket Keys, 20 objects cost about one KMS call.
    s3.create_bucket().bucket("bucket-keys").send().await.unwrap();
    s3.put_bucket_encryption().bucket("bucket-keys").server_side_encryption_configuration(sse_config(ServerSideEncryption::AwsKms, Some(&key_arn), true)).send().await.unwrap();
    let full = allow(&[(&["s3:*"], &["*"]), (&["kms:GenerateDataKey", "kms:Decrypt"], &[&key_arn])]);
    let no_decrypt = allow(&[(&["s3:*"], &["*"]), (&["kms:GenerateDataKey"], &[&key_arn])]);
    let writer_creds = user(&c, &admin, "writer", Some(&full)).await;
    let writer = c.s3_with(&writer_creds);
    let before = calls();
    for i in 0..20 {
        let p = put(&writer, "bucket-keys", &format!("obj-{i:02}"), body.clone()).await;
        assert_eq!((p.ssekms_key_id(), p.bucket_key_enabled()), (Some(key_arn.as_str()), Some(true)));
    }
    let spent = calls() - before;
    assert!((1..=2).contains(&spent), "20 writes with a bucket key cost {spent} KMS calls");
    let before = calls();
    for i in 0..20 {
        assert_eq!(get(&writer, "bucket-keys", &format!("obj-{i:02}")).await, body);
    }
    let spent = calls() - before;
    assert!(spent <= 1, "20 reads with a bucket key cost {spent} KMS calls");
    // Revoking kms:Decrypt takes effect at once, although the bucket key is cached.
    set_policy(&c, &admin, "writer", &no_decrypt).await;
    assert_eq!(fail(writer.get_object().bucket("bucket-keys").key("obj-00").send().await), is(403, "AccessDenied"));
    set_policy(&c, &admin, "writer", &full).await;
    assert_eq!(get(&writer, "bucket-keys", "obj-00").await, body);
    // Revoking kms:GenerateDataKey stops writes at once too.
    set_policy(&c, &admin, "writer", &allow(&[(&["s3:*"], &["*"]), (&["kms:Decrypt"], &[&key_arn])])).await;
    assert_eq!(fail(writer.put_object().bucket("bucket-keys").key("late").body(ByteStream::from_static(b"x")).send().await), is(403, "AccessDenied"));
    assert_eq!(get(&writer, "bucket-keys", "obj-01").await, body);
    assert_eq!(c.stop().code(), Some(0));
}

#[tokio::test]
async fn encryption_sse_c() {
    let c = Coffer::dev();
    let s3 = c.s3();
    let bk = "ssec";
    s3.create_bucket().bucket(bk).send().await.unwrap();
    let body = b"customer keyed".to_vec();
    let (_, k1, m1) = customer_key(1);
    let (_, k2, m2) = customer_key(2);

    let p = s3
        .put_object()
        .bucket(bk)
        .key("secret")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k1)
        .sse_customer_key_md5(&m1)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!((p.sse_customer_algorithm(), p.sse_customer_key_md5(), p.server_side_encryption()), (Some("AES256"), Some(m1.as_str()), None));
    assert_ne!(p.e_tag(), Some(quoted_md5(&body).as_str()), "an SSE-C ETag is not the MD5 of the data");
    // Reads need the same key: none → 400 InvalidRequest, another → 403 AccessDenied.
    let get_with = |k: &str, m: &str| s3.get_object().bucket(bk).key("secret").sse_customer_algorithm("AES256").sse_customer_key(k).sse_customer_key_md5(m).send();
    let head_with = |k: &str, m: &str| s3.head_object().bucket(bk).key("secret").sse_customer_algorithm("AES256").sse_customer_key(k).sse_customer_key_md5(m).send();
    assert_eq!(fail(s3.get_object().bucket(bk).key("secret").send().await), is(400, "InvalidRequest"));
    assert_eq!(fail(s3.head_object().bucket(bk).key("secret").send().await).0, 400);
    assert_eq!(fail(get_with(&k2, &m2).await), is(403, "AccessDenied"));
    assert_eq!(fail(head_with(&k2, &m2).await).0, 403);
    let g = get_with(&k1, &m1).await.unwrap();
    assert_eq!((g.sse_customer_algorithm(), g.sse_customer_key_md5()), (Some("AES256"), Some(m1.as_str())));
    assert_eq!(read(g).await, body);
    let h = head_with(&k1, &m1).await.unwrap();
    assert_eq!((h.sse_customer_algorithm(), h.content_length()), (Some("AES256"), Some(body.len() as i64)));
    // Ranges work with the key.
    let g = s3.get_object().bucket(bk).key("secret").range("bytes=3-7").sse_customer_algorithm("AES256").sse_customer_key(&k1).sse_customer_key_md5(&m1).send().await.unwrap();
    assert_eq!(read(g).await, &body[3..8]);

    // Malformed SSE-C requests.
    let put_c = |k: &str, m: &str| s3.put_object().bucket(bk).key("bad").sse_customer_algorithm("AES256").sse_customer_key(k).sse_customer_key_md5(m).body(ByteStream::from_static(b"x"));
    assert_eq!(fail(put_c(&k1, &m2).send().await), is(400, "InvalidArgument"));
    assert_eq!(fail(put_c(&B64.encode([1u8; 16]), &B64.encode(md5(&[1u8; 16]))).send().await), is(400, "InvalidArgument"));
    assert_eq!(fail(put_c(&k1, &m1).server_side_encryption(ServerSideEncryption::Aes256).send().await), is(400, "InvalidArgument"));
    assert_eq!(fail(put_c(&k1, &m1).server_side_encryption(ServerSideEncryption::AwsKms).send().await), is(400, "InvalidArgument"));
    assert!(!exists(&s3, bk, "bad").await);
    // SSE-C headers on an object that is not SSE-C.
    put(&s3, bk, "plain", body.clone()).await;
    let r = s3.get_object().bucket(bk).key("plain").sse_customer_algorithm("AES256").sse_customer_key(&k1).sse_customer_key_md5(&m1).send().await;
    assert_eq!(fail(r), is(400, "InvalidRequest"));

    // Multipart: every UploadPart carries the key.
    let data = pattern(7, 5 * MIB + 3000);
    let id = s3.create_multipart_upload().bucket(bk).key("mp").sse_customer_algorithm("AES256").sse_customer_key(&k1).sse_customer_key_md5(&m1).send().await.unwrap().upload_id.unwrap();
    let plain = no_default_checksums(&c, &c.creds());
    let up = |n: i32, bytes: &[u8]| plain.upload_part().bucket(bk).key("mp").upload_id(&id).part_number(n).body(ByteStream::from(bytes.to_vec()));
    // Small bodies where the request is refused before its body is read: the server then
    // closes the connection with the body unread, and a client still writing may see a
    // reset instead of the answer (S3 does the same; some SDKs send Expect: 100-continue).
    assert_eq!(fail(up(1, b"small").send().await), is(400, "InvalidRequest"));
    assert_eq!(fail(up(1, b"small").sse_customer_algorithm("AES256").sse_customer_key(&k2).sse_customer_key_md5(&m2).send().await), is(403, "AccessDenied"));
    let e1 = up(1, &data[..5 * MIB]).sse_customer_algorithm("AES256").sse_customer_key(&k1).sse_customer_key_md5(&m1).send().await.unwrap().e_tag.unwrap();
    let e2 = up(2, &data[5 * MIB..]).sse_customer_algorithm("AES256").sse_customer_key(&k1).sse_customer_key_md5(&m1).send().await.unwrap().e_tag.unwrap();
    let parts = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).e_tag(e1).build())
        .parts(CompletedPart::builder().part_number(2).e_tag(e2).build())
        .build();
    s3.complete_multipart_upload().bucket(bk).key("mp").upload_id(&id).multipart_upload(parts).send().await.unwrap();
    assert_eq!(fail(s3.get_object().bucket(bk).key("mp").send().await), is(400, "InvalidRequest"));
    let g = s3.get_object().bucket(bk).key("mp").sse_customer_algorithm("AES256").sse_customer_key(&k1).sse_customer_key_md5(&m1).send().await.unwrap();
    assert_eq!(read(g).await, data);

    // CopyObject: SSE-C source (its key in x-amz-copy-source-server-side-encryption-customer-*)
    // to an SSE-S3 destination; to an SSE-C destination under another key (key rotation).
    let copy = || s3.copy_object().bucket(bk).copy_source(format!("{bk}/secret"));
    assert_eq!(fail(copy().key("plain-copy").send().await), is(400, "InvalidRequest"));
    assert_eq!(
        fail(copy().key("plain-copy").copy_source_sse_customer_algorithm("AES256").copy_source_sse_customer_key(&k2).copy_source_sse_customer_key_md5(&m2).send().await),
        is(403, "AccessDenied")
    );
    let r = copy().key("plain-copy").copy_source_sse_customer_algorithm("AES256").copy_source_sse_customer_key(&k1).copy_source_sse_customer_key_md5(&m1).send().await.unwrap();
    assert_eq!(r.server_side_encryption(), Some(&ServerSideEncryption::Aes256));
    assert_eq!(get(&s3, bk, "plain-copy").await, body);
    copy()
        .key("secret")
        .copy_source_sse_customer_algorithm("AES256")
        .copy_source_sse_customer_key(&k1)
        .copy_source_sse_customer_key_md5(&m1)
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&k2)
        .sse_customer_key_md5(&m2)
        .send()
        .await
        .unwrap();
    assert_eq!(fail(get_with(&k1, &m1).await), is(403, "AccessDenied"));
    assert_eq!(read(get_with(&k2, &m2).await.unwrap()).await, body);

    // BlockedEncryptionTypes: SSE-C refused in the bucket.
    s3.create_bucket().bucket("ssec-blocked").send().await.unwrap();
    let config = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256).build().unwrap())
                .blocked_encryption_types(BlockedEncryptionTypes::builder().encryption_type(EncryptionType::SseC).build())
                .build(),
        )
        .build()
        .unwrap();
    s3.put_bucket_encryption().bucket("ssec-blocked").server_side_encryption_configuration(config).send().await.unwrap();
    let e = s3.get_bucket_encryption().bucket("ssec-blocked").send().await.unwrap();
    let blocked = e.server_side_encryption_configuration().unwrap().rules()[0].blocked_encryption_types().unwrap();
    assert_eq!(blocked.encryption_type(), [EncryptionType::SseC]);
    let r = s3.put_object().bucket("ssec-blocked").key("k").sse_customer_algorithm("AES256").sse_customer_key(&k1).sse_customer_key_md5(&m1).body(ByteStream::from_static(b"x")).send().await;
    assert_eq!(fail(r), is(403, "AccessDenied"));
    put(&s3, "ssec-blocked", "k", "x").await;
    assert_eq!(c.stop().code(), Some(0));
}

// ------------------------------------------------------------------ 7. bucket policies

#[tokio::test]
async fn bucket_policies() {
    let c = Coffer::dev();
    let admin = root(A);
    let s3 = c.s3_with(&admin);
    let bk = "pol";
    s3.create_bucket().bucket(bk).send().await.unwrap();
    let body = b"policy controlled".to_vec();
    put(&s3, bk, "shared/doc", body.clone()).await;
    put(&s3, bk, "private/doc", body.clone()).await;

    // Put/Get/Delete.
    assert_eq!(fail(s3.get_bucket_policy().bucket(bk).send().await), is(404, "NoSuchBucketPolicy"));
    let p = r#"{"Version":"2012-10-17","Statement":[{"Sid":"ReadShared","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pol/shared/*"}]}"#;
    s3.put_bucket_policy().bucket(bk).policy(p).send().await.unwrap();
    let got = s3.get_bucket_policy().bucket(bk).send().await.unwrap();
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
    assert_eq!(parse(got.policy().unwrap()), parse(p));
    s3.delete_bucket_policy().bucket(bk).send().await.unwrap();
    assert_eq!(fail(s3.get_bucket_policy().bucket(bk).send().await), is(404, "NoSuchBucketPolicy"));
    for bad in [
        "{not json".to_string(),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other-bucket/*"}]}"#.to_string(),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"arn:aws:s3:::pol/*"}]}"#.to_string(),
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:user/nobody"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pol/*"}]}"#.to_string(),
    ] {
        assert_eq!(fail(s3.put_bucket_policy().bucket(bk).policy(&bad).send().await), is(400, "MalformedPolicy"), "{bad}");
    }

    // Requiring SSE-KMS on PutObject (the usual StringNotEquals + Null pair).
    let kms_only = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"DenyOtherSse","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::pol/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}},
        {"Sid":"DenyNoSse","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::pol/*","Condition":{"Null":{"s3:x-amz-server-side-encryption":"true"}}}]}"#;
    s3.put_bucket_policy().bucket(bk).policy(kms_only).send().await.unwrap();
    assert_eq!(fail(s3.put_object().bucket(bk).key("enc/plain").body(ByteStream::from_static(b"x")).send().await), is(403, "AccessDenied"));
    let r = s3.put_object().bucket(bk).key("enc/aes").server_side_encryption(ServerSideEncryption::Aes256).body(ByteStream::from_static(b"x")).send().await;
    assert_eq!(fail(r), is(403, "AccessDenied"));
    s3.put_object().bucket(bk).key("enc/kms").server_side_encryption(ServerSideEncryption::AwsKms).body(ByteStream::from_static(b"x")).send().await.unwrap();
    assert!(!exists(&s3, bk, "enc/plain").await && !exists(&s3, bk, "enc/aes").await);
    s3.delete_bucket_policy().bucket(bk).send().await.unwrap();

    // aws:SecureTransport: denied over HTTP here, allowed over HTTPS on a --tls instance.
    let tls_only = |b: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::{b}","arn:aws:s3:::{b}/*"],"Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}}]}}"#
        )
    };
    s3.put_bucket_policy().bucket(bk).policy(tls_only(bk)).send().await.unwrap();
    assert_eq!(fail(s3.get_object().bucket(bk).key("shared/doc").send().await), is(403, "AccessDenied"));
    assert_eq!(fail(s3.put_object().bucket(bk).key("x").body(ByteStream::from_static(b"x")).send().await), is(403, "AccessDenied"));
    s3.delete_bucket_policy().bucket(bk).send().await.unwrap();
    let tls = Coffer::start(Options { dev: true, tls: true, ..Default::default() });
    let s3t = tls.s3_with(&admin);
    s3t.create_bucket().bucket("tls-pol").send().await.unwrap();
    s3t.put_bucket_policy().bucket("tls-pol").policy(tls_only("tls-pol")).send().await.unwrap();
    put(&s3t, "tls-pol", "k", "over https").await;
    assert_eq!(get(&s3t, "tls-pol", "k").await, b"over https");
    // SSE-C is accepted over HTTPS (and the dev instance would accept it over HTTP too).
    let (_, k, m) = customer_key(9);
    s3t.put_object().bucket("tls-pol").key("c").sse_customer_algorithm("AES256").sse_customer_key(&k).sse_customer_key_md5(&m).body(ByteStream::from_static(b"c")).send().await.unwrap();
    // Stopped off the runtime thread: the client's HTTP/2 connection must be polled to close.
    drop(s3t);
    assert_eq!(tokio::task::spawn_blocking(move || tls.stop()).await.unwrap().code(), Some(0));

    // Cross-account: the bucket policy grants account B's user bob s3:GetObject under shared/;
    // bob also needs an identity policy of his own account.
    let b_root = root(B);
    let bob_creds = user(&c, &b_root, "bob", None).await;
    let bob = c.s3_with(&bob_creds);
    let cross = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Bob","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:user/bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pol/shared/*"}]}"#;
    s3.put_bucket_policy().bucket(bk).policy(cross).send().await.unwrap();
    assert_eq!(fail(bob.get_object().bucket(bk).key("shared/doc").send().await), is(403, "AccessDenied"));
    set_policy(&c, &b_root, "bob", &allow(&[(&["s3:GetObject", "s3:PutObject"], &["arn:aws:s3:::pol/*"])])).await;
    assert_eq!(get(&bob, bk, "shared/doc").await, body);
    assert_eq!(fail(bob.get_object().bucket(bk).key("private/doc").send().await), is(403, "AccessDenied"));
    assert_eq!(fail(bob.put_object().bucket(bk).key("shared/new").body(ByteStream::from_static(b"x")).send().await), is(403, "AccessDenied"));
    assert_eq!(fail(c.s3_with(&b_root).get_object().bucket(bk).key("shared/doc").send().await), is(403, "AccessDenied"));

    // Same account: an identity policy alone suffices; no policy, no access.
    let alice = c.s3_with(&user(&c, &admin, "alice", Some(&allow(&[(&["s3:GetObject", "s3:PutObject"], &["arn:aws:s3:::pol/*"])]))).await);
    assert_eq!(get(&alice, bk, "private/doc").await, body);
    put(&alice, bk, "alice/new", "by alice").await;
    let nobody = c.s3_with(&user(&c, &admin, "nobody", None).await);
    assert_eq!(fail(nobody.get_object().bucket(bk).key("shared/doc").send().await), is(403, "AccessDenied"));
    // Without s3:ListBucket a missing key is AccessDenied, not NoSuchKey.
    assert_eq!(fail(alice.get_object().bucket(bk).key("missing").send().await), is(403, "AccessDenied"));

    // DeleteObjects reports per key: allowed keys deleted, the others AccessDenied (also in quiet mode).
    let deleter = c.s3_with(&user(&c, &admin, "deleter", Some(&allow(&[(&["s3:DeleteObject"], &["arn:aws:s3:::pol/alice/*"])]))).await);
    put(&s3, bk, "alice/two", "x").await;
    let objects = |keys: &[&str], quiet: bool| {
        Delete::builder().set_objects(Some(keys.iter().map(|k| ObjectIdentifier::builder().key(*k).build().unwrap()).collect())).quiet(quiet).build().unwrap()
    };
    let out = deleter.delete_objects().bucket(bk).delete(objects(&["alice/new", "private/doc"], false)).send().await.unwrap();
    assert_eq!(out.deleted().iter().filter_map(|d| d.key()).collect::<Vec<_>>(), ["alice/new"]);
    assert_eq!(out.errors().iter().map(|e| (e.key(), e.code())).collect::<Vec<_>>(), [(Some("private/doc"), Some("AccessDenied"))]);
    let out = deleter.delete_objects().bucket(bk).delete(objects(&["alice/two", "shared/doc"], true)).send().await.unwrap();
    assert!(out.deleted().is_empty());
    assert_eq!(out.errors().iter().map(|e| (e.key(), e.code())).collect::<Vec<_>>(), [(Some("shared/doc"), Some("AccessDenied"))]);
    assert!(!exists(&s3, bk, "alice/two").await && exists(&s3, bk, "private/doc").await && exists(&s3, bk, "shared/doc").await);

    // An explicit deny wins over both allows.
    let with_deny = r#"{"Version":"2012-10-17","Statement":[
        {"Sid":"Bob","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:user/bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pol/shared/*"},
        {"Sid":"NoAlice","Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111111111111:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pol/shared/*"}]}"#;
    s3.put_bucket_policy().bucket(bk).policy(with_deny).send().await.unwrap();
    assert_eq!(fail(alice.get_object().bucket(bk).key("shared/doc").send().await), is(403, "AccessDenied"));
    assert_eq!(get(&alice, bk, "private/doc").await, body);
    assert_eq!(get(&bob, bk, "shared/doc").await, body);

    // A policy locking everyone out, the owner's root included: the root can still read and
    // delete the policy, and then everything works again.
    let lockout = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::pol","arn:aws:s3:::pol/*"]}]}"#;
    s3.put_bucket_policy().bucket(bk).policy(lockout).send().await.unwrap();
    assert_eq!(fail(s3.get_object().bucket(bk).key("shared/doc").send().await), is(403, "AccessDenied"));
    assert_eq!(fail(alice.get_object().bucket(bk).key("private/doc").send().await), is(403, "AccessDenied"));
    s3.get_bucket_policy().bucket(bk).send().await.unwrap();
    s3.delete_bucket_policy().bucket(bk).send().await.unwrap();
    assert_eq!(get(&s3, bk, "shared/doc").await, body);
    assert_eq!(c.stop().code(), Some(0));
}

// ------------------------------------------------------------------ 8. presigned URLs

/// Path-and-query and headers of a presigned request, to send with `raw`.
fn presigned_parts(p: &PresignedRequest, addr: &str) -> (String, Vec<(String, String)>) {
    let path = p.uri().strip_prefix(&format!("http://{addr}")).unwrap_or_else(|| panic!("{}", p.uri())).to_string();
    (path, p.headers().map(|(k, v)| (k.to_string(), v.to_string())).collect())
}

fn error_of(r: &RawResponse) -> (u16, String) {
    (r.status, r.s3_code())
}

#[tokio::test]
async fn presigned_urls() {
    let c = Coffer::dev();
    let admin = root(A);
    c.s3_with(&admin).create_bucket().bucket("presign").send().await.unwrap();
    // A real IAM user: its signatures are verified (unlike the dev roots').
    let creds = user(&c, &admin, "presigner", Some(&allow(&[(&["s3:*"], &["*"])]))).await;
    let s3 = c.s3_with(&creds);
    let body = b"fetched with a presigned URL".to_vec();
    put(&s3, "presign", "dir/obj", body.clone()).await;
    let five_min = || PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();

    let g = s3.get_object().bucket("presign").key("dir/obj").presigned(five_min()).await.unwrap();
    let (path, headers) = presigned_parts(&g, &c.addr);
    assert!(path.contains("X-Amz-Signature="), "{path}");
    let r = raw(&c.addr, "GET", &path, &headers, b"");
    assert_eq!((r.status, &r.body), (200, &body), "{}", String::from_utf8_lossy(&r.body));

    let p = s3.put_object().bucket("presign").key("dir/uploaded").presigned(five_min()).await.unwrap();
    let (ppath, pheaders) = presigned_parts(&p, &c.addr);
    let r = raw(&c.addr, "PUT", &ppath, &pheaders, b"uploaded with a presigned URL");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(get(&s3, "presign", "dir/uploaded").await, b"uploaded with a presigned URL");

    // Tampering: a signature character, the key, the expiry, the method.
    let sig_at = path.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut tampered = path.clone().into_bytes();
    tampered[sig_at] = if tampered[sig_at] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(error_of(&raw(&c.addr, "GET", &tampered, &headers, b"")), is(403, "SignatureDoesNotMatch"));
    let other_key = path.replacen("/presign/dir/obj?", "/presign/dir/uploaded?", 1);
    assert_ne!(other_key, path);
    assert_eq!(error_of(&raw(&c.addr, "GET", &other_key, &headers, b"")), is(403, "SignatureDoesNotMatch"));
    let longer = path.replacen("X-Amz-Expires=300", "X-Amz-Expires=3000", 1);
    assert_ne!(longer, path);
    assert_eq!(error_of(&raw(&c.addr, "GET", &longer, &headers, b"")), is(403, "SignatureDoesNotMatch"));
    assert_eq!(error_of(&raw(&c.addr, "DELETE", &path, &headers, b"")), is(403, "SignatureDoesNotMatch"));
    assert_eq!(get(&s3, "presign", "dir/obj").await, body);

    // Expired: signed an hour ago for one minute.
    let expired = PresigningConfig::builder().start_time(SystemTime::now() - Duration::from_secs(3600)).expires_in(Duration::from_secs(60)).build().unwrap();
    let g = s3.get_object().bucket("presign").key("dir/obj").presigned(expired).await.unwrap();
    let (path, headers) = presigned_parts(&g, &c.addr);
    let r = raw(&c.addr, "GET", &path, &headers, b"");
    assert_eq!(error_of(&r), is(403, "AccessDenied"));
    assert_eq!(r.xml("Message"), "Request has expired");
    assert_eq!(c.stop().code(), Some(0));
}

// ------------------------------------------------------------------ 9. durability and at-rest

/// Every file under `dir`, recursively.
fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn durable_objects_and_nothing_in_the_clear() {
    let dir = temp_dir("s3-durable");
    let data = dir.join("data");
    let with_ssec = || Options { data_dir: Some(data.clone()), args: vec!["--s3-allow-sse-c-over-http".into()], ..Default::default() };
    // Canaries whose length is a multiple of 3, so their base64 appears intact in the base64 of
    // the repeated body.
    let canary = |mode: &str| format!("COFFER-CANARY-{mode:<6}-9f3a2c7e!").into_bytes();
    let (c3, ck, cc) = (canary("SSE-S3"), canary("KMS"), canary("SSEC"));
    for cn in [&c3, &ck, &cc] {
        assert!(cn.len().is_multiple_of(3));
    }
    let body = |cn: &[u8]| cn.repeat(4096);
    let (key_raw, key_b64, key_md5) = customer_key(42);
    let ssec_get = |s3: &Client, k: &str| {
        s3.get_object().bucket("durable").key(k).sse_customer_algorithm("AES256").sse_customer_key(&key_b64).sse_customer_key_md5(&key_md5).send()
    };

    // First start: objects in every mode (SSE-C allowed over HTTP by the flag).
    let c = Coffer::start(with_ssec());
    let s3 = c.s3();
    s3.create_bucket().bucket("durable").send().await.unwrap();
    let key_arn = c.kms().create_key().send().await.unwrap().key_metadata.unwrap().arn.unwrap();
    put(&s3, "durable", "sse-s3", body(&c3)).await;
    s3.put_object().bucket("durable").key("sse-kms").server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(&key_arn).body(ByteStream::from(body(&ck))).send().await.unwrap();
    s3.put_object()
        .bucket("durable")
        .key("sse-c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key_b64)
        .sse_customer_key_md5(&key_md5)
        .body(ByteStream::from(body(&cc)))
        .send()
        .await
        .unwrap();
    // A multipart object and a bucket-key object survive too.
    let mp = pattern(0, 5 * MIB + 10);
    let id = s3.create_multipart_upload().bucket("durable").key("multipart").send().await.unwrap().upload_id.unwrap();
    let plain = no_default_checksums(&c, &c.creds());
    let e1 = plain.upload_part().bucket("durable").key("multipart").upload_id(&id).part_number(1).body(ByteStream::from(mp[..5 * MIB].to_vec())).send().await.unwrap().e_tag.unwrap();
    let e2 = plain.upload_part().bucket("durable").key("multipart").upload_id(&id).part_number(2).body(ByteStream::from(mp[5 * MIB..].to_vec())).send().await.unwrap().e_tag.unwrap();
    let parts = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).e_tag(e1).build())
        .parts(CompletedPart::builder().part_number(2).e_tag(e2).build())
        .build();
    s3.complete_multipart_upload().bucket("durable").key("multipart").upload_id(&id).multipart_upload(parts).send().await.unwrap();
    s3.put_object()
        .bucket("durable")
        .key("bucket-key")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key_arn)
        .bucket_key_enabled(true)
        .body(ByteStream::from(body(&ck)))
        .send()
        .await
        .unwrap();
    assert_eq!(c.stop().code(), Some(0));

    // Restart without the flag: everything but SSE-C reads; SSE-C over plain HTTP is refused,
    // as AWS refuses it.
    let c = Coffer::durable(&data);
    let s3 = c.s3();
    assert_eq!(get(&s3, "durable", "sse-s3").await, body(&c3));
    assert_eq!(get(&s3, "durable", "sse-kms").await, body(&ck));
    assert_eq!(get(&s3, "durable", "bucket-key").await, body(&ck));
    assert_eq!(get(&s3, "durable", "multipart").await, mp);
    assert_eq!(fail(ssec_get(&s3, "sse-c").await), is(400, "InvalidRequest"));
    let r = s3.put_object().bucket("durable").key("sse-c-2").sse_customer_algorithm("AES256").sse_customer_key(&key_b64).sse_customer_key_md5(&key_md5).body(ByteStream::from_static(b"x")).send().await;
    assert_eq!(fail(r), is(400, "InvalidRequest"));
    assert!(!exists(&s3, "durable", "sse-c-2").await);
    assert_eq!(c.stop().code(), Some(0));

    // And with the flag again, the SSE-C object reads with its key.
    let c = Coffer::start(with_ssec());
    let s3 = c.s3();
    assert_eq!(read(ssec_get(&s3, "sse-c").await.unwrap()).await, body(&cc));
    assert_eq!(get(&s3, "durable", "sse-s3").await, body(&c3));
    let log = c.log_with("op=\"GetObject\"");
    assert_eq!(c.stop().code(), Some(0));

    // Nothing in the data directory (object files, database, WAL) holds a plaintext, in raw,
    // base64 or hex form, nor the SSE-C key. The request log does not hold the key either.
    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, cn) in [("SSE-S3", &c3), ("SSE-KMS", &ck), ("SSE-C", &cc)] {
        needles.push((format!("{name} plaintext"), cn.clone()));
        needles.push((format!("{name} plaintext, base64"), B64.encode(cn).into_bytes()));
        needles.push((format!("{name} plaintext, hex"), hex(cn).into_bytes()));
        needles.push((format!("{name} plaintext, HEX"), hex(cn).to_uppercase().into_bytes()));
    }
    needles.push(("multipart plaintext".into(), mp[1000..1064].to_vec()));
    needles.push(("SSE-C key".into(), key_raw.clone()));
    needles.push(("SSE-C key, base64".into(), key_b64.clone().into_bytes()));
    needles.push(("SSE-C key, hex".into(), hex(&key_raw).into_bytes()));
    let all = files(&data);
    assert!(all.iter().any(|p| p.starts_with(data.join("objects"))), "{all:?}");
    assert!(all.iter().any(|p| p.file_name().unwrap().to_string_lossy().starts_with("coffer.db")), "{all:?}");
    let mut scanned = 0;
    for f in &all {
        let bytes = std::fs::read(f).unwrap();
        scanned += bytes.len();
        for (what, n) in &needles {
            assert!(!bytes.windows(n.len()).any(|w| w == n.as_slice()), "{what} found in {}", f.display());
        }
    }
    assert!(scanned > 3 * 4096 * 24, "only {scanned} bytes on disk");
    assert!(!log.contains(&key_b64), "the SSE-C key is in the log");
    let _ = std::fs::remove_dir_all(&dir);
}

// ------------------------------------------------------------------ 10. range efficiency

#[tokio::test]
async fn range_reads_decrypt_only_what_they_need() {
    // 256 MiB rather than 1 GiB: every byte is still encrypted and written once by a debug
    // build (about 2 s here for 256 MiB, four times that and 1 GiB of temporary disk for 1 GiB),
    // and the property — a range decrypts only its own 64 KiB chunks — does not depend on the
    // object's size.
    const SIZE: u64 = 256 << 20;
    const CHUNK: u64 = 64 << 10;
    let c = Coffer::dev();
    let s3 = c.s3();
    s3.create_bucket().bucket("ranges").send().await.unwrap();
    // Streamed from a generator over raw HTTP (UNSIGNED-PAYLOAD): nothing holds the object.
    let cr = c.creds();
    let headers = vec![("content-type".to_string(), "application/octet-stream".to_string())];
    let (h, _) = sign_s3(&c.addr, "PUT", "/ranges/big", "", &headers, "UNSIGNED-PAYLOAD", &cr.access_key, &cr.secret_key, SystemTime::now(), None);
    let r = raw_streaming(&c.addr, "PUT", "/ranges/big", &h, SIZE, fill);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let head = s3.head_object().bucket("ranges").key("big").send().await.unwrap();
    assert_eq!((head.content_length(), head.server_side_encryption()), (Some(SIZE as i64), Some(&ServerSideEncryption::Aes256)));

    for (start, len) in [(SIZE / 2 + 12_345, MIB as u64), (SIZE / 2, MIB as u64), (SIZE - 100, 100), (7, 1)] {
        let before = c.stat("s3_chunks_read");
        let o = s3.get_object().bucket("ranges").key("big").range(format!("bytes={start}-{}", start + len - 1)).send().await.unwrap();
        let got = read(o).await;
        let spent = c.stat("s3_chunks_read") - before;
        assert!((len.div_ceil(CHUNK)..=len.div_ceil(CHUNK) + 2).contains(&spent), "a {len}-byte range at {start} read {spent} chunks");
        assert!(got == pattern(start, len as usize), "range at {start}: wrong bytes");
    }
    assert_eq!(c.stop().code(), Some(0));
}

// ------------------------------------------------------------------ 11. protocol errors (raw)

#[tokio::test]
async fn raw_request_errors() {
    let c = Coffer::dev();
    let admin = root(A);
    let s3 = c.s3_with(&admin);
    s3.create_bucket().bucket("raw").send().await.unwrap();
    put(&s3, "raw", "exists", "x").await;
    let me = user(&c, &admin, "raw-user", Some(&allow(&[(&["s3:*"], &["*"])]))).await;
    let (ak, sk) = (me.access_key.as_str(), me.secret_key.as_str());
    let a = c.addr.as_str();
    let send = |method: &str, path: &str, query: &str, headers: &[(String, String)], body: &[u8], payload: &str, time: SystemTime| {
        let (h, q) = sign_s3(a, method, path, query, headers, payload, ak, sk, time, None);
        let target = if q.is_empty() { path.to_string() } else { format!("{path}?{q}") };
        raw(a, method, &target, &h, body)
    };
    let now = SystemTime::now;

    // The positive control: a correctly signed PUT with the body's hash.
    let r = send("PUT", "/raw/ok", "", &[], b"signed body", &sha256_hex(b"signed body"), now());
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // A body that does not match x-amz-content-sha256 (the signature itself is valid).
    let r = send("PUT", "/raw/mismatch", "", &[], b"the body actually sent", &sha256_hex(b"the body that was signed"), now());
    assert_eq!(error_of(&r), is(400, "XAmzContentSHA256Mismatch"));
    assert!(!exists(&s3, "raw", "mismatch").await);

    // Malformed XML documents.
    let upload_id = s3.create_multipart_upload().bucket("raw").key("mp").send().await.unwrap().upload_id.unwrap();
    let complete_query = format!("uploadId={upload_id}");
    for (method, path, query, body) in [
        ("POST", "/raw", "delete=", &b"<Delete><Object><Key>exists</Key></Object>"[..]),
        ("POST", "/raw", "delete=", b"this is not xml"),
        ("POST", "/raw/mp", complete_query.as_str(), b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"),
        ("PUT", "/raw", "encryption=", b"<ServerSideEncryptionConfiguration><Rule>"),
        ("PUT", "/raw", "encryption=", b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>ROT13</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"),
    ] {
        let headers = vec![("content-md5".to_string(), B64.encode(md5(body)))];
        let r = send(method, path, query, &headers, body, &sha256_hex(body), now());
        assert_eq!(error_of(&r), is(400, "MalformedXML"), "{method} {path}?{query} {}", String::from_utf8_lossy(body));
    }
    assert!(exists(&s3, "raw", "exists").await);

    // Signed correctly but without x-amz-content-sha256: S3 requires it.
    let (h, _) = sign(a, "GET", "/raw/exists", "", &[], b"", ak, sk, "s3", now(), None);
    assert!(!h.iter().any(|(k, _)| k == "x-amz-content-sha256"));
    let r = raw(a, "GET", "/raw/exists", &h, b"");
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.s3_code(), "InvalidRequest");

    // Not signed at all: anonymous requests are refused.
    assert_eq!(error_of(&raw(a, "GET", "/raw/exists", &[], b"")), is(403, "AccessDenied"));
    // Signed 16 minutes ago.
    let r = send("GET", "/raw/exists", "", &[], b"", &sha256_hex(b""), now() - Duration::from_secs(16 * 60));
    assert_eq!(error_of(&r), is(403, "RequestTimeTooSkewed"));
    // A wrong secret.
    let (h, _) = sign_s3(a, "GET", "/raw/exists", "", &[], &sha256_hex(b""), ak, "wrong-secret", now(), None);
    assert_eq!(error_of(&raw(a, "GET", "/raw/exists", &h, b"")), is(403, "SignatureDoesNotMatch"));

    // aws-chunked with chunk signatures (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, and -TRAILER with a
    // signed checksum trailer), built here: it stores when intact; a flipped data byte, a wrong
    // chunk signature or a changed trailer stores nothing.
    let data = pattern(3, 80 * 1024);
    let chunked = |key: &str, trailer: Option<&str>| {
        let t = now();
        let path = format!("/raw/{key}");
        let mut headers = vec![
            ("content-encoding".to_string(), "aws-chunked".to_string()),
            ("x-amz-decoded-content-length".to_string(), data.len().to_string()),
        ];
        let payload = match trailer {
            Some(_) => {
                headers.push(("x-amz-trailer".to_string(), "x-amz-checksum-crc32".to_string()));
                "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
            }
            None => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        };
        let (h, _) = sign_s3(a, "PUT", &path, "", &headers, payload, ak, sk, t, None);
        let auth = h.iter().find(|(k, _)| k == "authorization").unwrap().1.clone();
        let amz_date = h.iter().find(|(k, _)| k == "x-amz-date").unwrap().1.clone();
        let mut previous = auth.rsplit("Signature=").next().unwrap().to_string();
        let scope = format!("{}/{}/s3/aws4_request", &amz_date[..8], coffer_it::REGION);
        let signing_key = aws_sigv4::sign::v4::generate_signing_key(sk, t, coffer_it::REGION, "s3");
        let sign = |sts: String| aws_sigv4::sign::v4::calculate_signature(signing_key.as_ref(), sts.as_bytes());
        let mut body = Vec::new();
        for chunk in [&data[..64 * 1024], &data[64 * 1024..], &[][..]] {
            let sig = sign(format!("AWS4-HMAC-SHA256-PAYLOAD\n{amz_date}\n{scope}\n{previous}\n{}\n{}", sha256_hex(b""), sha256_hex(chunk)));
            body.extend_from_slice(format!("{:x};chunk-signature={sig}\r\n", chunk.len()).as_bytes());
            body.extend_from_slice(chunk);
            if !chunk.is_empty() || trailer.is_none() {
                body.extend_from_slice(b"\r\n");
            }
            previous = sig;
        }
        if let Some(value) = trailer {
            let line = format!("x-amz-checksum-crc32:{value}");
            let sig = sign(format!("AWS4-HMAC-SHA256-TRAILER\n{amz_date}\n{scope}\n{previous}\n{}", sha256_hex(format!("{line}\n").as_bytes())));
            body.extend_from_slice(format!("{line}\r\nx-amz-trailer-signature:{sig}\r\n\r\n").as_bytes());
        }
        (path, h, body)
    };
    let (path, h, body) = chunked("chunked", None);
    let r = raw(a, "PUT", &path, &h, &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(get(&s3, "raw", "chunked").await, data);
    let first_data = body.iter().position(|&b| b == b'\n').unwrap() + 1;
    for (what, at) in [("a byte of chunk 1", first_data + 100), ("a byte of chunk 2", body.len() - 5000)] {
        let (path, h, mut body) = chunked("tampered", None);
        body[at] ^= 0x01;
        let r = raw(a, "PUT", &path, &h, &body);
        assert_eq!(error_of(&r), is(403, "SignatureDoesNotMatch"), "{what}");
    }
    let (path, h, mut body) = chunked("tampered", None);
    let sig = body.windows(16).position(|w| w == b"chunk-signature=").unwrap() + 16;
    body[sig] = if body[sig] == b'a' { b'b' } else { b'a' };
    assert_eq!(error_of(&raw(a, "PUT", &path, &h, &body)), is(403, "SignatureDoesNotMatch"));
    // Signed trailer: the right CRC32 stores; a wrong one (correctly signed) is BadDigest; a
    // trailer changed after signing is SignatureDoesNotMatch.
    let crc = B64.encode(crc32(&data).to_be_bytes());
    let (path, h, body) = chunked("trailer", Some(&crc));
    let r = raw(a, "PUT", &path, &h, &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let g = s3.get_object().bucket("raw").key("trailer").checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(g.checksum_crc32(), Some(crc.as_str()));
    assert_eq!(read(g).await, data);
    let (path, h, body) = chunked("tampered", Some("AAAAAA=="));
    assert_eq!(error_of(&raw(a, "PUT", &path, &h, &body)), is(400, "BadDigest"));
    let (path, h, mut body) = chunked("tampered", Some(&crc));
    let needle = format!("crc32:{crc}").into_bytes();
    let at = body.windows(needle.len()).position(|w| w == needle.as_slice()).unwrap() + "crc32:".len();
    body[at..at + 8].copy_from_slice(b"AAAAAA==");
    assert_eq!(error_of(&raw(a, "PUT", &path, &h, &body)), is(403, "SignatureDoesNotMatch"));
    assert!(!exists(&s3, "raw", "tampered").await);
    assert_eq!(c.stop().code(), Some(0));
}



/// A GET that read an object's record streams that version whole even when an overwrite and a
/// delete commit while it is being read; the replaced data is collected once the GET is done.
#[tokio::test]
async fn reads_racing_overwrites_stay_whole() {
    let c = Coffer::dev();
    let s3 = c.s3();
    s3.create_bucket().bucket("race").send().await.unwrap();
    let old: Vec<u8> = (0..40 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    put(&s3, "race", "k", old.clone()).await;
    let mut o = s3.get_object().bucket("race").key("k").send().await.unwrap();
    // Take the first piece of the body, then replace and delete the object.
    let first = o.body.next().await.unwrap().unwrap();
    put(&s3, "race", "k", b"new".to_vec()).await;
    assert_eq!(get(&s3, "race", "k").await, b"new");
    s3.delete_object().bucket("race").key("k").send().await.unwrap();
    let mut got = first.to_vec();
    while let Some(chunk) = o.body.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(got.len(), old.len());
    assert!(got == old, "the GET returned bytes of another version");
    drop(o);
    // The old data file was kept for the reader and is collected once the server has let go of
    // the body (its sending task ends just after the last byte).
    let started = std::time::Instant::now();
    let mut collected = 0;
    while collected == 0 && started.elapsed() < std::time::Duration::from_secs(10) {
        collected = c.advance_clock(0)["s3_garbage_collected"].as_u64().unwrap();
        if collected == 0 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    assert_eq!(collected, 1);
}
