"""S3 through boto3 against the durable Coffer (real SigV4): s3transfer's managed transfers
(upload_file / download_file, multipart with a small threshold, ranged parallel downloads) in each
server-side encryption mode, presigned GET and PUT URLs fetched with urllib, and boto3's automatic
response checksum validation. The list_objects_v2 paginator over more than 1000 keys runs on the
--dev Coffer (in memory: its 1200 PutObjects take half the time)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor

import botocore.auth
import botocore.exceptions
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from helpers import CLIENT_CONFIG, Coffer, client_for, error_code, random_account, raises, read_credentials, unique

MIB = 1024 * 1024
# Small multipart settings, so that a 12 MiB file is a 3-part upload (S3's minimum part is 5 MiB).
TRANSFER = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4)
POOL = CLIENT_CONFIG.merge(Config(max_pool_connections=32))
# Presigned URLs: boto3 presigns S3 with SigV2 unless told otherwise; Coffer speaks SigV4.
PRESIGN = CLIENT_CONFIG.merge(Config(signature_version="s3v4"))
LISTED = 1200


@pytest.fixture(scope="module")
def s3(durable):
    return durable.client(service="s3", config=POOL)


@pytest.fixture(scope="module")
def bucket(s3) -> str:
    name = unique("compat-boto3-")
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="module")
def kms_key(kms) -> dict:
    return kms.create_key(Description="compat s3 boto3")["KeyMetadata"]


def urlopen(req: urllib.request.Request | str) -> tuple[int, bytes, dict]:
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def xml_code(body: bytes) -> str:
    text = body.decode(errors="replace")
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else text[:200]


# ---- s3transfer: upload_file / download_file --------------------------------------------------


@pytest.mark.parametrize("mode", ["sse-s3", "sse-kms", "sse-c"])
def test_transfer_upload_download(s3, bucket, kms_key, tmp_path, mode):
    customer = os.urandom(32)
    extra = {
        "sse-s3": {"ServerSideEncryption": "AES256"},
        "sse-kms": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key["KeyId"]},
        "sse-c": {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": customer},
    }[mode]
    read = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": customer} if mode == "sse-c" else {}
    data = os.urandom(12 * MIB + 12345)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    small = os.urandom(1000)

    s3.upload_file(str(src), bucket, f"mp-{mode}", ExtraArgs=extra, Config=TRANSFER)
    s3.upload_fileobj(_BytesReader(small), bucket, f"small-{mode}", ExtraArgs=extra, Config=TRANSFER)

    h = s3.head_object(Bucket=bucket, Key=f"mp-{mode}", **read)
    assert h["ContentLength"] == len(data) and h["ETag"].endswith('-3"'), h["ETag"]
    if mode == "sse-s3":
        assert h["ServerSideEncryption"] == "AES256"
    elif mode == "sse-kms":
        assert h["ServerSideEncryption"] == "aws:kms" and h["SSEKMSKeyId"] == kms_key["Arn"]
    else:
        assert h["SSECustomerAlgorithm"] == "AES256"
        assert h["SSECustomerKeyMD5"] == base64.b64encode(hashlib.md5(customer).digest()).decode()
        raises("400", s3.head_object, Bucket=bucket, Key=f"mp-{mode}")

    # download_file: ranged GETs in parallel above the threshold.
    dst = tmp_path / "dst.bin"
    s3.download_file(bucket, f"mp-{mode}", str(dst), ExtraArgs=read, Config=TRANSFER)
    assert hashlib.sha256(dst.read_bytes()).digest() == hashlib.sha256(data).digest()
    s3.download_file(bucket, f"small-{mode}", str(dst), ExtraArgs=read, Config=TRANSFER)
    assert dst.read_bytes() == small


class _BytesReader:
    """A minimal readable file object (upload_fileobj)."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self.data) if n < 0 else self.pos + n
        chunk, self.pos = self.data[self.pos:end], min(end, len(self.data))
        return chunk


def test_sse_c_refused_over_plain_http_by_default(tmp_path):
    """As AWS: customer keys only over TLS. (The suite's durable server is started with
    --s3-allow-sse-c-over-http; a data-dir server without it refuses SSE-C over plain HTTP.)"""
    data = tmp_path / "data"
    server = Coffer(name="durable-strict", args=["--data-dir", str(data)], workdir=tmp_path, data_dir=data)
    server.start()
    try:
        ak, sk = read_credentials(data / "admin-credentials", "coffer")
        s3 = server.client(ak, sk, service="s3")
        s3.create_bucket(Bucket="strict-ssec")
        customer = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": os.urandom(32)}
        e = raises("InvalidRequest", s3.put_object, Bucket="strict-ssec", Key="k", Body=b"x", **customer)
        assert "secure connection" in e.response["Error"]["Message"]
        raises("InvalidRequest", s3.create_multipart_upload, Bucket="strict-ssec", Key="k", **customer)
        assert s3.list_objects_v2(Bucket="strict-ssec")["KeyCount"] == 0
        s3.put_object(Bucket="strict-ssec", Key="k", Body=b"x")  # SSE-S3 is fine
    finally:
        assert server.stop() == 0


