"""S3 server-side encryption through the `aws` CLI (v1), typed as a user would type it: `aws s3 cp`
(with --sse, --sse-kms-key-id, --sse-c / --sse-c-key), `aws s3api` for bucket default encryption,
head-object, copy-object re-encryption and bucket policies, and `aws kms create-key` for the keys.

Everything runs against the durable Coffer with its admin profile, except the bucket-policy tests,
which compare a plain-HTTP --dev Coffer with an HTTPS one (`coffer serve --dev --tls`, the CLI
trusting its self-signed certificate with --ca-bundle). What the CLI did is checked with boto3
(an `aws` command costs ~0.7 s of start-up; independent commands run concurrently).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers import AwsCli, Coffer, client_for, random_account, raises, unique, write_credentials

MIB = 1024 * 1024
# The CLI's multipart_threshold and multipart_chunksize (both 8 MiB by default).
CLI_CHUNK = 8 * MIB
BIG = 100 * MIB


# ---- helpers ---------------------------------------------------------------------------------


def s3(cli: AwsCli, *args: str) -> str:
    """`aws s3 <args>` (progress output off), which must succeed; its stdout."""
    p = s3_run(cli, *args)
    assert p.returncode == 0, f"aws s3 {' '.join(args)} failed ({p.returncode}):\n{p.stderr}"
    return p.stdout


def s3_run(cli: AwsCli, *args: str) -> subprocess.CompletedProcess:
    extra = ["--no-progress"] if args and args[0] in ("cp", "mv", "sync") else []
    return cli.run(*args, *extra, service="s3", output=None)


def s3_fails(cli: AwsCli, *args: str, code: str) -> str:
    """`aws s3 <args>` must fail, naming `code` (an AWS error code or an HTTP status); its stderr."""
    p = s3_run(cli, *args)
    assert p.returncode != 0, f"aws s3 {' '.join(args)} succeeded, expected {code}:\n{p.stdout}"
    assert f"({code})" in p.stderr, f"aws s3 {' '.join(args)}: expected {code}, got:\n{p.stderr}"
    return p.stderr


def concurrently(*calls):
    """Runs independent zero-argument callables (CLI commands) concurrently; their results."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(c) for c in calls]
        return [f.result() for f in futures]


def s3api(cli: AwsCli, *args: str) -> dict:
    return cli(*args, service="s3api")


def ssec_params(raw: bytes, prefix: str = "") -> dict:
    """boto3's SSE-C parameters for a customer key (boto3 adds the key's MD5)."""
    return {f"{prefix}SSECustomerAlgorithm": "AES256", f"{prefix}SSECustomerKey": raw}


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def multipart_etag(path: str | Path, chunk: int) -> str:
    """S3's ETag of a multipart object (MD5 ETags, as SSE-S3 gives): the MD5 of the parts' MD5s."""
    digests = []
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digests.append(hashlib.md5(block).digest())
    return f'"{hashlib.md5(b"".join(digests)).hexdigest()}-{len(digests)}"'


@pytest.fixture(scope="module")
def aws(durable, tmp_path_factory) -> AwsCli:
    return AwsCli(durable.endpoint, durable.credentials_file, tmp_path_factory.mktemp("s3cli"))


@pytest.fixture(scope="module")
def s3c(durable):
    """boto3 S3 client of the same admin, to check what the CLI did."""
    return durable.client(service="s3")


@pytest.fixture(scope="module")
def bucket(aws) -> str:
    name = unique("compat-s3cli-")
    assert s3(aws, "mb", f"s3://{name}").strip() == f"make_bucket: {name}"
    return name


@pytest.fixture(scope="module")
def small(aws) -> str:
    return aws.file("small.bin", os.urandom(3000) + b"coffer s3 cli small object")


