"""Shared helpers of the Coffer compatibility suite (the fixtures are in conftest.py).

Coffer runs as a real process: ``coffer serve --data-dir <tmp>`` (durable, real SigV4) or
``coffer serve --dev`` (in memory, any credentials, account = the access key id when it is 12
digits, movable clock). Each server's stdout and stderr go to ``server.log`` in its work dir.

The binary is ``$COFFER_BIN``, else ``<repo>/target/debug/coffer``.
"""

from __future__ import annotations

import configparser
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import botocore.auth
import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

REPO = Path(__file__).resolve().parent.parent
COMPAT = Path(__file__).resolve().parent
REGION = "us-east-1"
DEV_ACCOUNT = "123456789012"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0

# The seed document's key policy, verbatim (seed_key_policy.json; its account ids are placeholders).
SEED_POLICY = (COMPAT / "seed_key_policy.json").read_text().rstrip("\n")
# The account the seed policy names as the key's own (its "Enable IAM User Permissions").
SEED_ACCOUNT = "111111111111"

# One boto3 attempt per call: a failure shows as itself, not after retries.
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=10, read_timeout=30)


def coffer_bin() -> Path:
    return Path(os.environ.get("COFFER_BIN") or REPO / "target" / "debug" / "coffer")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, timeout: float = 5.0, context: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def signed_post(
    endpoint: str,
    service: str,
    body: bytes,
    headers: dict[str, str],
    credentials: tuple[str, str] | None = ("AKIDCOMPATRAW", "compat-raw-secret"),
    signed_at: dt.datetime | None = None,
    send_body: bytes | None = None,
) -> tuple[int, bytes]:
    """One raw POST to `endpoint`/, SigV4-signed for `service`/us-east-1 with `credentials`
    (None: unsigned) at `signed_at` (default now); `send_body` replaces the body after signing.
    Returns the HTTP status and the raw response body."""
    req = AWSRequest(method="POST", url=f"{endpoint}/", data=body, headers=headers)
    if credentials:
        signer = SigV4Auth(Credentials(*credentials), service, REGION)
        if signed_at is None:
            signer.add_auth(req)
        else:
            real = botocore.auth.get_current_datetime
            botocore.auth.get_current_datetime = lambda: signed_at
            try:
                signer.add_auth(req)
            finally:
                botocore.auth.get_current_datetime = real
    prepared = req.prepare()
    data = prepared.body if send_body is None else send_body
    r = urllib.request.Request(prepared.url, data=data, headers=dict(prepared.headers), method="POST")
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def raw_json(
    endpoint: str,
    target: str,
    body: bytes = b"{}",
    credentials: tuple[str, str] | None = ("AKIDCOMPATRAW", "compat-raw-secret"),
    service: str = "kms",
    signed_at: dt.datetime | None = None,
    send_body: bytes | None = None,
) -> tuple[int, dict]:
    """One raw awsJson 1.1 request (`target` is the X-Amz-Target), signed for `service`.
    Returns the HTTP status and the decoded JSON body."""
    status, raw = signed_post(
        endpoint, service, body,
        {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
        credentials, signed_at, send_body,
    )
    try:
        return status, json.loads(raw) if raw else {}
    except ValueError:
        return status, {"__type": "NotJson", "message": raw[:200].decode(errors="replace")}


def raw_kms(
    endpoint: str,
    target: str,
    body: bytes = b"{}",
    credentials: tuple[str, str] | None = ("AKIDCOMPATRAW", "compat-raw-secret"),
    signed_at: dt.datetime | None = None,
    send_body: bytes | None = None,
) -> tuple[int, dict]:
    """One raw awsJson 1.1 KMS request, SigV4-signed for kms/us-east-1 with `credentials`
    (None: unsigned) at `signed_at` (default now); `send_body` replaces the body after signing.
    Returns the HTTP status and the decoded JSON body."""
    return raw_json(endpoint, target, body, credentials, "kms", signed_at, send_body)


def raw_query(
    endpoint: str,
    service: str,
    params: dict[str, str],
    credentials: tuple[str, str] | None = ("AKIDCOMPATRAW", "compat-raw-secret"),
) -> tuple[int, str]:
    """One raw awsQuery request (form POST of `params`, e.g. Action and Version), signed for
    `service` (iam, sts). Returns the HTTP status and the XML body as text."""
    body = urllib.parse.urlencode(params).encode()
    status, raw = signed_post(
        endpoint, service, body, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, credentials
    )
    return status, raw.decode(errors="replace")


def wire_error(body: dict) -> tuple[str, str]:
    """(code, message) of an awsJson error body."""
    code = str(body.get("__type", "")).rsplit("#", 1)[-1]
    return code, str(body.get("message") or body.get("Message") or "")


def unique(prefix: str = "") -> str:
    return f"{prefix}{random.getrandbits(48):012x}"


def random_account() -> str:
    """A fresh 12-digit access key id, i.e. a fresh, empty account on the --dev server."""
    return str(random.randrange(200_000_000_000, 999_999_999_999))


_BOTO3_SESSION: boto3.session.Session | None = None


def client_for(endpoint: str, service: str, access_key: str, secret_key: str, session_token: str | None = None,
               config: Config = CLIENT_CONFIG, verify: str | None = None):
    """A boto3 client of `service` at `endpoint` with exactly these credentials (`verify`: the CA
    bundle of an https endpoint). Clients share one boto3 session (so botocore loads each service
    model once); every setting is explicit."""
    global _BOTO3_SESSION
    if _BOTO3_SESSION is None:
        _BOTO3_SESSION = boto3.session.Session()
    return _BOTO3_SESSION.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=session_token,
        config=config,
        verify=verify,
    )


