//! awsQuery (IAM, STS): form-encoded `Action=...&Version=...` requests, XML responses and
//! `<ErrorResponse>` errors.
//!
//! Parameters are flattened (`Tags.member.1.Key=a`); [`to_json`] rebuilds the nesting as a
//! JSON object so that request structs can be plain serde types: `X.member.N` (and `X.N`)
//! become lists ordered by N, dotted names become objects. Responses go the other way:
//! [`render`] writes a serde value as awsQuery XML, lists as `<member>` elements.

use serde_json::{Map, Value};

use crate::sigv4::query_pairs;

/// Decodes an `application/x-www-form-urlencoded` body (`+` is a space here).
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body).replace('+', "%20");
    query_pairs(&text)
        .into_iter()
        .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), String::from_utf8_lossy(&v).into_owned()))
        .collect()
}

fn insert(target: &mut Map<String, Value>, path: &[&str], value: String) {
    let Some((head, rest)) = path.split_first() else { return };
    if rest.is_empty() {
        target.insert(head.to_string(), Value::String(value));
        return;
    }
    // `Name.member.N...` or `Name.N...`: a list element at index N.
    let (index_at, list) = match rest {
        ["member", n, ..] if n.parse::<usize>().is_ok() => (2, true),
        [n, ..] if n.parse::<usize>().is_ok() => (1, true),
        _ => (0, false),
    };
    if list {
        let n: usize = rest[index_at - 1].parse().unwrap_or(0);
        let entry = target.entry(head.to_string()).or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(items) = entry {
            let key = format!("{n:010}");
            let remaining = &rest[index_at..];
            if remaining.is_empty() {
                items.insert(key, Value::String(value));
            } else {
                let e = items.entry(key).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = e {
                    insert(m, remaining, value);
                }
            }
        }
        return;
    }
    let entry = target.entry(head.to_string()).or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(m) = entry {
        insert(m, rest, value);
    }
}

/// Objects whose keys are all zero-padded indexes (from [`insert`]) become arrays.
fn listify(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let is_list = !m.is_empty() && m.keys().all(|k| k.len() == 10 && k.bytes().all(|b| b.is_ascii_digit()));
            if is_list {
                Value::Array(m.into_iter().map(|(_, v)| listify(v)).collect())
            } else {
                Value::Object(m.into_iter().map(|(k, v)| (k, listify(v))).collect())
            }
        }
        other => other,
    }
}

/// The request parameters (except Action and Version) as a JSON object.
pub fn to_json(pairs: &[(String, String)]) -> Value {
    let mut root = Map::new();
    for (k, v) in pairs {
        if k == "Action" || k == "Version" {
            continue;
        }
        let path: Vec<&str> = k.split('.').collect();
        insert(&mut root, &path, v.clone());
    }
    listify(Value::Object(root))
}

pub fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn render_value(name: &str, v: &Value, out: &mut String) {
    match v {
        Value::Null => {}
        Value::Array(items) => {
            out.push_str(&format!("<{name}>"));
            for item in items {
                render_value("member", item, out);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Object(m) => {
            out.push_str(&format!("<{name}>"));
            for (k, v) in m {
                render_value(k, v, out);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::String(s) => {
            out.push_str(&format!("<{name}>"));
            escape(s, out);
            out.push_str(&format!("</{name}>"));
        }
        Value::Bool(b) => out.push_str(&format!("<{name}>{b}</{name}>")),
        Value::Number(n) => out.push_str(&format!("<{name}>{n}</{name}>")),
    }
}

/// `<{Action}Response xmlns=...><{Action}Result>...</{Action}Result><ResponseMetadata>...`.
pub fn render(action: &str, namespace: &str, result: &Value, request_id: &str) -> String {
    let mut out = String::with_capacity(512);
    out.push_str(&format!("<{action}Response xmlns=\"{namespace}\">"));
    if let Value::Object(m) = result
        && !m.is_empty()
    {
        render_value(&format!("{action}Result"), result, &mut out);
    }
    out.push_str("<ResponseMetadata><RequestId>");
    escape(request_id, &mut out);
    out.push_str(&format!("</RequestId></ResponseMetadata></{action}Response>"));
    out
}

/// `<ErrorResponse>` with `Type` Sender or Receiver.
pub fn render_error(namespace: &str, code: &str, message: &str, server_fault: bool, request_id: &str) -> String {
    let mut out = format!("<ErrorResponse xmlns=\"{namespace}\"><Error><Type>{}</Type><Code>", if server_fault { "Receiver" } else { "Sender" });
    escape(code, &mut out);
    out.push_str("</Code><Message>");
    escape(message, &mut out);
    out.push_str("</Message></Error><RequestId>");
    escape(request_id, &mut out);
    out.push_str("</RequestId></ErrorResponse>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting() {
        let pairs = form_pairs(b"Action=CreateUser&UserName=bob+smith&Tags.member.2.Key=b&Tags.member.1.Key=a&Tags.member.1.Value=1&Tags.member.2.Value=2&TagKeys.member.1=x&Version=2010-05-08");
        let v = to_json(&pairs);
        assert_eq!(v["UserName"], "bob smith");
        assert_eq!(v["Tags"][0]["Key"], "a");
        assert_eq!(v["Tags"][1]["Value"], "2");
        assert_eq!(v["TagKeys"][0], "x");
        assert!(v.get("Action").is_none());
    }

    #[test]
    fn xml() {
        let v = serde_json::json!({"User": {"UserName": "a<b", "Tags": [{"Key": "k"}]}, "IsTruncated": false});
        let x = render("GetUser", "ns", &v, "r1");
        assert_eq!(
            x,
            "<GetUserResponse xmlns=\"ns\"><GetUserResult><IsTruncated>false</IsTruncated><User><Tags><member><Key>k</Key></member></Tags><UserName>a&lt;b</UserName></User></GetUserResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetUserResponse>"
        );
        assert_eq!(render("DeleteUser", "ns", &serde_json::json!({}), "r"), "<DeleteUserResponse xmlns=\"ns\"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteUserResponse>");
        assert!(render_error("ns", "NoSuchEntity", "x & y", false, "r").contains("<Type>Sender</Type><Code>NoSuchEntity</Code><Message>x &amp; y</Message>"));
    }
}
