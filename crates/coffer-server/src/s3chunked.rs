//! S3 `Content-Encoding: aws-chunked` request bodies: a sans-IO decoder.
//!
//! An S3 client that streams an upload frames the body in chunks and says how in
//! `x-amz-content-sha256` ([`StreamingPayload`]):
//!
//! - `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: `<hex size>;chunk-signature=<64 hex>\r\n<data>\r\n` per chunk,
//!   ending with a chunk of size 0 and `\r\n`. Every chunk is signed, chained from the request's own
//!   signature (the *seed*), so a chunk is released only once its signature has been verified.
//! - `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: the same, then trailer lines `name:value\r\n` after the
//!   0-size chunk line, the last one `x-amz-trailer-signature:<64 hex>\r\n`, then `\r\n`.
//! - `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: `<hex size>\r\n<data>\r\n` per chunk (chunk extensions are
//!   ignored), `0\r\n`, trailer lines, `\r\n`. Data is released as it arrives.
//! - `STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD(-TRAILER)` (SigV4a): not supported.
//!
//! References: AWS S3 API reference, "Signature Calculations for the Authorization Header: Transferring
//! Payload in Multiple Chunks" (`sigv4-streaming.html`) and "... Including Trailing Headers"
//! (`sigv4-streaming-trailers.html`); the wire layout and the canonical trailer form follow the AWS SDK
//! for Rust (`aws-runtime` `AwsChunkedBody`, `aws-sigv4` `sign_chunk`/`sign_trailer`), which the tests
//! reproduce. Limits S3 enforces are enforced here too: every chunk but the last must be at least
//! 8 KiB (`InvalidChunkSizeError`), the decoded size must equal `x-amz-decoded-content-length`, and
//! trailers must be exactly those `x-amz-trailer` declares.
//!
//! The decoder does no I/O: [`ChunkedDecoder::feed`] takes the body in pieces of any size (any split
//! works) and appends [`Event`]s; [`ChunkedDecoder::finish`] is called at end of input. Memory is
//! bounded: one chunk's data (signed modes, at most [`MAX_SIGNED_CHUNK`]), one line, and the trailers
//! (at most [`MAX_TRAILER_BYTES`]). It never panics on any input.

use bytes::Bytes;
use coffer_crypto::digest::{HmacKey, Sha256, ct_eq, hex, sha256, unhex};

use crate::sigv4::SignedRequest;

/// Largest chunk accepted in the signed modes, where a chunk is held until its signature is checked.
/// AWS documents no maximum; the AWS SDK for Rust and minio-go sign 64 KiB chunks, the Java SDKs 128 KiB.
/// MinIO has the same cap.
pub const MAX_SIGNED_CHUNK: u64 = 16 * 1024 * 1024;
/// Largest chunk accepted unsigned (streamed, never held). The AWS SDK for Go v2 sends a whole object as
/// one chunk (minio/minio#21611), so this is S3's largest single upload, 5 GiB.
pub const MAX_UNSIGNED_CHUNK: u64 = 5 * 1024 * 1024 * 1024;
/// S3: "Only the last chunk is allowed to have a size less than 8192 bytes".
pub const MIN_CHUNK: u64 = 8192;
/// Largest trailer section (all trailer lines, CRLFs included).
pub const MAX_TRAILER_BYTES: usize = 16 * 1024;
/// Longest chunk-size line, CRLF included. A signed one is at most `1000000;chunk-signature=<64>\r\n`, 90 bytes.
const MAX_CHUNK_LINE: usize = 128;

const PAYLOAD_ALGORITHM: &str = "AWS4-HMAC-SHA256-PAYLOAD";
const TRAILER_ALGORITHM: &str = "AWS4-HMAC-SHA256-TRAILER";
const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";
const CHUNK_SIGNATURE: &[u8] = b";chunk-signature=";

/// The kind of aws-chunked body an `x-amz-content-sha256` value announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamingPayload {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`
    Signed,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`
    SignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`
    UnsignedTrailer,
}

impl StreamingPayload {
    /// `Ok(None)` when the value is not a streaming one (a hex SHA-256, `UNSIGNED-PAYLOAD`, or anything
    /// else, left to the caller); [`ChunkedError::Unsupported`] for the SigV4a (ECDSA) streaming values.
    pub fn from_content_sha256(value: &str) -> Result<Option<StreamingPayload>, ChunkedError> {
        match value {
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => Ok(Some(StreamingPayload::Signed)),
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => Ok(Some(StreamingPayload::SignedTrailer)),
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => Ok(Some(StreamingPayload::UnsignedTrailer)),
            "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD" | "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER" => {
                Err(ChunkedError::Unsupported(format!(
                    "x-amz-content-sha256 {value} (SigV4a, ECDSA-signed chunks) is not supported; sign with SigV4 \
                     (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) or send STREAMING-UNSIGNED-PAYLOAD-TRAILER"
                )))
            }
            _ => Ok(None),
        }
    }

    /// Whether the body ends with trailers (`x-amz-trailer` names them).
    pub fn has_trailer(self) -> bool {
        !matches!(self, StreamingPayload::Signed)
    }
}

