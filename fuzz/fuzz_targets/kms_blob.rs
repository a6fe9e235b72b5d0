#![no_main]
//! See `coffer_fuzz::blob` (fuzz/src/blob.rs) for the input format and the checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| coffer_fuzz::blob::run(data));