# ---- presigned URLs ---------------------------------------------------------------------------


def test_presigned_put_and_get(durable, s3, bucket):
    signer = durable.client(service="s3", config=PRESIGN)
    data = os.urandom(2000) + b"presigned"
    put = signer.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "presigned"}, ExpiresIn=300)
    assert "X-Amz-Signature=" in put and "X-Amz-Credential=" in put
    status, body, _ = urlopen(urllib.request.Request(put, data=data, method="PUT"))
    assert status == 200, body
    assert s3.head_object(Bucket=bucket, Key="presigned")["ServerSideEncryption"] == "AES256"

    get = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "presigned"}, ExpiresIn=300)
    status, body, headers = urlopen(get)
    assert status == 200 and body == data
    assert headers["x-amz-server-side-encryption"] == "AES256"

    # The signature covers the key: the same query on another key is refused.
    parts = urllib.parse.urlsplit(get)
    other = urllib.parse.urlunsplit(parts._replace(path=parts.path + "-other"))
    status, body, _ = urlopen(other)
    assert status == 403 and xml_code(body) == "SignatureDoesNotMatch", body

    # A presigned PUT asking for SSE-KMS signs the x-amz-server-side-encryption header: the
    # uploader must send it, and the object is SSE-KMS.
    put = signer.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "presigned-kms", "ServerSideEncryption": "aws:kms"}, ExpiresIn=300)
    assert "x-amz-server-side-encryption" in urllib.parse.unquote(put)
    status, body, _ = urlopen(urllib.request.Request(put, data=data, method="PUT"))
    assert status in (400, 403), body  # Coffer: 400 AuthorizationHeaderMalformed (the header is missing)
    raises("404", s3.head_object, Bucket=bucket, Key="presigned-kms")
    req = urllib.request.Request(put, data=data, method="PUT", headers={"x-amz-server-side-encryption": "aws:kms"})
    status, body, _ = urlopen(req)
    assert status == 200, body
    assert s3.head_object(Bucket=bucket, Key="presigned-kms")["ServerSideEncryption"] == "aws:kms"


def test_expired_presigned_url_refused(durable, s3, bucket):
    s3.put_object(Bucket=bucket, Key="expiring", Body=b"soon gone")
    signer = durable.client(service="s3", config=PRESIGN)
    # Signed two hours ago, valid for one minute.
    real = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: real() - dt.timedelta(hours=2)
    try:
        url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "expiring"}, ExpiresIn=60)
    finally:
        botocore.auth.get_current_datetime = real
    status, body, _ = urlopen(url)
    assert status == 403 and xml_code(body) == "AccessDenied", body
    assert b"expired" in body

    # A fresh URL for the same object works.
    fresh = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "expiring"}, ExpiresIn=60)
    assert urlopen(fresh)[:2] == (200, b"soon gone")


# ---- listing ----------------------------------------------------------------------------------


def test_list_objects_v2_paginator(dev):
    s3 = client_for(dev.endpoint, "s3", random_account(), "dev-secret", config=POOL)
    name = unique("compat-list-")
    s3.create_bucket(Bucket=name)
    keys = sorted(f"{['alpha', 'beta', 'gamma'][i % 3]}/{i % 7}/key-{i:05d}" for i in range(LISTED))
    keys += ["top-1", "top-2"]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=name, Key=k, Body=k.encode()), keys))
    put_seconds = time.monotonic() - started

    paginator = s3.get_paginator("list_objects_v2")
    pages = list(paginator.paginate(Bucket=name))
    assert [p["KeyCount"] for p in pages] == [1000, len(keys) - 1000]
    assert pages[0]["IsTruncated"] is True and "NextContinuationToken" in pages[0]
    assert pages[-1]["IsTruncated"] is False
    listed = [o["Key"] for p in pages for o in p["Contents"]]
    assert listed == sorted(keys)
    assert all(o["Size"] == len(o["Key"]) for p in pages for o in p["Contents"])

    # Smaller pages, a prefix.
    pages = list(paginator.paginate(Bucket=name, Prefix="beta/", PaginationConfig={"PageSize": 150}))
    beta = [k for k in keys if k.startswith("beta/")]
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == beta
    assert len(pages) == -(-len(beta) // 150)

    # A delimiter: common prefixes, and the keys at this level.
    pages = list(paginator.paginate(Bucket=name, Delimiter="/"))
    assert [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])] == ["alpha/", "beta/", "gamma/"]
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == ["top-1", "top-2"]
    pages = list(paginator.paginate(Bucket=name, Prefix="gamma/", Delimiter="/", PaginationConfig={"PageSize": 3}))
    assert [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])] == [f"gamma/{i}/" for i in range(7)]
    assert len(pages) == 3

    # StartAfter; and ListObjects (v1) pages with markers.
    pages = list(paginator.paginate(Bucket=name, StartAfter=keys[1100]))
    assert [o["Key"] for p in pages for o in p["Contents"]] == sorted(keys)[1101:]
    v1 = list(s3.get_paginator("list_objects").paginate(Bucket=name, PaginationConfig={"PageSize": 500}))
    assert [o["Key"] for p in v1 for o in p["Contents"]] == sorted(keys)

    # DeleteObjects in batches of 1000 empties the bucket.
    for i in range(0, len(keys), 1000):
        r = s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]], "Quiet": True})
        assert not r.get("Errors")
    assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 0
    s3.delete_bucket(Bucket=name)
    assert put_seconds < 60, f"{len(keys)} PutObjects took {put_seconds:.1f} s"


