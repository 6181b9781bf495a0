//! The index of a sealed segment, `seg_NNNNNNNNNN.idx`, so that a restart reads a few bytes
//! per record instead of every payload of a multi-GiB log.
//!
//! Written once, when the writer moves on to the next segment (the segment is synced and
//! trimmed first, so it never changes again), and removed before a suffix cut touches the
//! segment or the segment is deleted. Recovery trusts an index only if its checksum holds,
//! the segment is exactly as long as the index says, and the first and last record headers
//! on disk match it; otherwise it scans the segment as before. Records of an indexed
//! segment are checksummed when they are read.
//!
//! ```text
//! "DCFIDX01"  first u64  count u64  end u64  last_gen u64
//! runs u64, (index u64, term u64) * runs      terms of the records
//! confs u64, offset u32 * confs               CONF records
//! offset u32 * count                          every record
//! crc u32                                     CRC32C of all the above
//! ```

use crate::storage::crc::crc32c;
use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::offsets::{Offsets, SparseBuilder};
use super::record::{self, Header};
use super::segment::SegInfo;
use super::sys;
use crate::types::{Entry, EntryKind, Index, Term};

const MAGIC: &[u8; 8] = b"DCFIDX01";

pub fn idx_path(seg: &Path) -> PathBuf {
    seg.with_extension("idx")
}

/// The index of a sealed segment, encoded (cheap enough to do under the stream's lock).
pub fn encode(seg: &SegInfo, last_gen: u64) -> Option<Vec<u8>> {
    let last = seg.last()?;
    let offsets = seg.offsets.dense()?;
    let mut b = Vec::with_capacity(64 + offsets.len() * 4 + seg.runs.len() * 16);
    b.extend_from_slice(MAGIC);
    for v in [seg.first, last - seg.first + 1, seg.end, last_gen] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&(seg.runs.len() as u64).to_le_bytes());
    for &(i, t) in &seg.runs {
        b.extend_from_slice(&i.to_le_bytes());
        b.extend_from_slice(&t.to_le_bytes());
    }
    b.extend_from_slice(&(seg.confs.len() as u64).to_le_bytes());
    for &o in seg.confs.iter().chain(offsets) {
        b.extend_from_slice(&o.to_le_bytes());
    }
    let crc = crc32c(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    Some(b)
}

/// Writes an encoded index next to the segment `seg`. Best effort: without it a restart
/// scans the segment, so a failure here is not a storage failure.
pub fn store(seg: &Path, b: &[u8], sync: bool) {
    let path = idx_path(seg);
    let tmp = path.with_extension("idx.tmp");
    let written = (|| -> std::io::Result<()> {
        let f = sys::create(&tmp)?;
        sys::write_all_at(&f, &tmp, b, 0)?;
        if sync {
            sys::sync_all(&f, &tmp)?;
        }
        sys::rename(&tmp, &path)
    })();
    if written.is_err() {
        let _ = sys::remove_file(&tmp);
    }
}

/// Removes the index of `seg` (before the segment changes or goes).
pub fn remove(seg: &Path) -> std::io::Result<()> {
    for p in [idx_path(seg), idx_path(seg).with_extension("idx.tmp")] {
        sys::remove_file(&p)?;
    }
    Ok(())
}

/// What an index says about its segment, checked against the segment file. Offsets come
/// back sparse: a restart holds a few bytes per thousand records, not the index.
pub struct Indexed {
    /// Headers of the first and last records, read from the segment.
    pub first: Header,
    pub last: Header,
    pub offsets: Offsets,
    pub runs: Vec<(Index, Term)>,
    /// Offsets of the CONF records, and the records.
    pub conf_offs: Vec<u32>,
    pub confs: Vec<Entry>,
    pub end: u64,
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u64(&mut self) -> Option<u64> {
        let (a, rest) = self.0.split_first_chunk::<8>()?;
        self.0 = rest;
        Some(u64::from_le_bytes(*a))
    }
    fn u32(&mut self) -> Option<u32> {
        let (a, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_le_bytes(*a))
    }
}

/// The index of the segment at `seg`, if there is one that matches the file.
pub fn load(seg: &Path) -> Option<Indexed> {
    let b = fs::read(idx_path(seg)).ok()?;
    let (body, crc) = b.split_last_chunk::<4>()?;
    if body.len() < 8 || &body[..8] != MAGIC || crc32c(body) != u32::from_le_bytes(*crc) {
        return None;
    }
    let mut r = Reader(&body[8..]);
    let (first, count, end, last_gen) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?);
    let nruns = usize::try_from(r.u64()?).ok()?;
    if count == 0 || nruns == 0 || nruns > r.0.len() / 16 {
        return None;
    }
    let mut runs: Vec<(Index, Term)> = Vec::with_capacity(nruns);
    for _ in 0..nruns {
        runs.push((r.u64()?, r.u64()?));
    }
    let nconfs = usize::try_from(r.u64()?).ok()?;
    let count = usize::try_from(count).ok()?;
    if r.0.len() != (nconfs + count) * 4 || runs[0].0 != first {
        return None;
    }
    let confs: Vec<u32> = (0..nconfs).map(|_| r.u32()).collect::<Option<_>>()?;
    let offsets = r.0;
    let off_at = |k: usize| u32::from_le_bytes([0, 1, 2, 3].map(|j| offsets[k * 4 + j]));
    let file = File::open(seg).ok()?;
    if file.metadata().ok()?.len() != end {
        return None;
    }
    let header_at = |off: u32| -> Option<Header> {
        let mut hb = [0u8; record::HEADER_LEN];
        file.read_exact_at(&mut hb, u64::from(off)).ok()?;
        record::parse_header(&hb).ok()
    };
    let last = first + count as u64 - 1;
    let term_of = |i: Index| runs[runs.partition_point(|r| r.0 <= i) - 1].1;
    let (fh, lh) = (header_at(off_at(0))?, header_at(off_at(count - 1))?);
    if fh.index != first
        || lh.index != last
        || lh.gen != last_gen
        || fh.term != term_of(first)
        || lh.term != term_of(last)
        || u64::from(off_at(count - 1)) + lh.record_len() as u64 != end
    {
        return None;
    }
    let mut conf_entries = Vec::with_capacity(confs.len());
    for &off in &confs {
        let h = header_at(off)?;
        let mut buf = vec![0u8; h.record_len()];
        file.read_exact_at(&mut buf, u64::from(off)).ok()?;
        let h = record::check(&buf).ok()?;
        if h.kind != EntryKind::Conf || h.index < first || h.index > last {
            return None;
        }
        conf_entries.push(record::to_entry(&h, &buf));
    }
    let mut sparse = SparseBuilder::default();
    let mut prev = None;
    for k in 0..count {
        let off = off_at(k);
        if prev.is_some_and(|p| off <= p) {
            return None;
        }
        prev = Some(off);
        sparse.push(off);
    }
    Some(Indexed {
        first: fh,
        last: lh,
        offsets: sparse.finish(),
        runs,
        conf_offs: confs,
        confs: conf_entries,
        end,
    })
}
