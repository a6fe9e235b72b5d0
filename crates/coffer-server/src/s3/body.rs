//! Bodies that stream: a request body as the S3 service reads it (checking the payload hash or
//! decoding aws-chunked framing on the way), and a response body fed by a task.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use bytes::Bytes;
use coffer_crypto::digest::{Sha256, ct_eq, hex};
use coffer_s3::S3Error;
use coffer_s3::model::{BodySource, Frame};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame as HttpFrame, Incoming, SizeHint};
use tokio::sync::mpsc;

use crate::s3chunked::{ChunkedDecoder, ChunkedError, Event};

fn chunked_error(e: ChunkedError) -> S3Error {
    let (code, status) = e.s3_code();
    S3Error::Wire { code: code.into(), status, message: e.message() }
}

pub(crate) fn chunked_setup_error(e: ChunkedError) -> S3Error {
    chunked_error(e)
}

/// The longest a request body may go without delivering a byte.
const BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How a request body is checked.
pub(crate) enum Check {
    /// `x-amz-content-sha256` named the body's SHA-256: verified at the end.
    Sha256(Sha256, String),
    /// `UNSIGNED-PAYLOAD` (or a presigned URL).
    None,
    Chunked(Box<ChunkedDecoder>),
}

/// A request body read from the connection.
pub struct RequestBody {
    incoming: Option<Incoming>,
    check: Check,
    pending: VecDeque<Frame>,
    done: bool,
}

impl RequestBody {
    pub(crate) fn new(incoming: Incoming, check: Check) -> RequestBody {
        RequestBody { incoming: Some(incoming), check, pending: VecDeque::new(), done: false }
    }

    /// Reads the whole body (at most `limit` bytes), for the small XML and JSON documents.
    pub(crate) async fn collect(&mut self, limit: usize) -> Result<Vec<u8>, S3Error> {
        let mut out = Vec::new();
        while let Some(f) = self.next().await {
            if let Frame::Data(d) = f? {
                if out.len() + d.len() > limit {
                    return Err(S3Error::InvalidRequest(format!("The request body is larger than the limit of {limit} bytes.")));
                }
                out.extend_from_slice(&d);
            }
        }
        Ok(out)
    }

    async fn read(&mut self) -> Result<Option<Bytes>, S3Error> {
        let Some(incoming) = self.incoming.as_mut() else { return Ok(None) };
        loop {
            // A client that stops sending mid-body cannot hold the request (and its connection)
            // open forever.
            let Ok(frame) = tokio::time::timeout(BODY_IDLE_TIMEOUT, incoming.frame()).await else {
                self.incoming = None;
                return Err(S3Error::Wire {
                    code: "RequestTimeout".into(),
                    status: 400,
                    message: "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.".into(),
                });
            };
            match frame {
                None => {
                    self.incoming = None;
                    return Ok(None);
                }
                Some(Err(_)) => {
                    self.incoming = None;
                    return Err(S3Error::IncompleteBody("The request body ended before it was complete.".into()));
                }
                Some(Ok(f)) => {
                    if let Ok(d) = f.into_data() {
                        return Ok(Some(d));
                    }
                }
            }
        }
    }
}

#[async_trait]
impl BodySource for RequestBody {
    async fn next(&mut self) -> Option<Result<Frame, S3Error>> {
        loop {
            if let Some(f) = self.pending.pop_front() {
                return Some(Ok(f));
            }
            if self.done {
                return None;
            }
            let data = match self.read().await {
                Ok(d) => d,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            match (&mut self.check, data) {
                (Check::Sha256(h, _), Some(d)) => {
                    h.update(&d);
                    return Some(Ok(Frame::Data(d)));
                }
                (Check::None, Some(d)) => return Some(Ok(Frame::Data(d))),
                (Check::Sha256(h, claimed), None) => {
                    self.done = true;
                    let computed = hex(&std::mem::take(h).finish());
                    if !ct_eq(computed.as_bytes(), claimed.to_ascii_lowercase().as_bytes()) {
                        return Some(Err(S3Error::XAmzContentSha256Mismatch));
                    }
                    return None;
                }
                (Check::None, None) => {
                    self.done = true;
                    return None;
                }
                (Check::Chunked(dec), data) => {
                    let mut events = Vec::new();
                    let r = match data {
                        Some(d) => dec.feed(d, &mut events),
                        None => {
                            self.done = true;
                            dec.finish()
                        }
                    };
                    if let Err(e) = r {
                        self.done = true;
                        return Some(Err(chunked_error(e)));
                    }
                    for ev in events {
                        match ev {
                            Event::Data(d) => self.pending.push_back(Frame::Data(d)),
                            Event::Trailer(t) => self.pending.push_back(Frame::Trailers(t)),
                            Event::End => {}
                        }
                    }
                }
            }
        }
    }
}

/// A response body fed through a bounded channel (backpressure: the producer waits for the
/// client). An `Err` item aborts the response, so a client never takes a cut body for whole.
pub struct ChannelBody {
    rx: mpsc::Receiver<Result<Bytes, std::io::Error>>,
    len: u64,
}

impl ChannelBody {
    pub fn new(len: u64) -> (mpsc::Sender<Result<Bytes, std::io::Error>>, ChannelBody) {
        let (tx, rx) = mpsc::channel(4);
        (tx, ChannelBody { rx, len })
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<HttpFrame<Bytes>, std::io::Error>>> {
        self.rx.poll_recv(cx).map(|o| o.map(|r| r.map(HttpFrame::data)))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len)
    }
}
