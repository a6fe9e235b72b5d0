//! Writes the seed inputs of every fuzz target into `fuzz/corpus/<target>/seed-*`: real blobs,
//! segments, signed requests and aws-chunked bodies produced by Coffer's own code, and real
//! policies and request bodies. Run from `fuzz/`: `cargo run --example gen_corpus`.
//! Blobs and sealed values use random nonces, so those seeds change on every run; the rest is
//! deterministic.

use std::fs;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use coffer_crypto::blob::{self, BlobHeader};
use coffer_crypto::checksum::{ChecksumAlgorithm, Checksummer};
use coffer_crypto::digest::{HmacKey, hex, sha256};
use coffer_crypto::object::{ObjectKey, encrypt_all};
use coffer_crypto::{RootKey, SymmetricKey};
use coffer_fuzz::{blob as fblob, object as fobject, policy as fpolicy};
use coffer_server::s3chunked::{chunk_signature, trailer_signature};
use coffer_server::sigv4::{authorization_header, derive_signing_key, uri_encode};
use hyper::HeaderMap;
use hyper::header::{HeaderName, HeaderValue};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("corpus").join(target);
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(dir.join(format!("seed-{name}")), bytes).expect("write");
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

const KEY_ID: [u8; 16] = [0x12, 0x34, 0xab, 0xcd, 0x12, 0xab, 0x34, 0xcd, 0x56, 0xef, 0x12, 0x34, 0x56, 0x78, 0x90, 0xab];

fn blobs() -> Vec<u8> {
    let key = SymmetricKey::from_bytes(&fblob::KEY).unwrap();
    let header = BlobHeader { key_id: KEY_ID, material_id: sha256(b"material 0") };
    let [empty, named] = fblob::contexts();
    let a = blob::encrypt(&key, header, &empty, b"Hello, Coffer!").unwrap();
    write("kms_blob", "encrypt-empty-context", &a);
    let b = blob::encrypt(&key, header, &named, &sha256(b"a 256-bit data key")).unwrap();
    write("kms_blob", "data-key-with-context", &b);
    write("kms_blob", "max-plaintext", &blob::encrypt(&key, header, &empty, &pattern(4096)).unwrap());
    write("kms_blob", "empty-plaintext", &blob::encrypt(&key, header, &named, b"").unwrap());
    let root = RootKey::from_bytes(&fblob::ROOT).unwrap();
    write("kms_blob", "sealed-material", &root.seal(fblob::SEAL_PURPOSE, &[7u8; 32]));
    a
}

fn segments() {
    let ok = ObjectKey::from_bytes(&fobject::OBJECT_KEY).unwrap();
    // The known-answer segment of coffer-crypto's tests: three 1 KiB-chunk chunks.
    write("object_segment", "kat-2500-bytes", &encrypt_all(ok.segment([0x22; 16]), 10, &pattern(2500)));
    write("object_segment", "empty", &encrypt_all(ok.segment([0x01; 16]), 16, b""));
    write("object_segment", "one-full-chunk", &encrypt_all(ok.segment([0x02; 16]), 10, &pattern(1024)));
    write("object_segment", "default-chunk-size", &encrypt_all(ok.segment([0x03; 16]), 16, b"a small S3 object\n"));
}