# ---- response checksum validation -------------------------------------------------------------


def test_get_object_checksums_validated_by_boto3(s3, bucket, tmp_path):
    """boto3 (>= 1.36) sends CRC32 checksums with uploads and validates the checksum Coffer returns
    with GetObject (x-amz-checksum-mode: ENABLED); ResponseMetadata names the algorithm checked."""
    data = os.urandom(300_000)
    put = s3.put_object(Bucket=bucket, Key="crc", Body=data)
    assert put["ChecksumCRC32"] == base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    got = s3.get_object(Bucket=bucket, Key="crc")
    assert got["Body"].read() == data
    assert got["ChecksumCRC32"] == put["ChecksumCRC32"] and got["ChecksumType"] == "FULL_OBJECT"
    assert got["ResponseMetadata"]["ChecksumAlgorithm"] == "crc32"

    # A ranged GET carries no whole-object checksum and is not validated.
    part = s3.get_object(Bucket=bucket, Key="crc", Range="bytes=10-19")
    assert part["Body"].read() == data[10:20] and "ChecksumCRC32" not in part

    # s3transfer's multipart upload: per-part CRC32s, a COMPOSITE checksum ("...-N", which boto3
    # cannot check, as against AWS); the GET still succeeds.
    src = tmp_path / "mp.bin"
    mp = os.urandom(11 * MIB)
    src.write_bytes(mp)
    s3.upload_file(str(src), bucket, "crc-multipart", Config=TRANSFER)
    got = s3.get_object(Bucket=bucket, Key="crc-multipart")
    assert got["Body"].read() == mp
    assert got["ChecksumType"] == "COMPOSITE" and got["ChecksumCRC32"].endswith("-3")

    # A multipart upload with a FULL_OBJECT CRC32: Coffer combines the parts' CRCs, boto3 checks it.
    up = s3.create_multipart_upload(Bucket=bucket, Key="crc-full", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT")
    chunks = [mp[i:i + 5 * MIB] for i in range(0, len(mp), 5 * MIB)]
    parts = []
    for n, chunk in enumerate(chunks, 1):
        r = s3.upload_part(Bucket=bucket, Key="crc-full", UploadId=up["UploadId"], PartNumber=n, Body=chunk,
                           ChecksumAlgorithm="CRC32")
        parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    whole = base64.b64encode(zlib.crc32(mp).to_bytes(4, "big")).decode()
    done = s3.complete_multipart_upload(Bucket=bucket, Key="crc-full", UploadId=up["UploadId"],
                                        MultipartUpload={"Parts": parts}, ChecksumCRC32=whole, ChecksumType="FULL_OBJECT")
    assert done["ChecksumCRC32"] == whole and done["ETag"].endswith('-3"')
    got = s3.get_object(Bucket=bucket, Key="crc-full")
    assert got["Body"].read() == mp
    assert got["ChecksumCRC32"] == whole and got["ResponseMetadata"]["ChecksumAlgorithm"] == "crc32"


def test_parts_count_only_with_part_number(s3, bucket, tmp_path):
    src = tmp_path / "parts.bin"
    src.write_bytes(os.urandom(11 * MIB))
    s3.upload_file(str(src), bucket, "parts", Config=TRANSFER)
    first = s3.head_object(Bucket=bucket, Key="parts", PartNumber=1)
    assert first["PartsCount"] == 3 and first["ContentLength"] == 5 * MIB
    assert "PartsCount" not in s3.head_object(Bucket=bucket, Key="parts")


def test_unserved_operations_change_nothing(dev):
    s3 = client_for(dev.endpoint, "s3", random_account(), "dev-secret")
    name, empty = unique("compat-unserved-"), unique("compat-unserved-empty-")
    s3.create_bucket(Bucket=name)
    s3.create_bucket(Bucket=empty)
    s3.put_object(Bucket=name, Key="doc", Body=b"precious data")
    answers = {}
    calls = {
        "UpdateObjectEncryption": lambda: s3.update_object_encryption(Bucket=name, Key="doc", ObjectEncryption={
            "SSEKMS": {"KMSKeyArn": "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"}}),
        "DeleteBucketMetadataConfiguration": lambda: s3.delete_bucket_metadata_configuration(Bucket=empty),
    }
    for op, call in calls.items():
        try:
            call()
            answers[op] = "success"
        except botocore.exceptions.ClientError as e:
            answers[op] = error_code(e)
    state = {
        "doc": s3.get_object(Bucket=name, Key="doc")["Body"].read()[:60],
        "empty bucket exists": empty in {b["Name"] for b in s3.list_buckets()["Buckets"]},
    }
    assert (answers, state) == (
        {op: "NotImplemented" for op in calls},
        {"doc": b"precious data", "empty bucket exists": True},
    )
