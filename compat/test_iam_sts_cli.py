"""IAM and STS through the `aws` CLI (v1) against the durable Coffer: users, access keys, inline
and managed policies, roles with trust policies, AssumeRole and the session it returns (used the
way a user would: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN), deactivated
keys, and IAM's error codes. The account's root (the admin profile) sets things up; IAM users act
with their own credentials file."""

from __future__ import annotations

import json

import pytest

from helpers import AwsCli, unique, write_credentials


def doc(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def admin(durable, tmp_path_factory) -> AwsCli:
    return AwsCli(durable.endpoint, durable.credentials_file, tmp_path_factory.mktemp("iam-cli"))


def iam(cli: AwsCli, *args: str) -> dict:
    return cli(*args, service="iam")


def sts(cli: AwsCli, *args: str) -> dict:
    return cli(*args, service="sts")


def new_user(admin: AwsCli, name: str) -> tuple[dict, dict, AwsCli]:
    """create-user and create-access-key as the root; (user, access key, the user's own CLI)."""
    user = iam(admin, "create-user", "--user-name", name)["User"]
    key = iam(admin, "create-access-key", "--user-name", name)["AccessKey"]
    creds = write_credentials(admin.workdir / f"{name}.credentials", name, key["AccessKeyId"], key["SecretAccessKey"])
    return user, key, AwsCli(admin.env["AWS_ENDPOINT_URL"], creds, admin.workdir, profile=name)


@pytest.fixture(scope="module")
def alice(admin):
    """A user with an access key and no policies."""
    return new_user(admin, unique("alice-"))


def test_create_user_access_key_and_list(admin, alice, durable):
    user, key, _ = alice
    name = user["UserName"]
    assert user["Arn"] == f"arn:aws:iam::{durable.account}:user/{name}"
    assert user["Path"] == "/" and user["UserId"].startswith("AIDA")
    assert key["UserName"] == name and key["Status"] == "Active"
    assert key["AccessKeyId"].startswith("AKIA") and len(key["SecretAccessKey"]) == 40

    listed = {u["UserName"]: u for u in iam(admin, "list-users")["Users"]}
    assert listed[name]["Arn"] == user["Arn"] and listed[name]["UserId"] == user["UserId"]
    keys = iam(admin, "list-access-keys", "--user-name", name)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(key["AccessKeyId"], "Active")]
    assert all("SecretAccessKey" not in k for k in keys)


def test_inline_user_policy_round_trip(admin, alice, durable):
    name = alice[0]["UserName"]
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadDev", "Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"],
         "Resource": f"arn:aws:ssm:us-east-1:{durable.account}:parameter/dev/*"}]}
    path = admin.file("alice-policy.json", json.dumps(policy, indent=2))
    assert iam(admin, "put-user-policy", "--user-name", name, "--policy-name", "read-dev",
               "--policy-document", f"file://{path}") == {}
    got = iam(admin, "get-user-policy", "--user-name", name, "--policy-name", "read-dev")
    # IAM returns the document URL-encoded; the CLI prints it decoded, as JSON.
    assert got["UserName"] == name and got["PolicyName"] == "read-dev"
    assert got["PolicyDocument"] == policy
    assert iam(admin, "list-user-policies", "--user-name", name)["PolicyNames"] == ["read-dev"]
    assert iam(admin, "delete-user-policy", "--user-name", name, "--policy-name", "read-dev") == {}
    assert iam(admin, "list-user-policies", "--user-name", name)["PolicyNames"] == []


