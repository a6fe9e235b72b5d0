"""boto3: IAM identities and STS sessions using KMS keys (and Parameter Store), with real accounts.

The seed document's accounts 111111111111 and 222222222222 are created on the durable Coffer with
`coffer admin create-account` (conftest.seed_accounts); users and roles are created for real with
IAM and act with their own access keys or AssumeRole sessions. Covered: cross-account key use (the
key policy and the caller's identity policy must both allow), grants with an encryption-context
constraint, the seed document's four-statement key policy (docs/policy.md's worked examples),
AssumeRole's rules (trust policy, root, ExternalId, session policy, duration, expiry on the --dev
server's clock), and which KMS permissions Parameter Store's SecureStrings need."""

from __future__ import annotations

import json

import pytest

from helpers import REGION, SEED_ACCOUNT, SEED_POLICY, random_account, raises, unique

OTHER_ACCOUNT = "222222222222"


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


class Account:
    """boto3 clients of one account's root, and helpers to make its users and roles."""

    def __init__(self, server, account_id: str, credentials: tuple[str, str]):
        self.server, self.id, self.credentials = server, account_id, credentials
        self.kms = server.client(*credentials)
        self.iam = server.client(*credentials, service="iam")
        self.sts = server.client(*credentials, service="sts")

    def user(self, name: str, policy: str | None = None) -> tuple[str, tuple[str, str]]:
        """Creates user `name` (optionally with an inline policy) and an access key for it;
        (user ARN, (access key id, secret))."""
        arn = self.iam.create_user(UserName=name)["User"]["Arn"]
        assert arn == f"arn:aws:iam::{self.id}:user/{name}"
        if policy:
            self.iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=policy)
        ak = self.iam.create_access_key(UserName=name)["AccessKey"]
        return arn, (ak["AccessKeyId"], ak["SecretAccessKey"])

    def client(self, credentials: tuple[str, ...], service: str = "kms"):
        """A client with `credentials`: (access key id, secret) or (..., session token)."""
        return self.server.client(*credentials[:2], service=service,
                                  session_token=credentials[2] if len(credentials) > 2 else None)


@pytest.fixture(scope="module")
def a111(durable, seed_accounts) -> Account:
    return Account(durable, SEED_ACCOUNT, seed_accounts[SEED_ACCOUNT])


@pytest.fixture(scope="module")
def a222(durable, seed_accounts) -> Account:
    return Account(durable, OTHER_ACCOUNT, seed_accounts[OTHER_ACCOUNT])


def test_accounts_are_real(a111, a222):
    for acct in (a111, a222):
        me = acct.sts.get_caller_identity()
        assert me["Account"] == acct.id and me["Arn"] == f"arn:aws:iam::{acct.id}:root"


