//! Secret byte buffers and symmetric keys.
//!
//! Neither type implements `Debug`, `Display`, `Clone` or `Serialize`: a secret can only be
//! printed, copied or persisted by code that explicitly asks for its bytes with `expose`, which is
//! easy to find in review.

use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
use zeroize::Zeroizing;

use crate::CryptoError;

/// Bytes that must not outlive their use: zeroized on drop.
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn new(bytes: Vec<u8>) -> SecretBytes {
        SecretBytes(Zeroizing::new(bytes))
    }
    pub fn random(len: usize) -> SecretBytes {
        let mut v = Zeroizing::new(vec![0u8; len]);
        crate::random::fill(&mut v);
        SecretBytes(v)
    }
    /// The bytes themselves. Callers must not copy them into non-zeroizing storage.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An AES-256-GCM key with aws-lc-rs-generated random nonces. aws-lc-rs clears the key schedule
/// when the key is dropped.
pub struct SymmetricKey {
    key: RandomizedNonceKey,
}

pub const AES_256_KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;

impl SymmetricKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<SymmetricKey, CryptoError> {
        if bytes.len() != AES_256_KEY_LEN {
            return Err(CryptoError);
        }
        let key = RandomizedNonceKey::new(&AES_256_GCM, bytes).map_err(|_| CryptoError)?;
        Ok(SymmetricKey { key })
    }

    /// Encrypts `plaintext` with `aad`, appending `nonce || ciphertext || tag` to `out`.
    pub fn seal_into(&self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), CryptoError> {
        let nonce_at = out.len();
        out.extend_from_slice(&[0u8; NONCE_LEN]);
        let ct_at = out.len();
        out.extend_from_slice(plaintext);
        let (nonce, tag) = self
            .key
            .seal_in_place_separate_tag(Aad::from(aad), &mut out[ct_at..])
            .map_err(|_| CryptoError)?;
        out[nonce_at..ct_at].copy_from_slice(nonce.as_ref());
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Decrypts `nonce || ciphertext || tag` authenticated with `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<SecretBytes, CryptoError> {
        if sealed.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError)?;
        let mut buf = Zeroizing::new(body.to_vec());
        let n = self
            .key
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| CryptoError)?
            .len();
        buf.truncate(n);
        Ok(SecretBytes(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_tamper() {
        let k = SymmetricKey::from_bytes(&[7u8; 32]).unwrap();
        let mut out = b"hdr".to_vec();
        k.seal_into(b"aad", b"hello", &mut out).unwrap();
        let sealed = &out[3..];
        assert_eq!(sealed.len(), NONCE_LEN + 5 + TAG_LEN);
        assert_eq!(k.open(b"aad", sealed).unwrap().expose(), b"hello");
        assert!(k.open(b"aaX", sealed).is_err());
        let mut bad = sealed.to_vec();
        bad[NONCE_LEN] ^= 1;
        assert!(k.open(b"aad", &bad).is_err());
        assert!(k.open(b"aad", &sealed[..10]).is_err());
        assert!(SymmetricKey::from_bytes(&[0u8; 16]).is_err());
    }

    #[test]
    fn nonces_differ() {
        let k = SymmetricKey::from_bytes(&[1u8; 32]).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        k.seal_into(b"", b"x", &mut a).unwrap();
        k.seal_into(b"", b"x", &mut b).unwrap();
        assert_ne!(a[..NONCE_LEN], b[..NONCE_LEN]);
    }
}
