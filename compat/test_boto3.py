"""boto3 against Coffer: the core KMS flows, AWS's error codes, pagination, and the deletion reaper
and automatic rotation on the --dev server's movable clock."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from helpers import CLIENT_CONFIG, REGION, SEED_POLICY, error_code, raises, raw_kms, unique, wire_error

DAY = 86_400


@pytest.fixture(scope="module")
def key(kms) -> dict:
    return kms.create_key(Description="compat boto3")["KeyMetadata"]


# ---- core flows ----------------------------------------------------------------------------


def test_create_describe_update_list(kms, durable):
    md = kms.create_key(
        Description="compat boto3 lifecycle",
        KeyUsage="ENCRYPT_DECRYPT",
        KeySpec="SYMMETRIC_DEFAULT",
        Tags=[{"TagKey": "env", "TagValue": "test"}],
    )["KeyMetadata"]
    assert md["Arn"] == f"arn:aws:kms:{REGION}:{durable.account}:key/{md['KeyId']}"
    assert md["KeyState"] == "Enabled" and md["Enabled"] is True
    assert md["KeyManager"] == "CUSTOMER" and md["Origin"] == "AWS_KMS"
    assert isinstance(md["CreationDate"], dt.datetime)

    kms.update_key_description(KeyId=md["KeyId"], Description="renamed")
    assert kms.describe_key(KeyId=md["Arn"])["KeyMetadata"]["Description"] == "renamed"

    kms.tag_resource(KeyId=md["KeyId"], Tags=[{"TagKey": "owner", "TagValue": "compat"}, {"TagKey": "env", "TagValue": "prod"}])
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=md["KeyId"])["Tags"]}
    assert tags == {"env": "prod", "owner": "compat"}
    kms.untag_resource(KeyId=md["KeyId"], TagKeys=["env"])
    assert kms.list_resource_tags(KeyId=md["KeyId"])["Tags"] == [{"TagKey": "owner", "TagValue": "compat"}]

    assert md["KeyId"] in {k["KeyId"] for k in kms.list_keys(Limit=1000)["Keys"]}
    assert kms.list_key_policies(KeyId=md["KeyId"])["PolicyNames"] == ["default"]


def test_encrypt_decrypt_reencrypt(kms, key):
    other = kms.create_key(Description="compat boto3 re-encrypt target")["KeyMetadata"]
    ec = {"tenant": "t-1", "purpose": "compat"}
    enc = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret payload", EncryptionContext=ec)
    assert enc["KeyId"] == key["Arn"] and enc["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=ec)
    assert dec["Plaintext"] == b"secret payload" and dec["KeyId"] == key["Arn"]

    # Two encryptions of one plaintext differ (random IV).
    assert kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret payload", EncryptionContext=ec)["CiphertextBlob"] != enc["CiphertextBlob"]

    re = kms.re_encrypt(
        CiphertextBlob=enc["CiphertextBlob"],
        SourceEncryptionContext=ec,
        DestinationKeyId=other["KeyId"],
        DestinationEncryptionContext={"moved": "yes"},
    )
    assert re["SourceKeyId"] == key["Arn"] and re["KeyId"] == other["Arn"]
    assert re["SourceEncryptionAlgorithm"] == re["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    dec = kms.decrypt(CiphertextBlob=re["CiphertextBlob"], EncryptionContext={"moved": "yes"})
    assert dec["Plaintext"] == b"secret payload" and dec["KeyId"] == other["Arn"]

    # Largest plaintext: 4096 bytes; one more is a ValidationException.
    big = bytes(range(256)) * 16
    assert kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=key["KeyId"], Plaintext=big)["CiphertextBlob"])["Plaintext"] == big
    raises("ValidationException", kms.encrypt, KeyId=key["KeyId"], Plaintext=big + b"x")


def test_generate_data_key_and_random(kms, key):
    dk = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext={"f": "1"})
    assert len(dk["Plaintext"]) == 32 and dk["KeyId"] == key["Arn"]
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext={"f": "1"})["Plaintext"] == dk["Plaintext"]
    assert len(kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=1)["Plaintext"]) == 1

    wp = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_128")
    assert "Plaintext" not in wp
    assert len(kms.decrypt(CiphertextBlob=wp["CiphertextBlob"])["Plaintext"]) == 16

    r1, r2 = kms.generate_random(NumberOfBytes=1024)["Plaintext"], kms.generate_random(NumberOfBytes=1024)["Plaintext"]
    assert len(r1) == len(r2) == 1024 and r1 != r2


def test_aliases(kms, key):
    name = unique("alias/compat-boto3-")
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    aliases = kms.list_aliases(KeyId=key["KeyId"])["Aliases"]
    assert [a["AliasName"] for a in aliases] == [name]
    assert aliases[0]["TargetKeyId"] == key["KeyId"]
    assert kms.encrypt(KeyId=name, Plaintext=b"x")["KeyId"] == key["Arn"]
    alias_arn = aliases[0]["AliasArn"]
    assert kms.describe_key(KeyId=alias_arn)["KeyMetadata"]["KeyId"] == key["KeyId"]

    raises("AlreadyExistsException", kms.create_alias, AliasName=name, TargetKeyId=key["KeyId"])
    raises("NotFoundException", kms.create_alias, AliasName=unique("alias/compat-"), TargetKeyId=str(uuid.uuid4()))
    raises("NotFoundException", kms.delete_alias, AliasName=unique("alias/never-"))
    kms.delete_alias(AliasName=name)
    raises("NotFoundException", kms.describe_key, KeyId=name)


def test_rotation(kms):
    md = kms.create_key()["KeyMetadata"]
    ct = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"before")["CiphertextBlob"]
    kms.enable_key_rotation(KeyId=md["KeyId"], RotationPeriodInDays=120)
    st = kms.get_key_rotation_status(KeyId=md["KeyId"])
    assert st["KeyRotationEnabled"] is True and st["RotationPeriodInDays"] == 120
    kms.rotate_key_on_demand(KeyId=md["KeyId"])
    rot = kms.list_key_rotations(KeyId=md["KeyId"])["Rotations"]
    assert [r["RotationType"] for r in rot] == ["ON_DEMAND"]
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"before"


def test_model_limits_checked_by_the_server(durable):
    """Values boto3 would refuse itself, sent unvalidated: Coffer answers ValidationException."""
    kms = _unvalidated(durable)
    md = kms.create_key()["KeyMetadata"]
    raises("ValidationException", kms.enable_key_rotation, KeyId=md["KeyId"], RotationPeriodInDays=30)
    raises("ValidationException", kms.enable_key_rotation, KeyId=md["KeyId"], RotationPeriodInDays=2561)
    raises("ValidationException", kms.schedule_key_deletion, KeyId=md["KeyId"], PendingWindowInDays=6)
    raises("ValidationException", kms.schedule_key_deletion, KeyId=md["KeyId"], PendingWindowInDays=31)
    raises("ValidationException", kms.generate_random, NumberOfBytes=0)
    raises("ValidationException", kms.encrypt, KeyId=md["KeyId"], Plaintext=b"")
    raises("ValidationException", kms.list_keys, Limit=0)
    raises("ValidationException", kms.list_keys, Limit=1001)
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def _unvalidated(server):
    """A client that sends whatever it is given (no client-side parameter validation)."""
    return boto3.session.Session().client(
        "kms",
        region_name=REGION,
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        config=CLIENT_CONFIG.merge(Config(parameter_validation=False)),
    )


def test_key_policy_round_trip(kms, durable):
    md = kms.create_key()["KeyMetadata"]
    default = json.loads(kms.get_key_policy(KeyId=md["KeyId"], PolicyName="default")["Policy"])
    assert default["Statement"][0]["Principal"]["AWS"] == f"arn:aws:iam::{durable.account}:root"
    assert default["Statement"][0]["Action"] == "kms:*"
    policy = json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{durable.account}:root"}, "Action": "kms:*", "Resource": "*"},
            {"Sid": "Deny disabling", "Effect": "Deny", "Principal": "*", "Action": "kms:DisableKey", "Resource": "*"},
        ],
    })
    kms.put_key_policy(KeyId=md["KeyId"], PolicyName="default", Policy=policy)
    assert json.loads(kms.get_key_policy(KeyId=md["KeyId"])["Policy"]) == json.loads(policy)
    # The explicit Deny is in force for the account's own root.
    raises("AccessDeniedException", kms.disable_key, KeyId=md["KeyId"])
    raises("NotFoundException", kms.get_key_policy, KeyId=md["KeyId"], PolicyName="other")


# ---- error codes -----------------------------------------------------------------------------


def test_not_found_for_unknown_key(kms, durable):
    raises("NotFoundException", kms.describe_key, KeyId=str(uuid.uuid4()))
    raises("NotFoundException", kms.describe_key, KeyId=f"arn:aws:kms:{REGION}:{durable.account}:key/{uuid.uuid4()}")
    raises("NotFoundException", kms.encrypt, KeyId=str(uuid.uuid4()), Plaintext=b"x")
    raises("NotFoundException", kms.describe_key, KeyId="alias/compat-does-not-exist")


def test_disabled_key(kms):
    md = kms.create_key()["KeyMetadata"]
    ct = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    kms.disable_key(KeyId=md["KeyId"])
    d = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert d["KeyState"] == "Disabled" and d["Enabled"] is False
    raises("DisabledException", kms.encrypt, KeyId=md["KeyId"], Plaintext=b"x")
    raises("DisabledException", kms.decrypt, CiphertextBlob=ct)
    raises("DisabledException", kms.generate_data_key, KeyId=md["KeyId"], KeySpec="AES_256")
    kms.enable_key(KeyId=md["KeyId"])
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"x"


def test_pending_deletion_key(kms):
    md = kms.create_key()["KeyMetadata"]
    resp = kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    assert resp["KeyId"] == md["Arn"] and resp["KeyState"] == "PendingDeletion"
    assert resp["PendingWindowInDays"] == 7
    d = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert d["KeyState"] == "PendingDeletion" and d["Enabled"] is False
    delta = d["DeletionDate"] - d["CreationDate"]
    assert dt.timedelta(days=6, hours=23) < delta < dt.timedelta(days=8), delta
    raises("KMSInvalidStateException", kms.encrypt, KeyId=md["KeyId"], Plaintext=b"x")
    raises("KMSInvalidStateException", kms.enable_key, KeyId=md["KeyId"])
    raises("KMSInvalidStateException", kms.schedule_key_deletion, KeyId=md["KeyId"], PendingWindowInDays=7)
    # Cancelling leaves the key Disabled, as AWS does.
    assert kms.cancel_key_deletion(KeyId=md["KeyId"])["KeyId"] == md["Arn"]
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"


def test_generate_random_too_many_bytes(kms):
    e = raises("ValidationException", kms.generate_random, NumberOfBytes=2000)
    assert "numberOfBytes" in e.response["Error"]["Message"]
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_tampered_ciphertext(kms, key):
    blob = bytearray(kms.encrypt(KeyId=key["KeyId"], Plaintext=b"do not touch")["CiphertextBlob"])
    blob[-1] ^= 0x01
    raises("InvalidCiphertextException", kms.decrypt, CiphertextBlob=bytes(blob))
    raises("InvalidCiphertextException", kms.decrypt, CiphertextBlob=bytes(blob[:-20]))
    raises("InvalidCiphertextException", kms.decrypt, CiphertextBlob=b"\x00" * 64)


def test_decrypt_with_wrong_key_id(kms, key):
    other = kms.create_key()["KeyMetadata"]
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"mine")["CiphertextBlob"]
    raises("IncorrectKeyException", kms.decrypt, CiphertextBlob=ct, KeyId=other["KeyId"])
    assert kms.decrypt(CiphertextBlob=ct, KeyId=key["Arn"])["Plaintext"] == b"mine"


def test_duplicate_alias(kms, key):
    name = unique("alias/compat-dup-")
    kms.create_alias(AliasName=name, TargetKeyId=key["KeyId"])
    raises("AlreadyExistsException", kms.create_alias, AliasName=name, TargetKeyId=key["KeyId"])


def test_reserved_tag_keys(kms, key):
    raises("TagException", kms.tag_resource, KeyId=key["KeyId"], Tags=[{"TagKey": "aws:owner", "TagValue": "x"}])
    raises("TagException", kms.create_key, Tags=[{"TagKey": "aws:created-by", "TagValue": "x"}])
    assert all(not t["TagKey"].startswith("aws:") for t in kms.list_resource_tags(KeyId=key["KeyId"])["Tags"])


def test_malformed_policy(kms, key):
    raises("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=key["KeyId"], PolicyName="default", Policy="not a policy")
    bad_effect = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Perhaps", "Principal": {"AWS": "*"}, "Action": "kms:*", "Resource": "*"}]})
    raises("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=key["KeyId"], PolicyName="default", Policy=bad_effect)
    raises("MalformedPolicyDocumentException", kms.create_key, Policy='{"Version":"2012-10-17"}')
    # The key keeps its policy.
    assert json.loads(kms.get_key_policy(KeyId=key["KeyId"])["Policy"])["Statement"][0]["Action"] == "kms:*"


def test_policy_lockout_safety_check(kms, durable):
    """A policy that would lock the caller out is refused unless the caller bypasses the check."""
    md = kms.create_key()["KeyMetadata"]
    # The seed policy names only other accounts (and users that do not exist here).
    raises("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=md["KeyId"], PolicyName="default", Policy=SEED_POLICY)
    other_only = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{durable.account}:root"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}]})
    e = raises("MalformedPolicyDocumentException", kms.put_key_policy, KeyId=md["KeyId"], PolicyName="default", Policy=other_only)
    assert "update the key policy in the future" in e.response["Error"]["Message"]
    raises("MalformedPolicyDocumentException", kms.create_key, Policy=other_only)

    kms.put_key_policy(KeyId=md["KeyId"], PolicyName="default", Policy=other_only, BypassPolicyLockoutSafetyCheck=True)
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyId"] == md["KeyId"]
    raises("AccessDeniedException", kms.get_key_policy, KeyId=md["KeyId"], PolicyName="default")
    raises("AccessDeniedException", kms.put_key_policy, KeyId=md["KeyId"], PolicyName="default", Policy=other_only)


def test_unknown_access_key(durable):
    c = durable.client(access_key="AKIA" + uuid.uuid4().hex[:16].upper(), secret_key="x" * 40)
    e = raises("UnrecognizedClientException", c.list_keys)
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_wrong_secret(durable):
    c = durable.client(access_key=durable.access_key, secret_key=durable.secret_key[:-1] + ("A" if durable.secret_key[-1] != "A" else "B"))
    e = raises("InvalidSignatureException", c.list_keys)
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_key_state_rules(kms, key):
    """AWS's key state table for a few operations (Disabled and PendingDeletion keys)."""
    md = kms.create_key()["KeyMetadata"]
    kms.enable_key_rotation(KeyId=md["KeyId"])
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]

    kms.disable_key(KeyId=md["KeyId"])
    raises("DisabledException", kms.enable_key_rotation, KeyId=md["KeyId"])
    raises("DisabledException", kms.rotate_key_on_demand, KeyId=md["KeyId"])
    raises("DisabledException", kms.re_encrypt, CiphertextBlob=ct, DestinationKeyId=md["KeyId"])
    kms.update_key_description(KeyId=md["KeyId"], Description="disabled keys can be described")
    kms.tag_resource(KeyId=md["KeyId"], Tags=[{"TagKey": "state", "TagValue": "disabled"}])
    raises("KMSInvalidStateException", kms.cancel_key_deletion, KeyId=md["KeyId"])

    kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=30)
    raises("KMSInvalidStateException", kms.update_key_description, KeyId=md["KeyId"], Description="x")
    raises("KMSInvalidStateException", kms.tag_resource, KeyId=md["KeyId"], Tags=[{"TagKey": "a", "TagValue": "b"}])
    raises("KMSInvalidStateException", kms.enable_key_rotation, KeyId=md["KeyId"])
    raises("KMSInvalidStateException", kms.rotate_key_on_demand, KeyId=md["KeyId"])
    raises("KMSInvalidStateException", kms.generate_data_key, KeyId=md["KeyId"], KeySpec="AES_256")
    # While a key is pending deletion its rotation status reads false; cancelling restores it.
    assert kms.get_key_rotation_status(KeyId=md["KeyId"])["KeyRotationEnabled"] is False
    kms.cancel_key_deletion(KeyId=md["KeyId"])
    assert kms.get_key_rotation_status(KeyId=md["KeyId"])["KeyRotationEnabled"] is True


