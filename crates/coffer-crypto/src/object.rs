//! The encrypted object segment: how S3 object data is encrypted at rest.
//!
//! Why this shape: S3 objects are large, arrive as streams, and are read back in arbitrary byte
//! ranges, so one AES-GCM message per object would need the whole object in memory and could not
//! serve a range without decrypting everything before it. Instead the data is cut into fixed-size
//! *chunks*, each its own AES-256-GCM message, so writing needs one chunk of memory and a range
//! read decrypts only the chunks it touches — while every byte returned is still authenticated.
//!
//! An object's data is one or more *segments* (one per simple PUT, one per multipart part), each
//! a file. Every object has a random 32-byte [`ObjectKey`] (sealed by the caller); each segment
//! has a random 16-byte segment id and its own [`SegmentKey`]:
//!
//! ```text
//! segment key = HKDF-SHA256(ikm = object key, salt = segment id, info = "coffer-s3-segment-v1"), 32 bytes
//!
//! header (24 bytes, also the associated data of every chunk):
//!   "COS1" (4) || alg 0x01 = AES-256-GCM (1) || chunk size log2 (1, default 16 = 64 KiB)
//!   || segment id (16) || reserved 0x00 0x00 (2)
//! chunk 0 .. chunk n-1:
//!   ciphertext (chunk size bytes; the last chunk 0..=chunk size) || GCM tag (16)
//! nonce of chunk i = i as u64 big-endian (8) || final flag (1: 0x01 last chunk, else 0x00) || 00 00 00
//! ```
//!
//! A segment of plaintext length L with chunk size C has max(1, ceil(L / C)) chunks: an empty
//! segment is one empty final chunk (header + tag), and when L is a nonzero multiple of C the last
//! full chunk is the final one.
//!
//! **Nonce uniqueness.** GCM breaks if a (key, nonce) pair ever encrypts two different messages.
//! Each segment has its own key, derived from a fresh random 128-bit segment id: two segments share
//! a key only if their ids collide (probability about 2^-64 even after 2^32 segments of one
//! object), so nonces need only be unique *within* a segment. There they are: chunk indices are
//! distinct, and the writer seals each index exactly once, with the final flag set only on the
//! last. The nonce is therefore deterministic — no random nonce, whose 96 bits would bound the
//! number of chunks per key — and a segment key must never be used to write twice; hence
//! [`SegmentWriter::new`] consumes the key, [`SegmentKey`] is not `Clone`, and writers should take
//! their keys from [`ObjectKey::new_segment`] (or a fresh [`new_segment_id`]).
//!
//! **What the reader detects.** The index in the nonce makes a chunk fail to open at any other
//! position (reordering, duplication); the final flag makes a truncation at a chunk boundary fail
//! (the new last chunk was not sealed as final); the header as associated data binds the chunk
//! size and the segment id; the expected chunk lengths come from the plaintext length the caller
//! stores in its metadata ([`SegmentLayout`]), not from the file, so a shortened or extended file is
//! rejected before any decryption. A segment key is bound to the segment id by the derivation, so
//! moving a segment file to another object or another segment fails too.
//!
//! Per chunk, AES-GCM allows far more data than the largest chunk (1 MiB here); per key, a segment
//! is at most one PUT or part (5 GiB in S3), far from any GCM limit with deterministic nonces.
//!
//! **Why ring for the chunks.** Object data is the one bulk cipher workload, and on processors
//! with VAES and VPCLMULQDQ but without AVX-512 (AMD Zen 3/4, recent Intel client cores) ring's
//! AES-256-GCM runs twice as fast as aws-lc-rs's (4.8 against 2.3 GB/s on one core of the
//! benchmark machine; aws-lc has VAES code only for AVX-512), which is most of the cost of an
//! encrypted GET. Elsewhere it is the same stitched AES-NI code. The format is plain AES-256-GCM
//! either way (the known-answer test below pins it, and a test checks chunks against aws-lc-rs).
//! ring does not zeroize its key schedules, so [`ChunkKey`] overwrites its key when dropped.

use aws_lc_rs::hkdf;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::CryptoError;
use crate::secret::{SecretBytes, TAG_LEN};

/// Segment file magic, version 1.
pub const MAGIC: &[u8; 4] = b"COS1";
/// Algorithm byte for AES-256-GCM.
pub const ALG_AES_256_GCM: u8 = 0x01;
pub const HEADER_LEN: usize = 24;
pub const OBJECT_KEY_LEN: usize = 32;
pub const SEGMENT_ID_LEN: usize = 16;
/// The chunk size Coffer writes: 2^16 = 64 KiB.
pub const DEFAULT_CHUNK_SIZE_LOG2: u8 = 16;
/// Smallest accepted chunk size, 2^10 = 1 KiB (tests use it to exercise many chunks cheaply).
pub const MIN_CHUNK_SIZE_LOG2: u8 = 10;
/// Largest accepted chunk size, 2^20 = 1 MiB (bounds the memory of a writer and of a reader).
pub const MAX_CHUNK_SIZE_LOG2: u8 = 20;

const HKDF_INFO: &[u8] = b"coffer-s3-segment-v1";
const TAG: u64 = TAG_LEN as u64;

fn valid_log2(log2: u8) -> bool {
    (MIN_CHUNK_SIZE_LOG2..=MAX_CHUNK_SIZE_LOG2).contains(&log2)
}

/// A fresh random segment id, from aws-lc-rs.
pub fn new_segment_id() -> [u8; SEGMENT_ID_LEN] {
    crate::random::bytes()
}

/// The key of one object's data. The caller seals [`expose`](Self::expose)d bytes (with
/// `RootKey::seal` or a KMS key) and stores them with the object's metadata.
pub struct ObjectKey(SecretBytes);

