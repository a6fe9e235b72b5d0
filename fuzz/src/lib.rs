//! The bodies of Coffer's fuzz targets (docs/fuzzing.md), one module per target, plus the input
//! formats they share with the seed generator (`examples/gen_corpus.rs`).
//!
//! Every target asserts more than "does not panic" where a cheap property exists: round trips
//! (encode → decode), consistency between a parser and the checks that follow it, and invariants of
//! decisions. A failed assertion is a finding like a panic.

pub mod blob;
pub mod json_request;
pub mod object;
pub mod policy;
pub mod sigv4;

/// A tiny deterministic generator for choices derived from the input (xorshift64*).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: &[u8]) -> Rng {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for &b in seed {
            s = (s ^ u64::from(b)).wrapping_mul(0x100_0000_01B3);
        }
        Rng(s | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-ish in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 { 0 } else { self.next_u64() % bound }
    }
}
