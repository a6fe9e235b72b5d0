"""Coffer's asymmetric, HMAC, key-agreement and import (BYOK) operations checked with tools nobody
here wrote: boto3 against the --dev Coffer on one side, the `openssl` command line and Python's
`cryptography` on the other.

- Signatures made by Coffer verify with `cryptography` and `openssl` using GetPublicKey's DER.
- Ciphertexts made offline with GetPublicKey's key decrypt in Coffer; Coffer's RSA-OAEP size limits.
- GenerateDataKeyPair's PKCS#8 and SPKI belong together and round-trip through Decrypt.
- GenerateMac/VerifyMac; an imported HMAC key's MACs equal Python's `hmac`.
- DeriveSharedSecret equals `cryptography`'s ECDH.
- Import: AWS's documented openssl recipe, RSA-AES key wrap with `cryptography` and with
  `openssl enc -id-aes256-wrap-pad`, re-import of the same material, expiry on the --dev clock.
- AWS's error codes and messages for the misuses around all of this.

Every test runs in a fresh, empty account of the session's --dev server (fixture `dev_kms`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

from helpers import raises

DAY = 86_400
MESSAGE = b"Coffer interop: the quick brown fox jumps over the lazy dog"

HASHES = {"SHA_256": hashes.SHA256, "SHA_384": hashes.SHA384, "SHA_512": hashes.SHA512}
CURVES = {"ECC_NIST_P256": ec.SECP256R1, "ECC_NIST_P384": ec.SECP384R1, "ECC_NIST_P521": ec.SECP521R1,
          "ECC_SECG_P256K1": ec.SECP256K1}


# ---- helpers -----------------------------------------------------------------------------------


def openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """Runs the `openssl` command line; fails the test (with its output) when it fails."""
    exe = shutil.which("openssl")
    assert exe, "the openssl command line is required by this suite"
    p = subprocess.run([exe, *args], cwd=cwd, capture_output=True, timeout=60)
    assert p.returncode == 0, f"openssl {' '.join(args)} failed ({p.returncode}):\n{p.stdout!r}\n{p.stderr!r}"
    return p


def write(dir: Path, name: str, data: bytes) -> str:
    (dir / name).write_bytes(data)
    return name


def spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def pkcs8(private_key) -> bytes:
    return private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())


def message_of(e) -> str:
    return e.response["Error"]["Message"]


def hash_of(algorithm: str):
    """The cryptography hash class of a KMS signing algorithm (…_SHA_256 etc.)."""
    return HASHES[algorithm[-7:]]


def verify_with_cryptography(public_der: bytes, algorithm: str, message: bytes, signature: bytes,
                             prehashed: bool = False) -> None:
    """Verifies a KMS signature with `cryptography` (raises InvalidSignature)."""
    pub = serialization.load_der_public_key(public_der)
    if algorithm == "ED25519_SHA_512":
        assert isinstance(pub, ed25519.Ed25519PublicKey)
        pub.verify(signature, message)
        return
    h = hash_of(algorithm)()
    chosen = utils.Prehashed(h) if prehashed else h
    if algorithm.startswith("ECDSA_"):
        assert isinstance(pub, ec.EllipticCurvePublicKey)
        pub.verify(signature, message, ec.ECDSA(chosen))
    elif algorithm.startswith("RSASSA_PSS_"):
        assert isinstance(pub, rsa.RSAPublicKey)
        # KMS: MGF1 with the same hash, salt length = digest length (checked exactly).
        pub.verify(signature, message, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), chosen)
    elif algorithm.startswith("RSASSA_PKCS1_V1_5_"):
        assert isinstance(pub, rsa.RSAPublicKey)
        pub.verify(signature, message, padding.PKCS1v15(), chosen)
    else:
        raise AssertionError(f"no cryptography mapping for {algorithm}")


def wrap_oaep(public_der: bytes, sha: str, data: bytes) -> bytes:
    h = hashes.SHA256() if sha == "SHA_256" else hashes.SHA1()
    pub = serialization.load_der_public_key(public_der)
    return pub.encrypt(data, padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None))


def wrap_rsa_aes(public_der: bytes, sha: str, material: bytes) -> bytes:
    """RSA_AES_KEY_WRAP_SHA_*: OAEP(ephemeral AES-256 key) || AES-KWP(material) (RFC 5649)."""
    aes = os.urandom(32)
    return wrap_oaep(public_der, sha, aes) + aes_key_wrap_with_padding(aes, material)


def import_material(kms, key_id: str, material: bytes, algorithm: str = "RSAES_OAEP_SHA_256",
                    wrapping_spec: str = "RSA_2048", **kwargs) -> dict:
    """GetParametersForImport + wrap with `cryptography` + ImportKeyMaterial (default: material
    that does not expire)."""
    params = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec=wrapping_spec)
    sha = "SHA_256" if algorithm.endswith("SHA_256") else "SHA_1"
    if algorithm.startswith("RSA_AES_KEY_WRAP"):
        wrapped = wrap_rsa_aes(params["PublicKey"], sha, material)
    else:
        wrapped = wrap_oaep(params["PublicKey"], sha, material)
    kwargs.setdefault("ExpirationModel", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    return kms.import_key_material(KeyId=key_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapped, **kwargs)


def state(kms, key_id: str) -> str:
    return kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"]


# ---- 1. signatures: Coffer signs, cryptography and openssl verify ------------------------------

SIGN_CASES = [
    ("ECC_NIST_P256", "ECDSA_SHA_256"),
    ("ECC_NIST_P384", "ECDSA_SHA_384"),
    ("ECC_NIST_P521", "ECDSA_SHA_512"),
    ("ECC_SECG_P256K1", "ECDSA_SHA_256"),
    ("RSA_2048", "RSASSA_PSS_SHA_256"),
    ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256"),
    ("RSA_3072", "RSASSA_PSS_SHA_384"),
    ("RSA_3072", "RSASSA_PKCS1_V1_5_SHA_512"),
    ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
]


@pytest.mark.parametrize("spec,algorithm", SIGN_CASES, ids=[f"{s}-{a}" for s, a in SIGN_CASES])
def test_coffer_signature_verifies_offline(dev_kms, tmp_path, spec, algorithm):
    md = dev_kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    assert md["KeySpec"] == spec and md["KeyUsage"] == "SIGN_VERIFY" and algorithm in md["SigningAlgorithms"]
    pk = dev_kms.get_public_key(KeyId=md["KeyId"])
    assert pk["KeySpec"] == spec and pk["KeyUsage"] == "SIGN_VERIFY" and algorithm in pk["SigningAlgorithms"]
    assert "EncryptionAlgorithms" not in pk or not pk["EncryptionAlgorithms"]
    public_der = pk["PublicKey"]
    pub = serialization.load_der_public_key(public_der)
    if spec in CURVES:
        assert isinstance(pub.curve, CURVES[spec])
    elif spec.startswith("RSA_"):
        assert pub.key_size == int(spec[4:])

    sig = dev_kms.sign(KeyId=md["KeyId"], Message=MESSAGE, MessageType="RAW", SigningAlgorithm=algorithm)
    assert sig["SigningAlgorithm"] == algorithm and sig["KeyId"] == md["Arn"]
    signature = sig["Signature"]

    # cryptography: the signature verifies; a changed message does not.
    verify_with_cryptography(public_der, algorithm, MESSAGE, signature)
    with pytest.raises(InvalidSignature):
        verify_with_cryptography(public_der, algorithm, MESSAGE + b"!", signature)

    # openssl, given GetPublicKey's DER exactly as returned.
    files = {"pub": write(tmp_path, "pub.der", public_der), "msg": write(tmp_path, "msg.bin", MESSAGE),
             "bad": write(tmp_path, "bad.bin", MESSAGE + b"!"), "sig": write(tmp_path, "sig.bin", signature)}
    if algorithm == "ED25519_SHA_512":
        base = ["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", files["pub"], "-rawin",
                "-sigfile", files["sig"], "-in"]
        assert b"Signature Verified Successfully" in openssl(*base, files["msg"], cwd=tmp_path).stdout
    else:
        digest = "-" + algorithm[-7:].replace("_", "").lower()  # -sha256 …
        base = ["dgst", digest, "-keyform", "DER", "-verify", files["pub"], "-signature", files["sig"]]
        if algorithm.startswith("RSASSA_PSS_"):
            # The salt length is pinned to the digest length, so a wrong salt rule would fail here.
            base += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest",
                     "-sigopt", f"rsa_mgf1_md:{digest[1:]}"]
        assert b"Verified OK" in openssl(*base, files["msg"], cwd=tmp_path).stdout
    p = subprocess.run(["openssl", *base, files["bad"]], cwd=tmp_path, capture_output=True, timeout=60)
    assert p.returncode != 0, "openssl verified a signature over another message"

    # And Coffer agrees with itself.
    assert dev_kms.verify(KeyId=md["KeyId"], Message=MESSAGE, Signature=signature,
                          SigningAlgorithm=algorithm)["SignatureValid"] is True
    raises("KMSInvalidSignatureException", dev_kms.verify, KeyId=md["KeyId"], Message=MESSAGE + b"!",
           Signature=signature, SigningAlgorithm=algorithm)


@pytest.mark.parametrize("spec,algorithm", [("ECC_NIST_P256", "ECDSA_SHA_256"), ("ECC_NIST_P384", "ECDSA_SHA_384"),
                                            ("RSA_2048", "RSASSA_PSS_SHA_256"), ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_512")])
def test_sign_digest_message_type(dev_kms, tmp_path, spec, algorithm):
    """MessageType DIGEST: Coffer signs a digest the caller computed; the signature is the one over
    the original message (verifiable as RAW) and over the digest (cryptography's Prehashed)."""
    key_id = dev_kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    public_der = dev_kms.get_public_key(KeyId=key_id)["PublicKey"]
    digest = hashlib.new(algorithm[-7:].replace("_", "").lower(), MESSAGE).digest()
    signature = dev_kms.sign(KeyId=key_id, Message=digest, MessageType="DIGEST", SigningAlgorithm=algorithm)["Signature"]
    verify_with_cryptography(public_der, algorithm, digest, signature, prehashed=True)
    verify_with_cryptography(public_der, algorithm, MESSAGE, signature)
    assert dev_kms.verify(KeyId=key_id, Message=MESSAGE, MessageType="RAW", Signature=signature,
                          SigningAlgorithm=algorithm)["SignatureValid"] is True
    assert dev_kms.verify(KeyId=key_id, Message=digest, MessageType="DIGEST", Signature=signature,
                          SigningAlgorithm=algorithm)["SignatureValid"] is True
    # openssl verifies a signature over a precomputed digest with pkeyutl.
    write(tmp_path, "pub.der", public_der)
    write(tmp_path, "digest.bin", digest)
    write(tmp_path, "sig.bin", signature)
    md = algorithm[-7:].replace("_", "").lower()
    opts = ["-pkeyopt", f"digest:{md}"]
    if algorithm.startswith("RSASSA_PSS_"):
        opts += ["-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:digest"]
    elif algorithm.startswith("RSASSA_PKCS1"):
        opts += ["-pkeyopt", "rsa_padding_mode:pkcs1"]
    out = openssl("pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", "pub.der", "-in", "digest.bin",
                  "-sigfile", "sig.bin", *opts, cwd=tmp_path)
    assert b"Signature Verified Successfully" in out.stdout


# ---- 2. RSA encryption: offline encrypt, Coffer decrypts; Coffer's size limits -----------------


@pytest.fixture
def rsa_encryption_key(dev_kms) -> tuple[str, str, bytes]:
    md = dev_kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    pk = dev_kms.get_public_key(KeyId=md["KeyId"])
    assert pk["EncryptionAlgorithms"] == ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
    return md["KeyId"], md["Arn"], pk["PublicKey"]


@pytest.mark.parametrize("sha", ["SHA_256", "SHA_1"])
def test_offline_oaep_decrypts_in_coffer(dev_kms, rsa_encryption_key, sha):
    key_id, arn, public_der = rsa_encryption_key
    algorithm = f"RSAES_OAEP_{sha}"
    for plaintext in (b"x", os.urandom(100), os.urandom(190 if sha == "SHA_256" else 214)):
        ct = wrap_oaep(public_der, sha, plaintext)
        assert len(ct) == 256
        out = dev_kms.decrypt(CiphertextBlob=ct, KeyId=key_id, EncryptionAlgorithm=algorithm)
        assert out["Plaintext"] == plaintext and out["KeyId"] == arn and out["EncryptionAlgorithm"] == algorithm
    # The other OAEP hash does not decrypt it.
    other = "RSAES_OAEP_SHA_1" if sha == "SHA_256" else "RSAES_OAEP_SHA_256"
    raises("InvalidCiphertextException", dev_kms.decrypt, CiphertextBlob=wrap_oaep(public_der, sha, b"abc"),
           KeyId=key_id, EncryptionAlgorithm=other)


def test_openssl_oaep_decrypts_in_coffer(dev_kms, rsa_encryption_key, tmp_path):
    key_id, _, public_der = rsa_encryption_key
    plaintext = os.urandom(64)
    write(tmp_path, "pub.der", public_der)
    write(tmp_path, "pt.bin", plaintext)
    for md, algorithm in (("sha256", "RSAES_OAEP_SHA_256"), ("sha1", "RSAES_OAEP_SHA_1")):
        openssl("pkeyutl", "-encrypt", "-pubin", "-keyform", "DER", "-inkey", "pub.der", "-in", "pt.bin",
                "-out", f"ct-{md}.bin", "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", f"rsa_oaep_md:{md}",
                "-pkeyopt", f"rsa_mgf1_md:{md}", cwd=tmp_path)
        ct = (tmp_path / f"ct-{md}.bin").read_bytes()
        assert dev_kms.decrypt(CiphertextBlob=ct, KeyId=key_id, EncryptionAlgorithm=algorithm)["Plaintext"] == plaintext


def test_coffer_rsa_encrypt_size_limits(dev_kms, rsa_encryption_key):
    key_id, _, _ = rsa_encryption_key
    for algorithm, limit in (("RSAES_OAEP_SHA_256", 190), ("RSAES_OAEP_SHA_1", 214)):
        data = os.urandom(limit)
        enc = dev_kms.encrypt(KeyId=key_id, Plaintext=data, EncryptionAlgorithm=algorithm)
        assert enc["EncryptionAlgorithm"] == algorithm and len(enc["CiphertextBlob"]) == 256
        assert dev_kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], KeyId=key_id,
                               EncryptionAlgorithm=algorithm)["Plaintext"] == data
        e = raises("ValidationException", dev_kms.encrypt, KeyId=key_id, Plaintext=os.urandom(limit + 1),
                   EncryptionAlgorithm=algorithm)
        assert message_of(e) == (f"Algorithm {algorithm} and key spec RSA_2048 cannot encrypt data larger than "
                                 f"{limit} bytes.")