impl ObjectKey {
    pub fn random() -> ObjectKey {
        ObjectKey(SecretBytes::random(OBJECT_KEY_LEN))
    }

    /// Exactly 32 bytes, as previously returned by [`expose`](Self::expose).
    pub fn from_bytes(bytes: &[u8]) -> Result<ObjectKey, CryptoError> {
        if bytes.len() != OBJECT_KEY_LEN {
            return Err(CryptoError);
        }
        Ok(ObjectKey(SecretBytes::new(bytes.to_vec())))
    }

    /// The raw key, for the caller to seal. Must not be stored or logged unsealed.
    pub fn expose(&self) -> &[u8] {
        self.0.expose()
    }

    /// The key of the segment with id `segment_id`. For reading an existing segment; to write a
    /// new one use [`new_segment`](Self::new_segment) (or an id from [`new_segment_id`]), never
    /// an id that was already written.
    pub fn segment(&self, segment_id: [u8; SEGMENT_ID_LEN]) -> SegmentKey {
        let mut okm = Zeroizing::new([0u8; 32]);
        hkdf::Salt::new(hkdf::HKDF_SHA256, &segment_id)
            .extract(self.0.expose())
            .expand(&[HKDF_INFO], hkdf::HKDF_SHA256)
            .and_then(|o| o.fill(&mut okm[..]))
            .expect("HKDF-SHA256 can expand 32 bytes");
        SegmentKey { key: ChunkKey::new(&okm), segment_id }
    }

    /// The key of a new segment with a fresh random id ([`SegmentKey::segment_id`]), for writing.
    pub fn new_segment(&self) -> SegmentKey {
        self.segment(new_segment_id())
    }
}

/// An AES-256-GCM key (ring's, see the module doc) whose expanded form is overwritten when it is
/// dropped: the schedule of an all-zero key is written over it in place (ring's key types hold
/// no heap memory and do not zeroize themselves). Boxed, so that moving the key around moves a
/// pointer, not the schedule (the one copy left behind is the stack slot it was built in, soon
/// reused).
struct ChunkKey(Box<LessSafeKey>);

impl ChunkKey {
    fn new(key: &[u8; 32]) -> ChunkKey {
        ChunkKey(Box::new(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("32 bytes are an AES-256 key"))))
    }
}

impl Drop for ChunkKey {
    fn drop(&mut self) {
        *self.0 = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[0u8; 32]).expect("32 bytes are an AES-256 key"));
        // The store must happen although the memory is freed right after.
        std::hint::black_box(&*self.0);
    }
}

/// The AES-256-GCM key of one segment, bound to its segment id. Not `Clone`, not `Debug`: a
/// writer consumes it, so one key cannot seal two segments.
pub struct SegmentKey {
    key: ChunkKey,
    segment_id: [u8; SEGMENT_ID_LEN],
}

impl SegmentKey {
    pub fn segment_id(&self) -> [u8; SEGMENT_ID_LEN] {
        self.segment_id
    }
}

/// The fields of a segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    pub segment_id: [u8; SEGMENT_ID_LEN],
    pub chunk_size_log2: u8,
}

impl SegmentHeader {
    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(MAGIC);
        h[4] = ALG_AES_256_GCM;
        h[5] = self.chunk_size_log2;
        h[6..22].copy_from_slice(&self.segment_id);
        h
    }

    /// Parses the first 24 bytes of a segment file (more are ignored), so that a reader that did
    /// not store the segment id can derive the key. Checks magic, algorithm, chunk size and the
    /// reserved bytes; authenticity is only established by decrypting a chunk.
    pub fn parse(bytes: &[u8]) -> Result<SegmentHeader, CryptoError> {
        let h = bytes.get(..HEADER_LEN).ok_or(CryptoError)?;
        if &h[0..4] != MAGIC || h[4] != ALG_AES_256_GCM || !valid_log2(h[5]) || h[22..24] != [0, 0] {
            return Err(CryptoError);
        }
        let mut segment_id = [0u8; SEGMENT_ID_LEN];
        segment_id.copy_from_slice(&h[6..22]);
        Ok(SegmentHeader { segment_id, chunk_size_log2: h[5] })
    }
}

fn nonce_bytes(index: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&index.to_be_bytes());
    n[8] = u8::from(last);
    n
}

fn nonce(index: u64, last: bool) -> Nonce {
    Nonce::assume_unique_for_key(nonce_bytes(index, last))
}

