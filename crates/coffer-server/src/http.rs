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
    // HTTP/1: the header timeout also bounds an idle keep-alive connection (it runs while the
    // connection waits for the next request's first byte), so neither a slow sender of headers
    // (slowloris) nor an idle client holds a connection slot longer than it. The read buffer
    // caps a header section's size, and hyper's default of 100 fields (parsed on the stack;
    // a larger cap would allocate per request) lies above the request-level caps in `route`.
    builder.http1().timer(TokioTimer::new()).header_read_timeout(opts.header_timeout).max_buf_size(256 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(256)
        .max_header_list_size(64 * 1024)
        .keep_alive_interval(Some(opts.header_timeout))
        .keep_alive_timeout(Duration::from_secs(20));
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
        let header_timeout = opts.header_timeout;
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
                    let io = FirstByteDeadline::new(TokioIo::new(stream), header_timeout);
                    serve_conn(&builder, watcher, app, io, peer, true).await;
                }
                None => {
                    let io = FirstByteDeadline::new(TokioIo::new(stream), header_timeout);
                    serve_conn(&builder, watcher, app, io, peer, false).await
                }
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

/// A connection that must send its first byte within a deadline. hyper's header timeout runs
/// only once a request has begun (and between keep-alive requests); before the first byte the
/// automatic HTTP/1-or-2 detection waits indefinitely, so a client that connects and stays
/// silent would hold a connection slot forever. After the first read, this is a plain pass-through.
struct FirstByteDeadline<I> {
    inner: I,
    deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<I> FirstByteDeadline<I> {
    fn new(inner: I, limit: Duration) -> Self {
        FirstByteDeadline { inner, deadline: Some(Box::pin(tokio::time::sleep(limit))) }
    }
}

impl<I: hyper::rt::Read + Unpin> hyper::rt::Read for FirstByteDeadline<I> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        let this = &mut *self;
        match std::pin::Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(r) => {
                this.deadline = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let expired = this.deadline.as_mut().is_some_and(|d| d.as_mut().poll(cx).is_ready());
                if expired {
                    Poll::Ready(Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "no request arrived within the header timeout")))
                } else {
                    Poll::Pending
                }
            }
        }
    }
}

impl<I: hyper::rt::Write + Unpin> hyper::rt::Write for FirstByteDeadline<I> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
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
