//! Parameter Store against a real coffer process with aws-sdk-ssm (and aws-sdk-kms/iam for the
//! SecureString and authorization paths): every operation, each error path by its AWS code.

use aws_sdk_ssm::types::{ParameterStringFilter, ParameterTier, ParameterType, Tag};
use coffer_it::{Coffer, Creds, Options, any_code, temp_dir};

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

fn filter(key: &str, option: Option<&str>, values: &[&str]) -> ParameterStringFilter {
    let mut b = ParameterStringFilter::builder().key(key);
    if let Some(o) = option {
        b = b.option(o);
    }
    for v in values {
        b = b.values(*v);
    }
    b.build().unwrap()
}

#[tokio::test]
async fn seed_commands_with_a_least_privilege_user() {
    let dir = temp_dir("ssm-seed");
    let c = Coffer::durable(&dir.join("data"));
    let root = c.creds();
    let account = c.sts().get_caller_identity().send().await.unwrap().account.unwrap();
    // A customer key with the default policy: IAM decides who may decrypt.
    let key = c.kms().create_key().description("app secrets").send().await.unwrap().key_metadata.unwrap();
    let key_arn = key.arn.unwrap();
    let ssm = c.ssm();
    ssm.put_parameter()
        .name("/dev/dbconnectionstring")
        .value("Server=db.internal;User=app;Password=s3cr3t-7c1e")
        .r#type(ParameterType::SecureString)
        .key_id(&key_arn)
        .send()
        .await
        .unwrap();
    let iam = c.iam();
    iam.create_user().user_name("app").send().await.unwrap();
    let k = iam.create_access_key().user_name("app").send().await.unwrap().access_key.unwrap();
    let app = Creds::new(&k.access_key_id, &k.secret_access_key);
    let app_ssm = c.ssm_with(&app);
    let policy = |with_kms: bool| {
        let kms = if with_kms { format!(r#",{{"Effect":"Allow","Action":"kms:Decrypt","Resource":"{key_arn}"}}"#) } else { String::new() };
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"arn:aws:ssm:us-east-1:{account}:parameter/dev/*"}}{kms}]}}"#
        )
    };
    // Without kms:Decrypt: the plain read returns ciphertext, the decrypting read is denied.
    iam.put_user_policy().user_name("app").policy_name("read-dev").policy_document(policy(false)).send().await.unwrap();
    let plain = app_ssm.get_parameter().name("/dev/dbconnectionstring").send().await.unwrap().parameter.unwrap();
    assert_eq!(plain.r#type, Some(ParameterType::SecureString));
    assert_ne!(plain.value.as_deref(), Some("Server=db.internal;User=app;Password=s3cr3t-7c1e"));
    let e = app_ssm.get_parameter().name("/dev/dbconnectionstring").with_decryption(true).send().await.unwrap_err();
    {
        use aws_sdk_ssm::error::ProvideErrorMetadata;
        assert_eq!(e.code(), Some("AccessDeniedException"));
        assert!(e.message().unwrap().contains("kms:Decrypt"), "{:?}", e.message());
    }
    // With kms:Decrypt on the key: the value.
    iam.put_user_policy().user_name("app").policy_name("read-dev").policy_document(policy(true)).send().await.unwrap();
    let p = app_ssm.get_parameter().name("/dev/dbconnectionstring").with_decryption(true).send().await.unwrap().parameter.unwrap();
    assert_eq!(p.value.as_deref(), Some("Server=db.internal;User=app;Password=s3cr3t-7c1e"));
    // Only /dev/*: other paths and other actions are denied.
    ssm.put_parameter().name("/prod/db").value("x").r#type(ParameterType::String).send().await.unwrap();
    assert_eq!(any_code(app_ssm.get_parameter().name("/prod/db").send().await), "AccessDeniedException");
    assert_eq!(any_code(app_ssm.put_parameter().name("/dev/x").value("x").r#type(ParameterType::String).send().await), "AccessDeniedException");
    assert_eq!(any_code(app_ssm.get_parameters().names("/dev/dbconnectionstring").send().await), "AccessDeniedException");
    // The ciphertext is a KMS blob bound to the parameter ARN: KMS decrypts it directly.
    use base64::Engine;
    let blob = base64::engine::general_purpose::STANDARD.decode(plain.value.unwrap()).unwrap();
    let d = c
        .kms_with(&root)
        .decrypt()
        .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(blob.clone()))
        .encryption_context("PARAMETER_ARN", format!("arn:aws:ssm:us-east-1:{account}:parameter/dev/dbconnectionstring"))
        .send()
        .await
        .unwrap();
    assert_eq!(d.plaintext.unwrap().as_ref(), b"Server=db.internal;User=app;Password=s3cr3t-7c1e");
    assert_eq!(any_code(c.kms_with(&root).decrypt().ciphertext_blob(aws_sdk_kms::primitives::Blob::new(blob)).send().await), "InvalidCiphertextException");
    // The value is not in the data directory.
    for entry in std::fs::read_dir(dir.join("data")).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(path).unwrap();
        assert!(!bytes.windows(12).any(|w| w == b"s3cr3t-7c1e\0" || w == b"s3cr3t-7c1e\""));
        assert!(!bytes.windows(11).any(|w| w == b"s3cr3t-7c1e"));
    }
    assert_eq!(c.stop().code(), Some(0));
}

