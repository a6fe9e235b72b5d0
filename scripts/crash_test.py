#!/usr/bin/env python3
"""Coffer crash test: kill -9 under concurrent load, then prove nothing acknowledged was lost.

Driven by scripts/crash-test.sh (which builds the binary and owns the temporary directory).
Every round:

1. `coffer serve` (durable, SQLite) starts on a free port on the one data directory that all
   rounds share; its log goes to <work>/server-<round>.log. The first round also creates the
   fixtures (two customer keys, two buckets with SSE-S3 and SSE-KMS default encryption).
2. Concurrent workers (boto3, one attempt per call, short timeouts) run for a random 0.5-3 s:
   CreateKey + CreateAlias (+ RotateKeyOnDemand), Encrypt / GenerateDataKey, PutParameter
   (String, SecureString with the default and a customer key, standard and advanced tier) with
   Overwrite on names shared by two writers and on names owned by one writer (which also
   deletes), S3 PutObject (SSE-S3, SSE-KMS with and without a key id and Bucket Key, random
   sizes up to 8 MiB) with overwrites and deletes on keys owned by one writer and overwrites on
   keys shared by two, and multipart uploads of up to 3 parts (5 MiB parts).
   A write counts as acknowledged only when its success response was received.
3. The server is killed with SIGKILL while the workers run. Calls in flight then have an
   unknown outcome (each worker stops at its first such call, so every name has at most one).
4. The audit chain is verified on the crashed data directory (`coffer audit verify`).
5. The server restarts on the same data directory (every store must open; SQLite's
   integrity_check passes) and the state is checked against the model (see `Checker`): every acknowledged key, alias, rotation,
   ciphertext, parameter version and object (and multipart part) is there and exact; an
   unknown-outcome write is either absent or fully present; ListObjectsV2 lists only objects
   that GET in full with the recorded bytes; no multipart upload is visible as an object
   before its CompleteMultipartUpload was sent. Then the audit chain is verified again, with
   the restarted server running, and every acknowledged call's request id must be in the
   journal. The restarted server is the next round's server.

`--inject-fault wal|object|journal` damages the data directory after the first kill, to show
that the checks notice lost commits, a corrupted object file or an altered audit record (such a
run must fail).

Exit status: 0 when every round passed, 1 on any violation, 2 when the harness itself failed.
"""

from __future__ import annotations

import argparse
import configparser
import hashlib
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

try:
    import boto3
    import botocore.exceptions
    from botocore.config import Config
except ImportError:  # pragma: no cover
    sys.exit("crash_test.py: boto3 is not installed (pip install -r compat/requirements.txt)")

REGION = "us-east-1"
MiB = 1 << 20
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
BUCKET_S3 = "crash-sse-s3"
BUCKET_KMS = "crash-sse-kms"
SHARED_PARAMS = 6
OWNED_PARAMS = 6
OWNED_OBJECTS = 8
SHARED_OBJECTS = 4
SSM_RETAINED = 100

ACK, FAIL, UNKNOWN = "acked", "failed", "unknown"


def log(msg: str) -> None:
    print(msg, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def part_bytes(seed: int, size: int) -> bytes:
    """A multipart part's bytes, regenerated from its seed when needed (not kept in memory)."""
    return random.Random(seed).randbytes(size)


class HarnessError(Exception):
    """The test itself could not proceed (not a finding about Coffer)."""


# ----------------------------------------------------------------------------------------------
# The server process


class Server:
    def __init__(self, binary: Path, data: Path, work: Path):
        self.binary, self.data, self.work = binary, data, work
        self.proc: subprocess.Popen | None = None
        self.endpoint = ""
        self.log_path: Path | None = None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COFFER_", "AWS_"))}
        env.setdefault("RUST_BACKTRACE", "1")
        self.env = env

    def start(self, label: str) -> bool:
        """Starts `coffer serve`; True once it prints its listening line, False if it exits first."""
        port = free_port()
        self.log_path = self.work / f"server-{label}.log"
        out = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(self.binary), "serve", "--data-dir", str(self.data), "--listen", f"127.0.0.1:{port}",
             "--log-format", "json", "--jobs-interval", "1"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=self.env,
            start_new_session=True,  # a Ctrl-C at the terminal is ours to handle, not the server's
        )
        out.close()
        (self.work / "server.pid").write_text(f"{self.proc.pid}\n")
        self.endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if "coffer listening on http://" in self.log_text():
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.02)
        raise HarnessError(f"coffer did not print its listening line within {READY_TIMEOUT:.0f} s ({self.log_path})")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def stop(self) -> int | None:
        """SIGTERM and wait; returns the exit status (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.alive():
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                return self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill9()
                return None
        return self.proc.returncode

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace") if self.log_path else ""
        except FileNotFoundError:
            return ""

    def log_problems(self) -> list[str]:
        """Panics and ERROR-level lines of the current log."""
        found = []
        for line in self.log_text().splitlines():
            if "panicked at" in line:
                found.append(line.strip()[:400])
                continue
            if line.startswith("{"):
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if str(rec.get("level", "")).upper() == "ERROR":
                    found.append(line.strip()[:400])
        return found


def read_credentials(path: Path) -> tuple[str, str]:
    cp = configparser.ConfigParser()
    cp.read(path)
    return cp["coffer"]["aws_access_key_id"], cp["coffer"]["aws_secret_access_key"]


class Clients:
    """boto3 clients of one server, with one attempt per call and short timeouts so that a
    killed server shows as an error at once."""

    def __init__(self, endpoint: str, creds: tuple[str, str]):
        self.endpoint, self.creds = endpoint, creds
        self.session = boto3.session.Session()
        self.lock = threading.Lock()

    def make(self, service: str, read_timeout: float = 30.0, checksum: str = "when_supported"):
        cfg = Config(
            retries={"mode": "standard", "max_attempts": 1},
            connect_timeout=3, read_timeout=read_timeout, max_pool_connections=16,
            s3={"addressing_style": "path"},
            request_checksum_calculation=checksum, response_checksum_validation="when_supported",
        )
        with self.lock:  # sessions are not thread-safe; clients are
            return self.session.client(
                service, region_name=REGION, endpoint_url=self.endpoint,
                aws_access_key_id=self.creds[0], aws_secret_access_key=self.creds[1], config=cfg,
            )


# ----------------------------------------------------------------------------------------------
# The model: what was acknowledged, attempted, and observed


@dataclass
class Op:
    kind: str  # "put" | "delete"
    outcome: str
    value: object = None  # parameter value, or (sha, size, sse, kms_key) of an object
    version: int | None = None


@dataclass
class OwnedName:
    """A parameter or object written by exactly one worker: its history is exact."""
    base: object = None  # observed at the last verification (None: absent)
    ops: list[Op] = field(default_factory=list)


@dataclass
class SharedParam:
    """A parameter written concurrently by several workers (never deleted)."""
    kind: str
    key_id: str | None
    tier: str
    known: dict[int, str] = field(default_factory=dict)  # confirmed: acked or observed earlier
    acked: dict[int, str] = field(default_factory=dict)  # acked this round
    unknown: set[str] = field(default_factory=set)  # unknown outcome this round
    failed: dict[str, str] = field(default_factory=dict)  # value -> error code (4xx) this round


@dataclass
class Upload:
    bucket: str
    key: str
    upload_id: str
    sse: tuple
    round: int
    parts: dict[int, dict] = field(default_factory=dict)  # number -> {seed, size, etag, outcome}
    complete: str | None = None  # outcome of CompleteMultipartUpload, if sent
    complete_parts: list[int] = field(default_factory=list)
    abort: str | None = None


class Model:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.keys: dict[str, dict] = {}  # key id -> {round, arn, rotations}
        self.usable: list[str] = []  # acked keys for Encrypt (ids)
        self.aliases: dict[str, str] = {}  # acked alias -> key id
        self.pending_aliases: dict[str, str] = {}
        self.alias_of: dict[str, str] = {}  # key id -> an acked alias of it
        self.ciphertexts: list[dict] = []  # {blob, plaintext, context, arn, round}
        self.shared: dict[str, SharedParam] = {}
        self.owned_params: dict[str, OwnedName] = {}
        self.param_types: dict[str, tuple[str, str | None, str]] = {}
        self.objects: dict[tuple[str, str], OwnedName] = {}  # (bucket, key) -> exact history
        # (bucket, key) written by every ObjectWorker: {"base": state, "ops": [(state, outcome, start, end)]}
        self.shared_objects: dict[tuple[str, str], dict] = {}
        self.uploads: list[Upload] = []
        self.upload_keys_unknown: list[tuple[str, str]] = []  # CreateMultipartUpload with unknown outcome
        self.request_ids: list[tuple[int, str, str, str]] = []  # (round, service, op, id) of acked calls
        self.fixture_keys: list[str] = []
        self.bucket_default: dict[str, tuple] = {}

    def note_ack(self, rnd: int, service: str, op: str, resp: dict) -> None:
        rid = (resp.get("ResponseMetadata") or {}).get("RequestId")
        if rid:
            with self.lock:
                self.request_ids.append((rnd, service, op, rid))


class Findings:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.violations: list[str] = []
        self.warnings: list[str] = []

    def violation(self, rnd: int, what: str) -> None:
        with self.lock:
            self.violations.append(f"round {rnd}: {what}")
        log(f"  VIOLATION: {what}")

    def warning(self, rnd: int, what: str) -> None:
        with self.lock:
            self.warnings.append(f"round {rnd}: {what}")
        log(f"  warning: {what}")


# ----------------------------------------------------------------------------------------------
# Load


class Stop(Exception):
    """A worker's call had an unknown outcome: the server is (presumably) gone."""


