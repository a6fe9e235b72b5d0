//! KMS asymmetric, HMAC and imported keys against a real coffer process (aws-sdk-kms); the
//! client side of wrapping, verification and agreement is aws-lc-rs used directly.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::KeyPair;
use aws_lc_rs::{agreement, rand, rsa, signature};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{
    AlgorithmSpec, DataKeyPairSpec, EncryptionAlgorithmSpec, ExpirationModelType, GrantOperation, KeyAgreementAlgorithmSpec,
    KeySpec, KeyState, KeyUsageType, MacAlgorithmSpec, MessageType, SigningAlgorithmSpec, WrappingKeySpec,
};
use coffer_it::{Coffer, any_code, err};

async fn key(kms: &aws_sdk_kms::Client, spec: KeySpec, usage: KeyUsageType) -> String {
    kms.create_key().key_spec(spec).key_usage(usage).send().await.unwrap().key_metadata.unwrap().key_id
}

#[tokio::test]
async fn specs_usages_and_algorithm_lists() {
    let c = Coffer::dev();
    let kms = c.kms();
    let cases: &[(KeySpec, KeyUsageType, &[&str], &str)] = &[
        (KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt, &["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"], "enc"),
        (KeySpec::Rsa3072, KeyUsageType::SignVerify, &["RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512", "RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512"], "sign"),
        (KeySpec::EccNistP256, KeyUsageType::SignVerify, &["ECDSA_SHA_256"], "sign"),
        (KeySpec::EccNistP384, KeyUsageType::SignVerify, &["ECDSA_SHA_384"], "sign"),
        (KeySpec::EccNistP521, KeyUsageType::SignVerify, &["ECDSA_SHA_512"], "sign"),
        (KeySpec::EccSecgP256K1, KeyUsageType::SignVerify, &["ECDSA_SHA_256"], "sign"),
        (KeySpec::EccNistEdwards25519, KeyUsageType::SignVerify, &["ED25519_SHA_512"], "sign"),
        (KeySpec::MlDsa44, KeyUsageType::SignVerify, &["ML_DSA_SHAKE_256"], "sign"),
        (KeySpec::MlDsa87, KeyUsageType::SignVerify, &["ML_DSA_SHAKE_256"], "sign"),
        (KeySpec::EccNistP384, KeyUsageType::KeyAgreement, &["ECDH"], "agree"),
        (KeySpec::Hmac224, KeyUsageType::GenerateVerifyMac, &["HMAC_SHA_224"], "mac"),
        (KeySpec::Hmac512, KeyUsageType::GenerateVerifyMac, &["HMAC_SHA_512"], "mac"),
    ];
    for (spec, usage, algs, kind) in cases {
        let md = kms.create_key().key_spec(spec.clone()).key_usage(usage.clone()).send().await.unwrap().key_metadata.unwrap();
        let listed: Vec<String> = match *kind {
            "enc" => md.encryption_algorithms().iter().map(|a| a.as_str().to_string()).collect(),
            "sign" => md.signing_algorithms().iter().map(|a| a.as_str().to_string()).collect(),
            "agree" => md.key_agreement_algorithms().iter().map(|a| a.as_str().to_string()).collect(),
            _ => md.mac_algorithms().iter().map(|a| a.as_str().to_string()).collect(),
        };
        assert_eq!(listed, *algs, "{spec:?}");
        // Lists that do not apply are omitted.
        if *kind != "enc" {
            assert!(md.encryption_algorithms().is_empty(), "{spec:?}");
        }
        if *kind != "sign" {
            assert!(md.signing_algorithms().is_empty(), "{spec:?}");
        }
        assert!(md.current_key_material_id.is_none(), "{spec:?}");
        assert_eq!(md.key_spec.as_ref(), Some(spec));
    }
    let (c1, m1) = err(kms.create_key().key_spec(KeySpec::Rsa2048).key_usage(KeyUsageType::KeyAgreement).send().await);
    assert_eq!((c1.as_str(), m1.as_str()), ("ValidationException", "KeyUsage KEY_AGREEMENT is not compatible with KeySpec RSA_2048"));
    assert_eq!(any_code(kms.create_key().key_spec(KeySpec::Hmac256).key_usage(KeyUsageType::EncryptDecrypt).send().await), "ValidationException");
    assert_eq!(any_code(kms.create_key().key_spec(KeySpec::EccSecgP256K1).key_usage(KeyUsageType::KeyAgreement).send().await), "ValidationException");
    assert_eq!(any_code(kms.create_key().key_spec(KeySpec::Sm2).key_usage(KeyUsageType::SignVerify).send().await), "UnsupportedOperationException");
    // Rotation stays symmetric-only.
    let rsa = key(&kms, KeySpec::Rsa2048, KeyUsageType::SignVerify).await;
    assert_eq!(any_code(kms.enable_key_rotation().key_id(&rsa).send().await), "UnsupportedOperationException");
    assert_eq!(any_code(kms.rotate_key_on_demand().key_id(&rsa).send().await), "UnsupportedOperationException");
    // Public keys exist only for asymmetric keys.
    let sym = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    assert_eq!(any_code(kms.get_public_key().key_id(&sym).send().await), "UnsupportedOperationException");
    let hmac = key(&kms, KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac).await;
    assert_eq!(any_code(kms.get_public_key().key_id(&hmac).send().await), "UnsupportedOperationException");
}

