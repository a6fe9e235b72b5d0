//! `coffer admin ...`: a small SigV4-signing client for the running server's admin API.

use std::sync::Arc;

use bytes::Bytes;
use coffer_server::sigv4;
use coffer_util::Timestamp;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Request};
use hyper_util::rt::TokioIo;

use crate::cli::CreateAccountArgs;

/// Reads `aws_access_key_id` / `aws_secret_access_key` of `profile` from a credentials file.
fn read_profile(path: &std::path::Path, profile: &str) -> Result<(String, zeroize::Zeroizing<String>), String> {
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?);
    let mut in_profile = false;
    let (mut id, mut secret) = (None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_profile = line.trim_matches(['[', ']']).trim() == profile;
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            match k.trim() {
                "aws_access_key_id" => id = Some(v.trim().to_string()),
                "aws_secret_access_key" => secret = Some(zeroize::Zeroizing::new(v.trim().to_string())),
                _ => {}
            }
        }
    }
    match (id, secret) {
        (Some(i), Some(s)) => Ok((i, s)),
        _ => Err(format!("profile [{profile}] in {} has no access key", path.display())),
    }
}

async fn post(args: &CreateAccountArgs, path: &str, body: Vec<u8>) -> Result<(u16, Bytes), String> {
    let (akid, secret) = read_profile(&args.credentials, &args.profile)?;
    let uri: hyper::Uri = args.endpoint.parse().map_err(|_| format!("endpoint {:?} is not a URL", args.endpoint))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(format!("endpoint {:?} must be http:// or https://", args.endpoint)),
    };
    let host = uri.host().ok_or("endpoint has no host")?.to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let authority = uri.authority().map(|a| a.to_string()).unwrap_or_else(|| host.clone());
    let now = Timestamp::wall();
    let amz_date = now.amz_date();
    let mut headers = HeaderMap::new();
    headers.insert("host", authority.parse().map_err(|_| "bad host")?);
    headers.insert("x-amz-date", amz_date.parse().expect("ascii"));
    headers.insert("content-type", "application/json".parse().expect("ascii"));
    let payload = coffer_crypto::digest::hex(&coffer_crypto::digest::sha256(&body));
    let key = sigv4::derive_signing_key(secret.as_bytes(), &amz_date[..8], "us-east-1", "coffer");
    let auth = sigv4::authorization_header("POST", path, "", &headers, &payload, &akid, &key, &amz_date, "us-east-1", "coffer");
    let mut req = Request::builder().method("POST").uri(path);
    for (k, v) in headers.iter() {
        req = req.header(k, v);
    }
    let req = req.header("authorization", auth).body(Full::new(Bytes::from(body))).map_err(|e| e.to_string())?;
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|e| format!("cannot connect to {}: {e}", args.endpoint))?;
    let resp = if https {
        let mut roots = rustls::RootCertStore::empty();
        if let Some(ca) = &args.ca_bundle {
            let pem = std::fs::read(ca).map_err(|e| format!("cannot read {}: {e}", ca.display()))?;
            for c in rustls_pemfile::certs(&mut pem.as_slice()) {
                roots.add(c.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
            }
        } else {
            return Err("an https endpoint needs --ca-bundle".into());
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| e.to_string())?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp).await.map_err(|e| e.to_string())?;
        send(TokioIo::new(tls), req).await?
    } else {
        send(TokioIo::new(tcp), req).await?
    };
    Ok(resp)
}

async fn send<I>(io: I, req: Request<Full<Bytes>>) -> Result<(u16, Bytes), String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, body))
}

pub async fn create_account(args: CreateAccountArgs) -> Result<(), String> {
    let body = match &args.account_id {
        Some(a) => serde_json::json!({ "AccountId": a }),
        None => serde_json::json!({}),
    };
    let (status, bytes) = post(&args, "/_coffer/admin/accounts", body.to_string().into_bytes()).await?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    if status != 200 {
        return Err(format!(
            "{}: {}",
            v["__type"].as_str().unwrap_or("error"),
            v["message"].as_str().unwrap_or(&String::from_utf8_lossy(&bytes))
        ));
    }
    let account = v["AccountId"].as_str().unwrap_or_default();
    let text = zeroize::Zeroizing::new(format!(
        "[account-{account}]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        v["AccessKeyId"].as_str().unwrap_or_default(),
        v["SecretAccessKey"].as_str().unwrap_or_default()
    ));
    match &args.out {
        Some(path) => {
            crate::datadir::write_private(path, text.as_bytes())?;
            println!("Created account {account}; its root access key is in {} (profile account-{account}).", path.display());
        }
        None => {
            println!("Created account {account}. Its root access key:\n");
            print!("{}", text.as_str());
        }
    }
    Ok(())
}
