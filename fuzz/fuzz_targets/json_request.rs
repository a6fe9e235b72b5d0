#![no_main]
//! See `coffer_fuzz::json_request` (fuzz/src/json_request.rs) for the input format and the checks.

libfuzzer_sys::fuzz_target!(|data: &[u8]| coffer_fuzz::json_request::run(data));
