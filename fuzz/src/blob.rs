//! Target `kms_blob`: the KMS ciphertext blob (coffer-crypto `blob`) and sealed values (`root`).
//!
//! Input: the bytes of a candidate blob, as Decrypt and ReEncrypt receive them from a client.
//! Checks: `parse_header` and `decrypt` never panic; `decrypt` succeeds only for a blob whose
//! header parses, with plaintext length = blob length - 78; the header round-trips through
//! `encrypt`, and a blob `encrypt` makes decrypts to its plaintext under its own context only.
//! The same bytes are also opened as a root-key sealed value (never panics).

use std::sync::LazyLock;

use coffer_crypto::blob::{self, BlobHeader, EncryptionContext};
use coffer_crypto::{RootKey, SymmetricKey};

/// The KMS key material the seeds were encrypted with (`examples/gen_corpus.rs`).
pub const KEY: [u8; 32] = [0x42; 32];
/// The root key the sealed-value seeds were sealed with.
pub const ROOT: [u8; 32] = [0x24; 32];
pub const SEAL_PURPOSE: &str = "kms-material:1234abcd-12ab-34cd-56ef-1234567890ab:00";

static SYM: LazyLock<SymmetricKey> = LazyLock::new(|| SymmetricKey::from_bytes(&KEY).expect("32 bytes"));
static ROOT_KEY: LazyLock<RootKey> = LazyLock::new(|| RootKey::from_bytes(&ROOT).expect("32 bytes"));

/// The contexts tried on every input: empty, and the one some seeds were made with.
pub fn contexts() -> [EncryptionContext; 2] {
    let mut named = EncryptionContext::default();
    named.0.insert("purpose".into(), "fuzz".into());
    named.0.insert("Department".into(), "Engineering".into());
    [EncryptionContext::default(), named]
}

pub fn run(data: &[u8]) {
    let key = &*SYM;
    let contexts = contexts();
    let header = blob::parse_header(data);
    if let Ok(h) = header {
        assert!(data.len() >= blob::OVERHEAD && data[0] == blob::MARKER_V1 && data[1] == blob::KIND_SYMMETRIC);
        assert_eq!(h.key_id[..], data[2..18]);
        assert_eq!(h.material_id[..], data[18..50]);
    } else {
        assert!(data.len() < blob::OVERHEAD || data[0] != blob::MARKER_V1 || data[1] != blob::KIND_SYMMETRIC);
    }
    for ec in &contexts {
        if let Ok(plain) = blob::decrypt(key, data, ec) {
            assert!(header.is_ok(), "decrypt accepted a blob whose header does not parse");
            assert_eq!(plain.len(), data.len() - blob::OVERHEAD);
        }
    }

    // Round trip under the parsed header (or a header made of the input's first bytes).
    let h = header.unwrap_or_else(|_| {
        let mut key_id = [0u8; 16];
        let mut material_id = [0u8; 32];
        for (i, b) in data.iter().take(48).enumerate() {
            if i < 16 { key_id[i] = *b } else { material_id[i - 16] = *b }
        }
        BlobHeader { key_id, material_id }
    });
    let plaintext = &data[data.len().min(blob::OVERHEAD)..];
    let plaintext = &plaintext[..plaintext.len().min(4096)];
    let ec = &contexts[1];
    let made = blob::encrypt(key, h, ec, plaintext).expect("encrypt");
    assert_eq!(made.len(), blob::OVERHEAD + plaintext.len());
    assert_eq!(blob::parse_header(&made), Ok(h));
    assert_eq!(blob::decrypt(key, &made, ec).expect("own blob decrypts").expose(), plaintext);
    assert!(blob::decrypt(key, &made, &contexts[0]).is_err(), "context not bound");
    // One flipped byte, at a position the input chooses, is always detected.
    let at = data.first().map_or(0, |&b| usize::from(b)) % made.len();
    let mut bad = made.clone();
    bad[at] ^= 0x01;
    assert!(blob::decrypt(key, &bad, ec).is_err(), "flip at {at} accepted");
    assert!(blob::decrypt(key, &made[..made.len() - 1], ec).is_err());

    // Sealed values (root key): never panics, opens only with the right purpose.
    let root = &*ROOT_KEY;
    if let Ok(v) = root.open(SEAL_PURPOSE, data) {
        assert_eq!(v.len(), data.len() - 29);
        assert!(root.open("root-check", data).is_err());
    }
}