def test_request_validation(kms, key):
    # GenerateDataKey needs exactly one of KeySpec and NumberOfBytes.
    raises("ValidationException", kms.generate_data_key, KeyId=key["KeyId"])
    raises("ValidationException", kms.generate_data_key, KeyId=key["KeyId"], KeySpec="AES_256", NumberOfBytes=32)
    # Alias names: the alias/ prefix and [a-zA-Z0-9:/_-] only.
    raises("ValidationException", kms.create_alias, AliasName="no-prefix", TargetKeyId=key["KeyId"])
    raises("ValidationException", kms.create_alias, AliasName="alias/with space", TargetKeyId=key["KeyId"])
    # A symmetric key does not do RSA.
    raises("InvalidKeyUsageException", kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x", EncryptionAlgorithm="RSAES_OAEP_SHA_256")


def test_empty_encryption_context_is_none(kms, key):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"no context")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ct, EncryptionContext={})["Plaintext"] == b"no context"
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"empty context", EncryptionContext={})["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"empty context"


def test_untag_absent_key_is_not_an_error(kms, key):
    kms.untag_resource(KeyId=key["KeyId"], TagKeys=["never-set"])


def test_aws_managed_key(dev_kms):
    """DescribeKey of a predefined alias creates the AWS managed key (as AWS documents); it is
    usable only through its service, not directly by the account."""
    md = dev_kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert md["KeyManager"] == "AWS" and md["KeyState"] == "Enabled"
    assert dev_kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["KeyId"] == md["KeyId"]  # once
    entry = [a for a in dev_kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/aws/s3"]
    assert len(entry) == 1 and entry[0]["TargetKeyId"] == md["KeyId"]
    assert dev_kms.get_key_rotation_status(KeyId=md["KeyId"])["KeyRotationEnabled"] is True
    raises("AccessDeniedException", dev_kms.encrypt, KeyId="alias/aws/s3", Plaintext=b"x")


def test_signature_checks(durable):
    """SigV4 as AWS enforces it, on raw requests signed with the admin's real credentials."""
    creds = (durable.access_key, durable.secret_key)
    ep, target = durable.endpoint, "TrentService.ListKeys"
    status, body = raw_kms(ep, target, credentials=creds)
    assert status == 200 and "Keys" in body
    status, body = raw_kms(ep, target, credentials=None)
    assert status in (400, 403) and wire_error(body)[0] == "MissingAuthenticationTokenException"
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    status, body = raw_kms(ep, target, credentials=creds, signed_at=now - dt.timedelta(minutes=20))
    assert (status, wire_error(body)[0]) == (400, "InvalidSignatureException")
    assert "Signature expired" in wire_error(body)[1]
    status, body = raw_kms(ep, target, credentials=creds, signed_at=now + dt.timedelta(minutes=20))
    assert (status, wire_error(body)[0]) == (400, "InvalidSignatureException")
    # The body is covered by the signature.
    status, body = raw_kms(ep, target, b'{"Limit":2}', credentials=creds, send_body=b'{"Limit":3}')
    assert (status, wire_error(body)[0]) == (400, "InvalidSignatureException")
    # A signed request whose body is not JSON.
    status, body = raw_kms(ep, target, b"{not json", credentials=creds)
    assert (status, wire_error(body)[0]) == (400, "SerializationException")


# ---- pagination -------------------------------------------------------------------------------


def test_pagination_list_keys_and_aliases(dev_kms):
    """Five keys and aliases in a fresh account, paged two at a time with Limit and Marker."""
    made = [dev_kms.create_key(Description=f"page {i}")["KeyMetadata"]["KeyId"] for i in range(5)]
    names = [unique(f"alias/compat-page-{i}-") for i in range(5)]
    for n, k in zip(names, made):
        dev_kms.create_alias(AliasName=n, TargetKeyId=k)

    def collect(call, item_key):
        items, pages, marker = [], 0, None
        while True:
            resp = call(Limit=2, **({"Marker": marker} if marker else {}))
            pages += 1
            assert len(resp[item_key]) <= 2
            items.extend(resp[item_key])
            if not resp["Truncated"]:
                assert "NextMarker" not in resp
                return items, pages
            assert resp["NextMarker"] and resp[item_key]
            marker = resp["NextMarker"]
            assert pages < 100

    keys, pages = collect(dev_kms.list_keys, "Keys")
    ids = [k["KeyId"] for k in keys]
    assert sorted(ids) == sorted(made), "every key exactly once"
    assert pages == 3

    aliases, _ = collect(dev_kms.list_aliases, "Aliases")
    got = [a["AliasName"] for a in aliases]
    assert len(got) == len(set(got)), "no alias twice"
    for n in names:
        assert got.count(n) == 1

    # boto3's paginators use the same markers.
    paged = [k["KeyId"] for p in dev_kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 2}) for k in p["Keys"]]
    assert sorted(paged) == sorted(made)
    raises("InvalidMarkerException", dev_kms.list_keys, Limit=2, Marker="not-a-marker")


