//! The IAM and STS operation tables (awsQuery): `Action=<Op>` → a coffer-iam method. Nothing else.

use coffer_iam::{Iam, IamError, Output, Params};
use coffer_policy::Caller;

pub const IAM_NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
pub const STS_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// IAM operations this release implements (the coverage test compares them with botocore).
pub const IAM_IMPLEMENTED: &[&str] = &[
    "AttachRolePolicy",
    "AttachUserPolicy",
    "CreateAccessKey",
    "CreatePolicy",
    "CreateRole",
    "CreateUser",
    "DeleteAccessKey",
    "DeletePolicy",
    "DeleteRole",
    "DeleteRolePolicy",
    "DeleteUser",
    "DeleteUserPolicy",
    "DetachRolePolicy",
    "DetachUserPolicy",
    "GetPolicy",
    "GetPolicyVersion",
    "GetRole",
    "GetRolePolicy",
    "GetUser",
    "GetUserPolicy",
    "ListAccessKeys",
    "ListAttachedRolePolicies",
    "ListAttachedUserPolicies",
    "ListPolicies",
    "ListRolePolicies",
    "ListRoles",
    "ListUserPolicies",
    "ListUsers",
    "PutRolePolicy",
    "PutUserPolicy",
    "TagUser",
    "UntagUser",
    "UpdateAccessKey",
    "UpdateAssumeRolePolicy",
];

pub const STS_IMPLEMENTED: &[&str] = &["AssumeRole", "GetCallerIdentity"];

/// An IAM/STS failure on the wire: the service error, or an unknown action.
pub enum QueryError {
    Service(IamError),
    UnknownAction(String),
}

impl From<IamError> for QueryError {
    fn from(e: IamError) -> Self {
        QueryError::Service(e)
    }
}

pub async fn dispatch(iam: &Iam, c: &Caller, service: &str, action: &str, p: Params) -> Result<Output, QueryError> {
    let r = match (service, action) {
        ("sts", "GetCallerIdentity") => iam.get_caller_identity(c, p).await,
        ("sts", "AssumeRole") => iam.assume_role(c, p).await,
        ("iam", "AttachRolePolicy") => iam.attach_role_policy(c, p).await,
        ("iam", "AttachUserPolicy") => iam.attach_user_policy(c, p).await,
        ("iam", "CreateAccessKey") => iam.create_access_key(c, p).await,
        ("iam", "CreatePolicy") => iam.create_policy(c, p).await,
        ("iam", "CreateRole") => iam.create_role(c, p).await,
        ("iam", "CreateUser") => iam.create_user(c, p).await,
        ("iam", "DeleteAccessKey") => iam.delete_access_key(c, p).await,
        ("iam", "DeletePolicy") => iam.delete_policy(c, p).await,
        ("iam", "DeleteRole") => iam.delete_role(c, p).await,
        ("iam", "DeleteRolePolicy") => iam.delete_role_policy(c, p).await,
        ("iam", "DeleteUser") => iam.delete_user(c, p).await,
        ("iam", "DeleteUserPolicy") => iam.delete_user_policy(c, p).await,
        ("iam", "DetachRolePolicy") => iam.detach_role_policy(c, p).await,
        ("iam", "DetachUserPolicy") => iam.detach_user_policy(c, p).await,
        ("iam", "GetPolicy") => iam.get_policy(c, p).await,
        ("iam", "GetPolicyVersion") => iam.get_policy_version(c, p).await,
        ("iam", "GetRole") => iam.get_role(c, p).await,
        ("iam", "GetRolePolicy") => iam.get_role_policy(c, p).await,
        ("iam", "GetUser") => iam.get_user(c, p).await,
        ("iam", "GetUserPolicy") => iam.get_user_policy(c, p).await,
        ("iam", "ListAccessKeys") => iam.list_access_keys(c, p).await,
        ("iam", "ListAttachedRolePolicies") => iam.list_attached_role_policies(c, p).await,
        ("iam", "ListAttachedUserPolicies") => iam.list_attached_user_policies(c, p).await,
        ("iam", "ListPolicies") => iam.list_policies(c, p).await,
        ("iam", "ListRolePolicies") => iam.list_role_policies(c, p).await,
        ("iam", "ListRoles") => iam.list_roles(c, p).await,
        ("iam", "ListUserPolicies") => iam.list_user_policies(c, p).await,
        ("iam", "ListUsers") => iam.list_users(c, p).await,
        ("iam", "PutRolePolicy") => iam.put_role_policy(c, p).await,
        ("iam", "PutUserPolicy") => iam.put_user_policy(c, p).await,
        ("iam", "TagUser") => iam.tag_user(c, p).await,
        ("iam", "UntagUser") => iam.untag_user(c, p).await,
        ("iam", "UpdateAccessKey") => iam.update_access_key(c, p).await,
        ("iam", "UpdateAssumeRolePolicy") => iam.update_assume_role_policy(c, p).await,
        _ => return Err(QueryError::UnknownAction(action.to_string())),
    };
    r.map_err(QueryError::Service)
}