#[tokio::test]
async fn sign_and_verify_every_algorithm() {
    let c = Coffer::dev();
    let kms = c.kms();
    let msg = b"the message to sign";
    for spec in [KeySpec::Rsa2048, KeySpec::EccNistP256, KeySpec::EccNistP384, KeySpec::EccNistP521, KeySpec::EccSecgP256K1, KeySpec::EccNistEdwards25519, KeySpec::MlDsa65] {
        let md = kms.create_key().key_spec(spec.clone()).key_usage(KeyUsageType::SignVerify).send().await.unwrap().key_metadata.unwrap();
        let pk = kms.get_public_key().key_id(&md.key_id).send().await.unwrap();
        assert_eq!(pk.key_usage, Some(KeyUsageType::SignVerify));
        let spki = pk.public_key.unwrap().into_inner();
        for alg in md.signing_algorithms() {
            let s = kms.sign().key_id(&md.key_id).message(Blob::new(&msg[..])).signing_algorithm(alg.clone()).send().await.unwrap();
            assert_eq!(s.key_id.as_deref(), md.arn.as_deref());
            let sig = s.signature.unwrap();
            let v = kms.verify().key_id(&md.key_id).message(Blob::new(&msg[..])).signing_algorithm(alg.clone()).signature(sig.clone()).send().await.unwrap();
            assert!(v.signature_valid);
            let (code, message) = err(kms.verify().key_id(&md.key_id).message(Blob::new(&b"another"[..])).signing_algorithm(alg.clone()).signature(sig.clone()).send().await);
            assert_eq!((code.as_str(), message.as_str()), ("KMSInvalidSignatureException", ""));
            // The signature verifies outside Coffer with the published public key.
            let verifier: Option<&'static dyn signature::VerificationAlgorithm> = match alg.as_str() {
                "ECDSA_SHA_256" if spec == KeySpec::EccNistP256 => Some(&signature::ECDSA_P256_SHA256_ASN1),
                "ECDSA_SHA_256" => Some(&signature::ECDSA_P256K1_SHA256_ASN1),
                "ECDSA_SHA_384" => Some(&signature::ECDSA_P384_SHA384_ASN1),
                "ECDSA_SHA_512" => Some(&signature::ECDSA_P521_SHA512_ASN1),
                "RSASSA_PSS_SHA_256" => Some(&signature::RSA_PSS_2048_8192_SHA256),
                "RSASSA_PKCS1_V1_5_SHA_512" => Some(&signature::RSA_PKCS1_2048_8192_SHA512),
                "ED25519_SHA_512" => Some(&signature::ED25519),
                "ML_DSA_SHAKE_256" => Some(&signature::ML_DSA_65),
                _ => None,
            };
            if let Some(vf) = verifier {
                signature::UnparsedPublicKey::new(vf, &spki).verify(msg, sig.as_ref()).unwrap_or_else(|_| panic!("{alg:?} does not verify offline"));
            }
            // DIGEST messages, where the algorithm allows them.
            if let Some(d) = match alg.as_str() {
                "ECDSA_SHA_256" | "RSASSA_PSS_SHA_256" | "RSASSA_PKCS1_V1_5_SHA_256" => Some(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, msg)),
                "ECDSA_SHA_384" | "RSASSA_PSS_SHA_384" | "RSASSA_PKCS1_V1_5_SHA_384" => Some(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA384, msg)),
                "ECDSA_SHA_512" | "RSASSA_PSS_SHA_512" | "RSASSA_PKCS1_V1_5_SHA_512" => Some(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA512, msg)),
                _ => None,
            } {
                let s2 = kms.sign().key_id(&md.key_id).message(Blob::new(d.as_ref())).message_type(MessageType::Digest).signing_algorithm(alg.clone()).send().await.unwrap();
                kms.verify().key_id(&md.key_id).message(Blob::new(&msg[..])).signing_algorithm(alg.clone()).signature(s2.signature.unwrap()).send().await.unwrap();
                let (c2, m2) = err(kms.sign().key_id(&md.key_id).message(Blob::new(&d.as_ref()[1..])).message_type(MessageType::Digest).signing_algorithm(alg.clone()).send().await);
                assert_eq!((c2.as_str(), m2), ("ValidationException", format!("Digest is invalid length for algorithm {}.", alg.as_str())));
            }
        }
        let wrong = if spec == KeySpec::Rsa2048 { SigningAlgorithmSpec::EcdsaSha256 } else { SigningAlgorithmSpec::RsassaPssSha256 };
        assert_eq!(any_code(kms.sign().key_id(&md.key_id).message(Blob::new(&msg[..])).signing_algorithm(wrong).send().await), "InvalidKeyUsageException");
        assert_eq!(any_code(kms.encrypt().key_id(&md.key_id).plaintext(Blob::new("x")).send().await), "InvalidKeyUsageException");
        assert_eq!(any_code(kms.sign().key_id(&md.key_id).message(Blob::new(&msg[..])).signing_algorithm(md.signing_algorithms()[0].clone()).dry_run(true).send().await), "DryRunOperationException");
    }
    let sym = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    let (c3, m3) = err(kms.sign().key_id(&sym).message(Blob::new("x")).signing_algorithm(SigningAlgorithmSpec::EcdsaSha256).send().await);
    assert_eq!(c3, "InvalidKeyUsageException");
    assert!(m3.ends_with("key usage is ENCRYPT_DECRYPT which is not valid for Sign."), "{m3}");
}

