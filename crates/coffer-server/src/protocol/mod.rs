//! Wire protocols: how a request body becomes a service request and a result becomes a body.
pub mod json;
pub mod query;