@dataclass
class Coffer:
    """One running Coffer process."""

    name: str
    args: list[str]
    workdir: Path
    data_dir: Path | None = None
    endpoint: str = ""
    log_path: Path = field(init=False)
    proc: subprocess.Popen | None = None
    access_key: str = ""
    secret_key: str = ""
    account: str = ""
    credentials_file: Path | None = None
    dev: bool = False
    # --dev --tls: https, with the self-signed certificate whose path Coffer prints at start.
    tls: bool = False
    ca_bundle: Path | None = None

    def __post_init__(self) -> None:
        self.log_path = self.workdir / "server.log"

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        binary = coffer_bin()
        if not binary.is_file():
            pytest.exit(
                f"Coffer binary not found at {binary}: build it (cargo build -p coffer) or set COFFER_BIN",
                returncode=2,
            )
        env = {k: v for k, v in os.environ.items() if not k.startswith("COFFER_")}
        last_error = ""
        for _attempt in range(3):  # a free port can be taken between probe and bind: retry
            port = free_port()
            self.endpoint = f"{'https' if self.tls else 'http'}://127.0.0.1:{port}"
            log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                [str(binary), "serve", *self.args, "--listen", f"127.0.0.1:{port}"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.workdir,
            )
            log.close()
            ok, last_error = self._wait_ready(port)
            if ok:
                return
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        raise RuntimeError(f"{self.name} coffer did not start: {last_error}\n{self.log_text()[-4000:]}")

    def _wait_ready(self, port: int) -> tuple[bool, str]:
        """Polls for the 'coffer listening on' line, then for /_coffer/health answering 200. With
        TLS, the certificate is the one whose path the log names (`cert=<path>`)."""
        deadline = time.monotonic() + READY_TIMEOUT
        line = f"coffer listening on {self.endpoint}"
        seen = False
        context = None
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                return False, f"exited with status {code}"
            if not seen:
                text = self.log_text()
                seen = line in text
                if seen and self.tls:
                    m = re.findall(r"self-signed TLS certificate .* cert=(\S+)", text)
                    if not m:
                        return False, "no self-signed certificate path in the log"
                    self.ca_bundle = Path(m[-1])
                    context = ssl.create_default_context(cafile=str(self.ca_bundle))
            if seen:
                try:
                    status, _ = http("GET", f"{self.endpoint}/_coffer/health", timeout=2, context=context)
                    if status == 200:
                        return True, ""
                except OSError:
                    pass
            time.sleep(0.02)
        return False, f"not ready within {READY_TIMEOUT} s"

    def stop(self) -> int:
        """SIGTERM, then the exit status (killed after STOP_TIMEOUT)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return -9
        return self.proc.returncode

    # ---- helpers ---------------------------------------------------------------------------
    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def client(self, access_key: str | None = None, secret_key: str | None = None, service: str = "kms",
               session_token: str | None = None, config: Config = CLIENT_CONFIG):
        return client_for(self.endpoint, service, access_key or self.access_key, secret_key or self.secret_key,
                          session_token, config, str(self.ca_bundle) if self.ca_bundle else None)

    def advance_clock(self, seconds: int) -> dict:
        status, body = http("POST", f"{self.endpoint}/_coffer/dev/clock?advance={int(seconds)}", timeout=30)
        assert status == 200, body
        return json.loads(body)


def error_code(exc) -> str:
    """The AWS error code of a botocore ClientError."""
    return exc.response["Error"]["Code"]


def raises(code: str, fn, **kwargs) -> botocore.exceptions.ClientError:
    """Calls `fn(**kwargs)`, which must fail with the AWS error `code`; the error."""
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        fn(**kwargs)
    assert error_code(ei.value) == code, ei.value.response
    return ei.value


def read_credentials(path: Path, profile: str) -> tuple[str, str]:
    """(access key id, secret) of `profile` in an AWS credentials file."""
    cp = configparser.ConfigParser()
    cp.read(path)
    return cp[profile]["aws_access_key_id"], cp[profile]["aws_secret_access_key"]


def write_credentials(path: Path, profile: str, access_key: str, secret_key: str, token: str | None = None) -> Path:
    """Writes a one-profile AWS credentials file (mode 0600) and returns its path."""
    text = f"[{profile}]\naws_access_key_id = {access_key}\naws_secret_access_key = {secret_key}\n"
    if token:
        text += f"aws_session_token = {token}\n"
    path.write_text(text)
    path.chmod(0o600)
    return path


def create_account(server: Coffer, account_id: str, out: Path) -> tuple[str, str]:
    """`coffer admin create-account` on the durable `server` (as its admin); the new account's
    root (access key id, secret), read back from the credentials file it writes."""
    p = subprocess.run(
        [str(coffer_bin()), "admin", "create-account", "--account-id", account_id,
         "--endpoint", server.endpoint, "--credentials", str(server.credentials_file), "--out", str(out)],
        env={k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "COFFER_"))},
        capture_output=True, text=True, timeout=60,
    )
    assert p.returncode == 0, f"coffer admin create-account {account_id} failed ({p.returncode}):\n{p.stderr}"
    assert out.stat().st_mode & 0o077 == 0
    return read_credentials(out, f"account-{account_id}")


def aws_command() -> list[str]:
    """The `aws` CLI installed for this interpreter (run.sh installs it), not through a version
    manager's shim (which costs ~0.2 s a command); else the one on PATH."""
    beside = Path(sys.executable).parent / "aws"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    exe = shutil.which("aws")
    return [exe] if exe else [sys.executable, "-m", "awscli"]


