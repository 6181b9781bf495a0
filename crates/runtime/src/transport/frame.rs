//! Frame encoding on a channel stream:
//! `body_len u32 LE | kind u8 | header_len u32 LE | header | payload`, where
//! `body_len = header_len + payload length`. The decoder checks every length before it
//! allocates, so a peer can make it hold at most one frame of `max_frame_bytes`.

use crate::transport::types::{Frame, ReceivedFrame};
use bytes::{Buf, Bytes, BytesMut};

pub const FRAME_PREFIX_LEN: usize = 9;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame body of {len} bytes exceeds the limit of {limit} bytes")]
    TooBig { len: usize, limit: usize },
    #[error("frame header length {header_len} exceeds its body length {body_len}")]
    BadHeaderLen { header_len: usize, body_len: usize },
}

struct Prefix {
    kind: u8,
    body_len: usize,
    header_len: usize,
}

fn parse_prefix(p: &[u8], limit: usize) -> Result<Prefix, FrameError> {
    let word = |at: usize| u32::from_le_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]) as usize;
    let body_len = word(0);
    let header_len = word(5);
    if body_len > limit {
        return Err(FrameError::TooBig {
            len: body_len,
            limit,
        });
    }
    if header_len > body_len {
        return Err(FrameError::BadHeaderLen {
            header_len,
            body_len,
        });
    }
    Ok(Prefix {
        kind: p[4],
        body_len,
        header_len,
    })
}

/// The prefix of `frame`; the caller has checked `frame.body_len()` fits in a u32.
pub(crate) fn encode_prefix(frame: &Frame) -> [u8; FRAME_PREFIX_LEN] {
    let mut p = [0u8; FRAME_PREFIX_LEN];
    p[0..4].copy_from_slice(&(frame.body_len() as u32).to_le_bytes());
    p[4] = frame.kind;
    p[5..9].copy_from_slice(&(frame.header.len() as u32).to_le_bytes());
    p
}

/// Pieces shorter than this are copied into the batch buffer: one contiguous chunk costs
/// quinn far less than many tiny ones. Longer payload chunks are passed on without a copy.
const COPY_BELOW: usize = 4096;

/// The bytes of a batch of frames, as chunks for one stream write.
#[derive(Default)]
pub(crate) struct Batch {
    small: BytesMut,
    chunks: Vec<Bytes>,
}

impl Batch {
    pub fn push_frame(&mut self, frame: Frame) {
        self.small.extend_from_slice(&encode_prefix(&frame));
        self.push_piece(frame.header);
        for p in frame.payload {
            self.push_piece(p);
        }
    }

    pub fn push_piece(&mut self, piece: Bytes) {
        if piece.len() < COPY_BELOW {
            self.small.extend_from_slice(&piece);
        } else {
            self.flush_small();
            self.chunks.push(piece);
        }
    }

    fn flush_small(&mut self) {
        if !self.small.is_empty() {
            self.chunks.push(self.small.split().freeze());
        }
    }

    /// The chunks to write; call `clear` after writing them.
    pub fn chunks(&mut self) -> &mut [Bytes] {
        self.flush_small();
        &mut self.chunks
    }

    pub fn clear(&mut self) {
        self.chunks.clear();
    }
}

/// The whole encoding of `frame` in one buffer (tests and tools).
pub fn encode_frame(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_PREFIX_LEN + frame.body_len());
    out.extend_from_slice(&encode_prefix(frame));
    out.extend_from_slice(&frame.header);
    for p in &frame.payload {
        out.extend_from_slice(p);
    }
    out
}

fn split_frame(mut whole: Bytes, p: &Prefix) -> ReceivedFrame {
    whole.advance(FRAME_PREFIX_LEN);
    let header = whole.split_to(p.header_len);
    ReceivedFrame {
        kind: p.kind,
        header,
        payload: whole,
    }
}

/// Turns the chunks read from a stream back into frames. A frame that lies inside one chunk
/// is sliced out of it without copying; a frame spread over chunks is assembled once.
/// After an error the decoder must not be used again (the connection is closed).
pub struct FrameDecoder {
    limit: usize,
    partial: BytesMut,
}

impl FrameDecoder {
    pub fn new(max_frame_bytes: usize) -> FrameDecoder {
        FrameDecoder {
            limit: max_frame_bytes,
            partial: BytesMut::new(),
        }
    }