/// Appends `plaintext` sealed as chunk `index` (ciphertext || tag) to `out`.
fn seal_chunk(
    key: &ChunkKey,
    header: &[u8; HEADER_LEN],
    index: u64,
    last: bool,
    plaintext: &[u8],
    out: &mut Vec<u8>,
) {
    let at = out.len();
    out.reserve(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    let tag = key
        .0
        .seal_in_place_separate_tag(nonce(index, last), Aad::from(header), &mut out[at..])
        .expect("AES-GCM sealing of a chunk of at most 1 MiB cannot fail");
    out.extend_from_slice(tag.as_ref());
}

/// Streaming encryption of one segment in bounded memory (at most one chunk is buffered).
pub struct SegmentWriter {
    key: ChunkKey,
    header: [u8; HEADER_LEN],
    chunk_size: usize,
    /// Plaintext of the chunk not yet sealed: partial, or full but held back because only the
    /// next push or `finish` tells whether it is the final one.
    pending: Vec<u8>,
    next_index: u64,
    plaintext_len: u64,
}

impl SegmentWriter {
    /// A writer and the segment header, which the caller writes first.
    ///
    /// # Panics
    /// If `chunk_size_log2` is outside 10..=20 ([`MIN_CHUNK_SIZE_LOG2`]..=[`MAX_CHUNK_SIZE_LOG2`]):
    /// the chunk size is a constant of the caller ([`DEFAULT_CHUNK_SIZE_LOG2`]), never input.
    pub fn new(key: SegmentKey, chunk_size_log2: u8) -> (SegmentWriter, [u8; HEADER_LEN]) {
        assert!(valid_log2(chunk_size_log2), "chunk size log2 {chunk_size_log2} outside 10..=20");
        let header = SegmentHeader { segment_id: key.segment_id, chunk_size_log2 }.to_bytes();
        let chunk_size = 1usize << chunk_size_log2;
        let w = SegmentWriter {
            key: key.key,
            header,
            chunk_size,
            pending: Vec::with_capacity(chunk_size),
            next_index: 0,
            plaintext_len: 0,
        };
        (w, header)
    }

    fn seal(&mut self, last: bool, plaintext: &[u8], out: &mut Vec<u8>) {
        seal_chunk(&self.key, &self.header, self.next_index, last, plaintext, out);
        self.next_index += 1;
    }

    /// Encrypts more plaintext, appending every chunk completed so far (ciphertext || tag) to
    /// `out`. A full chunk is held back until more data or [`finish`](Self::finish) shows whether
    /// it is the last.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        self.plaintext_len += data.len() as u64;
        let c = self.chunk_size;
        while !data.is_empty() {
            if self.pending.len() == c {
                // More data follows, so the held-back chunk is not the last.
                let pending = std::mem::take(&mut self.pending);
                self.seal(false, &pending, out);
                self.pending = pending;
                self.pending.clear();
            }
            if self.pending.is_empty() && data.len() > c {
                // Whole chunks straight from the input; the last `1..=c` bytes stay behind.
                let whole = (data.len() - 1) / c;
                out.reserve(whole * (c + TAG_LEN));
                for _ in 0..whole {
                    let (chunk, rest) = data.split_at(c);
                    self.seal(false, chunk, out);
                    data = rest;
                }
            }
            let n = (c - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
    }

    /// Seals the final chunk (possibly empty) into `out` and returns the segment's plaintext
    /// length, which the caller stores to build the [`SegmentLayout`] for reading.
    pub fn finish(mut self, out: &mut Vec<u8>) -> u64 {
        let pending = std::mem::take(&mut self.pending);
        self.seal(true, &pending, out);
        self.plaintext_len
    }
}

/// The shape of a segment file, from the plaintext length the caller stored and the chunk size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentLayout {
    pub plaintext_len: u64,
    pub chunk_size_log2: u8,
}

/// Which bytes of a segment file to read for a plaintext range, and what to keep of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadPlan {
    /// Where in the file the first needed chunk starts.
    pub file_offset: u64,
    /// How many file bytes to read: exactly the chunks covering the range, tags included.
    pub file_len: u64,
    /// Index of the first chunk read (for [`SegmentReader::decrypt_chunk`]); the following ones
    /// are consecutive, each [`SegmentLayout::sealed_chunk_len`] bytes.
    pub first_chunk: u64,
    /// Plaintext bytes to drop from the front of the first decrypted chunk.
    pub skip: usize,
    /// Plaintext bytes to return in total.
    pub take: u64,
}

impl SegmentLayout {
    /// The chunk size in bytes. A `chunk_size_log2` that a reader would reject (over 63) is
    /// treated as "one chunk holds everything" here, so these methods never panic.
    pub fn chunk_size(&self) -> u64 {
        1u64.checked_shl(u32::from(self.chunk_size_log2)).unwrap_or(u64::MAX)
    }

    /// max(1, ceil(plaintext_len / chunk size)).
    pub fn chunk_count(&self) -> u64 {
        self.plaintext_len.div_ceil(self.chunk_size()).max(1)
    }

    /// Plaintext length of chunk `index` (0 for an index past the end).
    pub fn chunk_plaintext_len(&self, index: u64) -> u64 {
        let c = self.chunk_size();
        if index >= self.chunk_count() {
            return 0;
        }
        self.plaintext_len.saturating_sub(index.saturating_mul(c)).min(c)
    }

    /// Length of chunk `index` in the file: plaintext length plus the 16-byte tag.
    pub fn sealed_chunk_len(&self, index: u64) -> u64 {
        self.chunk_plaintext_len(index).saturating_add(TAG)
    }

    /// Offset of chunk `index` in the file.
    pub fn chunk_offset(&self, index: u64) -> u64 {
        let per = self.chunk_size().saturating_add(TAG);
        (HEADER_LEN as u64).saturating_add(index.saturating_mul(per))
    }

    /// Total file length: header, the plaintext, and one tag per chunk.
    pub fn file_len(&self) -> u64 {
        (HEADER_LEN as u64).saturating_add(self.plaintext_len).saturating_add(self.chunk_count().saturating_mul(TAG))
    }

    /// The chunks covering plaintext `[start, end_exclusive)`. The range is clamped to the
    /// plaintext; an empty range gives a plan that reads nothing (`file_len` and `take` 0).
    pub fn read_plan(&self, start: u64, end_exclusive: u64) -> ReadPlan {
        let end = end_exclusive.min(self.plaintext_len);
        let start = start.min(end);
        if start == end {
            return ReadPlan { file_offset: HEADER_LEN as u64, file_len: 0, first_chunk: 0, skip: 0, take: 0 };
        }
        let c = self.chunk_size();
        let first = start / c;
        let last = (end - 1) / c;
        let file_offset = self.chunk_offset(first);
        let file_end = self.chunk_offset(last).saturating_add(self.sealed_chunk_len(last));
        ReadPlan {
            file_offset,
            file_len: file_end.saturating_sub(file_offset),
            first_chunk: first,
            skip: (start - first * c) as usize,
            take: end - start,
        }
    }
}