# ---- the deletion reaper and automatic rotation (--dev clock) -----------------------------------


def test_deletion_reaper(dev, dev_kms):
    md = dev_kms.create_key(Description="to be reaped")["KeyMetadata"]
    keep = dev_kms.create_key(Description="stays")["KeyMetadata"]
    alias = unique("alias/compat-reaped-")
    dev_kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
    ct = dev_kms.encrypt(KeyId=md["KeyId"], Plaintext=b"gone soon")["CiphertextBlob"]
    dev_kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)

    report = dev.advance_clock(6 * DAY)
    assert dev_kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"

    report = dev.advance_clock(2 * DAY)
    assert report["deleted"] >= 1, report
    raises("NotFoundException", dev_kms.describe_key, KeyId=md["KeyId"])
    raises("NotFoundException", dev_kms.describe_key, KeyId=alias)
    assert alias not in [a["AliasName"] for a in dev_kms.list_aliases()["Aliases"]]
    assert md["KeyId"] not in [k["KeyId"] for k in dev_kms.list_keys()["Keys"]]
    # Ciphertexts under a deleted key are unrecoverable.
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        dev_kms.decrypt(CiphertextBlob=ct)
    assert error_code(ei.value) in ("NotFoundException", "InvalidCiphertextException")
    assert dev_kms.describe_key(KeyId=keep["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_automatic_rotation(dev, dev_kms):
    md = dev_kms.create_key()["KeyMetadata"]
    ct = dev_kms.encrypt(KeyId=md["KeyId"], Plaintext=b"old material")["CiphertextBlob"]
    dev_kms.enable_key_rotation(KeyId=md["KeyId"], RotationPeriodInDays=90)
    assert dev_kms.list_key_rotations(KeyId=md["KeyId"])["Rotations"] == []
    report = dev.advance_clock(91 * DAY)
    assert report["rotated"] >= 1, report
    rot = dev_kms.list_key_rotations(KeyId=md["KeyId"])["Rotations"]
    assert [r["RotationType"] for r in rot] == ["AUTOMATIC"]
    assert dev_kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"old material"
