//! Parameter names, selectors and ARNs, with AWS's rules.
//!
//! - Names use `a-zA-Z0-9_.-` and `/`; a name with a `/` is a path and starts with it; at most
//!   15 levels; the ARN built from the name is at most 1011 characters.
//! - A root-level name and the same name with a leading slash (`foo`, `/foo`) are one parameter;
//!   its ARN is `...:parameter/foo` either way. The *key* of a name is its canonical form.
//! - Names beginning with `aws` or `ssm` (case-insensitive) are reserved.
//! - Reads accept `name:version` and `name:label` selectors and (GetParameter, GetParameters,
//!   GetParameterHistory) the parameter's ARN.

use crate::SsmError;

/// AWS's message for a malformed name (it uses the reserved-prefix wording for every case).
pub const BAD_PATH: &str = "Parameter name: can't be prefixed with \"ssm\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_";
const RESERVED_ROOT: &str = "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive).";
const MAX_ARN: usize = 1011;
const MAX_LEVELS: usize = 15;

/// A parameter name as given and its canonical key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub display: String,
    pub key: String,
}

/// A `:version` or `:label` selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    Version(u64),
    Label(String),
}

/// The canonical key: root-level names lose their leading slash.
pub fn key_of(name: &str) -> String {
    match name.strip_prefix('/') {
        Some(rest) if !rest.contains('/') => rest.to_string(),
        _ => name.to_string(),
    }
}

pub fn arn(region: &str, account: &str, key: &str) -> String {
    if key.starts_with('/') {
        format!("arn:aws:ssm:{region}:{account}:parameter{key}")
    } else {
        format!("arn:aws:ssm:{region}:{account}:parameter/{key}")
    }
}

fn valid_chars(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/'))
}

/// Shape checks shared by reads and writes.
fn check_shape(name: &str) -> Result<(), SsmError> {
    if name.is_empty() {
        return Err(SsmError::Validation(
            "1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1".into(),
        ));
    }
    if !valid_chars(name) {
        return Err(SsmError::Validation(BAD_PATH.into()));
    }
    if name.contains('/') && (!name.starts_with('/') || name.contains("//") || name.ends_with('/')) {
        return Err(SsmError::Validation(BAD_PATH.into()));
    }
    Ok(())
}

fn first_segment(name: &str) -> &str {
    name.trim_start_matches('/').split('/').next().unwrap_or_default()
}

/// Validates a name a write creates or changes.
pub fn parse_write(raw: &str, region: &str, account: &str) -> Result<Name, SsmError> {
    let name = raw.trim_matches(' ');
    check_shape(name)?;
    let first = first_segment(name).to_ascii_lowercase();
    let is_path = name.contains('/') && key_of(name).starts_with('/');
    if first.starts_with("aws") {
        if is_path {
            return Err(SsmError::AccessDenied(format!("No access to reserved parameter name: {name}.")));
        }
        return Err(SsmError::Validation(RESERVED_ROOT.into()));
    }
    if first.starts_with("ssm") {
        return Err(SsmError::Validation(if is_path { BAD_PATH.into() } else { RESERVED_ROOT.into() }));
    }
    let levels = name.trim_start_matches('/').split('/').count();
    if levels > MAX_LEVELS {
        return Err(SsmError::HierarchyLevelLimitExceeded(format!(
            "A hierarchy can have a maximum of {MAX_LEVELS} levels; {name} has {levels}."
        )));
    }
    let key = key_of(name);
    if arn(region, account, &key).len() > MAX_ARN {
        return Err(SsmError::Validation(format!(
            "Parameter name is too long: with its ARN prefix it exceeds {MAX_ARN} characters."
        )));
    }
    Ok(Name { display: name.to_string(), key })
}

/// A name in a read request: plain, with a selector, or an ARN (when `arn_ok`).
pub fn parse_read(raw: &str, region: &str, account: &str, arn_ok: bool) -> Result<(Name, Option<(String, Selector)>), SsmError> {
    let raw = raw.trim_matches(' ');
    let mut s = raw.to_string();
    if let Some(rest) = raw.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        // aws : ssm : region : account : parameter/name[:selector]
        if !arn_ok || parts.len() != 5 || parts[1] != "ssm" {
            return Err(SsmError::Validation(BAD_PATH.into()));
        }
        let Some(res) = parts[4].strip_prefix("parameter") else {
            return Err(SsmError::Validation(BAD_PATH.into()));
        };
        if parts[2] != region || parts[3] != account {
            return Err(SsmError::ParameterNotFound(format!("Parameter {raw} not found.")));
        }
        s = if res.trim_start_matches('/').contains('/') { res.to_string() } else { res.trim_start_matches('/').to_string() };
    }
    let (name, selector) = match s.rsplit_once(':') {
        Some((n, sel)) if !sel.is_empty() => {
            let parsed = match sel.parse::<u64>() {
                Ok(v) => Selector::Version(v),
                Err(_) => Selector::Label(sel.to_string()),
            };
            (n.to_string(), Some((format!(":{sel}"), parsed)))
        }
        Some(_) => return Err(SsmError::Validation(BAD_PATH.into())),
        None => (s, None),
    };
    check_shape(&name)?;
    Ok((Name { key: key_of(&name), display: name }, selector))
}