#[tokio::test]
async fn rsa_encryption_with_size_limits() {
    let c = Coffer::dev();
    let kms = c.kms();
    for (spec, sha1, sha256) in [(KeySpec::Rsa2048, 214usize, 190usize), (KeySpec::Rsa3072, 342, 318), (KeySpec::Rsa4096, 470, 446)] {
        let id = key(&kms, spec.clone(), KeyUsageType::EncryptDecrypt).await;
        let arn = kms.describe_key().key_id(&id).send().await.unwrap().key_metadata.unwrap().arn.unwrap();
        for (alg, max) in [(EncryptionAlgorithmSpec::RsaesOaepSha1, sha1), (EncryptionAlgorithmSpec::RsaesOaepSha256, sha256)] {
            let pt = vec![0x5a; max];
            let ct = kms.encrypt().key_id(&id).plaintext(Blob::new(pt.clone())).encryption_algorithm(alg.clone()).send().await.unwrap().ciphertext_blob.unwrap();
            let d = kms.decrypt().key_id(&id).ciphertext_blob(ct.clone()).encryption_algorithm(alg.clone()).send().await.unwrap();
            assert_eq!(d.plaintext.unwrap().as_ref(), &pt[..]);
            assert_eq!(d.key_id.as_deref(), Some(arn.as_str()));
            assert!(d.key_material_id.is_none());
            let (code, msg) = err(kms.encrypt().key_id(&id).plaintext(Blob::new(vec![0; max + 1])).encryption_algorithm(alg.clone()).send().await);
            assert_eq!(code, "ValidationException");
            assert_eq!(msg, format!("Algorithm {} and key spec {} cannot encrypt data larger than {max} bytes.", alg.as_str(), spec.as_str()));
            // The wrong algorithm or no KeyId cannot decrypt.
            let other = if alg == EncryptionAlgorithmSpec::RsaesOaepSha1 { EncryptionAlgorithmSpec::RsaesOaepSha256 } else { EncryptionAlgorithmSpec::RsaesOaepSha1 };
            assert_eq!(any_code(kms.decrypt().key_id(&id).ciphertext_blob(ct.clone()).encryption_algorithm(other).send().await), "InvalidCiphertextException");
            assert_eq!(any_code(kms.decrypt().ciphertext_blob(ct.clone()).send().await), "InvalidCiphertextException");
        }
        let (code, msg) = err(kms.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await);
        assert_eq!((code.as_str(), msg), ("InvalidKeyUsageException", format!("Algorithm SYMMETRIC_DEFAULT is incompatible with key spec {}.", spec.as_str())));
        assert_eq!(any_code(kms.encrypt().key_id(&id).plaintext(Blob::new("x")).encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256).encryption_context("a", "b").send().await), "ValidationException");
        assert_eq!(any_code(kms.generate_data_key().key_id(&id).key_spec(aws_sdk_kms::types::DataKeySpec::Aes256).send().await), "InvalidKeyUsageException");
        // Data encrypted offline with the public key decrypts in Coffer.
        let spki = kms.get_public_key().key_id(&id).send().await.unwrap().public_key.unwrap().into_inner();
        let pk = rsa::OaepPublicEncryptingKey::new(rsa::PublicEncryptingKey::from_der(&spki).unwrap()).unwrap();
        let mut out = vec![0u8; pk.ciphertext_size()];
        let offline = pk.encrypt(&rsa::OAEP_SHA256_MGF1SHA256, b"made elsewhere", &mut out, None).unwrap().to_vec();
        let d = kms.decrypt().key_id(&id).ciphertext_blob(Blob::new(offline)).encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256).send().await.unwrap();
        assert_eq!(d.plaintext.unwrap().as_ref(), b"made elsewhere");
    }
    // ReEncrypt from RSA to symmetric and back.
    let rsa_key = key(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let sym = kms.create_key().send().await.unwrap().key_metadata.unwrap().key_id;
    let ct = kms.encrypt().key_id(&rsa_key).plaintext(Blob::new("moving")).encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha1).send().await.unwrap().ciphertext_blob.unwrap();
    let r = kms.re_encrypt().ciphertext_blob(ct).source_key_id(&rsa_key).source_encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha1).destination_key_id(&sym).send().await.unwrap();
    assert_eq!(r.source_encryption_algorithm, Some(EncryptionAlgorithmSpec::RsaesOaepSha1));
    let back = kms.re_encrypt().ciphertext_blob(r.ciphertext_blob.unwrap()).destination_key_id(&rsa_key).destination_encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256).send().await.unwrap();
    let d = kms.decrypt().key_id(&rsa_key).ciphertext_blob(back.ciphertext_blob.unwrap()).encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256).send().await.unwrap();
    assert_eq!(d.plaintext.unwrap().as_ref(), b"moving");
}