class Worker(threading.Thread):
    service = ""

    def __init__(self, name: str, rnd: int, model: Model, clients: Clients, stop: threading.Event,
                 findings: Findings, kill_time: list, rng: random.Random):
        super().__init__(name=name, daemon=True)
        self.rnd, self.model, self.clients, self.stop_event = rnd, model, clients, stop
        self.findings, self.kill_time, self.rng = findings, kill_time, rng
        self.counts = {ACK: 0, FAIL: 0, UNKNOWN: 0}
        self.refused: dict[str, int] = {}
        self.in_flight: list[str] = []  # operations whose outcome is unknown
        self.error: str | None = None
        self.unexpected: list[str] = []

    def call(self, client, op: str, **kw) -> tuple[str, dict | None, str]:
        """One call: (outcome, response, error code)."""
        fn = getattr(client, op)
        wire = "".join(w.capitalize() for w in op.split("_"))
        try:
            resp = fn(**kw)
        except botocore.exceptions.ClientError as e:
            status = (e.response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0
            code = (e.response.get("Error") or {}).get("Code", "?")
            if status >= 500 or status == 0:
                self.counts[UNKNOWN] += 1
                self.in_flight.append(wire)
                if not self.kill_time:
                    self.unexpected.append(f"{self.name} {wire}: HTTP {status} {code} before the kill")
                return UNKNOWN, None, code
            self.counts[FAIL] += 1
            self.refused[code] = self.refused.get(code, 0) + 1
            if code not in ("TooManyUpdates", "ThrottlingException", "ParameterNotFound"):
                if not self.kill_time:
                    self.unexpected.append(f"{self.name} {wire}: HTTP {status} {code}: {e}")
            return FAIL, None, code
        except (botocore.exceptions.BotoCoreError, OSError) as e:
            self.counts[UNKNOWN] += 1
            self.in_flight.append(wire)
            if not self.kill_time:
                self.unexpected.append(f"{self.name} {wire}: {type(e).__name__} before the kill: {e}")
            return UNKNOWN, None, type(e).__name__
        self.counts[ACK] += 1
        self.model.note_ack(self.rnd, self.service, wire, resp)
        return ACK, resp, ""

    def run(self) -> None:
        try:
            self.setup()
            while not self.stop_event.is_set():
                self.step()
        except Stop:
            pass
        except Exception:  # a bug of the harness: reported, fails the run
            self.error = traceback.format_exc()

    def setup(self) -> None:
        pass

    def step(self) -> None:
        raise NotImplementedError

    def outcome(self, outcome: str) -> None:
        if outcome == UNKNOWN:
            raise Stop


class KeyWorker(Worker):
    """CreateKey, then usually CreateAlias, sometimes RotateKeyOnDemand of a recent key."""
    service = "kms"

    def setup(self) -> None:
        self.kms = self.clients.make("kms")

    def step(self) -> None:
        o, r, _ = self.call(self.kms, "create_key", Description=f"crash test round {self.rnd}",
                            Tags=[{"TagKey": "round", "TagValue": str(self.rnd)}])
        self.outcome(o)
        if o != ACK:
            return
        kid, arn = r["KeyMetadata"]["KeyId"], r["KeyMetadata"]["Arn"]
        with self.model.lock:
            self.model.keys[kid] = {"round": self.rnd, "arn": arn, "rotations": 0}
            self.model.usable.append(kid)
        if self.rng.random() < 0.7:
            alias = f"alias/crash/{self.rnd}-{self.rng.getrandbits(40):010x}"
            o, _, _ = self.call(self.kms, "create_alias", AliasName=alias, TargetKeyId=kid)
            with self.model.lock:
                if o == ACK:
                    self.model.aliases[alias] = kid
                    self.model.alias_of[kid] = alias
                elif o == UNKNOWN:
                    self.model.pending_aliases[alias] = kid
            self.outcome(o)
        if self.rng.random() < 0.25:
            # A recent key, which the encrypt worker may be using right now (at most 25 rotations).
            with self.model.lock:
                kid = self.rng.choice(self.model.usable[-20:])
                info = self.model.keys[kid]
                if info.get("rotations_sent", 0) >= 20:
                    return
                info["rotations_sent"] = info.get("rotations_sent", 0) + 1
            o, _, _ = self.call(self.kms, "rotate_key_on_demand", KeyId=kid)
            if o == ACK:
                with self.model.lock:
                    info["rotations"] += 1
            self.outcome(o)


class EncryptWorker(Worker):
    """Encrypt and GenerateDataKey under acknowledged keys (including this round's, and keys
    being rotated meanwhile), sometimes by alias, with and without encryption context."""
    service = "kms"

    def setup(self) -> None:
        self.kms = self.clients.make("kms")
        self.n = 0

    def step(self) -> None:
        with self.model.lock:
            kid = self.rng.choice(self.model.usable)
            alias = self.model.alias_of.get(kid)
        key_ref = alias if alias and self.rng.random() < 0.5 else kid
        self.n += 1
        ctx = {"round": str(self.rnd), "n": str(self.n)} if self.rng.random() < 0.6 else None
        extra = {"EncryptionContext": ctx} if ctx else {}
        if self.rng.random() < 0.7:
            pt = os.urandom(self.rng.randint(1, 4096))
            o, r, _ = self.call(self.kms, "encrypt", KeyId=key_ref, Plaintext=pt, **extra)
        else:
            o, r, _ = self.call(self.kms, "generate_data_key", KeyId=key_ref, KeySpec="AES_256", **extra)
            pt = r["Plaintext"] if r else b""
        if o == ACK:
            with self.model.lock:
                self.model.ciphertexts.append(
                    {"blob": r["CiphertextBlob"], "plaintext": pt, "context": ctx, "arn": r["KeyId"], "round": self.rnd})
        self.outcome(o)


def param_value(rng: random.Random, name: str, tag: str, tier: str) -> str:
    head = f"{name}|{tag}|"
    limit = 8000 if tier == "Advanced" else 4000
    n = rng.choice([1, 16, 200, 1000, limit - len(head)])
    return head + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


def put_param_kwargs(model: Model, name: str, value: str) -> dict:
    kind, key_id, tier = model.param_types[name]
    kw = {"Name": name, "Value": value, "Type": kind, "Overwrite": True, "Tier": tier}
    if key_id:
        kw["KeyId"] = key_id
    return kw


class SharedParamWorker(Worker):
    """PutParameter with Overwrite on names every SharedParamWorker writes."""
    service = "ssm"

    def setup(self) -> None:
        self.ssm = self.clients.make("ssm")
        self.n = 0

    def step(self) -> None:
        name = f"/crash/shared/p{self.rng.randrange(SHARED_PARAMS)}"
        self.n += 1
        sp = self.model.shared[name]
        value = param_value(self.rng, name, f"r{self.rnd}.{self.name}.{self.n}", sp.tier)
        o, r, code = self.call(self.ssm, "put_parameter", **put_param_kwargs(self.model, name, value))
        with self.model.lock:
            if o == ACK:
                v = r["Version"]
                if v in sp.acked or v in sp.known:
                    self.findings.violation(self.rnd, f"PutParameter {name}: two acknowledged writes got version {v}")
                sp.acked[v] = value
            elif o == UNKNOWN:
                sp.unknown.add(value)
            else:
                sp.failed[value] = code
        self.outcome(o)


class OwnedParamWorker(Worker):
    """PutParameter with Overwrite and DeleteParameter on names only this worker writes."""
    service = "ssm"

    def __init__(self, *a, index: int, **kw):
        super().__init__(*a, **kw)
        self.index = index

    def setup(self) -> None:
        self.ssm = self.clients.make("ssm")
        self.n = 0

    def step(self) -> None:
        name = f"/crash/own{self.index}/p{self.rng.randrange(OWNED_PARAMS)}"
        owned = self.model.owned_params[name]
        self.n += 1
        if self.rng.random() < 0.15:
            o, _, code = self.call(self.ssm, "delete_parameter", Name=name)
            if o == FAIL and code == "ParameterNotFound":
                return
            owned.ops.append(Op("delete", o))
        else:
            value = param_value(self.rng, name, f"r{self.rnd}.{self.name}.{self.n}", self.model.param_types[name][2])
            o, r, _ = self.call(self.ssm, "put_parameter", **put_param_kwargs(self.model, name, value))
            owned.ops.append(Op("put", o, value, r["Version"] if r else None))
        self.outcome(o)


def object_size(rng: random.Random) -> int:
    x = rng.random()
    if x < 0.25:
        return rng.randint(0, 1024)
    if x < 0.55:
        return rng.randint(1025, 256 * 1024)
    if x < 0.85:
        return rng.randint(256 * 1024, 2 * MiB)
    return rng.randint(2 * MiB, 8 * MiB)


def sse_choice(rng: random.Random, model: Model) -> tuple:
    """(ServerSideEncryption, SSEKMSKeyId, BucketKeyEnabled) or () for the bucket default."""
    x = rng.random()
    if x < 0.25:
        return ()
    if x < 0.5:
        return ("AES256", None, None)
    if x < 0.75:
        return ("aws:kms", model.fixture_keys[0], rng.random() < 0.5)
    return ("aws:kms", None, rng.random() < 0.5)


def sse_kwargs(sse: tuple) -> dict:
    if not sse:
        return {}
    kw = {"ServerSideEncryption": sse[0]}
    if sse[1]:
        kw["SSEKMSKeyId"] = sse[1]
    if sse[2] is not None:
        kw["BucketKeyEnabled"] = sse[2]
    return kw


class ObjectWorker(Worker):
    """PutObject (overwriting) and DeleteObject on keys only this worker writes; PutObject on keys
    every ObjectWorker writes."""
    service = "s3"

    def __init__(self, *a, index: int, **kw):
        super().__init__(*a, **kw)
        self.index = index

    def setup(self) -> None:
        self.s3 = self.clients.make("s3", checksum=self.rng.choice(["when_supported", "when_required"]))

    def step(self) -> None:
        if self.rng.random() < 0.3:
            j = self.rng.randrange(SHARED_OBJECTS)
            bucket, key = (BUCKET_S3, BUCKET_KMS)[j % 2], f"shared/{j}"
            body = os.urandom(object_size(self.rng))
            choice = sse_choice(self.rng, self.model)
            sse = choice or self.model.bucket_default[bucket]
            t0 = time.monotonic()
            o, _, _ = self.call(self.s3, "put_object", Bucket=bucket, Key=key, Body=body, **sse_kwargs(choice))
            with self.model.lock:
                self.model.shared_objects[(bucket, key)]["ops"].append(
                    ((sha(body), len(body), sse[0], sse[1]), o, t0, time.monotonic()))
            self.outcome(o)
            return
        j = self.rng.randrange(OWNED_OBJECTS)
        bucket, key = (BUCKET_S3, BUCKET_KMS)[j % 2], f"obj/{self.index}/{j}"
        owned = self.model.objects[(bucket, key)]
        if self.rng.random() < 0.12:
            o, _, _ = self.call(self.s3, "delete_object", Bucket=bucket, Key=key)
            owned.ops.append(Op("delete", o))
        else:
            body = os.urandom(object_size(self.rng))
            choice = sse_choice(self.rng, self.model)
            sse = choice or self.model.bucket_default[bucket]
            o, _, _ = self.call(self.s3, "put_object", Bucket=bucket, Key=key, Body=body, **sse_kwargs(choice))
            owned.ops.append(Op("put", o, (sha(body), len(body), sse[0], sse[1])))
        self.outcome(o)


class MultipartWorker(Worker):
    """Multipart uploads of 1-3 parts (5 MiB parts, a smaller last part); some are aborted,
    some left open across rounds."""
    service = "s3"

    def __init__(self, *a, index: int, **kw):
        super().__init__(*a, **kw)
        self.index = index

    def setup(self) -> None:
        self.s3 = self.clients.make("s3", read_timeout=60, checksum=self.rng.choice(["when_supported", "when_required"]))
        self.n = 0

    def step(self) -> None:
        self.n += 1
        bucket = self.rng.choice([BUCKET_S3, BUCKET_KMS])
        key = f"mpu/{self.index}/r{self.rnd}-{self.n}-{self.rng.getrandbits(32):08x}"
        sse = sse_choice(self.rng, self.model)
        o, r, _ = self.call(self.s3, "create_multipart_upload", Bucket=bucket, Key=key, **sse_kwargs(sse))
        if o == UNKNOWN:
            with self.model.lock:
                self.model.upload_keys_unknown.append((bucket, key))
        self.outcome(o)
        if o != ACK:
            return
        up = Upload(bucket, key, r["UploadId"], sse or self.model.bucket_default[bucket], self.rnd)
        with self.model.lock:
            self.model.uploads.append(up)
        nparts = self.rng.choice([1, 2, 2, 3])
        for num in range(1, nparts + 1):
            size = 5 * MiB if num < nparts else self.rng.randint(1, 2 * MiB)
            seed = self.rng.getrandbits(63)
            part = {"seed": seed, "size": size, "etag": None, "outcome": None}
            up.parts[num] = part
            o, r, _ = self.call(self.s3, "upload_part", Bucket=bucket, Key=key, UploadId=up.upload_id,
                                PartNumber=num, Body=part_bytes(seed, size))
            part["outcome"] = o
            if o == ACK:
                part["etag"] = r["ETag"]
            self.outcome(o)
            if o != ACK or self.stop_event.is_set():
                return  # left open: checked, then completed, after the restart
        if self.rng.random() < 0.12:
            o, _, _ = self.call(self.s3, "abort_multipart_upload", Bucket=bucket, Key=key, UploadId=up.upload_id)
            up.abort = o
            self.outcome(o)
            return
        if self.rng.random() < 0.1:
            return  # left open on purpose
        up.complete_parts = list(up.parts)
        o, _, _ = self.call(
            self.s3, "complete_multipart_upload", Bucket=bucket, Key=key, UploadId=up.upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": up.parts[n]["etag"]} for n in up.complete_parts]})
        up.complete = o
        self.outcome(o)


# ----------------------------------------------------------------------------------------------
# Checks after a restart


def paginate(client, op: str, key: str, **kw) -> list:
    out = []
    for page in client.get_paginator(op).paginate(**kw):
        out.extend(page.get(key, []))
    return out


class Checker:
    def __init__(self, rnd: int, model: Model, clients: Clients, findings: Findings, rng: random.Random,
                 full: bool, data: Path):
        self.data = data
        self.rnd, self.model, self.clients, self.findings, self.rng, self.full = rnd, model, clients, findings, rng, full
        self.kms = clients.make("kms")
        self.ssm = clients.make("ssm")
        self.s3 = clients.make("s3", read_timeout=60)
        self.stats: dict[str, int] = {}

    def bad(self, what: str) -> None:
        self.findings.violation(self.rnd, what)

    def count(self, what: str, n: int = 1) -> None:
        self.stats[what] = self.stats.get(what, 0) + n

    def run(self) -> dict[str, int]:
        self.check_database()
        self.check_keys()
        self.check_ciphertexts()
        self.check_params()
        self.check_objects()
        self.check_uploads()
        return self.stats

    def check_database(self) -> None:
        """SQLite's own integrity check, read-only, beside the running server."""
        import sqlite3
        db = self.data / "coffer.db"
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            rows = [r[0] for r in con.execute("PRAGMA integrity_check").fetchall()]
        finally:
            con.close()
        if rows != ["ok"]:
            self.bad(f"{db}: PRAGMA integrity_check: {'; '.join(rows[:5])}")

    # -- KMS

    def check_keys(self) -> None:
        m = self.model
        listed = {k["KeyId"] for k in paginate(self.kms, "list_keys", "Keys")}
        for kid in m.keys:
            if kid not in listed:
                self.bad(f"acknowledged key {kid} (CreateKey in round {m.keys[kid]['round']}) is not in ListKeys")
        self.count("keys", len(m.keys))
        aliases = {a["AliasName"]: a.get("TargetKeyId") for a in paginate(self.kms, "list_aliases", "Aliases")}
        for alias, kid in m.aliases.items():
            if aliases.get(alias) != kid:
                self.bad(f"acknowledged alias {alias} -> {kid}: ListAliases has {aliases.get(alias)!r}")
        for alias, kid in m.pending_aliases.items():
            if alias in aliases and aliases[alias] != kid:
                self.bad(f"alias {alias} (unknown outcome) targets {aliases[alias]}, not {kid}")
            elif alias in aliases:
                m.aliases[alias] = kid
        m.pending_aliases.clear()
        self.count("aliases", len(m.aliases))
        # Usable: DescribeKey, Encrypt + Decrypt; every key of this round, a sample of older ones.
        recent = [k for k, v in m.keys.items() if v["round"] >= self.rnd - 1]
        older = [k for k in m.keys if k not in set(recent)]
        sample = recent + (older if self.full else self.rng.sample(older, min(len(older), 20)))

        def use(kid: str) -> None:
            try:
                md = self.kms.describe_key(KeyId=kid)["KeyMetadata"]
                if md["KeyState"] != "Enabled":
                    self.bad(f"acknowledged key {kid} is {md['KeyState']}")
                    return
                pt = os.urandom(64)
                blob = self.kms.encrypt(KeyId=kid, Plaintext=pt)["CiphertextBlob"]
                if self.kms.decrypt(CiphertextBlob=blob)["Plaintext"] != pt:
                    self.bad(f"key {kid}: Decrypt returned other bytes than were encrypted")
                want = m.keys[kid]["rotations"]
                self.count("rotations", want)
                if want:
                    got = len(paginate(self.kms, "list_key_rotations", "Rotations", KeyId=kid))
                    if got < want:
                        self.bad(f"key {kid}: {want} acknowledged RotateKeyOnDemand, ListKeyRotations has {got}")
            except botocore.exceptions.ClientError as e:
                self.bad(f"acknowledged key {kid} is not usable: {e}")

        with ThreadPoolExecutor(4) as ex:
            list(ex.map(use, sample))
        self.count("keys used", len(sample))

    def check_ciphertexts(self) -> None:
        m = self.model
        recent = [c for c in m.ciphertexts if c["round"] >= self.rnd - 1]
        older = [c for c in m.ciphertexts if c["round"] < self.rnd - 1]
        sample = recent + (older if self.full else self.rng.sample(older, min(len(older), 150)))

        def dec(c: dict) -> None:
            kw = {"EncryptionContext": c["context"]} if c["context"] else {}
            try:
                r = self.kms.decrypt(CiphertextBlob=c["blob"], **kw)
            except botocore.exceptions.ClientError as e:
                self.bad(f"acknowledged ciphertext (round {c['round']}, key {c['arn']}) does not decrypt: {e}")
                return
            if r["Plaintext"] != c["plaintext"] or r["KeyId"] != c["arn"]:
                self.bad(f"acknowledged ciphertext (round {c['round']}, key {c['arn']}) decrypts to other bytes or key {r['KeyId']}")

        with ThreadPoolExecutor(4) as ex:
            list(ex.map(dec, sample))
        self.count("ciphertexts decrypted", len(sample))

    # -- Parameter Store

    def observe_param(self, name: str) -> dict[int, str] | None:
        try:
            hist = paginate(self.ssm, "get_parameter_history", "Parameters", Name=name, WithDecryption=True)
        except botocore.exceptions.ClientError as e:
            if e.response["Error"]["Code"] == "ParameterNotFound":
                try:
                    self.ssm.get_parameter(Name=name, WithDecryption=True)
                    self.bad(f"{name}: GetParameterHistory says ParameterNotFound, GetParameter finds it")
                except botocore.exceptions.ClientError as e2:
                    if e2.response["Error"]["Code"] != "ParameterNotFound":
                        raise
                return None
            raise
        h = {p["Version"]: p["Value"] for p in hist}
        latest = self.ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
        if not h or latest["Version"] != max(h) or latest["Value"] != h[max(h)]:
            self.bad(f"{name}: GetParameter (version {latest['Version']}) disagrees with its history "
                     f"(latest {max(h) if h else None})")
        top = max(h)
        if set(h) != set(range(max(1, top - SSM_RETAINED + 1), top + 1)):
            self.bad(f"{name}: versions are not gap-free: {sorted(h)}")
        return h

    def check_params(self) -> None:
        m = self.model
        names = list(m.shared) + list(m.owned_params)
        with ThreadPoolExecutor(4) as ex:
            observed = dict(zip(names, ex.map(self.observe_param, names)))
        for name, sp in m.shared.items():
            self.check_shared(name, sp, observed[name])
        for name, owned in m.owned_params.items():
            self.check_owned_param(name, owned, observed[name])
        self.count("parameters", len(names))

    def check_shared(self, name: str, sp: SharedParam, h: dict[int, str] | None) -> None:
        confirmed = {**sp.known, **sp.acked}
        if h is None:
            if confirmed:
                self.bad(f"{name}: acknowledged versions {sorted(confirmed)[-3:]} lost: the parameter is gone")
            sp.known, sp.acked, sp.unknown, sp.failed = {}, {}, set(), {}
            return
        top = max(h)
        if confirmed and top < max(confirmed):
            self.bad(f"{name}: acknowledged version {max(confirmed)} lost: the latest version is {top}")
        for v, val in sorted(confirmed.items()):
            if v <= top - SSM_RETAINED:
                continue
            if v not in h:
                self.bad(f"{name}: acknowledged version {v} is missing")
            elif h[v] != val:
                self.bad(f"{name}: version {v} holds {h[v][:60]!r}..., acknowledged {val[:60]!r}...")
        seen: set[str] = set()
        for v, val in sorted(h.items()):
            if v in confirmed:
                continue
            if val in seen:
                self.bad(f"{name}: value {val[:60]!r} appears in two versions")
            seen.add(val)
            if val in sp.unknown:
                continue
            if val in sp.failed:
                self.bad(f"{name}: version {v} holds a write that was answered {sp.failed[val]}")
            else:
                self.bad(f"{name}: version {v} holds a value nobody wrote in this round: {val[:60]!r}")
        sp.known, sp.acked, sp.unknown, sp.failed = h, {}, set(), {}

    def expected_states(self, owned: OwnedName, what: str, apply_put) -> list:
        """The states an exactly modelled name may be in: after every acknowledged op, and (if
        the last op's outcome is unknown) after that op too."""
        state = owned.base
        pending = None
        for i, op in enumerate(owned.ops):
            if op.outcome == ACK:
                state = apply_put(state, op) if op.kind == "put" else None
            elif op.outcome == UNKNOWN:
                if i != len(owned.ops) - 1:
                    raise HarnessError(f"{what}: an unknown outcome that is not the last op")
                pending = op
        allowed = [state]
        if pending is not None:
            allowed.append(apply_put(state, pending) if pending.kind == "put" else None)
        return allowed

    def check_owned_param(self, name: str, owned: OwnedName, h: dict[int, str] | None) -> None:
        def put(state, op):
            hist = dict(state or {})
            v = (max(hist) + 1) if hist else 1
            if op.outcome == ACK and op.version != v:
                self.bad(f"{name}: acknowledged PutParameter got version {op.version}, expected {v} (single writer)")
                v = op.version
            hist[v] = op.value
            return {k: x for k, x in hist.items() if k > v - SSM_RETAINED}

        allowed = self.expected_states(owned, name, put)
        if h not in allowed:
            def show(s):
                return "absent" if s is None else f"versions {min(s)}..{max(s)} (latest {s[max(s)][:50]!r})"
            acked = [op for op in owned.ops if op.outcome == ACK]
            last = acked[-1] if acked else None
            self.bad(f"{name}: found {show(h)}; allowed: {' or '.join(show(s) for s in allowed)}"
                     f" (last acknowledged op this round: {last.kind if last else 'none'}"
                     f"{' v' + str(last.version) if last and last.version else ''})")
        owned.base, owned.ops = h, []

    # -- S3

    def get_object(self, bucket: str, key: str) -> tuple[str, int, str | None, str | None] | None:
        try:
            r = self.s3.get_object(Bucket=bucket, Key=key)
            body = r["Body"].read()
        except botocore.exceptions.ClientError as e:
            if e.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            self.bad(f"s3://{bucket}/{key}: GET failed: {e}")
            return "GET failed", -1, None, None
        except (botocore.exceptions.BotoCoreError, OSError) as e:
            self.bad(f"s3://{bucket}/{key}: GET failed while reading the body: {type(e).__name__}: {e}")
            return "GET failed", -1, None, None
        if len(body) != r["ContentLength"]:
            self.bad(f"s3://{bucket}/{key}: GET returned {len(body)} bytes, Content-Length {r['ContentLength']}")
        h = self.s3.head_object(Bucket=bucket, Key=key)
        if h["ContentLength"] != len(body):
            self.bad(f"s3://{bucket}/{key}: HeadObject ContentLength {h['ContentLength']}, GET returned {len(body)} bytes")
        return sha(body), len(body), h.get("ServerSideEncryption"), h.get("SSEKMSKeyId")

    def object_matches(self, got, want) -> bool:
        if got is None or want is None:
            return got is None and want is None
        return got[0] == want[0] and got[1] == want[1]

    def check_sse(self, where: str, got, want) -> None:
        if got is None or want is None:
            return
        if got[2] != want[2]:
            self.bad(f"{where}: ServerSideEncryption {got[2]!r}, written with {want[2]!r}")
        elif want[3] and not (got[3] or "").endswith(want[3]):
            self.bad(f"{where}: SSEKMSKeyId {got[3]!r}, written with {want[3]!r}")

    def check_objects(self) -> None:
        m = self.model
        listed: dict[tuple[str, str], int] = {}
        for bucket in (BUCKET_S3, BUCKET_KMS):
            for o in paginate(self.s3, "list_objects_v2", "Contents", Bucket=bucket):
                listed[(bucket, o["Key"])] = o["Size"]
        mpu_allowed: dict[tuple[str, str], list] = {}
        for up in m.uploads:
            mpu_allowed.setdefault((up.bucket, up.key), []).extend(self.upload_object_states(up))
        for bk in m.upload_keys_unknown:
            mpu_allowed.setdefault(bk, []).append(None)
        keys = set(listed) | set(m.objects) | set(m.shared_objects) | set(mpu_allowed)

        def check(bk: tuple[str, str]) -> None:
            where = f"s3://{bk[0]}/{bk[1]}"
            got = self.get_object(*bk)
            if (bk in listed) != (got is not None):
                self.bad(f"{where}: ListObjectsV2 {'lists' if bk in listed else 'omits'} it but GET "
                         f"{'finds it' if got else 'answers NoSuchKey'}")
            if got is not None and got[1] < 0:
                if bk in m.objects:
                    m.objects[bk].base, m.objects[bk].ops = got, []
                if bk in m.shared_objects:
                    m.shared_objects[bk].update(base=got, ops=[])
                return  # the GET failed: reported
            if got is not None and bk in listed and listed[bk] != got[1]:
                self.bad(f"{where}: ListObjectsV2 Size {listed[bk]}, GET returned {got[1]} bytes")
            if bk in m.objects:
                owned = m.objects[bk]
                allowed = self.expected_states(owned, where, lambda s, op: op.value)
                match = [w for w in allowed if self.object_matches(got, w)]
                if not match:
                    def show(s):
                        return "absent" if s is None else f"{s[1]} bytes sha256 {s[0][:12]}"
                    self.bad(f"{where}: found {show(got)}; allowed: {' or '.join(show(s) for s in allowed)}")
                else:
                    self.check_sse(where, got, match[0])
                owned.base, owned.ops = (match[0] if match else got), []
            elif bk in m.shared_objects:
                # Concurrent writers: the object is one acknowledged (or in-flight) write that no
                # acknowledged write started after it had been acknowledged; the state before
                # this round only if no write of this round was acknowledged.
                so = m.shared_objects[bk]
                acked = [op for op in so["ops"] if op[1] == ACK]
                allowed = [op[0] for op in so["ops"] if op[1] in (ACK, UNKNOWN)
                           and not any(w[2] > op[3] for w in acked)]
                if not acked:
                    allowed.append(so["base"])
                match = [w for w in allowed if self.object_matches(got, w)]
                if not match:
                    self.bad(f"{where}: (written concurrently) found "
                             f"{'absent' if got is None else str(got[1]) + ' bytes sha256 ' + got[0][:12]}, "
                             f"which is none of the {len(allowed)} writes that may be the latest")
                else:
                    self.check_sse(where, got, match[0])
                so["base"], so["ops"] = (match[0] if match else got), []
            elif bk in mpu_allowed:
                match = [w for w in mpu_allowed[bk] if self.object_matches(got, w)]
                if not match:
                    self.bad(f"{where}: multipart object {'visible' if got else 'absent'}"
                             f"{' with ' + str(got[1]) + ' bytes' if got else ''}, which no acknowledged or"
                             f" in-flight CompleteMultipartUpload allows")
                else:
                    self.check_sse(where, got, match[0])
            else:
                self.bad(f"{where}: listed, but no worker ever wrote this key ({got[1] if got else '?'} bytes)")

        with ThreadPoolExecutor(4) as ex:
            list(ex.map(check, sorted(keys)))
        m.upload_keys_unknown.clear()
        self.count("objects read", sum(1 for k in keys if k in listed))

    def upload_object_states(self, up: Upload) -> list:
        """What the upload's key may hold as an object now."""
        if up.complete is None or up.complete == FAIL:
            return [None]  # CompleteMultipartUpload never sent (or refused): no object
        data = b"".join(part_bytes(up.parts[n]["seed"], up.parts[n]["size"]) for n in up.complete_parts)
        full = (sha(data), len(data), up.sse[0], up.sse[1])
        if up.complete == "deleted":
            return [None]
        return [full] if up.complete == ACK else [None, full]

    def check_uploads(self) -> None:
        """Acknowledged parts of uploads left open survive; then the uploads are completed (and
        the objects checked byte for byte) or aborted. Objects of earlier rounds' uploads are
        deleted, to keep the data directory small."""
        m = self.model
        for up in m.uploads:
            where = f"s3://{up.bucket}/{up.key} upload {up.upload_id[:16]}"
            if up.complete in (ACK, "deleted") or up.abort == ACK:
                continue
            try:
                parts = {p["PartNumber"]: p for p in paginate(
                    self.s3, "list_parts", "Parts", Bucket=up.bucket, Key=up.key, UploadId=up.upload_id)}
            except botocore.exceptions.ClientError as e:
                if e.response["Error"]["Code"] != "NoSuchUpload":
                    raise
                if up.complete == UNKNOWN or up.abort == UNKNOWN:
                    up.complete = ACK if self.get_object(up.bucket, up.key) else "gone"
                    continue
                self.bad(f"{where}: acknowledged upload lost (NoSuchUpload) with parts "
                         f"{[n for n, p in up.parts.items() if p['outcome'] == ACK]} acknowledged")
                up.complete = "gone"
                continue
            if up.complete == UNKNOWN and self.get_object(up.bucket, up.key) is not None:
                self.bad(f"{where}: the upload is still open but its object is visible")
            usable = []
            for n, p in sorted(up.parts.items()):
                got = parts.get(n)
                if p["outcome"] == ACK:
                    if got is None:
                        self.bad(f"{where}: acknowledged part {n} ({p['size']} bytes) is missing from ListParts")
                        continue
                    if got["ETag"] != p["etag"] or got["Size"] != p["size"]:
                        self.bad(f"{where}: part {n} is {got['Size']} bytes ETag {got['ETag']}, acknowledged "
                                 f"{p['size']} bytes ETag {p['etag']}")
                        continue
                    usable.append(n)
                elif got is not None:
                    if got["Size"] != p["size"]:
                        self.bad(f"{where}: in-flight part {n} is listed with {got['Size']} of {p['size']} bytes")
                        continue
                    p["etag"] = got["ETag"]
                    usable.append(n)
            for n in parts:
                if n not in up.parts:
                    self.bad(f"{where}: ListParts lists part {n}, which was never sent")
            self.count("open uploads checked")
            if not usable:
                self.s3.abort_multipart_upload(Bucket=up.bucket, Key=up.key, UploadId=up.upload_id)
                up.abort = ACK
                continue
            self.s3.complete_multipart_upload(
                Bucket=up.bucket, Key=up.key, UploadId=up.upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": up.parts[n]["etag"]} for n in usable]})
            up.complete, up.complete_parts = ACK, usable
            want = self.upload_object_states(up)[0]
            got = self.get_object(up.bucket, up.key)
            if not self.object_matches(got, want):
                self.bad(f"{where}: completed after the restart from parts {usable}: GET returned "
                         f"{'nothing' if got is None else str(got[1]) + ' bytes sha256 ' + got[0][:12]}, "
                         f"expected {want[1]} bytes sha256 {want[0][:12]}")
            self.count("uploads completed after restart")
        # Delete checked multipart objects (their bytes were verified after this restart).
        for up in m.uploads:
            if up.complete == ACK:
                self.s3.delete_object(Bucket=up.bucket, Key=up.key)
                up.complete = "deleted"
        m.uploads = [u for u in m.uploads if u.complete != "deleted" and u.abort != ACK and u.complete != "gone"]


# ----------------------------------------------------------------------------------------------
# Audit


class Audit:
    def __init__(self, binary: Path, data: Path):
        self.binary, self.data = binary, data
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("COFFER_", "AWS_"))}
        r = subprocess.run([str(binary), "audit", "--help"], capture_output=True, text=True, env=self.env)
        self.available = r.returncode == 0 and "verify" in r.stdout

    def verify(self, rnd: int, when: str, findings: Findings) -> str:
        if not self.available:
            return "SKIPPED: coffer audit verify not available"
        r = subprocess.run([str(self.binary), "audit", "verify", "--data-dir", str(self.data)],
                           capture_output=True, text=True, timeout=300, env=self.env)
        out = (r.stdout + r.stderr).strip()
        if r.returncode != 0:
            findings.violation(rnd, f"coffer audit verify ({when}) exited {r.returncode}: {out[-1500:]}")
            return f"FAILED ({when})"
        m = re.search(r"(\d+) events", out)
        return f"chain verified {when}" + (f" ({m.group(1)} events)" if m else "")

    def request_ids(self) -> set[str] | None:
        d = self.data / "audit"
        files = sorted(d.glob("journal-*.jsonl")) if d.is_dir() else []
        if not files:
            return None
        ids = set()
        for f in files:
            for line in f.read_bytes().split(b"\n"):
                if not line:
                    continue
                try:
                    rid = json.loads(line).get("requestID")
                except ValueError:
                    continue  # a torn last line
                if rid:
                    ids.add(rid)
        return ids

    def check_acked(self, rnd: int, model: Model, findings: Findings) -> str:
        ids = self.request_ids()
        if ids is None:
            return "SKIPPED: no audit journal in the data directory"
        acked = [r for r in model.request_ids if r[0] == rnd]
        missing = [r for r in acked if r[3] not in ids]
        if missing:
            ops = sorted({f"{r[1]}:{r[2]}" for r in missing})
            findings.violation(rnd, f"{len(missing)} of {len(acked)} acknowledged calls have no audit record "
                                    f"(e.g. {missing[0][1]} {missing[0][2]} request {missing[0][3]}); operations: {ops}")
            return f"{len(missing)} acknowledged calls missing"
        return f"all {len(acked)} acknowledged calls recorded"


# ----------------------------------------------------------------------------------------------
# Rounds


def setup_fixtures(model: Model, clients: Clients, rng: random.Random) -> None:
    kms, ssm, s3 = clients.make("kms"), clients.make("ssm"), clients.make("s3")
    for i in range(2):
        md = kms.create_key(Description=f"crash test fixture {i}")["KeyMetadata"]
        model.keys[md["KeyId"]] = {"round": 0, "arn": md["Arn"], "rotations": 0}
        model.usable.append(md["KeyId"])
        model.fixture_keys.append(md["KeyId"])
    kms.create_alias(AliasName="alias/crash/fixture", TargetKeyId=model.fixture_keys[1])
    model.aliases["alias/crash/fixture"] = model.fixture_keys[1]
    model.alias_of[model.fixture_keys[1]] = "alias/crash/fixture"
    s3.create_bucket(Bucket=BUCKET_S3)
    s3.create_bucket(Bucket=BUCKET_KMS)
    s3.put_bucket_encryption(Bucket=BUCKET_KMS, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": model.fixture_keys[1]},
        "BucketKeyEnabled": True}]})
    model.bucket_default = {BUCKET_S3: ("AES256", None, None), BUCKET_KMS: ("aws:kms", model.fixture_keys[1], None)}
    kinds = [("String", None, "Standard"), ("SecureString", None, "Standard"),
             ("SecureString", "alias/crash/fixture", "Standard"), ("SecureString", None, "Advanced"),
             ("String", None, "Advanced"), ("SecureString", model.fixture_keys[0], "Standard")]
    for i in range(SHARED_PARAMS):
        name = f"/crash/shared/p{i}"
        model.param_types[name] = kinds[i % len(kinds)]
        model.shared[name] = SharedParam(*kinds[i % len(kinds)])
    for w in range(2):
        for i in range(OWNED_PARAMS):
            name = f"/crash/own{w}/p{i}"
            model.param_types[name] = kinds[(i + w) % len(kinds)]
            model.owned_params[name] = OwnedName()
    for w in range(2):
        for j in range(OWNED_OBJECTS):
            model.objects[((BUCKET_S3, BUCKET_KMS)[j % 2], f"obj/{w}/{j}")] = OwnedName()
    for j in range(SHARED_OBJECTS):
        model.shared_objects[((BUCKET_S3, BUCKET_KMS)[j % 2], f"shared/{j}")] = {"base": None, "ops": []}


