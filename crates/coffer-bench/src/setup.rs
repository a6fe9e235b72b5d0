//! What a scenario needs on the server before the load starts: accounts, IAM users with access
//! keys and policies, keys, parameters. Done through the public APIs (and Coffer's admin API
//! for accounts), signed like every other request, over ordinary connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::StatusCode;

use crate::request::{CREATE_KEY, Signer, Target};
use crate::run::exchange;

/// One signed connection for setup calls.
pub struct Client {
    addr: SocketAddr,
    pub target: Target,
    signer: Signer,
    sender: Option<hyper::client::conn::http1::SendRequest<http_body_util::Full<Bytes>>>,
}

/// A failed call: the HTTP status (if one came) and a description.
pub struct CallError {
    pub status: Option<StatusCode>,
    pub body: String,
}

impl CallError {
    pub fn describe(&self, what: &str) -> String {
        match self.status {
            Some(s) => format!("{what} failed: HTTP {s}: {}", self.body),
            None => format!("{what} failed: {}", self.body),
        }
    }
    /// The AWS error code (`__type` of awsJson, `<Code>` of query/XML).
    pub fn code(&self) -> &str {
        if let Some(i) = self.body.find("<Code>") {
            let rest = &self.body[i + 6..];
            return rest.split('<').next().unwrap_or("");
        }
        let Some(i) = self.body.find("\"__type\"") else { return "" };
        let rest = &self.body[i + 8..];
        let rest = rest.trim_start_matches([':', ' ', '"']);
        let code = rest.split('"').next().unwrap_or("");
        code.rsplit('#').next().unwrap_or(code)
    }
}

impl Client {
    pub fn new(addr: SocketAddr, target: Target) -> Client {
        Client { addr, signer: Signer::new(target.clone()), target, sender: None }
    }

    pub async fn send_raw(&mut self, req: hyper::Request<http_body_util::Full<Bytes>>) -> Result<Bytes, CallError> {
        let res = tokio::time::timeout(Duration::from_secs(30), exchange(&mut self.sender, self.addr, req)).await;
        match res {
            Err(_) => Err(CallError { status: None, body: "no response within 30 s".into() }),
            Ok(Err(e)) => {
                self.sender = None;
                Err(CallError { status: None, body: e })
            }
            Ok(Ok((StatusCode::OK, body))) => Ok(body),
            Ok(Ok((status, body))) => {
                Err(CallError { status: Some(status), body: String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned() })
            }
        }
    }

    /// An awsJson call (`service` `kms` or `ssm`); the response parsed.
    pub async fn json(&mut self, service: &'static str, target: &'static str, body: serde_json::Value) -> Result<serde_json::Value, CallError> {
        let req = self.signer.json(service, target, Bytes::from(body.to_string()));
        let out = self.send_raw(req).await?;
        serde_json::from_slice(&out).map_err(|e| CallError { status: Some(StatusCode::OK), body: format!("response is not JSON: {e}") })
    }

    /// An IAM query call; the XML response as text.
    pub async fn iam(&mut self, params: &[(&str, &str)]) -> Result<String, CallError> {
        let mut p = params.to_vec();
        p.push(("Version", "2010-05-08"));
        let req = self.signer.query("iam", &p);
        let out = self.send_raw(req).await?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// A new account through Coffer's admin API (any root may call it on a `--dev` server);
    /// returns its id and a client holding its root access key, whose signatures the server
    /// verifies (unlike the made-up credentials `--dev` accepts).
    pub async fn create_account(&mut self) -> Result<(String, Client), String> {
        let req = self.signer.admin("/_coffer/admin/accounts", Bytes::from_static(b"{}"));
        let out = self.send_raw(req).await.map_err(|e| e.describe("creating an account (POST /_coffer/admin/accounts)"))?;
        let v: serde_json::Value = serde_json::from_slice(&out).map_err(|e| format!("admin response: {e}"))?;
        let field = |n: &str| v[n].as_str().map(str::to_owned).ok_or_else(|| format!("admin response has no {n}: {v}"));
        let account = field("AccountId")?;
        let target = self.target.with_credentials(&field("AccessKeyId")?, &field("SecretAccessKey")?);
        Ok((account, Client::new(self.addr, target)))
    }

    /// CreateKey with the given extra parameters; returns (key id, key ARN).
    pub async fn create_key(&mut self, params: serde_json::Value) -> Result<(String, String), String> {
        let v = self.json("kms", CREATE_KEY, params).await.map_err(|e| e.describe("CreateKey"))?;
        let m = &v["KeyMetadata"];
        match (m["KeyId"].as_str(), m["Arn"].as_str()) {
            (Some(id), Some(arn)) => Ok((id.to_owned(), arn.to_owned())),
            _ => Err(format!("CreateKey response has no KeyMetadata.KeyId/Arn: {v}")),
        }
    }
}

/// The text of the first `<tag>` element in an XML document.
pub fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let i = xml.find(&open)? + open.len();
    let j = xml[i..].find('<')? + i;
    Some(&xml[i..j])
}