#[tokio::test]
async fn macs_agreement_and_data_key_pairs() {
    let c = Coffer::dev();
    let kms = c.kms();
    let h = key(&kms, KeySpec::Hmac256, KeyUsageType::GenerateVerifyMac).await;
    let mac = kms.generate_mac().key_id(&h).message(Blob::new("m")).mac_algorithm(MacAlgorithmSpec::HmacSha256).send().await.unwrap().mac.unwrap();
    assert_eq!(mac.as_ref().len(), 32);
    let v = kms.verify_mac().key_id(&h).message(Blob::new("m")).mac_algorithm(MacAlgorithmSpec::HmacSha256).mac(mac.clone()).send().await.unwrap();
    assert!(v.mac_valid);
    assert_eq!(err(kms.verify_mac().key_id(&h).message(Blob::new("n")).mac_algorithm(MacAlgorithmSpec::HmacSha256).mac(mac).send().await), ("KMSInvalidMacException".to_string(), String::new()));
    let (code, msg) = err(kms.generate_mac().key_id(&h).message(Blob::new("m")).mac_algorithm(MacAlgorithmSpec::HmacSha512).send().await);
    assert_eq!((code.as_str(), msg.as_str()), ("InvalidKeyUsageException", "Algorithm HMAC_SHA_512 is incompatible with key spec HMAC_256."));
    let sym = kms.create_key().send().await.unwrap().key_metadata.unwrap();
    let (code, msg) = err(kms.generate_mac().key_id(&sym.key_id).message(Blob::new("m")).mac_algorithm(MacAlgorithmSpec::HmacSha256).send().await);
    assert_eq!((code.as_str(), msg), ("InvalidKeyUsageException", format!("{} key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac.", sym.arn.unwrap())));
    // ECDH: Coffer's secret equals the peer's.
    let a = key(&kms, KeySpec::EccNistP256, KeyUsageType::KeyAgreement).await;
    let a_pub = kms.get_public_key().key_id(&a).send().await.unwrap().public_key.unwrap().into_inner();
    let peer = agreement::PrivateKey::generate(&agreement::ECDH_P256).unwrap();
    let peer_pub = peer.compute_public_key().unwrap().as_der().unwrap().as_ref().to_vec();
    let shared = kms.derive_shared_secret().key_id(&a).key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh).public_key(Blob::new(peer_pub)).send().await.unwrap();
    assert_eq!(shared.key_origin.as_ref().unwrap().as_str(), "AWS_KMS");
    let mine = agreement::agree(&peer, agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, &a_pub), (), |s| Ok(s.to_vec())).unwrap();
    assert_eq!(shared.shared_secret.unwrap().as_ref(), &mine[..]);
    assert_eq!(any_code(kms.derive_shared_secret().key_id(&a).key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh).public_key(Blob::new("junk")).send().await), "ValidationException");
    let signer = key(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    assert_eq!(any_code(kms.derive_shared_secret().key_id(&signer).key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh).public_key(Blob::new(a_pub)).send().await), "InvalidKeyUsageException");
    // Data key pairs: the private key comes back encrypted under the symmetric key, with context.
    for spec in [DataKeyPairSpec::Rsa2048, DataKeyPairSpec::EccNistP384, DataKeyPairSpec::EccNistEdwards25519] {
        let p = kms.generate_data_key_pair().key_id(&sym.key_id).key_pair_spec(spec.clone()).encryption_context("use", "tls").send().await.unwrap();
        let private = p.private_key_plaintext.unwrap();
        let d = kms.decrypt().ciphertext_blob(p.private_key_ciphertext_blob.unwrap()).encryption_context("use", "tls").send().await.unwrap();
        assert_eq!(d.plaintext.unwrap().as_ref(), private.as_ref());
        assert_eq!(p.key_pair_spec, Some(spec.clone()));
        // The public key belongs to the private key.
        let public = p.public_key.unwrap().into_inner();
        let signed = match spec {
            DataKeyPairSpec::Rsa2048 => {
                let kp = signature::RsaKeyPair::from_pkcs8(private.as_ref()).unwrap();
                let mut sig = vec![0; kp.public_modulus_len()];
                kp.sign(&signature::RSA_PKCS1_SHA256, &rand::SystemRandom::new(), b"x", &mut sig).unwrap();
                signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &public).verify(b"x", &sig).is_ok()
            }
            DataKeyPairSpec::EccNistP384 => {
                let kp = signature::EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P384_SHA384_ASN1_SIGNING, private.as_ref()).unwrap();
                let sig = kp.sign(&rand::SystemRandom::new(), b"x").unwrap();
                signature::UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_ASN1, &public).verify(b"x", sig.as_ref()).is_ok()
            }
            _ => {
                let kp = signature::Ed25519KeyPair::from_pkcs8(private.as_ref()).unwrap();
                signature::UnparsedPublicKey::new(&signature::ED25519, &public).verify(b"x", kp.sign(b"x").as_ref()).is_ok()
            }
        };
        assert!(signed, "{spec:?}");
        let w = kms.generate_data_key_pair_without_plaintext().key_id(&sym.key_id).key_pair_spec(spec).send().await.unwrap();
        assert!(w.private_key_ciphertext_blob.is_some() && w.public_key.is_some());
    }
    let rsa = key(&kms, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    assert_eq!(any_code(kms.generate_data_key_pair().key_id(&rsa).key_pair_spec(DataKeyPairSpec::EccNistP256).send().await), "InvalidKeyUsageException");
    assert_eq!(any_code(kms.generate_data_key_pair().key_id(&sym.key_id).key_pair_spec(DataKeyPairSpec::Sm2).send().await), "UnsupportedOperationException");
}