# ---- 3. data key pairs -------------------------------------------------------------------------

PAIR_TYPES = {"RSA_2048": rsa.RSAPrivateKey, "ECC_NIST_P256": ec.EllipticCurvePrivateKey,
              "ECC_NIST_EDWARDS25519": ed25519.Ed25519PrivateKey}


@pytest.mark.parametrize("pair_spec", list(PAIR_TYPES))
def test_generate_data_key_pair(dev_kms, pair_spec):
    key_id = dev_kms.create_key()["KeyMetadata"]["KeyId"]
    ec_ = {"purpose": "interop", "pair": pair_spec}
    out = dev_kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec=pair_spec, EncryptionContext=ec_)
    assert out["KeyPairSpec"] == pair_spec
    private = serialization.load_der_private_key(out["PrivateKeyPlaintext"], password=None)
    assert isinstance(private, PAIR_TYPES[pair_spec])
    if pair_spec == "RSA_2048":
        assert private.key_size == 2048
    if pair_spec == "ECC_NIST_P256":
        assert isinstance(private.curve, ec.SECP256R1)
    assert spki(private.public_key()) == out["PublicKey"]
    # The private key works: sign offline, verify with the returned public key.
    pub = serialization.load_der_public_key(out["PublicKey"])
    if pair_spec == "RSA_2048":
        pub.verify(private.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256()), MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    elif pair_spec == "ECC_NIST_P256":
        pub.verify(private.sign(MESSAGE, ec.ECDSA(hashes.SHA256())), MESSAGE, ec.ECDSA(hashes.SHA256()))
    else:
        pub.verify(private.sign(MESSAGE), MESSAGE)

    dec = dev_kms.decrypt(CiphertextBlob=out["PrivateKeyCiphertextBlob"], EncryptionContext=ec_)
    assert dec["Plaintext"] == out["PrivateKeyPlaintext"]
    raises("InvalidCiphertextException", dev_kms.decrypt, CiphertextBlob=out["PrivateKeyCiphertextBlob"],
           EncryptionContext={"purpose": "other"})

    bare = dev_kms.generate_data_key_pair_without_plaintext(KeyId=key_id, KeyPairSpec=pair_spec, EncryptionContext=ec_)
    assert "PrivateKeyPlaintext" not in bare
    assert bare["PublicKey"] != out["PublicKey"], "each call makes a new pair"
    again = dev_kms.decrypt(CiphertextBlob=bare["PrivateKeyCiphertextBlob"], EncryptionContext=ec_)["Plaintext"]
    assert spki(serialization.load_der_private_key(again, password=None).public_key()) == bare["PublicKey"]