/// Validates a path for GetParametersByPath (`/` or `/a/b`, a trailing slash tolerated).
pub fn parse_path(raw: &str) -> Result<String, SsmError> {
    let p = raw.trim_matches(' ');
    if p == "/" {
        return Ok("/".into());
    }
    let p = p.strip_suffix('/').unwrap_or(p);
    if !p.starts_with('/') {
        return Err(SsmError::Validation(format!(
            "The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\". It can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol \"/\". Valid example: /get/parameters2-/by1./path0_. ({raw})"
        )));
    }
    check_shape(p)?;
    Ok(p.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_arns() {
        assert_eq!(key_of("/foo"), "foo");
        assert_eq!(key_of("foo"), "foo");
        assert_eq!(key_of("/dev/db"), "/dev/db");
        assert_eq!(arn("us-east-1", "111111111111", "foo"), "arn:aws:ssm:us-east-1:111111111111:parameter/foo");
        assert_eq!(arn("us-east-1", "111111111111", "/dev/db"), "arn:aws:ssm:us-east-1:111111111111:parameter/dev/db");
    }

    #[test]
    fn write_rules() {
        let w = |n: &str| parse_write(n, "us-east-1", "111111111111");
        assert_eq!(w(" /dev/db ").unwrap().display, "/dev/db");
        assert_eq!(w("/foo").unwrap().key, "foo");
        assert!(matches!(w("a b"), Err(SsmError::Validation(_))));
        assert!(matches!(w("a/b"), Err(SsmError::Validation(_))));
        assert!(matches!(w("/a//b"), Err(SsmError::Validation(_))));
        assert!(matches!(w("/a/b/"), Err(SsmError::Validation(_))));
        assert!(matches!(w("ssm_test"), Err(SsmError::Validation(m)) if m == RESERVED_ROOT));
        assert!(matches!(w("AWSthing"), Err(SsmError::Validation(m)) if m == RESERVED_ROOT));
        assert!(matches!(w("/ssm/x"), Err(SsmError::Validation(m)) if m == BAD_PATH));
        assert!(matches!(w("/aws/x/y"), Err(SsmError::AccessDenied(m)) if m == "No access to reserved parameter name: /aws/x/y."));
        let deep = format!("/{}", (0..15).map(|i| format!("l{i}")).collect::<Vec<_>>().join("/"));
        assert!(w(&deep).is_ok());
        assert!(matches!(w(&format!("{deep}/x")), Err(SsmError::HierarchyLevelLimitExceeded(_))));
        assert!(w(&format!("/{}", "a".repeat(960))).is_ok());
        assert!(matches!(w(&format!("/{}", "a".repeat(1000))), Err(SsmError::Validation(_))));
    }

    #[test]
    fn read_forms() {
        let r = |n: &str| parse_read(n, "us-east-1", "111111111111", true);
        let (n, s) = r("/dev/db:3").unwrap();
        assert_eq!((n.key.as_str(), s), ("/dev/db", Some((":3".to_string(), Selector::Version(3)))));
        let (n, s) = r("foo:prod").unwrap();
        assert_eq!((n.key.as_str(), s.unwrap().1), ("foo", Selector::Label("prod".into())));
        let (n, _) = r("arn:aws:ssm:us-east-1:111111111111:parameter/dev/db").unwrap();
        assert_eq!(n.key, "/dev/db");
        let (n, _) = r("arn:aws:ssm:us-east-1:111111111111:parameter/foo").unwrap();
        assert_eq!(n.key, "foo");
        assert!(matches!(r("arn:aws:ssm:eu-west-1:111111111111:parameter/foo"), Err(SsmError::ParameterNotFound(_))));
        assert!(parse_read("arn:aws:ssm:us-east-1:111111111111:parameter/foo", "us-east-1", "111111111111", false).is_err());
        assert!(r("foo:").is_err());
    }

    #[test]
    fn paths() {
        assert_eq!(parse_path("/").unwrap(), "/");
        assert_eq!(parse_path("/dev/").unwrap(), "/dev");
        assert!(parse_path("dev").is_err());
    }
}