/// Wraps `material` for import the way AWS documents (RSA-OAEP, or RSA-OAEP + AES-KWP).
fn wrap(spki: &[u8], algorithm: &AlgorithmSpec, material: &[u8]) -> Vec<u8> {
    let pk = rsa::OaepPublicEncryptingKey::new(rsa::PublicEncryptingKey::from_der(spki).unwrap()).unwrap();
    let oaep = match algorithm {
        AlgorithmSpec::RsaesOaepSha1 | AlgorithmSpec::RsaAesKeyWrapSha1 => &rsa::OAEP_SHA1_MGF1SHA1,
        _ => &rsa::OAEP_SHA256_MGF1SHA256,
    };
    let mut out = vec![0u8; pk.ciphertext_size()];
    match algorithm {
        AlgorithmSpec::RsaesOaepSha1 | AlgorithmSpec::RsaesOaepSha256 => pk.encrypt(oaep, material, &mut out, None).unwrap().to_vec(),
        _ => {
            use aws_lc_rs::key_wrap::{AES_256, AesKek, KeyWrapPadded};
            let aes = [0x42u8; 32];
            let mut w = pk.encrypt(oaep, &aes, &mut out, None).unwrap().to_vec();
            let mut kwp = vec![0u8; material.len() + 16];
            w.extend_from_slice(AesKek::new(&AES_256, &aes).unwrap().wrap_with_padding(material, &mut kwp).unwrap());
            w
        }
    }
}

