#![no_main]
//! See `coffer_fuzz::sigv4` (fuzz/src/sigv4.rs) for the input format and the checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| coffer_fuzz::sigv4::run(data));
