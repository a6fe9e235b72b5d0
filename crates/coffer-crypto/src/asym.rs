//! Asymmetric keys (RSA, ECC, Ed25519, ML-DSA) and HMAC keys for KMS, on aws-lc-rs.
//!
//! Private keys are kept as PKCS#8 DER at rest (sealed) and as aws-lc-rs key objects in memory;
//! they never leave this module as bytes except as the PKCS#8 of a generated *data key pair*,
//! which the caller returns to its client. Signatures follow KMS: ECDSA signatures are
//! DER-encoded, RSA uses PSS (salt length = digest length) or PKCS#1 v1.5, Ed25519 is pure
//! EdDSA, ML-DSA is FIPS 204. `DIGEST` message types sign a digest the caller computed; its
//! length must be the algorithm's digest length.

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, PqdsaKeyPair, RsaKeyPair, UnparsedPublicKey};
use aws_lc_rs::{agreement, digest, hmac};

use crate::CryptoError;
use crate::secret::SecretBytes;

/// The asymmetric and HMAC key specs Coffer supports (KMS names in [`Spec::name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spec {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    P256,
    P384,
    P521,
    Secp256k1,
    Ed25519,
    MlDsa44,
    MlDsa65,
    MlDsa87,
    Hmac224,
    Hmac256,
    Hmac384,
    Hmac512,
}

impl Spec {
    pub fn parse(name: &str) -> Option<Spec> {
        Some(match name {
            "RSA_2048" => Spec::Rsa2048,
            "RSA_3072" => Spec::Rsa3072,
            "RSA_4096" => Spec::Rsa4096,
            "ECC_NIST_P256" => Spec::P256,
            "ECC_NIST_P384" => Spec::P384,
            "ECC_NIST_P521" => Spec::P521,
            "ECC_SECG_P256K1" => Spec::Secp256k1,
            "ECC_NIST_EDWARDS25519" => Spec::Ed25519,
            "ML_DSA_44" => Spec::MlDsa44,
            "ML_DSA_65" => Spec::MlDsa65,
            "ML_DSA_87" => Spec::MlDsa87,
            "HMAC_224" => Spec::Hmac224,
            "HMAC_256" => Spec::Hmac256,
            "HMAC_384" => Spec::Hmac384,
            "HMAC_512" => Spec::Hmac512,
            _ => return None,
        })
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, Spec::Rsa2048 | Spec::Rsa3072 | Spec::Rsa4096)
    }

    pub fn is_hmac(self) -> bool {
        matches!(self, Spec::Hmac224 | Spec::Hmac256 | Spec::Hmac384 | Spec::Hmac512)
    }

    pub fn is_nist_ec(self) -> bool {
        matches!(self, Spec::P256 | Spec::P384 | Spec::P521)
    }

    pub fn rsa_bytes(self) -> usize {
        match self {
            Spec::Rsa2048 => 256,
            Spec::Rsa3072 => 384,
            Spec::Rsa4096 => 512,
            _ => 0,
        }
    }

    /// KMS signing algorithms of this spec (in AWS's order).
    pub fn signing_algorithms(self) -> &'static [&'static str] {
        match self {
            Spec::Rsa2048 | Spec::Rsa3072 | Spec::Rsa4096 => &[
                "RSASSA_PSS_SHA_256",
                "RSASSA_PSS_SHA_384",
                "RSASSA_PSS_SHA_512",
                "RSASSA_PKCS1_V1_5_SHA_256",
                "RSASSA_PKCS1_V1_5_SHA_384",
                "RSASSA_PKCS1_V1_5_SHA_512",
            ],
            Spec::P256 | Spec::Secp256k1 => &["ECDSA_SHA_256"],
            Spec::P384 => &["ECDSA_SHA_384"],
            Spec::P521 => &["ECDSA_SHA_512"],
            Spec::Ed25519 => &["ED25519_SHA_512"],
            Spec::MlDsa44 | Spec::MlDsa65 | Spec::MlDsa87 => &["ML_DSA_SHAKE_256"],
            _ => &[],
        }
    }

    /// KMS MAC algorithm of an HMAC spec.
    pub fn mac_algorithm(self) -> Option<&'static str> {
        match self {
            Spec::Hmac224 => Some("HMAC_SHA_224"),
            Spec::Hmac256 => Some("HMAC_SHA_256"),
            Spec::Hmac384 => Some("HMAC_SHA_384"),
            Spec::Hmac512 => Some("HMAC_SHA_512"),
            _ => None,
        }
    }

    /// Generated HMAC key length, and the lengths accepted for imported HMAC material.
    pub fn hmac_lengths(self) -> Option<(usize, std::ops::RangeInclusive<usize>)> {
        match self {
            Spec::Hmac224 => Some((28, 28..=64)),
            Spec::Hmac256 => Some((32, 32..=64)),
            Spec::Hmac384 => Some((48, 48..=128)),
            Spec::Hmac512 => Some((64, 64..=128)),
            _ => None,
        }
    }

    fn ecdsa_signing(self) -> Option<&'static signature::EcdsaSigningAlgorithm> {
        match self {
            Spec::P256 => Some(&signature::ECDSA_P256_SHA256_ASN1_SIGNING),
            Spec::P384 => Some(&signature::ECDSA_P384_SHA384_ASN1_SIGNING),
            Spec::P521 => Some(&signature::ECDSA_P521_SHA512_ASN1_SIGNING),
            Spec::Secp256k1 => Some(&signature::ECDSA_P256K1_SHA256_ASN1_SIGNING),
            _ => None,
        }
    }

    fn ecdh(self) -> Option<&'static agreement::Algorithm> {
        match self {
            Spec::P256 => Some(&agreement::ECDH_P256),
            Spec::P384 => Some(&agreement::ECDH_P384),
            Spec::P521 => Some(&agreement::ECDH_P521),
            _ => None,
        }
    }

    fn ml_dsa(self) -> Option<&'static signature::PqdsaSigningAlgorithm> {
        match self {
            Spec::MlDsa44 => Some(&signature::ML_DSA_44_SIGNING),
            Spec::MlDsa65 => Some(&signature::ML_DSA_65_SIGNING),
            Spec::MlDsa87 => Some(&signature::ML_DSA_87_SIGNING),
            _ => None,
        }
    }
}