/// `skew` is how far the dev clock has been moved ahead.
async fn params(kms: &aws_sdk_kms::Client, id: &str, alg: AlgorithmSpec, skew: i64) -> (Vec<u8>, Blob) {
    let p = kms.get_parameters_for_import().key_id(id).wrapping_algorithm(alg).wrapping_key_spec(WrappingKeySpec::Rsa2048).send().await.unwrap();
    let valid = p.parameters_valid_to.unwrap().secs() - std::time::UNIX_EPOCH.elapsed().unwrap().as_secs() as i64;
    assert!((86_300..=86_400).contains(&(valid - skew)), "{valid}");
    (p.public_key.unwrap().into_inner(), p.import_token.unwrap())
}

#[tokio::test]
async fn import_key_material() {
    let c = Coffer::dev();
    let kms = c.kms();
    let md = kms.create_key().origin(aws_sdk_kms::types::OriginType::External).send().await.unwrap().key_metadata.unwrap();
    let id = md.key_id.clone();
    assert_eq!(md.key_state, Some(KeyState::PendingImport));
    assert!(!md.enabled);
    assert_eq!(any_code(kms.encrypt().key_id(&id).plaintext(Blob::new("x")).send().await), "KMSInvalidStateException");
    // GetParametersForImport only for EXTERNAL keys.
    let normal = kms.create_key().send().await.unwrap().key_metadata.unwrap();
    let (code, msg) = err(kms.get_parameters_for_import().key_id(&normal.key_id).wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256).wrapping_key_spec(WrappingKeySpec::Rsa2048).send().await);
    assert_eq!((code.as_str(), msg), ("UnsupportedOperationException", format!("{} origin is AWS_KMS which is not valid for this operation.", normal.arn.unwrap())));
    let material = [0x11u8; 32];
    let (spki, token) = params(&kms, &id, AlgorithmSpec::RsaesOaepSha256, 0).await;
    let wrapped = wrap(&spki, &AlgorithmSpec::RsaesOaepSha256, &material);
    let (c1, m1) = err(kms.import_key_material().key_id(&id).import_token(token.clone()).encrypted_key_material(Blob::new(wrapped.clone())).send().await);
    assert_eq!((c1.as_str(), m1.as_str()), ("ValidationException", "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES"));
    let in_two_days = aws_sdk_kms::primitives::DateTime::from_secs(std::time::UNIX_EPOCH.elapsed().unwrap().as_secs() as i64 + 2 * 86_400);
    assert_eq!(any_code(kms.import_key_material().key_id(&id).import_token(token.clone()).encrypted_key_material(Blob::new(vec![1; 256])).valid_to(in_two_days).send().await), "InvalidCiphertextException");
    assert_eq!(any_code(kms.import_key_material().key_id(&normal.key_id).import_token(token.clone()).encrypted_key_material(Blob::new(wrapped.clone())).valid_to(in_two_days).send().await), "UnsupportedOperationException");
    let out = kms.import_key_material().key_id(&id).import_token(token.clone()).encrypted_key_material(Blob::new(wrapped.clone())).valid_to(in_two_days).expiration_model(ExpirationModelType::KeyMaterialExpires).send().await.unwrap();
    let material_id = out.key_material_id.unwrap();
    assert_eq!(material_id.len(), 64);
    // The token was used up.
    assert_eq!(any_code(kms.import_key_material().key_id(&id).import_token(token).encrypted_key_material(Blob::new(wrapped)).valid_to(in_two_days).send().await), "InvalidImportTokenException");
    let d = kms.describe_key().key_id(&id).send().await.unwrap().key_metadata.unwrap();
    assert_eq!((d.key_state, d.expiration_model, d.origin.map(|o| o.as_str().to_string())), (Some(KeyState::Enabled), Some(ExpirationModelType::KeyMaterialExpires), Some("EXTERNAL".to_string())));
    assert!(d.valid_to.is_some());
    let ct = kms.encrypt().key_id(&id).plaintext(Blob::new("byok")).send().await.unwrap().ciphertext_blob.unwrap();
    // Expiry returns the key to PendingImport.
    let r = c.advance_clock(3 * 86_400);
    assert_eq!(r["expired_materials"], 1);
    assert_eq!(kms.describe_key().key_id(&id).send().await.unwrap().key_metadata.unwrap().key_state, Some(KeyState::PendingImport));
    assert_eq!(any_code(kms.decrypt().ciphertext_blob(ct.clone()).send().await), "KMSInvalidStateException");
    // Different material is refused; the same material restores the key and its ciphertexts.
    let (spki, token) = params(&kms, &id, AlgorithmSpec::RsaAesKeyWrapSha256, 3 * 86_400).await;
    assert_eq!(any_code(kms.import_key_material().key_id(&id).import_token(token.clone()).encrypted_key_material(Blob::new(wrap(&spki, &AlgorithmSpec::RsaAesKeyWrapSha256, &[0x22; 32]))).expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire).send().await), "IncorrectKeyMaterialException");
    // One material per imported key: a second, new material is not supported.
    assert_eq!(any_code(kms.import_key_material().key_id(&id).import_token(token.clone()).encrypted_key_material(Blob::new(wrap(&spki, &AlgorithmSpec::RsaAesKeyWrapSha256, &[0x22; 32]))).import_type(aws_sdk_kms::types::ImportType::NewKeyMaterial).expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire).send().await), "UnsupportedOperationException");
    let again = kms.import_key_material().key_id(&id).import_token(token).encrypted_key_material(Blob::new(wrap(&spki, &AlgorithmSpec::RsaAesKeyWrapSha256, &material))).expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire).send().await.unwrap();
    assert_eq!(again.key_material_id.as_deref(), Some(material_id.as_str()));
    assert_eq!(kms.decrypt().ciphertext_blob(ct.clone()).send().await.unwrap().plaintext.unwrap().as_ref(), b"byok");
    // DeleteImportedKeyMaterial.
    kms.delete_imported_key_material().key_id(&id).send().await.unwrap();
    assert_eq!(kms.describe_key().key_id(&id).send().await.unwrap().key_metadata.unwrap().key_state, Some(KeyState::PendingImport));
    assert_eq!(any_code(kms.rotate_key_on_demand().key_id(&id).send().await), "KMSInvalidStateException");
    // An imported RSA signing key (PKCS#8 via RSA-AES key wrap).
    let signing = kms.create_key().origin(aws_sdk_kms::types::OriginType::External).key_spec(KeySpec::Rsa2048).key_usage(KeyUsageType::SignVerify).send().await.unwrap().key_metadata.unwrap().key_id;
    let own = signature::RsaKeyPair::generate(rsa::KeySize::Rsa2048).unwrap();
    let pkcs8: aws_lc_rs::encoding::Pkcs8V1Der = own.as_der().unwrap();
    let (spki, token) = params(&kms, &signing, AlgorithmSpec::RsaAesKeyWrapSha1, 3 * 86_400).await;
    kms.import_key_material().key_id(&signing).import_token(token).encrypted_key_material(Blob::new(wrap(&spki, &AlgorithmSpec::RsaAesKeyWrapSha1, pkcs8.as_ref()))).expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire).send().await.unwrap();
    let sig = kms.sign().key_id(&signing).message(Blob::new("imported")).signing_algorithm(SigningAlgorithmSpec::RsassaPkcs1V15Sha256).send().await.unwrap().signature.unwrap();
    signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, own.public_key().as_ref()).verify(b"imported", sig.as_ref()).unwrap();
    // Material of the wrong kind for the key is refused.
    let (spki, token) = params(&kms, &signing, AlgorithmSpec::RsaesOaepSha256, 3 * 86_400).await;
    assert_eq!(any_code(kms.import_key_material().key_id(&signing).import_token(token).encrypted_key_material(Blob::new(wrap(&spki, &AlgorithmSpec::RsaesOaepSha256, &[1u8; 32]))).expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire).send().await), "IncorrectKeyMaterialException");
}

