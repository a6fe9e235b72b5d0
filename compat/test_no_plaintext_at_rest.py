"""Nothing secret reaches the durable server's disk or log.

Distinctive plaintexts are encrypted and data keys generated through the durable Coffer; then every
file of its data directory (coffer.db, -wal, -shm, ...) and its log are searched as bytes for each
secret in raw, base64 (padded, unpadded, URL-safe) and hex (both cases) form. The root key's raw
bytes (root.key is their base64) must not be in the database files either.
"""

from __future__ import annotations

import base64
import secrets

import pytest

from helpers import http

CANARIES = 6
DATA_KEYS = 6


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