/// Generates key material: PKCS#8 DER for asymmetric specs, random bytes for HMAC.
pub fn generate(spec: Spec) -> Result<SecretBytes, CryptoError> {
    if let Some((len, _)) = spec.hmac_lengths() {
        return Ok(SecretBytes::random(len));
    }
    let der: Vec<u8> = match spec {
        Spec::Rsa2048 | Spec::Rsa3072 | Spec::Rsa4096 => {
            let size = match spec {
                Spec::Rsa2048 => KeySize::Rsa2048,
                Spec::Rsa3072 => KeySize::Rsa3072,
                _ => KeySize::Rsa4096,
            };
            let kp = RsaKeyPair::generate(size).map_err(|_| CryptoError)?;
            AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&kp).map_err(|_| CryptoError)?.as_ref().to_vec()
        }
        Spec::Ed25519 => Ed25519KeyPair::generate().map_err(|_| CryptoError)?.to_pkcs8v1().map_err(|_| CryptoError)?.as_ref().to_vec(),
        s if s.ml_dsa().is_some() => {
            PqdsaKeyPair::generate(s.ml_dsa().expect("checked")).map_err(|_| CryptoError)?.to_pkcs8v1().map_err(|_| CryptoError)?.as_ref().to_vec()
        }
        s => {
            let alg = s.ecdsa_signing().ok_or(CryptoError)?;
            EcdsaKeyPair::generate(alg).map_err(|_| CryptoError)?.to_pkcs8v1().map_err(|_| CryptoError)?.as_ref().to_vec()
        }
    };
    Ok(SecretBytes::new(der))
}

enum Inner {
    Rsa { sign: RsaKeyPair, decrypt: OaepPrivateDecryptingKey },
    Ecdsa(EcdsaKeyPair),
    Ecdh(agreement::PrivateKey),
    Ed25519(Ed25519KeyPair),
    MlDsa(PqdsaKeyPair),
    Hmac(Vec<hmac::Key>),
}

/// A KMS key's private (or HMAC) material, ready to use. No `Debug`.
pub struct AsymKey {
    spec: Spec,
    inner: Inner,
    /// SubjectPublicKeyInfo DER (empty for HMAC).
    spki: Vec<u8>,
}

fn spki_of<T: AsDer<PublicKeyX509Der<'static>>>(k: &T) -> Result<Vec<u8>, CryptoError> {
    Ok(k.as_der().map_err(|_| CryptoError)?.as_ref().to_vec())
}

