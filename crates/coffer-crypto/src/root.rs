//! The root key and sealing.
//!
//! Everything secret that Coffer persists — KMS key material, access-key secrets — is sealed with
//! AES-256-GCM under one root key before it reaches the store, so the database alone reveals no
//! secret. Each sealed value is bound (as associated data) to a *purpose* string naming the
//! record it belongs to, so a sealed value copied onto another record does not open.
//!
//! Sealed format (docs/formats.md): `0x01 || nonce(12) || ciphertext || tag(16)`, associated
//! data `"coffer-seal-v1\0" || purpose`.

use crate::CryptoError;
use crate::secret::{AES_256_KEY_LEN, SecretBytes, SymmetricKey};

const SEAL_VERSION: u8 = 1;
const AAD_PREFIX: &[u8] = b"coffer-seal-v1\0";

/// Why a sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealError {
    /// Not something this version of Coffer sealed.
    UnknownFormat,
    /// Wrong root key, wrong purpose, or tampered bytes (indistinguishable by design).
    Unauthentic,
}

impl std::fmt::Display for SealError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SealError::UnknownFormat => f.write_str("sealed value has an unknown format"),
            SealError::Unauthentic => f.write_str("sealed value does not open with this root key"),
        }
    }
}
impl std::error::Error for SealError {}

/// The root of trust. Holds only aws-lc-rs key objects, never the raw bytes.
pub struct RootKey {
    key: SymmetricKey,
    /// HMAC key derived from the root key, for keyed fingerprints of secrets.
    fingerprint: crate::digest::HmacKey,
}

impl RootKey {
    /// A fresh random root key and its raw bytes (for the caller to persist once).
    pub fn generate() -> (RootKey, SecretBytes) {
        let raw = SecretBytes::random(AES_256_KEY_LEN);
        let key = RootKey::from_bytes(raw.expose()).expect("32 random bytes are a valid key");
        (key, raw)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<RootKey, CryptoError> {
        let key = SymmetricKey::from_bytes(bytes)?;
        let mut sub = crate::digest::hmac_sha256(bytes, b"coffer-root-fingerprint-v1");
        let fingerprint = crate::digest::HmacKey::new(&sub);
        zeroize::Zeroize::zeroize(&mut sub);
        Ok(RootKey { key, fingerprint })
    }

    /// A keyed fingerprint of a secret (HMAC-SHA-256 under a key derived from the root key),
    /// bound to `purpose`: it tells whether two secrets are equal without storing either, and
    /// reveals nothing to someone without the root key.
    pub fn fingerprint(&self, purpose: &str, secret: &[u8]) -> [u8; 32] {
        let mut data = Vec::with_capacity(purpose.len() + 1 + secret.len());
        data.extend_from_slice(purpose.as_bytes());
        data.push(0);
        data.extend_from_slice(secret);
        let f = self.fingerprint.sign(&data);
        zeroize::Zeroize::zeroize(&mut data);
        f
    }

    fn aad(purpose: &str) -> Vec<u8> {
        let mut aad = Vec::with_capacity(AAD_PREFIX.len() + purpose.len());
        aad.extend_from_slice(AAD_PREFIX);
        aad.extend_from_slice(purpose.as_bytes());
        aad
    }

    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 12 + plaintext.len() + 16);
        out.push(SEAL_VERSION);
        self.key
            .seal_into(&Self::aad(purpose), plaintext, &mut out)
            .expect("AES-GCM sealing of in-memory data cannot fail");
        out
    }

    pub fn open(&self, purpose: &str, sealed: &[u8]) -> Result<SecretBytes, SealError> {
        match sealed.split_first() {
            Some((&SEAL_VERSION, rest)) => {
                self.key.open(&Self::aad(purpose), rest).map_err(|_| SealError::Unauthentic)
            }
            _ => Err(SealError::UnknownFormat),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purpose_is_bound() {
        let (rk, raw) = RootKey::generate();
        assert_eq!(raw.len(), 32);
        let s = rk.seal("kms-material:a", b"secret");
        assert_eq!(rk.open("kms-material:a", &s).unwrap().expose(), b"secret");
        assert_eq!(rk.open("kms-material:b", &s).err(), Some(SealError::Unauthentic));
        let (other, _) = RootKey::generate();
        assert_eq!(other.open("kms-material:a", &s).err(), Some(SealError::Unauthentic));
        assert_eq!(rk.open("x", &[9, 1, 2]).err(), Some(SealError::UnknownFormat));
        assert_eq!(rk.open("x", &[]).err(), Some(SealError::UnknownFormat));
        assert_eq!(rk.open("x", &[1, 2]).err(), Some(SealError::Unauthentic));
    }
}
