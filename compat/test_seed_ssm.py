"""The seed document's Parameter Store commands, verbatim, through the `aws` CLI against the
durable Coffer:

    aws ssm get-parameter --name /dev/dbconnectionstring
    aws ssm get-parameter --name /dev/dbconnectionstring --with-decryption

Setup, as the account's root (the admin profile): a customer KMS key with the default key policy,
the SecureString `/dev/dbconnectionstring` encrypted under it (`aws ssm put-parameter`), and the
IAM user `app` with an access key and an inline policy allowing `ssm:GetParameter` on
`parameter/dev/*`. The commands then run as `app` (its own credentials file and profile).

As in AWS: without `kms:Decrypt` on the key, `app` reads the encrypted value but decrypting is
denied (the key's default policy delegates to IAM); with it, `app` reads the plaintext. And, as the
seed document notes, `ssm:GetParameters` alone does not allow the CLI's get-parameter.
"""

from __future__ import annotations

import base64
import json
import secrets

import pytest

from helpers import REGION, AwsCli, write_credentials

NAME = "/dev/dbconnectionstring"
GET = ("get-parameter", "--name", NAME)
GET_DECRYPTED = ("get-parameter", "--name", NAME, "--with-decryption")


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def seed(durable, tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("seed-ssm")
    admin = AwsCli(durable.endpoint, durable.credentials_file, work)
    key = admin("create-key", "--description", "seed /dev/dbconnectionstring")["KeyMetadata"]
    canary = f"Server=db.internal;Database=app;User Id=app;Password=SEED-CANARY-{secrets.token_hex(12)}"
    put = admin("put-parameter", "--name", NAME, "--type", "SecureString", "--key-id", key["Arn"],
                "--value", canary, service="ssm")
    assert put == {"Version": 1, "Tier": "Standard"}

    admin("create-user", "--user-name", "app", service="iam")
    ak = admin("create-access-key", "--user-name", "app", service="iam")["AccessKey"]
    creds = write_credentials(work / "app-credentials", "app", ak["AccessKeyId"], ak["SecretAccessKey"])
    app = AwsCli(durable.endpoint, creds, work, profile="app")
    return {"admin": admin, "app": app, "key": key, "canary": canary,
            "parameter_arn": f"arn:aws:ssm:{REGION}:{durable.account}:parameter/dev/*"}


def set_app_policy(seed, *extra: dict, action: str = "ssm:GetParameter") -> None:
    """Replaces app's inline policy: `action` on parameter/dev/*, plus `extra` statements."""
    doc = policy({"Effect": "Allow", "Action": action, "Resource": seed["parameter_arn"]}, *extra)
    seed["admin"]("put-user-policy", "--user-name", "app", "--policy-name", "dev-parameters",
                  "--policy-document", doc, service="iam")


def app_run(seed, args):
    return seed["app"].run(*args, service="ssm", output=None)  # the command exactly as written


def test_get_parameter_without_decryption_prints_the_ciphertext(seed):
    set_app_policy(seed)
    p = app_run(seed, GET)
    assert p.returncode == 0, p.stderr
    assert seed["canary"] not in p.stdout
    param = json.loads(p.stdout)["Parameter"]
    assert param["Name"] == NAME and param["Type"] == "SecureString" and param["Version"] == 1
    assert param["ARN"].endswith(":parameter/dev/dbconnectionstring")
    # The value is the KMS ciphertext, base64: not the plaintext in any form.
    blob = base64.b64decode(param["Value"], validate=True)
    assert len(blob) > len(seed["canary"].encode())
    assert seed["canary"].encode() not in blob


def test_get_parameter_with_decryption_needs_kms_decrypt(seed):
    set_app_policy(seed)
    p = app_run(seed, GET_DECRYPTED)
    assert p.returncode != 0, p.stdout
    assert seed["canary"] not in p.stdout + p.stderr
    assert "(AccessDeniedException) when calling the GetParameter operation" in p.stderr, p.stderr
    assert "kms:Decrypt" in p.stderr and seed["key"]["Arn"] in p.stderr, p.stderr


def test_get_parameters_alone_does_not_allow_get_parameter(seed):
    """The seed note: a policy with ssm:GetParameters (plural) does not allow GetParameter."""
    set_app_policy(seed, action="ssm:GetParameters")
    try:
        p = app_run(seed, GET)
        assert p.returncode != 0, p.stdout
        assert "(AccessDeniedException) when calling the GetParameter operation" in p.stderr, p.stderr
        assert "ssm:GetParameter " in p.stderr, p.stderr
        # ... while the plural command is allowed.
        q = seed["app"].run("get-parameters", "--names", NAME, service="ssm")
        assert q.returncode == 0, q.stderr
        assert [x["Name"] for x in json.loads(q.stdout)["Parameters"]] == [NAME]
    finally:
        set_app_policy(seed)


def test_get_parameter_with_decryption_after_kms_decrypt_is_allowed(seed):
    set_app_policy(seed, {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": seed["key"]["Arn"]})
    try:
        p = app_run(seed, GET_DECRYPTED)
        assert p.returncode == 0, p.stderr
        param = json.loads(p.stdout)["Parameter"]
        assert param["Value"] == seed["canary"]
        assert param["Type"] == "SecureString" and param["Version"] == 1
        # Outside parameter/dev/* app still has nothing.
        other = seed["app"].run("get-parameter", "--name", "/prod/dbconnectionstring", service="ssm")
        assert other.returncode != 0 and "(AccessDeniedException)" in other.stderr, other.stderr
    finally:
        set_app_policy(seed)
