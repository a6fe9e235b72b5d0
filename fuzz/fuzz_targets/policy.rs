#![no_main]
//! See `coffer_fuzz::policy` (fuzz/src/policy.rs) for the input format and the checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| coffer_fuzz::policy::run(data));
