//! Pure helpers every Coffer layer shares.
//!
//! Nothing here does I/O, cryptography or knows about a particular AWS service: time arithmetic
//! (AWS speaks epoch seconds, ISO 8601 and the SigV4 basic format), the wording of AWS validation
//! errors, and opaque pagination markers. Keeping them in one dependency-free crate means the
//! services and the wire layer cannot drift apart on, say, how a date is printed.
#![forbid(unsafe_code)]

pub mod marker;
pub mod time;
pub mod validate;

pub use time::{Clock, Timestamp};
pub use validate::Validation;
