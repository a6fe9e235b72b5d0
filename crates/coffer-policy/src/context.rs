//! Who is calling, and how.

use std::net::IpAddr;
use std::sync::Mutex;

/// What kind of identity signed the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrincipalKind {
    /// The account root (`arn:aws:iam::<account>:root`).
    Root,
    /// An IAM user.
    User,
    /// A role session from AssumeRole.
    AssumedRole,
}

impl PrincipalKind {
    /// The value of `aws:PrincipalType`.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Root => "Account",
            PrincipalKind::User => "User",
            PrincipalKind::AssumedRole => "AssumedRole",
        }
    }
}

/// An authenticated identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub kind: PrincipalKind,
    pub account: String,
    pub arn: String,
    /// `aws:userid`: the account id for root, the unique id (AIDA...) for users.
    pub user_id: String,
    /// The user or role-session name (empty for root).
    pub name: String,
    /// For an assumed-role session, the role's ARN (`arn:aws:iam::<account>:role/<path><name>`):
    /// resource policies and grants that name the role apply to its sessions.
    pub role_arn: Option<String>,
}

impl Principal {
    pub fn root(account: &str) -> Principal {
        Principal {
            kind: PrincipalKind::Root,
            account: account.to_string(),
            arn: format!("arn:aws:iam::{account}:root"),
            user_id: account.to_string(),
            name: String::new(),
            role_arn: None,
        }
    }
}

/// The caller of one API request: identity plus transport facts. Services receive it with every
/// call; a service calling another in-process passes a copy with `via_service` set.
#[derive(Debug)]
pub struct Caller {
    pub principal: Principal,
    pub access_key_id: String,
    /// From the SigV4 credential scope.
    pub region: String,
    pub source_ip: Option<IpAddr>,
    pub secure_transport: bool,
    /// `kms:ViaService`, e.g. `ssm.us-east-1.amazonaws.com`, for in-process calls.
    pub via_service: Option<String>,
    pub request_id: String,
    pub user_agent: String,
    /// Resources the request touched (key ARNs ...), for the request log and audit.
    resources: Mutex<Vec<String>>,
}

impl Caller {
    pub fn new(principal: Principal, access_key_id: String, region: String, request_id: String) -> Caller {
        Caller {
            principal,
            access_key_id,
            region,
            source_ip: None,
            secure_transport: false,
            via_service: None,
            request_id,
            user_agent: String::new(),
            resources: Mutex::new(Vec::new()),
        }
    }

    pub fn account(&self) -> &str {
        &self.principal.account
    }

    /// The same caller as seen by another service it calls in-process on the caller's behalf
    /// (Parameter Store calling KMS): same principal and transport, `kms:ViaService` set to
    /// `<service>.<region>.amazonaws.com`. Resources noted by the inner call are not copied back.
    pub fn via(&self, service: &str) -> Caller {
        Caller {
            principal: self.principal.clone(),
            access_key_id: self.access_key_id.clone(),
            region: self.region.clone(),
            source_ip: self.source_ip,
            secure_transport: self.secure_transport,
            via_service: Some(format!("{service}.{}.amazonaws.com", self.region)),
            request_id: self.request_id.clone(),
            user_agent: self.user_agent.clone(),
            resources: Mutex::new(Vec::new()),
        }
    }

    /// Records a resource the request acted on (deduplicated, in order).
    pub fn note_resource(&self, arn: &str) {
        if let Ok(mut r) = self.resources.lock()
            && !r.iter().any(|x| x == arn)
        {
            r.push(arn.to_string());
        }
    }

    pub fn resources(&self) -> Vec<String> {
        self.resources.lock().map(|r| r.clone()).unwrap_or_default()
    }
}
