//! Unwrapping imported key material (KMS bring-your-own-key).
//!
//! GetParametersForImport hands out the public half of an RSA wrapping key; the client wraps its
//! material either directly with RSA-OAEP (`RSAES_OAEP_SHA_1` / `RSAES_OAEP_SHA_256`), or — for
//! material larger than OAEP can carry, such as RSA private keys — with an ephemeral AES-256 key
//! that is itself OAEP-wrapped (`RSA_AES_KEY_WRAP_SHA_1` / `_SHA_256`): the result is
//! `OAEP(aes key) || AES-KWP(material)` (RFC 5649), exactly as `openssl pkeyutl` plus
//! `openssl enc -id-aes256-wrap-pad` produce it in AWS's documented recipe.

use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, PrivateDecryptingKey,
};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::secret::SecretBytes;

pub const WRAPPING_ALGORITHMS: &[&str] =
    &["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"];

/// A fresh RSA wrapping key (`RSA_2048`, `RSA_3072` or `RSA_4096`): its PKCS#8 (to seal) and
/// its public key as SubjectPublicKeyInfo DER.
pub fn generate_wrapping_key(spec: &str) -> Result<(SecretBytes, Vec<u8>), CryptoError> {
    let size = match spec {
        "RSA_2048" => KeySize::Rsa2048,
        "RSA_3072" => KeySize::Rsa3072,
        "RSA_4096" => KeySize::Rsa4096,
        _ => return Err(CryptoError),
    };
    let key = PrivateDecryptingKey::generate(size).map_err(|_| CryptoError)?;
    let pkcs8: Pkcs8V1Der = key.as_der().map_err(|_| CryptoError)?;
    let spki = key.public_key().as_der().map_err(|_| CryptoError)?.as_ref().to_vec();
    Ok((SecretBytes::new(pkcs8.as_ref().to_vec()), spki))
}

/// Unwraps `wrapped` with the wrapping key (PKCS#8) under `algorithm`.
pub fn unwrap(wrapping_pkcs8: &[u8], algorithm: &str, wrapped: &[u8]) -> Result<SecretBytes, CryptoError> {
    let key = OaepPrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(wrapping_pkcs8).map_err(|_| CryptoError)?)
        .map_err(|_| CryptoError)?;
    let (oaep, aes_wrap) = match algorithm {
        "RSAES_OAEP_SHA_1" => (&OAEP_SHA1_MGF1SHA1, false),
        "RSAES_OAEP_SHA_256" => (&OAEP_SHA256_MGF1SHA256, false),
        "RSA_AES_KEY_WRAP_SHA_1" => (&OAEP_SHA1_MGF1SHA1, true),
        "RSA_AES_KEY_WRAP_SHA_256" => (&OAEP_SHA256_MGF1SHA256, true),
        _ => return Err(CryptoError),
    };
    let n = key.key_size_bytes();
    let decrypt = |ct: &[u8]| -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let mut out = Zeroizing::new(vec![0u8; key.min_output_size()]);
        let len = key.decrypt(oaep, ct, &mut out, None).map_err(|_| CryptoError)?.len();
        out.truncate(len);
        Ok(out)
    };
    if !aes_wrap {
        return Ok(SecretBytes::new(decrypt(wrapped)?.to_vec()));
    }
    if wrapped.len() <= n {
        return Err(CryptoError);
    }
    let (head, body) = wrapped.split_at(n);
    let aes = decrypt(head)?;
    kwp_unwrap(&aes, body)
}

/// AES-256 key wrap with padding (RFC 5649, "KWP") unwrapping of `wrapped` under the 32-byte `kek`.
pub fn kwp_unwrap(kek: &[u8], wrapped: &[u8]) -> Result<SecretBytes, CryptoError> {
    let kek = AesKek::new(&AES_256, kek).map_err(|_| CryptoError)?;
    let mut out = Zeroizing::new(vec![0u8; wrapped.len()]);
    let len = kek.unwrap_with_padding(wrapped, &mut out).map_err(|_| CryptoError)?.len();
    out.truncate(len);
    Ok(SecretBytes::new(out.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PublicEncryptingKey};

    fn oaep_wrap(spki: &[u8], sha256: bool, data: &[u8]) -> Vec<u8> {
        let pk = OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(spki).unwrap()).unwrap();
        let mut out = vec![0u8; pk.ciphertext_size()];
        let alg = if sha256 { &OAEP_SHA256_MGF1SHA256 } else { &OAEP_SHA1_MGF1SHA1 };
        pk.encrypt(alg, data, &mut out, None).unwrap().to_vec()
    }

    #[test]
    fn both_wrapping_schemes() {
        let (pkcs8, spki) = generate_wrapping_key("RSA_2048").unwrap();
        let material = [5u8; 32];
        for (alg, sha256) in [("RSAES_OAEP_SHA_1", false), ("RSAES_OAEP_SHA_256", true)] {
            let w = oaep_wrap(&spki, sha256, &material);
            assert_eq!(unwrap(pkcs8.expose(), alg, &w).unwrap().expose(), material);
        }
        // RSA_AES_KEY_WRAP: OAEP(aes) || KWP(material), for a large material.
        let big = vec![9u8; 1200];
        let aes = [3u8; 32];
        let kek = AesKek::new(&AES_256, &aes).unwrap();
        let mut kwp = vec![0u8; big.len() + 16];
        let kwp = kek.wrap_with_padding(&big, &mut kwp).unwrap().to_vec();
        let mut w = oaep_wrap(&spki, true, &aes);
        w.extend_from_slice(&kwp);
        assert_eq!(unwrap(pkcs8.expose(), "RSA_AES_KEY_WRAP_SHA_256", &w).unwrap().expose(), &big[..]);
        assert!(unwrap(pkcs8.expose(), "RSA_AES_KEY_WRAP_SHA_1", &w).is_err());
        assert!(unwrap(pkcs8.expose(), "RSAES_OAEP_SHA_256", &w[..100]).is_err());
    }
}