#[tokio::test]
async fn put_get_versions_and_selectors() {
    let c = Coffer::dev();
    let ssm = c.ssm();
    let out = ssm.put_parameter().name("/app/url").value("https://v1").r#type(ParameterType::String).description("endpoint").send().await.unwrap();
    assert_eq!((out.version, out.tier), (1, Some(ParameterTier::Standard)));
    assert_eq!(any_code(ssm.put_parameter().name("/app/url").value("x").r#type(ParameterType::String).send().await), "ParameterAlreadyExists");
    // Overwrite keeps the type when it is omitted.
    let v2 = ssm.put_parameter().name("/app/url").value("https://v2").overwrite(true).send().await.unwrap();
    assert_eq!(v2.version, 2);
    let p = ssm.get_parameter().name("/app/url").send().await.unwrap().parameter.unwrap();
    assert_eq!((p.value.as_deref(), p.version, p.r#type), (Some("https://v2"), 2, Some(ParameterType::String)));
    assert_eq!(p.arn.as_deref(), Some("arn:aws:ssm:us-east-1:123456789012:parameter/app/url"));
    assert!(p.selector.is_none());
    let p1 = ssm.get_parameter().name("/app/url:1").send().await.unwrap().parameter.unwrap();
    assert_eq!((p1.value.as_deref(), p1.selector.as_deref(), p1.name.as_deref()), (Some("https://v1"), Some(":1"), Some("/app/url")));
    let e = ssm.get_parameter().name("/app/url:9").send().await.unwrap_err();
    {
        use aws_sdk_ssm::error::ProvideErrorMetadata;
        assert_eq!(e.code(), Some("ParameterVersionNotFound"));
        assert_eq!(e.message(), Some("Systems Manager could not find version 9 of /app/url. Verify the version and try again."));
    }
    // By ARN.
    let by_arn = ssm.get_parameter().name("arn:aws:ssm:us-east-1:123456789012:parameter/app/url").send().await.unwrap().parameter.unwrap();
    assert_eq!(by_arn.version, 2);
    // StringList, root names with and without a slash.
    ssm.put_parameter().name("colors").value("red,green,blue").r#type(ParameterType::StringList).send().await.unwrap();
    let p = ssm.get_parameter().name("/colors").send().await.unwrap().parameter.unwrap();
    assert_eq!((p.name.as_deref(), p.arn.as_deref()), (Some("colors"), Some("arn:aws:ssm:us-east-1:123456789012:parameter/colors")));
    assert_eq!(any_code(ssm.put_parameter().name("/colors").value("x").r#type(ParameterType::String).send().await), "ParameterAlreadyExists");
    // GetParameters: sorted, unknown names as sent.
    let g = ssm.get_parameters().names("/app/url").names("colors").names("/missing").names("/app/url:7").send().await.unwrap();
    let names: Vec<_> = g.parameters().iter().map(|p| p.name.clone().unwrap()).collect();
    assert_eq!(names, ["/app/url", "colors"]);
    assert_eq!(g.invalid_parameters(), ["/missing", "/app/url:7"]);
    let eleven: Vec<String> = (0..11).map(|i| format!("/p{i}")).collect();
    assert_eq!(any_code(ssm.get_parameters().set_names(Some(eleven)).send().await), "ValidationException");
    // Errors.
    assert_eq!(any_code(ssm.get_parameter().name("/nope").send().await), "ParameterNotFound");
    assert_eq!(any_code(ssm.put_parameter().name("/new").value("x").send().await), "ValidationException");
    assert_eq!(any_code(ssm.put_parameter().name("/new").value("").r#type(ParameterType::String).send().await), "ValidationException");
    assert_eq!(any_code(ssm.put_parameter().name("/a/b").value("x").r#type(ParameterType::String).tags(tag("k", "v")).overwrite(true).send().await), "ValidationException");
    assert_eq!(any_code(ssm.put_parameter().name("/k").value("x").r#type(ParameterType::String).key_id("alias/aws/ssm").send().await), "ValidationException");
    // DeleteParameter / DeleteParameters.
    ssm.delete_parameter().name("/app/url").send().await.unwrap();
    assert_eq!(any_code(ssm.delete_parameter().name("/app/url").send().await), "ParameterNotFound");
    assert_eq!(any_code(ssm.get_parameter().name("/app/url:1").send().await), "ParameterNotFound");
    ssm.put_parameter().name("/d1").value("x").r#type(ParameterType::String).send().await.unwrap();
    let d = ssm.delete_parameters().names("/d1").names("/d2").send().await.unwrap();
    assert_eq!((d.deleted_parameters(), d.invalid_parameters()), (&["/d1".to_string()][..], &["/d2".to_string()][..]));
    // Recreated after a delete, versions restart.
    let again = ssm.put_parameter().name("/app/url").value("v").r#type(ParameterType::String).send().await.unwrap();
    assert_eq!(again.version, 1);
}

#[tokio::test]
async fn names_and_hierarchies() {
    let c = Coffer::dev();
    let ssm = c.ssm();
    let put = |n: &str| ssm.put_parameter().name(n).value("v").r#type(ParameterType::String).send();
    assert_eq!(any_code(put("a b").await), "ValidationException");
    assert_eq!(any_code(put("a/b").await), "ValidationException");
    assert_eq!(any_code(put("/a//b").await), "ValidationException");
    assert_eq!(any_code(put("ssm_test").await), "ValidationException");
    assert_eq!(any_code(put("/ssm/x").await), "ValidationException");
    assert_eq!(any_code(put("/aws/x/y").await), "AccessDeniedException");
    let deep = format!("/{}", (1..=15).map(|i| format!("l{i}")).collect::<Vec<_>>().join("/"));
    put(&deep).await.unwrap();
    assert_eq!(any_code(put(&format!("{deep}/l16")).await), "HierarchyLevelLimitExceededException");
    assert_eq!(any_code(put(&format!("/{}", "n".repeat(1000))).await), "ValidationException");
    assert_eq!(any_code(ssm.get_parameter().name("/aws/reference/secretsmanager/db").with_decryption(true).send().await), "ParameterNotFound");
}

#[tokio::test]
async fn tiers_sizes_and_limits() {
    let c = Coffer::start(Options { dev: true, args: vec!["--ssm-max-standard".into(), "3".into(), "--ssm-max-advanced".into(), "2".into()], ..Default::default() });
    let ssm = c.ssm();
    let big = "x".repeat(4097);
    let e = ssm.put_parameter().name("/big").value(&big).r#type(ParameterType::String).send().await.unwrap_err();
    {
        use aws_sdk_ssm::error::ProvideErrorMetadata;
        assert_eq!(e.code(), Some("ValidationException"));
        assert!(e.message().unwrap().starts_with("Standard tier parameters support a maximum parameter value of 4096 characters."));
    }
    let adv = ssm.put_parameter().name("/big").value(&big).r#type(ParameterType::String).tier(ParameterTier::Advanced).send().await.unwrap();
    assert_eq!(adv.tier, Some(ParameterTier::Advanced));
    assert_eq!(any_code(ssm.put_parameter().name("/huge").value("x".repeat(8193)).r#type(ParameterType::String).tier(ParameterTier::Advanced).send().await), "ValidationException");
    // Intelligent-Tiering picks Advanced only when needed.
    let it = ssm.put_parameter().name("/small").value("x").r#type(ParameterType::String).tier(ParameterTier::IntelligentTiering).send().await.unwrap();
    assert_eq!(it.tier, Some(ParameterTier::Standard));
    let it2 = ssm.put_parameter().name("/large").value(&big).r#type(ParameterType::SecureString).tier(ParameterTier::IntelligentTiering).send().await.unwrap();
    assert_eq!(it2.tier, Some(ParameterTier::Advanced));
    // An advanced SecureString (envelope encryption) round-trips.
    let p = ssm.get_parameter().name("/large").with_decryption(true).send().await.unwrap().parameter.unwrap();
    assert_eq!(p.value.as_deref(), Some(big.as_str()));
    // No downgrade.
    assert_eq!(any_code(ssm.put_parameter().name("/big").value("y").overwrite(true).tier(ParameterTier::Standard).send().await), "ValidationException");
    let kept = ssm.put_parameter().name("/big").value("y").overwrite(true).send().await.unwrap();
    assert_eq!(kept.tier, Some(ParameterTier::Advanced));
    // Quotas per tier: 3 standard (small + 2 more), 2 advanced.
    ssm.put_parameter().name("/s2").value("x").r#type(ParameterType::String).send().await.unwrap();
    ssm.put_parameter().name("/s3").value("x").r#type(ParameterType::String).send().await.unwrap();
    assert_eq!(any_code(ssm.put_parameter().name("/s4").value("x").r#type(ParameterType::String).send().await), "ParameterLimitExceeded");
    assert_eq!(any_code(ssm.put_parameter().name("/a3").value("x").r#type(ParameterType::String).tier(ParameterTier::Advanced).send().await), "ParameterLimitExceeded");
    ssm.delete_parameter().name("/s3").send().await.unwrap();
    ssm.put_parameter().name("/s4").value("x").r#type(ParameterType::String).send().await.unwrap();
}

#[tokio::test]
async fn allowed_patterns_and_data_types() {
    let c = Coffer::dev();
    let ssm = c.ssm();
    ssm.put_parameter().name("/port").value("8080").r#type(ParameterType::String).allowed_pattern("^\\d+$").send().await.unwrap();
    assert_eq!(any_code(ssm.put_parameter().name("/port").value("80a").overwrite(true).send().await), "ParameterPatternMismatchException");
    assert_eq!(any_code(ssm.put_parameter().name("/bad").value("x").r#type(ParameterType::String).allowed_pattern("([").send().await), "InvalidAllowedPatternException");
    ssm.put_parameter().name("/ami").value("ami-0123456789abcdef0").r#type(ParameterType::String).data_type("aws:ec2:image").send().await.unwrap();
    assert_eq!(any_code(ssm.put_parameter().name("/ami2").value("not-an-ami").r#type(ParameterType::String).data_type("aws:ec2:image").send().await), "ValidationException");
    assert_eq!(any_code(ssm.put_parameter().name("/dt").value("x").r#type(ParameterType::String).data_type("Text").send().await), "ValidationException");
    let p = ssm.get_parameter().name("/ami").send().await.unwrap().parameter.unwrap();
    assert_eq!(p.data_type.as_deref(), Some("aws:ec2:image"));
}

#[tokio::test]
async fn labels_and_the_100_version_limit() {
    let c = Coffer::dev();
    let ssm = c.ssm();
    ssm.put_parameter().name("/v").value("1").r#type(ParameterType::String).send().await.unwrap();
    let l = ssm.label_parameter_version().name("/v").labels("golden").labels("1bad").labels("awsx").send().await.unwrap();
    assert_eq!(l.parameter_version, 1);
    assert_eq!(l.invalid_labels(), ["1bad", "awsx"]);
    ssm.put_parameter().name("/v").value("2").overwrite(true).send().await.unwrap();
    assert_eq!(ssm.get_parameter().name("/v:golden").send().await.unwrap().parameter.unwrap().value.as_deref(), Some("1"));
    // A label moves.
    ssm.label_parameter_version().name("/v").labels("golden").parameter_version(2).send().await.unwrap();
    assert_eq!(ssm.get_parameter().name("/v:golden").send().await.unwrap().parameter.unwrap().value.as_deref(), Some("2"));
    assert_eq!(any_code(ssm.get_parameter().name("/v:silver").send().await), "ParameterNotFound");
    assert_eq!(any_code(ssm.label_parameter_version().name("/v").labels("x").parameter_version(9).send().await), "ParameterVersionNotFound");
    let eleven: Vec<String> = (0..10).map(|i| format!("l{i}")).collect();
    ssm.label_parameter_version().name("/v").set_labels(Some(eleven)).parameter_version(1).send().await.unwrap();
    assert_eq!(any_code(ssm.label_parameter_version().name("/v").labels("l10").parameter_version(1).send().await), "ParameterVersionLabelLimitExceeded");
    let u = ssm.unlabel_parameter_version().name("/v").parameter_version(1).labels("l0").labels("golden").send().await.unwrap();
    assert_eq!((u.removed_labels(), u.invalid_labels()), (&["l0".to_string()][..], &["golden".to_string()][..]));
    // History: oldest first, labels per version, the writer's ARN.
    let h = ssm.get_parameter_history().name("/v").send().await.unwrap();
    assert_eq!(h.parameters().len(), 2);
    assert_eq!(h.parameters()[1].labels(), ["golden"]);
    assert_eq!(h.parameters()[0].last_modified_user.as_deref(), Some("arn:aws:iam::123456789012:root"));
    // Version 1 carries labels: the 101st version cannot be written.
    for i in 3..=100 {
        ssm.put_parameter().name("/v").value(i.to_string()).overwrite(true).send().await.unwrap();
    }
    let e = ssm.put_parameter().name("/v").value("101").overwrite(true).send().await.unwrap_err();
    {
        use aws_sdk_ssm::error::ProvideErrorMetadata;
        assert_eq!(e.code(), Some("ParameterMaxVersionLimitExceeded"));
        assert!(e.message().unwrap().contains("Version 1, the oldest version, can't be deleted because it has a label"));
    }
    let labels: Vec<String> = (1..10).map(|i| format!("l{i}")).collect();
    ssm.unlabel_parameter_version().name("/v").parameter_version(1).set_labels(Some(labels)).send().await.unwrap();
    assert_eq!(ssm.put_parameter().name("/v").value("101").overwrite(true).send().await.unwrap().version, 101);
    assert_eq!(any_code(ssm.get_parameter().name("/v:1").send().await), "ParameterVersionNotFound");
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let page = ssm.get_parameter_history().name("/v").max_results(50).set_next_token(token).send().await.unwrap();
        all.extend(page.parameters().iter().map(|p| p.version));
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(all, (2..=101).collect::<Vec<_>>());
}

#[tokio::test]
async fn concurrent_writers_lose_nothing() {
    let c = Coffer::dev();
    let ssm = c.ssm();
    ssm.put_parameter().name("/counter").value("0").r#type(ParameterType::String).send().await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..32 {
        let ssm = ssm.clone();
        tasks.push(tokio::spawn(async move { ssm.put_parameter().name("/counter").value(format!("w{i}")).overwrite(true).send().await.map(|o| o.version) }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap().expect("no write is refused or lost"));
    }
    versions.sort();
    assert_eq!(versions, (2..=33).collect::<Vec<_>>());
    let h = ssm.get_parameter_history().name("/counter").send().await.unwrap();
    assert_eq!(h.parameters().len(), 33);
}

#[tokio::test]
async fn by_path_describe_and_tags() {
    let c = Coffer::dev();
    let ssm = c.ssm();
    for i in 0..25 {
        ssm.put_parameter().name(format!("/svc/api/p{i:02}")).value(format!("v{i}")).r#type(ParameterType::String).send().await.unwrap();
    }
    ssm.put_parameter().name("/svc/api/deep/x").value("d").r#type(ParameterType::SecureString).send().await.unwrap();
    ssm.put_parameter().name("/svc/top").value("t").r#type(ParameterType::String).send().await.unwrap();
    ssm.put_parameter().name("rootname").value("r").r#type(ParameterType::String).send().await.unwrap();
    // One level, paged by 10.
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = ssm.get_parameters_by_path().path("/svc/api").max_results(10).set_next_token(token).send().await.unwrap();
        assert!(page.parameters().len() <= 10);
        names.extend(page.parameters().iter().map(|p| p.name.clone().unwrap()));
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names.len(), 25);
    assert!(!names.contains(&"/svc/api/deep/x".to_string()));
    let rec = ssm.get_parameters_by_path().path("/svc").recursive(true).with_decryption(true).max_results(10).send().await.unwrap();
    assert_eq!(rec.parameters().len(), 10);
    let deep = ssm.get_parameters_by_path().path("/svc").recursive(true).parameter_filters(filter("Type", None, &["SecureString"])).with_decryption(true).send().await.unwrap();
    assert_eq!(deep.parameters()[0].value.as_deref(), Some("d"));
    let root = ssm.get_parameters_by_path().path("/").send().await.unwrap();
    assert_eq!(root.parameters().iter().map(|p| p.name.clone().unwrap()).collect::<Vec<_>>(), ["rootname"]);
    assert_eq!(any_code(ssm.get_parameters_by_path().path("/svc").parameter_filters(filter("Name", None, &["x"])).send().await), "InvalidFilterKey");
    assert_eq!(any_code(ssm.get_parameters_by_path().path("/svc").parameter_filters(filter("Type", Some("Contains"), &["String"])).send().await), "InvalidFilterOption");
    assert_eq!(any_code(ssm.get_parameters_by_path().path("/svc").parameter_filters(filter("Type", None, &["Bogus"])).send().await), "InvalidFilterValue");
    assert_eq!(any_code(ssm.get_parameters_by_path().path("/svc").next_token("bogus").send().await), "InvalidNextToken");
    assert_eq!(any_code(ssm.get_parameters_by_path().path("/svc").max_results(11).send().await), "ValidationException");
    assert_eq!(any_code(ssm.get_parameters_by_path().path("svc").send().await), "ValidationException");
    // Tags.
    ssm.add_tags_to_resource().resource_type("Parameter".into()).resource_id("/svc/top").tags(tag("env", "prod")).tags(tag("team", "core")).send().await.unwrap();
    let t = ssm.list_tags_for_resource().resource_type("Parameter".into()).resource_id("/svc/top").send().await.unwrap();
    assert_eq!(t.tag_list().len(), 2);
    ssm.remove_tags_from_resource().resource_type("Parameter".into()).resource_id("/svc/top").tag_keys("team").send().await.unwrap();
    assert_eq!(ssm.list_tags_for_resource().resource_type("Parameter".into()).resource_id("/svc/top").send().await.unwrap().tag_list().len(), 1);
    assert_eq!(any_code(ssm.list_tags_for_resource().resource_type("Parameter".into()).resource_id("/none").send().await), "InvalidResourceId");
    assert_eq!(any_code(ssm.list_tags_for_resource().resource_type("Document".into()).resource_id("/svc/top").send().await), "InvalidResourceType");
    let many: Vec<Tag> = (0..50).map(|i| tag(&format!("k{i}"), "v")).collect();
    assert_eq!(any_code(ssm.add_tags_to_resource().resource_type("Parameter".into()).resource_id("/svc/top").set_tags(Some(many)).send().await), "TooManyTagsError");
    ssm.put_parameter().name("/tagged").value("x").r#type(ParameterType::String).tags(tag("env", "dev")).send().await.unwrap();
    // DescribeParameters with filters, paged by 50 at most.
    let d = ssm.describe_parameters().parameter_filters(filter("Path", Some("Recursive"), &["/svc"])).max_results(50).send().await.unwrap();
    assert_eq!(d.parameters().len(), 27);
    let secure = ssm.describe_parameters().parameter_filters(filter("Type", None, &["SecureString"])).send().await.unwrap();
    assert_eq!(secure.parameters().len(), 1);
    assert_eq!(secure.parameters()[0].key_id.as_deref(), Some("alias/aws/ssm"));
    let by_tag = ssm.describe_parameters().parameter_filters(filter("tag:env", None, &[])).send().await.unwrap();
    assert_eq!(by_tag.parameters().len(), 2);
    let begins = ssm.describe_parameters().parameter_filters(filter("Name", Some("BeginsWith"), &["/svc/api/p1"])).send().await.unwrap();
    assert_eq!(begins.parameters().len(), 10);
    let first = ssm.describe_parameters().max_results(5).send().await.unwrap();
    assert_eq!(first.parameters().len(), 5);
    assert!(first.next_token.is_some());
    assert_eq!(any_code(ssm.describe_parameters().max_results(51).send().await), "ValidationException");
    assert_eq!(any_code(ssm.describe_parameters().parameter_filters(filter("Label", None, &["x"])).send().await), "InvalidFilterKey");
    assert_eq!(any_code(ssm.describe_parameters().parameter_filters(filter("Path", None, &["/aws/x"])).send().await), "ValidationException");
}

#[tokio::test]
async fn secure_strings_follow_their_key() {
    let c = Coffer::dev();
    let ssm = c.ssm();
    let kms = c.kms();
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    kms.create_alias().alias_name("alias/params").target_key_id(&key).send().await.unwrap();
    ssm.put_parameter().name("/s").value("classified").r#type(ParameterType::SecureString).key_id("alias/params").send().await.unwrap();
    let md = ssm.describe_parameters().send().await.unwrap();
    assert_eq!(md.parameters()[0].key_id.as_deref(), Some("alias/params"));
    assert_eq!(any_code(ssm.put_parameter().name("/s2").value("x").r#type(ParameterType::SecureString).key_id("alias/none").send().await), "InvalidKeyId");
    kms.disable_key().key_id(&key).send().await.unwrap();
    assert_eq!(any_code(ssm.put_parameter().name("/s3").value("x").r#type(ParameterType::SecureString).key_id(&key).send().await), "InvalidKeyId");
    assert_eq!(any_code(ssm.get_parameter().name("/s").with_decryption(true).send().await), "InvalidKeyId");
    ssm.get_parameter().name("/s").send().await.unwrap();
    kms.enable_key().key_id(&key).send().await.unwrap();
    assert_eq!(ssm.get_parameter().name("/s").with_decryption(true).send().await.unwrap().parameter.unwrap().value.as_deref(), Some("classified"));
    // Nothing half-written: the failed writes created nothing.
    assert_eq!(any_code(ssm.get_parameter().name("/s2").send().await), "ParameterNotFound");
    assert_eq!(any_code(ssm.get_parameter().name("/s3").send().await), "ParameterNotFound");
    // Overwriting a SecureString without KeyId re-encrypts it under the default key.
    ssm.put_parameter().name("/s").value("v2").overwrite(true).send().await.unwrap();
    let h = ssm.get_parameter_history().name("/s").with_decryption(true).send().await.unwrap();
    let vals: Vec<_> = h.parameters().iter().map(|p| (p.value.clone().unwrap(), p.key_id.clone().unwrap())).collect();
    assert_eq!(vals, [("classified".to_string(), "alias/params".to_string()), ("v2".to_string(), "alias/aws/ssm".to_string())]);
}

#[tokio::test]
async fn expiration_policies_delete_parameters() {
    let c = Coffer::dev();
    let ssm = c.ssm();
    let when = std::time::UNIX_EPOCH.elapsed().unwrap().as_secs() + 3 * 86_400;
    let (y, mo, d) = {
        let days = (when / 86_400) as i64;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (yoe + era * 400 + if m <= 2 { 1 } else { 0 }, m, d)
    };
    let policies = format!(
        r#"[{{"Type":"Expiration","Version":"1.0","Attributes":{{"Timestamp":"{y:04}-{mo:02}-{d:02}T00:00:00.000Z"}}}},{{"Type":"ExpirationNotification","Version":"1.0","Attributes":{{"Before":"1","Unit":"Days"}}}}]"#
    );
    assert_eq!(any_code(ssm.put_parameter().name("/temp").value("x").r#type(ParameterType::String).policies(&policies).send().await), "ValidationException");
    let out = ssm.put_parameter().name("/temp").value("x").r#type(ParameterType::String).tier(ParameterTier::IntelligentTiering).policies(&policies).send().await.unwrap();
    assert_eq!(out.tier, Some(ParameterTier::Advanced));
    let md = ssm.describe_parameters().send().await.unwrap();
    let pol = md.parameters()[0].policies();
    assert_eq!(pol.len(), 2);
    assert!(pol.iter().all(|p| p.policy_status.as_deref() == Some("Pending")));
    assert_eq!(any_code(ssm.put_parameter().name("/t2").value("x").r#type(ParameterType::String).tier(ParameterTier::Advanced).policies(r#"[{"Type":"Bogus"}]"#).send().await), "InvalidPolicyTypeException");
    assert_eq!(any_code(ssm.put_parameter().name("/t2").value("x").r#type(ParameterType::String).tier(ParameterTier::Advanced).policies(r#"[{"Type":"Expiration","Attributes":{}}]"#).send().await), "InvalidPolicyAttributeException");
    let r = c.advance_clock(2 * 86_400 + 3_600);
    assert_eq!(r["parameter_notifications"], 1);
    let md = ssm.describe_parameters().send().await.unwrap();
    assert!(md.parameters()[0].policies().iter().any(|p| p.policy_status.as_deref() == Some("Finished")));
    let r = c.advance_clock(86_400);
    assert_eq!(r["expired_parameters"], 1);
    assert_eq!(any_code(ssm.get_parameter().name("/temp").send().await), "ParameterNotFound");
}

#[tokio::test]
async fn parameters_survive_restarts() {
    let dir = temp_dir("ssm-durable");
    let c = Coffer::durable(&dir.join("data"));
    c.ssm().put_parameter().name("/keep/me").value("durable-secret").r#type(ParameterType::SecureString).send().await.unwrap();
    c.ssm().put_parameter().name("/keep/me").value("durable-secret-2").overwrite(true).send().await.unwrap();
    c.ssm().label_parameter_version().name("/keep/me").labels("first").parameter_version(1).send().await.unwrap();
    assert_eq!(c.stop().code(), Some(0));
    let c = Coffer::durable(&dir.join("data"));
    let ssm = c.ssm();
    assert_eq!(ssm.get_parameter().name("/keep/me").with_decryption(true).send().await.unwrap().parameter.unwrap().value.as_deref(), Some("durable-secret-2"));
    assert_eq!(ssm.get_parameter().name("/keep/me:first").with_decryption(true).send().await.unwrap().parameter.unwrap().value.as_deref(), Some("durable-secret"));
    let _ = Creds::new("a", "b");
    assert_eq!(c.stop().code(), Some(0));
}
