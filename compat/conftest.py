"""Session fixtures of the Coffer compatibility suite: one durable and one --dev Coffer process
(see helpers.Coffer), stopped with SIGTERM at the end of the session (exit status 0 asserted)."""

from __future__ import annotations

import os
import re
import sys

import boto3
import pytest

from helpers import DEV_ACCOUNT, Coffer, coffer_bin, create_account, random_account, read_credentials


@pytest.fixture(scope="session", autouse=True)
def _clean_aws_environment(tmp_path_factory):
    """No ambient AWS configuration (profiles, endpoints, keys) may reach the clients under test."""
    empty = tmp_path_factory.mktemp("aws-empty") / "empty"
    empty.write_text("")
    mp = pytest.MonkeyPatch()
    for k in list(os.environ):
        if k.startswith("AWS_"):
            mp.delenv(k)
    mp.setenv("AWS_CONFIG_FILE", str(empty))
    mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield
    mp.undo()


@pytest.fixture(scope="session")
def durable(tmp_path_factory, _clean_aws_environment) -> Coffer:
    """A durable Coffer (SQLite in a temp data dir, real SigV4) with its admin credentials. It
    accepts S3 SSE-C over plain HTTP (--s3-allow-sse-c-over-http), so that the suite can store
    customer-key objects on it (test_no_plaintext_at_rest.py)."""
    work = tmp_path_factory.mktemp("coffer-durable")
    data = work / "data"
    server = Coffer(name="durable", args=["--data-dir", str(data), "--s3-allow-sse-c-over-http"], workdir=work,
                    data_dir=data)
    server.start()
    try:
        server.credentials_file = data / "admin-credentials"
        server.access_key, server.secret_key = read_credentials(server.credentials_file, "coffer")
        m = re.search(r"initialised .* for account (\d{12})", server.log_text())
        assert m, "coffer did not print the account it initialised"
        server.account = m.group(1)
        yield server
    finally:
        code = server.stop()
    assert code == 0, f"durable coffer exited with status {code} after SIGTERM\n{server.log_text()[-4000:]}"


@pytest.fixture(scope="session")
def dev(tmp_path_factory, _clean_aws_environment) -> Coffer:
    """An in-memory --dev Coffer (any credentials; movable clock)."""
    work = tmp_path_factory.mktemp("coffer-dev")
    server = Coffer(name="dev", args=["--dev"], workdir=work, dev=True)
    server.access_key, server.secret_key, server.account = "AKIDEXAMPLEDEV", "dev-secret", DEV_ACCOUNT
    server.start()
    try:
        yield server
    finally:
        code = server.stop()
    assert code == 0, f"dev coffer exited with status {code} after SIGTERM\n{server.log_text()[-4000:]}"


@pytest.fixture(scope="session")
def dev_tls(tmp_path_factory, _clean_aws_environment) -> Coffer:
    """A second in-memory Coffer, `coffer serve --dev --tls`: HTTPS with a self-signed certificate
    for localhost (server.ca_bundle, the path Coffer prints at start)."""
    work = tmp_path_factory.mktemp("coffer-dev-tls")
    server = Coffer(name="dev-tls", args=["--dev", "--tls"], workdir=work, dev=True, tls=True)
    server.access_key, server.secret_key, server.account = "AKIDEXAMPLEDEV", "dev-secret", DEV_ACCOUNT
    server.start()
    try:
        assert server.ca_bundle and server.ca_bundle.is_file(), server.log_text()[-2000:]
        yield server
    finally:
        code = server.stop()
    assert code == 0, f"dev-tls coffer exited with status {code} after SIGTERM\n{server.log_text()[-4000:]}"


@pytest.fixture(scope="session")
def kms(durable):
    """boto3 KMS client of the durable server's admin (account root)."""
    return durable.client()


@pytest.fixture
def dev_kms(dev):
    """boto3 KMS client of a fresh, empty account on the --dev server."""
    return dev.client(access_key=random_account(), secret_key="anything")


@pytest.fixture(scope="session")
def seed_accounts(durable, tmp_path_factory) -> dict[str, tuple[str, str]]:
    """The seed document's accounts 111111111111 and 222222222222, created on the durable server
    with `coffer admin create-account` (as its admin): account id -> root (access key, secret)."""
    out = tmp_path_factory.mktemp("accounts")
    return {a: create_account(durable, a, out / f"{a}.credentials") for a in ("111111111111", "222222222222")}


def pytest_report_header(config):
    return [f"coffer binary: {coffer_bin()}", f"python: {sys.version.split()[0]}, boto3 {boto3.__version__}"]