def test_cross_account_encrypt_needs_key_policy_and_identity_policy(a111, a222):
    key = a111.kms.create_key(Description="shared with 222", Policy=doc(
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{a111.id}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "Let 222 encrypt", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{a222.id}:root"}, "Action": "kms:Encrypt", "Resource": "*"},
    ))["KeyMetadata"]
    arn = key["Arn"]
    name = unique("analyst-")
    user_arn, creds = a222.user(name)
    analyst = a222.client(creds)

    e = raises("AccessDeniedException", analyst.encrypt, KeyId=arn, Plaintext=b"x")
    msg = e.response["Error"]["Message"]
    assert f"User: {user_arn} is not authorized to perform: kms:Encrypt on resource: {arn}" in msg
    assert "no identity-based policy allows" in msg

    # An identity policy in 222 allowing every KMS action on the key: only what the key policy
    # allows (Encrypt) goes through.
    a222.iam.put_user_policy(UserName=name, PolicyName="use-111-key", PolicyDocument=doc(
        {"Effect": "Allow", "Action": "kms:*", "Resource": arn}))
    ct = analyst.encrypt(KeyId=arn, Plaintext=b"from 222", EncryptionContext={"who": "analyst"})
    assert ct["KeyId"] == arn
    e = raises("AccessDeniedException", analyst.decrypt, CiphertextBlob=ct["CiphertextBlob"],
               EncryptionContext={"who": "analyst"})
    assert "no resource-based policy allows" in e.response["Error"]["Message"]
    raises("AccessDeniedException", analyst.disable_key, KeyId=arn)  # administration is never cross-account
    # A key in another account is named by its ARN: the bare key id means a key of the caller's.
    raises("NotFoundException", analyst.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    assert a111.kms.decrypt(CiphertextBlob=ct["CiphertextBlob"], EncryptionContext={"who": "analyst"})["Plaintext"] == b"from 222"

    # Removing the identity policy denies again, on the next request.
    a222.iam.delete_user_policy(UserName=name, PolicyName="use-111-key")
    raises("AccessDeniedException", analyst.encrypt, KeyId=arn, Plaintext=b"x")
    # 222's root has its account's permissions without identity policies.
    assert a222.kms.encrypt(KeyId=arn, Plaintext=b"root of 222")["KeyId"] == arn


def test_grant_with_encryption_context_constraint(a111):
    key = a111.kms.create_key(Description="granted")["KeyMetadata"]
    name = unique("grantee-")
    user_arn, creds = a111.user(name)
    grantee = a111.client(creds)
    ctx = {"app": "billing", "tenant": "t-1"}
    raises("AccessDeniedException", grantee.encrypt, KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext=ctx)

    grant = a111.kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=user_arn, RetiringPrincipal=user_arn,
        Operations=["Encrypt", "Decrypt"], Constraints={"EncryptionContextSubset": {"app": "billing"}},
        Name="compat-grant",
    )
    listed = a111.kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert [g["GrantId"] for g in listed] == [grant["GrantId"]]
    g = listed[0]
    assert g["GranteePrincipal"] == user_arn and g["RetiringPrincipal"] == user_arn
    assert sorted(g["Operations"]) == ["Decrypt", "Encrypt"] and g["Name"] == "compat-grant"
    assert g["Constraints"] == {"EncryptionContextSubset": {"app": "billing"}}
    assert g["KeyId"] == key["Arn"]
    retirable = a111.kms.list_retirable_grants(RetiringPrincipal=user_arn)["Grants"]
    assert grant["GrantId"] in [x["GrantId"] for x in retirable]

    # The grantee uses the grant (with its token first, as right after CreateGrant in AWS).
    ct = grantee.encrypt(KeyId=key["KeyId"], Plaintext=b"granted", EncryptionContext=ctx,
                         GrantTokens=[grant["GrantToken"]])["CiphertextBlob"]
    assert grantee.decrypt(CiphertextBlob=ct, EncryptionContext=ctx)["Plaintext"] == b"granted"
    # The constraint: the request's context must contain app=billing.
    raises("AccessDeniedException", grantee.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
    raises("AccessDeniedException", grantee.encrypt, KeyId=key["KeyId"], Plaintext=b"x",
           EncryptionContext={"app": "payroll"})
    # Operations not in the grant stay denied.
    raises("AccessDeniedException", grantee.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_256",
           EncryptionContext=ctx)

    # The retiring principal retires it; then the grantee is denied again.
    grantee.retire_grant(KeyId=key["Arn"], GrantId=grant["GrantId"])
    assert a111.kms.list_grants(KeyId=key["KeyId"])["Grants"] == []
    raises("AccessDeniedException", grantee.encrypt, KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext=ctx)
    raises("AccessDeniedException", grantee.decrypt, CiphertextBlob=ct, EncryptionContext=ctx)

    # RevokeGrant (by the key's account) works the same way.
    g2 = a111.kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=user_arn, Operations=["Decrypt"])
    assert grantee.decrypt(CiphertextBlob=ct, EncryptionContext=ctx, GrantTokens=[g2["GrantToken"]])["Plaintext"] == b"granted"
    a111.kms.revoke_grant(KeyId=key["KeyId"], GrantId=g2["GrantId"])
    raises("AccessDeniedException", grantee.decrypt, CiphertextBlob=ct, EncryptionContext=ctx)
    assert a111.kms.list_grants(KeyId=key["KeyId"])["Grants"] == []


