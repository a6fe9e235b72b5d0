//! S3 errors: one enum, each variant an S3 error code with its HTTP status, mapped in one place
//! ([`S3Error::code`], [`S3Error::status`]). The server writes them as S3's XML error document.

/// Extra fields S3 adds to some error documents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorDetail {
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub argument_name: Option<String>,
    pub argument_value: Option<String>,
    pub condition: Option<String>,
    pub upload_id: Option<String>,
    /// The bucket's region (also sent as `x-amz-bucket-region`).
    pub region: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3Error {
    AccessDenied(String),
    BadDigest(String),
    BucketAlreadyExists(String),
    BucketAlreadyOwnedByYou(String),
    BucketNotEmpty(String),
    EntityTooLarge(String),
    EntityTooSmall(String),
    IllegalLocationConstraint(String),
    IncompleteBody(String),
    InvalidArgument { message: String, name: String, value: String },
    InvalidBucketName(String),
    InvalidDigest(String),
    InvalidEncryptionAlgorithm(String),
    InvalidLocationConstraint(String),
    InvalidPart(String),
    InvalidPartOrder(String),
    InvalidRange { size: u64 },
    InvalidRequest(String),
    InvalidStorageClass(String),
    InvalidTag(String),
    KeyTooLong(String),
    /// A KMS refusal as S3 reports it: `KMS.<code>` (e.g. KMS.DisabledException), HTTP 400.
    Kms { code: String, message: String },
    MalformedPolicy(String),
    MalformedXml,
    MetadataTooLarge(String),
    MethodNotAllowed(String),
    MissingContentLength,
    NoSuchBucket(String),
    NoSuchBucketPolicy(String),
    NoSuchKey(String),
    NoSuchUpload(String),
    NotImplemented(String),
    NotModified,
    /// The header whose condition failed (`If-Match`, `If-None-Match`, `If-Unmodified-Since`).
    PreconditionFailed(String),
    SignatureDoesNotMatch(String),
    TooManyParts,
    XAmzContentSha256Mismatch,
    /// The request was signed for another region than the bucket's.
    WrongRegion { region: String, asked: String },
    /// An error of the protocol layer (authentication ...) with its own code and status.
    Wire { code: String, status: u16, message: String },
    /// A concurrent change won; the client may retry.
    OperationAborted(String),
    Internal(String),
}

impl S3Error {
    pub fn code(&self) -> &str {
        match self {
            S3Error::AccessDenied(_) => "AccessDenied",
            S3Error::BadDigest(_) => "BadDigest",
            S3Error::BucketAlreadyExists(_) => "BucketAlreadyExists",
            S3Error::BucketAlreadyOwnedByYou(_) => "BucketAlreadyOwnedByYou",
            S3Error::BucketNotEmpty(_) => "BucketNotEmpty",
            S3Error::EntityTooLarge(_) => "EntityTooLarge",
            S3Error::EntityTooSmall(_) => "EntityTooSmall",
            S3Error::IllegalLocationConstraint(_) => "IllegalLocationConstraintException",
            S3Error::IncompleteBody(_) => "IncompleteBody",
            S3Error::InvalidArgument { .. } => "InvalidArgument",
            S3Error::InvalidBucketName(_) => "InvalidBucketName",
            S3Error::InvalidDigest(_) => "InvalidDigest",
            S3Error::InvalidEncryptionAlgorithm(_) => "InvalidEncryptionAlgorithmError",
            S3Error::InvalidLocationConstraint(_) => "InvalidLocationConstraint",
            S3Error::InvalidPart(_) => "InvalidPart",
            S3Error::InvalidPartOrder(_) => "InvalidPartOrder",
            S3Error::InvalidRange { .. } => "InvalidRange",
            S3Error::InvalidRequest(_) => "InvalidRequest",
            S3Error::InvalidStorageClass(_) => "InvalidStorageClass",
            S3Error::InvalidTag(_) => "InvalidTag",
            S3Error::KeyTooLong(_) => "KeyTooLongError",
            S3Error::Kms { code, .. } | S3Error::Wire { code, .. } => code,
            S3Error::MalformedPolicy(_) => "MalformedPolicy",
            S3Error::MalformedXml => "MalformedXML",
            S3Error::MetadataTooLarge(_) => "MetadataTooLarge",
            S3Error::MethodNotAllowed(_) => "MethodNotAllowed",
            S3Error::MissingContentLength => "MissingContentLength",
            S3Error::NoSuchBucket(_) => "NoSuchBucket",
            S3Error::NoSuchBucketPolicy(_) => "NoSuchBucketPolicy",
            S3Error::NoSuchKey(_) => "NoSuchKey",
            S3Error::NoSuchUpload(_) => "NoSuchUpload",
            S3Error::NotImplemented(_) => "NotImplemented",
            S3Error::NotModified => "NotModified",
            S3Error::PreconditionFailed(_) => "PreconditionFailed",
            S3Error::SignatureDoesNotMatch(_) => "SignatureDoesNotMatch",
            S3Error::TooManyParts => "InvalidArgument",
            S3Error::XAmzContentSha256Mismatch => "XAmzContentSHA256Mismatch",
            S3Error::OperationAborted(_) => "OperationAborted",
            S3Error::WrongRegion { .. } => "AuthorizationHeaderMalformed",
            S3Error::Internal(_) => "InternalError",
        }
    }

