"""Nothing secret reaches the durable server's disk or log.

Distinctive plaintexts are encrypted and data keys generated through the durable Coffer, and
SecureString parameters (standard tier, and a 6 KB advanced-tier value) are written, overwritten,
labelled and read back decrypted through Parameter Store; then every file of its data directory
(coffer.db, -wal, -shm, ...) and its log are searched as bytes for each secret in raw, base64
(padded, unpadded, URL-safe) and hex (both cases) form. The root key's raw bytes (root.key is their
base64) must not be in the database files either.

S3 objects are written in every server-side encryption mode (SSE-S3, SSE-KMS with and without a
Bucket Key, a bucket default of SSE-KMS, SSE-C, multipart uploads complete and in progress, and a
re-encrypting copy); then every file under the data directory (the database and
<data_dir>/objects/...) and the log are searched for slices of each object's plaintext (its first
and last 48 bytes and slices at 64 KiB chunk boundaries) and for the SSE-C keys.
"""

from __future__ import annotations

import base64
import os
import secrets

import pytest
from boto3.s3.transfer import TransferConfig

from helpers import http, unique

CANARIES = 6
DATA_KEYS = 6
ADVANCED_SIZE = 6 * 1024


def forms(secret: bytes) -> dict[str, bytes]:
    """The ways a secret could be written down."""
    b64 = base64.b64encode(secret)
    return {
        "raw": secret,
        "base64": b64,
        "base64-unpadded": b64.rstrip(b"="),
        "base64url": base64.urlsafe_b64encode(secret).rstrip(b"="),
        "hex": secret.hex().encode(),
        "HEX": secret.hex().upper().encode(),
    }


def find(needles: dict[str, bytes], files) -> list[str]:
    found = []
    for path in files:
        data = path.read_bytes()
        for name, needle in needles.items():
            if needle in data:
                found.append(f"{name} in {path.name}")
    return found


