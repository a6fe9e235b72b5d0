//! Project Wycheproof vectors run through Coffer's own crypto layer (not aws-lc-rs directly):
//! `SymmetricKey` (AES-256-GCM), `AsymKey` (RSA-OAEP decryption, HMAC), `asym::verify_public`
//! (RSA-PSS, RSA PKCS#1 v1.5, ECDSA, Ed25519 with SubjectPublicKeyInfo DER keys) and
//! `wrap::kwp_unwrap` (AES-KWP, RFC 5649).
//!
//! Only the parameter sets KMS defines are run (AES-256 with 96-bit IVs and 128-bit tags; OAEP
//! with SHA-1/MGF1-SHA-1 or SHA-256/MGF1-SHA-256 and an empty label; PSS with salt length = hash
//! length and MGF1 with the same hash; 2048/3072/4096-bit RSA; DER ECDSA signatures on the four
//! KMS curves; HMAC keys of the lengths KMS accepts; 256-bit KWP KEKs). Every family prints how
//! many vectors it ran and asserts a minimum, so a filter that silently matches nothing fails.
//! `acceptable` vectors may pass or fail; they are counted, not judged.

use coffer_crypto::SymmetricKey;
use coffer_crypto::asym::{self, AsymKey, Spec};
use coffer_crypto::wrap;
use wycheproof::{HashFunction, Mgf, TestResult};

/// Per-family tally; failures are collected so one run reports every broken vector at once.
struct Tally {
    family: &'static str,
    valid: usize,
    invalid: usize,
    acceptable_passed: usize,
    acceptable_failed: usize,
    skipped: usize,
    failures: Vec<String>,
}

impl Tally {
    fn new(family: &'static str) -> Tally {
        Tally { family, valid: 0, invalid: 0, acceptable_passed: 0, acceptable_failed: 0, skipped: 0, failures: Vec::new() }
    }

    /// Records one vector: `passed` says whether our layer accepted it (decrypted to the expected
    /// message, verified, matched).
    fn record(&mut self, set: &str, tc_id: usize, comment: &str, expected: TestResult, passed: bool) {
        match expected {
            TestResult::Valid => {
                self.valid += 1;
                if !passed {
                    self.failures.push(format!("{set} tc {tc_id} ({comment}): valid vector rejected"));
                }
            }
            TestResult::Invalid => {
                self.invalid += 1;
                if passed {
                    self.failures.push(format!("{set} tc {tc_id} ({comment}): invalid vector accepted"));
                }
            }
            TestResult::Acceptable => {
                if passed {
                    self.acceptable_passed += 1
                } else {
                    self.acceptable_failed += 1
                }
            }
        }
    }

    fn ran(&self) -> usize {
        self.valid + self.invalid + self.acceptable_passed + self.acceptable_failed
    }

    /// Prints the tally and fails on any wrong verdict or on fewer than `min` vectors run.
    fn finish(self, min: usize) {
        println!(
            "wycheproof {}: {} vectors ran ({} valid, {} invalid, acceptable {} passed / {} failed), {} skipped as outside KMS's parameters",
            self.family,
            self.ran(),
            self.valid,
            self.invalid,
            self.acceptable_passed,
            self.acceptable_failed,
            self.skipped
        );
        assert!(self.failures.is_empty(), "{}: {} wrong verdicts:\n{}", self.family, self.failures.len(), self.failures.join("\n"));
        assert!(self.ran() >= min, "{}: only {} vectors ran, expected at least {min}", self.family, self.ran());
        assert!(self.valid > 0 && self.invalid > 0, "{}: needs both valid and invalid vectors", self.family);
    }
}

fn rsa_spec(bits: usize) -> Option<Spec> {
    match bits {
        2048 => Some(Spec::Rsa2048),
        3072 => Some(Spec::Rsa3072),
        4096 => Some(Spec::Rsa4096),
        _ => None,
    }
}

/// The KMS hash suffix and digest length of a SHA-2 hash KMS signs with.
fn kms_sha2(h: HashFunction) -> Option<(&'static str, usize)> {
    match h {
        HashFunction::Sha2_256 => Some(("SHA_256", 32)),
        HashFunction::Sha2_384 => Some(("SHA_384", 48)),
        HashFunction::Sha2_512 => Some(("SHA_512", 64)),
        _ => None,
    }
}