#[tokio::test]
async fn grants_and_policies_on_asymmetric_keys() {
    let c = Coffer::dev();
    let root = coffer_it::Creds::new("111111111111", "x");
    let kms = c.kms_with(&root);
    let iam = c.iam_with(&root);
    iam.create_user().user_name("signer").send().await.unwrap();
    let k = iam.create_access_key().user_name("signer").send().await.unwrap().access_key.unwrap();
    let signer = c.kms_with(&coffer_it::Creds::new(&k.access_key_id, &k.secret_access_key));
    let id = key(&kms, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    assert_eq!(any_code(signer.sign().key_id(&id).message(Blob::new("x")).signing_algorithm(SigningAlgorithmSpec::EcdsaSha256).send().await), "AccessDeniedException");
    let g = kms.create_grant().key_id(&id).grantee_principal("arn:aws:iam::111111111111:user/signer").operations(GrantOperation::Sign).operations(GrantOperation::GetPublicKey).send().await.unwrap();
    assert!(g.grant_id.is_some());
    signer.sign().key_id(&id).message(Blob::new("x")).signing_algorithm(SigningAlgorithmSpec::EcdsaSha256).send().await.unwrap();
    signer.get_public_key().key_id(&id).send().await.unwrap();
    assert_eq!(any_code(signer.verify().key_id(&id).message(Blob::new("x")).signing_algorithm(SigningAlgorithmSpec::EcdsaSha256).signature(Blob::new(vec![0x30, 0x06])).send().await), "AccessDeniedException");
    assert_eq!(any_code(kms.create_grant().key_id(&id).grantee_principal("arn:aws:iam::111111111111:user/signer").operations(GrantOperation::Encrypt).send().await), "ValidationException");
    // kms:SigningAlgorithm / kms:MessageType conditions in an identity policy.
    let k2 = key(&kms, KeySpec::Rsa2048, KeyUsageType::SignVerify).await;
    iam.put_user_policy()
        .user_name("signer")
        .policy_name("pss-only")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Sign","Resource":"*","Condition":{"StringEquals":{"kms:SigningAlgorithm":"RSASSA_PSS_SHA_256","kms:MessageType":"RAW"}}}]}"#)
        .send()
        .await
        .unwrap();
    signer.sign().key_id(&k2).message(Blob::new("x")).signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256).send().await.unwrap();
    assert_eq!(any_code(signer.sign().key_id(&k2).message(Blob::new("x")).signing_algorithm(SigningAlgorithmSpec::RsassaPkcs1V15Sha256).send().await), "AccessDeniedException");
}
