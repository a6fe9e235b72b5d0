//! The IAM policy language and the request context it is evaluated against.
//!
//! Why pure: policy evaluation decides who may use a key, so it must be exhaustively testable
//! from tables of (document, request) → decision without a server, a store or a clock. This crate
//! therefore does no I/O and holds no state; callers hand it a parsed [`document::PolicyDocument`]
//! and a [`context::Caller`] plus request facts.
//!
//! - [`document`]: parsing and validation of policy JSON (identity, resource and trust policies),
//!   with `MalformedPolicyDocument` messages that say what is wrong and where.
//! - [`context`]: who is calling (principal, account, region, transport) — built by the server
//!   from SigV4, passed to every service call, and carried into in-process calls between services.
//! - [`eval`]: policy evaluation — does a document allow, deny, or not speak to a request?
//!   Internally split into `evaluate` (statements, principals), `conditions` (operators),
//!   `matching` (wildcards, ARNs) and `variables` (`${...}` substitution).
//!
//! `unsafe` is forbidden: this crate decides who may use a key and works on untrusted policy
//! text and request values, and nothing in it needs raw memory access for speed (byte-wise
//! matching on `&str` is already allocation-free). A memory-safety bug here would be an
//! authorization bug.
#![forbid(unsafe_code)]

pub mod access;
pub mod actions;
mod conditions;
pub mod context;
pub mod document;
pub mod eval;
mod evaluate;
mod matching;
mod variables;

#[cfg(test)]
mod eval_tests;

pub use access::{Access, Denial, Identities, decide, global_context};
pub use context::{Caller, Principal, PrincipalKind};
pub use document::{PolicyDocument, PolicyError, PolicyKind};
pub use eval::{Context, Decision, EvalRequest, ResourceDecision, evaluate_identity, evaluate_resource};

/// Whether an ARN pattern (`*` and `?` within segments, as in `ArnLike`) matches `arn`.
pub fn arn_like(pattern: &str, arn: &str) -> bool {
    matching::arn_match(matching::Wild::new(pattern), arn)
}