/// Decryption of the chunks of one segment, in any order and any subset.
pub struct SegmentReader {
    key: ChunkKey,
    header: [u8; HEADER_LEN],
    layout: SegmentLayout,
}

impl SegmentReader {
    /// Checks `header` (the first 24 bytes of the file) against the key and the stored layout:
    /// magic, algorithm, chunk size, reserved bytes, and that it names the key's segment id.
    pub fn new(key: SegmentKey, header: &[u8], layout: SegmentLayout) -> Result<SegmentReader, CryptoError> {
        let h = SegmentHeader::parse(header)?;
        if header.len() != HEADER_LEN || h.chunk_size_log2 != layout.chunk_size_log2 || h.segment_id != key.segment_id {
            return Err(CryptoError);
        }
        Ok(SegmentReader { key: key.key, header: h.to_bytes(), layout })
    }

    pub fn layout(&self) -> SegmentLayout {
        self.layout
    }

    /// Decrypts chunk `index` (`data` = ciphertext || tag, exactly as in the file) in place,
    /// leaving its plaintext in `data`. Fails — clearing `data` — on a wrong length, index, key
    /// or any changed byte.
    pub fn decrypt_chunk(&self, index: u64, data: &mut Vec<u8>) -> Result<(), CryptoError> {
        match self.decrypt_chunk_in_place(index, data) {
            Ok(n) => {
                data.truncate(n);
                Ok(())
            }
            Err(e) => {
                data.clear();
                Err(e)
            }
        }
    }

    /// Decrypts the consecutive chunks from `first` that make up `buf`, read from the file as
    /// they are (from [`ReadPlan::file_offset`], [`ReadPlan::file_len`] bytes), into one
    /// contiguous plaintext: the first `n` bytes (returned) of `buf`. Each chunk's plaintext is
    /// moved over the tags before it by its decryption, in the same pass (no copy). Fails if a
    /// chunk does not open or `buf` does not end where a chunk does; what was not decrypted is
    /// then zeroed.
    pub fn decrypt_chunks_within(&self, first: u64, buf: &mut [u8]) -> Result<usize, CryptoError> {
        let (mut out, mut pos, mut index) = (0usize, 0usize, first);
        while pos < buf.len() {
            let end = usize::try_from(self.layout.sealed_chunk_len(index)).map_or(usize::MAX, |l| pos.saturating_add(l));
            if end > buf.len() {
                buf[out..].fill(0);
                return Err(CryptoError);
            }
            out += self.decrypt_chunk_within(index, &mut buf[out..end], pos - out)?;
            pos = end;
            index += 1;
        }
        Ok(out)
    }

    /// [`SegmentReader::decrypt_chunk`] that also moves the plaintext to the front of `buf`, in
    /// the same pass: chunk `index` as in the file is `buf[src..]`, and on success its plaintext
    /// is the first `n` bytes (returned) of `buf`. On failure all of `buf` is zeroed.
    fn decrypt_chunk_within(&self, index: u64, buf: &mut [u8], src: usize) -> Result<usize, CryptoError> {
        let count = self.layout.chunk_count();
        if index >= count || src > buf.len() || (buf.len() - src) as u64 != self.layout.sealed_chunk_len(index) {
            buf.fill(0);
            return Err(CryptoError);
        }
        let last = index == count - 1;
        match self.key.0.open_within(nonce(index, last), Aad::from(&self.header), buf, src..) {
            Ok(plain) => Ok(plain.len()),
            Err(_) => {
                buf.fill(0);
                Err(CryptoError)
            }
        }
    }

    /// [`SegmentReader::decrypt_chunk`] on a slice of a larger buffer (no copy): `sealed` is
    /// chunk `index` as in the file; on success its first `n` bytes (returned) are the
    /// plaintext. On failure the slice is zeroed, so nothing unauthenticated survives.
    pub fn decrypt_chunk_in_place(&self, index: u64, sealed: &mut [u8]) -> Result<usize, CryptoError> {
        self.decrypt_chunk_within(index, sealed, 0)
    }
}

/// A whole segment file (header and chunks) for `plaintext`.
pub fn encrypt_all(key: SegmentKey, chunk_size_log2: u8, plaintext: &[u8]) -> Vec<u8> {
    let (mut w, header) = SegmentWriter::new(key, chunk_size_log2);
    let layout = SegmentLayout { plaintext_len: plaintext.len() as u64, chunk_size_log2 };
    let mut out = Vec::with_capacity(usize::try_from(layout.file_len()).unwrap_or(0));
    out.extend_from_slice(&header);
    w.push(plaintext, &mut out);
    w.finish(&mut out);
    out
}

