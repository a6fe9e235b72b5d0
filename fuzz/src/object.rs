//! Target `object_segment`: the encrypted S3 object segment format `COS1` (coffer-crypto
//! `object`).
//!
//! Input: the bytes of a candidate segment file. Two things happen to every input:
//!
//! 1. **Hostile file.** The bytes are parsed and decrypted as a segment under a fixed object key
//!    (the one the seeds were written with), with the segment id the header names, against a
//!    layout that fits the file's length and against one the input makes up, over a range the
//!    input chooses; single chunks are opened at indices the input chooses. Everything must
//!    return errors, never panic; read plans stay inside the file; whatever decrypts is exactly
//!    what the (deterministic) writer produces for that plaintext.
//! 2. **Round trip.** The bytes are encrypted as plaintext with a chunk size (1–8 KiB) and a
//!    sequence of push sizes derived from the input; the file has the layout's length, equals
//!    `encrypt_all` of the same plaintext, and decrypting it whole and over a random range gives
//!    the plaintext back.

use coffer_crypto::object::{
    HEADER_LEN, ObjectKey, SegmentHeader, SegmentLayout, SegmentReader, SegmentWriter, decrypt_range, encrypt_all,
};

use crate::Rng;

/// The object key of the seeds (`examples/gen_corpus.rs`).
pub const OBJECT_KEY: [u8; 32] = [0x11; 32];

fn object_key() -> ObjectKey {
    ObjectKey::from_bytes(&OBJECT_KEY).expect("32 bytes")
}

/// The plaintext length whose segment file is `file_len` bytes with chunk size 2^`log2`, if any.
pub fn plaintext_len_for(file_len: u64, log2: u8) -> Option<u64> {
    let rest = file_len.checked_sub(HEADER_LEN as u64)?;
    let per = (1u64 << log2) + 16;
    let chunks = rest.div_ceil(per).max(1);
    let len = rest.checked_sub(16 * chunks)?;
    let layout = SegmentLayout { plaintext_len: len, chunk_size_log2: log2 };
    (layout.file_len() == file_len).then_some(len)
}

fn check_plan(layout: SegmentLayout, start: u64, end: u64) {
    let plan = layout.read_plan(start, end);
    let e = end.min(layout.plaintext_len);
    let s = start.min(e);
    assert_eq!(plan.take, e - s);
    if plan.take > 0 {
        assert!(plan.file_offset >= HEADER_LEN as u64);
        assert!(plan.file_offset.saturating_add(plan.file_len) <= layout.file_len(), "plan reads past the file");
        assert!((plan.skip as u64) < layout.chunk_size());
        if layout.file_len() < u64::MAX {
            // Only a layout whose file length did not saturate has exact offsets.
            assert!(plan.file_len >= plan.take);
        }
    } else {
        assert_eq!(plan.file_len, 0);
    }
}

