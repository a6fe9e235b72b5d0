//! Parameter Store errors: one enum, each variant an AWS error code (HTTP 400 on the wire unless
//! it is a server fault).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsmError {
    AccessDenied(String),
    HierarchyLevelLimitExceeded(String),
    IncompatiblePolicy(String),
    InvalidAllowedPattern(String),
    InvalidFilterKey(String),
    InvalidFilterOption(String),
    InvalidFilterValue(String),
    InvalidKeyId(String),
    InvalidNextToken,
    InvalidPolicyAttribute(String),
    InvalidPolicyType(String),
    InvalidResourceId(String),
    InvalidResourceType(String),
    ParameterAlreadyExists,
    ParameterLimitExceeded(String),
    ParameterMaxVersionLimitExceeded(String),
    ParameterNotFound(String),
    ParameterPatternMismatch(String),
    ParameterVersionLabelLimitExceeded(String),
    ParameterVersionNotFound(String),
    PoliciesLimitExceeded(String),
    TooManyTags(String),
    TooManyUpdates,
    UnsupportedParameterType(String),
    Validation(String),
    Internal(String),
}

impl SsmError {
    pub fn code(&self) -> &'static str {
        match self {
            SsmError::AccessDenied(_) => "AccessDeniedException",
            SsmError::HierarchyLevelLimitExceeded(_) => "HierarchyLevelLimitExceededException",
            SsmError::IncompatiblePolicy(_) => "IncompatiblePolicyException",
            SsmError::InvalidAllowedPattern(_) => "InvalidAllowedPatternException",
            SsmError::InvalidFilterKey(_) => "InvalidFilterKey",
            SsmError::InvalidFilterOption(_) => "InvalidFilterOption",
            SsmError::InvalidFilterValue(_) => "InvalidFilterValue",
            SsmError::InvalidKeyId(_) => "InvalidKeyId",
            SsmError::InvalidNextToken => "InvalidNextToken",
            SsmError::InvalidPolicyAttribute(_) => "InvalidPolicyAttributeException",
            SsmError::InvalidPolicyType(_) => "InvalidPolicyTypeException",
            SsmError::InvalidResourceId(_) => "InvalidResourceId",
            SsmError::InvalidResourceType(_) => "InvalidResourceType",
            SsmError::ParameterAlreadyExists => "ParameterAlreadyExists",
            SsmError::ParameterLimitExceeded(_) => "ParameterLimitExceeded",
            SsmError::ParameterMaxVersionLimitExceeded(_) => "ParameterMaxVersionLimitExceeded",
            SsmError::ParameterNotFound(_) => "ParameterNotFound",
            SsmError::ParameterPatternMismatch(_) => "ParameterPatternMismatchException",
            SsmError::ParameterVersionLabelLimitExceeded(_) => "ParameterVersionLabelLimitExceeded",
            SsmError::ParameterVersionNotFound(_) => "ParameterVersionNotFound",
            SsmError::PoliciesLimitExceeded(_) => "PoliciesLimitExceededException",
            SsmError::TooManyTags(_) => "TooManyTagsError",
            SsmError::TooManyUpdates => "TooManyUpdates",
            SsmError::UnsupportedParameterType(_) => "UnsupportedParameterType",
            SsmError::Validation(_) => "ValidationException",
            SsmError::Internal(_) => "InternalServerError",
        }
    }

    pub fn message(&self) -> String {
        match self {
            SsmError::InvalidNextToken => "The specified token isn't valid.".into(),
            SsmError::ParameterAlreadyExists => {
                "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.".into()
            }
            SsmError::TooManyUpdates => {
                "There are concurrent updates for a resource that supports one update at a time.".into()
            }
            SsmError::Internal(_) => "An error occurred on the server side.".into(),
            SsmError::AccessDenied(m)
            | SsmError::HierarchyLevelLimitExceeded(m)
            | SsmError::IncompatiblePolicy(m)
            | SsmError::InvalidAllowedPattern(m)
            | SsmError::InvalidFilterKey(m)
            | SsmError::InvalidFilterOption(m)
            | SsmError::InvalidFilterValue(m)
            | SsmError::InvalidKeyId(m)
            | SsmError::InvalidPolicyAttribute(m)
            | SsmError::InvalidPolicyType(m)
            | SsmError::InvalidResourceId(m)
            | SsmError::InvalidResourceType(m)
            | SsmError::ParameterLimitExceeded(m)
            | SsmError::ParameterMaxVersionLimitExceeded(m)
            | SsmError::ParameterNotFound(m)
            | SsmError::ParameterPatternMismatch(m)
            | SsmError::ParameterVersionLabelLimitExceeded(m)
            | SsmError::ParameterVersionNotFound(m)
            | SsmError::PoliciesLimitExceeded(m)
            | SsmError::TooManyTags(m)
            | SsmError::UnsupportedParameterType(m)
            | SsmError::Validation(m) => m.clone(),
        }
    }

    pub fn is_server_fault(&self) -> bool {
        matches!(self, SsmError::Internal(_))
    }
}

impl std::fmt::Display for SsmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SsmError::Internal(m) => write!(f, "{}: {m}", self.code()),
            _ => write!(f, "{}: {}", self.code(), self.message()),
        }
    }
}
impl std::error::Error for SsmError {}

impl From<coffer_store::StoreError> for SsmError {
    fn from(e: coffer_store::StoreError) -> Self {
        SsmError::Internal(e.to_string())
    }
}

pub(crate) fn validated(v: coffer_util::Validation) -> Result<(), SsmError> {
    v.finish().map_err(SsmError::Validation)
}
