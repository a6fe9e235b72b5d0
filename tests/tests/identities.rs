//! Identities, key policies and grants enforced on every call: aws-sdk-iam, aws-sdk-sts and
//! aws-sdk-kms against a durable coffer whose accounts 111111111111 and 222222222222 were created
//! for real with `coffer admin create-account`.

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, GrantConstraints, GrantOperation};
use coffer_it::{Coffer, Creds, Options, any_code, err, read_credentials, temp_dir};

const A: &str = "111111111111";
const B: &str = "222222222222";

/// A durable coffer with accounts A and B and their root credentials.
struct World {
    c: Coffer,
    a: Creds,
    b: Creds,
}

fn admin_create_account(c: &Coffer, account: &str, out: &std::path::Path) -> Creds {
    let status = std::process::Command::new(coffer_it::coffer_bin())
        .args(["admin", "create-account", "--account-id", account, "--endpoint", &c.endpoint])
        .arg("--credentials")
        .arg(c.data_dir.as_ref().unwrap().join("admin-credentials"))
        .arg("--out")
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success());
    let (ak, sk) = read_credentials(out);
    Creds::new(&ak, &sk)
}

fn world() -> World {
    let dir = temp_dir("idw");
    let c = Coffer::start(Options {
        data_dir: Some(dir.join("data")),
        args: vec!["--unsafe-test-clock".into()],
        ..Default::default()
    });
    let a = admin_create_account(&c, A, &dir.join("a.creds"));
    let b = admin_create_account(&c, B, &dir.join("b.creds"));
    World { c, a, b }
}

/// Creates a user with an access key; returns its credentials.
async fn user(c: &Coffer, admin: &Creds, name: &str) -> Creds {
    let iam = c.iam_with(admin);
    iam.create_user().user_name(name).send().await.unwrap();
    let k = iam.create_access_key().user_name(name).send().await.unwrap().access_key.unwrap();
    Creds::new(&k.access_key_id, &k.secret_access_key)
}

const STMT_ROOT: &str = r#"{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:*","Resource":"*"}"#;
const STMT_ADMINS: &str = r#"{"Sid":"Allow access for Key Administrators","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/myapp"},"Action":["kms:Create*","kms:Describe*","kms:Enable*","kms:List*","kms:Put*","kms:Update*","kms:Revoke*","kms:Disable*","kms:Get*","kms:Delete*","kms:TagResource","kms:UntagResource","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion"],"Resource":"*"}"#;
const STMT_USE: &str = r#"{"Sid":"Allow use of the key","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:user/myapp","arn:aws:iam::111111111111:role/myapprole","arn:aws:iam::222222222222:root"]},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"}"#;
const STMT_GRANTS: &str = r#"{"Sid":"Allow attachment of persistent resources","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/myapp"},"Action":["kms:CreateGrant","kms:ListGrants","kms:RevokeGrant"],"Resource":"*","Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}}"#;