fn policies() {
    let key_policy = include_str!("../../compat/seed_key_policy.json").trim();
    let sep = fpolicy::SEPARATOR;
    let key_arn = "arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    write(
        "policy",
        "key-policy-user",
        format!("{key_policy}{sep}kms:Encrypt\n{key_arn}\narn:aws:iam::111111111111:user/myapp\n\nkms:CallerAccount=111111111111\nkms:EncryptionContextKeys=purpose\tDepartment").as_bytes(),
    );
    write(
        "policy",
        "key-policy-cross-account-grant",
        format!("{key_policy}{sep}kms:CreateGrant\n{key_arn}\narn:aws:sts::222222222222:assumed-role/myapprole/s1\narn:aws:iam::222222222222:role/myapprole\nkms:GrantIsForAWSResource=true").as_bytes(),
    );
    let bucket = r#"{
  "Version": "2012-10-17",
  "Id": "PutObjectPolicy",
  "Statement": [
    {"Sid": "DenyIncorrectEncryptionHeader", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
     "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*",
     "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
    {"Sid": "DenyUnencryptedObjectUploads", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
     "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*",
     "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}},
    {"Sid": "AllowSSLRequestsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
     "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket", "arn:aws:s3:::amzn-s3-demo-bucket/*"],
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    {"Sid": "ReadOnlyForTheAccount", "Effect": "Allow", "Principal": {"AWS": "111111111111"},
     "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "arn:aws:s3:::amzn-s3-demo-bucket*"}
  ]
}"#;
    write(
        "policy",
        "bucket-policy",
        format!("{bucket}{sep}s3:PutObject\narn:aws:s3:::amzn-s3-demo-bucket/reports/2026.csv\narn:aws:iam::111111111111:user/alice\n\ns3:x-amz-server-side-encryption=AES256").as_bytes(),
    );
    let identity = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "OwnParameters", "Effect": "Allow", "Action": ["ssm:GetParameter*", "ssm:PutParameter"],
     "Resource": "arn:aws:ssm:*:111111111111:parameter/home/${aws:username}/*"},
    {"Sid": "TaggedKeys", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"],
     "Resource": "arn:aws:kms:*:111111111111:key/*",
     "Condition": {
       "StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"},
       "ForAnyValue:StringLike": {"kms:EncryptionContextKeys": ["purpose", "app-*"]},
       "IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]},
       "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
       "NumericLessThanEquals": {"kms:NumberOfBytes": 64},
       "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111111111111:user/*"},
       "BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}
     }},
    {"Sid": "NoDeletes", "Effect": "Deny", "NotAction": ["kms:Describe*", "kms:List*", "kms:Get*", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "ssm:*"],
     "NotResource": "arn:aws:kms:us-east-1:111111111111:key/sandbox-*",
     "Condition": {"StringNotEqualsIgnoreCase": {"aws:RequestedRegion": "eu-west-1"}, "Null": {"aws:TokenIssueTime": "false"}}}
  ]
}"#;
    write(
        "policy",
        "identity-conditions",
        format!("{identity}{sep}kms:GenerateDataKey\n{key_arn}\narn:aws:iam::111111111111:user/alice\n\naws:ResourceTag/team=red\nkms:EncryptionContextKeys=purpose\tapp-web\nkms:NumberOfBytes=32\naws:RequestedRegion=us-east-1\naws:MultiFactorAuthPresent").as_bytes(),
    );
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:root","arn:aws:iam::222222222222:user/ci"],"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"fuzz-external-id"},"NumericGreaterThan":{"aws:EpochTime":"1700000000"}}},{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:TagSession"}]}"#;
    write(
        "policy",
        "trust-policy",
        format!("{trust}{sep}sts:AssumeRole\narn:aws:iam::111111111111:role/deploy\narn:aws:iam::222222222222:user/ci\n\nsts:ExternalId=fuzz-external-id").as_bytes(),
    );
    let old = r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/owner":"${aws:username}"},"DateGreaterThanEquals":{"aws:CurrentTime":"2020-01-01T00:00:00Z"},"BinaryEquals":{"k":"QmluYXJ5VmFsdWU="},"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}}}"#;
    write("policy", "version-2008", format!("{old}{sep}kms:Decrypt\n*\narn:aws:iam::111111111111:root\n\naws:TagKeys=a\tb").as_bytes());
}