/// An IAM user in a fresh account whose access to `actions` on a new key comes from its
/// identity policy and the key's policy. Returns the user's credentials and the key id.
pub async fn iam_user_with_key(admin: &mut Client, key_params: serde_json::Value, actions: &[&str]) -> Result<(Target, String), String> {
    let (account, mut root) = admin.create_account().await?;
    let user = format!("coffer-bench-{}", coffer_crypto::random::digits(8));
    let xml = root.iam(&[("Action", "CreateUser"), ("UserName", &user)]).await.map_err(|e| e.describe("CreateUser"))?;
    let user_arn = xml_text(&xml, "Arn").ok_or_else(|| format!("CreateUser response has no Arn: {xml}"))?.to_owned();
    let xml = root.iam(&[("Action", "CreateAccessKey"), ("UserName", &user)]).await.map_err(|e| e.describe("CreateAccessKey"))?;
    let (Some(ak), Some(sk)) = (xml_text(&xml, "AccessKeyId"), xml_text(&xml, "SecretAccessKey")) else {
        return Err(format!("CreateAccessKey response has no key: {xml}"));
    };
    let user_target = root.target.with_credentials(ak, sk);

    // The key: the default key policy's account statement plus one naming the user.
    let key_policy = serde_json::json!({
        "Version": "2012-10-17",
        "Id": "coffer-bench",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "Allow use of the key by the benchmark user",
                "Effect": "Allow",
                "Principal": {"AWS": user_arn},
                "Action": actions,
                "Resource": "*"
            }
        ]
    });
    let mut params = key_params;
    params["Policy"] = serde_json::Value::String(key_policy.to_string());
    let (key_id, key_arn) = root.create_key(params).await?;

    // The identity policy: the same actions on that key.
    let identity = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "UseBenchKey", "Effect": "Allow", "Action": actions, "Resource": key_arn}]
    });
    root.iam(&[("Action", "PutUserPolicy"), ("UserName", &user), ("PolicyName", "coffer-bench"), ("PolicyDocument", &identity.to_string())])
        .await
        .map_err(|e| e.describe("PutUserPolicy"))?;
    Ok((user_target, key_id))
}

/// The parameters of the GetParameter scenario: `/coffer-bench/p000000` ... under a customer
/// key (alias `alias/coffer-bench-ssm`), with a deterministic value each.
pub const PARAMETER_PREFIX: &str = "/coffer-bench/p";
const PARAMETER_COUNT: &str = "/coffer-bench/count";
pub const PARAMETER_KEY_ALIAS: &str = "alias/coffer-bench-ssm";

pub fn parameter_name(i: usize) -> String {
    format!("{PARAMETER_PREFIX}{i:06}")
}

/// The parameters the PutParameter scenario overwrites (apart from those GetParameter reads, so
/// that their values stay checkable).
pub fn written_parameter_name(i: usize) -> String {
    format!("/coffer-bench/w{i:06}")
}

/// Makes sure the Parameter Store scenarios' customer key and its alias exist.
pub async fn ensure_parameter_key(c: &mut Client) -> Result<(), String> {
    match c.json("kms", "TrentService.DescribeKey", serde_json::json!({"KeyId": PARAMETER_KEY_ALIAS})).await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == "NotFoundException" => {
            let (key_id, _) = c.create_key(serde_json::json!({"Description": "coffer-bench Parameter Store key"})).await?;
            c.json("kms", "TrentService.CreateAlias", serde_json::json!({"AliasName": PARAMETER_KEY_ALIAS, "TargetKeyId": key_id}))
                .await
                .map_err(|e| e.describe("CreateAlias"))?;
            Ok(())
        }
        Err(e) => Err(e.describe("DescribeKey")),
    }
}

