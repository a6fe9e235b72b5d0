#![no_main]
//! See `coffer_fuzz::object` (fuzz/src/object.rs) for the input format and the checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| coffer_fuzz::object::run(data));