fn head(method: &str, target: &str, headers: &HeaderMap) -> Vec<u8> {
    let mut out = format!("{method} {target}\r\n").into_bytes();
    for (n, v) in headers {
        out.extend_from_slice(n.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    h
}

const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn signed(name: &str, method: &str, path: &str, query: &str, pairs: &[(&str, &str)], body: &[u8], service: &str) {
    let date = "20261129T024501Z";
    let mut h = headers(pairs);
    h.insert("x-amz-date", HeaderValue::from_static(date));
    let payload = h.get("x-amz-content-sha256").map(|v| v.to_str().unwrap().to_string()).unwrap_or_else(|| hex(&sha256(body)));
    let key = derive_signing_key(SECRET, &date[..8], "us-east-1", service);
    let auth = authorization_header(method, path, query, &h, &payload, "AKIDEXAMPLE", &key, date, "us-east-1", service);
    h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
    let target = if query.is_empty() { path.to_string() } else { format!("{path}?{query}") };
    write("sigv4", name, &head(method, &target, &h));
}

fn sigv4_seeds() {
    // AWS's SigV4 test suite, "get-vanilla-query-order-key-case".
    let date = "20150830T123600Z";
    let mut h = headers(&[("host", "example.amazonaws.com"), ("x-amz-date", date)]);
    let key = derive_signing_key(SECRET, "20150830", "us-east-1", "service");
    let empty = hex(&sha256(b""));
    let auth = authorization_header("GET", "/", "Param2=value2&Param1=value1", &h, &empty, "AKIDEXAMPLE", &key, date, "us-east-1", "service");
    h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
    write("sigv4", "aws-suite-get-vanilla-query", &head("GET", "/?Param2=value2&Param1=value1", &h));

    let body = br#"{"KeyId":"alias/app","Plaintext":"SGVsbG8="}"#;
    signed(
        "kms-encrypt",
        "POST",
        "/",
        "",
        &[
            ("host", "kms.us-east-1.amazonaws.com"),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "TrentService.Encrypt"),
            ("x-amz-security-token", "IQoJb3JpZ2luX2VjEFAKE//session+token=="),
            ("user-agent", "aws-cli/2.22.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.1"),
        ],
        body,
        "kms",
    );
    signed(
        "s3-put-streaming",
        "PUT",
        "/amzn-s3-demo-bucket/photos/2026/a%20b+c.jpg",
        "",
        &[
            ("host", "s3.us-east-1.amazonaws.com"),
            ("content-encoding", "aws-chunked"),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"),
            ("x-amz-decoded-content-length", "66560"),
            ("x-amz-trailer", "x-amz-checksum-crc32c"),
            ("x-amz-storage-class", "STANDARD"),
        ],
        b"",
        "s3",
    );
    signed(
        "iam-query-post",
        "POST",
        "/./users/../",
        "Action=ListUsers&Version=2010-05-08&PathPrefix=%2Fdivision_abc%2F",
        &[("host", "iam.amazonaws.com"), ("content-type", "application/x-www-form-urlencoded; charset=utf-8"), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD")],
        b"",
        "iam",
    );

    // A presigned GET (query form), signed as an SDK would: the canonical query without the
    // signature, `UNSIGNED-PAYLOAD`.
    let mut cred = String::new();
    uri_encode(b"AKIDEXAMPLE/20261129/us-east-1/s3/aws4_request", false, &mut cred);
    let query = format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}&X-Amz-Date=20261129T024501Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&response-content-disposition=attachment%3B%20filename%3D%22r.csv%22"
    );
    let h = headers(&[("host", "amzn-s3-demo-bucket.s3.us-east-1.amazonaws.com")]);
    let creq = coffer_server::sigv4::canonical_request(&coffer_server::sigv4::CanonicalParts {
        method: "GET",
        raw_path: "/reports/r.csv",
        raw_query: &query,
        service: "s3",
        headers: &h,
        authority: None,
        signed_headers: &["host".to_string()],
        payload_hash: "UNSIGNED-PAYLOAD",
        presigned: true,
    })
    .unwrap();
    let key = derive_signing_key(SECRET, "20261129", "us-east-1", "s3");
    let sig = coffer_server::sigv4::signature(&key, "20261129T024501Z", "20261129/us-east-1/s3/aws4_request", &creq);
    write("sigv4", "s3-presigned-get", &head("GET", &format!("/reports/r.csv?{query}&X-Amz-Signature={}", hex(&sig)), &h));

    // The Date-header form (no X-Amz-Date), as some S3 clients send it.
    let mut h = headers(&[("host", "s3.amazonaws.com"), ("date", "Sun, 29 Nov 2026 02:45:01 GMT")]);
    h.insert(
        "authorization",
        HeaderValue::from_str(&format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261129/us-east-1/s3/aws4_request, SignedHeaders=date;host, Signature={}",
            "0".repeat(64)
        ))
        .unwrap(),
    );
    write("sigv4", "date-header-form", &head("GET", "/amzn-s3-demo-bucket?list-type=2&prefix=a%2Fb&max-keys=10", &h));
}