@pytest.fixture(scope="module")
def seed_principals(a111):
    """myapp and myapprole in 111111111111, as the seed policy names them. myapp's only identity
    policy lets it assume myapprole (nothing about KMS)."""
    role_arn = f"arn:aws:iam::{a111.id}:role/myapprole"
    user_arn, creds = a111.user("myapp", policy=doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}))
    a111.iam.create_role(RoleName="myapprole", AssumeRolePolicyDocument=doc(
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}))
    c = a111.client(creds, service="sts").assume_role(RoleArn=role_arn, RoleSessionName="seed")["Credentials"]
    return {"myapp": a111.client(creds),
            "session": a111.client((c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]))}


def test_seed_key_policy(a111, a222, seed_principals):
    key = a111.kms.create_key(Description="seed key policy", Policy=SEED_POLICY)["KeyMetadata"]
    arn = key["Arn"]
    assert json.loads(a111.kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"]) == json.loads(SEED_POLICY)
    myapp, session = seed_principals["myapp"], seed_principals["session"]

    # "Allow access for Key Administrators": myapp administers the key without IAM policies.
    myapp.disable_key(KeyId=arn)
    assert a111.kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"] == "Disabled"
    myapp.enable_key(KeyId=arn)
    myapp.update_key_description(KeyId=arn, Description="updated by myapp")
    myapp.tag_resource(KeyId=arn, Tags=[{"TagKey": "owner", "TagValue": "myapp"}])

    # "Allow use of the key": myapp, myapprole's sessions and account 222 use it.
    ct = myapp.encrypt(KeyId=arn, Plaintext=b"seed", EncryptionContext={"k": "v"})["CiphertextBlob"]
    assert session.decrypt(CiphertextBlob=ct, EncryptionContext={"k": "v"})["Plaintext"] == b"seed"
    assert a222.kms.encrypt(KeyId=arn, Plaintext=b"from 222")["KeyId"] == arn
    raises("AccessDeniedException", session.disable_key, KeyId=arn)  # the role is no administrator
    raises("AccessDeniedException", a222.kms.disable_key, KeyId=arn)  # nor is another account

    # Without "Allow use of the key", myapp (no KMS identity policy) cannot encrypt.
    policy = json.loads(SEED_POLICY)
    policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != "Allow use of the key"]
    a111.kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=json.dumps(policy))
    e = raises("AccessDeniedException", myapp.encrypt, KeyId=arn, Plaintext=b"x")
    assert "no identity-based policy allows the kms:Encrypt action" in e.response["Error"]["Message"]
    raises("AccessDeniedException", session.decrypt, CiphertextBlob=ct, EncryptionContext={"k": "v"})
    myapp.disable_key(KeyId=arn)  # still an administrator
    myapp.enable_key(KeyId=arn)

    # With it again, myapp can.
    a111.kms.put_key_policy(KeyId=arn, PolicyName="default", Policy=SEED_POLICY)
    assert myapp.encrypt(KeyId=arn, Plaintext=b"x")["KeyId"] == arn

    # "Allow attachment of persistent resources" needs kms:GrantIsForAWSResource, which a direct
    # call never has; myapp's CreateGrant is allowed by "kms:Create*" of the administrators.
    g = myapp.create_grant(KeyId=arn, GranteePrincipal=f"arn:aws:iam::{a111.id}:role/myapprole", Operations=["Decrypt"])
    assert g["GrantId"] in [x["GrantId"] for x in myapp.list_grants(KeyId=arn)["Grants"]]
    myapp.revoke_grant(KeyId=arn, GrantId=g["GrantId"])