@pytest.fixture(scope="module")
def big(aws) -> str:
    """100 MiB of random data (the CLI uploads it in ceil(100/8) = 13 parts)."""
    path = aws.workdir / "big.bin"
    with open(path, "wb") as f:
        for _ in range(BIG // (4 * MIB)):
            f.write(os.urandom(4 * MIB))
    return str(path)


@pytest.fixture(scope="module")
def ssec_key(aws) -> tuple[str, bytes]:
    """A customer key as a user keeps one: 32 random bytes in a file (`fileb://`)."""
    raw = os.urandom(32)
    return aws.file("customer.key", raw), raw


@pytest.fixture(scope="module")
def kms_key(aws) -> dict:
    return aws("create-key", "--description", "compat s3 cli")["KeyMetadata"]


# ---- bucket default encryption ----------------------------------------------------------------


def test_bucket_default_encryption_kms_with_bucket_key(aws, s3c, small, kms_key):
    name = unique("compat-s3enc-")
    s3c.create_bucket(Bucket=name)
    # No configuration: S3's default, SSE-S3.
    got, _ = concurrently(
        lambda: s3api(aws, "get-bucket-encryption", "--bucket", name),
        lambda: s3(aws, "cp", small, f"s3://{name}/before"),
    )
    assert got["ServerSideEncryptionConfiguration"]["Rules"] == [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]
    assert s3c.head_object(Bucket=name, Key="before")["ServerSideEncryption"] == "AES256"

    config = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key["Arn"]},
                         "BucketKeyEnabled": True}]}
    assert s3api(aws, "put-bucket-encryption", "--bucket", name,
                 "--server-side-encryption-configuration", json.dumps(config)) == {}
    assert s3c.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"] == config

    assert f"to s3://{name}/after" in s3(aws, "cp", small, f"s3://{name}/after")
    h = s3api(aws, "head-object", "--bucket", name, "--key", "after")
    assert h["ServerSideEncryption"] == "aws:kms"
    assert h["SSEKMSKeyId"] == kms_key["Arn"]
    assert h["BucketKeyEnabled"] is True
    # Objects written before the change keep their encryption.
    h = s3c.head_object(Bucket=name, Key="before")
    assert h["ServerSideEncryption"] == "AES256" and "SSEKMSKeyId" not in h and "BucketKeyEnabled" not in h
    # Both read back (the KMS one through the bucket key).
    for key in ("before", "after"):
        assert s3c.get_object(Bucket=name, Key=key)["Body"].read() == Path(small).read_bytes()

    # delete-bucket-encryption reverts to SSE-S3 for new objects; existing ones stay SSE-KMS.
    assert s3api(aws, "delete-bucket-encryption", "--bucket", name) == {}
    got, _ = concurrently(
        lambda: s3api(aws, "get-bucket-encryption", "--bucket", name),
        lambda: s3(aws, "cp", small, f"s3://{name}/reverted"),
    )
    assert got["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert s3c.head_object(Bucket=name, Key="reverted")["ServerSideEncryption"] == "AES256"
    assert s3c.head_object(Bucket=name, Key="after")["SSEKMSKeyId"] == kms_key["Arn"]


# ---- aws s3 cp in each mode -------------------------------------------------------------------


def test_cp_default_is_sse_s3_and_sse_kms_on_request(aws, s3c, kms, bucket, small, kms_key):
    concurrently(
        lambda: s3(aws, "cp", small, f"s3://{bucket}/default"),
        # --sse aws:kms with the key's id: the object names the key by ARN.
        lambda: s3(aws, "cp", small, f"s3://{bucket}/kms", "--sse", "aws:kms", "--sse-kms-key-id", kms_key["KeyId"]),
        # --sse aws:kms alone: the AWS managed key alias/aws/s3.
        lambda: s3(aws, "cp", small, f"s3://{bucket}/kms-managed", "--sse", "aws:kms"),
    )
    data = Path(small).read_bytes()
    h = s3c.head_object(Bucket=bucket, Key="default")
    assert h["ServerSideEncryption"] == "AES256" and h["ContentLength"] == len(data)
    assert h["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'  # SSE-S3: an MD5 ETag

    h = s3c.head_object(Bucket=bucket, Key="kms")
    assert h["ServerSideEncryption"] == "aws:kms" and h["SSEKMSKeyId"] == kms_key["Arn"]
    assert "BucketKeyEnabled" not in h

    managed = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert managed["KeyManager"] == "AWS"
    h = s3c.head_object(Bucket=bucket, Key="kms-managed")
    assert h["ServerSideEncryption"] == "aws:kms" and h["SSEKMSKeyId"] == managed["Arn"]

    for key in ("default", "kms", "kms-managed"):
        assert s3c.get_object(Bucket=bucket, Key=key)["Body"].read() == data, key


def test_cp_sse_c_up_and_down(aws, s3c, bucket, small, ssec_key):
    key_file, raw = ssec_key
    other = aws.file("other.key", os.urandom(32))
    s3(aws, "cp", small, f"s3://{bucket}/ssec", "--sse-c", "AES256", "--sse-c-key", f"fileb://{key_file}")

    h = s3c.head_object(Bucket=bucket, Key="ssec", **ssec_params(raw))
    assert h["SSECustomerAlgorithm"] == "AES256" and h["SSECustomerKeyMD5"] == md5_b64(raw)
    assert "ServerSideEncryption" not in h
    # Without the key: 400 (HEAD has no body: the status is all a client sees).
    raises("400", s3c.head_object, Bucket=bucket, Key="ssec")

    # Downloading needs the same flags: without them 400, with another key 403.
    out = aws.workdir / "ssec.download"
    concurrently(
        lambda: s3_fails(aws, "cp", f"s3://{bucket}/ssec", str(out) + ".none", code="400"),
        lambda: s3_fails(aws, "cp", f"s3://{bucket}/ssec", str(out) + ".wrong", "--sse-c", "AES256",
                         "--sse-c-key", f"fileb://{other}", code="403"),
        lambda: s3(aws, "cp", f"s3://{bucket}/ssec", str(out), "--sse-c", "AES256", "--sse-c-key", f"fileb://{key_file}"),
    )
    assert not Path(str(out) + ".none").exists() and not Path(str(out) + ".wrong").exists()
    assert sha256(out) == sha256(small)


# ---- multipart: 100 MiB through aws s3 cp -----------------------------------------------------


@pytest.mark.parametrize("mode", ["sse-s3", "sse-kms", "sse-c"])
def test_cp_multipart_100_mib(aws, s3c, bucket, big, kms_key, ssec_key, mode):
    key_file, raw = ssec_key
    flags = {
        "sse-s3": [],
        "sse-kms": ["--sse", "aws:kms", "--sse-kms-key-id", kms_key["Arn"]],
        "sse-c": ["--sse-c", "AES256", "--sse-c-key", f"fileb://{key_file}"],
    }[mode]
    key = f"big-{mode}"
    s3(aws, "cp", big, f"s3://{bucket}/{key}", *flags)

    parts = math.ceil(BIG / CLI_CHUNK)
    h = s3c.head_object(Bucket=bucket, Key=key, **(ssec_params(raw) if mode == "sse-c" else {}))
    assert h["ContentLength"] == BIG
    assert re.fullmatch(rf'"[0-9a-f]{{32}}-{parts}"', h["ETag"]), h["ETag"]
    if mode == "sse-s3":
        assert h["ServerSideEncryption"] == "AES256"
        assert h["ETag"] == multipart_etag(big, CLI_CHUNK)
    elif mode == "sse-kms":
        assert h["ServerSideEncryption"] == "aws:kms" and h["SSEKMSKeyId"] == kms_key["Arn"]
    else:
        assert h["SSECustomerAlgorithm"] == "AES256" and h["SSECustomerKeyMD5"] == md5_b64(raw)
    # The upload is complete: no multipart upload is left behind.
    assert not [u for u in s3c.list_multipart_uploads(Bucket=bucket).get("Uploads", []) if u["Key"] == key]

    # Reading an SSE-C object needs the key again; SSE-S3 and SSE-KMS need nothing.
    out = aws.workdir / f"{key}.download"
    s3(aws, "cp", f"s3://{bucket}/{key}", str(out), *(flags if mode == "sse-c" else []))
    try:
        assert out.stat().st_size == BIG
        assert sha256(out) == sha256(big)
    finally:
        out.unlink(missing_ok=True)


# ---- copy-object: re-encrypting in place ------------------------------------------------------


def test_copy_object_reencrypts_in_place(aws, s3c, bucket, small, kms_key, ssec_key):
    key_file, raw = ssec_key
    key2_raw = os.urandom(32)
    key2 = aws.file("second.key", key2_raw)
    data = Path(small).read_bytes()
    name = "reencrypt"
    src = f"{bucket}/{name}"

    def copy(*extra: str) -> dict:
        return s3api(aws, "copy-object", "--bucket", bucket, "--key", name, "--copy-source", src, *extra)

    def ssec(path: str, prefix: str = "") -> list[str]:
        return [f"--{prefix}sse-customer-algorithm", "AES256", f"--{prefix}sse-customer-key", f"fileb://{path}"]

    def read(**kw) -> bytes:
        return s3c.get_object(Bucket=bucket, Key=name, **kw)["Body"].read()

    s3c.put_object(Bucket=bucket, Key=name, Body=data)
    assert s3c.head_object(Bucket=bucket, Key=name)["ServerSideEncryption"] == "AES256"

    # Copying an object onto itself with nothing changed is refused.
    aws.fails("copy-object", "--bucket", bucket, "--key", name, "--copy-source", src,
              service="s3api", code="InvalidRequest")

    # SSE-S3 -> SSE-KMS.
    r = copy("--server-side-encryption", "aws:kms", "--ssekms-key-id", kms_key["KeyId"])
    assert r["ServerSideEncryption"] == "aws:kms" and r["SSEKMSKeyId"] == kms_key["Arn"]
    h = s3c.head_object(Bucket=bucket, Key=name)
    assert h["ServerSideEncryption"] == "aws:kms" and h["SSEKMSKeyId"] == kms_key["Arn"]
    assert read() == data

    # SSE-KMS -> SSE-C (the source needs no key; the destination gets the customer key).
    r = copy(*ssec(key_file))
    assert r["SSECustomerAlgorithm"] == "AES256" and r["SSECustomerKeyMD5"] == md5_b64(raw)
    assert "ServerSideEncryption" not in r
    h = s3c.head_object(Bucket=bucket, Key=name, **ssec_params(raw))
    assert h["SSECustomerKeyMD5"] == md5_b64(raw) and "SSEKMSKeyId" not in h
    assert read(**ssec_params(raw)) == data
    raises("InvalidRequest", s3c.get_object, Bucket=bucket, Key=name)

    # An SSE-C source cannot be read without its key, not even to copy it; then SSE-C -> SSE-C
    # under a new customer key (rotation): --copy-source-sse-customer-* opens the source,
    # --sse-customer-* seals the destination.
    denied, r = concurrently(
        lambda: aws.fails("copy-object", "--bucket", bucket, "--key", name, "--copy-source", src, *ssec(key2),
                          service="s3api", code="InvalidRequest"),
        lambda: copy(*ssec(key_file, "copy-source-"), *ssec(key2)),
    )
    assert r["SSECustomerKeyMD5"] == md5_b64(key2_raw)
    assert read(**ssec_params(key2_raw)) == data
    raises("AccessDenied", s3c.get_object, Bucket=bucket, Key=name, **ssec_params(raw))

    # SSE-C -> SSE-S3 again: an MD5 ETag once more.
    r = copy(*ssec(key2, "copy-source-"), "--server-side-encryption", "AES256")
    assert r["ServerSideEncryption"] == "AES256"
    h = s3c.head_object(Bucket=bucket, Key=name)
    assert h["ServerSideEncryption"] == "AES256" and h["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert read() == data


# ---- bucket policy: SSE-KMS required, TLS required --------------------------------------------

# AWS's documented example, verbatim but for the bucket name: deny uploads without
# x-amz-server-side-encryption: aws:kms, and deny everything not over TLS.
POLICY = """{
  "Version": "2012-10-17",
  "Id": "PutObjectPolicy",
  "Statement": [
    {
      "Sid": "DenyIncorrectEncryptionHeader",
      "Effect": "Deny",
      "Principal": "*",
      "Action": "s3:PutObject",
      "Resource": "arn:aws:s3:::BUCKET/*",
      "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}
    },
    {
      "Sid": "DenyUnencryptedObjectUploads",
      "Effect": "Deny",
      "Principal": "*",
      "Action": "s3:PutObject",
      "Resource": "arn:aws:s3:::BUCKET/*",
      "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}
    },
    {
      "Sid": "AllowSSLRequestsOnly",
      "Effect": "Deny",
      "Principal": "*",
      "Action": "s3:*",
      "Resource": ["arn:aws:s3:::BUCKET", "arn:aws:s3:::BUCKET/*"],
      "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    }
  ]
}
"""


class DevAccount:
    """The root of a fresh account on a --dev Coffer (a 12-digit access key id): the CLI through a
    credentials file (and --ca-bundle for --tls), and boto3 clients."""

    def __init__(self, server, workdir: Path):
        self.server = server
        self.account = random_account()
        creds = write_credentials(workdir / f"{self.account}.credentials", "coffer", self.account, "dev-secret")
        self.cli = AwsCli(server.endpoint, creds, workdir, ca_bundle=server.ca_bundle)
        self.s3 = self.client("s3")

    def client(self, service: str, access_key: str | None = None, secret: str | None = None):
        return client_for(self.server.endpoint, service, access_key or self.account, secret or "dev-secret",
                          verify=str(self.server.ca_bundle) if self.server.ca_bundle else None)

    def bucket_with_policy(self, cli: bool = True) -> str:
        """A new bucket with POLICY, put with `aws s3api put-bucket-policy --policy file://...`
        (or boto3)."""
        name = unique("compat-policy-")
        self.s3.create_bucket(Bucket=name)
        path = self.cli.file(f"{name}.policy.json", POLICY.replace("BUCKET", name))
        if cli:
            assert s3api(self.cli, "put-bucket-policy", "--bucket", name, "--policy", f"file://{path}") == {}
        else:
            self.s3.put_bucket_policy(Bucket=name, Policy=Path(path).read_text())
        assert json.loads(self.s3.get_bucket_policy(Bucket=name)["Policy"]) == json.loads(Path(path).read_text())
        return name


def keys(client, bucket: str) -> set[str]:
    return {o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])}


def test_bucket_policy_over_https_requires_sse_kms(dev_tls, tmp_path):
    assert dev_tls.endpoint.startswith("https://")
    root = DevAccount(dev_tls, tmp_path)
    name = root.bucket_with_policy()
    f = root.cli.file("upload.txt", "coffer bucket policy test\n")

    # An IAM user allowed s3:* by its own policy.
    iam = root.client("iam")
    user = unique("s3-writer-")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    creds = write_credentials(tmp_path / f"{user}.credentials", user, key["AccessKeyId"], key["SecretAccessKey"])
    as_user = AwsCli(dev_tls.endpoint, creds, tmp_path, profile=user, ca_bundle=dev_tls.ca_bundle)

    # The bucket owner's root is subject to the policy's explicit denies, and so is the user:
    # without x-amz-server-side-encryption, or with AES256, denied; with aws:kms, allowed.
    root_plain, root_sse_s3, _, user_plain, _ = concurrently(
        lambda: s3_fails(root.cli, "cp", f, f"s3://{name}/plain", code="AccessDenied"),
        lambda: s3_fails(root.cli, "cp", f, f"s3://{name}/sse-s3", "--sse", "AES256", code="AccessDenied"),
        lambda: s3(root.cli, "cp", f, f"s3://{name}/kms", "--sse", "aws:kms"),
        lambda: s3_fails(as_user, "cp", f, f"s3://{name}/user-plain", code="AccessDenied"),
        lambda: s3(as_user, "cp", f, f"s3://{name}/user-kms", "--sse", "aws:kms"),
    )
    assert f"{root.account}:root" in root_plain and "explicit deny" in root_plain
    assert f"user/{user}" in user_plain and "explicit deny" in user_plain
    assert keys(root.s3, name) == {"kms", "user-kms"}
    for k in ("kms", "user-kms"):
        assert root.s3.head_object(Bucket=name, Key=k)["ServerSideEncryption"] == "aws:kms"


def test_bucket_policy_over_http_denies_everything(dev, tmp_path):
    assert dev.endpoint.startswith("http://")
    root = DevAccount(dev, tmp_path)
    name = root.bucket_with_policy()
    f = root.cli.file("upload.txt", "coffer bucket policy test\n")

    _, kms_denied, _, _ = concurrently(
        lambda: s3_fails(root.cli, "cp", f, f"s3://{name}/plain", code="AccessDenied"),
        lambda: s3_fails(root.cli, "cp", f, f"s3://{name}/kms", "--sse", "aws:kms", code="AccessDenied"),
        lambda: s3_fails(root.cli, "ls", f"s3://{name}/", code="AccessDenied"),
        lambda: root.cli.fails("get-bucket-encryption", "--bucket", name, service="s3api", code="AccessDenied"),
    )
    assert "explicit deny" in kms_denied

    # The owner's root can always manage the policy (AWS's lock-out protection); without it,
    # plain HTTP uploads work again.
    assert s3api(root.cli, "delete-bucket-policy", "--bucket", name) == {}
    root.s3.put_object(Bucket=name, Key="plain", Body=b"after the policy")
    assert keys(root.s3, name) == {"plain"}
    assert root.s3.head_object(Bucket=name, Key="plain")["ServerSideEncryption"] == "AES256"


def test_bucket_policy_allows_multipart_sse_kms_upload(dev_tls, tmp_path):
    root = DevAccount(dev_tls, tmp_path)
    name = root.bucket_with_policy(cli=False)
    path = tmp_path / "nine-mib.bin"
    path.write_bytes(os.urandom(9 * MIB))  # > the CLI's 8 MiB multipart threshold: 2 parts
    s3(root.cli, "cp", str(path), f"s3://{name}/multipart", "--sse", "aws:kms")
    h = root.s3.head_object(Bucket=name, Key="multipart")
    assert h["ServerSideEncryption"] == "aws:kms" and h["ETag"].endswith('-2"')


def test_dev_tls_certificate_removed_at_exit(tmp_path):
    server = Coffer(name="dev-tls-exit", args=["--dev", "--tls"], workdir=tmp_path, dev=True, tls=True)
    server.start()
    cert = server.ca_bundle
    try:
        assert cert.is_file() and cert.parent.name.startswith(f"coffer-dev-tls-{server.proc.pid}-")
        assert (cert.parent.stat().st_mode & 0o777) == 0o700
    finally:
        assert server.stop() == 0
    try:
        assert not cert.exists() and not cert.parent.exists()
    finally:
        shutil.rmtree(cert.parent, ignore_errors=True)
