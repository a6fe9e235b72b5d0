//! `coffer-bench primitive`: the cryptographic operation behind a KMS or S3 scenario, done in a
//! loop on one thread with aws-lc-rs directly (or, for S3's chunk cipher and checksums, the code
//! Coffer uses), with nothing else around it. It is the single-core rate a server doing that
//! operation could reach at best, to read the server's req/s and CPU per request against.
//!
//! Signing and MAC operations work on a 32-byte message (as the KMS scenarios send); the bulk
//! operations (AES-256-GCM in 64 KiB chunks by the S3 segment writer, CRC64NVME, MD5, SHA-256)
//! on a 1 MiB buffer, reported in MB/s as well.

use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, RSA_PSS_SHA256, RsaKeyPair};
use aws_lc_rs::{digest, hmac};
use coffer_crypto::checksum::{ChecksumAlgorithm, Checksummer, Md5};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// ECDSA P-256 over SHA-256 (KMS ECDSA_SHA_256 with MessageType RAW): hash and sign.
    EcdsaP256,
    /// RSA-2048 PSS with SHA-256 (KMS RSASSA_PSS_SHA_256, RAW): hash and sign.
    Rsa2048Pss,
    /// HMAC-SHA-256 with a 32-byte key (KMS HMAC_256 / HMAC_SHA_256).
    Hmac256,
    /// AES-256-GCM sealing of 64 KiB chunks (S3 segment encryption), per 1 MiB.
    Aes256Gcm,
    /// CRC64NVME (Coffer's table implementation, computed on every PUT), per 1 MiB.
    Crc64nvme,
    /// MD5 (S3 ETags / Content-MD5), per 1 MiB.
    Md5,
    /// SHA-256, per 1 MiB.
    Sha256,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::EcdsaP256 => "ecdsa-p256",
            Op::Rsa2048Pss => "rsa2048-pss",
            Op::Hmac256 => "hmac256",
            Op::Aes256Gcm => "aes256-gcm",
            Op::Crc64nvme => "crc64nvme",
            Op::Md5 => "md5",
            Op::Sha256 => "sha256",
        }
    }

    /// Bytes one operation processes, for the bulk operations.
    fn bytes(self) -> Option<usize> {
        match self {
            Op::Aes256Gcm | Op::Crc64nvme | Op::Md5 | Op::Sha256 => Some(1 << 20),
            _ => None,
        }
    }
}

/// Runs `f` (one operation per call, given a counter) until `duration` has passed.
fn time(duration: Duration, mut f: impl FnMut(u64)) -> (u64, f64) {
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        for _ in 0..16 {
            f(n);
            n += 1;
        }
        let e = start.elapsed();
        if e >= duration {
            return (n, e.as_secs_f64());
        }
    }
}

pub fn run(op: Op, duration: Duration, json: bool) -> Result<(), String> {
    let rng = SystemRandom::new();
    let mut message = [0u8; 32];
    coffer_crypto::random::fill(&mut message);
    let mut buf = vec![0u8; op.bytes().unwrap_or(0)];
    coffer_crypto::random::fill(&mut buf);
    let cpu0 = crate::run::process_cpu_secs(None);
    let mach0 = crate::run::machine_cpu_secs();
    let mut sink = 0u8;
    let (ops, secs) = match op {
        Op::EcdsaP256 => {
            let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).map_err(|_| "ECDSA key generation failed")?;
            time(duration, |i| {
                message[..8].copy_from_slice(&i.to_le_bytes());
                let sig = kp.sign(&rng, &message).expect("ECDSA signs");
                sink ^= sig.as_ref()[0];
            })
        }
        Op::Rsa2048Pss => {
            let kp = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| "RSA key generation failed")?;
            let mut sig = vec![0u8; kp.public_modulus_len()];
            time(duration, |i| {
                message[..8].copy_from_slice(&i.to_le_bytes());
                kp.sign(&RSA_PSS_SHA256, &rng, &message, &mut sig).expect("RSA signs");
                sink ^= sig[0];
            })
        }
        Op::Hmac256 => {
            let key_bytes: [u8; 32] = coffer_crypto::random::bytes();
            let key = hmac::Key::new(hmac::HMAC_SHA256, &key_bytes);
            time(duration, |i| {
                message[..8].copy_from_slice(&i.to_le_bytes());
                sink ^= hmac::sign(&key, &message).as_ref()[0];
            })
        }
        Op::Aes256Gcm => {
            // The S3 segment writer itself (its chunk cipher and its copy into the output buffer).
            let key = coffer_crypto::object::ObjectKey::random().new_segment();
            let (mut writer, _) = coffer_crypto::object::SegmentWriter::new(key, coffer_crypto::object::DEFAULT_CHUNK_SIZE_LOG2);
            let mut out = Vec::with_capacity(buf.len() + (2 << 16));
            time(duration, |_| {
                out.clear();
                writer.push(&buf, &mut out);
                sink ^= out.last().copied().unwrap_or(0);
            })
        }
        Op::Crc64nvme => {
            let mut c = Checksummer::new(ChecksumAlgorithm::Crc64Nvme);
            let r = time(duration, |_| c.update(&buf));
            sink ^= c.finish()[0];
            r
        }
        Op::Md5 => {
            let mut m = Md5::new();
            let r = time(duration, |_| m.update(&buf));
            sink ^= m.finish()[0];
            r
        }
        Op::Sha256 => {
            let mut d = digest::Context::new(&digest::SHA256);
            let r = time(duration, |_| d.update(&buf));
            sink ^= d.finish().as_ref()[0];
            r
        }
    };
    let cpu1 = crate::run::process_cpu_secs(None);
    let mach1 = crate::run::machine_cpu_secs();
    std::hint::black_box(sink);
    let ops_per_s = ops as f64 / secs;
    let mb_per_s = op.bytes().map(|b| ops_per_s * b as f64 / 1e6);
    let client_cpu = cpu0.zip(cpu1).map(|(a, b)| (b - a) / secs * 100.0);
    let machine_cpu = mach0.zip(mach1).map(|(a, b)| (b.0 - a.0) / secs * 100.0);
    if json {
        let v = serde_json::json!({
            "op": op.name(),
            "threads": 1,
            "duration_s": (secs * 1000.0).round() / 1000.0,
            "ops": ops,
            "ops_per_s": ops_per_s.round(),
            "us_per_op": ((1e6 / ops_per_s) * 1000.0).round() / 1000.0,
            "mb_per_s": mb_per_s.map(|m| m.round()),
            "bytes_per_op": op.bytes(),
            "client_cpu_pct": client_cpu.map(|c| c.round()),
            "machine_cpu_pct": machine_cpu.map(|c| c.round()),
        });
        println!("{v}");
    } else {
        print!("{}: {ops} operations in {secs:.2} s on one thread: {ops_per_s:.0} ops/s, {:.2} µs each", op.name(), 1e6 / ops_per_s);
        if let Some(m) = mb_per_s {
            print!(", {m:.0} MB/s");
        }
        println!();
    }
    Ok(())
}