fn hmac_alg(spec: Spec) -> hmac::Algorithm {
    match spec {
        Spec::Hmac224 => hmac::HMAC_SHA224,
        Spec::Hmac384 => hmac::HMAC_SHA384,
        Spec::Hmac512 => hmac::HMAC_SHA512,
        _ => hmac::HMAC_SHA256,
    }
}

impl AsymKey {
    /// Loads material of `spec`. `agreement` selects ECDH (KEY_AGREEMENT keys) over ECDSA.
    pub fn from_material(spec: Spec, agreement: bool, material: &[u8]) -> Result<AsymKey, CryptoError> {
        let (inner, spki) = match spec {
            s if s.is_hmac() => {
                let (_, range) = s.hmac_lengths().expect("hmac");
                if !range.contains(&material.len()) {
                    return Err(CryptoError);
                }
                (Inner::Hmac(vec![hmac::Key::new(hmac_alg(s), material)]), Vec::new())
            }
            s if s.is_rsa() => {
                let sign = RsaKeyPair::from_pkcs8(material).map_err(|_| CryptoError)?;
                if sign.public_modulus_len() != s.rsa_bytes() {
                    return Err(CryptoError);
                }
                let dec = PrivateDecryptingKey::from_pkcs8(material).map_err(|_| CryptoError)?;
                let spki = spki_of(&dec.public_key())?;
                (Inner::Rsa { sign, decrypt: OaepPrivateDecryptingKey::new(dec).map_err(|_| CryptoError)? }, spki)
            }
            Spec::Ed25519 => {
                let kp = Ed25519KeyPair::from_pkcs8(material).map_err(|_| CryptoError)?;
                let spki = spki_of(kp.public_key())?;
                (Inner::Ed25519(kp), spki)
            }
            s if s.ml_dsa().is_some() => {
                let kp = PqdsaKeyPair::from_pkcs8(s.ml_dsa().expect("checked"), material).map_err(|_| CryptoError)?;
                let spki = spki_of(kp.public_key())?;
                (Inner::MlDsa(kp), spki)
            }
            s if agreement => {
                let alg = s.ecdh().ok_or(CryptoError)?;
                let pk = agreement::PrivateKey::from_private_key_der(alg, material).map_err(|_| CryptoError)?;
                let spki = spki_of(&pk.compute_public_key().map_err(|_| CryptoError)?)?;
                (Inner::Ecdh(pk), spki)
            }
            s => {
                let alg = s.ecdsa_signing().ok_or(CryptoError)?;
                let kp = EcdsaKeyPair::from_pkcs8(alg, material).map_err(|_| CryptoError)?;
                let spki = spki_of(kp.public_key())?;
                (Inner::Ecdsa(kp), spki)
            }
        };
        Ok(AsymKey { spec, inner, spki })
    }

    pub fn spec(&self) -> Spec {
        self.spec
    }

    /// The public key as SubjectPublicKeyInfo DER.
    pub fn public_key_der(&self) -> &[u8] {
        &self.spki
    }

    /// Signs `message` (or, with `digest`, the caller's digest) with a KMS signing algorithm.
    pub fn sign(&self, algorithm: &str, message: &[u8], is_digest: bool) -> Result<Vec<u8>, SignError> {
        let hash = digest_for(algorithm).ok_or(SignError::Algorithm)?;
        match &self.inner {
            Inner::Rsa { sign, .. } => {
                let enc = rsa_encoding(algorithm).ok_or(SignError::Algorithm)?;
                let mut sig = vec![0u8; sign.public_modulus_len()];
                if is_digest {
                    let d = import_digest(message, hash)?;
                    sign.sign_digest(enc, &d, &mut sig).map_err(|_| SignError::Failed)?;
                } else {
                    sign.sign(enc, &aws_lc_rs::rand::SystemRandom::new(), message, &mut sig).map_err(|_| SignError::Failed)?;
                }
                Ok(sig)
            }
            Inner::Ecdsa(kp) => {
                let sig = if is_digest {
                    kp.sign_digest(&import_digest(message, hash)?).map_err(|_| SignError::Failed)?
                } else {
                    kp.sign(&aws_lc_rs::rand::SystemRandom::new(), message).map_err(|_| SignError::Failed)?
                };
                Ok(sig.as_ref().to_vec())
            }
            Inner::Ed25519(kp) => {
                if is_digest {
                    return Err(SignError::MessageType);
                }
                Ok(kp.sign(message).as_ref().to_vec())
            }
            Inner::MlDsa(kp) => {
                if is_digest {
                    return Err(SignError::MessageType);
                }
                let mut sig = vec![0u8; kp.algorithm().signature_len()];
                let n = kp.sign(message, &mut sig).map_err(|_| SignError::Failed)?;
                sig.truncate(n);
                Ok(sig)
            }
            Inner::Ecdh(_) | Inner::Hmac(_) => Err(SignError::Algorithm),
        }
    }

