#![no_main]
//! S3 aws-chunked bodies: `coffer_server::s3chunked::fuzz_decode` decodes the input (after two
//! control bytes choosing the trailer mode, the declared length and trailers, and the piece size)
//! in all three modes and asserts the decoder's invariants. See crates/coffer-server/src/s3chunked.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| coffer_server::s3chunked::fuzz_decode(data));