/// How the decoder reads and checks the body.
// The signing key (an aws-lc HMAC context) makes `Signed` large; there is one mode per request, moved once.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub enum ChunkedMode {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`: every chunk signature (and the trailer
    /// signature) is verified, chained from `seed_signature`, the request's own signature.
    Signed { key: HmacKey, amz_date: String, scope: String, seed_signature: [u8; 32], trailer: bool },
    /// The signed framing, signatures parsed but not checked. Only for `--dev` with credentials whose
    /// secret Coffer does not know (the request signature was not checked either).
    SignedUnverified { trailer: bool },
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`.
    Unsigned,
}

impl ChunkedMode {
    /// The signed mode for a request whose Authorization-header signature has been verified with `key`.
    pub fn signed(sr: &SignedRequest, key: HmacKey, trailer: bool) -> Result<ChunkedMode, ChunkedError> {
        let seed_signature =
            <[u8; 32]>::try_from(sr.signature.as_slice()).map_err(|_| ChunkedError::BadChunkSignature)?;
        Ok(ChunkedMode::Signed { key, amz_date: sr.amz_date.clone(), scope: sr.scope(), seed_signature, trailer })
    }
}

/// What the decoder produces, in order: `Data`*, then (trailer modes only) one `Trailer`, then `End`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Decoded object bytes. In the signed modes, a whole chunk whose signature has been verified.
    Data(Bytes),
    /// The trailers (names lower-cased, values trimmed, in body order, without
    /// `x-amz-trailer-signature`), exactly those `x-amz-trailer` declared. Only in trailer modes.
    Trailer(Vec<(String, String)>),
    /// The encoding ended well: every signature checked and the decoded length as declared. Bytes after
    /// it are still an error, so an upload is complete only once [`ChunkedDecoder::finish`] returns `Ok`.
    End,
}

/// Why an aws-chunked body was rejected. [`ChunkedError::s3_code`] gives S3's code and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkedError {
    /// The framing is broken (bad chunk-size line, data not followed by CRLF, bytes after the end).
    Malformed(String),
    /// A chunk or trailer signature does not match.
    BadChunkSignature,
    /// The body ended before the final chunk and its terminating CRLF.
    Incomplete,
    /// The decoded bytes do not add up to `x-amz-decoded-content-length` (`provided` counts chunk sizes
    /// as announced, so it can be found before the data arrives).
    LengthMismatch { expected: u64, provided: u64 },
    /// A chunk other than the last is smaller than [`MIN_CHUNK`]: chunk number `chunk` (1-based) followed
    /// a chunk of `size` bytes.
    ChunkTooSmall { chunk: u64, size: u64 },
    /// A chunk larger than this server accepts ([`MAX_SIGNED_CHUNK`] / [`MAX_UNSIGNED_CHUNK`]).
    ChunkTooLarge { size: u64, max: u64 },
    /// A trailer is malformed, missing (declared by `x-amz-trailer` but absent) or undeclared, or the
    /// trailer signature is missing.
    MalformedTrailer(String),
    /// A streaming mode Coffer does not implement (SigV4a).
    Unsupported(String),
}

impl ChunkedError {
    /// S3's error code and HTTP status for this error.
    ///
    /// Sources (observed S3 responses): framing errors and early ends are `IncompleteBody` 400 ("The
    /// request body terminated unexpectedly"); a decoded length other than `x-amz-decoded-content-length`
    /// is `IncompleteBody` 400 with `NumberBytesExpected`/`NumberBytesProvided`; a bad chunk signature is
    /// `SignatureDoesNotMatch` 403; a short non-final chunk is `InvalidChunkSizeError` 403 (with `Chunk`
    /// and `BadChunkSize`); a malformed, missing or undeclared trailer is `MalformedTrailerError` 400.
    /// Coffer's own limits: an oversized chunk is `InvalidChunkSizeError` 403 as well; SigV4a is
    /// `NotImplemented` 501.
    pub fn s3_code(&self) -> (&'static str, u16) {
        match self {
            ChunkedError::Malformed(_) | ChunkedError::Incomplete | ChunkedError::LengthMismatch { .. } => {
                ("IncompleteBody", 400)
            }
            ChunkedError::BadChunkSignature => ("SignatureDoesNotMatch", 403),
            ChunkedError::ChunkTooSmall { .. } | ChunkedError::ChunkTooLarge { .. } => ("InvalidChunkSizeError", 403),
            ChunkedError::MalformedTrailer(_) => ("MalformedTrailerError", 400),
            ChunkedError::Unsupported(_) => ("NotImplemented", 501),
        }
    }

    /// The error message: S3's wording, with Coffer's detail where it has one.
    pub fn message(&self) -> String {
        match self {
            ChunkedError::Malformed(d) => format!("The request body terminated unexpectedly: {d}"),
            ChunkedError::Incomplete => "The request body terminated unexpectedly".into(),
            ChunkedError::LengthMismatch { .. } => {
                "You did not provide the number of bytes specified by the Content-Length HTTP header".into()
            }
            ChunkedError::BadChunkSignature => "The request signature we calculated does not match the signature you \
                                                provided. Check your key and signing method."
                .into(),
            ChunkedError::ChunkTooSmall { .. } => {
                format!("Only the last chunk is allowed to have a size less than {MIN_CHUNK} bytes")
            }
            ChunkedError::ChunkTooLarge { size, max } => {
                format!("Chunk size {size} exceeds the largest chunk this server accepts, {max} bytes")
            }
            ChunkedError::MalformedTrailer(d) => format!(
                "The request contained trailing data that was not well-formed or did not conform to our published \
                 schema. ({d})"
            ),
            ChunkedError::Unsupported(d) => {
                format!("A header you provided implies functionality that is not implemented: {d}")
            }
        }
    }
}

impl std::fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.s3_code().0, self.message())
    }
}

impl std::error::Error for ChunkedError {}

/// `hex(sha256(""))`, the fixed line in every chunk string-to-sign.
const EMPTY_SHA256_HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A chunk's signature: HMAC(key, `AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n<previous>\n<sha256("")>\n<sha256(data)>`).
pub fn chunk_signature(
    key: &HmacKey,
    amz_date: &str,
    scope: &str,
    previous: &[u8; 32],
    data_sha256: &[u8; 32],
) -> [u8; 32] {
    let sts = format!(
        "{PAYLOAD_ALGORITHM}\n{amz_date}\n{scope}\n{}\n{EMPTY_SHA256_HEX}\n{}",
        hex(previous),
        hex(data_sha256)
    );
    key.sign(sts.as_bytes())
}

/// The trailer signature: HMAC(key, `AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n<previous>\n<sha256(canonical)>`)
/// where the canonical trailers are `name:value\n` for each trailer, names lower-cased and sorted, values
/// trimmed (as aws-sigv4's `sign_trailer`), `x-amz-trailer-signature` itself excluded.
pub fn trailer_signature(
    key: &HmacKey,
    amz_date: &str,
    scope: &str,
    previous: &[u8; 32],
    trailers: &[(String, String)],
) -> [u8; 32] {
    let mut sorted: Vec<(String, &str)> =
        trailers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.trim_matches([' ', '\t']))).collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut canonical = String::new();
    for (n, v) in &sorted {
        canonical.push_str(n);
        canonical.push(':');
        canonical.push_str(v);
        canonical.push('\n');
    }
    let sts =
        format!("{TRAILER_ALGORITHM}\n{amz_date}\n{scope}\n{}\n{}", hex(previous), hex(&sha256(canonical.as_bytes())));
    key.sign(sts.as_bytes())
}

/// The chunk signing context of the verifying mode.
struct Verifier {
    key: HmacKey,
    amz_date: String,
    scope: String,
    /// The last verified signature (the seed at first).
    previous: [u8; 32],
}

enum State {
    /// Reading `<hex size>[;...]\r\n`.
    ChunkLine,
    /// Reading a chunk's data.
    Data {
        remaining: u64,
    },
    /// Reading the CRLF after a chunk's data (`seen` bytes of it so far).
    DataEnd {
        seen: u8,
    },
    /// After the 0-size chunk line: trailer lines up to an empty line.
    Trailers,
    Done,
    /// An error happened; every later call returns it.
    Failed(ChunkedError),
}

/// Decodes one aws-chunked body. See the module documentation.
pub struct ChunkedDecoder {
    verifier: Option<Verifier>,
    /// `;chunk-signature=` framing.
    signed: bool,
    /// Trailers allowed after the last chunk.
    trailer: bool,
    declared: Vec<String>,
    decoded_length: Option<u64>,
    state: State,
    /// The line being read (chunk-size or trailer line), CRLF included.
    line: Vec<u8>,
    /// Input bytes consumed, for error messages.
    offset: u64,
    /// Decoded bytes announced by the chunk-size lines so far.
    total: u64,
    /// Data chunks seen (the 0-size chunk not counted).
    chunks: u64,
    last_size: Option<u64>,
    // The chunk being read (signed, verifying).
    claimed: [u8; 32],
    hasher: Option<Sha256>,
    /// The whole chunk as one slice of the input (no copy), when it arrived in one piece.
    whole: Option<Bytes>,
    /// Otherwise the chunk's bytes so far.
    pending: Vec<u8>,
    // Trailers.
    trailer_budget: usize,
    trailers: Vec<(String, String)>,
    trailer_sig: Option<[u8; 32]>,
}

impl ChunkedDecoder {
    /// `declared_trailers`: the `x-amz-trailer` header's names (each entry may itself be a
    /// comma-separated list; case and spaces do not matter). `decoded_length`: the
    /// `x-amz-decoded-content-length` header, checked when given.
    pub fn new(mode: ChunkedMode, declared_trailers: Vec<String>, decoded_length: Option<u64>) -> ChunkedDecoder {
        let (verifier, signed, trailer) = match mode {
            ChunkedMode::Signed { key, amz_date, scope, seed_signature, trailer } => {
                (Some(Verifier { key, amz_date, scope, previous: seed_signature }), true, trailer)
            }
            ChunkedMode::SignedUnverified { trailer } => (None, true, trailer),
            ChunkedMode::Unsigned => (None, false, true),
        };
        let mut declared: Vec<String> = Vec::new();
        for name in declared_trailers.iter().flat_map(|d| d.split(',')) {
            let name = name.trim().to_ascii_lowercase();
            if !name.is_empty() && !declared.contains(&name) {
                declared.push(name);
            }
        }
        ChunkedDecoder {
            verifier,
            signed,
            trailer,
            declared,
            decoded_length,
            state: State::ChunkLine,
            line: Vec::new(),
            offset: 0,
            total: 0,
            chunks: 0,
            last_size: None,
            claimed: [0; 32],
            hasher: None,
            whole: None,
            pending: Vec::new(),
            trailer_budget: 0,
            trailers: Vec::new(),
            trailer_sig: None,
        }
    }

    /// Consumes the next piece of the body, appending what it completes to `out`. Events pushed before
    /// an error are valid (verified) data preceding the failure; the upload must still be discarded.
    /// After an error every call returns that error.
    pub fn feed(&mut self, mut input: Bytes, out: &mut Vec<Event>) -> Result<(), ChunkedError> {
        if let State::Failed(e) = &self.state {
            return Err(e.clone());
        }
        let result = self.feed_inner(&mut input, out);
        if let Err(e) = &result {
            self.fail(e.clone());
        }
        result
    }

    /// Call at the end of the body: an error unless the body was complete.
    pub fn finish(&mut self) -> Result<(), ChunkedError> {
        match &self.state {
            State::Done => Ok(()),
            State::Failed(e) => Err(e.clone()),
            _ => {
                self.fail(ChunkedError::Incomplete);
                Err(ChunkedError::Incomplete)
            }
        }
    }

    fn fail(&mut self, e: ChunkedError) {
        self.state = State::Failed(e);
        self.whole = None;
        self.pending = Vec::new();
        self.line = Vec::new();
        self.trailers = Vec::new();
    }

    fn malformed(&self, what: &str) -> ChunkedError {
        ChunkedError::Malformed(format!("{what} (at byte {} of the body)", self.offset))
    }

    fn feed_inner(&mut self, input: &mut Bytes, out: &mut Vec<Event>) -> Result<(), ChunkedError> {
        while !input.is_empty() {
            match self.state {
                State::ChunkLine => {
                    if self.take_line(input, MAX_CHUNK_LINE)? {
                        let line = std::mem::take(&mut self.line);
                        let result = self.chunk_line(&line);
                        self.line = line;
                        self.line.clear();
                        result?;
                    }
                }
                State::Data { remaining } => {
                    let n = usize::try_from(remaining).unwrap_or(usize::MAX).min(input.len());
                    let piece = input.split_to(n);
                    self.offset += n as u64;
                    let remaining = remaining - n as u64;
                    self.chunk_data(piece, remaining, out);
                    self.state = if remaining == 0 { State::DataEnd { seen: 0 } } else { State::Data { remaining } };
                }
                State::DataEnd { seen } => {
                    if input[0] != b"\r\n"[usize::from(seen)] {
                        return Err(self
                            .malformed("chunk data is not followed by CRLF (the chunk size does not match its data)"));
                    }
                    let _ = input.split_to(1);
                    self.offset += 1;
                    if seen == 0 {
                        self.state = State::DataEnd { seen: 1 };
                    } else {
                        self.end_chunk(out)?;
                        self.state = State::ChunkLine;
                    }
                }
                State::Trailers => {
                    let (budget, trailer) = (self.trailer_budget, self.trailer);
                    let complete = self.take_line(input, budget).map_err(|_| {
                        if trailer {
                            ChunkedError::MalformedTrailer(format!("the trailers exceed {MAX_TRAILER_BYTES} bytes"))
                        } else {
                            ChunkedError::MalformedTrailer(
                                "the body has trailing data after the final chunk but x-amz-content-sha256 allows no trailer"
                                    .into(),
                            )
                        }
                    })?;
                    if complete {
                        self.trailer_budget -= self.line.len();
                        let line = std::mem::take(&mut self.line);
                        let result = self.trailer_line(&line, out);
                        self.line = line;
                        self.line.clear();
                        result?;
                    }
                }
                State::Done => return Err(self.malformed("data after the end of the aws-chunked body")),
                State::Failed(ref e) => return Err(e.clone()),
            }
        }
        Ok(())
    }

    /// Moves input into `self.line` up to and including an LF. `Ok(true)` when the line is complete;
    /// an error if it would exceed `limit` bytes (CRLF included).
    fn take_line(&mut self, input: &mut Bytes, limit: usize) -> Result<bool, ChunkedError> {
        let room = limit.saturating_sub(self.line.len());
        // Only the first `room` bytes can hold this line's LF.
        match input[..input.len().min(room)].iter().position(|&b| b == b'\n') {
            Some(i) => {
                let part = input.split_to(i + 1);
                self.offset += part.len() as u64;
                self.line.extend_from_slice(&part);
                Ok(true)
            }
            None if input.len() < room => {
                self.offset += input.len() as u64;
                self.line.extend_from_slice(input);
                input.clear();
                Ok(false)
            }
            _ => Err(self.malformed(&format!("a line longer than {limit} bytes"))),
        }
    }

    /// A complete chunk-size line (CRLF included).
    fn chunk_line(&mut self, line: &[u8]) -> Result<(), ChunkedError> {
        let Some(body) = line.strip_suffix(b"\r\n") else {
            return Err(self.malformed("a chunk-size line not ended by CRLF"));
        };
        let max = if self.signed { MAX_SIGNED_CHUNK } else { MAX_UNSIGNED_CHUNK };
        let digits = body.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if digits == 0 {
            return Err(self.malformed(&format!("a chunk-size line without a hex size: {}", printable(body))));
        }
        let mut size: u64 = 0;
        for &b in &body[..digits] {
            let d = char::from(b).to_digit(16).unwrap_or(0);
            size = size * 16 + u64::from(d);
            if size > max {
                return Err(ChunkedError::ChunkTooLarge { size: parse_hex_saturating(&body[..digits]), max });
            }
        }
        let rest = &body[digits..];
        let claimed = if self.signed {
            match rest.strip_prefix(CHUNK_SIGNATURE).and_then(parse_signature) {
                Some(sig) => sig,
                None => {
                    return Err(self.malformed(&format!(
                        "a chunk-size line not of the form <hex size>;chunk-signature=<64 hex>: {}",
                        printable(body)
                    )));
                }
            }
        } else {
            // Unsigned: `;` chunk extensions are allowed and ignored.
            if !(rest.is_empty() || rest[0] == b';' && rest.iter().all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))) {
                return Err(self.malformed(&format!("a malformed chunk-size line: {}", printable(body))));
            }
            [0; 32]
        };
        if size > 0
            && let Some(last) = self.last_size
            && last < MIN_CHUNK
        {
            return Err(ChunkedError::ChunkTooSmall { chunk: self.chunks + 1, size: last });
        }
        let total = self.total.saturating_add(size);
        if let Some(expected) = self.decoded_length
            && total > expected
        {
            return Err(ChunkedError::LengthMismatch { expected, provided: total });
        }
        self.total = total;
        if size == 0 {
            if let Some(v) = &mut self.verifier {
                let sig = chunk_signature(&v.key, &v.amz_date, &v.scope, &v.previous, &sha256(b""));
                if !ct_eq(&sig, &claimed) {
                    return Err(ChunkedError::BadChunkSignature);
                }
                v.previous = sig;
            }
            if let Some(expected) = self.decoded_length
                && total != expected
            {
                return Err(ChunkedError::LengthMismatch { expected, provided: total });
            }
            // Without trailers only the final empty line may follow.
            self.trailer_budget = if self.trailer { MAX_TRAILER_BYTES } else { 2 };
            self.state = State::Trailers;
        } else {
            self.chunks += 1;
            self.last_size = Some(size);
            self.claimed = claimed;
            self.hasher = self.verifier.as_ref().map(|_| Sha256::default());
            self.state = State::Data { remaining: size };
        }
        Ok(())
    }

    /// A piece of the current chunk's data; `remaining` is what is left of the chunk after it.
    fn chunk_data(&mut self, piece: Bytes, remaining: u64, out: &mut Vec<Event>) {
        if piece.is_empty() {
            return;
        }
        let Some(hasher) = &mut self.hasher else {
            // Nothing to verify: release as it comes.
            out.push(Event::Data(piece));
            return;
        };
        hasher.update(&piece);
        if remaining == 0 && self.pending.is_empty() && self.whole.is_none() {
            self.whole = Some(piece);
            return;
        }
        let free = self.pending.capacity() - self.pending.len();
        if free < piece.len() {
            // Grow geometrically, but never past the chunk's size.
            let len = self.pending.len();
            let chunk_left = piece.len() as u64 + remaining;
            let want = (len * 2).max(len + piece.len()).max(16 * 1024) as u64;
            let want = want.min(len as u64 + chunk_left);
            self.pending.reserve_exact(usize::try_from(want).unwrap_or(usize::MAX) - len);
        }
        self.pending.extend_from_slice(&piece);
    }

    /// The CRLF after a chunk's data has been read: verify and release the chunk.
    fn end_chunk(&mut self, out: &mut Vec<Event>) -> Result<(), ChunkedError> {
        let (Some(v), Some(hasher)) = (&mut self.verifier, self.hasher.take()) else {
            return Ok(());
        };
        let sig = chunk_signature(&v.key, &v.amz_date, &v.scope, &v.previous, &hasher.finish());
        if !ct_eq(&sig, &self.claimed) {
            return Err(ChunkedError::BadChunkSignature);
        }
        v.previous = sig;
        let data = match self.whole.take() {
            Some(b) => b,
            None => Bytes::from(std::mem::take(&mut self.pending)),
        };
        out.push(Event::Data(data));
        Ok(())
    }

    /// A complete line after the 0-size chunk line (CRLF included).
    fn trailer_line(&mut self, line: &[u8], out: &mut Vec<Event>) -> Result<(), ChunkedError> {
        let Some(body) = line.strip_suffix(b"\r\n") else {
            return Err(ChunkedError::MalformedTrailer("a trailer line not ended by CRLF".into()));
        };
        if body.is_empty() {
            return self.end_trailers(out);
        }
        if !self.trailer {
            return Err(ChunkedError::MalformedTrailer(
                "the body has trailing data after the final chunk but x-amz-content-sha256 allows no trailer".into(),
            ));
        }
        if self.trailer_sig.is_some() {
            return Err(ChunkedError::MalformedTrailer(format!("a trailer after {TRAILER_SIGNATURE}")));
        }
        let Some(colon) = body.iter().position(|&b| b == b':') else {
            return Err(ChunkedError::MalformedTrailer(format!("a trailer line without ':': {}", printable(body))));
        };
        let (name, value) = (&body[..colon], &body[colon + 1..]);
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(ChunkedError::MalformedTrailer(format!("an invalid trailer name: {}", printable(name))));
        }
        let value = trim_sp(value);
        if !value.iter().all(|&b| b == b'\t' || (b' '..=b'~').contains(&b)) {
            return Err(ChunkedError::MalformedTrailer(format!("an invalid trailer value: {}", printable(value))));
        }
        // Both are ASCII by now.
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        let value = String::from_utf8_lossy(value).into_owned();
        if name == TRAILER_SIGNATURE {
            if !self.signed {
                return Err(ChunkedError::MalformedTrailer(format!("{TRAILER_SIGNATURE} in an unsigned body")));
            }
            let sig = parse_signature(value.as_bytes())
                .ok_or_else(|| ChunkedError::MalformedTrailer(format!("{TRAILER_SIGNATURE} is not 64 hex digits")))?;
            self.trailer_sig = Some(sig);
            return Ok(());
        }
        if self.trailers.iter().any(|(n, _)| *n == name) {
            return Err(ChunkedError::MalformedTrailer(format!("trailer {name} appears twice")));
        }
        self.trailers.push((name, value));
        Ok(())
    }

    /// The empty line ending the body.
    fn end_trailers(&mut self, out: &mut Vec<Event>) -> Result<(), ChunkedError> {
        if self.signed && self.trailer {
            match (&self.trailer_sig, &self.verifier) {
                // The SDKs send no trailer signature when they have no trailer to sign.
                (None, _) if self.trailers.is_empty() => {}
                (None, _) => {
                    return Err(ChunkedError::MalformedTrailer(format!("the trailers have no {TRAILER_SIGNATURE}")));
                }
                (Some(claimed), Some(v)) => {
                    let sig = trailer_signature(&v.key, &v.amz_date, &v.scope, &v.previous, &self.trailers);
                    if !ct_eq(&sig, claimed) {
                        return Err(ChunkedError::BadChunkSignature);
                    }
                }
                (Some(_), None) => {}
            }
        }
        if let Some(missing) = self.declared.iter().find(|d| !self.trailers.iter().any(|(n, _)| n == *d)) {
            return Err(ChunkedError::MalformedTrailer(format!(
                "x-amz-trailer declares {missing} but the body has no such trailer"
            )));
        }
        if let Some((extra, _)) = self.trailers.iter().find(|(n, _)| !self.declared.contains(n)) {
            return Err(ChunkedError::MalformedTrailer(format!("trailer {extra} is not declared in x-amz-trailer")));
        }
        if self.trailer {
            out.push(Event::Trailer(std::mem::take(&mut self.trailers)));
        }
        out.push(Event::End);
        self.state = State::Done;
        Ok(())
    }
}

/// 64 hex digits to 32 bytes.
fn parse_signature(s: &[u8]) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let v = unhex(std::str::from_utf8(s).ok()?)?;
    v.try_into().ok()
}

/// The value of a hex string too large for its purpose (for the error message only).
fn parse_hex_saturating(digits: &[u8]) -> u64 {
    digits
        .iter()
        .fold(0u64, |acc, &b| acc.saturating_mul(16).saturating_add(u64::from(char::from(b).to_digit(16).unwrap_or(0))))
}

/// Without leading and trailing spaces and tabs.
fn trim_sp(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// At most 64 bytes of `b`, escaped, for error messages.
fn printable(b: &[u8]) -> String {
    let s: String = String::from_utf8_lossy(&b[..b.len().min(64)]).escape_debug().collect();
    if b.len() > 64 { format!("\"{s}...\"") } else { format!("\"{s}\"") }
}

/// Fuzzing entry point: decodes `data` in every mode, split into pieces whose sizes the data chooses,
/// and asserts the decoder's invariants (it must never panic; released data never exceeds the declared
/// length; `Trailer` and `End` come once, last, and only on success).
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    let (control, body) = match data {
        [a, b, rest @ ..] => ((*a, *b), rest),
        _ => ((0, 0), data),
    };
    let key = HmacKey::new(b"fuzz");
    let modes = [
        ChunkedMode::Signed {
            key: key.clone(),
            amz_date: "20130524T000000Z".into(),
            scope: "20130524/us-east-1/s3/aws4_request".into(),
            seed_signature: [0; 32],
            trailer: control.0 & 1 == 1,
        },
        ChunkedMode::SignedUnverified { trailer: control.0 & 1 == 1 },
        ChunkedMode::Unsigned,
    ];
    let decoded_length = (control.0 & 2 == 2).then_some(u64::from(control.1) * 97);
    let declared = if control.0 & 4 == 4 { vec!["x-amz-checksum-crc32".to_string()] } else { Vec::new() };
    let step = usize::from(control.1 % 17) + 1;
    let body = Bytes::copy_from_slice(body);
    for mode in modes {
        let trailer_mode = !matches!(
            mode,
            ChunkedMode::Signed { trailer: false, .. } | ChunkedMode::SignedUnverified { trailer: false }
        );
        let mut dec = ChunkedDecoder::new(mode, declared.clone(), decoded_length);
        let mut out = Vec::new();
        let mut ok = true;
        let mut at = 0;
        while at < body.len() {
            let end = (at + step).min(body.len());
            if dec.feed(body.slice(at..end), &mut out).is_err() {
                ok = false;
                break;
            }
            at = end;
        }
        let finished = ok && dec.finish().is_ok();
        let released: u64 = out.iter().map(|e| if let Event::Data(d) = e { d.len() as u64 } else { 0 }).sum();
        if let Some(d) = decoded_length {
            assert!(released <= d, "released {released} bytes, declared {d}");
        }
        let ends = out.iter().filter(|e| matches!(e, Event::End)).count();
        let trailers = out.iter().filter(|e| matches!(e, Event::Trailer(_))).count();
        // End can precede an error only for bytes after the end of the body.
        assert!(ends <= 1 && (ends == 0 || matches!(out.last(), Some(Event::End))));
        assert!(!finished || ends == 1, "a finished body has its End");
        assert_eq!(trailers, usize::from(ends == 1 && trailer_mode));
        if trailers == 1 {
            assert!(matches!(out[out.len() - 2], Event::Trailer(_)));
        }
        if ends == 1
            && let Some(d) = decoded_length
        {
            assert_eq!(released, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigv4::derive_signing_key;

    /// The S3 documentation's example credentials (note `/bPx`, not the `+bPx` of the SigV4 suite).
    const SECRET: &[u8] = b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const DATE: &str = "20130524T000000Z";
    const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";

    fn key() -> HmacKey {
        derive_signing_key(SECRET, "20130524", "us-east-1", "s3")
    }

    fn sig(h: &str) -> [u8; 32] {
        unhex(h).unwrap().try_into().unwrap()
    }

    fn signed_mode(seed: &str, trailer: bool) -> ChunkedMode {
        ChunkedMode::Signed {
            key: key(),
            amz_date: DATE.into(),
            scope: SCOPE.into(),
            seed_signature: sig(seed),
            trailer,
        }
    }

    /// Feeds `body` in pieces of `step` bytes; returns the events and the first error (feed or finish).
    fn decode(mut dec: ChunkedDecoder, body: &[u8], step: usize) -> (Vec<Event>, Result<(), ChunkedError>) {
        let body = Bytes::copy_from_slice(body);
        let mut out = Vec::new();
        for at in (0..body.len()).step_by(step.max(1)) {
            if let Err(e) = dec.feed(body.slice(at..(at + step).min(body.len())), &mut out) {
                return (out, Err(e));
            }
        }
        let r = dec.finish();
        (out, r)
    }

    fn data_of(events: &[Event]) -> Vec<u8> {
        events.iter().flat_map(|e| if let Event::Data(d) = e { d.to_vec() } else { Vec::new() }).collect()
    }

    fn trailers_of(events: &[Event]) -> Option<Vec<(String, String)>> {
        events.iter().find_map(|e| if let Event::Trailer(t) = e { Some(t.clone()) } else { None })
    }

    /// Encodes a signed body, chaining chunk signatures from `seed`; with `trailers`, the trailer form.
    fn encode_signed(seed: &[u8; 32], chunks: &[&[u8]], trailers: Option<&[(&str, &str)]>) -> Vec<u8> {
        let k = key();
        let mut prev = *seed;
        let mut out = Vec::new();
        for c in chunks.iter().copied().chain([&b""[..]]) {
            prev = chunk_signature(&k, DATE, SCOPE, &prev, &sha256(c));
            out.extend_from_slice(format!("{:X};chunk-signature={}\r\n", c.len(), hex(&prev)).as_bytes());
            if !c.is_empty() {
                out.extend_from_slice(c);
                out.extend_from_slice(b"\r\n");
            }
        }
        match trailers {
            None => out.extend_from_slice(b"\r\n"),
            Some(t) => {
                for (n, v) in t {
                    out.extend_from_slice(format!("{n}:{v}\r\n").as_bytes());
                }
                let owned: Vec<(String, String)> = t.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
                let ts = trailer_signature(&k, DATE, SCOPE, &prev, &owned);
                out.extend_from_slice(format!("{TRAILER_SIGNATURE}:{}\r\n\r\n", hex(&ts)).as_bytes());
            }
        }
        out
    }

    // The S3 documentation's chunked PUT example (sigv4-streaming.html): 66560 bytes of 'a', 64 KiB
    // chunks. The same vectors are asserted by aws-runtime's AwsChunkedBody tests.
    const DOC_SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    const DOC_SIGS: [&str; 3] = [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ];
    // The trailer example (sigv4-streaming-trailers.html): same data, trailer x-amz-checksum-crc32c.
    const DOC_TRAILER_SEED: &str = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";
    const DOC_TRAILER_SIGS: [&str; 3] = [
        "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
        "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
        "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
    ];
    const DOC_TRAILER_SIG: &str = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435";

    /// The documented wire bytes, written out literally rather than with `encode_signed`.
    fn doc_body(sigs: [&str; 3], trailer: Option<&str>) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(format!("10000;chunk-signature={}\r\n", sigs[0]).as_bytes());
        b.extend_from_slice(&[b'a'; 65536]);
        b.extend_from_slice(format!("\r\n400;chunk-signature={}\r\n", sigs[1]).as_bytes());
        b.extend_from_slice(&[b'a'; 1024]);
        b.extend_from_slice(format!("\r\n0;chunk-signature={}\r\n", sigs[2]).as_bytes());
        match trailer {
            None => b.extend_from_slice(b"\r\n"),
            Some(t) => b.extend_from_slice(
                format!("x-amz-checksum-crc32c:sOO8/Q==\r\n{TRAILER_SIGNATURE}:{t}\r\n\r\n").as_bytes(),
            ),
        }
        b
    }

    #[test]
    fn empty_sha256_constant() {
        assert_eq!(EMPTY_SHA256_HEX, hex(&sha256(b"")));
    }

    #[test]
    fn aws_documented_chunk_signatures() {
        let k = key();
        let a64 = vec![b'a'; 65536];
        let s1 = chunk_signature(&k, DATE, SCOPE, &sig(DOC_SEED), &sha256(&a64));
        assert_eq!(hex(&s1), DOC_SIGS[0]);
        let s2 = chunk_signature(&k, DATE, SCOPE, &s1, &sha256(&[b'a'; 1024]));
        assert_eq!(hex(&s2), DOC_SIGS[1]);
        let s3 = chunk_signature(&k, DATE, SCOPE, &s2, &sha256(b""));
        assert_eq!(hex(&s3), DOC_SIGS[2]);
        // Trailer example: the chunk chain, then the trailer signature over `x-amz-checksum-crc32c:sOO8/Q==\n`.
        let mut prev = sig(DOC_TRAILER_SEED);
        for (data, want) in
            [(&a64[..], DOC_TRAILER_SIGS[0]), (&a64[..1024], DOC_TRAILER_SIGS[1]), (&b""[..], DOC_TRAILER_SIGS[2])]
        {
            prev = chunk_signature(&k, DATE, SCOPE, &prev, &sha256(data));
            assert_eq!(hex(&prev), want);
        }
        let t = [("x-amz-checksum-crc32c".to_string(), "sOO8/Q==".to_string())];
        assert_eq!(hex(&trailer_signature(&k, DATE, SCOPE, &prev, &t)), DOC_TRAILER_SIG);
        // AWS's documented hash of the canonical trailer.
        assert_eq!(
            hex(&sha256(b"x-amz-checksum-crc32c:sOO8/Q==\n")),
            "1e376db7e1a34a8ef1c4bcee131a2d60a1cb62503747488624e10995f448d774"
        );
        // The encoder used by the other tests reproduces the documented bytes.
        assert_eq!(encode_signed(&sig(DOC_SEED), &[&a64, &a64[..1024]], None), doc_body(DOC_SIGS, None));
        assert_eq!(
            encode_signed(
                &sig(DOC_TRAILER_SEED),
                &[&a64, &a64[..1024]],
                Some(&[("x-amz-checksum-crc32c", "sOO8/Q==")])
            ),
            doc_body(DOC_TRAILER_SIGS, Some(DOC_TRAILER_SIG))
        );
    }

    /// Cross-checked with aws-sigv4 1.6.4 `sign_chunk`/`sign_trailer` (a scratch program outside the
    /// workspace): two trailers in non-sorted order, so the canonical form's sorting matters.
    #[test]
    fn aws_sigv4_cross_check() {
        let k = key();
        let prev = sig(DOC_SIGS[2]);
        let t = [
            ("x-amz-checksum-sha256".to_string(), "  n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg= ".to_string()),
            ("X-Amz-Checksum-CRC32".to_string(), "NhCmhg==".to_string()),
        ];
        assert_eq!(hex(&trailer_signature(&k, DATE, SCOPE, &prev, &t)), AWS_SIGV4_TWO_TRAILERS);
        // The order matters: the same trailers hashed in body order give another signature.
        let unsorted =
            "x-amz-checksum-sha256:n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=\nx-amz-checksum-crc32:NhCmhg==\n";
        let sts =
            format!("{TRAILER_ALGORITHM}\n{DATE}\n{SCOPE}\n{}\n{}", DOC_SIGS[2], hex(&sha256(unsorted.as_bytes())));
        assert_ne!(hex(&k.sign(sts.as_bytes())), AWS_SIGV4_TWO_TRAILERS);
        let c = chunk_signature(&k, DATE, SCOPE, &prev, &sha256(b"hello"));
        assert_eq!(hex(&c), AWS_SIGV4_HELLO_CHUNK);
    }
    const AWS_SIGV4_TWO_TRAILERS: &str = "afe5a480e87d5342b9e50ac0e98fbe90ac270f3f173201095baa22e1faba13c9";
    const AWS_SIGV4_HELLO_CHUNK: &str = "c0ad6ab72c629c92c851b2b1de8c2608d9c1ef9cbb015b741d6cb5cf21148d01";

    #[test]
    fn decodes_the_documented_example() {
        let body = doc_body(DOC_SIGS, None);
        assert_eq!(body.len(), 66824, "the documented Content-Length");
        let (events, r) =
            decode(ChunkedDecoder::new(signed_mode(DOC_SEED, false), vec![], Some(66560)), &body, body.len());
        r.unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0], Event::Data(Bytes::from(vec![b'a'; 65536])));
        assert_eq!(events[1], Event::Data(Bytes::from(vec![b'a'; 1024])));
        assert_eq!(events[2], Event::End);
        // Byte by byte: the same events, each chunk released whole.
        let (slow, r) = decode(ChunkedDecoder::new(signed_mode(DOC_SEED, false), vec![], Some(66560)), &body, 1);
        r.unwrap();
        assert_eq!(slow, events);
        // Other piece sizes.
        for step in [2, 3, 7, 64, 100, 1000, 4096, 65535, 65536, 65537, 65622] {
            let (ev, r) = decode(ChunkedDecoder::new(signed_mode(DOC_SEED, false), vec![], None), &body, step);
            r.unwrap();
            assert_eq!(ev, events, "step {step}");
        }
        // A wrong seed breaks the first chunk: nothing is released.
        let (ev, r) = decode(ChunkedDecoder::new(signed_mode(DOC_TRAILER_SEED, false), vec![], None), &body, 1);
        assert_eq!(r, Err(ChunkedError::BadChunkSignature));
        assert!(ev.is_empty());
    }

    #[test]
    fn decodes_the_documented_trailer_example() {
        let body = doc_body(DOC_TRAILER_SIGS, Some(DOC_TRAILER_SIG));
        assert_eq!(body.len(), 66946, "the documented Content-Length");
        let declared = vec!["x-amz-checksum-crc32c".to_string()];
        for step in [1, 13, 4096, body.len()] {
            let dec = ChunkedDecoder::new(signed_mode(DOC_TRAILER_SEED, true), declared.clone(), Some(66560));
            let (events, r) = decode(dec, &body, step);
            r.unwrap();
            assert_eq!(data_of(&events), vec![b'a'; 66560]);
            assert_eq!(
                trailers_of(&events).unwrap(),
                vec![("x-amz-checksum-crc32c".to_string(), "sOO8/Q==".to_string())]
            );
            assert_eq!(&events[events.len() - 2..], &[Event::Trailer(trailers_of(&events).unwrap()), Event::End]);
        }
        // A changed trailer value fails the trailer signature.
        let bad = String::from_utf8(body.clone()).unwrap().replace("sOO8/Q==", "sOO8/Q=A");
        let dec = ChunkedDecoder::new(signed_mode(DOC_TRAILER_SEED, true), declared.clone(), None);
        let (events, r) = decode(dec, bad.as_bytes(), 4096);
        assert_eq!(r, Err(ChunkedError::BadChunkSignature));
        assert!(trailers_of(&events).is_none() && !events.contains(&Event::End));
        // Without the trailer signature line.
        let cut =
            String::from_utf8(body.clone()).unwrap().replace(&format!("{TRAILER_SIGNATURE}:{DOC_TRAILER_SIG}\r\n"), "");
        let dec = ChunkedDecoder::new(signed_mode(DOC_TRAILER_SEED, true), declared.clone(), None);
        assert!(
            matches!(decode(dec, cut.as_bytes(), 4096).1, Err(ChunkedError::MalformedTrailer(m)) if m.contains("no x-amz-trailer-signature"))
        );
        // The trailer body read in the non-trailer mode.
        let dec = ChunkedDecoder::new(signed_mode(DOC_TRAILER_SEED, false), vec![], None);
        assert!(matches!(decode(dec, &body, 4096).1, Err(ChunkedError::MalformedTrailer(_))));
        // Undeclared (no x-amz-trailer) or a different declared trailer.
        for declared in
            [vec![], vec!["x-amz-checksum-crc32".to_string()], vec!["x-amz-checksum-crc32c,x-amz-checksum-sha1".into()]]
        {
            let dec = ChunkedDecoder::new(signed_mode(DOC_TRAILER_SEED, true), declared.clone(), None);
            assert!(matches!(decode(dec, &body, 4096).1, Err(ChunkedError::MalformedTrailer(_))), "{declared:?}");
        }
        // Declared in another case and with spaces: fine.
        let dec =
            ChunkedDecoder::new(signed_mode(DOC_TRAILER_SEED, true), vec![" X-Amz-Checksum-CRC32C ".into()], None);
        decode(dec, &body, 4096).1.unwrap();
    }

    #[test]
    fn signed_trailer_generated() {
        let seed = sha256(b"seed");
        let a = vec![7u8; 9000];
        let trailers: &[(&str, &str)] = &[
            ("x-amz-checksum-sha256", "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="),
            ("x-amz-checksum-crc32", "NhCmhg=="),
        ];
        let body = encode_signed(&seed, &[&a, b"hello"], Some(trailers));
        let mode = || ChunkedMode::Signed {
            key: key(),
            amz_date: DATE.into(),
            scope: SCOPE.into(),
            seed_signature: seed,
            trailer: true,
        };
        let declared = vec!["x-amz-checksum-sha256, x-amz-checksum-crc32".to_string()];
        let (events, r) = decode(ChunkedDecoder::new(mode(), declared.clone(), Some(9005)), &body, 1);
        r.unwrap();
        assert_eq!(data_of(&events), [&a[..], b"hello"].concat());
        assert_eq!(
            trailers_of(&events).unwrap(),
            trailers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect::<Vec<_>>()
        );
        // Every split into two pieces.
        for split in 0..=body.len() {
            let mut dec = ChunkedDecoder::new(mode(), declared.clone(), Some(9005));
            let mut out = Vec::new();
            let b = Bytes::from(body.clone());
            dec.feed(b.slice(..split), &mut out).unwrap();
            dec.feed(b.slice(split..), &mut out).unwrap();
            dec.finish().unwrap();
            assert_eq!(out, events, "split at {split}");
        }
        // No trailers at all: the SDKs then send no trailer signature either.
        let mut plain = encode_signed(&seed, &[b"hello"], None);
        let (events, r) = decode(ChunkedDecoder::new(mode(), vec![], Some(5)), &plain, 3);
        r.unwrap();
        assert_eq!(events, vec![Event::Data(Bytes::from_static(b"hello")), Event::Trailer(vec![]), Event::End]);
        // ...but then a declared trailer is missing.
        let (_, r) = decode(ChunkedDecoder::new(mode(), vec!["x-amz-checksum-crc32".into()], Some(5)), &plain, 3);
        assert!(matches!(r, Err(ChunkedError::MalformedTrailer(m)) if m.contains("declares")));
        // A trailer after the trailer signature.
        plain = encode_signed(&seed, &[b"hello"], Some(&[("x-amz-checksum-crc32", "NhCmhg==")]));
        plain.truncate(plain.len() - 2);
        plain.extend_from_slice(b"x-amz-meta-late:1\r\n\r\n");
        let (_, r) = decode(ChunkedDecoder::new(mode(), vec!["x-amz-checksum-crc32".into()], Some(5)), &plain, 3);
        assert!(matches!(r, Err(ChunkedError::MalformedTrailer(m)) if m.contains("after")));
    }

    #[test]
    fn corrupted_data_releases_nothing_of_that_chunk() {
        let body = doc_body(DOC_SIGS, None);
        // Flip a byte in the second chunk: the first chunk is released, the second is not.
        let mut bad = body.clone();
        let at = body.len() - 100 - 90;
        assert_eq!(bad[at], b'a');
        bad[at] = b'b';
        for step in [1, 5000, bad.len()] {
            let (events, r) = decode(ChunkedDecoder::new(signed_mode(DOC_SEED, false), vec![], None), &bad, step);
            assert_eq!(r, Err(ChunkedError::BadChunkSignature));
            assert_eq!(events, vec![Event::Data(Bytes::from(vec![b'a'; 65536]))], "step {step}");
        }
        // In the first chunk: nothing at all.
        let mut bad = body.clone();
        bad[1000] = b'b';
        let (events, r) = decode(ChunkedDecoder::new(signed_mode(DOC_SEED, false), vec![], None), &bad, 1);
        assert_eq!(r, Err(ChunkedError::BadChunkSignature));
        assert!(events.is_empty());
        // A tampered signature on the final chunk: the data came, but no End.
        let s = String::from_utf8(body.clone()).unwrap().replace(DOC_SIGS[2], &DOC_SIGS[2].replace('9', "8"));
        let (events, r) = decode(ChunkedDecoder::new(signed_mode(DOC_SEED, false), vec![], None), s.as_bytes(), 1);
        assert_eq!(r, Err(ChunkedError::BadChunkSignature));
        assert!(!events.contains(&Event::End));
        // The error sticks.
        let mut dec = ChunkedDecoder::new(signed_mode(DOC_SEED, false), vec![], None);
        let mut out = Vec::new();
        assert!(dec.feed(Bytes::from(bad), &mut out).is_err());
        assert_eq!(dec.feed(Bytes::from_static(b"0"), &mut out), Err(ChunkedError::BadChunkSignature));
        assert_eq!(dec.finish(), Err(ChunkedError::BadChunkSignature));
        // In dev (unverified) mode the same body decodes.
        let (events, r) = decode(
            ChunkedDecoder::new(ChunkedMode::SignedUnverified { trailer: false }, vec![], Some(66560)),
            s.as_bytes(),
            999,
        );
        r.unwrap();
        assert_eq!(data_of(&events), vec![b'a'; 66560]);
    }

    #[test]
    fn truncated_bodies_are_incomplete() {
        let seed = sha256(b"seed");
        let a = vec![1u8; 8192];
        let bodies: Vec<(ChunkedMode, Vec<u8>)> = vec![
            (
                ChunkedMode::Signed {
                    key: key(),
                    amz_date: DATE.into(),
                    scope: SCOPE.into(),
                    seed_signature: seed,
                    trailer: false,
                },
                encode_signed(&seed, &[&a, b"xyz"], None),
            ),
            (
                ChunkedMode::Signed {
                    key: key(),
                    amz_date: DATE.into(),
                    scope: SCOPE.into(),
                    seed_signature: seed,
                    trailer: true,
                },
                encode_signed(&seed, &[&a, b"xyz"], Some(&[("x-amz-checksum-crc32", "AAAAAA==")])),
            ),
            (
                ChunkedMode::Unsigned,
                [b"2000\r\n".as_slice(), &a, b"\r\n3;ext\r\nxyz\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"]
                    .concat(),
            ),
        ];
        for (mode, body) in bodies {
            let declared = if matches!(mode, ChunkedMode::Signed { trailer: false, .. }) {
                vec![]
            } else {
                vec!["x-amz-checksum-crc32".to_string()]
            };
            let (events, r) = decode(ChunkedDecoder::new(mode.clone(), declared.clone(), Some(8195)), &body, 7);
            r.unwrap();
            assert_eq!(data_of(&events), [&a[..], b"xyz"].concat());
            for cut in 0..body.len() {
                let mut dec = ChunkedDecoder::new(mode.clone(), declared.clone(), Some(8195));
                let mut out = Vec::new();
                dec.feed(Bytes::copy_from_slice(&body[..cut]), &mut out).unwrap();
                assert_eq!(dec.finish(), Err(ChunkedError::Incomplete), "cut at {cut}");
                assert!(!out.contains(&Event::End));
            }
            // Every split into two pieces decodes the same.
            for split in 0..=body.len() {
                let mut dec = ChunkedDecoder::new(mode.clone(), declared.clone(), Some(8195));
                let mut out = Vec::new();
                dec.feed(Bytes::copy_from_slice(&body[..split]), &mut out).unwrap();
                dec.feed(Bytes::copy_from_slice(&body[split..]), &mut out).unwrap();
                dec.finish().unwrap();
                assert_eq!(data_of(&out), data_of(&events), "split at {split}");
                assert_eq!(out.last(), Some(&Event::End));
            }
        }
    }

    #[test]
    fn decoded_length_must_match() {
        let body = doc_body(DOC_SIGS, None);
        // Declared shorter: refused at the chunk header, before its data is released.
        let (events, r) = decode(ChunkedDecoder::new(signed_mode(DOC_SEED, false), vec![], Some(66000)), &body, 1);
        assert_eq!(r, Err(ChunkedError::LengthMismatch { expected: 66000, provided: 66560 }));
        assert_eq!(data_of(&events).len(), 65536);
        // Declared longer: refused at the final chunk.
        let (events, r) = decode(ChunkedDecoder::new(signed_mode(DOC_SEED, false), vec![], Some(70000)), &body, 100);
        assert_eq!(r, Err(ChunkedError::LengthMismatch { expected: 70000, provided: 66560 }));
        assert!(!events.contains(&Event::End));
        let (_, r) = decode(ChunkedDecoder::new(ChunkedMode::Unsigned, vec![], Some(3)), b"5\r\nhello\r\n0\r\n\r\n", 1);
        assert_eq!(r, Err(ChunkedError::LengthMismatch { expected: 3, provided: 5 }));
        assert_eq!(r.unwrap_err().s3_code(), ("IncompleteBody", 400));
    }

    #[test]
    fn unsigned_trailer_mode() {
        let body = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n";
        let declared = vec!["x-amz-checksum-crc32".to_string()];
        let (events, r) =
            decode(ChunkedDecoder::new(ChunkedMode::Unsigned, declared.clone(), Some(5)), body, body.len());
        r.unwrap();
        let trailer = vec![("x-amz-checksum-crc32".to_string(), "NhCmhg==".to_string())];
        assert_eq!(
            events,
            vec![Event::Data(Bytes::from_static(b"hello")), Event::Trailer(trailer.clone()), Event::End]
        );
        // Byte by byte, data is released as it comes.
        let (events, r) = decode(ChunkedDecoder::new(ChunkedMode::Unsigned, declared.clone(), Some(5)), body, 1);
        r.unwrap();
        assert_eq!(events.iter().filter(|e| matches!(e, Event::Data(_))).count(), 5);
        assert_eq!(data_of(&events), b"hello");
        // Header case, spaces around the value, upper-case hex, extensions.
        let body = b"5;foo=bar;chunk-signature=zz\r\nhello\r\n0\r\nX-Amz-Checksum-CRC32: NhCmhg== \r\n\r\n";
        let (events, r) = decode(ChunkedDecoder::new(ChunkedMode::Unsigned, declared.clone(), None), body, 2);
        r.unwrap();
        assert_eq!(trailers_of(&events).unwrap(), trailer);
        // No trailer declared and none sent.
        let (events, r) = decode(ChunkedDecoder::new(ChunkedMode::Unsigned, vec![], None), b"0\r\n\r\n", 1);
        r.unwrap();
        assert_eq!(events, vec![Event::Trailer(vec![]), Event::End]);
        // Missing, undeclared, duplicated, malformed trailers; a trailer signature in an unsigned body.
        let cases: [(Vec<&str>, &[u8]); 9] = [
            (vec!["x-amz-checksum-crc32"], b"5\r\nhello\r\n0\r\n\r\n"),
            (vec![], b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"),
            (vec!["x-amz-checksum-crc32"], b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"),
            (vec!["x-amz-checksum-crc32"], b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32NhCmhg==\r\n\r\n"),
            (vec!["x-amz-checksum-crc32"], b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32 :NhCmhg==\r\n\r\n"),
            (vec!["x-amz-checksum-crc32"], b"5\r\nhello\r\n0\r\n:NhCmhg==\r\n\r\n"),
            (vec!["x-amz-checksum-crc32"], b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:Nh\x01Cmhg==\r\n\r\n"),
            (vec!["x-amz-checksum-crc32"], b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\n\r\n"),
            (vec![], b"0\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n"),
        ];
        for (declared, body) in cases {
            let declared = declared.into_iter().map(String::from).collect();
            let (events, r) = decode(ChunkedDecoder::new(ChunkedMode::Unsigned, declared, None), body, 3);
            let e = r.unwrap_err();
            assert!(matches!(e, ChunkedError::MalformedTrailer(_)), "{}: {e:?}", String::from_utf8_lossy(body));
            assert_eq!(e.s3_code(), ("MalformedTrailerError", 400));
            assert!(!events.contains(&Event::End));
        }
        // Trailers larger than the limit.
        let mut big = b"0\r\n".to_vec();
        for i in 0..400 {
            big.extend_from_slice(format!("x-amz-meta-{i:04}:{}\r\n", "v".repeat(40)).as_bytes());
        }
        big.extend_from_slice(b"\r\n");
        let (_, r) = decode(ChunkedDecoder::new(ChunkedMode::Unsigned, vec![], None), &big, 4096);
        assert!(matches!(r, Err(ChunkedError::MalformedTrailer(m)) if m.contains("exceed")));
    }

    #[test]
    fn framing_errors() {
        let unsigned = || ChunkedDecoder::new(ChunkedMode::Unsigned, vec![], None);
        let unverified = || ChunkedDecoder::new(ChunkedMode::SignedUnverified { trailer: false }, vec![], None);
        let s = "0".repeat(64);
        for (mut dec, body) in [
            (unsigned(), b"5\r\nhelloX\r\n0\r\n\r\n".to_vec()),
            (unsigned(), b"5\r\nhel\r\n0\r\n\r\n".to_vec()),
            (unsigned(), b"5\nhello\r\n0\r\n\r\n".to_vec()),
            (unsigned(), b"x\r\n".to_vec()),
            (unsigned(), b"\r\n".to_vec()),
            (unsigned(), b"-5\r\n".to_vec()),
            (unsigned(), b"5 \r\n".to_vec()),
            (unsigned(), b"5;\x01\r\n".to_vec()),
            (unsigned(), b"0\r\n\r\nextra".to_vec()),
            (unsigned(), [b"1".repeat(200), b"\r\n".to_vec()].concat()),
            (unverified(), b"5\r\nhello\r\n".to_vec()),
            (unverified(), format!("5;chunk-signature={}\r\n", &s[..63]).into_bytes()),
            (unverified(), format!("5;chunk-signature={s}0\r\n").into_bytes()),
            (unverified(), format!("5;chunk-signature={}\r\n", "g".repeat(64)).into_bytes()),
            (unverified(), format!("5;chunk-signature={s};x=y\r\n").into_bytes()),
            (unverified(), format!("5;chunk-signature={s}\rx\n").into_bytes()),
        ] {
            let mut out = Vec::new();
            let r = dec.feed(Bytes::from(body.clone()), &mut out).and_then(|()| dec.finish());
            match r {
                Err(ChunkedError::Malformed(m)) => assert!(m.contains("at byte"), "{m}"),
                other => panic!("{}: {other:?}", String::from_utf8_lossy(&body)),
            }
        }
        // Trailing data in a non-trailer mode.
        let mut dec = unverified();
        let r = dec.feed(
            Bytes::from(format!("0;chunk-signature={s}\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n")),
            &mut Vec::new(),
        );
        assert!(matches!(r, Err(ChunkedError::MalformedTrailer(_))), "{r:?}");
        // Bytes after the end in a later piece: End was already given, finish() still fails.
        let mut dec = unsigned();
        let mut out = Vec::new();
        dec.feed(Bytes::from_static(b"0\r\n\r\n"), &mut out).unwrap();
        assert!(matches!(dec.feed(Bytes::from_static(b"x"), &mut out), Err(ChunkedError::Malformed(_))));
        assert!(matches!(dec.finish(), Err(ChunkedError::Malformed(_))));
        assert_eq!(out, vec![Event::Trailer(vec![]), Event::End]);
        fuzz_decode(b"\x00\x010\r\n\r\nxyz");
        // Finishing twice, feeding nothing.
        let mut dec = unsigned();
        let mut out = Vec::new();
        dec.feed(Bytes::new(), &mut out).unwrap();
        dec.feed(Bytes::from_static(b"0\r\n\r\n"), &mut out).unwrap();
        dec.feed(Bytes::new(), &mut out).unwrap();
        dec.finish().unwrap();
        dec.finish().unwrap();
        assert_eq!(out, vec![Event::Trailer(vec![]), Event::End]);
    }

    #[test]
    fn chunk_size_limits() {
        // S3's rule: only the last chunk may be under 8 KiB (Chunk = the chunk that followed it).
        let (events, r) =
            decode(ChunkedDecoder::new(ChunkedMode::Unsigned, vec![], None), b"3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n", 1);
        assert_eq!(r, Err(ChunkedError::ChunkTooSmall { chunk: 2, size: 3 }));
        assert_eq!(r.unwrap_err().s3_code(), ("InvalidChunkSizeError", 403));
        assert_eq!(data_of(&events), b"hel");
        let seed = sha256(b"s");
        let mode = ChunkedMode::Signed {
            key: key(),
            amz_date: DATE.into(),
            scope: SCOPE.into(),
            seed_signature: seed,
            trailer: false,
        };
        let (_, r) =
            decode(ChunkedDecoder::new(mode.clone(), vec![], None), &encode_signed(&seed, &[b"hel", b"lo"], None), 1);
        assert_eq!(r, Err(ChunkedError::ChunkTooSmall { chunk: 2, size: 3 }));
        let a = vec![0u8; 8192];
        decode(ChunkedDecoder::new(mode.clone(), vec![], Some(8194)), &encode_signed(&seed, &[&a, b"lo"], None), 1000)
            .1
            .unwrap();
        // Coffer's caps: 16 MiB signed, 5 GiB unsigned.
        let mut dec = ChunkedDecoder::new(mode, vec![], None);
        let r = dec.feed(Bytes::from(format!("1000001;chunk-signature={}\r\n", "0".repeat(64))), &mut Vec::new());
        assert_eq!(r, Err(ChunkedError::ChunkTooLarge { size: 0x1000001, max: MAX_SIGNED_CHUNK }));
        let mut dec = ChunkedDecoder::new(ChunkedMode::SignedUnverified { trailer: false }, vec![], None);
        let r = dec.feed(
            Bytes::from(format!("FFFFFFFFFFFFFFFFFFFFFFFF;chunk-signature={}\r\n", "0".repeat(64))),
            &mut Vec::new(),
        );
        assert_eq!(r, Err(ChunkedError::ChunkTooLarge { size: u64::MAX, max: MAX_SIGNED_CHUNK }));
        let mut dec = ChunkedDecoder::new(ChunkedMode::Unsigned, vec![], None);
        dec.feed(Bytes::from_static(b"40000000\r\nabc"), &mut Vec::new()).unwrap();
        assert_eq!(dec.finish(), Err(ChunkedError::Incomplete));
        let mut dec = ChunkedDecoder::new(ChunkedMode::Unsigned, vec![], None);
        assert!(matches!(
            dec.feed(Bytes::from_static(b"140000001\r\n"), &mut Vec::new()),
            Err(ChunkedError::ChunkTooLarge { .. })
        ));
    }

    #[test]
    fn modes_from_content_sha256() {
        assert_eq!(
            StreamingPayload::from_content_sha256("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            Ok(Some(StreamingPayload::Signed))
        );
        assert_eq!(
            StreamingPayload::from_content_sha256("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"),
            Ok(Some(StreamingPayload::SignedTrailer))
        );
        assert_eq!(
            StreamingPayload::from_content_sha256("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            Ok(Some(StreamingPayload::UnsignedTrailer))
        );
        assert!(StreamingPayload::SignedTrailer.has_trailer() && !StreamingPayload::Signed.has_trailer());
        for v in ["STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"] {
            let e = StreamingPayload::from_content_sha256(v).unwrap_err();
            assert!(matches!(&e, ChunkedError::Unsupported(m) if m.contains("SigV4a")));
            assert_eq!(e.s3_code(), ("NotImplemented", 501));
        }
        for v in ["UNSIGNED-PAYLOAD", EMPTY_SHA256_HEX, "streaming-aws4-hmac-sha256-payload", ""] {
            assert_eq!(StreamingPayload::from_content_sha256(v), Ok(None));
        }
        // From a parsed request: the seed is the Authorization signature.
        let mut h = hyper::HeaderMap::new();
        h.insert("x-amz-date", DATE.parse().unwrap());
        h.insert(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/{SCOPE}, SignedHeaders=host;x-amz-date, Signature={DOC_SEED}")
                .parse()
                .unwrap(),
        );
        let sr = crate::sigv4::parse_request(&h, "").unwrap();
        let mode = ChunkedMode::signed(&sr, key(), false).unwrap();
        let (events, r) = decode(ChunkedDecoder::new(mode, vec![], Some(66560)), &doc_body(DOC_SIGS, None), 8000);
        r.unwrap();
        assert_eq!(events.last(), Some(&Event::End));
    }

    #[test]
    fn error_codes() {
        let cases = [
            (ChunkedError::Malformed("x".into()), "IncompleteBody", 400),
            (ChunkedError::Incomplete, "IncompleteBody", 400),
            (ChunkedError::LengthMismatch { expected: 1, provided: 2 }, "IncompleteBody", 400),
            (ChunkedError::BadChunkSignature, "SignatureDoesNotMatch", 403),
            (ChunkedError::ChunkTooSmall { chunk: 2, size: 3 }, "InvalidChunkSizeError", 403),
            (ChunkedError::ChunkTooLarge { size: 1, max: 0 }, "InvalidChunkSizeError", 403),
            (ChunkedError::MalformedTrailer("x".into()), "MalformedTrailerError", 400),
            (ChunkedError::Unsupported("x".into()), "NotImplemented", 501),
        ];
        for (e, code, status) in cases {
            assert_eq!(e.s3_code(), (code, status));
            assert!(!e.message().is_empty());
            assert!(e.to_string().starts_with(code));
        }
        assert_eq!(ChunkedError::Incomplete.message(), "The request body terminated unexpectedly");
    }

    fn random_bytes(n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        coffer_crypto::random::fill(&mut v);
        v
    }

    #[test]
    fn garbage_never_panics() {
        for _ in 0..3000 {
            let [len] = coffer_crypto::random::bytes::<1>();
            fuzz_decode(&random_bytes(usize::from(len) * 2));
        }
        // Mutations of valid bodies reach deeper states.
        let seed = [0u8; 32];
        let a = vec![b'q'; 8192];
        let valid = [
            encode_signed(&seed, &[&a, b"tail"], None),
            encode_signed(&seed, &[&a, b"tail"], Some(&[("x-amz-checksum-crc32", "AAAAAA==")])),
            [b"2000\r\n".as_slice(), &a, b"\r\n4\r\ntail\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"].concat(),
        ];
        for _ in 0..300 {
            for body in &valid {
                let mut b = body.clone();
                let r = random_bytes(8);
                let at = usize::from(u16::from_le_bytes([r[0], r[1]])) % b.len();
                match r[2] % 4 {
                    0 => b[at] = r[3],
                    1 => b.truncate(at),
                    2 => b.insert(at, r[3]),
                    _ => {
                        b.remove(at);
                    }
                }
                let mut input = vec![r[4], r[5]];
                input.extend_from_slice(&b);
                fuzz_decode(&input);
            }
        }
    }
}