    /// Verifies a signature with this key's public key.
    pub fn verify(&self, algorithm: &str, message: &[u8], is_digest: bool, sig: &[u8]) -> Result<bool, SignError> {
        let hash = digest_for(algorithm).ok_or(SignError::Algorithm)?;
        let ok = match &self.inner {
            Inner::Rsa { sign, .. } => {
                let params = rsa_params(algorithm).ok_or(SignError::Algorithm)?;
                let pk = UnparsedPublicKey::new(params, sign.public_key().as_ref());
                if is_digest { pk.verify_digest(&import_digest(message, hash)?, sig).is_ok() } else { pk.verify(message, sig).is_ok() }
            }
            Inner::Ecdsa(kp) => {
                let alg = ecdsa_verify(self.spec).ok_or(SignError::Algorithm)?;
                let pk = UnparsedPublicKey::new(alg, kp.public_key().as_ref());
                if is_digest { pk.verify_digest(&import_digest(message, hash)?, sig).is_ok() } else { pk.verify(message, sig).is_ok() }
            }
            Inner::Ed25519(kp) => {
                if is_digest {
                    return Err(SignError::MessageType);
                }
                UnparsedPublicKey::new(&signature::ED25519, kp.public_key().as_ref()).verify(message, sig).is_ok()
            }
            Inner::MlDsa(kp) => {
                if is_digest {
                    return Err(SignError::MessageType);
                }
                let alg = match self.spec {
                    Spec::MlDsa44 => &signature::ML_DSA_44,
                    Spec::MlDsa65 => &signature::ML_DSA_65,
                    _ => &signature::ML_DSA_87,
                };
                UnparsedPublicKey::new(alg, kp.public_key().as_ref()).verify(message, sig).is_ok()
            }
            Inner::Ecdh(_) | Inner::Hmac(_) => return Err(SignError::Algorithm),
        };
        Ok(ok)
    }

    /// RSA-OAEP decryption (RSAES_OAEP_SHA_1 / RSAES_OAEP_SHA_256).
    pub fn decrypt(&self, algorithm: &str, ciphertext: &[u8]) -> Result<SecretBytes, CryptoError> {
        let Inner::Rsa { decrypt, .. } = &self.inner else { return Err(CryptoError) };
        let alg = oaep(algorithm).ok_or(CryptoError)?;
        let mut out = zeroize::Zeroizing::new(vec![0u8; decrypt.min_output_size()]);
        let n = decrypt.decrypt(alg, ciphertext, &mut out, None).map_err(|_| CryptoError)?.len();
        out.truncate(n);
        Ok(SecretBytes::new(out.to_vec()))
    }

    /// ECDH with a peer's SubjectPublicKeyInfo DER: the raw shared secret.
    pub fn agree(&self, peer_spki: &[u8]) -> Result<SecretBytes, CryptoError> {
        let Inner::Ecdh(pk) = &self.inner else { return Err(CryptoError) };
        let peer = agreement::UnparsedPublicKey::new(pk.algorithm(), peer_spki);
        agreement::agree(pk, peer, CryptoError, |secret| Ok(SecretBytes::new(secret.to_vec())))
    }

    /// HMAC of `message` (the key's own MAC algorithm).
    pub fn mac(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let Inner::Hmac(keys) = &self.inner else { return Err(CryptoError) };
        Ok(hmac::sign(&keys[0], message).as_ref().to_vec())
    }
}