/// Plaintext `[start, end)` (clamped) of a whole segment file held in memory.
pub fn decrypt_range(
    key: SegmentKey,
    file: &[u8],
    layout: SegmentLayout,
    start: u64,
    end: u64,
) -> Result<Vec<u8>, CryptoError> {
    if file.len() as u64 != layout.file_len() {
        return Err(CryptoError);
    }
    let reader = SegmentReader::new(key, &file[..HEADER_LEN.min(file.len())], layout)?;
    let plan = layout.read_plan(start, end);
    let mut out = Vec::with_capacity(usize::try_from(plan.take).map_err(|_| CryptoError)?);
    let mut offset = usize::try_from(plan.file_offset).map_err(|_| CryptoError)?;
    let mut index = plan.first_chunk;
    let mut skip = plan.skip;
    let mut chunk = Vec::new();
    while (out.len() as u64) < plan.take {
        let len = usize::try_from(layout.sealed_chunk_len(index)).map_err(|_| CryptoError)?;
        let sealed = file.get(offset..offset + len).ok_or(CryptoError)?;
        chunk.clear();
        chunk.extend_from_slice(sealed);
        reader.decrypt_chunk(index, &mut chunk)?;
        let want = (plan.take - out.len() as u64).min((chunk.len() - skip) as u64) as usize;
        out.extend_from_slice(&chunk[skip..skip + want]);
        skip = 0;
        offset += len;
        index += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG2: u8 = 10;
    const C: usize = 1 << LOG2;

    fn fixed_key() -> ObjectKey {
        ObjectKey::from_bytes(&[0x11; 32]).unwrap()
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8).collect()
    }

    fn layout(n: usize) -> SegmentLayout {
        SegmentLayout { plaintext_len: n as u64, chunk_size_log2: LOG2 }
    }

    #[test]
    fn round_trip_lengths() {
        let ok = ObjectKey::random();
        for n in [0, 1, C - 1, C, C + 1, 3 * C, 3 * C + 5] {
            let id = new_segment_id();
            let mut p = vec![0u8; n];
            crate::random::fill(&mut p);
            let file = encrypt_all(ok.segment(id), LOG2, &p);
            let l = layout(n);
            let chunks = if n == 0 { 1 } else { n.div_ceil(C) };
            assert_eq!(l.chunk_count(), chunks as u64, "len {n}");
            assert_eq!(file.len() as u64, l.file_len(), "len {n}");
            assert_eq!(file.len(), HEADER_LEN + n + TAG_LEN * chunks, "len {n}");
            assert_eq!(&file[..4], b"COS1");
            assert_eq!(file[4], 1);
            assert_eq!(file[5], LOG2);
            assert_eq!(file[6..22], id);
            assert_eq!(file[22..24], [0, 0]);
            assert_eq!(decrypt_range(ok.segment(id), &file, l, 0, n as u64).unwrap(), p, "len {n}");
        }
    }

    #[test]
    fn empty_segment_is_header_and_one_tag() {
        let ok = fixed_key();
        let file = encrypt_all(ok.segment([5; 16]), LOG2, b"");
        assert_eq!(file.len(), HEADER_LEN + TAG_LEN);
        assert_eq!(decrypt_range(ok.segment([5; 16]), &file, layout(0), 0, 0).unwrap(), b"");
        // The empty final chunk authenticates.
        let r = SegmentReader::new(ok.segment([5; 16]), &file[..HEADER_LEN], layout(0)).unwrap();
        let mut chunk = file[HEADER_LEN..].to_vec();
        r.decrypt_chunk(0, &mut chunk).unwrap();
        assert!(chunk.is_empty());
        let mut bad = file[HEADER_LEN..].to_vec();
        bad[0] ^= 1;
        assert!(r.decrypt_chunk(0, &mut bad).is_err());
    }

    /// Any way of feeding the writer gives the same bytes as one push.
    #[test]
    fn push_pattern_does_not_matter() {
        let ok = fixed_key();
        let id = [9u8; 16];
        for n in [0, 1, C - 1, C, C + 1, 2 * C, 3 * C + 5] {
            let p = pattern(n);
            let want = encrypt_all(ok.segment(id), LOG2, &p);
            for step in [1, 7, C - 1, C, C + 1, 2 * C + 3] {
                let (mut w, header) = SegmentWriter::new(ok.segment(id), LOG2);
                let mut out = header.to_vec();
                for piece in p.chunks(step) {
                    let before = out.len();
                    w.push(piece, &mut out);
                    // Only whole chunks are emitted.
                    assert_eq!((out.len() - before) % (C + TAG_LEN), 0);
                    w.push(&[], &mut out);
                }
                assert_eq!(w.finish(&mut out), n as u64);
                assert_eq!(out, want, "len {n} step {step}");
            }
        }
    }

    #[test]
    fn full_chunk_is_held_back() {
        let (mut w, _) = SegmentWriter::new(fixed_key().segment([1; 16]), LOG2);
        let mut out = Vec::new();
        w.push(&pattern(C), &mut out);
        assert!(out.is_empty(), "a full chunk may be the final one");
        w.push(&[1], &mut out);
        assert_eq!(out.len(), C + TAG_LEN);
        assert_eq!(w.finish(&mut out), C as u64 + 1);
        assert_eq!(out.len(), C + 1 + 2 * TAG_LEN);
    }

    /// Decrypts the chunks a plan names, straight from the file, and applies skip and take.
    fn read_via_plan(r: &SegmentReader, file: &[u8], plan: ReadPlan) -> Vec<u8> {
        let l = r.layout();
        let region = &file[plan.file_offset as usize..(plan.file_offset + plan.file_len) as usize];
        let mut got = Vec::new();
        let (mut index, mut rest, mut skip) = (plan.first_chunk, region, plan.skip);
        while !rest.is_empty() {
            let len = l.sealed_chunk_len(index) as usize;
            let mut chunk = rest[..len].to_vec();
            r.decrypt_chunk(index, &mut chunk).unwrap();
            got.extend_from_slice(&chunk[skip..]);
            skip = 0;
            rest = &rest[len..];
            index += 1;
        }
        // The plan reads no chunk it does not need.
        assert!(got.len() as u64 >= plan.take);
        assert!((got.len() as u64) < plan.take + C as u64 || plan.take == 0);
        got.truncate(plan.take as usize);
        got
    }

    /// Every range of small objects: exhaustively, the plan names exactly the chunks covering the
    /// range and the right bytes of them; for every range whose ends lie within 3 bytes of a chunk
    /// boundary or an end of the object, decrypting what the plan names gives the plaintext slice.
    #[test]
    fn every_range_of_small_objects() {
        let ok = fixed_key();
        for n in [0, 1, 2, 5, C - 1, C, C + 1, 2 * C, 2 * C + 3] {
            let p = pattern(n);
            let file = encrypt_all(ok.segment([2; 16]), LOG2, &p);
            let l = layout(n);
            let c = C as u64;
            for s in 0..=n as u64 {
                for e in s..=n as u64 {
                    let plan = l.read_plan(s, e);
                    assert_eq!(plan.take, e - s);
                    if s == e {
                        assert_eq!(plan.file_len, 0);
                        continue;
                    }
                    let (first, last) = (plan.first_chunk, (e - 1) / c);
                    assert_eq!(first, s / c, "first chunk holds byte {s}");
                    assert_eq!(first * c + plan.skip as u64, s);
                    assert_eq!(plan.file_offset, (HEADER_LEN as u64) + first * (c + TAG));
                    let want_len: u64 = (first..=last).map(|i| l.sealed_chunk_len(i)).sum();
                    assert_eq!(plan.file_len, want_len, "range {s}..{e} of {n}");
                    assert!(plan.file_offset + plan.file_len <= file.len() as u64);
                }
            }
            let r = SegmentReader::new(ok.segment([2; 16]), &file[..HEADER_LEN], l).unwrap();
            let near: Vec<usize> = (0..=n).filter(|&x| [0, C, 2 * C, n].iter().any(|&b| x.abs_diff(b) <= 3)).collect();
            for &s in &near {
                for &e in near.iter().filter(|&&e| e >= s) {
                    let plan = l.read_plan(s as u64, e as u64);
                    assert_eq!(read_via_plan(&r, &file, plan), p[s..e], "len {n} range {s}..{e}");
                    assert_eq!(decrypt_range(ok.segment([2; 16]), &file, l, s as u64, e as u64).unwrap(), p[s..e]);
                }
            }
        }
    }

    #[test]
    fn ranges_are_clamped() {
        let l = layout(10);
        assert_eq!(l.read_plan(5, 100).take, 5);
        assert_eq!(l.read_plan(20, 30).take, 0);
        assert_eq!(l.read_plan(7, 3).take, 0);
        assert_eq!(l.read_plan(0, u64::MAX).take, 10);
        // Nonsense chunk sizes do not panic.
        let odd = SegmentLayout { plaintext_len: u64::MAX, chunk_size_log2: 255 };
        assert_eq!(odd.chunk_count(), 1);
        let _ = (odd.file_len(), odd.read_plan(0, u64::MAX), odd.chunk_offset(u64::MAX));
        let odd = SegmentLayout { plaintext_len: u64::MAX, chunk_size_log2: 0 };
        let _ = (odd.file_len(), odd.read_plan(3, u64::MAX), odd.chunk_count());
    }

    #[test]
    fn every_byte_flip_is_detected() {
        let ok = fixed_key();
        let n = 2 * C + 7;
        let p = pattern(n);
        let file = encrypt_all(ok.segment([3; 16]), LOG2, &p);
        for i in 0..file.len() {
            let mut t = file.clone();
            t[i] ^= 0x01;
            assert!(decrypt_range(ok.segment([3; 16]), &t, layout(n), 0, n as u64).is_err(), "flip at {i}");
        }
    }

    #[test]
    fn truncation_and_extension_are_detected() {
        let ok = fixed_key();
        for n in [C, 2 * C, 3 * C, 2 * C + 5] {
            let p = pattern(n);
            let file = encrypt_all(ok.segment([4; 16]), LOG2, &p);
            let l = layout(n);
            for cut in 0..file.len() {
                assert!(decrypt_range(ok.segment([4; 16]), &file[..cut], l, 0, n as u64).is_err());
            }
            let mut longer = file.clone();
            longer.push(0);
            assert!(decrypt_range(ok.segment([4; 16]), &longer, l, 0, n as u64).is_err());
            // Drop the last chunk and claim the shorter length: the new last chunk was not sealed
            // as final, even though the cut is at a chunk boundary.
            let count = l.chunk_count() as usize;
            if count >= 2 {
                let shorter = SegmentLayout { plaintext_len: ((count - 1) * C) as u64, chunk_size_log2: LOG2 };
                let cut = &file[..shorter.file_len() as usize];
                assert!(decrypt_range(ok.segment([4; 16]), cut, shorter, 0, shorter.plaintext_len).is_err());
                // Chunks before the new last one still open (they are not final either way)...
                let r = SegmentReader::new(ok.segment([4; 16]), &file[..HEADER_LEN], shorter).unwrap();
                let mut first = file[HEADER_LEN..HEADER_LEN + C + TAG_LEN].to_vec();
                if count >= 3 {
                    r.decrypt_chunk(0, &mut first).unwrap();
                    assert_eq!(first, p[..C]);
                }
                // ...but the one that would have to be final does not.
                let last = (count - 2) as u64;
                let at = shorter.chunk_offset(last) as usize;
                let mut c = file[at..at + C + TAG_LEN].to_vec();
                assert!(r.decrypt_chunk(last, &mut c).is_err());
                assert!(c.is_empty(), "a failed chunk leaves no plaintext behind");
            }
            // Claiming a longer plaintext does not help either.
            let longer_layout = layout(n + 1);
            assert!(decrypt_range(ok.segment([4; 16]), &longer, longer_layout, 0, n as u64 + 1).is_err());
        }
    }

    #[test]
    fn reordered_or_misplaced_chunks_fail() {
        let ok = fixed_key();
        let n = 3 * C + 5;
        let p = pattern(n);
        let file = encrypt_all(ok.segment([6; 16]), LOG2, &p);
        let l = layout(n);
        let chunk = |i: usize| HEADER_LEN + i * (C + TAG_LEN)..HEADER_LEN + (i + 1) * (C + TAG_LEN);
        let mut swapped = file.clone();
        let (a, b) = (file[chunk(0)].to_vec(), file[chunk(1)].to_vec());
        swapped[chunk(0)].copy_from_slice(&b);
        swapped[chunk(1)].copy_from_slice(&a);
        assert!(decrypt_range(ok.segment([6; 16]), &swapped, l, 0, n as u64).is_err());
        // Duplicating a chunk over another.
        let mut dup = file.clone();
        dup[chunk(2)].copy_from_slice(&a);
        assert!(decrypt_range(ok.segment([6; 16]), &dup, l, 0, n as u64).is_err());
        // A chunk presented under another index.
        let r = SegmentReader::new(ok.segment([6; 16]), &file[..HEADER_LEN], l).unwrap();
        for wrong in [1u64, 2, 3, 4, u64::MAX] {
            let mut c = file[chunk(0)].to_vec();
            assert!(r.decrypt_chunk(wrong, &mut c).is_err(), "index {wrong}");
        }
        let mut c = file[chunk(0)].to_vec();
        r.decrypt_chunk(0, &mut c).unwrap();
        assert_eq!(c, p[..C]);
        // Wrong lengths and junk never panic.
        for junk in [vec![], vec![0u8; 3], vec![0u8; TAG_LEN], vec![0u8; C + TAG_LEN], vec![0u8; 2 * C]] {
            for index in [0u64, 3, 9] {
                let mut j = junk.clone();
                assert!(r.decrypt_chunk(index, &mut j).is_err());
            }
        }
    }

    #[test]
    fn wrong_key_or_segment_fails() {
        let ok = fixed_key();
        let n = C + 3;
        let p = pattern(n);
        let file = encrypt_all(ok.segment([7; 16]), LOG2, &p);
        let l = layout(n);
        // Another segment id: the header check refuses it.
        assert!(SegmentReader::new(ok.segment([8; 16]), &file[..HEADER_LEN], l).is_err());
        assert!(decrypt_range(ok.segment([8; 16]), &file, l, 0, n as u64).is_err());
        // Another object key with the right id: authentication fails.
        let other = ObjectKey::from_bytes(&[0x12; 32]).unwrap();
        assert!(decrypt_range(other.segment([7; 16]), &file, l, 0, n as u64).is_err());
        // A header rewritten to name another segment id (and its key) does not open the chunks.
        let mut moved = file.clone();
        moved[6..22].copy_from_slice(&[8; 16]);
        assert!(decrypt_range(ok.segment([8; 16]), &moved, l, 0, n as u64).is_err());
        // A wrong chunk size in the layout or the header.
        let wrong = SegmentLayout { plaintext_len: n as u64, chunk_size_log2: 11 };
        assert!(decrypt_range(ok.segment([7; 16]), &file, wrong, 0, n as u64).is_err());
    }

    #[test]
    fn header_checks() {
        let ok = fixed_key();
        let (_, h) = SegmentWriter::new(ok.segment([1; 16]), 16);
        assert_eq!(SegmentHeader::parse(&h).unwrap(), SegmentHeader { segment_id: [1; 16], chunk_size_log2: 16 });
        let l = SegmentLayout { plaintext_len: 0, chunk_size_log2: 16 };
        assert!(SegmentReader::new(ok.segment([1; 16]), &h, l).is_ok());
        for i in 0..HEADER_LEN {
            if (6..22).contains(&i) {
                continue; // the segment id, covered by wrong_key_or_segment_fails
            }
            let mut t = h;
            t[i] ^= 0x40;
            assert!(SegmentHeader::parse(&t).is_err(), "byte {i}");
            assert!(SegmentReader::new(ok.segment([1; 16]), &t, l).is_err(), "byte {i}");
        }
        assert!(SegmentReader::new(ok.segment([1; 16]), &h[..23], l).is_err());
        assert!(SegmentReader::new(ok.segment([1; 16]), &[], l).is_err());
        let mut longer = h.to_vec();
        longer.push(0);
        assert!(SegmentReader::new(ok.segment([1; 16]), &longer, l).is_err());
        for log2 in [0u8, 9, 21, 64, 255] {
            let mut t = h;
            t[5] = log2;
            assert!(SegmentHeader::parse(&t).is_err());
        }
        assert!(ObjectKey::from_bytes(&[0; 31]).is_err());
        assert!(ObjectKey::from_bytes(&[0; 33]).is_err());
        assert_eq!(ObjectKey::from_bytes(&[0x11; 32]).unwrap().expose(), &[0x11; 32]);
    }

    #[test]
    #[should_panic(expected = "outside 10..=20")]
    fn writer_rejects_bad_chunk_size() {
        let _ = SegmentWriter::new(fixed_key().segment([0; 16]), 21);
    }

    #[test]
    fn keys_are_fresh() {
        let ok = ObjectKey::random();
        assert_ne!(ok.expose(), ObjectKey::random().expose());
        let (a, b) = (ok.new_segment(), ok.new_segment());
        assert_ne!(a.segment_id(), b.segment_id());
        assert_ne!(new_segment_id(), new_segment_id());
        // Same plaintext, two segments: unrelated ciphertexts.
        let p = pattern(100);
        let (fa, fb) = (encrypt_all(a, LOG2, &p), encrypt_all(b, LOG2, &p));
        assert_ne!(fa[HEADER_LEN..], fb[HEADER_LEN..]);
    }

    /// Random objects, random ranges and random push sizes against the plaintext.
    #[test]
    fn randomized() {
        let ok = ObjectKey::random();
        let rnd = |bound: usize| -> usize { (u64::from_le_bytes(crate::random::bytes()) % bound as u64) as usize };
        for _ in 0..40 {
            let n = rnd(6 * C);
            let mut p = vec![0u8; n];
            crate::random::fill(&mut p);
            let seg = ok.new_segment();
            let id = seg.segment_id();
            let (mut w, header) = SegmentWriter::new(seg, LOG2);
            let mut file = header.to_vec();
            let mut rest = &p[..];
            while !rest.is_empty() {
                let k = rnd(3 * C).min(rest.len());
                w.push(&rest[..k], &mut file);
                rest = &rest[k..];
            }
            assert_eq!(w.finish(&mut file), n as u64);
            let l = layout(n);
            assert_eq!(file.len() as u64, l.file_len());
            for _ in 0..20 {
                let s = rnd(n + 1);
                let e = s + rnd(n - s + 1);
                assert_eq!(decrypt_range(ok.segment(id), &file, l, s as u64, e as u64).unwrap(), p[s..e]);
            }
        }
    }

    /// Pins the format: a segment computed independently with Python's `cryptography` (HKDF and
    /// AES-GCM from the description in the module doc), object key 0x11 * 32, segment id 0x22 * 16,
    /// chunk size 2^10, plaintext `pattern(2500)` (three chunks, the last of 452 bytes).
    #[test]
    fn known_answer() {
        let file = encrypt_all(fixed_key().segment([0x22; 16]), LOG2, &pattern(2500));
        assert_eq!(file.len(), 24 + 2500 + 3 * 16);
        assert_eq!(crate::digest::hex(&crate::digest::sha256(&file)), KAT_SHA256);
        assert_eq!(crate::digest::hex(&file[file.len() - 16..]), KAT_LAST_TAG);
    }

    /// The 64 KiB chunks Coffer writes, sealed here (ring) and opened by aws-lc-rs, and the other
    /// way round: the bulk paths of the two libraries agree.
    #[test]
    fn chunks_agree_with_aws_lc() {
        use aws_lc_rs::aead as lc;
        let okm = [0x5au8; 32];
        let header = [0x33u8; HEADER_LEN];
        let lc_key = lc::LessSafeKey::new(lc::UnboundKey::new(&lc::AES_256_GCM, &okm).unwrap());
        let ours = ChunkKey::new(&okm);
        for (index, len) in [(0u64, 1usize << 16), (1, 1 << 16), (7, 65_535), (9, 4_097), (3, 0)] {
            let plain = pattern(len);
            let mut sealed = Vec::new();
            seal_chunk(&ours, &header, index, index == 9, &plain, &mut sealed);
            let n = nonce_bytes(index, index == 9);
            let mut opened = sealed.clone();
            let got = lc_key.open_in_place(lc::Nonce::assume_unique_for_key(n), lc::Aad::from(&header), &mut opened).unwrap();
            assert_eq!(got, &plain[..]);
            let mut theirs = plain.clone();
            let tag = lc_key.seal_in_place_separate_tag(lc::Nonce::assume_unique_for_key(n), lc::Aad::from(&header), &mut theirs).unwrap();
            theirs.extend_from_slice(tag.as_ref());
            assert_eq!(theirs, sealed);
            let got = ours.0.open_in_place(nonce(index, index == 9), Aad::from(&header), &mut theirs).unwrap();
            assert_eq!(got, &plain[..]);
        }
    }

    /// Chunks read back to back into one buffer and decrypted within it come out as one
    /// contiguous plaintext; a damaged chunk zeroes what it was given.
    #[test]
    fn decrypt_within_closes_up_the_tags() {
        let plain = pattern(5 * 1024 + 300);
        let key = fixed_key();
        let file = encrypt_all(key.segment([0x44; 16]), LOG2, &plain);
        let layout = SegmentLayout { plaintext_len: plain.len() as u64, chunk_size_log2: LOG2 };
        let r = SegmentReader::new(key.segment([0x44; 16]), &file[..HEADER_LEN], layout).unwrap();
        let mut buf = file[HEADER_LEN..].to_vec();
        let out = r.decrypt_chunks_within(0, &mut buf).unwrap();
        assert_eq!(&buf[..out], &plain[..]);
        // From the middle, as a range read plans it; a buffer cut inside a chunk fails.
        let plan = layout.read_plan(1500, 4000);
        let at = plan.file_offset as usize;
        let mut buf = file[at..at + plan.file_len as usize].to_vec();
        let out = r.decrypt_chunks_within(plan.first_chunk, &mut buf).unwrap();
        assert_eq!(&buf[plan.skip..plan.skip + plan.take as usize], &plain[1500..4000]);
        assert_eq!(out, 3 * 1024);
        let mut buf = file[at..at + plan.file_len as usize - 1].to_vec();
        assert_eq!(r.decrypt_chunks_within(plan.first_chunk, &mut buf), Err(CryptoError));
        assert!(buf[2048..].iter().all(|&b| b == 0));
        let mut buf = file[HEADER_LEN..].to_vec();
        buf[1024 + 16 + 5] ^= 1;
        let n = r.decrypt_chunk_within(0, &mut buf[..1040], 0).unwrap();
        assert_eq!(r.decrypt_chunk_within(1, &mut buf[n..2080], 16), Err(CryptoError));
        assert!(buf[n..2080].iter().all(|&b| b == 0));
        assert_eq!(r.decrypt_chunk_within(1, &mut buf[..10], 20), Err(CryptoError));
    }

    const KAT_SHA256: &str = "9f0e0905ae9d9785e8db5960b05c9d8c13d0613ad9682b35a02f2e3cf4717264";
    const KAT_LAST_TAG: &str = "5f1c11370f68af3a1eaf39ced231335c";
}