fn hostile(data: &[u8], rng: &mut Rng) {
    let header = SegmentHeader::parse(data);
    if let Ok(h) = header {
        assert_eq!(h.to_bytes()[..], data[..HEADER_LEN], "header does not round-trip");
    }
    let id: [u8; 16] = data.get(6..22).map_or([0; 16], |s| s.try_into().expect("16 bytes"));
    let log2 = data.get(5).copied().unwrap_or(16);
    let ok = object_key();

    let mut layouts = Vec::new();
    if let Some(len) = plaintext_len_for(data.len() as u64, log2.clamp(10, 20)) {
        layouts.push(SegmentLayout { plaintext_len: len, chunk_size_log2: log2 });
    }
    // A made-up layout: any length, any chunk size byte (nonsense ones included).
    let tail = data.len().saturating_sub(8);
    let claimed = u64::from_le_bytes(data.get(tail..).and_then(|s| s.try_into().ok()).unwrap_or([0; 8]));
    layouts.push(SegmentLayout { plaintext_len: claimed >> (rng.below(64) as u32), chunk_size_log2: log2 });

    for layout in layouts {
        let _ = (layout.chunk_count(), layout.file_len(), layout.chunk_offset(rng.next_u64()));
        let (a, b) = (rng.below(layout.plaintext_len.saturating_add(2)), rng.next_u64());
        check_plan(layout, a, b);
        check_plan(layout, a, a.saturating_add(rng.below(3 * 1024)));
        check_plan(layout, 0, u64::MAX);

        let (start, end) = if rng.below(2) == 0 { (0, u64::MAX) } else { (a, a.saturating_add(rng.below(5000))) };
        if let Ok(plain) = decrypt_range(ok.segment(id), data, layout, start, end) {
            let plan = layout.read_plan(start, end);
            assert_eq!(plain.len() as u64, plan.take);
            if start == 0 && end >= layout.plaintext_len && layout.plaintext_len > 0 {
                // Every chunk was authenticated, and nonces are deterministic: the writer
                // reproduces the file exactly. (An empty range authenticates no chunk, so for an
                // empty segment only the header and the file length are checked; see
                // docs/fuzzing.md.)
                assert_eq!(encrypt_all(ok.segment(id), log2, &plain), data, "decrypted file differs from its re-encryption");
            }
        }
        if let Ok(reader) = SegmentReader::new(ok.segment(id), &data[..data.len().min(HEADER_LEN)], layout) {
            assert!(header.is_ok());
            for _ in 0..3 {
                let index = if rng.below(4) == 0 { rng.next_u64() } else { rng.below(layout.chunk_count().saturating_add(1)) };
                let at = (rng.below(data.len() as u64 + 1)) as usize;
                let len = (rng.below((data.len() - at) as u64 + 1)) as usize;
                let mut chunk = data[at..at + len].to_vec();
                if reader.decrypt_chunk(index, &mut chunk).is_err() {
                    assert!(chunk.is_empty(), "a failed chunk leaves plaintext behind");
                } else {
                    assert_eq!(chunk.len() as u64, layout.chunk_plaintext_len(index));
                }
            }
        }
    }
}

fn round_trip(data: &[u8], rng: &mut Rng) {
    let log2 = 10 + (rng.below(4) as u8);
    let c = 1u64 << log2;
    let ok = object_key();
    let id: [u8; 16] = std::array::from_fn(|i| data.get(i).copied().unwrap_or(0) ^ 0x5a);
    let (mut w, header) = SegmentWriter::new(ok.segment(id), log2);
    let mut file = header.to_vec();
    let mut rest = data;
    while !rest.is_empty() {
        // Mostly small pushes, sometimes empty, sometimes several chunks at once.
        let n = match rng.below(4) {
            0 => 0,
            1 => rng.below(64),
            2 => rng.below(c + 2),
            _ => rng.below(3 * c + 1),
        } as usize;
        let n = n.min(rest.len());
        let before = file.len();
        w.push(&rest[..n], &mut file);
        assert_eq!((file.len() - before) as u64 % (c + 16), 0, "a push emitted a partial chunk");
        rest = &rest[n..];
    }
    assert_eq!(w.finish(&mut file), data.len() as u64);
    let layout = SegmentLayout { plaintext_len: data.len() as u64, chunk_size_log2: log2 };
    assert_eq!(file.len() as u64, layout.file_len());
    assert_eq!(plaintext_len_for(file.len() as u64, log2), Some(data.len() as u64));
    assert_eq!(file, encrypt_all(ok.segment(id), log2, data), "push pattern changed the file");
    assert_eq!(SegmentHeader::parse(&file).map(|h| (h.segment_id, h.chunk_size_log2)), Ok((id, log2)));
    assert_eq!(decrypt_range(ok.segment(id), &file, layout, 0, u64::MAX).expect("own segment opens"), data);
    let s = rng.below(data.len() as u64 + 1);
    let e = s + rng.below(data.len() as u64 - s + 1);
    assert_eq!(
        decrypt_range(ok.segment(id), &file, layout, s, e).expect("own range opens"),
        data[s as usize..e as usize]
    );
    // A flipped byte anywhere is detected.
    let at = rng.below(file.len() as u64) as usize;
    file[at] ^= 0x80;
    assert!(decrypt_range(ok.segment(id), &file, layout, 0, u64::MAX).is_err(), "flip at {at} accepted");
}

pub fn run(data: &[u8]) {
    let mut rng = Rng::new(data);
    hostile(data, &mut rng);
    round_trip(data, &mut rng);
}
