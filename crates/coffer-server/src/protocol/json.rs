//! awsJson1.1 (KMS, SSM): `POST /`, `X-Amz-Target: <Prefix>.<Operation>`, JSON bodies.
//!
//! Decoding failures are reported as AWS does: `SerializationException` with the
//! Coral-style wording ("STRING_VALUE can not be converted to an Integer") for wrong types, and no
//! message for text that is not JSON at all.

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::WireError;

/// Maps serde_json's description of a type mismatch to AWS's wording.
fn serialization_message(e: &serde_json::Error) -> String {
    if e.is_syntax() || e.is_eof() {
        return String::new();
    }
    let text = e.to_string();
    let Some(rest) = text.strip_prefix("invalid type: ") else {
        return match e.classify() {
            serde_json::error::Category::Data if text.contains("Invalid base64") => {
                "Base64 encoded value is invalid".into()
            }
            _ => String::new(),
        };
    };
    let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
    let found_kind = if found.starts_with("string") {
        "STRING_VALUE"
    } else if found.starts_with("integer") || found.starts_with("floating point") {
        "NUMBER_VALUE"
    } else if found.starts_with("boolean `true`") {
        "TRUE_VALUE"
    } else if found.starts_with("boolean") {
        "FALSE_VALUE"
    } else if found.starts_with("map") {
        return "Start of structure or map found where not expected.".into();
    } else if found.starts_with("sequence") {
        return "Start of list found where not expected".into();
    } else {
        "VALUE"
    };
    let target = if expected.starts_with("i") || expected.starts_with("u") {
        "an Integer"
    } else if expected.starts_with("a boolean") {
        "a Boolean"
    } else if expected.starts_with("a sequence") {
        return "Expected list or null".into();
    } else if expected.starts_with("a map") || expected.starts_with("struct") {
        return "Expected structure or null".into();
    } else {
        "a String"
    };
    format!("{found_kind} can not be converted to {target}")
}

/// Decodes a request body (empty means `{}`).
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, WireError> {
    let body = if body.iter().all(|b| b.is_ascii_whitespace()) { b"{}".as_slice() } else { body };
    // Only an object is a request; anything else is a serialization error.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(WireError::bad_request("SerializationException", ""));
    }
    serde_json::from_slice(body).map_err(|e| WireError::bad_request("SerializationException", serialization_message(&e)))
}

pub fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("responses serialise")
}

/// Decodes, calls the service, encodes.
pub async fn call<Req, Resp, E, F, Fut>(body: &[u8], f: F) -> Result<Vec<u8>, WireError>
where
    Req: DeserializeOwned,
    Resp: Serialize,
    E: Into<WireError>,
    F: FnOnce(Req) -> Fut,
    Fut: Future<Output = Result<Resp, E>>,
{
    let req: Req = decode(body)?;
    let resp = f(req).await.map_err(Into::into)?;
    Ok(encode(&resp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "PascalCase")]
    #[allow(dead_code)]
    struct R {
        n: Option<i64>,
        s: Option<String>,
        b: Option<bool>,
        l: Option<Vec<String>>,
    }

    fn msg(body: &str) -> String {
        let e = decode::<R>(body.as_bytes()).unwrap_err();
        assert_eq!(e.code, "SerializationException");
        e.message
    }

    #[test]
    fn type_errors_read_like_aws() {
        assert_eq!(msg(r#"{"N":"x"}"#), "STRING_VALUE can not be converted to an Integer");
        assert_eq!(msg(r#"{"S":1}"#), "NUMBER_VALUE can not be converted to a String");
        assert_eq!(msg(r#"{"B":"true"}"#), "STRING_VALUE can not be converted to a Boolean");
        assert_eq!(msg(r#"{"N":true}"#), "TRUE_VALUE can not be converted to an Integer");
        assert_eq!(msg(r#"{"S":{}}"#), "Start of structure or map found where not expected.");
        assert_eq!(msg(r#"{"S":[]}"#), "Start of list found where not expected");
        assert_eq!(msg(r#"{"L":"x"}"#), "Expected list or null");
        assert_eq!(msg("{not json"), "");
        assert_eq!(msg("[]"), "");
        assert!(decode::<R>(b"").is_ok());
        assert!(decode::<R>(br#"{"Unknown": 1, "N": null}"#).is_ok());
    }
}
