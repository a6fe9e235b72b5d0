"""The `aws` CLI (v1) against Coffer, configured only the way a user would: a shared credentials
file with profile `coffer`, AWS_ENDPOINT_URL and AWS_DEFAULT_REGION."""

from __future__ import annotations

import base64
import json
import os

import pytest

from helpers import REGION, SEED_ACCOUNT, SEED_POLICY, AwsCli, unique


@pytest.fixture(scope="module")
def aws(durable, tmp_path_factory) -> AwsCli:
    return AwsCli(durable.endpoint, durable.credentials_file, tmp_path_factory.mktemp("awscli"))


@pytest.fixture(scope="module")
def key(aws) -> dict:
    return aws("create-key", "--description", "compat awscli")["KeyMetadata"]


def b64(s: str) -> bytes:
    return base64.b64decode(s)


def test_create_and_describe_key(aws, durable):
    md = aws(
        "create-key", "--description", "compat awscli describe", "--tags", "TagKey=team,TagValue=compat"
    )["KeyMetadata"]
    key_id = md["KeyId"]
    assert md["Arn"] == f"arn:aws:kms:{REGION}:{durable.account}:key/{key_id}"
    assert md["AWSAccountId"] == durable.account
    assert md["Description"] == "compat awscli describe"
    assert md["KeyState"] == "Enabled" and md["Enabled"] is True
    assert md["KeyManager"] == "CUSTOMER"
    assert md["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert md["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert md["Origin"] == "AWS_KMS"
    assert md["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]

    by_id = aws("describe-key", "--key-id", key_id)["KeyMetadata"]
    by_arn = aws("describe-key", "--key-id", md["Arn"])["KeyMetadata"]
    assert by_id == by_arn
    assert by_id["KeyId"] == key_id and by_id["Arn"] == md["Arn"]
    assert by_id["CreationDate"] == md["CreationDate"]

    tags = aws("list-resource-tags", "--key-id", key_id)["Tags"]
    assert tags == [{"TagKey": "team", "TagValue": "compat"}]

    listed = {k["KeyId"]: k["KeyArn"] for k in aws("list-keys")["Keys"]}
    assert listed[key_id] == md["Arn"]


def test_encrypt_decrypt_with_encryption_context(aws, key):
    plaintext = os.urandom(100) + b"compat awscli plaintext"
    pt = aws.file("pt.bin", plaintext)
    enc = aws(
        "encrypt", "--key-id", key["KeyId"], "--plaintext", f"fileb://{pt}",
        "--encryption-context", "purpose=compat,client=awscli",
    )
    assert enc["KeyId"] == key["Arn"]
    assert enc["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    blob = b64(enc["CiphertextBlob"])
    assert plaintext not in blob
    ct = aws.file("ct.bin", blob)

    dec = aws(
        "decrypt", "--ciphertext-blob", f"fileb://{ct}",
        "--encryption-context", "client=awscli,purpose=compat",  # order does not matter
    )
    assert b64(dec["Plaintext"]) == plaintext
    assert dec["KeyId"] == key["Arn"]
    assert dec["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"

    # A different or no encryption context: the ciphertext does not open.
    aws.fails("decrypt", "--ciphertext-blob", f"fileb://{ct}",
              "--encryption-context", "purpose=other,client=awscli", code="InvalidCiphertextException")
    aws.fails("decrypt", "--ciphertext-blob", f"fileb://{ct}", code="InvalidCiphertextException")


def test_alias_lifecycle(aws, key):
    other = aws("create-key", "--description", "compat awscli alias target 2")["KeyMetadata"]
    alias = unique("alias/compat-cli-")
    assert aws("create-alias", "--alias-name", alias, "--target-key-id", key["KeyId"]) == {}

    listed = aws("list-aliases", "--key-id", key["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in listed] == [alias]
    entry = listed[0]
    assert entry["TargetKeyId"] == key["KeyId"]
    assert entry["AliasArn"] == key["Arn"].rsplit(":", 1)[0] + ":" + alias

    # The alias works wherever a key id does.
    pt = aws.file("alias-pt.bin", b"through the alias")
    enc = aws("encrypt", "--key-id", alias, "--plaintext", f"fileb://{pt}")
    assert enc["KeyId"] == key["Arn"]

    assert aws("update-alias", "--alias-name", alias, "--target-key-id", other["KeyId"]) == {}
    assert aws("describe-key", "--key-id", alias)["KeyMetadata"]["KeyId"] == other["KeyId"]
    assert [a["AliasName"] for a in aws("list-aliases", "--key-id", other["KeyId"])["Aliases"]] == [alias]
    # The CLI follows NextMarker itself: with --page-size 1 it still lists every key exactly once.
    keys = [k["KeyId"] for k in aws("list-keys", "--page-size", "1")["Keys"]]
    assert len(keys) == len(set(keys)) and {key["KeyId"], other["KeyId"]} <= set(keys)

    assert aws("delete-alias", "--alias-name", alias) == {}
    aws.fails("describe-key", "--key-id", alias, code="NotFoundException")
    assert alias not in [a["AliasName"] for a in aws("list-aliases")["Aliases"]]


def test_key_rotation_status(aws):
    key_id = aws("create-key", "--description", "compat awscli rotation")["KeyMetadata"]["KeyId"]
    assert aws("enable-key-rotation", "--key-id", key_id) == {}
    status = aws("get-key-rotation-status", "--key-id", key_id)
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 365
    assert "NextRotationDate" in status

    aws("enable-key-rotation", "--key-id", key_id, "--rotation-period-in-days", "90")
    status = aws("get-key-rotation-status", "--key-id", key_id)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 90

    assert aws("disable-key-rotation", "--key-id", key_id) == {}
    assert aws("get-key-rotation-status", "--key-id", key_id)["KeyRotationEnabled"] is False


def test_rotate_on_demand_keeps_old_ciphertexts(aws):
    md = aws("create-key", "--description", "compat awscli on-demand")["KeyMetadata"]
    key_id = md["KeyId"]

    old_pt = b"encrypted before the rotation"
    pt = aws.file("rot-pt.bin", old_pt)
    old_ct = aws.file(
        "rot-ct.bin",
        b64(aws("encrypt", "--key-id", key_id, "--plaintext", f"fileb://{pt}",
                "--encryption-context", "when=before")["CiphertextBlob"]),
    )

    assert aws("rotate-key-on-demand", "--key-id", key_id)["KeyId"] == key_id
    rotations = aws("list-key-rotations", "--key-id", key_id)["Rotations"]
    assert len(rotations) == 1
    assert rotations[0]["KeyId"] == key_id
    assert rotations[0]["RotationType"] == "ON_DEMAND"
    assert "RotationDate" in rotations[0]
    after = aws("describe-key", "--key-id", key_id)["KeyMetadata"]
    if "CurrentKeyMaterialId" in md:
        assert after["CurrentKeyMaterialId"] != md["CurrentKeyMaterialId"]

    # The ciphertext made before the rotation still decrypts (with the old key material).
    dec = aws("decrypt", "--ciphertext-blob", f"fileb://{old_ct}", "--encryption-context", "when=before")
    assert b64(dec["Plaintext"]) == old_pt
    assert dec["KeyId"] == md["Arn"]


def test_generate_data_key(aws, key):
    dk = aws("generate-data-key", "--key-id", key["KeyId"], "--key-spec", "AES_256",
             "--encryption-context", "use=envelope")
    plaintext = b64(dk["Plaintext"])
    assert len(plaintext) == 32
    assert dk["KeyId"] == key["Arn"]
    ct = aws.file("dk.bin", b64(dk["CiphertextBlob"]))
    dec = aws("decrypt", "--ciphertext-blob", f"fileb://{ct}", "--encryption-context", "use=envelope")
    assert b64(dec["Plaintext"]) == plaintext

    assert len(b64(aws("generate-data-key", "--key-id", key["KeyId"], "--number-of-bytes", "64")["Plaintext"])) == 64

    wp = aws("generate-data-key-without-plaintext", "--key-id", key["KeyId"], "--key-spec", "AES_256")
    assert "Plaintext" not in wp
    ct2 = aws.file("dk2.bin", b64(wp["CiphertextBlob"]))
    assert len(b64(aws("decrypt", "--ciphertext-blob", f"fileb://{ct2}")["Plaintext"])) == 32


def test_seed_key_policy_round_trip(dev, tmp_path):
    """put-key-policy then get-key-policy with the seed document's policy.

    The policy makes arn:aws:iam::111111111111:root the key's administrator, so the round trip
    runs as that account's root (a --dev account named by a 12-digit access key id): under AWS's
    rules that caller keeps control of the key (lockout safety check) and may read the policy back.
    Like AWS, Coffer refuses a key policy naming IAM users or roles that do not exist, so the
    account first creates the policy's user `myapp` and role `myapprole` with `aws iam`.
    """
    creds = tmp_path / "credentials"
    creds.write_text(f"[coffer]\naws_access_key_id = {SEED_ACCOUNT}\naws_secret_access_key = seed-secret\n")
    aws = AwsCli(dev.endpoint, creds, tmp_path)
    md = aws("create-key", "--description", "compat seed policy")["KeyMetadata"]
    assert md["AWSAccountId"] == SEED_ACCOUNT
    key_id = md["KeyId"]

    aws("create-user", "--user-name", "myapp", service="iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{SEED_ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]})
    aws("create-role", "--role-name", "myapprole", "--assume-role-policy-document", trust, service="iam")

    policy_file = aws.file("seed-policy.json", SEED_POLICY)
    assert aws("put-key-policy", "--key-id", key_id, "--policy-name", "default",
               "--policy", f"file://{policy_file}") == {}
    got = aws("get-key-policy", "--key-id", key_id, "--policy-name", "default")
    assert json.loads(got["Policy"]) == json.loads(SEED_POLICY)

    # The account still uses its key under the new policy.
    pt = aws.file("seed-pt.bin", b"still usable")
    assert aws("encrypt", "--key-id", key_id, "--plaintext", f"fileb://{pt}")["KeyId"] == md["Arn"]