fn policy(statements: &[&str]) -> String {
    format!(r#"{{"Version":"2012-10-17","Id":"key-consolepolicy-3","Statement":[{}]}}"#, statements.join(","))
}

#[tokio::test]
async fn the_seed_key_policy_behaves_as_the_seed_explains() {
    let w = world();
    let c = &w.c;
    let myapp = user(c, &w.a, "myapp").await;
    // The role myapp may assume (trust policy names the user).
    c.iam_with(&w.a)
        .create_role()
        .role_name("myapprole")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/myapp"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let root = c.kms_with(&w.a);
    let app = c.kms_with(&myapp);

    // 1. Without the key-usage statement: myapp administers but cannot Encrypt.
    let key = root.create_key().policy(policy(&[STMT_ROOT, STMT_ADMINS, STMT_GRANTS])).send().await.unwrap().key_metadata.unwrap();
    let (id, arn) = (key.key_id.clone(), key.arn.clone().unwrap());
    root.encrypt().key_id(&id).plaintext(Blob::new("root can")).send().await.unwrap();
    app.describe_key().key_id(&id).send().await.unwrap();
    app.disable_key().key_id(&id).send().await.unwrap();
    app.enable_key().key_id(&id).send().await.unwrap();
    app.update_key_description().key_id(&id).description("administered by myapp").send().await.unwrap();
    app.tag_resource().key_id(&id).tags(aws_sdk_kms::types::Tag::builder().tag_key("owner").tag_value("myapp").build().unwrap()).send().await.unwrap();
    app.get_key_policy().key_id(&id).send().await.unwrap();
    let (c1, m1) = err(app.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await);
    assert_eq!(c1, "AccessDeniedException");
    assert_eq!(m1, format!("User: arn:aws:iam::111111111111:user/myapp is not authorized to perform: kms:Encrypt on resource: {arn} because no identity-based policy allows the kms:Encrypt action"));
    let ct = root.encrypt().key_id(&id).plaintext(Blob::new("secret")).send().await.unwrap().ciphertext_blob.unwrap();
    assert_eq!(any_code(app.decrypt().ciphertext_blob(ct.clone()).send().await), "AccessDeniedException");
    // kms:GrantIsForAWSResource is false for a direct call: myapp's grant statement does not
    // apply, but kms:Create* (administrators) does allow CreateGrant — as in AWS.
    app.create_grant().key_id(&id).grantee_principal("arn:aws:iam::111111111111:user/myapp").operations(GrantOperation::Decrypt).send().await.unwrap();

    // 2. The seed's four statements verbatim: myapp may use the key.
    root.put_key_policy().key_id(&id).policy(policy(&[STMT_ROOT, STMT_ADMINS, STMT_USE, STMT_GRANTS])).send().await.unwrap();
    let ct2 = app.encrypt().key_id(&id).plaintext(Blob::new("myapp can")).send().await.unwrap().ciphertext_blob.unwrap();
    assert_eq!(app.decrypt().ciphertext_blob(ct2.clone()).send().await.unwrap().plaintext.unwrap().as_ref(), b"myapp can");
    app.re_encrypt().ciphertext_blob(ct2.clone()).destination_key_id(&id).send().await.unwrap();
    app.generate_data_key().key_id(&id).key_spec(DataKeySpec::Aes256).send().await.unwrap();
    app.generate_data_key_without_plaintext().key_id(&id).key_spec(DataKeySpec::Aes256).send().await.unwrap();
    app.describe_key().key_id(&id).send().await.unwrap();

    // 3. The role, after AssumeRole.
    let sts = c.sts_with(&myapp);
    let s = sts.assume_role().role_arn("arn:aws:iam::111111111111:role/myapprole").role_session_name("job-1").send().await.unwrap();
    let cr = s.credentials.unwrap();
    let session = Creds { access_key: cr.access_key_id, secret_key: cr.secret_access_key, session_token: Some(cr.session_token) };
    assert_eq!(s.assumed_role_user.unwrap().arn, "arn:aws:sts::111111111111:assumed-role/myapprole/job-1");
    let who = c.sts_with(&session).get_caller_identity().send().await.unwrap();
    assert_eq!(who.arn.as_deref(), Some("arn:aws:sts::111111111111:assumed-role/myapprole/job-1"));
    let role_kms = c.kms_with(&session);
    assert_eq!(role_kms.decrypt().ciphertext_blob(ct.clone()).send().await.unwrap().plaintext.unwrap().as_ref(), b"secret");
    assert_eq!(any_code(role_kms.disable_key().key_id(&id).send().await), "AccessDeniedException");

    // 4. Account 222222222222: the key policy names the account; its principals need their own
    //    identity policy too.
    let b_user = user(c, &w.b, "analyst").await;
    let b_kms = c.kms_with(&b_user);
    let (c2, m2) = err(b_kms.encrypt().key_id(&arn).plaintext(Blob::new("x")).send().await);
    assert_eq!(c2, "AccessDeniedException");
    assert!(m2.ends_with("because no identity-based policy allows the kms:Encrypt action"), "{m2}");
    c.iam_with(&w.b)
        .put_user_policy()
        .user_name("analyst")
        .policy_name("use-111-key")
        .policy_document(format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"{arn}"}}]}}"#))
        .send()
        .await
        .unwrap();
    let ct3 = b_kms.encrypt().key_id(&arn).plaintext(Blob::new("from 222")).send().await.unwrap().ciphertext_blob.unwrap();
    assert_eq!(b_kms.decrypt().ciphertext_blob(ct3).send().await.unwrap().plaintext.unwrap().as_ref(), b"from 222");
    // ... but only what both policies allow, and never administration.
    assert_eq!(any_code(b_kms.generate_data_key().key_id(&arn).key_spec(DataKeySpec::Aes256).send().await), "AccessDeniedException");
    assert_eq!(any_code(c.kms_with(&w.b).disable_key().key_id(&arn).send().await), "AccessDeniedException");
    // Account 222's root (no identity policies; the root may do all its account may).
    c.kms_with(&w.b).encrypt().key_id(&arn).plaintext(Blob::new("root of 222")).send().await.unwrap();
    // A key id alone does not reach another account's key.
    assert_eq!(any_code(b_kms.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await), "NotFoundException");

    // 5. kms:GrantIsForAWSResource: with statements 1, 3 and 4 only (myapp a key user, not an
    //    administrator), a direct CreateGrant by myapp is refused.
    let k2 = root.create_key().policy(policy(&[STMT_ROOT, STMT_USE, STMT_GRANTS])).send().await.unwrap().key_metadata.unwrap().key_id;
    let (c3, m3) = err(app.create_grant().key_id(&k2).grantee_principal("arn:aws:iam::111111111111:role/myapprole").operations(GrantOperation::Decrypt).send().await);
    assert_eq!(c3, "AccessDeniedException");
    assert!(m3.contains("kms:CreateGrant"), "{m3}");
    assert_eq!(any_code(app.list_grants().key_id(&k2).send().await), "AccessDeniedException");
    app.encrypt().key_id(&k2).plaintext(Blob::new("but may use it")).send().await.unwrap();
}

