//! One batch of records written with pwritev: headers and small payloads are encoded into one
//! buffer, larger payloads go to the kernel from the caller's buffers, so each byte of them is
//! copied once (into the page cache) rather than twice.

use std::fs::File;
use std::io::{self, IoSlice};

use super::record;
use crate::types::Entry;

/// Payloads shorter than this are copied into the buffer: an iovec of its own costs the
/// kernel more than copying a few hundred bytes.
const COPY_BELOW: usize = 1024;
/// Linux's IOV_MAX.
const MAX_IOV: usize = 1024;

enum Piece {
    /// `buf[from..to]`.
    Buf(usize, usize),
    /// The payload of `pend[k]`, then its padding.
    Payload(usize),
}

/// Writes the records of `pend` at `start`; returns each record's offset from `start`.
/// `buf` is scratch space kept between calls.
pub fn write_records(
    file: &File,
    start: u64,
    pend: &[Entry],
    gen: u64,
    batch_end: u32,
    buf: &mut Vec<u8>,
) -> io::Result<Vec<u32>> {
    buf.clear();
    let mut pieces = Vec::new();
    let mut offsets = Vec::with_capacity(pend.len());
    let (mut run_from, mut at) = (0usize, 0usize);
    for (k, e) in pend.iter().enumerate() {
        offsets.push(at as u32);
        at += record::record_len(e.data.len());
        if e.data.len() < COPY_BELOW {
            record::encode(buf, e, gen, batch_end);
        } else {
            record::encode_header(buf, e, gen, batch_end);
            pieces.push(Piece::Buf(run_from, buf.len()));
            pieces.push(Piece::Payload(k));
            run_from = buf.len();
        }
    }
    if run_from < buf.len() {
        pieces.push(Piece::Buf(run_from, buf.len()));
    }
    let mut slices = Vec::with_capacity(pieces.len() * 2);
    for p in &pieces {
        match *p {
            Piece::Buf(from, to) => slices.push(IoSlice::new(&buf[from..to])),
            Piece::Payload(k) => {
                let data = &pend[k].data;
                slices.push(IoSlice::new(data));
                let pad = record::padding(data.len());
                if !pad.is_empty() {
                    slices.push(IoSlice::new(pad));
                }
            }
        }
    }
    write_all_at(file, &mut slices, start)?;
    Ok(offsets)
}

fn write_all_at(file: &File, mut slices: &mut [IoSlice<'_>], mut off: u64) -> io::Result<()> {
    while !slices.is_empty() {
        let n = slices.len().min(MAX_IOV);
        match rustix::io::pwritev(file, &slices[..n], off) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(w) => {
                off += w as u64;
                IoSlice::advance_slices(&mut slices, w);
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::EntryKind;
    use bytes::Bytes;
    use std::os::unix::fs::FileExt;

    #[test]
    fn writes_the_same_bytes_as_encoding_into_one_buffer() {
        let sizes = [0usize, 5, 1023, 1024, 3000, 64, 8192, 7];
        let pend: Vec<Entry> = sizes
            .iter()
            .enumerate()
            .map(|(k, &n)| Entry {
                index: 10 + k as u64,
                term: 2,
                key: k as u64,
                kind: EntryKind::Normal,
                data: Bytes::from(vec![k as u8 + 1; n]),
            })
            .collect();
        let mut want = Vec::new();
        let mut want_offsets = Vec::new();
        for e in &pend {
            want_offsets.push(want.len() as u32);
            record::encode(&mut want, e, 9, 77);
        }
        let dir = std::env::temp_dir().join(format!("dcf-vecwrite-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("seg");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        let mut buf = Vec::new();
        let offsets = write_records(&file, 100, &pend, 9, 77, &mut buf).unwrap();
        assert_eq!(offsets, want_offsets);
        let mut got = vec![0u8; want.len()];
        file.read_exact_at(&mut got, 100).unwrap();
        assert_eq!(got, want);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