def slices(data: bytes, size: int = 48) -> dict[str, bytes]:
    """Distinctive pieces of an object: its first and last `size` bytes, and pieces across and at
    the 64 KiB chunk boundaries of Coffer's segment format and in the middle."""
    offsets = {"first": 0, "last": len(data) - size, "middle": len(data) // 2}
    for n in (1, 2, 80):
        if (n + 1) * 65_536 <= len(data):
            offsets[f"chunk{n}-across"] = n * 65_536 - size // 2
            offsets[f"chunk{n}-start"] = n * 65_536
    return {name: data[o:o + size] for name, o in offsets.items()}


@pytest.fixture(scope="module")
def secrets_sent(kms):
    """Plaintexts and data keys that went through the durable server (and their ciphertexts)."""
    key = kms.create_key(Description="compat leak canaries")["KeyMetadata"]
    kms.create_alias(AliasName=f"alias/compat-leak-{secrets.token_hex(4)}", TargetKeyId=key["KeyId"])
    out: dict[str, bytes] = {}
    for i in range(CANARIES):
        pt = f"COFFER-LEAK-CANARY-{secrets.token_hex(12)}".encode()
        ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=pt, EncryptionContext={"canary": str(i)})["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=ct, EncryptionContext={"canary": str(i)})["Plaintext"] == pt
        re = kms.re_encrypt(CiphertextBlob=ct, SourceEncryptionContext={"canary": str(i)}, DestinationKeyId=key["KeyId"])
        assert kms.decrypt(CiphertextBlob=re["CiphertextBlob"])["Plaintext"] == pt
        out[f"canary{i}"] = pt
    for i in range(DATA_KEYS):
        spec = {"KeySpec": "AES_256"} if i % 2 == 0 else {"NumberOfBytes": 48}
        dk = kms.generate_data_key(KeyId=key["KeyId"], **spec)
        assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
        out[f"datakey{i}"] = dk["Plaintext"]
    out["random"] = kms.generate_random(NumberOfBytes=64)["Plaintext"]
    # Keys created, rotated and re-policied are written to disk too: make the server write a lot.
    kms.enable_key_rotation(KeyId=key["KeyId"])
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    return {"key": key, "secrets": out}


@pytest.fixture(scope="module")
def parameters_sent(durable, kms, secrets_sent):
    """SecureString values that went through Parameter Store: standard tier under the default key
    alias/aws/ssm and under a customer key, and an advanced-tier 6 KB value (parameter envelope)."""
    ssm = durable.client(service="ssm")
    root = unique("/compat/leak-")
    out: dict[str, bytes] = {}
    std = f"COFFER-SSM-CANARY-{secrets.token_hex(12)}"
    ssm.put_parameter(Name=f"{root}/standard", Value=std, Type="SecureString")
    out["ssm-standard"] = std.encode()
    custom = f"COFFER-SSM-CMK-CANARY-{secrets.token_hex(12)}"
    ssm.put_parameter(Name=f"{root}/custom", Value=custom, Type="SecureString", KeyId=secrets_sent["key"]["Arn"])
    out["ssm-custom-key"] = custom.encode()
    # 6 KB of distinct text (no repeats that a partial leak could hide behind).
    big = ("COFFER-SSM-ADVANCED-CANARY-" + secrets.token_hex(ADVANCED_SIZE))[:ADVANCED_SIZE]
    assert len(big) == ADVANCED_SIZE
    assert ssm.put_parameter(Name=f"{root}/advanced", Value=big, Type="SecureString", Tier="Advanced")["Tier"] == "Advanced"
    out["ssm-advanced"] = big.encode()
    out["ssm-advanced-head"] = big.encode()[:48]  # a leak of part of it
    out["ssm-advanced-tail"] = big.encode()[-48:]
    # A second version, a label and every decrypting read.
    v2 = f"COFFER-SSM-CANARY-V2-{secrets.token_hex(12)}"
    ssm.put_parameter(Name=f"{root}/standard", Value=v2, Type="SecureString", Overwrite=True)
    out["ssm-standard-v2"] = v2.encode()
    ssm.label_parameter_version(Name=f"{root}/standard", ParameterVersion=1, Labels=["first"])
    assert ssm.get_parameter(Name=f"{root}/standard:first", WithDecryption=True)["Parameter"]["Value"] == std
    assert ssm.get_parameter(Name=f"{root}/advanced", WithDecryption=True)["Parameter"]["Value"] == big
    got = ssm.get_parameters(Names=[f"{root}/standard", f"{root}/custom"], WithDecryption=True)["Parameters"]
    assert sorted(p["Value"] for p in got) == sorted([v2, custom])
    by_path = ssm.get_parameters_by_path(Path=root, WithDecryption=True)["Parameters"]
    assert len(by_path) == 3
    history = ssm.get_parameter_history(Name=f"{root}/standard", WithDecryption=True)["Parameters"]
    assert [h["Value"] for h in history] == [std, v2]
    # Stored values are ciphertext: what a reader without decryption sees is not the value.
    assert ssm.get_parameter(Name=f"{root}/advanced")["Parameter"]["Value"] != big
    return {"root": root, "secrets": out}


def test_no_plaintext_or_data_key_on_disk_or_in_log(durable, secrets_sent):
    assert http("GET", f"{durable.endpoint}/_coffer/health")[0] == 200
    files = sorted(p for p in durable.data_dir.iterdir() if p.is_file())
    names = {p.name for p in files}
    assert "coffer.db" in names, names
    searched = files + [durable.log_path]

    # The search sees what is there: the key's id is written both to the database and the log.
    key_id = secrets_sent["key"]["KeyId"].encode()
    assert any(key_id in p.read_bytes() for p in files if p.name.startswith("coffer.db")), "key id not found in coffer.db*"
    assert key_id in durable.log_path.read_bytes(), "key id not found in the log"

    needles = {f"{name}/{form}": v for name, s in secrets_sent["secrets"].items() for form, v in forms(s).items()}
    leaks = find(needles, searched)
    assert not leaks, f"secrets at rest: {leaks}"


def test_no_secure_string_on_disk_or_in_log(durable, parameters_sent):
    files = sorted(p for p in durable.data_dir.iterdir() if p.is_file())
    # The search sees what is there: the parameters' names are stored.
    root = parameters_sent["root"].encode()
    assert any(root in p.read_bytes() for p in files if p.name.startswith("coffer.db")), "parameter names not found"
    needles = {f"{name}/{form}": v for name, s in parameters_sent["secrets"].items() for form, v in forms(s).items()}
    leaks = find(needles, files + [durable.log_path])
    assert not leaks, f"SecureString values at rest: {leaks}"


def test_root_key_not_in_database(durable, secrets_sent):
    root_key = base64.b64decode((durable.data_dir / "root.key").read_text().strip())
    assert len(root_key) == 32
    db_files = sorted(p for p in durable.data_dir.iterdir() if p.name.startswith("coffer.db"))
    assert db_files
    needles = {f"root-key/{form}": v for form, v in forms(root_key).items()}
    leaks = find(needles, db_files + [durable.log_path, durable.data_dir / "admin-credentials"])
    assert not leaks, f"root key material found: {leaks}"


def test_admin_secret_not_in_log(durable, secrets_sent):
    """The admin's secret access key is in admin-credentials (mode 0600), never in the log."""
    needles = {f"secret/{form}": v for form, v in forms(durable.secret_key.encode()).items()}
    assert not find(needles, [durable.log_path])
    assert (durable.data_dir / "admin-credentials").stat().st_mode & 0o077 == 0
    assert (durable.data_dir / "root.key").stat().st_mode & 0o077 == 0


# ---- S3 ----------------------------------------------------------------------------------------

MIB = 1024 * 1024


def canary(label: str, size: int) -> bytes:
    """A distinctive object body: a marker, then random bytes (no repeats a partial leak could hide in)."""
    head = f"COFFER-S3-CANARY-{label}-{secrets.token_hex(8)}-".encode()
    return head + os.urandom(size - len(head))


@pytest.fixture(scope="module")
def objects_sent(durable, kms):
    """S3 objects written to the durable server in every encryption mode, read back; their
    plaintexts, the SSE-C keys used and the buckets' names."""
    s3 = durable.client(service="s3")
    key = kms.create_key(Description="compat s3 leak canaries")["KeyMetadata"]
    bucket, kms_bucket = unique("compat-leak-"), unique("compat-leak-kms-")
    for b in (bucket, kms_bucket):
        s3.create_bucket(Bucket=b)
    s3.put_bucket_encryption(Bucket=kms_bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]},
        "BucketKeyEnabled": True}]})
    customer, customer2 = os.urandom(32), os.urandom(32)
    ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": customer}
    bodies: dict[str, bytes] = {}

    def put(label: str, size: int, target: str = bucket, read: dict | None = None, **kw) -> None:
        bodies[label] = canary(label, size)
        s3.put_object(Bucket=target, Key=label, Body=bodies[label], **kw)
        assert s3.get_object(Bucket=target, Key=label, **(read or {}))["Body"].read() == bodies[label]

    put("sse-s3", 200_000)
    put("sse-kms", 200_000, ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"], BucketKeyEnabled=False)
    put("sse-kms-bucket-key", 200_000, ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"], BucketKeyEnabled=True)
    put("bucket-default-kms", 200_000, target=kms_bucket)
    put("sse-c", 200_000, read=ssec, **ssec)
    put("small", 1000)

    # Multipart, completed (s3transfer: 3 parts of 5 MiB at most), with SSE-S3 and SSE-C.
    transfer = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    for label, extra in (("multipart-sse-s3", {}), ("multipart-sse-c", ssec)):
        bodies[label] = canary(label, 11 * MIB)
        path = durable.workdir / f"{label}.bin"
        path.write_bytes(bodies[label])
        s3.upload_file(str(path), bucket, label, ExtraArgs=extra, Config=transfer)
        path.unlink()
        got = s3.get_object(Bucket=bucket, Key=label, **extra)
        assert got["ETag"].endswith('-3"') and got["Body"].read() == bodies[label]

    # A multipart upload in progress: its parts are on disk too.
    bodies["part-in-progress"] = canary("part-in-progress", 5 * MIB)
    up = s3.create_multipart_upload(Bucket=bucket, Key="in-progress", **ssec)
    s3.upload_part(Bucket=bucket, Key="in-progress", UploadId=up["UploadId"], PartNumber=1,
                   Body=bodies["part-in-progress"], **ssec)

    # Re-encrypting copies: SSE-C -> SSE-C under another key, SSE-S3 -> SSE-KMS.
    s3.copy_object(Bucket=bucket, Key="sse-c-copy", CopySource={"Bucket": bucket, "Key": "sse-c"},
                   CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=customer,
                   SSECustomerAlgorithm="AES256", SSECustomerKey=customer2)
    assert s3.get_object(Bucket=bucket, Key="sse-c-copy", SSECustomerAlgorithm="AES256",
                         SSECustomerKey=customer2)["Body"].read() == bodies["sse-c"]
    s3.copy_object(Bucket=bucket, Key="sse-s3-to-kms", CopySource={"Bucket": bucket, "Key": "sse-s3"},
                   ServerSideEncryption="aws:kms", SSEKMSKeyId=key["Arn"])
    assert s3.get_object(Bucket=bucket, Key="sse-s3-to-kms")["Body"].read() == bodies["sse-s3"]
    return {"bodies": bodies, "customer_keys": [customer, customer2], "buckets": [bucket, kms_bucket]}


def test_no_object_plaintext_or_customer_key_on_disk_or_in_log(durable, objects_sent):
    data_files = sorted(p for p in durable.data_dir.rglob("*") if p.is_file())
    object_files = [p for p in data_files if "objects" in p.relative_to(durable.data_dir).parts]
    db_files = [p for p in data_files if p.name.startswith("coffer.db")]
    assert db_files, data_files

    # The search sees what is there: the buckets' names are in the database, and the object data
    # (ciphertext) is under <data_dir>/objects, at least as much of it as was written.
    for b in objects_sent["buckets"]:
        assert find({"bucket": b.encode()}, db_files), f"bucket {b} not found in coffer.db*"
        assert find({"bucket": b.encode()}, [durable.log_path]), f"bucket {b} not found in the log"
    written = sum(len(v) for v in objects_sent["bodies"].values())
    stored = sum(p.stat().st_size for p in object_files)
    assert stored >= written, f"only {stored} bytes under objects/ for {written} bytes of objects"

    needles: dict[str, bytes] = {}
    for label, body in objects_sent["bodies"].items():
        if len(body) <= MIB:
            needles[f"{label}/whole"] = body
        for where, piece in slices(body).items():
            for form, v in forms(piece).items():
                needles[f"{label}/{where}/{form}"] = v
    for i, k in enumerate(objects_sent["customer_keys"]):
        for form, v in forms(k).items():
            needles[f"sse-c-key{i}/{form}"] = v
    # The search finds a piece of plaintext where there is one.
    probe = durable.workdir / "probe.bin"
    probe.write_bytes(b"x" * 100 + objects_sent["bodies"]["multipart-sse-c"][-48:] + b"y" * 100)
    assert find(needles, [probe]) == ["multipart-sse-c/last/raw in probe.bin"]
    probe.unlink()

    leaks = find(needles, data_files + [durable.log_path])
    assert not leaks, f"S3 plaintext or customer keys at rest: {leaks}"