#[tokio::test]
async fn a_new_user_can_only_ask_who_it_is() {
    let w = world();
    let c = &w.c;
    let nobody = user(c, &w.a, "nobody").await;
    let who = c.sts_with(&nobody).get_caller_identity().send().await.unwrap();
    assert_eq!(who.arn.as_deref(), Some("arn:aws:iam::111111111111:user/nobody"));
    assert_eq!(who.account.as_deref(), Some(A));
    assert!(who.user_id.unwrap().starts_with("AIDA"));
    let iam = c.iam_with(&nobody);
    let kms = c.kms_with(&nobody);
    assert_eq!(any_code(iam.list_users().send().await), "AccessDenied");
    assert_eq!(any_code(iam.create_user().user_name("x").send().await), "AccessDenied");
    assert_eq!(any_code(iam.get_user().user_name("nobody").send().await), "AccessDenied");
    assert_eq!(any_code(iam.create_access_key().send().await), "AccessDenied");
    assert_eq!(any_code(kms.create_key().send().await), "AccessDeniedException");
    assert_eq!(any_code(kms.list_keys().send().await), "AccessDeniedException");
    assert_eq!(any_code(kms.list_aliases().send().await), "AccessDeniedException");
    assert_eq!(any_code(kms.generate_random().number_of_bytes(8).send().await), "AccessDeniedException");
    let key = c.kms_with(&w.a).create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    assert_eq!(any_code(kms.describe_key().key_id(&key).send().await), "AccessDeniedException");
    assert_eq!(any_code(kms.encrypt().key_id(&key).plaintext(Blob::new("x")).send().await), "AccessDeniedException");
    assert_eq!(any_code(c.sts_with(&nobody).assume_role().role_arn("arn:aws:iam::111111111111:role/none").role_session_name("s1").send().await), "AccessDenied");
    let (m, msg) = {
        let e = iam.list_roles().send().await.unwrap_err();
        use aws_sdk_kms::error::ProvideErrorMetadata;
        (e.code().unwrap().to_string(), e.message().unwrap().to_string())
    };
    assert_eq!(m, "AccessDenied");
    assert_eq!(msg, "User: arn:aws:iam::111111111111:user/nobody is not authorized to perform: iam:ListRoles on resource: arn:aws:iam::111111111111:role/ because no identity-based policy allows the iam:ListRoles action");
}

#[tokio::test]
async fn identity_policy_changes_take_effect_on_the_next_request() {
    let w = world();
    let c = &w.c;
    let dev = user(c, &w.a, "dev").await;
    let admin = c.iam_with(&w.a);
    let kms = c.kms_with(&dev);
    let key = c.kms_with(&w.a).create_key().send().await.unwrap().key_metadata.unwrap();
    let arn = key.arn.unwrap();
    // A customer managed policy, attached and detached.
    let p = admin
        .create_policy()
        .policy_name("kms-use")
        .policy_document(format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"{arn}"}}]}}"#))
        .send()
        .await
        .unwrap()
        .policy
        .unwrap();
    let parn = p.arn.unwrap();
    assert_eq!(any_code(kms.encrypt().key_id(&arn).plaintext(Blob::new("x")).send().await), "AccessDeniedException");
    admin.attach_user_policy().user_name("dev").policy_arn(&parn).send().await.unwrap();
    kms.encrypt().key_id(&arn).plaintext(Blob::new("x")).send().await.unwrap();
    let att = admin.list_attached_user_policies().user_name("dev").send().await.unwrap();
    assert_eq!(att.attached_policies()[0].policy_arn.as_deref(), Some(parn.as_str()));
    assert_eq!(admin.get_policy().policy_arn(&parn).send().await.unwrap().policy.unwrap().attachment_count, Some(1));
    assert_eq!(any_code(admin.delete_policy().policy_arn(&parn).send().await), "DeleteConflict");
    admin.detach_user_policy().user_name("dev").policy_arn(&parn).send().await.unwrap();
    assert_eq!(any_code(kms.encrypt().key_id(&arn).plaintext(Blob::new("x")).send().await), "AccessDeniedException");
    // An AWS managed policy.
    admin.attach_user_policy().user_name("dev").policy_arn("arn:aws:iam::aws:policy/AdministratorAccess").send().await.unwrap();
    kms.encrypt().key_id(&arn).plaintext(Blob::new("x")).send().await.unwrap();
    c.iam_with(&dev).list_users().send().await.unwrap();
    // An explicit Deny (inline) beats every Allow.
    admin
        .put_user_policy()
        .user_name("dev")
        .policy_name("no-encrypt")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"kms:Encrypt","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let (code, msg) = err(kms.encrypt().key_id(&arn).plaintext(Blob::new("x")).send().await);
    assert_eq!(code, "AccessDeniedException");
    assert!(msg.ends_with("with an explicit deny in an identity-based policy"), "{msg}");
    admin.delete_user_policy().user_name("dev").policy_name("no-encrypt").send().await.unwrap();
    kms.encrypt().key_id(&arn).plaintext(Blob::new("x")).send().await.unwrap();
    // A Deny in the key policy beats the account's permissions, including the root's.
    c.kms_with(&w.a)
        .put_key_policy()
        .key_id(&arn)
        .policy(format!(
            r#"{{"Version":"2012-10-17","Statement":[{},{{"Effect":"Deny","Principal":{{"AWS":"arn:aws:iam::111111111111:user/dev"}},"Action":"kms:Encrypt","Resource":"*"}}]}}"#,
            STMT_ROOT
        ))
        .send()
        .await
        .unwrap();
    let (_, msg) = err(kms.encrypt().key_id(&arn).plaintext(Blob::new("x")).send().await);
    assert!(msg.ends_with("with an explicit deny in a resource-based policy"), "{msg}");
    kms.decrypt().ciphertext_blob(c.kms_with(&w.a).encrypt().key_id(&arn).plaintext(Blob::new("x")).send().await.unwrap().ciphertext_blob.unwrap()).send().await.unwrap();
}