fn json_seeds(ciphertext: &[u8]) {
    let ct = B64.encode(ciphertext);
    let seeds: &[(&str, &str, String)] = &[
        ("kms-encrypt", "TrentService.Encrypt", r#"{"KeyId":"alias/app","Plaintext":"SGVsbG8sIENvZmZlciE=","EncryptionContext":{"purpose":"fuzz","Department":"Engineering"},"GrantTokens":["t1"],"EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}"#.into()),
        ("kms-decrypt", "TrentService.Decrypt", format!(r#"{{"CiphertextBlob":"{ct}","EncryptionContext":{{}},"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","DryRun":false}}"#)),
        ("kms-reencrypt", "TrentService.ReEncrypt", format!(r#"{{"CiphertextBlob":"{ct}","DestinationKeyId":"alias/other","SourceEncryptionContext":{{"a":"b"}},"DestinationEncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}"#)),
        ("kms-create-key", "TrentService.CreateKey", r#"{"Description":"fuzz key","KeyUsage":"ENCRYPT_DECRYPT","KeySpec":"SYMMETRIC_DEFAULT","Origin":"AWS_KMS","Tags":[{"TagKey":"team","TagValue":"red"}],"MultiRegion":false,"BypassPolicyLockoutSafetyCheck":false,"Policy":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::111111111111:root\"},\"Action\":\"kms:*\",\"Resource\":\"*\"}]}"}"#.into()),
        ("kms-create-grant", "TrentService.CreateGrant", r#"{"KeyId":"1234abcd-12ab-34cd-56ef-1234567890ab","GranteePrincipal":"arn:aws:iam::111111111111:role/app","Operations":["Encrypt","Decrypt"],"Constraints":{"EncryptionContextSubset":{"purpose":"fuzz"}},"Name":"g1"}"#.into()),
        ("kms-generate-data-key", "TrentService.GenerateDataKey", r#"{"KeyId":"alias/app","NumberOfBytes":32,"KeySpec":"AES_256"}"#.into()),
        ("kms-sign", "TrentService.Sign", r#"{"KeyId":"alias/signer","Message":"bWVzc2FnZQ==","MessageType":"RAW","SigningAlgorithm":"ECDSA_SHA_256"}"#.into()),
        ("kms-schedule-deletion", "TrentService.ScheduleKeyDeletion", r#"{"KeyId":"alias/app","PendingWindowInDays":7}"#.into()),
        ("kms-list-keys", "TrentService.ListKeys", r#"{"Limit":100,"Marker":"eyJrIjoiMSJ9"}"#.into()),
        ("ssm-put-parameter", "AmazonSSM.PutParameter", r#"{"Name":"/app/db/password","Value":"s3cr3t","Type":"SecureString","KeyId":"alias/aws/ssm","Overwrite":true,"Tier":"Advanced","Tags":[{"Key":"env","Value":"prod"}],"Policies":"[{\"Type\":\"Expiration\",\"Version\":\"1.0\",\"Attributes\":{\"Timestamp\":\"2030-01-01T00:00:00.000Z\"}}]"}"#.into()),
        ("ssm-get-by-path", "AmazonSSM.GetParametersByPath", r#"{"Path":"/app","Recursive":true,"WithDecryption":true,"ParameterFilters":[{"Key":"Type","Option":"Equals","Values":["SecureString"]}],"MaxResults":10}"#.into()),
        ("ssm-describe", "AmazonSSM.DescribeParameters", r#"{"Filters":[{"Key":"Name","Values":["x"]}],"ParameterFilters":[{"Key":"Name","Option":"BeginsWith","Values":["/app"]}],"NextToken":"abc"}"#.into()),
        ("ssm-label", "AmazonSSM.LabelParameterVersion", r#"{"Name":"/app/db/password","ParameterVersion":3,"Labels":["prod","blue"]}"#.into()),
        ("empty-body", "AmazonSSM.GetParameter", String::new()),
    ];
    for (name, target, body) in seeds {
        write("json_request", name, format!("{target}\n{body}").as_bytes());
    }
}

fn chunked_seeds() {
    // fuzz_decode's signed mode: key `fuzz`, this date and scope, a zero seed signature.
    let key = HmacKey::new(b"fuzz");
    let (date, scope) = ("20130524T000000Z", "20130524/us-east-1/s3/aws4_request");
    let encode = |control: [u8; 2], chunks: &[&[u8]], trailers: Option<&[(&str, &str)]>| -> Vec<u8> {
        let mut prev = [0u8; 32];
        let mut out = control.to_vec();
        for c in chunks.iter().copied().chain([&b""[..]]) {
            prev = chunk_signature(&key, date, scope, &prev, &sha256(c));
            out.extend_from_slice(format!("{:x};chunk-signature={}\r\n", c.len(), hex(&prev)).as_bytes());
            if !c.is_empty() {
                out.extend_from_slice(c);
                out.extend_from_slice(b"\r\n");
            }
        }
        match trailers {
            None => out.extend_from_slice(b"\r\n"),
            Some(t) => {
                for (n, v) in t {
                    out.extend_from_slice(format!("{n}:{v}\r\n").as_bytes());
                }
                let owned: Vec<(String, String)> = t.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
                let ts = trailer_signature(&key, date, scope, &prev, &owned);
                out.extend_from_slice(format!("x-amz-trailer-signature:{}\r\n\r\n", hex(&ts)).as_bytes());
            }
        }
        out
    };
    let data = pattern(97);
    let mut crc = Checksummer::new(ChecksumAlgorithm::from_name("CRC32").unwrap());
    crc.update(&data);
    let crc = B64.encode(crc.finish());
    // Control bytes: bit 0 trailer (signed modes), bit 1 declared length = second byte * 97,
    // bit 2 declares x-amz-checksum-crc32; the second byte also sets the piece size.
    write("s3_chunked", "signed-97-bytes", &encode([0b010, 1], &[&data], None));
    write("s3_chunked", "signed-trailer-crc32", &encode([0b111, 1], &[&data], Some(&[("x-amz-checksum-crc32", &crc)])));
    let big = pattern(8192 + 100);
    write("s3_chunked", "signed-two-chunks", &encode([0b000, 16], &[&big[..8192], &big[8192..]], None));
    let mut unsigned = vec![0b110, 1];
    unsigned.extend_from_slice(b"61\r\n");
    unsigned.extend_from_slice(&data);
    unsigned.extend_from_slice(format!("\r\n0\r\nx-amz-checksum-crc32:{crc}\r\n\r\n").as_bytes());
    write("s3_chunked", "unsigned-trailer", &unsigned);
    let mut ext = vec![0b000, 3];
    ext.extend_from_slice(b"2000;ext=1\r\n");
    ext.extend_from_slice(&big[..8192]);
    ext.extend_from_slice(b"\r\n5\r\nhello\r\n0\r\n\r\n");
    write("s3_chunked", "unsigned-extensions", &ext);
}

fn main() {
    let ciphertext = blobs();
    segments();
    policies();
    sigv4_seeds();
    json_seeds(&ciphertext);
    chunked_seeds();
    verify();
    println!("seeds written under corpus/ and checked");
}

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(Path::new("corpus").join(target))
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("seed-")))
        .map(|p| (p.display().to_string(), fs::read(&p).expect("read")))
        .collect();
    v.sort();
    v
}

/// Every seed is a valid input of its kind (not only "does not crash"), and the targets accept it.
fn verify() {
    use coffer_crypto::object::{SegmentHeader, SegmentLayout, decrypt_range};
    use coffer_policy::{PolicyDocument, PolicyKind};
    use coffer_server::s3chunked::{ChunkedDecoder, ChunkedMode, Event};

    let key = SymmetricKey::from_bytes(&fblob::KEY).unwrap();
    for (name, s) in seeds("kms_blob") {
        let ok = fblob::contexts().iter().any(|ec| blob::decrypt(&key, &s, ec).is_ok())
            || RootKey::from_bytes(&fblob::ROOT).unwrap().open(fblob::SEAL_PURPOSE, &s).is_ok();
        assert!(ok, "{name}");
        coffer_fuzz::blob::run(&s);
    }
    let ok = ObjectKey::from_bytes(&fobject::OBJECT_KEY).unwrap();
    for (name, s) in seeds("object_segment") {
        let h = SegmentHeader::parse(&s).unwrap();
        let len = fobject::plaintext_len_for(s.len() as u64, h.chunk_size_log2).unwrap();
        let layout = SegmentLayout { plaintext_len: len, chunk_size_log2: h.chunk_size_log2 };
        assert!(decrypt_range(ok.segment(h.segment_id), &s, layout, 0, len).is_ok(), "{name}");
        coffer_fuzz::object::run(&s);
    }
    for (name, s) in seeds("policy") {
        let text = std::str::from_utf8(&s).unwrap();
        let (doc, _) = fpolicy::split(text);
        let kinds = [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Trust];
        assert!(kinds.iter().any(|k| PolicyDocument::parse(doc, *k).is_ok()), "{name}");
        coffer_fuzz::policy::run(&s);
    }
    for (name, s) in seeds("sigv4") {
        let h = coffer_fuzz::sigv4::parse_head(&s);
        coffer_server::sigv4::parse_request(&h.headers, &h.query).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        coffer_fuzz::sigv4::run(&s);
    }
    for (name, s) in seeds("json_request") {
        let (target, _) = s.split_at(s.iter().position(|&b| b == b'\n').unwrap());
        assert!(coffer_fuzz::json_request::TARGETS.contains(&std::str::from_utf8(target).unwrap()), "{name}");
        coffer_fuzz::json_request::run(&s);
    }
    for (name, s) in seeds("s3_chunked") {
        let (control, body) = (s[0], &s[2..]);
        let declared = if control & 4 == 4 { vec!["x-amz-checksum-crc32".to_string()] } else { Vec::new() };
        let length = (control & 2 == 2).then_some(u64::from(s[1]) * 97);
        let signed = ChunkedMode::Signed {
            key: HmacKey::new(b"fuzz"),
            amz_date: "20130524T000000Z".into(),
            scope: "20130524/us-east-1/s3/aws4_request".into(),
            seed_signature: [0; 32],
            trailer: control & 1 == 1,
        };
        let ok = [signed, ChunkedMode::Unsigned].into_iter().any(|mode| {
            let mut d = ChunkedDecoder::new(mode, declared.clone(), length);
            let mut out = Vec::new();
            d.feed(bytes_of(body), &mut out).is_ok() && d.finish().is_ok() && matches!(out.last(), Some(Event::End))
        });
        assert!(ok, "{name}");
        coffer_server::s3chunked::fuzz_decode(&s);
    }
}

fn bytes_of(b: &[u8]) -> bytes::Bytes {
    bytes::Bytes::copy_from_slice(b)
}
