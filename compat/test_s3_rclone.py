"""rclone (the Debian package; scripts/test.sh installs it) syncing a directory tree to Coffer with
SSE-C, configured only through environment variables (RCLONE_CONFIG_COFFER_*), as a user would
configure it for an S3-compatible service.

The server is `coffer serve --dev --tls`: rclone (the AWS Go SDK) refuses to send customer keys
over plain HTTP, and trusts Coffer's self-signed certificate through RCLONE_CA_CERT.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import client_for, random_account, raises, unique

MIB = 1024 * 1024
# Uploads above 5 MiB are multipart, in 5 MiB chunks.
TRANSFER_FLAGS = ["--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"]


def rclone_binary() -> str:
    exe = shutil.which("rclone")
    if not exe:
        pytest.fail("rclone is not installed: scripts/test.sh installs it (apt-get install -y rclone)")
    return exe


class Rclone:
    """`rclone` with a remote named `coffer` defined by environment variables only."""

    def __init__(self, server, workdir: Path, account: str, customer_key: bytes):
        self.exe = rclone_binary()
        self.workdir = workdir
        empty = workdir / "rclone.conf"
        empty.write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
        env.update(
            RCLONE_CONFIG=str(empty),  # no config file of the user's
            RCLONE_CONFIG_COFFER_TYPE="s3",
            RCLONE_CONFIG_COFFER_PROVIDER="Other",
            RCLONE_CONFIG_COFFER_ENDPOINT=server.endpoint,
            RCLONE_CONFIG_COFFER_ACCESS_KEY_ID=account,
            RCLONE_CONFIG_COFFER_SECRET_ACCESS_KEY="dev-secret",
            RCLONE_CONFIG_COFFER_REGION="us-east-1",
            RCLONE_CONFIG_COFFER_FORCE_PATH_STYLE="true",
            RCLONE_CONFIG_COFFER_SSE_CUSTOMER_ALGORITHM="AES256",
            RCLONE_CONFIG_COFFER_SSE_CUSTOMER_KEY_BASE64=base64.b64encode(customer_key).decode(),
            RCLONE_CA_CERT=str(server.ca_bundle),
            HOME=str(workdir),  # rclone's cache directory
        )
        self.env = env

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.exe, *args], env=self.env, cwd=self.workdir, capture_output=True, text=True,
                              timeout=120)

    def __call__(self, *args: str) -> str:
        p = self.run(*args)
        assert p.returncode == 0, f"rclone {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-4000:]}"
        return p.stdout

    def sync_logged(self, src: str, dst: str) -> list[dict]:
        """`rclone sync -v --use-json-log`: the log entries (one JSON object a line)."""
        p = self.run("sync", src, dst, *TRANSFER_FLAGS, "-v", "--use-json-log")
        assert p.returncode == 0, f"rclone sync failed ({p.returncode}):\n{p.stderr[-4000:]}"
        return [json.loads(line) for line in p.stderr.splitlines() if line.startswith("{")]


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def diff_r(a: Path, b: Path) -> None:
    p = subprocess.run(["diff", "-r", str(a), str(b)], capture_output=True, text=True)
    assert p.returncode == 0, f"diff -r {a} {b}:\n{p.stdout[-3000:]}{p.stderr[-1000:]}"


def make_tree(root: Path) -> None:
    """~30 files of varied sizes and names, some above the 5 MiB multipart cutoff."""
    sizes = [0, 1, 17, 100, 1000, 4096, 65_535, 65_536, 65_537, 100_000, 262_144, MIB, 3 * MIB + 7]
    for i, size in enumerate(sizes):
        (root / f"file-{i:02d}.bin").write_bytes(os.urandom(size))
    (root / "docs" / "deep" / "deeper").mkdir(parents=True)
    for i in range(8):
        (root / "docs" / f"note {i}.txt").write_text(f"note {i}\n" * (i * 50 + 1))
    (root / "docs" / "deep" / "naïve – ünïcödé.txt").write_text("unicode name\n")
    (root / "docs" / "deep" / "a+b=c&d (1).txt").write_text("special characters\n")
    (root / "docs" / "deep" / "deeper" / "empty").write_bytes(b"")
    (root / "big").mkdir()
    (root / "big" / "exactly-5MiB.bin").write_bytes(os.urandom(5 * MIB))
    (root / "big" / "six-MiB.bin").write_bytes(os.urandom(6 * MIB))
    (root / "big" / "twelve-MiB.bin").write_bytes(os.urandom(12 * MIB))
    (root / "big" / "odd.bin").write_bytes(os.urandom(10 * MIB + 12345))


@pytest.fixture(scope="module")
def setup(dev_tls, tmp_path_factory):
    work = tmp_path_factory.mktemp("rclone")
    account = random_account()
    key = os.urandom(32)
    rc = Rclone(dev_tls, work, account, key)
    s3 = client_for(dev_tls.endpoint, "s3", account, "dev-secret", verify=str(dev_tls.ca_bundle))
    bucket = unique("compat-rclone-")
    rc("mkdir", f"coffer:{bucket}")
    src = work / "src"
    src.mkdir()
    make_tree(src)
    return rc, s3, bucket, key, src


def test_sync_round_trip_with_sse_c(setup):
    rc, s3, bucket, key, src = setup
    files = tree(src)
    assert len(files) >= 28
    log = rc.sync_logged(str(src), f"coffer:{bucket}/data")
    copied = sorted(e["object"] for e in log if e.get("msg", "").startswith("Copied"))
    assert copied == sorted(files), log

    back = rc.workdir / "back"
    rc("sync", f"coffer:{bucket}/data", str(back))
    diff_r(src, back)
    assert tree(back) == files
    out = rc.run("check", str(src), f"coffer:{bucket}/data")
    assert out.returncode == 0, out.stderr
    assert "0 differences found" in out.stderr

    # What is stored is SSE-C: without the key nothing is readable, with it the headers say so.
    listed = {o["Key"]: o for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket) for o in p.get("Contents", [])}
    assert set(listed) == {f"data/{name}" for name in files}
    md5 = base64.b64encode(hashlib.md5(key).digest()).decode()
    for name in ("file-03.bin", "big/twelve-MiB.bin", "docs/deep/naïve – ünïcödé.txt"):
        raises("400", s3.head_object, Bucket=bucket, Key=f"data/{name}")
        h = s3.head_object(Bucket=bucket, Key=f"data/{name}", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
        assert h["SSECustomerAlgorithm"] == "AES256" and h["SSECustomerKeyMD5"] == md5
        assert "ServerSideEncryption" not in h
    # Above the cutoff: multipart, in 5 MiB parts.
    assert listed["data/big/twelve-MiB.bin"]["ETag"].endswith('-3"')
    assert listed["data/big/six-MiB.bin"]["ETag"].endswith('-2"')
    assert listed["data/big/exactly-5MiB.bin"]["ETag"].endswith('-1"')  # rclone: multipart from the cutoff on
    assert "-" not in listed["data/file-12.bin"]["ETag"]  # 3 MiB: one PutObject
    raises("AccessDenied", s3.get_object, Bucket=bucket, Key="data/file-05.bin", SSECustomerAlgorithm="AES256",
           SSECustomerKey=os.urandom(32))


def test_second_sync_transfers_only_changes(setup):
    rc, s3, bucket, key, src = setup
    if not s3.list_objects_v2(Bucket=bucket, Prefix="data/", MaxKeys=1).get("KeyCount"):
        rc("sync", str(src), f"coffer:{bucket}/data", *TRANSFER_FLAGS)
    (src / "file-04.bin").write_bytes(os.urandom(1001))  # size changes
    (src / "docs" / "note 3.txt").write_text("rewritten\n")
    (src / "big" / "six-MiB.bin").write_bytes(os.urandom(7 * MIB))  # multipart again
    (src / "file-07.bin").unlink()
    (src / "docs" / "deep" / "deeper" / "empty").unlink()
    (src / "docs" / "deep" / "deeper").rmdir()  # S3 has no directories: rclone removes none locally
    (src / "added.txt").write_text("new file\n")

    log = rc.sync_logged(str(src), f"coffer:{bucket}/data")
    copied = sorted(e["object"] for e in log if e.get("msg", "").startswith("Copied"))
    deleted = sorted(e["object"] for e in log if e.get("msg", "") == "Deleted")
    assert copied == ["added.txt", "big/six-MiB.bin", "docs/note 3.txt", "file-04.bin"], log
    assert deleted == ["docs/deep/deeper/empty", "file-07.bin"], log

    # Nothing changed: nothing transferred.
    log = rc.sync_logged(str(src), f"coffer:{bucket}/data")
    assert not [e for e in log if e.get("msg", "").startswith(("Copied", "Deleted"))], log

    back = rc.workdir / "back2"
    rc("sync", f"coffer:{bucket}/data", str(back))
    diff_r(src, back)
    assert rc.run("check", str(src), f"coffer:{bucket}/data").returncode == 0
