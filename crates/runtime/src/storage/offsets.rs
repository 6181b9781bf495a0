//! Where the records of a segment start. The segment being written keeps every offset; a
//! sealed one keeps an anchor every `ANCHOR_RECORDS` records or `ANCHOR_BYTES` bytes, and a
//! read starts at the anchor before its first record and walks the record headers. So
//! memory per GiB of log is a few KiB whatever the entry size (every offset of a GiB of
//! 64-byte entries was 40 MiB), and a read costs at most one anchor span more.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::error::{IoContext, StorageError};
use super::record;

const ANCHOR_RECORDS: u64 = 64;
const ANCHOR_BYTES: u64 = 64 << 10;

#[derive(Debug, Clone)]
pub enum Offsets {
    /// Every record's offset.
    Dense(Vec<u32>),
    /// (record number, offset) of some records, the first one included.
    Sparse {
        count: u64,
        anchors: Vec<(u32, u32)>,
    },
}

/// Builds the sparse offsets of a sealed segment from its offsets in order.
#[derive(Default)]
pub struct SparseBuilder {
    count: u64,
    anchors: Vec<(u32, u32)>,
}

impl SparseBuilder {
    pub fn push(&mut self, off: u32) {
        let due = self.anchors.last().is_none_or(|&(rec, o)| {
            self.count - u64::from(rec) >= ANCHOR_RECORDS
                || u64::from(off) - u64::from(o) >= ANCHOR_BYTES
        });
        if due {
            // Segments are at most 64 MiB, so record numbers fit in 32 bits.
            self.anchors.push((self.count as u32, off));
        }
        self.count += 1;
    }

    pub fn finish(self) -> Offsets {
        Offsets::Sparse {
            count: self.count,
            anchors: self.anchors,
        }
    }
}

impl Default for Offsets {
    fn default() -> Self {
        Offsets::Dense(Vec::new())
    }
}