#[tokio::test]
async fn access_keys_stop_working_at_once() {
    let w = world();
    let c = &w.c;
    let bob = user(c, &w.a, "bob").await;
    let admin = c.iam_with(&w.a);
    c.sts_with(&bob).get_caller_identity().send().await.unwrap();
    admin.update_access_key().user_name("bob").access_key_id(&bob.access_key).status(aws_sdk_iam::types::StatusType::Inactive).send().await.unwrap();
    assert_eq!(any_code(c.sts_with(&bob).get_caller_identity().send().await), "InvalidClientTokenId");
    assert_eq!(any_code(c.kms_with(&bob).list_keys().send().await), "UnrecognizedClientException");
    let listed = admin.list_access_keys().user_name("bob").send().await.unwrap();
    assert_eq!(listed.access_key_metadata()[0].status.as_ref().unwrap().as_str(), "Inactive");
    admin.update_access_key().user_name("bob").access_key_id(&bob.access_key).status(aws_sdk_iam::types::StatusType::Active).send().await.unwrap();
    c.sts_with(&bob).get_caller_identity().send().await.unwrap();
    // Two keys per user at most.
    admin.create_access_key().user_name("bob").send().await.unwrap();
    assert_eq!(any_code(admin.create_access_key().user_name("bob").send().await), "LimitExceeded");
    // A user with keys cannot be deleted; deleting the key revokes it at once.
    assert_eq!(any_code(admin.delete_user().user_name("bob").send().await), "DeleteConflict");
    admin.delete_access_key().user_name("bob").access_key_id(&bob.access_key).send().await.unwrap();
    assert_eq!(any_code(c.sts_with(&bob).get_caller_identity().send().await), "InvalidClientTokenId");
    assert_eq!(any_code(admin.delete_access_key().user_name("bob").access_key_id(&bob.access_key).send().await), "NoSuchEntity");
    // Wrong secret on the IAM protocol.
    let wrong = Creds::new(&w.a.access_key, "wrong");
    assert_eq!(any_code(c.iam_with(&wrong).list_users().send().await), "SignatureDoesNotMatch");
}

