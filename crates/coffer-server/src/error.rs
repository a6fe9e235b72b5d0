//! Every error that leaves Coffer, mapped to the wire in one place.
//!
//! Services return their own error enums (for KMS, [`coffer_kms::KmsError`]) whose variants are
//! AWS error codes; authentication and protocol failures are [`WireError`]s made here. This
//! module decides HTTP statuses (AWS answers client errors with 400 on the JSON protocols) and
//! the JSON body `{"__type": ..., "message": ...}`.

use bytes::Bytes;
use coffer_kms::KmsError;
use hyper::StatusCode;

use crate::sigv4::AuthError;

/// An error ready for the wire.
#[derive(Debug, Clone)]
pub struct WireError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl WireError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> WireError {
        WireError { status, code, message: message.into() }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> WireError {
        WireError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// The awsJson error body.
    pub fn json_body(&self) -> Bytes {
        let mut m = serde_json::Map::new();
        m.insert("__type".into(), self.code.into());
        if !self.message.is_empty() {
            m.insert("message".into(), self.message.clone().into());
        }
        Bytes::from(serde_json::to_vec(&m).expect("error body serialises"))
    }
}

impl From<KmsError> for WireError {
    fn from(e: KmsError) -> Self {
        let status = if e.is_server_fault() { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::BAD_REQUEST };
        WireError { status, code: e.code(), message: e.message() }
    }
}

/// Authentication failures on the JSON protocols (KMS, SSM).
pub fn auth_json(e: &AuthError) -> WireError {
    match e {
        AuthError::Missing => {
            WireError::bad_request("MissingAuthenticationTokenException", "Request is missing Authentication Token")
        }
        AuthError::Incomplete(m) => WireError::bad_request("IncompleteSignatureException", m.clone()),
        AuthError::UnknownAccessKey => {
            WireError::bad_request("UnrecognizedClientException", "The security token included in the request is invalid.")
        }
        AuthError::BadSignature => WireError::bad_request(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ),
        AuthError::Skewed(m) | AuthError::Expired(m) => WireError::bad_request("InvalidSignatureException", m.clone()),
        AuthError::ExpiredToken => {
            WireError::bad_request("ExpiredTokenException", "The security token included in the request is expired")
        }
    }
}

/// Authentication failures on the awsQuery protocols (IAM, STS): 403 with Sender codes.
pub fn auth_query(e: &AuthError) -> WireError {
    let forbidden = |code, msg: &str| WireError::new(StatusCode::FORBIDDEN, code, msg);
    match e {
        AuthError::Missing => forbidden("MissingAuthenticationToken", "Request is missing Authentication Token"),
        AuthError::Incomplete(m) => WireError::bad_request("IncompleteSignature", m.clone()),
        AuthError::UnknownAccessKey => forbidden("InvalidClientTokenId", "The security token included in the request is invalid."),
        AuthError::BadSignature => forbidden(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ),
        AuthError::Skewed(m) | AuthError::Expired(m) => forbidden("SignatureDoesNotMatch", m),
        AuthError::ExpiredToken => forbidden("ExpiredToken", "The security token included in the request is expired"),
    }
}

impl From<coffer_ssm::SsmError> for WireError {
    fn from(e: coffer_ssm::SsmError) -> Self {
        let status = if e.is_server_fault() { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::BAD_REQUEST };
        WireError { status, code: e.code(), message: e.message() }
    }
}

impl From<coffer_iam::IamError> for WireError {
    fn from(e: coffer_iam::IamError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
        WireError { status, code: e.code(), message: e.message() }
    }
}
