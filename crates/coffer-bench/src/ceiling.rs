//! The "bare-hyper ceiling": the same HTTP stack Coffer uses (hyper 1, HTTP/1.1, a
//! multi-thread tokio runtime with its default worker count) doing no work at all. It reads and
//! discards the request body and answers a fixed Encrypt-sized JSON response, so the
//! throughput the generator reaches against it is the most any hyper server could serve on this
//! machine with this client; Coffer's throughput is reported as a fraction of it.

use std::convert::Infallible;
use std::net::SocketAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::request::JSON_CONTENT_TYPE;

/// A response body shaped and sized like Coffer's Encrypt response for a 32-byte plaintext.
fn encrypt_like_body() -> Bytes {
    let blob: [u8; 111] = coffer_crypto::random::bytes();
    let v = serde_json::json!({
        "CiphertextBlob": B64.encode(blob),
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "KeyId": "arn:aws:kms:us-east-1:123456789012:key/6a1c8a4e-2a4b-4f0e-9d8e-0c5b7a3f1e2d",
    });
    Bytes::from(serde_json::to_vec(&v).expect("JSON serialises"))
}

async fn answer(req: Request<Incoming>, body: Bytes) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read and drop the body, as any real handler must before answering.
    let _ = req.into_body().collect().await;
    let mut resp = Response::new(Full::new(body));
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(JSON_CONTENT_TYPE));
    h.insert("x-amzn-requestid", HeaderValue::from_static("00000000-0000-4000-8000-000000000000"));
    Ok(resp)
}

pub fn serve(listen: SocketAddr) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(listen).await?;
        let body = encrypt_like_body();
        println!("ceiling listening on http://{} ({} byte responses)", listener.local_addr()?, body.len());
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let body = body.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| answer(req, body.clone()));
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    })
}