#[tokio::test]
async fn iam_entities_and_their_errors() {
    let w = world();
    let iam = w.c.iam_with(&w.a);
    let u = iam
        .create_user()
        .user_name("alice")
        .path("/engineering/")
        .tags(aws_sdk_iam::types::Tag::builder().key("team").value("core").build().unwrap())
        .send()
        .await
        .unwrap()
        .user
        .unwrap();
    assert_eq!(u.arn, "arn:aws:iam::111111111111:user/engineering/alice");
    assert!(u.user_id.starts_with("AIDA"));
    assert_eq!(any_code(iam.create_user().user_name("alice").send().await), "EntityAlreadyExists");
    assert_eq!(any_code(iam.create_user().user_name("bad name!").send().await), "ValidationError");
    assert_eq!(any_code(iam.get_user().user_name("ghost").send().await), "NoSuchEntity");
    let got = iam.get_user().user_name("alice").send().await.unwrap().user.unwrap();
    assert_eq!(got.tags()[0].value, "core");
    iam.tag_user().user_name("alice").tags(aws_sdk_iam::types::Tag::builder().key("level").value("3").build().unwrap()).send().await.unwrap();
    assert_eq!(iam.get_user().user_name("alice").send().await.unwrap().user.unwrap().tags().len(), 2);
    assert_eq!(any_code(iam.tag_user().user_name("alice").tags(aws_sdk_iam::types::Tag::builder().key("aws:x").value("1").build().unwrap()).send().await), "InvalidInput");
    for n in ["bob", "carol", "dave"] {
        iam.create_user().user_name(n).send().await.unwrap();
    }
    let p1 = iam.list_users().max_items(2).send().await.unwrap();
    assert!(p1.is_truncated);
    let p2 = iam.list_users().max_items(2).marker(p1.marker.clone().unwrap()).send().await.unwrap();
    assert_eq!(p1.users().len() + p2.users().len(), 4);
    assert!(!p2.is_truncated);
    assert_eq!(iam.list_users().path_prefix("/engineering/").send().await.unwrap().users().len(), 1);
    // Inline policies.
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:DescribeKey","Resource":"*"}]}"#;
    iam.put_user_policy().user_name("bob").policy_name("describe").policy_document(doc).send().await.unwrap();
    let gp = iam.get_user_policy().user_name("bob").policy_name("describe").send().await.unwrap();
    let decoded: String = percent_decode(&gp.policy_document);
    assert_eq!(decoded, doc);
    assert_eq!(iam.list_user_policies().user_name("bob").send().await.unwrap().policy_names(), ["describe"]);
    assert_eq!(any_code(iam.put_user_policy().user_name("bob").policy_name("bad").policy_document(r#"{"Statement":[{"Effect":"Allow","Action":"kms:x","Resource":"*","Principal":"*"}]}"#).send().await), "MalformedPolicyDocument");
    assert_eq!(any_code(iam.put_user_policy().user_name("bob").policy_name("bad").policy_document("{nope").send().await), "MalformedPolicyDocument");
    assert_eq!(any_code(iam.get_user_policy().user_name("bob").policy_name("none").send().await), "NoSuchEntity");
    assert_eq!(any_code(iam.delete_user().user_name("bob").send().await), "DeleteConflict");
    iam.delete_user_policy().user_name("bob").policy_name("describe").send().await.unwrap();
    iam.delete_user().user_name("bob").send().await.unwrap();
    assert_eq!(any_code(iam.delete_user().user_name("bob").send().await), "NoSuchEntity");
    // Roles.
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"sts:AssumeRole"}]}"#;
    let r = iam.create_role().role_name("partner").assume_role_policy_document(trust).max_session_duration(7200).send().await.unwrap().role.unwrap();
    assert!(r.role_id.starts_with("AROA"));
    assert_eq!(percent_decode(r.assume_role_policy_document.as_deref().unwrap()), trust);
    assert_eq!(any_code(iam.create_role().role_name("partner").assume_role_policy_document(trust).send().await), "EntityAlreadyExists");
    assert_eq!(any_code(iam.create_role().role_name("ghosts").assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::333333333333:root"},"Action":"sts:AssumeRole"}]}"#).send().await), "MalformedPolicyDocument");
    assert_eq!(any_code(iam.create_role().role_name("x").assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}"#).send().await), "MalformedPolicyDocument");
    iam.put_role_policy().role_name("partner").policy_name("p").policy_document(doc).send().await.unwrap();
    assert_eq!(iam.list_role_policies().role_name("partner").send().await.unwrap().policy_names(), ["p"]);
    iam.attach_role_policy().role_name("partner").policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess").send().await.unwrap();
    assert_eq!(iam.list_attached_role_policies().role_name("partner").send().await.unwrap().attached_policies().len(), 1);
    assert_eq!(any_code(iam.attach_role_policy().role_name("partner").policy_arn("arn:aws:iam::111111111111:policy/missing").send().await), "NoSuchEntity");
    assert_eq!(any_code(iam.delete_role().role_name("partner").send().await), "DeleteConflict");
    iam.update_assume_role_policy().role_name("partner").policy_document(trust.replace("222222222222:root", "111111111111:root")).send().await.unwrap();
    iam.delete_role_policy().role_name("partner").policy_name("p").send().await.unwrap();
    iam.detach_role_policy().role_name("partner").policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess").send().await.unwrap();
    assert_eq!(iam.list_roles().send().await.unwrap().roles().len(), 1);
    iam.delete_role().role_name("partner").send().await.unwrap();
    assert_eq!(any_code(iam.get_role().role_name("partner").send().await), "NoSuchEntity");
    // Managed policies.
    let mp = iam.create_policy().policy_name("p1").policy_document(doc).description("d").send().await.unwrap().policy.unwrap();
    assert_eq!(mp.arn.as_deref(), Some("arn:aws:iam::111111111111:policy/p1"));
    assert_eq!(any_code(iam.create_policy().policy_name("p1").policy_document(doc).send().await), "EntityAlreadyExists");
    let v = iam.get_policy_version().policy_arn("arn:aws:iam::111111111111:policy/p1").version_id("v1").send().await.unwrap();
    assert_eq!(percent_decode(v.policy_version.unwrap().document.as_deref().unwrap()), doc);
    let local = iam.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Local).send().await.unwrap();
    assert_eq!(local.policies().len(), 1);
    let aws = iam.list_policies().scope(aws_sdk_iam::types::PolicyScopeType::Aws).send().await.unwrap();
    assert!(aws.policies().iter().any(|p| p.policy_name.as_deref() == Some("AdministratorAccess")));
    iam.delete_policy().policy_arn("arn:aws:iam::111111111111:policy/p1").send().await.unwrap();
    // Another account sees none of it.
    let other = w.c.iam_with(&w.b);
    assert_eq!(any_code(other.get_user().user_name("alice").send().await), "NoSuchEntity");
    assert!(other.list_users().send().await.unwrap().users().is_empty());
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn assume_role_enforces_the_trust_policy() {
    let w = world();
    let c = &w.c;
    let alice = user(c, &w.a, "alice").await;
    let mallory = user(c, &w.a, "mallory").await;
    let admin = c.iam_with(&w.a);
    admin
        .create_role()
        .role_name("deployer")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/alice"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"ticket-42"}}}]}"#)
        .max_session_duration(3600)
        .send()
        .await
        .unwrap();
    admin
        .put_role_policy()
        .role_name("deployer")
        .policy_name("keys")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:CreateKey","kms:ListKeys","kms:DescribeKey"],"Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let role = "arn:aws:iam::111111111111:role/deployer";
    assert_eq!(any_code(c.sts_with(&alice).assume_role().role_arn(role).role_session_name("s").send().await), "ValidationError");
    assert_eq!(any_code(c.sts_with(&alice).assume_role().role_arn(role).role_session_name("s1").send().await), "AccessDenied");
    assert_eq!(any_code(c.sts_with(&mallory).assume_role().role_arn(role).role_session_name("s1").external_id("ticket-42").send().await), "AccessDenied");
    let (code, msg) = {
        use aws_sdk_kms::error::ProvideErrorMetadata;
        let e = c.sts_with(&w.a).assume_role().role_arn(role).role_session_name("s1").send().await.unwrap_err();
        (e.code().unwrap().to_string(), e.message().unwrap().to_string())
    };
    assert_eq!((code.as_str(), msg.as_str()), ("AccessDenied", "Roles may not be assumed by root accounts."));
    assert_eq!(any_code(c.sts_with(&alice).assume_role().role_arn(role).role_session_name("s1").external_id("ticket-42").duration_seconds(7200).send().await), "ValidationError");
    let out = c.sts_with(&alice).assume_role().role_arn(role).role_session_name("deploy-7").external_id("ticket-42").duration_seconds(900).send().await.unwrap();
    let cr = out.credentials.unwrap();
    assert!(cr.access_key_id.starts_with("ASIA"));
    let exp = cr.expiration.secs() - std::time::UNIX_EPOCH.elapsed().unwrap().as_secs() as i64;
    assert!((890..=905).contains(&exp), "{exp}");
    let session = Creds { access_key: cr.access_key_id.clone(), secret_key: cr.secret_access_key.clone(), session_token: Some(cr.session_token.clone()) };
    let kms = c.kms_with(&session);
    let key = kms.create_key().send().await.unwrap().key_metadata.unwrap();
    assert_eq!(key.aws_account_id.as_deref(), Some(A));
    assert_eq!(any_code(kms.encrypt().key_id(&key.key_id).plaintext(Blob::new("x")).send().await), "AccessDeniedException");
    assert_eq!(any_code(c.iam_with(&session).list_users().send().await), "AccessDenied");
    // A wrong or missing session token is refused.
    let forged = Creds { session_token: Some("CofferSessionforged".into()), ..session.clone() };
    assert_eq!(any_code(c.kms_with(&forged).list_keys().send().await), "UnrecognizedClientException");
    let tokenless = Creds { session_token: None, ..session.clone() };
    assert_eq!(any_code(c.kms_with(&tokenless).list_keys().send().await), "UnrecognizedClientException");
    // A session policy narrows the session.
    let narrow = c
        .sts_with(&alice)
        .assume_role()
        .role_arn(role)
        .role_session_name("narrow")
        .external_id("ticket-42")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap();
    let narrow = Creds { access_key: narrow.access_key_id, secret_key: narrow.secret_access_key, session_token: Some(narrow.session_token) };
    c.kms_with(&narrow).list_keys().send().await.unwrap();
    assert_eq!(any_code(c.kms_with(&narrow).create_key().send().await), "AccessDeniedException");
    // Expiry: after the session's lifetime its credentials stop working.
    c.advance_clock(901);
    assert_eq!(any_code(kms.list_keys().send().await), "ExpiredTokenException");
    assert_eq!(any_code(c.sts_with(&session).get_caller_identity().send().await), "ExpiredToken");
}

#[tokio::test]
async fn grants_give_and_lose_access() {
    let w = world();
    let c = &w.c;
    let g = user(c, &w.a, "grantee").await;
    let ret = user(c, &w.a, "retirer").await;
    let root = c.kms_with(&w.a);
    let gk = c.kms_with(&g);
    let key = root.create_key().send().await.unwrap().key_metadata.unwrap();
    let (id, arn) = (key.key_id, key.arn.unwrap());
    assert_eq!(any_code(gk.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await), "AccessDeniedException");
    let grant = root
        .create_grant()
        .key_id(&id)
        .grantee_principal("arn:aws:iam::111111111111:user/grantee")
        .retiring_principal("arn:aws:iam::111111111111:user/retirer")
        .operations(GrantOperation::Encrypt)
        .operations(GrantOperation::Decrypt)
        .constraints(GrantConstraints::builder().encryption_context_subset("Dept", "IT").build())
        .name("it-dept")
        .send()
        .await
        .unwrap();
    let (gid, token) = (grant.grant_id.unwrap(), grant.grant_token.unwrap());
    // Same name and parameters: the same grant (new token).
    let again = root
        .create_grant()
        .key_id(&id)
        .grantee_principal("arn:aws:iam::111111111111:user/grantee")
        .retiring_principal("arn:aws:iam::111111111111:user/retirer")
        .operations(GrantOperation::Decrypt)
        .operations(GrantOperation::Encrypt)
        .constraints(GrantConstraints::builder().encryption_context_subset("Dept", "IT").build())
        .name("it-dept")
        .send()
        .await
        .unwrap();
    assert_eq!(again.grant_id.as_deref(), Some(gid.as_str()));
    // Works at once, with its token or without; keys case-insensitive, values exact.
    let ct = gk.encrypt().key_id(&id).plaintext(Blob::new("p")).encryption_context("dept", "IT").grant_tokens(&token).send().await.unwrap().ciphertext_blob.unwrap();
    gk.decrypt().ciphertext_blob(ct.clone()).encryption_context("dept", "IT").send().await.unwrap();
    assert_eq!(any_code(gk.encrypt().key_id(&id).plaintext(Blob::new("p")).encryption_context("Dept", "it").send().await), "AccessDeniedException");
    assert_eq!(any_code(gk.encrypt().key_id(&id).plaintext(Blob::new("p")).send().await), "AccessDeniedException");
    assert_eq!(any_code(gk.describe_key().key_id(&id).send().await), "AccessDeniedException");
    assert_eq!(any_code(gk.encrypt().key_id(&id).plaintext(Blob::new("p")).encryption_context("Dept", "IT").grant_tokens("not-a-token").send().await), "InvalidGrantTokenException");
    // Listing.
    let list = root.list_grants().key_id(&id).send().await.unwrap();
    assert_eq!(list.grants().len(), 1);
    let e = &list.grants()[0];
    assert_eq!(e.key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(e.name.as_deref(), Some("it-dept"));
    assert_eq!(e.issuing_account.as_deref(), Some("arn:aws:iam::111111111111:root"));
    assert_eq!(e.operations().len(), 2);
    let retirable = root.list_retirable_grants().retiring_principal("arn:aws:iam::111111111111:user/retirer").send().await.unwrap();
    assert_eq!(retirable.grants().len(), 1);
    // Bad grants.
    assert_eq!(any_code(root.create_grant().key_id(&id).grantee_principal("arn:aws:iam::111111111111:user/ghost").operations(GrantOperation::Decrypt).send().await), "ValidationException");
    assert_eq!(any_code(root.create_grant().key_id(&id).grantee_principal("arn:aws:iam::111111111111:user/grantee").operations(GrantOperation::Sign).send().await), "ValidationException");
    assert_eq!(any_code(root.create_grant().key_id(&id).grantee_principal("arn:aws:iam::111111111111:user/grantee").operations(GrantOperation::DescribeKey).constraints(GrantConstraints::builder().encryption_context_equals("a", "b").build()).send().await), "ValidationException");
    // The grantee cannot retire a grant without RetireGrant; the retiring principal can.
    assert_eq!(any_code(gk.retire_grant().grant_token(&token).send().await), "AccessDeniedException");
    c.kms_with(&ret).retire_grant().grant_token(&token).send().await.unwrap();
    assert_eq!(any_code(gk.encrypt().key_id(&id).plaintext(Blob::new("p")).encryption_context("Dept", "IT").send().await), "AccessDeniedException");
    assert_eq!(any_code(gk.encrypt().key_id(&id).plaintext(Blob::new("p")).encryption_context("Dept", "IT").grant_tokens(&token).send().await), "InvalidGrantTokenException");
    // RevokeGrant, and a cross-account grant.
    let b_user = user(c, &w.b, "partner").await;
    let b_kms = c.kms_with(&b_user);
    let g2 = root
        .create_grant()
        .key_id(&id)
        .grantee_principal("arn:aws:iam::222222222222:user/partner")
        .operations(GrantOperation::GenerateDataKey)
        .operations(GrantOperation::Decrypt)
        .send()
        .await
        .unwrap()
        .grant_id
        .unwrap();
    let dk = b_kms.generate_data_key().key_id(&arn).key_spec(DataKeySpec::Aes256).send().await.unwrap();
    b_kms.decrypt().ciphertext_blob(dk.ciphertext_blob.unwrap()).send().await.unwrap();
    assert_eq!(any_code(b_kms.encrypt().key_id(&arn).plaintext(Blob::new("x")).send().await), "AccessDeniedException");
    root.revoke_grant().key_id(&id).grant_id(&g2).send().await.unwrap();
    assert_eq!(any_code(b_kms.generate_data_key().key_id(&arn).key_spec(DataKeySpec::Aes256).send().await), "AccessDeniedException");
    assert_eq!(any_code(root.revoke_grant().key_id(&id).grant_id(&g2).send().await), "NotFoundException");
    assert!(root.list_grants().key_id(&id).send().await.unwrap().grants().is_empty());
    // A grant for CreateGrant lets its grantee delegate a subset, no wider.
    let g3 = root
        .create_grant()
        .key_id(&id)
        .grantee_principal("arn:aws:iam::111111111111:user/grantee")
        .operations(GrantOperation::CreateGrant)
        .operations(GrantOperation::Decrypt)
        .send()
        .await
        .unwrap();
    assert!(g3.grant_id.is_some());
    gk.create_grant().key_id(&id).grantee_principal("arn:aws:iam::111111111111:user/retirer").operations(GrantOperation::Decrypt).send().await.unwrap();
    assert_eq!(any_code(gk.create_grant().key_id(&id).grantee_principal("arn:aws:iam::111111111111:user/retirer").operations(GrantOperation::Encrypt).send().await), "AccessDeniedException");
}

#[tokio::test]
async fn condition_keys_and_variables() {
    let w = world();
    let c = &w.c;
    let u = user(c, &w.a, "carol").await;
    let admin = c.iam_with(&w.a);
    let key = c.kms_with(&w.a).create_key().send().await.unwrap().key_metadata.unwrap();
    c.kms_with(&w.a).create_alias().alias_name("alias/payroll").target_key_id(&key.key_id).send().await.unwrap();
    admin
        .put_user_policy()
        .user_name("carol")
        .policy_name("conditional")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:app":"billing"}}},
            {"Effect":"Allow","Action":"kms:DescribeKey","Resource":"*","Condition":{"StringEquals":{"kms:RequestAlias":"alias/payroll"}}},
            {"Effect":"Allow","Action":"kms:GenerateDataKey","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/payroll"}}},
            {"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
            {"Effect":"Allow","Action":"iam:GetUser","Resource":"arn:aws:iam::111111111111:user/${aws:username}"},
            {"Effect":"Allow","Action":"kms:ListKeys","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"},"StringLike":{"aws:PrincipalArn":"arn:aws:iam::111111111111:user/c*"}}}
        ]}"#)
        .send()
        .await
        .unwrap();
    let kms = c.kms_with(&u);
    kms.encrypt().key_id(&key.key_id).plaintext(Blob::new("x")).encryption_context("app", "billing").send().await.unwrap();
    assert_eq!(any_code(kms.encrypt().key_id(&key.key_id).plaintext(Blob::new("x")).encryption_context("app", "other").send().await), "AccessDeniedException");
    assert_eq!(any_code(kms.encrypt().key_id(&key.key_id).plaintext(Blob::new("x")).send().await), "AccessDeniedException");
    kms.describe_key().key_id("alias/payroll").send().await.unwrap();
    assert_eq!(any_code(kms.describe_key().key_id(&key.key_id).send().await), "AccessDeniedException");
    kms.generate_data_key().key_id(&key.key_id).key_spec(DataKeySpec::Aes128).send().await.unwrap();
    let ct = c.kms_with(&w.a).encrypt().key_id(&key.key_id).plaintext(Blob::new("x")).send().await.unwrap().ciphertext_blob.unwrap();
    assert_eq!(any_code(kms.decrypt().ciphertext_blob(ct).send().await), "AccessDeniedException"); // from 127.0.0.1
    let iam = c.iam_with(&u);
    iam.get_user().user_name("carol").send().await.unwrap();
    admin.create_user().user_name("dan").send().await.unwrap();
    assert_eq!(any_code(iam.get_user().user_name("dan").send().await), "AccessDenied");
    kms.list_keys().send().await.unwrap();
}