/// Verifies `signature` over `message` with a public key given as SubjectPublicKeyInfo DER, for a
/// key of `spec` and one of its KMS signing algorithms (the same mapping [`AsymKey::verify`] uses).
/// Anything that does not fit — an algorithm of another spec, an RSA modulus of another size, a
/// key on another curve, an unparsable key — is simply "not verified". RSA, ECDSA and Ed25519
/// only.
pub fn verify_public(spki_der: &[u8], spec: Spec, algorithm: &str, message: &[u8], signature: &[u8]) -> bool {
    if !spec.signing_algorithms().contains(&algorithm) {
        return false;
    }
    let alg: &'static dyn signature::VerificationAlgorithm = match spec {
        s if s.is_rsa() => {
            match PublicEncryptingKey::from_der(spki_der) {
                Ok(pk) if pk.key_size_bytes() == s.rsa_bytes() => {}
                _ => return false,
            }
            match rsa_params(algorithm) {
                Some(p) => p,
                None => return false,
            }
        }
        Spec::Ed25519 => &signature::ED25519,
        s => match ecdsa_verify(s) {
            Some(a) => a,
            None => return false,
        },
    };
    UnparsedPublicKey::new(alg, spki_der).verify(message, signature).is_ok()
}

/// Why a signature operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignError {
    /// The algorithm does not belong to the key.
    Algorithm,
    /// The digest has the wrong length for the algorithm.
    DigestLength,
    /// The key cannot sign a caller-computed digest.
    MessageType,
    Failed,
}

fn import_digest(d: &[u8], alg: &'static digest::Algorithm) -> Result<digest::Digest, SignError> {
    digest::Digest::import_less_safe(d, alg).map_err(|_| SignError::DigestLength)
}

/// The digest an algorithm signs over (and the DIGEST length it expects).
pub fn digest_for(algorithm: &str) -> Option<&'static digest::Algorithm> {
    Some(match algorithm {
        "RSASSA_PSS_SHA_256" | "RSASSA_PKCS1_V1_5_SHA_256" | "ECDSA_SHA_256" => &digest::SHA256,
        "RSASSA_PSS_SHA_384" | "RSASSA_PKCS1_V1_5_SHA_384" | "ECDSA_SHA_384" => &digest::SHA384,
        "RSASSA_PSS_SHA_512" | "RSASSA_PKCS1_V1_5_SHA_512" | "ECDSA_SHA_512" | "ED25519_SHA_512" => &digest::SHA512,
        "ML_DSA_SHAKE_256" => &digest::SHA512,
        _ => return None,
    })
}

fn rsa_encoding(a: &str) -> Option<&'static dyn signature::RsaEncoding> {
    Some(match a {
        "RSASSA_PSS_SHA_256" => &signature::RSA_PSS_SHA256,
        "RSASSA_PSS_SHA_384" => &signature::RSA_PSS_SHA384,
        "RSASSA_PSS_SHA_512" => &signature::RSA_PSS_SHA512,
        "RSASSA_PKCS1_V1_5_SHA_256" => &signature::RSA_PKCS1_SHA256,
        "RSASSA_PKCS1_V1_5_SHA_384" => &signature::RSA_PKCS1_SHA384,
        "RSASSA_PKCS1_V1_5_SHA_512" => &signature::RSA_PKCS1_SHA512,
        _ => return None,
    })
}

fn rsa_params(a: &str) -> Option<&'static signature::RsaParameters> {
    Some(match a {
        "RSASSA_PSS_SHA_256" => &signature::RSA_PSS_2048_8192_SHA256,
        "RSASSA_PSS_SHA_384" => &signature::RSA_PSS_2048_8192_SHA384,
        "RSASSA_PSS_SHA_512" => &signature::RSA_PSS_2048_8192_SHA512,
        "RSASSA_PKCS1_V1_5_SHA_256" => &signature::RSA_PKCS1_2048_8192_SHA256,
        "RSASSA_PKCS1_V1_5_SHA_384" => &signature::RSA_PKCS1_2048_8192_SHA384,
        "RSASSA_PKCS1_V1_5_SHA_512" => &signature::RSA_PKCS1_2048_8192_SHA512,
        _ => return None,
    })
}

fn ecdsa_verify(spec: Spec) -> Option<&'static signature::EcdsaVerificationAlgorithm> {
    Some(match spec {
        Spec::P256 => &signature::ECDSA_P256_SHA256_ASN1,
        Spec::P384 => &signature::ECDSA_P384_SHA384_ASN1,
        Spec::P521 => &signature::ECDSA_P521_SHA512_ASN1,
        Spec::Secp256k1 => &signature::ECDSA_P256K1_SHA256_ASN1,
        _ => return None,
    })
}

fn oaep(a: &str) -> Option<&'static OaepAlgorithm> {
    match a {
        "RSAES_OAEP_SHA_1" => Some(&OAEP_SHA1_MGF1SHA1),
        "RSAES_OAEP_SHA_256" => Some(&OAEP_SHA256_MGF1SHA256),
        _ => None,
    }
}