def run_load(rnd: int, model: Model, clients: Clients, server: Server, findings: Findings,
             rng: random.Random, duration: float) -> dict:
    stop = threading.Event()
    kill_time: list = []
    args = (model, clients, stop, findings, kill_time)
    workers: list[Worker] = [
        KeyWorker("create-key", rnd, *args, random.Random(rng.getrandbits(64))),
        EncryptWorker("encrypt", rnd, *args, random.Random(rng.getrandbits(64))),
        SharedParamWorker("ssm-shared-a", rnd, *args, random.Random(rng.getrandbits(64))),
        SharedParamWorker("ssm-shared-b", rnd, *args, random.Random(rng.getrandbits(64))),
        *(OwnedParamWorker(f"ssm-own-{i}", rnd, *args, random.Random(rng.getrandbits(64)), index=i) for i in range(2)),
        *(ObjectWorker(f"s3-put-{i}", rnd, *args, random.Random(rng.getrandbits(64)), index=i) for i in range(2)),
        MultipartWorker("s3-multipart", rnd, *args, random.Random(rng.getrandbits(64)), index=0),
    ]
    for w in workers:
        w.start()
    died_early = None
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline:
        if not server.alive():
            died_early = server.proc.returncode
            break
        time.sleep(0.01)
    kill_time.append(time.monotonic())
    if died_early is None:
        server.kill9()
    else:
        findings.violation(rnd, f"coffer exited by itself (status {died_early}) during the load; see {server.log_path}")
    stop.set()
    for w in workers:
        w.join(120)
        if w.is_alive():
            raise HarnessError(f"worker {w.name} did not stop after the kill")
        if w.error:
            raise HarnessError(f"worker {w.name} failed:\n{w.error}")
    unexpected = [u for w in workers for u in w.unexpected]
    for u in unexpected[:10]:
        findings.warning(rnd, u)
    if len(unexpected) > 10:
        findings.warning(rnd, f"... and {len(unexpected) - 10} more errors before the kill")
    refused: dict[str, int] = {}
    for w in workers:
        for code, n in w.refused.items():
            refused[code] = refused.get(code, 0) + n
    in_flight: dict[str, int] = {}
    for w in workers:
        for op in w.in_flight:
            in_flight[op] = in_flight.get(op, 0) + 1
    return {w.name: dict(w.counts) for w in workers}, refused, in_flight