fn parameter_value(i: usize) -> String {
    format!("coffer-bench-secret-{i:06}-0123456789abcdefghij")
}

/// Makes sure `count` SecureString parameters exist (created with `connections` parallel
/// PutParameter calls; a marker parameter records how many exist, so a later run on the same
/// server skips this). Prints progress to stderr. Returns how many were created now.
pub async fn ensure_parameters(addr: SocketAddr, target: &Target, count: usize, connections: usize) -> Result<usize, String> {
    let mut c = Client::new(addr, target.clone());
    ensure_parameter_key(&mut c).await?;
    let have = match c.json("ssm", "AmazonSSM.GetParameter", serde_json::json!({"Name": PARAMETER_COUNT})).await {
        Ok(v) => v["Parameter"]["Value"].as_str().and_then(|s| s.parse::<usize>().ok()).unwrap_or(0),
        Err(e) if e.code() == "ParameterNotFound" => 0,
        Err(e) => return Err(e.describe("GetParameter")),
    };
    let mut created = 0;
    if have < count {
        let t0 = Instant::now();
        let next = Arc::new(AtomicUsize::new(have));
        let done = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..connections.max(1))
            .map(|_| {
                let (next, done) = (next.clone(), done.clone());
                let mut c = Client::new(addr, target.clone());
                tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            return Ok::<(), String>(());
                        }
                        let body = serde_json::json!({
                            "Name": parameter_name(i),
                            "Value": parameter_value(i),
                            "Type": "SecureString",
                            "KeyId": PARAMETER_KEY_ALIAS,
                        });
                        match c.json("ssm", "AmazonSSM.PutParameter", body).await {
                            Ok(_) => {}
                            Err(e) if e.code() == "ParameterAlreadyExists" => {}
                            Err(e) => return Err(e.describe(&format!("PutParameter {}", parameter_name(i)))),
                        }
                        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                        if n % 20_000 == 0 {
                            eprintln!("coffer-bench: {n} parameters put ({:.0}/s)", n as f64 / t0.elapsed().as_secs_f64());
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.map_err(|e| format!("PutParameter task: {e}"))??;
        }
        created = count - have;
        eprintln!(
            "coffer-bench: {created} SecureString parameters created in {:.1} s ({:.0}/s over {connections} connections)",
            t0.elapsed().as_secs_f64(),
            created as f64 / t0.elapsed().as_secs_f64()
        );
        c.json(
            "ssm",
            "AmazonSSM.PutParameter",
            serde_json::json!({"Name": PARAMETER_COUNT, "Value": count.to_string(), "Type": "String", "Overwrite": true}),
        )
        .await
        .map_err(|e| e.describe("PutParameter (count)"))?;
    }
    // Decryption really happens: the first and the last parameter come back in the clear.
    for i in [0, count - 1] {
        let v = c
            .json("ssm", "AmazonSSM.GetParameter", serde_json::json!({"Name": parameter_name(i), "WithDecryption": true}))
            .await
            .map_err(|e| e.describe("GetParameter"))?;
        if v["Parameter"]["Value"].as_str() != Some(parameter_value(i).as_str()) || v["Parameter"]["Type"] != "SecureString" {
            return Err(format!("GetParameter {} WithDecryption did not return the stored SecureString value: {v}", parameter_name(i)));
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes() {
        let e = CallError { status: Some(StatusCode::BAD_REQUEST), body: r#"{"__type":"NotFoundException","message":"x"}"#.into() };
        assert_eq!(e.code(), "NotFoundException");
        let e = CallError { status: Some(StatusCode::BAD_REQUEST), body: r#"{"__type": "com.amazon#ParameterNotFound"}"#.into() };
        assert_eq!(e.code(), "ParameterNotFound");
        let e = CallError { status: Some(StatusCode::CONFLICT), body: "<ErrorResponse><Error><Code>EntityAlreadyExists</Code>".into() };
        assert_eq!(e.code(), "EntityAlreadyExists");
        assert_eq!(xml_text("<a><Arn>arn:x</Arn></a>", "Arn"), Some("arn:x"));
    }
}