def test_role_assume_role_and_session_identity(admin, durable):
    account = durable.account
    user, _, bob = new_user(admin, unique("bob-"))
    role_name = unique("reader-")
    role_arn = f"arn:aws:iam::{account}:role/{role_name}"
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}]}
    role = iam(admin, "create-role", "--role-name", role_name, "--assume-role-policy-document", json.dumps(trust))["Role"]
    assert role["Arn"] == role_arn and role["RoleId"].startswith("AROA")
    assert role["AssumeRolePolicyDocument"] == trust
    assert iam(admin, "attach-role-policy", "--role-name", role_name,
               "--policy-arn", "arn:aws:iam::aws:policy/ReadOnlyAccess") == {}
    attached = iam(admin, "list-attached-role-policies", "--role-name", role_name)["AttachedPolicies"]
    assert attached == [{"PolicyName": "ReadOnlyAccess", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]

    # The trust policy trusts the account, so bob also needs an identity policy for sts:AssumeRole.
    bob.fails("assume-role", "--role-arn", role_arn, "--role-session-name", "s0", code="AccessDenied", service="sts")
    iam(admin, "put-user-policy", "--user-name", user["UserName"], "--policy-name", "assume",
        "--policy-document", doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}))
    out = sts(bob, "assume-role", "--role-arn", role_arn, "--role-session-name", "compat-session")
    creds = out["Credentials"]
    session_arn = f"arn:aws:sts::{account}:assumed-role/{role_name}/compat-session"
    assert out["AssumedRoleUser"]["Arn"] == session_arn
    assert out["AssumedRoleUser"]["AssumedRoleId"] == f"{role['RoleId']}:compat-session"
    assert creds["AccessKeyId"].startswith("ASIA") and creds["SecretAccessKey"] and creds["SessionToken"]
    assert "Expiration" in creds

    session = admin.with_env(
        AWS_ACCESS_KEY_ID=creds["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
        AWS_SESSION_TOKEN=creds["SessionToken"],
    )
    me = sts(session, "get-caller-identity")
    assert me == {"UserId": f"{role['RoleId']}:compat-session", "Account": account, "Arn": session_arn}
    # The session has the role's permissions (ReadOnlyAccess): it may list, not create.
    assert user["UserName"] in {u["UserName"] for u in iam(session, "list-users")["Users"]}
    session.fails("create-user", "--user-name", unique("never-"), code="AccessDenied", service="iam")
    # The same session without its token is not a valid credential.
    tokenless = admin.with_env(AWS_ACCESS_KEY_ID=creds["AccessKeyId"], AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"])
    tokenless.fails("get-caller-identity", code="InvalidClientTokenId", service="sts")


def test_inactive_access_key_is_refused(admin):
    user, key, carol = new_user(admin, unique("carol-"))
    assert sts(carol, "get-caller-identity")["Arn"] == user["Arn"]
    assert iam(admin, "update-access-key", "--user-name", user["UserName"], "--access-key-id", key["AccessKeyId"],
               "--status", "Inactive") == {}
    keys = iam(admin, "list-access-keys", "--user-name", user["UserName"])["AccessKeyMetadata"]
    assert [k["Status"] for k in keys] == ["Inactive"]
    err = carol.fails("get-caller-identity", code="InvalidClientTokenId", service="sts")
    assert "security token included in the request is invalid" in err
    iam(admin, "update-access-key", "--user-name", user["UserName"], "--access-key-id", key["AccessKeyId"],
        "--status", "Active")
    assert sts(carol, "get-caller-identity")["Arn"] == user["Arn"]


def test_error_codes(admin, alice):
    name = alice[0]["UserName"]
    errors = admin.fails_all(
        ("iam", ("get-user", "--user-name", unique("nobody-")), "NoSuchEntity"),
        ("iam", ("get-role", "--role-name", unique("norole-")), "NoSuchEntity"),
        ("iam", ("create-user", "--user-name", name), "EntityAlreadyExists"),
        # A user with an access key cannot be deleted until the key is.
        ("iam", ("delete-user", "--user-name", name), "DeleteConflict"),
        ("iam", ("put-user-policy", "--user-name", name, "--policy-name", "bad",
                 "--policy-document", '{"Version": "2012-10-17"}'), "MalformedPolicyDocument"),
        ("iam", ("put-user-policy", "--user-name", name, "--policy-name", "bad",
                 "--policy-document", "not json"), "MalformedPolicyDocument"),
    )
    assert "must delete access keys first" in errors[3]


def test_names_are_case_insensitive(admin, alice, durable):
    """AWS (CreateUser, CreateRole, CreatePolicy): IAM user, group, role, and policy names must be
    unique within the account; names are not distinguished by case."""
    role, policy = unique("caserole-"), unique("casepolicy-")
    trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{durable.account}:root"},
                 "Action": "sts:AssumeRole"})
    permissions = doc({"Effect": "Allow", "Action": "kms:ListKeys", "Resource": "*"})
    iam(admin, "create-role", "--role-name", role, "--assume-role-policy-document", trust)
    iam(admin, "create-policy", "--policy-name", policy, "--policy-document", permissions)
    admin.fails_all(
        ("iam", ("create-user", "--user-name", alice[0]["UserName"].upper()), "EntityAlreadyExists"),
        ("iam", ("create-role", "--role-name", role.upper(), "--assume-role-policy-document", trust),
         "EntityAlreadyExists"),
        ("iam", ("create-policy", "--policy-name", policy.upper(), "--policy-document", permissions),
         "EntityAlreadyExists"),
    )


def test_user_without_policies_is_denied(alice):
    _, _, cli = alice
    err = cli.fails("list-users", code="AccessDenied", service="iam")
    assert f"User: {alice[0]['Arn']} is not authorized to perform: iam:ListUsers" in err