def inject_fault(kind: str, data: Path) -> None:
    """Damages the (crashed) data directory, to prove the checks notice (--inject-fault)."""
    if kind == "wal":
        wal = data / "coffer.db-wal"
        size = wal.stat().st_size if wal.exists() else 0
        if size == 0:
            raise HarnessError("--inject-fault wal: the WAL is empty (checkpointed); nothing to cut")
        os.truncate(wal, size // 2)
        log(f"  injected fault: cut {wal} from {size} to {size // 2} bytes")
    elif kind == "object":
        files = sorted(p for p in (data / "objects").rglob("*")
                       if p.is_file() and p.parent.name != "tmp" and p.stat().st_size > 100)
        if not files:
            raise HarnessError("--inject-fault object: no object data file to damage")
        victim = random.choice(files)
        with open(victim, "r+b") as f:
            f.seek(victim.stat().st_size // 2)
            b = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([b[0] ^ 0x01]))
        log(f"  injected fault: flipped a bit in the middle of {victim}")
    else:
        files = sorted((data / "audit").glob("journal-*.jsonl"))
        if not files:
            raise HarnessError("--inject-fault journal: no audit journal")
        raw = bytearray(files[0].read_bytes())
        i = raw.find(b'"eventName":"') + len(b'"eventName":"')
        raw[i] = ord("X") if raw[i] != ord("X") else ord("Y")
        files[0].write_bytes(bytes(raw))
        log(f"  injected fault: altered the first record's eventName in {files[0]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path, help="empty working directory (data dir and logs)")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--inject-fault", choices=["wal", "object", "journal"], default=None,
                    help="tests the checks themselves: damage the data directory after the first kill "
                         "(wal: cut the SQLite WAL in half, losing acknowledged commits; object: flip a byte "
                         "of an object data file; journal: alter a byte of the audit journal); the run must fail")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    rng = random.Random(seed)
    for k in list(os.environ):
        if k.startswith("AWS_"):
            del os.environ[k]
    empty = args.work / "aws-empty"
    empty.write_text("")
    os.environ.update(AWS_CONFIG_FILE=str(empty), AWS_SHARED_CREDENTIALS_FILE=str(empty), AWS_EC2_METADATA_DISABLED="true")

    data = args.work / "data"
    server = Server(args.bin, data, args.work)
    findings = Findings()
    model = Model()
    audit = Audit(args.bin, data)

    def on_signal(signum, _frame):
        server.kill9()
        log(f"crash test: interrupted (signal {signum})")
        os._exit(130)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    log(f"crash test: {args.rounds} rounds, seed {seed}, binary {args.bin}, work dir {args.work}")
    if not audit.available:
        log("SKIPPED: coffer audit verify not available (`coffer audit --help` failed); the audit chain is not checked")
    started = time.monotonic()
    try:
        if not server.start("1"):
            findings.violation(1, f"coffer did not start on a fresh data directory:\n{server.log_text()[-3000:]}")
            return 1
        creds = read_credentials(data / "admin-credentials")
        clients = Clients(server.endpoint, creds)
        setup_fixtures(model, clients, rng)
        for rnd in range(1, args.rounds + 1):
            t0 = time.monotonic()
            duration = rng.uniform(0.5, 3.0)
            before = len(findings.violations)
            counts, refused, in_flight = run_load(rnd, model, clients, server, findings, rng, duration)
            problems = server.log_problems()
            for p in problems[:5]:
                findings.warning(rnd, f"server log: {p}")
            if args.inject_fault and rnd == 1:
                inject_fault(args.inject_fault, data)
            audit_crash = audit.verify(rnd, "after the kill", findings)
            t_restart = time.monotonic()
            if not server.start(f"{rnd + 1}"):
                findings.violation(rnd, "coffer did not start again after the kill (a store did not open):\n"
                                        + server.log_text()[-3000:])
                return finish(findings, rnd, started, server, audit, final=False)
            restart_s = time.monotonic() - t_restart
            clients = Clients(server.endpoint, creds)
            last = rnd == args.rounds
            stats = Checker(rnd, model, clients, findings, rng, full=last, data=data).run()
            if not server.alive():
                findings.violation(rnd, f"coffer exited during the checks (status {server.proc.returncode}); "
                                        f"see {server.log_path}")
                return finish(findings, rnd, started, server, audit, final=False)
            audit_live = audit.verify(rnd, "after the restart", findings)
            audit_ids = audit.check_acked(rnd, model, findings)
            audit_note = ("SKIPPED" if not audit.available and audit_ids.startswith("SKIPPED")
                          else f"{audit_crash}; {audit_live}; {audit_ids}")
            acked = sum(c[ACK] for c in counts.values())
            unknown = sum(c[UNKNOWN] for c in counts.values())
            failed = sum(c[FAIL] for c in counts.values())
            status = "ok" if len(findings.violations) == before else f"{len(findings.violations) - before} VIOLATIONS"
            log(f"round {rnd}/{args.rounds}: {status}; load {duration:.1f} s: {acked} acked, {unknown} in flight at the "
                f"kill ({', '.join(f'{k} {v}' for k, v in sorted(in_flight.items()))}), {failed} refused{' (' + ', '.join(f'{k} {v}' for k, v in sorted(refused.items())) + ')' if refused else ''}; "
                f"acked by worker: {', '.join(f'{k} {v[ACK]}' for k, v in counts.items())}; restart "
                f"{restart_s:.2f} s; checked {', '.join(f'{k} {v}' for k, v in stats.items())}; audit: {audit_note}; "
                f"round {time.monotonic() - t0:.1f} s")
        return finish(findings, args.rounds, started, server, audit, final=True)
    except HarnessError as e:
        log(f"crash test: HARNESS ERROR: {e}")
        server.kill9()
        return 2
    except Exception:
        if server.proc is not None and not server.alive() and server.proc.returncode != -signal.SIGKILL:
            findings.violation(0, f"coffer exited (status {server.proc.returncode}) while it was being checked; "
                                  f"see {server.log_path}")
            log(traceback.format_exc())
            return finish(findings, 0, started, server, audit, final=False)
        log(f"crash test: HARNESS ERROR:\n{traceback.format_exc()}")
        server.kill9()
        return 2


def finish(findings: Findings, rounds: int, started: float, server: Server, audit: Audit, final: bool) -> int:
    if final and server.alive():
        code = server.stop()
        if code != 0:
            findings.violation(rounds, f"coffer exited with status {code} after SIGTERM")
        for p in server.log_problems()[:5]:
            findings.warning(rounds, f"server log: {p}")
        if audit.available:
            audit.verify(rounds, "after a clean stop", findings)
    server.kill9()
    took = time.monotonic() - started
    if findings.warnings:
        log(f"{len(findings.warnings)} warnings (errors answered before the kill, server log errors): see above")
    if findings.violations:
        log(f"CRASH TEST FAILED: {len(findings.violations)} violations in {rounds} rounds ({took:.0f} s):")
        for v in findings.violations:
            log(f"  {v}")
        return 1
    log(f"CRASH TEST PASSED: {rounds} rounds of kill -9 under load, every acknowledged write present "
        f"({took:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