def test_listings_omit_tags(a111):
    name, role = unique("tagged-"), unique("tagged-role-")
    tags = [{"Key": "team", "Value": "compat"}]
    a111.iam.create_user(UserName=name, Tags=tags)
    a111.iam.create_role(RoleName=role, Tags=tags, AssumeRolePolicyDocument=doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{a111.id}:root"}, "Action": "sts:AssumeRole"}))
    assert a111.iam.get_user(UserName=name)["User"]["Tags"] == tags
    assert a111.iam.get_role(RoleName=role)["Role"]["Tags"] == tags
    users = {u["UserName"]: u for p in a111.iam.get_paginator("list_users").paginate() for u in p["Users"]}
    roles = {r["RoleName"]: r for p in a111.iam.get_paginator("list_roles").paginate() for r in p["Roles"]}
    assert "Tags" not in users[name]
    assert "Tags" not in roles[role]


# ---- STS AssumeRole -------------------------------------------------------------------------


def test_assume_role_rules(a111, a222):
    role = unique("ext-role-")
    role_arn = f"arn:aws:iam::{a111.id}:role/{role}"
    a111.iam.create_role(RoleName=role, MaxSessionDuration=7200, AssumeRolePolicyDocument=doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{a111.id}:root"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": "compat-external-id"}}}))
    a111.iam.put_role_policy(RoleName=role, PolicyName="kms-use", PolicyDocument=doc(
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}))
    user_arn, creds = a111.user(unique("assumer-"), policy=doc(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}))
    sts = a111.client(creds, service="sts")

    # The account root cannot assume roles, whatever the trust policy says.
    e = raises("AccessDenied", a111.sts.assume_role, RoleArn=role_arn, RoleSessionName="root",
               ExternalId="compat-external-id")
    assert "root" in e.response["Error"]["Message"]
    # The trust policy's condition: the right ExternalId, or nothing.
    raises("AccessDenied", sts.assume_role, RoleArn=role_arn, RoleSessionName="no-ext")
    raises("AccessDenied", sts.assume_role, RoleArn=role_arn, RoleSessionName="bad-ext", ExternalId="other-id")
    # Another account's principals are not trusted (its root cannot assume roles at all).
    _, other = a222.user(unique("outsider-"), policy=doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}))
    raises("AccessDenied", a222.client(other, service="sts").assume_role, RoleArn=role_arn, RoleSessionName="outsider",
           ExternalId="compat-external-id")
    # At most the role's MaxSessionDuration.
    raises("ValidationError", sts.assume_role, RoleArn=role_arn, RoleSessionName="long",
           ExternalId="compat-external-id", DurationSeconds=7201)
    out = sts.assume_role(RoleArn=role_arn, RoleSessionName="ok", ExternalId="compat-external-id", DurationSeconds=7200)
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{a111.id}:assumed-role/{role}/ok"
    c = out["Credentials"]
    full = a111.client((c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]))
    key = a111.kms.create_key(Description="session policy")["KeyMetadata"]
    ct = full.encrypt(KeyId=key["Arn"], Plaintext=b"s")["CiphertextBlob"]
    assert full.decrypt(CiphertextBlob=ct)["Plaintext"] == b"s"
    raises("AccessDeniedException", full.disable_key, KeyId=key["Arn"])  # not in the role's policy

    # A session policy narrows the session to what both the role and the session policy allow.
    out = sts.assume_role(RoleArn=role_arn, RoleSessionName="narrow", ExternalId="compat-external-id",
                          Policy=doc({"Effect": "Allow", "Action": ["kms:Encrypt", "kms:DisableKey"], "Resource": "*"}))
    c = out["Credentials"]
    narrow = a111.client((c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]))
    assert narrow.encrypt(KeyId=key["Arn"], Plaintext=b"s")["KeyId"] == key["Arn"]
    e = raises("AccessDeniedException", narrow.decrypt, CiphertextBlob=ct)
    assert "no session policy allows the kms:Decrypt action" in e.response["Error"]["Message"]
    raises("AccessDeniedException", narrow.disable_key, KeyId=key["Arn"])  # the role does not allow it
    raises("MalformedPolicyDocument", sts.assume_role, RoleArn=role_arn, RoleSessionName="bad",
           ExternalId="compat-external-id", Policy="{not json")


