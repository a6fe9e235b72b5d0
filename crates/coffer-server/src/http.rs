//! Accepting connections: plain TCP or TLS (rustls on aws-lc-rs), HTTP/1.1 and HTTP/2, a
//! connection cap, header timeouts, and graceful shutdown.
//!
//! Shutdown: when `shutdown` resolves, the listener closes at once, connections are told to
//! finish (HTTP/1 after the in-flight response, HTTP/2 with GOAWAY) and we wait for them up to
//! `drain_timeout`. Every state change is a committed store write before its response is sent,
//! so a request cut off by the timeout has either fully happened or not at all.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::App;
use crate::route::{ConnInfo, handle};

/// Connection-level settings.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub max_connections: usize,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// How long shutdown waits for in-flight requests.
    pub drain_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_connections: 4096,
            header_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves until `shutdown` resolves, then drains.
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(opts.max_connections));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(opts.header_timeout).max_buf_size(256 * 1024);
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(256);
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                Some(acceptor) => {
                    let stream = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(peer = %peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => return,
                    };
                    serve_conn(&builder, watcher, app, TokioIo::new(stream), peer, true).await;
                }
                None => serve_conn(&builder, watcher, app, TokioIo::new(stream), peer, false).await,
            }
        });
    }
    drop(listener);
    tracing::info!(connections = graceful.count(), "shutting down: draining connections");
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections closed"),
        _ = tokio::time::sleep(opts.drain_timeout) => tracing::warn!("drain timeout elapsed; closing remaining connections"),
    }
}

async fn serve_conn<I>(
    builder: &auto::Builder<TokioExecutor>,
    watcher: hyper_util::server::graceful::Watcher,
    app: Arc<App>,
    io: I,
    peer: SocketAddr,
    tls: bool,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let info = ConnInfo { peer, tls };
    let svc = service_fn(move |req| {
        let app = app.clone();
        async move { Ok::<_, std::convert::Infallible>(handle(app, info, req).await) }
    });
    let conn = builder.serve_connection(io, svc);
    if let Err(e) = watcher.watch(conn.into_owned()).await {
        tracing::debug!(peer = %peer, error = %e, "connection ended with an error");
    }
}