#[test]
fn aes_256_gcm_open() {
    use wycheproof::aead::{TestName, TestSet};
    let mut t = Tally::new("AES-256-GCM open");
    let mut round_trips = 0;
    let set = TestSet::load(TestName::AesGcm).expect("aes_gcm vectors");
    for g in set.test_groups {
        if g.key_size != 256 || g.nonce_size != 96 || g.tag_size != 128 {
            t.skipped += g.tests.len();
            continue;
        }
        for v in g.tests {
            let key = SymmetricKey::from_bytes(&v.key).expect("a 256-bit key loads");
            let sealed = [&v.nonce[..], &v.ct[..], &v.tag[..]].concat();
            let passed = matches!(key.open(&v.aad, &sealed), Ok(pt) if pt.expose() == &v.pt[..]);
            t.record("aes_gcm", v.tc_id, &v.comment, v.result, passed);

            // Our own seal (random nonce) must round-trip through open with the same key and AAD,
            // and the result must not open under a different AAD.
            let mut out = Vec::new();
            key.seal_into(&v.aad, &v.pt, &mut out).expect("seal");
            assert_eq!(out.len(), 12 + v.pt.len() + 16);
            assert_eq!(key.open(&v.aad, &out).expect("round trip").expose(), &v.pt[..], "tc {}", v.tc_id);
            let other_aad = [&v.aad[..], b"x"].concat();
            assert!(key.open(&other_aad, &out).is_err(), "tc {}: opened under another AAD", v.tc_id);
            round_trips += 1;
        }
    }
    println!("wycheproof AES-256-GCM: {round_trips} seal→open round trips");
    assert!(round_trips >= 60);
    t.finish(60);
}

#[test]
fn rsa_oaep_decrypt() {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    let mut t = Tally::new("RSA-OAEP decrypt");
    let mut labelled = 0;
    for name in [
        TestName::Rsa2048Sha1Mgf1Sha1,
        TestName::Rsa2048Sha256Mgf1Sha256,
        TestName::Rsa3072Sha256Mgf1Sha256,
        TestName::Rsa4096Sha256Mgf1Sha256,
        TestName::RsaMisc,
    ] {
        let set = TestSet::load(name).expect("rsa_oaep vectors");
        for g in set.test_groups {
            let algorithm = match (g.hash, g.mgf, g.mgf_hash) {
                (HashFunction::Sha1, Mgf::Mgf1, HashFunction::Sha1) => "RSAES_OAEP_SHA_1",
                (HashFunction::Sha2_256, Mgf::Mgf1, HashFunction::Sha2_256) => "RSAES_OAEP_SHA_256",
                _ => {
                    t.skipped += g.tests.len();
                    continue;
                }
            };
            let Some(spec) = rsa_spec(g.key_size) else {
                t.skipped += g.tests.len();
                continue;
            };
            let key = AsymKey::from_material(spec, false, &g.pkcs8)
                .unwrap_or_else(|_| panic!("{name:?}: the group's PKCS#8 {}-bit key does not load", g.key_size));
            for v in g.tests {
                if !v.label.is_empty() {
                    // KMS has no OAEP label.
                    labelled += 1;
                    continue;
                }
                let passed = matches!(key.decrypt(algorithm, &v.ct), Ok(pt) if pt.expose() == &v.pt[..]);
                t.record(&format!("{name:?}"), v.tc_id, &v.comment, v.result, passed);
            }
        }
    }
    t.skipped += labelled;
    t.finish(120);
}