def test_expired_session(dev):
    """A session ends at its expiration (the --dev server's clock is advanced past it): STS answers
    ExpiredToken, KMS ExpiredTokenException."""
    account = random_account()
    root = Account(dev, account, (account, "anything"))
    role_arn = f"arn:aws:iam::{account}:role/short"
    user_arn, creds = root.user("shortlived", policy=doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}))
    root.iam.create_role(RoleName="short", AssumeRolePolicyDocument=doc(
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}))
    root.iam.attach_role_policy(RoleName="short", PolicyArn="arn:aws:iam::aws:policy/AWSKeyManagementServicePowerUser")
    c = root.client(creds, service="sts").assume_role(RoleArn=role_arn, RoleSessionName="brief", DurationSeconds=900)["Credentials"]
    session = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert root.client(session, service="sts").get_caller_identity()["Arn"] == f"arn:aws:sts::{account}:assumed-role/short/brief"
    root.client(session).list_keys()
    dev.advance_clock(901)
    raises("ExpiredToken", root.client(session, service="sts").get_caller_identity)
    raises("ExpiredTokenException", root.client(session).list_keys)
    # The user's own long-term key is unaffected.
    assert root.client(creds, service="sts").get_caller_identity()["Arn"] == user_arn


# ---- Parameter Store and KMS permissions -----------------------------------------------------


def test_secure_string_key_permissions(a111):
    """A user allowed ssm:GetParameter/PutParameter on parameter/svc/*: with the AWS managed key
    alias/aws/ssm it needs no KMS permission (that key's policy allows the account's principals
    through Parameter Store); with a customer key (default policy) it needs kms:Encrypt to write
    (kms:GenerateDataKey for an advanced-tier value) and kms:Decrypt to read decrypted."""
    ssm = a111.server.client(*a111.credentials, service="ssm")
    key = a111.kms.create_key(Description="ssm customer key")["KeyMetadata"]
    base = unique("/svc/")
    ssm.put_parameter(Name=f"{base}/default", Value="under aws/ssm", Type="SecureString")
    ssm.put_parameter(Name=f"{base}/custom", Value="under the customer key", Type="SecureString", KeyId=key["Arn"])
    resource = f"arn:aws:ssm:{REGION}:{a111.id}:parameter/svc/*"
    name = unique("svc-user-")
    _, creds = a111.user(name, policy=doc({"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:PutParameter"], "Resource": resource}))
    user = a111.client(creds, service="ssm")

    assert user.get_parameter(Name=f"{base}/default", WithDecryption=True)["Parameter"]["Value"] == "under aws/ssm"
    user.put_parameter(Name=f"{base}/default2", Value="x", Type="SecureString")
    e = raises("AccessDeniedException", user.get_parameter, Name=f"{base}/custom", WithDecryption=True)
    assert "kms:Decrypt" in e.response["Error"]["Message"]
    assert user.get_parameter(Name=f"{base}/custom")["Parameter"]["Value"] != "under the customer key"
    raises("AccessDeniedException", user.put_parameter, Name=f"{base}/custom2", Value="x", Type="SecureString", KeyId=key["Arn"])
    raises("AccessDeniedException", user.put_parameter, Name=f"{base}/custom3", Value="x", Type="SecureString",
           KeyId=key["Arn"], Tier="Advanced")
    raises("AccessDeniedException", user.get_parameter, Name=unique("/other/"))  # outside svc/*

    a111.iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=doc(
        {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:PutParameter"], "Resource": resource},
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"], "Resource": key["Arn"]}))
    assert user.get_parameter(Name=f"{base}/custom", WithDecryption=True)["Parameter"]["Value"] == "under the customer key"
    user.put_parameter(Name=f"{base}/custom2", Value="x2", Type="SecureString", KeyId=key["Arn"])
    user.put_parameter(Name=f"{base}/custom3", Value="x3", Type="SecureString", KeyId=key["Arn"], Tier="Advanced")
    assert user.get_parameter(Name=f"{base}/custom3", WithDecryption=True)["Parameter"]["Value"] == "x3"
