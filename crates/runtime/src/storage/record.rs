//! The on-disk record: a 48-byte header, the payload as given, zero padding to 8 bytes.
//!
//! ```text
//! 0  crc u32      CRC32C over bytes 4..48 and the payload
//! 4  len u32      payload length
//! 8  index u64    16 term u64    24 key u64
//! 32 gen u64      number of the write (one pwritev) that carried the record, +1 per write
//! 40 batch_end u32  segment offset where that write ends
//! 44 kind u8, 3 zero bytes
//! ```
//! `gen` and `batch_end` let recovery tell a torn last write from damage to synced data
//! (see `scan.rs`). All integers are little-endian.

use crate::storage::crc::crc32c_of_two;
use bytes::Bytes;

use crate::types::{Entry, EntryKind};

pub const HEADER_LEN: usize = 48;
/// Largest payload accepted; keeps every offset of a segment within u32.
pub const MAX_PAYLOAD: usize = 1 << 30;

/// Bytes a record with a payload of `len` bytes takes on disk.
pub fn record_len(len: usize) -> usize {
    HEADER_LEN + ((len + 7) & !7)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub len: u32,
    pub index: u64,
    pub term: u64,
    pub key: u64,
    pub gen: u64,
    pub batch_end: u32,
    pub kind: EntryKind,
}

impl Header {
    pub fn record_len(&self) -> usize {
        record_len(self.len as usize)
    }
}

/// Append the record of `e` to `buf`.
pub fn encode(buf: &mut Vec<u8>, e: &Entry, gen: u64, batch_end: u32) {
    encode_header(buf, e, gen, batch_end);
    buf.extend_from_slice(&e.data);
    buf.extend_from_slice(padding(e.data.len()));
}

/// Append the header of the record of `e` to `buf`; its payload and [`padding`] follow it on
/// disk.
pub fn encode_header(buf: &mut Vec<u8>, e: &Entry, gen: u64, batch_end: u32) {
    let start = buf.len();
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
    buf.extend_from_slice(&e.index.to_le_bytes());
    buf.extend_from_slice(&e.term.to_le_bytes());
    buf.extend_from_slice(&e.key.to_le_bytes());
    buf.extend_from_slice(&gen.to_le_bytes());
    buf.extend_from_slice(&batch_end.to_le_bytes());
    buf.extend_from_slice(&[e.kind as u8, 0, 0, 0]);
    let crc = crc32c_of_two(&buf[start + 4..start + HEADER_LEN], &e.data);
    buf[start..start + 4].copy_from_slice(&crc.to_le_bytes());
}

/// The zeros after a payload of `len` bytes.
pub fn padding(len: usize) -> &'static [u8] {
    &[0u8; 8][..record_len(len) - HEADER_LEN - len]
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Why bytes at some offset are not a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bad {
    /// End of the data (or of the file): a header of zeros or too few bytes for one.
    End,
    /// Something is there but it is not a complete, intact record.
    Invalid(&'static str),
}

/// Parse the header at the start of `b` without checking the CRC; rejects headers that
/// cannot be ours. Zeros (or nothing) mean the end of the data.
pub fn parse_header(b: &[u8]) -> Result<Header, Bad> {
    let h = &b[..b.len().min(HEADER_LEN)];
    if h.iter().all(|&x| x == 0) {
        return Err(Bad::End);
    }
    if h.len() < HEADER_LEN {
        return Err(Bad::Invalid("truncated header"));
    }
    let kind = EntryKind::from_u8(h[44]).ok_or(Bad::Invalid("unknown entry kind"))?;
    if h[45..48] != [0, 0, 0] {
        return Err(Bad::Invalid("reserved header bytes are not zero"));
    }
    let len = u32_at(h, 4);
    if len as usize > MAX_PAYLOAD {
        return Err(Bad::Invalid("payload length too large"));
    }
    Ok(Header {
        len,
        index: u64_at(h, 8),
        term: u64_at(h, 16),
        key: u64_at(h, 24),
        gen: u64_at(h, 32),
        batch_end: u32_at(h, 40),
        kind,
    })
}

/// Check a whole record at the start of `b`: header sanity, length, CRC.
pub fn check(b: &[u8]) -> Result<Header, Bad> {
    let h = parse_header(b)?;
    let end = HEADER_LEN + h.len as usize;
    if b.len() < end {
        return Err(Bad::Invalid("record runs past the end of the file"));
    }
    let crc = crc32c_of_two(&b[4..HEADER_LEN], &b[HEADER_LEN..end]);
    if crc != u32_at(b, 0) {
        return Err(Bad::Invalid("CRC mismatch"));
    }
    Ok(h)
}

/// Build the entry of a checked record; `b` starts at the record.
pub fn to_entry(h: &Header, b: &[u8]) -> Entry {
    Entry {
        index: h.index,
        term: h.term,
        key: h.key,
        kind: h.kind,
        data: Bytes::copy_from_slice(&b[HEADER_LEN..HEADER_LEN + h.len as usize]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, len: usize) -> Entry {
        Entry {
            index,
            term: 3,
            key: 77,
            kind: EntryKind::Conf,
            data: Bytes::from((0..len).map(|i| i as u8).collect::<Vec<_>>()),
        }
    }

    #[test]
    fn round_trip_and_padding() {
        for len in [0, 1, 7, 8, 9, 1000] {
            let e = entry(5, len);
            let mut buf = Vec::new();
            encode(&mut buf, &e, 9, 4096);
            assert_eq!(buf.len(), record_len(len));
            assert_eq!(buf.len() % 8, 0);
            let h = check(&buf).unwrap();
            assert_eq!((h.gen, h.batch_end), (9, 4096));
            assert_eq!(to_entry(&h, &buf), e);
        }
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let mut buf = Vec::new();
        encode(&mut buf, &entry(1, 20), 1, 68);
        let used = HEADER_LEN + 20;
        for bit in 0..used * 8 {
            let mut b = buf.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(check(&b).is_err(), "flip of bit {bit} not detected");
        }
    }

    #[test]
    fn zeros_and_short_input_are_end() {
        assert_eq!(check(&[0u8; 100]), Err(Bad::End));
        assert_eq!(check(&[0u8; 10]), Err(Bad::End));
        assert!(matches!(check(&[1u8; 10]), Err(Bad::Invalid(_))));
        let mut buf = Vec::new();
        encode(&mut buf, &entry(1, 100), 1, 0);
        assert!(matches!(check(&buf[..60]), Err(Bad::Invalid(_))));
    }
}