#[tokio::test]
async fn dev_mode_serves_iam_and_sts() {
    let c = Coffer::dev();
    let root = Creds::new("AKIAANYTHING", "anything");
    let iam = c.iam_with(&root);
    iam.create_user().user_name("ci").send().await.unwrap();
    let k = iam.create_access_key().user_name("ci").send().await.unwrap().access_key.unwrap();
    // Unknown credentials are the account root; credentials Coffer issued are their principal.
    let who = c.sts_with(&root).get_caller_identity().send().await.unwrap();
    assert_eq!(who.arn.as_deref(), Some("arn:aws:iam::123456789012:root"));
    let ci = Creds::new(&k.access_key_id, &k.secret_access_key);
    let who = c.sts_with(&ci).get_caller_identity().send().await.unwrap();
    assert_eq!(who.arn.as_deref(), Some("arn:aws:iam::123456789012:user/ci"));
    iam.create_role()
        .role_name("r")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/ci"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let s = c.sts_with(&ci).assume_role().role_arn("arn:aws:iam::123456789012:role/r").role_session_name("t1").send().await.unwrap();
    assert_eq!(s.assumed_role_user.unwrap().arn, "arn:aws:sts::123456789012:assumed-role/r/t1");
}

/// IAM names are case-insensitive but keep their spelling; a mixed-case user's access key must
/// still work after a restart (its record names the user as spelt).
#[tokio::test]
async fn mixed_case_users_survive_a_restart() {
    let dir = temp_dir("mixedcase");
    let c = Coffer::start(Options { data_dir: Some(dir.join("data")), ..Default::default() });
    let admin = c.creds();
    let iam = c.iam_with(&admin);
    let creds = user(&c, &admin, "MixedCase").await;
    iam.put_user_policy()
        .user_name("MIXEDCASE")
        .policy_name("list")
        .policy_document(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(any_code(iam.create_user().user_name("mixedcase").send().await), "EntityAlreadyExists");
    assert!(c.kms_with(&creds).list_keys().send().await.is_ok());
    assert_eq!(c.stop().code(), Some(0));
    let c = Coffer::start(Options { data_dir: Some(dir.join("data")), ..Default::default() });
    assert!(c.kms_with(&creds).list_keys().send().await.is_ok());
    let u = c.iam_with(&c.creds()).get_user().user_name("mixedCASE").send().await.unwrap().user.unwrap();
    assert_eq!(u.user_name, "MixedCase");
    assert_eq!(c.stop().code(), Some(0));
}