impl Offsets {
    pub fn len(&self) -> u64 {
        match self {
            Offsets::Dense(v) => v.len() as u64,
            Offsets::Sparse { count, .. } => *count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records that record number `len()` starts at `off` (only while dense: a sealed
    /// segment never grows).
    pub fn push(&mut self, off: u32) {
        match self {
            Offsets::Dense(v) => v.push(off),
            Offsets::Sparse { .. } => debug_assert!(false, "append to a sealed segment"),
        }
    }

    /// Every offset, if dense (for the segment's index file).
    pub fn dense(&self) -> Option<&[u32]> {
        match self {
            Offsets::Dense(v) => Some(v),
            Offsets::Sparse { .. } => None,
        }
    }

    /// The segment will not grow again: keep anchors only.
    pub fn seal(&mut self) {
        if let Offsets::Dense(v) = self {
            let mut b = SparseBuilder::default();
            v.iter().for_each(|&o| b.push(o));
            *self = b.finish();
        }
    }

    /// The nearest known record at or before record `k`: (record number, offset).
    pub fn anchor(&self, k: u64) -> (u64, u64) {
        match self {
            Offsets::Dense(v) => (k, u64::from(v[k as usize])),
            Offsets::Sparse { anchors, .. } => {
                let a = anchors[anchors.partition_point(|x| u64::from(x.0) <= k) - 1];
                (u64::from(a.0), u64::from(a.1))
            }
        }
    }

    /// Bytes to read for records `lo..=hi` (at most about `budget` bytes of them) from a
    /// segment whose records end at `end`: (start offset, number of the record there, end
    /// offset). Dense: exactly the records that fit (at least `lo`). Sparse: from the anchor
    /// before `lo` to the first anchor past `hi` or past the budget; the reader skips and
    /// stops by the headers.
    pub fn span(&self, lo: u64, hi: u64, budget: usize, end: u64) -> (u64, u64, u64) {
        let budget = budget as u64;
        match self {
            Offsets::Dense(v) => {
                let start = u64::from(v[lo as usize]);
                let end_of = |k: u64| v.get(k as usize + 1).map_or(end, |&o| u64::from(o));
                // Last record in lo..=hi whose end is within the budget (at least lo).
                let (mut a, mut b) = (lo, hi + 1);
                while a < b {
                    let m = a + (b - a) / 2;
                    if end_of(m) - start <= budget {
                        a = m + 1;
                    } else {
                        b = m;
                    }
                }
                (start, lo, end_of(a.max(lo + 1) - 1))
            }
            Offsets::Sparse { anchors, .. } => {
                let (rec, start) = self.anchor(lo);
                let a = anchors.partition_point(|x| u64::from(x.0) <= rec);
                let limit = start.saturating_add(budget).saturating_add(ANCHOR_BYTES);
                let after = &anchors[a..];
                let b = after.partition_point(|x| u64::from(x.0) <= hi && u64::from(x.1) < limit);
                let stop = after.get(b).map_or(end, |x| u64::from(x.1));
                (start, rec, stop)
            }
        }
    }

    /// Offset of record `k` (`len()` for the end `end`); when no anchor is at `k` the
    /// headers are walked on disk, in the file `open` gives.
    pub fn locate(
        &self,
        k: u64,
        end: u64,
        path: &Path,
        open: impl FnOnce() -> Result<Arc<File>, StorageError>,
    ) -> Result<u64, StorageError> {
        if k >= self.len() {
            return Ok(end);
        }
        let (mut rec, mut off) = self.anchor(k);
        if rec == k {
            return Ok(off);
        }
        let file = open()?;
        let mut hb = [0u8; record::HEADER_LEN];
        while rec < k {
            file.read_exact_at(&mut hb, off).ctx("read", path)?;
            let h = record::parse_header(&hb)
                .map_err(|_| StorageError::corrupt(path, off, "unreadable record header"))?;
            off += h.record_len() as u64;
            rec += 1;
        }
        Ok(off)
    }

    /// Keeps records `..n` only.
    pub fn truncate(&mut self, n: u64) {
        match self {
            Offsets::Dense(v) => v.truncate(n as usize),
            Offsets::Sparse { count, anchors } => {
                *count = n.min(*count);
                anchors.retain(|a| u64::from(a.0) < n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(lens: &[u32]) -> Vec<u32> {
        lens.iter()
            .scan(0u32, |o, &l| {
                let at = *o;
                *o += l;
                Some(at)
            })
            .collect()
    }

    #[test]
    fn sparse_spans_cover_what_dense_spans_cover() {
        let lens: Vec<u32> = (0..1000).map(|i| 40 + (i * 7919 % 3000)).collect();
        let v = offsets(&lens);
        let end = u64::from(v[999] + lens[999]);
        let dense = Offsets::Dense(v.clone());
        let mut sparse = dense.clone();
        sparse.seal();
        let Offsets::Sparse { anchors, count } = &sparse else {
            panic!("not sealed")
        };
        assert_eq!(*count, 1000);
        assert!(anchors.len() < 1000 / 8, "{} anchors", anchors.len());
        for (lo, hi, budget) in [
            (0, 999, 1 << 20),
            (5, 5, 0),
            (130, 600, 4096),
            (999, 999, 0),
        ] {
            let (ds, drec, de) = dense.span(lo, hi, budget, end);
            let (ss, srec, se) = sparse.span(lo, hi, budget, end);
            assert_eq!((ds, drec), (u64::from(v[lo as usize]), lo));
            assert!(ss <= ds && srec <= lo && se >= de, "{lo}..={hi} {budget}");
            assert_eq!(u64::from(v[srec as usize]), ss);
        }
    }

    #[test]
    fn dense_spans_stop_at_the_budget_but_keep_one_record() {
        let v = offsets(&[100; 10]);
        let d = Offsets::Dense(v);
        assert_eq!(d.span(2, 9, 250, 1000), (200, 2, 400));
        assert_eq!(d.span(2, 9, 0, 1000), (200, 2, 300));
        assert_eq!(d.span(8, 9, 1 << 20, 1000), (800, 8, 1000));
    }

    #[test]
    fn truncation_keeps_anchors_below_the_cut() {
        let mut s = Offsets::Dense(offsets(&[100; 300]));
        s.seal();
        s.truncate(130);
        assert_eq!(s.len(), 130);
        assert_eq!(s.anchor(129), (128, 12800));
    }
}
