//! IAM and STS errors: one enum, mapped to AWS error codes and HTTP statuses (the awsQuery
//! protocol carries the status; botocore's iam/sts models give each code's status).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IamError {
    NoSuchEntity(String),
    EntityAlreadyExists(String),
    MalformedPolicyDocument(String),
    LimitExceeded(String),
    DeleteConflict(String),
    InvalidInput(String),
    /// Model constraint violations (IAM's code is `ValidationError`).
    Validation(String),
    AccessDenied(String),
    /// STS: a session token past its expiry.
    ExpiredToken(String),
    /// STS AssumeRole: the requested session is longer than the role allows, etc.
    UnmodifiableEntity(String),
    Conflict(String),
    /// The account already exists (admin API).
    AccountExists(String),
    /// Stored data could not be read or opened.
    Corrupt(String),
    Internal(String),
}

impl IamError {
    pub fn code(&self) -> &'static str {
        match self {
            IamError::NoSuchEntity(_) => "NoSuchEntity",
            IamError::EntityAlreadyExists(_) | IamError::AccountExists(_) => "EntityAlreadyExists",
            IamError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            IamError::LimitExceeded(_) => "LimitExceeded",
            IamError::DeleteConflict(_) => "DeleteConflict",
            IamError::InvalidInput(_) => "InvalidInput",
            IamError::Validation(_) => "ValidationError",
            IamError::AccessDenied(_) => "AccessDenied",
            IamError::ExpiredToken(_) => "ExpiredTokenException",
            IamError::UnmodifiableEntity(_) => "UnmodifiableEntity",
            IamError::Conflict(_) => "ConcurrentModification",
            IamError::Corrupt(_) | IamError::Internal(_) => "ServiceFailure",
        }
    }

    /// HTTP status, as botocore's models declare for each code.
    pub fn status(&self) -> u16 {
        match self {
            IamError::NoSuchEntity(_) => 404,
            IamError::EntityAlreadyExists(_)
            | IamError::AccountExists(_)
            | IamError::LimitExceeded(_)
            | IamError::DeleteConflict(_)
            | IamError::Conflict(_) => 409,
            IamError::AccessDenied(_) => 403,
            IamError::Corrupt(_) | IamError::Internal(_) => 500,
            _ => 400,
        }
    }

    pub fn message(&self) -> String {
        match self {
            IamError::Corrupt(_) | IamError::Internal(_) => {
                "The request processing has failed because of an unknown error, exception or failure.".into()
            }
            IamError::AccountExists(a) => format!("Account {a} already exists."),
            IamError::NoSuchEntity(m)
            | IamError::EntityAlreadyExists(m)
            | IamError::MalformedPolicyDocument(m)
            | IamError::LimitExceeded(m)
            | IamError::DeleteConflict(m)
            | IamError::InvalidInput(m)
            | IamError::Validation(m)
            | IamError::AccessDenied(m)
            | IamError::ExpiredToken(m)
            | IamError::UnmodifiableEntity(m)
            | IamError::Conflict(m) => m.clone(),
        }
    }
}

impl std::fmt::Display for IamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IamError::Corrupt(m) => write!(f, "stored identity data is unreadable: {m}"),
            IamError::Internal(m) => write!(f, "internal error: {m}"),
            _ => write!(f, "{}: {}", self.code(), self.message()),
        }
    }
}
impl std::error::Error for IamError {}

impl From<coffer_store::StoreError> for IamError {
    fn from(e: coffer_store::StoreError) -> Self {
        IamError::Internal(e.to_string())
    }
}

pub(crate) fn validated(v: coffer_util::Validation) -> Result<(), IamError> {
    v.finish().map_err(IamError::Validation)
}