    /// Bytes held for an incomplete frame.
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    pub fn push(
        &mut self,
        mut chunk: Bytes,
        out: &mut impl FnMut(ReceivedFrame),
    ) -> Result<(), FrameError> {
        loop {
            if !self.partial.is_empty() {
                if self.partial.len() < FRAME_PREFIX_LEN {
                    let take = (FRAME_PREFIX_LEN - self.partial.len()).min(chunk.len());
                    self.partial.extend_from_slice(&chunk[..take]);
                    chunk.advance(take);
                    if self.partial.len() < FRAME_PREFIX_LEN {
                        return Ok(());
                    }
                }
                let prefix = parse_prefix(&self.partial[..FRAME_PREFIX_LEN], self.limit)?;
                let total = FRAME_PREFIX_LEN + prefix.body_len;
                self.partial.reserve(total - self.partial.len());
                let take = (total - self.partial.len()).min(chunk.len());
                self.partial.extend_from_slice(&chunk[..take]);
                chunk.advance(take);
                if self.partial.len() < total {
                    return Ok(());
                }
                let whole = self.partial.split().freeze();
                out(split_frame(whole, &prefix));
                continue;
            }
            if chunk.is_empty() {
                return Ok(());
            }
            if chunk.len() < FRAME_PREFIX_LEN {
                self.partial.extend_from_slice(&chunk);
                return Ok(());
            }
            let prefix = parse_prefix(&chunk[..FRAME_PREFIX_LEN], self.limit)?;
            let total = FRAME_PREFIX_LEN + prefix.body_len;
            if chunk.len() < total {
                self.partial.reserve(total);
                self.partial.extend_from_slice(&chunk);
                return Ok(());
            }
            let whole = chunk.split_to(total);
            out(split_frame(whole, &prefix));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(kind: u8, header: &[u8], payload: &[&[u8]]) -> Frame {
        Frame {
            kind,
            header: Bytes::copy_from_slice(header),
            payload: payload.iter().map(|p| Bytes::copy_from_slice(p)).collect(),
        }
    }

    fn decode_all(
        bytes: &[u8],
        cuts: &[usize],
        limit: usize,
    ) -> Result<Vec<ReceivedFrame>, FrameError> {
        let mut dec = FrameDecoder::new(limit);
        let mut got = Vec::new();
        let mut start = 0;
        for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
            let cut = cut.clamp(start, bytes.len());
            dec.push(Bytes::copy_from_slice(&bytes[start..cut]), &mut |f| {
                got.push(f)
            })?;
            start = cut;
        }
        Ok(got)
    }

    #[test]
    fn roundtrip_in_one_chunk_and_byte_by_byte() {
        let frames = [
            frame(3, b"hdr", &[b"ab", b"", b"cde"]),
            frame(0, b"", &[]),
            frame(255, b"", &[b"x"]),
        ];
        let mut wire = Vec::new();
        for f in &frames {
            wire.extend(encode_frame(f));
        }
        let cuts: Vec<usize> = (1..wire.len()).collect();
        for cuts in [&[][..], &cuts[..]] {
            let got = decode_all(&wire, cuts, 1024).unwrap();
            assert_eq!(got.len(), 3);
            assert_eq!(got[0].header.as_ref(), b"hdr");
            assert_eq!(got[0].payload.as_ref(), b"abcde");
            assert_eq!((got[1].kind, got[1].payload.len()), (0, 0));
            assert_eq!((got[2].kind, got[2].payload.as_ref()), (255, &b"x"[..]));
        }
    }

    #[test]
    fn batch_copies_small_pieces_and_passes_large_ones() {
        let big = vec![9u8; COPY_BELOW];
        let frames = [
            frame(1, b"h", &[b"small"]),
            frame(2, b"", &[&big, b"tail"]),
            frame(3, b"x", &[]),
        ];
        let mut batch = Batch::default();
        for f in &frames {
            batch.push_frame(f.clone());
        }
        let chunks = batch.chunks();
        assert_eq!(chunks.len(), 3, "small run, big payload, small run");
        assert_eq!(chunks[1].len(), COPY_BELOW);
        let wire: Vec<u8> = chunks.iter().flat_map(|c| c.to_vec()).collect();
        let expected: Vec<u8> = frames.iter().flat_map(encode_frame).collect();
        assert_eq!(wire, expected);
    }

    #[test]
    fn oversized_frame_is_refused_before_allocation() {
        let mut wire = vec![0u8; FRAME_PREFIX_LEN];
        wire[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = decode_all(&wire, &[], 1 << 20).unwrap_err();
        assert_eq!(
            err,
            FrameError::TooBig {
                len: u32::MAX as usize,
                limit: 1 << 20
            }
        );
    }

    #[test]
    fn header_longer_than_body_is_refused() {
        let mut wire = vec![0u8; FRAME_PREFIX_LEN];
        wire[0..4].copy_from_slice(&4u32.to_le_bytes());
        wire[5..9].copy_from_slice(&5u32.to_le_bytes());
        assert!(matches!(
            decode_all(&wire, &[3], 64),
            Err(FrameError::BadHeaderLen { .. })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("DCF_FRAME_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
            ..ProptestConfig::default()
        })]

        /// Random bytes in random chunks: never a panic, never more buffered than one frame.
        #[test]
        fn random_bytes_never_panic_or_overbuffer(
            bytes in proptest::collection::vec(any::<u8>(), 0..4096),
            cuts in proptest::collection::vec(0usize..4096, 0..16),
            limit in 0usize..2048,
        ) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let mut dec = FrameDecoder::new(limit);
            let mut start = 0;
            for cut in cuts.into_iter().chain(std::iter::once(bytes.len())) {
                let cut = cut.clamp(start, bytes.len());
                let res = dec.push(Bytes::copy_from_slice(&bytes[start..cut]), &mut |f| {
                    assert!(f.header.len() + f.payload.len() <= limit);
                });
                if res.is_err() {
                    break;
                }
                prop_assert!(dec.buffered() <= FRAME_PREFIX_LEN + limit);
                start = cut;
            }
        }

        /// Valid frames survive any chunking unchanged.
        #[test]
        fn frames_roundtrip_under_any_chunking(
            frames in proptest::collection::vec(
                (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..64),
                 proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..4)),
                0..8),
            cuts in proptest::collection::vec(0usize..8192, 0..16),
        ) {
            let frames: Vec<Frame> = frames.into_iter().map(|(kind, h, ps)| Frame {
                kind,
                header: Bytes::from(h),
                payload: ps.into_iter().map(Bytes::from).collect(),
            }).collect();
            let wire: Vec<u8> = frames.iter().flat_map(encode_frame).collect();
            let mut cuts = cuts;
            cuts.sort_unstable();
            let got = decode_all(&wire, &cuts, 4096).unwrap();
            prop_assert_eq!(got.len(), frames.len());
            for (g, f) in got.iter().zip(&frames) {
                prop_assert_eq!(g.kind, f.kind);
                prop_assert_eq!(&g.header, &f.header);
                prop_assert_eq!(g.payload.to_vec(), f.payload.concat());
            }
        }
    }
}
