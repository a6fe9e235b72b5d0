//! KMS errors: one enum, one variant per AWS error code the service returns.
//!
//! The variant decides the wire `__type` ([`KmsError::code`]); the server maps codes to HTTP
//! statuses in one place. Messages follow AWS's wording where it is known (see
//! ../shared/reference/kms-aws-error-messages.txt) and never contain plaintext, key bytes or
//! ciphertext.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KmsError {
    AccessDenied(String),
    AlreadyExists(String),
    Conflict(String),
    Disabled(String),
    DryRunOperation,
    IncorrectKey,
    InvalidAliasName(String),
    InvalidArn(String),
    InvalidCiphertext,
    InvalidGrantToken(String),
    InvalidKeyUsage(String),
    InvalidMac,
    InvalidMarker,
    InvalidSignature,
    IncorrectKeyMaterial(String),
    InvalidImportToken(String),
    ExpiredImportToken(String),
    InvalidState(String),
    LimitExceeded(String),
    MalformedPolicyDocument(String),
    NotFound(String),
    Tag(String),
    UnsupportedOperation(String),
    Validation(String),
    /// Storage or another internal failure; the message is for the log, not the client.
    Internal(String),
}

impl KmsError {
    /// The AWS error code (`__type`).
    pub fn code(&self) -> &'static str {
        match self {
            KmsError::AccessDenied(_) => "AccessDeniedException",
            KmsError::AlreadyExists(_) => "AlreadyExistsException",
            KmsError::Conflict(_) => "ConflictException",
            KmsError::Disabled(_) => "DisabledException",
            KmsError::DryRunOperation => "DryRunOperationException",
            KmsError::IncorrectKey => "IncorrectKeyException",
            KmsError::InvalidAliasName(_) => "InvalidAliasNameException",
            KmsError::InvalidArn(_) => "InvalidArnException",
            KmsError::InvalidCiphertext => "InvalidCiphertextException",
            KmsError::InvalidGrantToken(_) => "InvalidGrantTokenException",
            KmsError::InvalidKeyUsage(_) => "InvalidKeyUsageException",
            KmsError::InvalidMac => "KMSInvalidMacException",
            KmsError::InvalidMarker => "InvalidMarkerException",
            KmsError::InvalidSignature => "KMSInvalidSignatureException",
            KmsError::IncorrectKeyMaterial(_) => "IncorrectKeyMaterialException",
            KmsError::InvalidImportToken(_) => "InvalidImportTokenException",
            KmsError::ExpiredImportToken(_) => "ExpiredImportTokenException",
            KmsError::InvalidState(_) => "KMSInvalidStateException",
            KmsError::LimitExceeded(_) => "LimitExceededException",
            KmsError::MalformedPolicyDocument(_) => "MalformedPolicyDocumentException",
            KmsError::NotFound(_) => "NotFoundException",
            KmsError::Tag(_) => "TagException",
            KmsError::UnsupportedOperation(_) => "UnsupportedOperationException",
            KmsError::Validation(_) => "ValidationException",
            KmsError::Internal(_) => "KMSInternalException",
        }
    }

    /// The message sent to the client.
    pub fn message(&self) -> String {
        match self {
            KmsError::DryRunOperation => "The request would have succeeded, but the DryRun option is set.".into(),
            KmsError::IncorrectKey => {
                "The key ID in the request does not identify a CMK that can perform this operation.".into()
            }
            KmsError::InvalidCiphertext | KmsError::InvalidMac | KmsError::InvalidSignature => String::new(),
            KmsError::InvalidMarker => "The marker is not valid.".into(),
            KmsError::Internal(_) => "An internal error occurred. Please retry your request.".into(),
            KmsError::AccessDenied(m)
            | KmsError::AlreadyExists(m)
            | KmsError::Conflict(m)
            | KmsError::Disabled(m)
            | KmsError::InvalidAliasName(m)
            | KmsError::InvalidArn(m)
            | KmsError::InvalidGrantToken(m)
            | KmsError::InvalidKeyUsage(m)
            | KmsError::IncorrectKeyMaterial(m)
            | KmsError::InvalidImportToken(m)
            | KmsError::ExpiredImportToken(m)
            | KmsError::InvalidState(m)
            | KmsError::LimitExceeded(m)
            | KmsError::MalformedPolicyDocument(m)
            | KmsError::NotFound(m)
            | KmsError::Tag(m)
            | KmsError::UnsupportedOperation(m)
            | KmsError::Validation(m) => m.clone(),
        }
    }

    /// Whether the fault is the server's (5xx) rather than the caller's.
    pub fn is_server_fault(&self) -> bool {
        matches!(self, KmsError::Internal(_))
    }
}

impl std::fmt::Display for KmsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KmsError::Internal(m) => write!(f, "{}: {m}", self.code()),
            _ => write!(f, "{}: {}", self.code(), self.message()),
        }
    }
}

impl std::error::Error for KmsError {}

impl From<coffer_store::StoreError> for KmsError {
    fn from(e: coffer_store::StoreError) -> Self {
        KmsError::Internal(e.to_string())
    }
}

/// Turns a finished [`coffer_util::Validation`] into the AWS error.
pub fn validated(v: coffer_util::Validation) -> Result<(), KmsError> {
    v.finish().map_err(KmsError::Validation)
}