#[test]
fn rsa_pss_verify() {
    use wycheproof::rsa_pss_verify::{TestGroupTypeId, TestName, TestSet};
    let mut t = Tally::new("RSA-PSS verify");
    // Vectors signed with another salt length (valid for their own parameters) must not verify:
    // KMS pins the salt length to the digest length.
    let mut other_salt = 0;
    for name in [
        TestName::RsaPss2048Sha256Mgf1SaltLen32,
        TestName::RsaPss2048Sha384Mgf1SaltLen48,
        TestName::RsaPss3072Sha256Mgf1SaltLen32,
        TestName::RsaPss4096Sha256Mgf1SaltLen32,
        TestName::RsaPss4096Sha384Mgf1SaltLen48,
        TestName::RsaPss4096Sha512Mgf1SaltLen64,
        TestName::RsaPss2048Sha256Mgf1SaltLen0,
        TestName::RsaPss4096Sha512Mgf1SaltLen32,
        TestName::RsaPssmisc,
    ] {
        let set = TestSet::load(name).expect("rsa_pss vectors");
        for g in set.test_groups {
            let (Some((suffix, hlen)), Some(spec)) = (kms_sha2(g.hash), rsa_spec(g.key_size)) else {
                t.skipped += g.tests.len();
                continue;
            };
            if g.test_type != TestGroupTypeId::RsaPssVerify || g.mgf != Mgf::Mgf1 || g.mgf_hash != Some(g.hash) {
                t.skipped += g.tests.len();
                continue;
            }
            let algorithm = format!("RSASSA_PSS_{suffix}");
            for v in g.tests {
                let ok = asym::verify_public(&g.der, spec, &algorithm, &v.msg, &v.sig);
                if g.salt_size == hlen {
                    t.record(&format!("{name:?}"), v.tc_id, &v.comment, v.result, ok);
                } else if v.result == TestResult::Valid {
                    other_salt += 1;
                    if ok {
                        t.failures.push(format!(
                            "{name:?} tc {}: signature with salt length {} verified as {algorithm} (salt must be {hlen})",
                            v.tc_id, g.salt_size
                        ));
                    }
                } else {
                    t.skipped += 1;
                }
            }
        }
    }
    println!("wycheproof RSA-PSS: {other_salt} valid signatures with another salt length correctly rejected");
    assert!(other_salt >= 150);
    t.finish(700);
}

#[test]
fn rsa_pkcs1_v1_5_verify() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
    let mut t = Tally::new("RSA PKCS#1 v1.5 verify");
    for name in [
        TestName::Rsa2048Sha256,
        TestName::Rsa2048Sha384,
        TestName::Rsa2048Sha512,
        TestName::Rsa3072Sha256,
        TestName::Rsa3072Sha384,
        TestName::Rsa3072Sha512,
        TestName::Rsa4096Sha256,
        TestName::Rsa4096Sha384,
        TestName::Rsa4096Sha512,
    ] {
        let set = TestSet::load(name).expect("rsa_signature vectors");
        for g in set.test_groups {
            let (Some((suffix, _)), Some(spec)) = (kms_sha2(g.hash), rsa_spec(g.key_size)) else {
                t.skipped += g.tests.len();
                continue;
            };
            let algorithm = format!("RSASSA_PKCS1_V1_5_{suffix}");
            for v in g.tests {
                let ok = asym::verify_public(&g.der, spec, &algorithm, &v.msg, &v.sig);
                t.record(&format!("{name:?}"), v.tc_id, &v.comment, v.result, ok);
            }
        }
    }
    t.finish(2000);
}

#[test]
fn ecdsa_verify() {
    use wycheproof::ecdsa::{TestGroupTypeId, TestName, TestSet};
    let mut t = Tally::new("ECDSA verify (DER)");
    for (name, spec, algorithm) in [
        (TestName::EcdsaSecp256r1Sha256, Spec::P256, "ECDSA_SHA_256"),
        (TestName::EcdsaSecp384r1Sha384, Spec::P384, "ECDSA_SHA_384"),
        (TestName::EcdsaSecp521r1Sha512, Spec::P521, "ECDSA_SHA_512"),
        (TestName::EcdsaSecp256k1Sha256, Spec::Secp256k1, "ECDSA_SHA_256"),
    ] {
        let set = TestSet::load(name).expect("ecdsa vectors");
        for g in set.test_groups {
            if g.test_type != TestGroupTypeId::Ecdsa {
                t.skipped += g.tests.len();
                continue;
            }
            for v in g.tests {
                let ok = asym::verify_public(&g.der, spec, algorithm, &v.msg, &v.sig);
                t.record(&format!("{name:?}"), v.tc_id, &v.comment, v.result, ok);
            }
        }
    }
    t.finish(1800);
}

#[test]
fn ed25519_verify() {
    use wycheproof::eddsa::{TestName, TestSet};
    let mut t = Tally::new("Ed25519 verify");
    let set = TestSet::load(TestName::Ed25519).expect("ed25519 vectors");
    for g in set.test_groups {
        for v in g.tests {
            let ok = asym::verify_public(&g.der, Spec::Ed25519, "ED25519_SHA_512", &v.msg, &v.sig);
            t.record("ed25519", v.tc_id, &v.comment, v.result, ok);
        }
    }
    t.finish(140);
}