# ---- 4. HMAC -----------------------------------------------------------------------------------


def test_generate_and_verify_mac(dev_kms):
    key_id = dev_kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    mac = dev_kms.generate_mac(KeyId=key_id, Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")
    assert mac["MacAlgorithm"] == "HMAC_SHA_256" and len(mac["Mac"]) == 32
    assert dev_kms.generate_mac(KeyId=key_id, Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")["Mac"] == mac["Mac"]
    ok = dev_kms.verify_mac(KeyId=key_id, Message=MESSAGE, Mac=mac["Mac"], MacAlgorithm="HMAC_SHA_256")
    assert ok["MacValid"] is True
    raises("KMSInvalidMacException", dev_kms.verify_mac, KeyId=key_id, Message=MESSAGE + b"!", Mac=mac["Mac"],
           MacAlgorithm="HMAC_SHA_256")
    raises("KMSInvalidMacException", dev_kms.verify_mac, KeyId=key_id, Message=MESSAGE, Mac=mac["Mac"][:16],
           MacAlgorithm="HMAC_SHA_256")

    k224 = dev_kms.create_key(KeySpec="HMAC_224", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    assert len(dev_kms.generate_mac(KeyId=k224, Message=MESSAGE, MacAlgorithm="HMAC_SHA_224")["Mac"]) == 28
    e = raises("InvalidKeyUsageException", dev_kms.generate_mac, KeyId=k224, Message=MESSAGE, MacAlgorithm="HMAC_SHA_256")
    assert message_of(e) == "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224."


@pytest.mark.parametrize("spec,algorithm,key_len", [("HMAC_256", "HMAC_SHA_256", 32), ("HMAC_384", "HMAC_SHA_384", 64),
                                                    ("HMAC_512", "HMAC_SHA_512", 64), ("HMAC_224", "HMAC_SHA_224", 28)])
def test_imported_hmac_key_matches_python_hmac(dev_kms, spec, algorithm, key_len):
    """With imported HMAC material the key is known, so Coffer's MAC must equal Python's."""
    key_id = dev_kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    secret = os.urandom(key_len)
    import_material(dev_kms, key_id, secret, "RSAES_OAEP_SHA_256")
    hash_name = algorithm.replace("HMAC_", "").replace("_", "").lower()
    for message in (MESSAGE, b"\x00", os.urandom(4096)):
        expected = hmac.new(secret, message, hash_name).digest()
        assert dev_kms.generate_mac(KeyId=key_id, Message=message, MacAlgorithm=algorithm)["Mac"] == expected
        assert dev_kms.verify_mac(KeyId=key_id, Message=message, Mac=expected, MacAlgorithm=algorithm)["MacValid"]


# ---- 5. key agreement --------------------------------------------------------------------------


@pytest.mark.parametrize("spec,curve", [("ECC_NIST_P256", ec.SECP256R1), ("ECC_NIST_P384", ec.SECP384R1),
                                        ("ECC_NIST_P521", ec.SECP521R1)])
def test_derive_shared_secret_matches_cryptography(dev_kms, spec, curve):
    md = dev_kms.create_key(KeySpec=spec, KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    pk = dev_kms.get_public_key(KeyId=md["KeyId"])
    assert pk["KeyUsage"] == "KEY_AGREEMENT" and pk["KeyAgreementAlgorithms"] == ["ECDH"]
    coffer_public = serialization.load_der_public_key(pk["PublicKey"])
    assert isinstance(coffer_public.curve, curve)
    peer = ec.generate_private_key(curve())
    out = dev_kms.derive_shared_secret(KeyId=md["KeyId"], KeyAgreementAlgorithm="ECDH", PublicKey=spki(peer.public_key()))
    assert out["KeyAgreementAlgorithm"] == "ECDH" and out["KeyId"] == md["Arn"] and out["KeyOrigin"] == "AWS_KMS"
    assert out["SharedSecret"] == peer.exchange(ec.ECDH(), coffer_public)


# ---- 6. import (bring your own key) ------------------------------------------------------------


def test_import_symmetric_with_awss_openssl_recipe(dev_kms, tmp_path):
    kms = dev_kms
    md = kms.create_key(Origin="EXTERNAL", Description="BYOK via openssl")["KeyMetadata"]
    key_id, arn = md["KeyId"], md["Arn"]
    assert md["Origin"] == "EXTERNAL" and md["KeyState"] == "PendingImport"
    raises("KMSInvalidStateException", kms.encrypt, KeyId=key_id, Plaintext=b"too early")

    material = os.urandom(32)
    write(tmp_path, "PlaintextKeyMaterial.bin", material)

    def openssl_import(token_key: str = key_id) -> dict:
        params = kms.get_parameters_for_import(KeyId=token_key, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                                               WrappingKeySpec="RSA_2048")
        write(tmp_path, "WrappingPublicKey.der", params["PublicKey"])
        openssl("pkeyutl", "-encrypt", "-in", "PlaintextKeyMaterial.bin", "-out", "EncryptedKeyMaterial.bin",
                "-inkey", "WrappingPublicKey.der", "-keyform", "DER", "-pubin", "-pkeyopt", "rsa_padding_mode:oaep",
                "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256", cwd=tmp_path)
        return {"ImportToken": params["ImportToken"], "EncryptedKeyMaterial": (tmp_path / "EncryptedKeyMaterial.bin").read_bytes()}

    wrapped = openssl_import()
    out = kms.import_key_material(KeyId=key_id, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", **wrapped)
    assert out["KeyId"] == arn
    md = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert md["KeyState"] == "Enabled" and md["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    ct = kms.encrypt(KeyId=key_id, Plaintext=b"under imported material", EncryptionContext={"k": "v"})["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ct, EncryptionContext={"k": "v"})["Plaintext"] == b"under imported material"
    # A token is used once.
    raises("InvalidImportTokenException", kms.import_key_material, KeyId=key_id,
           ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", **wrapped)

    # Same material, proved by deleting it and importing it again: old ciphertexts decrypt again.
    kms.delete_imported_key_material(KeyId=key_id)
    assert state(kms, key_id) == "PendingImport"
    raises("KMSInvalidStateException", kms.decrypt, CiphertextBlob=ct, EncryptionContext={"k": "v"})
    raises("KMSInvalidStateException", kms.encrypt, KeyId=key_id, Plaintext=b"x")
    kms.import_key_material(KeyId=key_id, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", **openssl_import())
    assert state(kms, key_id) == "Enabled"
    assert kms.decrypt(CiphertextBlob=ct, EncryptionContext={"k": "v"})["Plaintext"] == b"under imported material"

    # Different material is refused.
    e = raises("IncorrectKeyMaterialException", import_material, kms=kms, key_id=key_id, material=os.urandom(32))
    assert "not the same key material" in message_of(e)
    # Material of the wrong size for a symmetric key is refused too.
    raises("IncorrectKeyMaterialException", import_material, kms=kms, key_id=key_id, material=os.urandom(16))
    assert kms.decrypt(CiphertextBlob=ct, EncryptionContext={"k": "v"})["Plaintext"] == b"under imported material"


def test_import_token_errors(dev_kms):
    kms = dev_kms
    a = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    b = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    material = os.urandom(32)
    pa = kms.get_parameters_for_import(KeyId=a, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    kms.get_parameters_for_import(KeyId=b, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    # A's token (and material wrapped for A's wrapping key) presented for B.
    raises("InvalidImportTokenException", kms.import_key_material, KeyId=b, ImportToken=pa["ImportToken"],
           EncryptedKeyMaterial=wrap_oaep(pa["PublicKey"], "SHA_256", material),
           ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    e = raises("ValidationException", kms.import_key_material, KeyId=a, ImportToken=pa["ImportToken"],
               EncryptedKeyMaterial=wrap_oaep(pa["PublicKey"], "SHA_256", material),
               ExpirationModel="KEY_MATERIAL_EXPIRES")
    assert message_of(e) == "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"
    # Material wrapped for another wrapping key does not unwrap.
    pb = kms.get_parameters_for_import(KeyId=b, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    raises("InvalidCiphertextException", kms.import_key_material, KeyId=b, ImportToken=pb["ImportToken"],
           EncryptedKeyMaterial=wrap_oaep(pa["PublicKey"], "SHA_256", material),
           ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    # A's token still works for A after all that.
    kms.import_key_material(KeyId=a, ImportToken=pa["ImportToken"],
                            EncryptedKeyMaterial=wrap_oaep(pa["PublicKey"], "SHA_256", material),
                            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert state(kms, a) == "Enabled" and state(kms, b) == "PendingImport"


@pytest.mark.parametrize("wrapping_spec", ["RSA_2048", "RSA_3072"])
def test_import_rsa_private_key_with_rsa_aes_key_wrap(dev_kms, wrapping_spec):
    """RSA_AES_KEY_WRAP_SHA_256 with `cryptography`: an RSA_2048 SIGN_VERIFY private key generated
    here; Coffer's signatures verify with the public key we generated."""
    kms = dev_kms
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_id = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    import_material(kms, key_id, pkcs8(private), "RSA_AES_KEY_WRAP_SHA_256", wrapping_spec)
    ours = spki(private.public_key())
    assert kms.get_public_key(KeyId=key_id)["PublicKey"] == ours
    for algorithm in ("RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_512", "RSASSA_PKCS1_V1_5_SHA_256"):
        sig = kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm=algorithm)["Signature"]
        verify_with_cryptography(ours, algorithm, MESSAGE, sig)
    # Plain OAEP cannot carry an RSA private key: too large for one RSA block.
    other = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    with pytest.raises(ValueError):
        import_material(kms, other, pkcs8(private), "RSAES_OAEP_SHA_256")
    # An RSA key of another size does not fit an RSA_2048 key.
    raises("IncorrectKeyMaterialException", import_material, kms=kms, key_id=other,
           material=pkcs8(rsa.generate_private_key(public_exponent=65537, key_size=3072)),
           algorithm="RSA_AES_KEY_WRAP_SHA_256")


def test_imported_rsa_key_decrypts_ciphertexts_made_elsewhere(dev_kms):
    """An RSA key pair that lived elsewhere first: ciphertexts made with its public key before
    the import (by `cryptography`, OAEP SHA-256 and SHA-1) decrypt in Coffer afterwards, and
    Coffer's ciphertexts decrypt with the original private key."""
    kms = dev_kms
    private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    earlier = {
        sha: private.public_key().encrypt(
            b"made before the import " + sha.encode(),
            padding.OAEP(mgf=padding.MGF1(h()), algorithm=h(), label=None))
        for sha, h in (("SHA_256", hashes.SHA256), ("SHA_1", hashes.SHA1))
    }
    key_id = kms.create_key(KeySpec="RSA_3072", KeyUsage="ENCRYPT_DECRYPT", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    import_material(kms, key_id, pkcs8(private), "RSA_AES_KEY_WRAP_SHA_256")
    for sha, ct in earlier.items():
        out = kms.decrypt(KeyId=key_id, CiphertextBlob=ct, EncryptionAlgorithm=f"RSAES_OAEP_{sha}")
        assert out["Plaintext"] == b"made before the import " + sha.encode()
    ours = kms.encrypt(KeyId=key_id, Plaintext=b"from coffer", EncryptionAlgorithm="RSAES_OAEP_SHA_256")["CiphertextBlob"]
    assert private.decrypt(ours, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)) == b"from coffer"


def test_import_ecc_private_key_with_rsa_aes_key_wrap_sha1(dev_kms):
    kms = dev_kms
    private = ec.generate_private_key(ec.SECP256R1())
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    import_material(kms, key_id, pkcs8(private), "RSA_AES_KEY_WRAP_SHA_1")
    ours = spki(private.public_key())
    assert kms.get_public_key(KeyId=key_id)["PublicKey"] == ours
    sig = kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    verify_with_cryptography(ours, "ECDSA_SHA_256", MESSAGE, sig)
    # Signatures made offline with the same key verify in Coffer.
    offline = private.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
    assert kms.verify(KeyId=key_id, Message=MESSAGE, Signature=offline, SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"]
    # A P-384 key does not fit a P-256 key.
    other = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    raises("IncorrectKeyMaterialException", import_material, kms=kms, key_id=other,
           material=pkcs8(ec.generate_private_key(ec.SECP384R1())), algorithm="RSA_AES_KEY_WRAP_SHA_1")


def test_import_with_openssl_aes_key_wrap_pad(dev_kms, tmp_path):
    """AWS's documented RSA_AES_KEY_WRAP recipe, all in openssl: `openssl enc -id-aes256-wrap-pad`
    (RFC 5649 IV A65959A6) for the material and `pkeyutl` OAEP SHA-256 for the AES key. The
    material is an ECC_SECG_P256K1 private key made by openssl itself."""
    kms = dev_kms
    key_id = kms.create_key(KeySpec="ECC_SECG_P256K1", KeyUsage="SIGN_VERIFY", Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1", "-outform", "DER",
            "-out", "PrivateKey.der", cwd=tmp_path)
    private = serialization.load_der_private_key((tmp_path / "PrivateKey.der").read_bytes(), password=None)
    openssl("pkcs8", "-topk8", "-nocrypt", "-inform", "DER", "-in", "PrivateKey.der", "-outform", "DER",
            "-out", "PrivateKey.p8.der", cwd=tmp_path)
    params = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256",
                                           WrappingKeySpec="RSA_2048")
    write(tmp_path, "WrappingPublicKey.der", params["PublicKey"])
    aes = os.urandom(32)
    write(tmp_path, "aes-key.bin", aes)
    openssl("enc", "-id-aes256-wrap-pad", "-K", aes.hex(), "-iv", "A65959A6", "-in", "PrivateKey.p8.der",
            "-out", "key-material-wrapped.bin", cwd=tmp_path)
    openssl("pkeyutl", "-encrypt", "-in", "aes-key.bin", "-out", "aes-key-wrapped.bin", "-inkey",
            "WrappingPublicKey.der", "-keyform", "DER", "-pubin", "-pkeyopt", "rsa_padding_mode:oaep",
            "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256", cwd=tmp_path)
    wrapped = (tmp_path / "aes-key-wrapped.bin").read_bytes() + (tmp_path / "key-material-wrapped.bin").read_bytes()
    kms.import_key_material(KeyId=key_id, ImportToken=params["ImportToken"], EncryptedKeyMaterial=wrapped,
                            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert kms.get_public_key(KeyId=key_id)["PublicKey"] == spki(private.public_key())
    sig = kms.sign(KeyId=key_id, Message=MESSAGE, SigningAlgorithm="ECDSA_SHA_256")["Signature"]
    private.public_key().verify(sig, MESSAGE, ec.ECDSA(hashes.SHA256()))


def test_imported_material_expires_on_the_dev_clock(dev, dev_kms):
    kms = dev_kms
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    material = os.urandom(32)
    server_now = time.time() + dev.advance_clock(0)["offset_seconds"]  # other tests move this clock too
    valid_to = int(server_now) + 2 * DAY
    import_material(kms, key_id, material, ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    md = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert md["KeyState"] == "Enabled" and md["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    assert int(md["ValidTo"].timestamp()) == valid_to
    ct = kms.encrypt(KeyId=key_id, Plaintext=b"short-lived")["CiphertextBlob"]

    report = dev.advance_clock(3 * DAY)
    assert report["expired_materials"] >= 1, report
    assert state(kms, key_id) == "PendingImport"
    raises("KMSInvalidStateException", kms.encrypt, KeyId=key_id, Plaintext=b"x")
    raises("KMSInvalidStateException", kms.decrypt, CiphertextBlob=ct)

    # Re-importing the same material (fresh token, now without expiry) brings the key back.
    import_material(kms, key_id, material)
    assert state(kms, key_id) == "Enabled"
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"short-lived"


# ---- 7. AWS's errors for misuse ----------------------------------------------------------------


def test_asymmetric_misuse_errors(dev_kms):
    kms = dev_kms
    e = raises("ValidationException", kms.create_key, KeySpec="RSA_2048", KeyUsage="KEY_AGREEMENT")
    assert message_of(e) == "KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048"
    e = raises("ValidationException", kms.create_key, KeySpec="HMAC_256")
    assert message_of(e) == "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."

    p256 = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    e = raises("ValidationException", kms.sign, KeyId=p256["KeyId"], Message=os.urandom(31), MessageType="DIGEST",
               SigningAlgorithm="ECDSA_SHA_256")
    assert message_of(e) == "Digest is invalid length for algorithm ECDSA_SHA_256."
    e = raises("InvalidKeyUsageException", kms.encrypt, KeyId=p256["KeyId"], Plaintext=b"x")
    assert message_of(e) == f"{p256['Arn']} key usage is SIGN_VERIFY which is not valid for Encrypt."

    symmetric = kms.create_key()["KeyMetadata"]
    raises("UnsupportedOperationException", kms.get_public_key, KeyId=symmetric["KeyId"])
    raises("UnsupportedOperationException", kms.rotate_key_on_demand, KeyId=p256["KeyId"])
    e = raises("UnsupportedOperationException", kms.get_parameters_for_import, KeyId=symmetric["KeyId"],
               WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    assert message_of(e) == f"{symmetric['Arn']} origin is AWS_KMS which is not valid for this operation."