class AwsCli:
    """Runs the `aws` CLI (v1) as a subprocess with a clean environment, configured only the way a
    user would: a shared credentials file and profile, AWS_ENDPOINT_URL and AWS_DEFAULT_REGION.
    `env` adds variables (e.g. session credentials) to every command; `ca_bundle` (an https
    endpoint's certificate) is given to every command as `--ca-bundle`."""

    def __init__(self, endpoint: str, credentials_file: Path, workdir: Path, profile: str | None = "coffer",
                 env: dict[str, str] | None = None, ca_bundle: Path | None = None):
        self.workdir = workdir
        self.command = aws_command()
        self.global_args = ["--ca-bundle", str(ca_bundle)] if ca_bundle else []
        base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        base.update(
            AWS_SHARED_CREDENTIALS_FILE=str(credentials_file),
            AWS_CONFIG_FILE=str(workdir / "no-config"),
            AWS_PROFILE=profile,
            AWS_ENDPOINT_URL=endpoint,
            AWS_DEFAULT_REGION=REGION,
            AWS_EC2_METADATA_DISABLED="true",
            AWS_MAX_ATTEMPTS="1",
        )
        if profile is None:
            del base["AWS_PROFILE"]
        base.update(env or {})
        self.env = base

    def with_env(self, **env: str) -> "AwsCli":
        """The same CLI with `env` added (AWS_PROFILE dropped when credentials are given)."""
        other = AwsCli.__new__(AwsCli)
        other.workdir, other.command, other.global_args = self.workdir, self.command, self.global_args
        other.env = {**self.env, **env}
        if "AWS_ACCESS_KEY_ID" in env:
            other.env.pop("AWS_PROFILE", None)
        return other

    def run(self, *args: str, service: str = "kms", output: str | None = "json") -> subprocess.CompletedProcess:
        """`aws <service> <args> --output <output>` (no --output option when `output` is None)."""
        return subprocess.run(
            [*self.command, service, *args, *self.global_args, *(["--output", output] if output else [])],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def __call__(self, *args: str, service: str = "kms") -> dict:
        """Runs a command that must succeed; its JSON output (or {} when it prints nothing)."""
        p = self.run(*args, service=service)
        assert p.returncode == 0, f"aws {service} {' '.join(args)} failed ({p.returncode}):\n{p.stderr}"
        return json.loads(p.stdout) if p.stdout.strip() else {}

    def fails(self, *args: str, code: str, service: str = "kms") -> str:
        """Runs a command that must fail with the AWS error `code`; its stderr."""
        p = self.run(*args, service=service)
        assert p.returncode != 0, f"aws {service} {' '.join(args)} succeeded, expected {code}:\n{p.stdout}"
        assert f"({code})" in p.stderr, f"expected {code}, got:\n{p.stderr}"
        return p.stderr

    def fails_all(self, *expected: tuple[str, tuple[str, ...], str]) -> list[str]:
        """Runs independent commands concurrently, each given as (service, args, error code), each
        of which must fail with its AWS error code; their stderrs."""
        with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
            done = list(pool.map(lambda e: self.run(*e[1], service=e[0]), expected))
        for (service, args, code), p in zip(expected, done):
            assert p.returncode != 0, f"aws {service} {' '.join(args)} succeeded, expected {code}:\n{p.stdout}"
            assert f"({code})" in p.stderr, f"aws {service} {' '.join(args)}: expected {code}, got:\n{p.stderr}"
        return [p.stderr for p in done]

    def file(self, name: str, data: bytes | str) -> str:
        path = self.workdir / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        return str(path)