#[test]
fn verify_public_refuses_mismatched_parameters() {
    // One valid vector per family, then the same inputs under a wrong spec or algorithm.
    use wycheproof::TestResult::Valid;
    let ec = wycheproof::ecdsa::TestSet::load(wycheproof::ecdsa::TestName::EcdsaSecp256r1Sha256).unwrap();
    let g = &ec.test_groups[0];
    let v = g.tests.iter().find(|v| v.result == Valid).unwrap();
    assert!(asym::verify_public(&g.der, Spec::P256, "ECDSA_SHA_256", &v.msg, &v.sig));
    assert!(!asym::verify_public(&g.der, Spec::Secp256k1, "ECDSA_SHA_256", &v.msg, &v.sig), "wrong curve");
    assert!(!asym::verify_public(&g.der, Spec::P256, "ECDSA_SHA_384", &v.msg, &v.sig), "algorithm of another spec");
    assert!(!asym::verify_public(&g.der, Spec::Rsa2048, "RSASSA_PSS_SHA_256", &v.msg, &v.sig), "EC key as RSA");

    let rsa = wycheproof::rsa_pkcs1_verify::TestSet::load(wycheproof::rsa_pkcs1_verify::TestName::Rsa2048Sha256).unwrap();
    let g = &rsa.test_groups[0];
    let v = g.tests.iter().find(|v| v.result == Valid).unwrap();
    assert!(asym::verify_public(&g.der, Spec::Rsa2048, "RSASSA_PKCS1_V1_5_SHA_256", &v.msg, &v.sig));
    assert!(!asym::verify_public(&g.der, Spec::Rsa3072, "RSASSA_PKCS1_V1_5_SHA_256", &v.msg, &v.sig), "wrong modulus size");
    assert!(!asym::verify_public(&g.der, Spec::Rsa2048, "RSASSA_PSS_SHA_256", &v.msg, &v.sig), "PKCS#1 signature as PSS");
    assert!(!asym::verify_public(&g.der, Spec::Rsa2048, "ECDSA_SHA_256", &v.msg, &v.sig), "algorithm of another spec");
    assert!(!asym::verify_public(&g.der, Spec::Hmac256, "HMAC_SHA_256", &v.msg, &v.sig), "HMAC spec");
    assert!(!asym::verify_public(&[], Spec::Rsa2048, "RSASSA_PKCS1_V1_5_SHA_256", &v.msg, &v.sig), "empty key");
}

#[test]
fn hmac() {
    use wycheproof::mac::{TestName, TestSet};
    let mut t = Tally::new("HMAC");
    for (name, spec) in [
        (TestName::HmacSha224, Spec::Hmac224),
        (TestName::HmacSha256, Spec::Hmac256),
        (TestName::HmacSha384, Spec::Hmac384),
        (TestName::HmacSha512, Spec::Hmac512),
    ] {
        let (_, lengths) = spec.hmac_lengths().expect("hmac spec");
        let set = TestSet::load(name).expect("hmac vectors");
        for g in set.test_groups {
            assert_eq!(g.tag_size % 8, 0);
            let tag_len = g.tag_size / 8;
            for v in g.tests {
                if !lengths.contains(&v.key.len()) {
                    // KMS refuses this key length; so must we.
                    assert!(AsymKey::from_material(spec, false, &v.key).is_err(), "{name:?} tc {}: {}-byte key loaded", v.tc_id, v.key.len());
                    t.skipped += 1;
                    continue;
                }
                let key = AsymKey::from_material(spec, false, &v.key).expect("in-range HMAC key loads");
                let mac = key.mac(&v.msg).expect("mac");
                assert!(mac.len() >= tag_len);
                let ok = coffer_crypto::digest::ct_eq(&mac[..tag_len], &v.tag);
                t.record(&format!("{name:?}"), v.tc_id, &v.comment, v.result, ok);
            }
        }
    }
    t.finish(600);
}

#[test]
fn aes_kwp_unwrap() {
    use wycheproof::keywrap::{TestName, TestSet};
    let mut t = Tally::new("AES-256-KWP unwrap");
    let set = TestSet::load(TestName::AesKeyWrapWithPadding).expect("aes_kwp vectors");
    for g in set.test_groups {
        if g.key_size != 256 {
            // And a KEK of any other size is refused outright.
            for v in &g.tests {
                assert!(wrap::kwp_unwrap(&v.key, &v.ct).is_err(), "tc {}: {}-bit KEK accepted", v.tc_id, g.key_size);
            }
            t.skipped += g.tests.len();
            continue;
        }
        for v in g.tests {
            let ok = matches!(wrap::kwp_unwrap(&v.key, &v.ct), Ok(pt) if pt.expose() == &v.pt[..]);
            t.record("aes_kwp", v.tc_id, &v.comment, v.result, ok);
        }
    }
    t.finish(80);
}