/// The largest plaintext RSA-OAEP takes for a modulus of `bytes` (AWS's limits: 214/342/470
/// bytes with SHA-1, 190/318/446 with SHA-256).
pub fn oaep_max_plaintext(modulus_bytes: usize, algorithm: &str) -> usize {
    let h = if algorithm == "RSAES_OAEP_SHA_1" { 20 } else { 32 };
    modulus_bytes.saturating_sub(2 * h + 2)
}

/// RSA-OAEP encryption with a public key (SubjectPublicKeyInfo DER).
pub fn rsa_encrypt(spki: &[u8], algorithm: &str, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let alg = oaep(algorithm).ok_or(CryptoError)?;
    let pk = OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(spki).map_err(|_| CryptoError)?).map_err(|_| CryptoError)?;
    let mut out = vec![0u8; pk.ciphertext_size()];
    let n = pk.encrypt(alg, plaintext, &mut out, None).map_err(|_| CryptoError)?.len();
    out.truncate(n);
    Ok(out)
}

/// The PKCS#8 DER private key of a data key pair (`spec` must be asymmetric) and its public key.
pub fn generate_pair(spec: Spec) -> Result<(SecretBytes, Vec<u8>), CryptoError> {
    let der = generate(spec)?;
    let key = AsymKey::from_material(spec, false, der.expose())?;
    let spki = key.public_key_der().to_vec();
    Ok((der, spki))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_generates_signs_and_verifies() {
        for name in ["RSA_2048", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519", "ML_DSA_44"] {
            let spec = Spec::parse(name).unwrap();
            let m = generate(spec).unwrap();
            let k = AsymKey::from_material(spec, false, m.expose()).unwrap();
            assert!(!k.public_key_der().is_empty());
            for alg in spec.signing_algorithms() {
                let sig = k.sign(alg, b"message", false).unwrap();
                assert!(k.verify(alg, b"message", false, &sig).unwrap(), "{name} {alg}");
                assert!(!k.verify(alg, b"messagE", false, &sig).unwrap(), "{name} {alg}");
                if !matches!(spec, Spec::Ed25519 | Spec::MlDsa44) {
                    let d = digest::digest(digest_for(alg).unwrap(), b"message");
                    let sig2 = k.sign(alg, d.as_ref(), true).unwrap();
                    assert!(k.verify(alg, b"message", false, &sig2).unwrap(), "{name} {alg} digest");
                    assert_eq!(k.sign(alg, &d.as_ref()[1..], true).unwrap_err(), SignError::DigestLength);
                }
            }
        }
    }

    #[test]
    fn rsa_oaep_round_trip_and_limits() {
        let m = generate(Spec::Rsa2048).unwrap();
        let k = AsymKey::from_material(Spec::Rsa2048, false, m.expose()).unwrap();
        for alg in ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"] {
            let max = oaep_max_plaintext(256, alg);
            assert_eq!(max, if alg == "RSAES_OAEP_SHA_1" { 214 } else { 190 });
            let ct = rsa_encrypt(k.public_key_der(), alg, &vec![7u8; max]).unwrap();
            assert_eq!(k.decrypt(alg, &ct).unwrap().expose(), &vec![7u8; max][..]);
            assert!(rsa_encrypt(k.public_key_der(), alg, &vec![7u8; max + 1]).is_err());
        }
    }

    #[test]
    fn ecdh_agrees_with_a_peer() {
        let a = generate(Spec::P256).unwrap();
        let b = generate(Spec::P256).unwrap();
        let ka = AsymKey::from_material(Spec::P256, true, a.expose()).unwrap();
        let kb = AsymKey::from_material(Spec::P256, true, b.expose()).unwrap();
        let s1 = ka.agree(kb.public_key_der()).unwrap();
        let s2 = kb.agree(ka.public_key_der()).unwrap();
        assert_eq!(s1.expose(), s2.expose());
        assert_eq!(s1.len(), 32);
    }

    #[test]
    fn hmac_lengths() {
        let k = AsymKey::from_material(Spec::Hmac256, false, &[1u8; 32]).unwrap();
        assert_eq!(k.mac(b"x").unwrap().len(), 32);
        assert!(AsymKey::from_material(Spec::Hmac256, false, &[1u8; 16]).is_err());
        assert_eq!(generate(Spec::Hmac384).unwrap().len(), 48);
    }
}