    /// The HTTP status S3 answers with.
    pub fn status(&self) -> u16 {
        match self {
            S3Error::AccessDenied(_) => 403,
            S3Error::SignatureDoesNotMatch(_) => 403,
            S3Error::BucketAlreadyExists(_) | S3Error::BucketAlreadyOwnedByYou(_) | S3Error::BucketNotEmpty(_) => 409,
            S3Error::OperationAborted(_) => 409,
            S3Error::NoSuchBucket(_) | S3Error::NoSuchBucketPolicy(_) | S3Error::NoSuchKey(_) | S3Error::NoSuchUpload(_) => 404,
            S3Error::MethodNotAllowed(_) => 405,
            S3Error::MissingContentLength => 411,
            S3Error::PreconditionFailed(_) => 412,
            S3Error::InvalidRange { .. } => 416,
            S3Error::NotModified => 304,
            S3Error::NotImplemented(_) => 501,
            S3Error::Internal(_) => 500,
            S3Error::Wire { status, .. } => *status,
            _ => 400,
        }
    }

    pub fn message(&self) -> String {
        match self {
            S3Error::MalformedXml => {
                "The XML you provided was not well-formed or did not validate against our published schema".into()
            }
            S3Error::MissingContentLength => "You must provide the Content-Length HTTP header.".into(),
            S3Error::NotModified => "Not Modified".into(),
            S3Error::PreconditionFailed(_) => "At least one of the pre-conditions you specified did not hold".into(),
            S3Error::InvalidRange { .. } => "The requested range is not satisfiable".into(),
            S3Error::TooManyParts => "Part number must be an integer between 1 and 10000, inclusive".into(),
            S3Error::XAmzContentSha256Mismatch => {
                "The provided 'x-amz-content-sha256' header does not match what was computed.".into()
            }
            S3Error::Internal(_) => "We encountered an internal error. Please try again.".into(),
            S3Error::WrongRegion { region, asked } => {
                format!("The authorization header is malformed; the region '{asked}' is wrong; expecting '{region}'")
            }
            S3Error::InvalidArgument { message, .. } | S3Error::Kms { message, .. } | S3Error::Wire { message, .. } => message.clone(),
            S3Error::AccessDenied(m)
            | S3Error::BadDigest(m)
            | S3Error::EntityTooLarge(m)
            | S3Error::EntityTooSmall(m)
            | S3Error::IllegalLocationConstraint(m)
            | S3Error::IncompleteBody(m)
            | S3Error::InvalidDigest(m)
            | S3Error::InvalidEncryptionAlgorithm(m)
            | S3Error::InvalidLocationConstraint(m)
            | S3Error::InvalidPart(m)
            | S3Error::InvalidPartOrder(m)
            | S3Error::InvalidRequest(m)
            | S3Error::InvalidStorageClass(m)
            | S3Error::InvalidTag(m)
            | S3Error::KeyTooLong(m)
            | S3Error::MalformedPolicy(m)
            | S3Error::MetadataTooLarge(m)
            | S3Error::MethodNotAllowed(m)
            | S3Error::NotImplemented(m)
            | S3Error::SignatureDoesNotMatch(m)
            | S3Error::OperationAborted(m) => m.clone(),
            S3Error::BucketAlreadyExists(_) => {
                "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.".into()
            }
            S3Error::BucketAlreadyOwnedByYou(_) => {
                "Your previous request to create the named bucket succeeded and you already own it.".into()
            }
            S3Error::BucketNotEmpty(_) => "The bucket you tried to delete is not empty".into(),
            S3Error::InvalidBucketName(_) => "The specified bucket is not valid.".into(),
            S3Error::NoSuchBucket(_) => "The specified bucket does not exist".into(),
            S3Error::NoSuchBucketPolicy(_) => "The bucket policy does not exist".into(),
            S3Error::NoSuchKey(_) => "The specified key does not exist.".into(),
            S3Error::NoSuchUpload(_) => {
                "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.".into()
            }
        }
    }

    /// The extra fields of the error document.
    pub fn detail(&self) -> ErrorDetail {
        let mut d = ErrorDetail::default();
        match self {
            S3Error::NoSuchBucket(b)
            | S3Error::BucketAlreadyExists(b)
            | S3Error::BucketAlreadyOwnedByYou(b)
            | S3Error::BucketNotEmpty(b)
            | S3Error::InvalidBucketName(b)
            | S3Error::NoSuchBucketPolicy(b) => d.bucket = Some(b.clone()),
            S3Error::NoSuchKey(k) => d.key = Some(k.clone()),
            S3Error::NoSuchUpload(u) => d.upload_id = Some(u.clone()),
            S3Error::InvalidArgument { name, value, .. } => {
                d.argument_name = Some(name.clone());
                d.argument_value = Some(value.clone());
            }
            S3Error::PreconditionFailed(c) => d.condition = Some(c.clone()),
            S3Error::WrongRegion { region, .. } => d.region = Some(region.clone()),
            _ => {}
        }
        d
    }

    /// An `InvalidArgument` naming the offending argument.
    pub fn invalid_argument(message: impl Into<String>, name: &str, value: &str) -> S3Error {
        S3Error::InvalidArgument { message: message.into(), name: name.into(), value: value.into() }
    }

    pub fn precondition(condition: &str) -> S3Error {
        S3Error::PreconditionFailed(condition.into())
    }
}

impl From<coffer_store::StoreError> for S3Error {
    fn from(e: coffer_store::StoreError) -> S3Error {
        S3Error::Internal(format!("store: {e}"))
    }
}

impl std::fmt::Display for S3Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}
