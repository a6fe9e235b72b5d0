"""The AWS Encryption SDK for Python (v4 API) using Coffer as its KMS, and its ciphertext stored in
Coffer's S3 (client-side encryption under server-side encryption).

The SDK builds its own KMS clients from a botocore session (one client per region, the region
taken from the key ARN). The session is pointed at Coffer the way a user would point any SDK at it:
a shared config file whose profile sets `endpoint_url` and `region`, and the admin-credentials file
Coffer wrote, both given to the botocore session explicitly.
"""

from __future__ import annotations

import os

import aws_encryption_sdk
import botocore.session
import pytest
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.exceptions import DecryptKeyError
from aws_encryption_sdk.identifiers import Algorithm

from helpers import REGION


@pytest.fixture(scope="module")
def botocore_session(durable, tmp_path_factory):
    config = tmp_path_factory.mktemp("esdk") / "config"
    config.write_text(f"[profile coffer]\nregion = {REGION}\nendpoint_url = {durable.endpoint}\n")
    s = botocore.session.Session()
    s.set_config_variable("config_file", str(config))
    s.set_config_variable("credentials_file", str(durable.credentials_file))
    s.set_config_variable("profile", "coffer")
    return s


@pytest.fixture(scope="module")
def key_arn(kms) -> str:
    return kms.create_key(Description="compat encryption sdk")["KeyMetadata"]["Arn"]


@pytest.fixture(scope="module")
def client():
    return aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)


def provider(session, *arns):
    return aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=list(arns), botocore_session=session)


def test_envelope_round_trip(client, botocore_session, key_arn, durable):
    plaintext = os.urandom(4096) + b"compat encryption sdk" * 50
    context = {"tenant": "acme", "purpose": "compat-esdk"}
    p = provider(botocore_session, key_arn)
    before = {op: durable.log_text().count(f'op="{op}"') for op in ("GenerateDataKey", "Decrypt")}

    ciphertext, enc_header = client.encrypt(source=plaintext, key_provider=p, encryption_context=context)
    assert plaintext not in ciphertext
    assert enc_header.algorithm == Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384

    decrypted, header = client.decrypt(source=ciphertext, key_provider=provider(botocore_session, key_arn))
    assert decrypted == plaintext
    for k, v in context.items():
        assert header.encryption_context[k] == v
    # The one encrypted data key was made by KMS under our key, and is recorded by its ARN.
    assert len(header.encrypted_data_keys) == 1
    edk = next(iter(header.encrypted_data_keys))
    assert edk.key_provider.provider_id == "aws-kms"
    assert edk.key_provider.key_info == key_arn.encode()

    # The SDK's KMS calls went to Coffer.
    after = {op: durable.log_text().count(f'op="{op}"') for op in ("GenerateDataKey", "Decrypt")}
    assert after["GenerateDataKey"] > before["GenerateDataKey"] and after["Decrypt"] > before["Decrypt"]


def test_streaming_and_multiple_keys(client, botocore_session, key_arn, kms):
    second = kms.create_key(Description="compat encryption sdk 2")["KeyMetadata"]["Arn"]
    data = os.urandom(20_000)
    ciphertext, header = client.encrypt(
        source=data, key_provider=provider(botocore_session, key_arn, second),
        encryption_context={"n": "2"}, frame_length=4096,
    )
    assert {e.key_provider.key_info for e in header.encrypted_data_keys} == {key_arn.encode(), second.encode()}
    # Either key alone decrypts.
    for arn in (key_arn, second):
        with client.stream(mode="d", source=ciphertext, key_provider=provider(botocore_session, arn)) as dec:
            assert dec.read() == data


def test_decrypt_needs_an_allowed_key(client, botocore_session, key_arn, kms):
    other = kms.create_key(Description="compat encryption sdk other")["KeyMetadata"]["Arn"]
    ciphertext, _ = client.encrypt(source=b"only for key_arn", key_provider=provider(botocore_session, key_arn))
    with pytest.raises(DecryptKeyError):
        client.decrypt(source=ciphertext, key_provider=provider(botocore_session, other))


@pytest.mark.parametrize("server_side", ["AES256", "aws:kms"])
def test_client_side_encryption_stored_in_s3(client, botocore_session, key_arn, durable, tmp_path, server_side):
    """Client-side and server-side encryption layered: the SDK encrypts locally under a Coffer KMS
    key, the ciphertext goes to Coffer's S3 (SSE-S3, or SSE-KMS under the same key), comes back
    byte for byte, and only the SDK (with KMS) turns it into the plaintext again."""
    s3 = durable.client(service="s3")
    bucket = f"compat-esdk-{os.urandom(6).hex()}"
    s3.create_bucket(Bucket=bucket)
    plaintext = os.urandom(3 * 1024 * 1024) + b"compat client-side canary"
    context = {"bucket": bucket, "purpose": "client-side"}
    src = tmp_path / "plain.bin"
    src.write_bytes(plaintext)
    sealed = tmp_path / "sealed.bin"
    with open(src, "rb") as pt, open(sealed, "wb") as ct:
        with client.stream(mode="e", source=pt, key_provider=provider(botocore_session, key_arn),
                           encryption_context=context, frame_length=64 * 1024) as enc:
            for chunk in enc:
                ct.write(chunk)
    ciphertext = sealed.read_bytes()
    assert b"compat client-side canary" not in ciphertext and len(ciphertext) > len(plaintext)

    extra = {"ServerSideEncryption": server_side}
    if server_side == "aws:kms":
        extra["SSEKMSKeyId"] = key_arn
    s3.upload_file(str(sealed), bucket, "sealed.bin", ExtraArgs={**extra, "Metadata": {"x-client-side": "aws-encryption-sdk"}})
    head = s3.head_object(Bucket=bucket, Key="sealed.bin")
    assert head["ServerSideEncryption"] == server_side and head["ContentLength"] == len(ciphertext)
    assert head["Metadata"] == {"x-client-side": "aws-encryption-sdk"}
    if server_side == "aws:kms":
        assert head["SSEKMSKeyId"] == key_arn

    fetched = tmp_path / "fetched.bin"
    s3.download_file(bucket, "sealed.bin", str(fetched))
    assert fetched.read_bytes() == ciphertext  # S3 returns the client's ciphertext, not its plaintext
    with open(fetched, "rb") as ct:
        with client.stream(mode="d", source=ct, key_provider=provider(botocore_session, key_arn)) as dec:
            assert dec.read() == plaintext
            assert dec.header.encryption_context["bucket"] == bucket
