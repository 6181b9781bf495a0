//! One stream's state: what readers share with the writer (`LogState`) and what only the
//! writer touches (`WriterSide`), plus the read path (cache, then disk).

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

use super::error::{IoContext, StorageError};
use super::meta::Meta;
use super::record;
use super::segment::SegInfo;
use crate::types::{Entry, Index, StreamId, Term};

pub struct LogState {
    pub first_index: Index,
    /// Last index including queued entries.
    pub last_index: Index,
    /// Entries up to here are in segment files (maybe not yet synced).
    pub written_index: Index,
    pub durable_index: Index,
    /// Recent entries, contiguous and ending at `last_index`; everything not yet written
    /// is here, older entries only while the byte budget allows.
    pub cache: VecDeque<Entry>,
    pub cache_bytes: usize,
    pub cache_limit: usize,
    pub segments: Vec<SegInfo>,
    /// Sequence number of the last queued operation.
    pub op_seq: u64,
    /// Suffix truncations queued but not yet carried out: (op seq, from).
    pub pending_truncs: Vec<(u64, Index)>,
}

impl LogState {
    /// `idx` lowered below any suffix truncation still queued.
    pub fn clamp(&self, idx: Index) -> Index {
        self.pending_truncs
            .iter()
            .fold(idx, |m, &(_, from)| m.min(from.saturating_sub(1)))
    }

    pub fn evict(&mut self) {
        while self.cache_bytes > self.cache_limit {
            match self.cache.front() {
                Some(e) if e.index <= self.written_index => {
                    self.cache_bytes -= e.data.len();
                    self.cache.pop_front();
                }
                _ => break,
            }
        }
    }

    pub fn push_cache(&mut self, e: Entry) {
        self.cache_bytes += e.data.len();
        self.cache.push_back(e);
    }

    /// Drop cached entries >= from.
    pub fn cut_cache(&mut self, from: Index) {
        while self.cache.back().is_some_and(|e| e.index >= from) {
            if let Some(e) = self.cache.pop_back() {
                self.cache_bytes -= e.data.len();
            }
        }
    }

    /// Drop cached entries < first.
    pub fn trim_cache_front(&mut self, first: Index) {
        while self.cache.front().is_some_and(|e| e.index < first) {
            if let Some(e) = self.cache.pop_front() {
                self.cache_bytes -= e.data.len();
            }
        }
    }
}

pub struct WriterSide {
    pub meta: Meta,
    /// Gen of the last write issued.
    pub gen: u64,
    /// The segment being appended to (the last of `LogState::segments`) and the write offset.
    pub cur: Option<(Arc<File>, PathBuf)>,
    pub cur_off: u64,
    pub spare: Option<(u64, File)>,
    /// Preallocated size of the spare and of the current segment (a write that would pass
    /// it goes to the next segment), and the size of the next segment to create.
    pub spare_cap: u64,
    pub cur_cap: u64,
    pub next_cap: u64,
    pub next_seq: u64,
    /// A write to `cur` is not yet covered by an fdatasync.
    pub unsynced: bool,
    /// `cur`'s pages below this offset were synced and handed back to the kernel.
    pub released_to: u64,
    pub last_written: (Index, Term),
}

impl WriterSide {
    /// Writes go on in `cur` (a fresh segment) or, with None, in the next segment: the
    /// offset, the released pages and the unsynced mark all start over.
    pub fn start_segment(&mut self, cur: Option<(Arc<File>, PathBuf)>) {
        self.cur = cur;
        self.cur_off = 0;
        self.released_to = 0;
        self.unsynced = false;
    }
}

pub struct StreamState {
    pub id: StreamId,
    pub dir: PathBuf,
    pub faults: Arc<super::Faults>,
    pub shared: Mutex<LogState>,
    pub w: Mutex<WriterSide>,
}

/// One contiguous disk read planned under the lock and done outside it.
struct DiskRead {
    /// None: the segment's file is closed and is opened for this read.
    file: Option<Arc<File>>,
    path: PathBuf,
    start: u64,
    end: u64,
    /// Index of the record at `start` (records before `lo` are skipped).
    at: Index,
    lo: Index,
    hi: Index,
}

impl StreamState {
    pub fn read(&self, lo: Index, hi: Index, max_bytes: usize) -> Result<Vec<Entry>, StorageError> {
        match self.read_once(lo, hi, max_bytes) {
            // A suffix cut may have rewritten the planned bytes between plan and read; the
            // second plan sees the cut.
            Err(StorageError::Corrupt { .. } | StorageError::Io { .. }) => {
                self.read_once(lo, hi, max_bytes)
            }
            r => r,
        }
    }

    fn read_once(
        &self,
        lo: Index,
        hi: Index,
        max_bytes: usize,
    ) -> Result<Vec<Entry>, StorageError> {
        let mut plan = Vec::new();
        let mut out = Vec::new();
        {
            let sh = self.shared.lock();
            if lo < sh.first_index || lo > sh.last_index {
                return Err(StorageError::OutOfRange {
                    stream: self.id,
                    index: lo,
                    first: sh.first_index,
                    last: sh.last_index,
                });
            }
            let hi = hi.min(sh.last_index).max(lo);
            let cache_first = sh.cache.front().map_or(sh.last_index + 1, |e| e.index);
            let mut idx = lo;
            let mut bytes = 0usize;
            let full = |bytes: usize, idx: Index| bytes >= max_bytes && idx > lo;
            while idx <= hi && idx < cache_first && !full(bytes, idx) {
                let seg = sh
                    .segments
                    .iter()
                    .find(|s| s.contains(idx))
                    .ok_or_else(|| {
                        StorageError::corrupt(&self.dir, 0, format!("index {idx} is in no segment"))
                    })?;
                let seg_hi = seg.last().unwrap_or(idx).min(hi).min(cache_first - 1);
                let budget = max_bytes.saturating_sub(bytes);
                let (start, at, end) = seg.span(idx, seg_hi, budget);
                bytes += (end - start) as usize;
                plan.push(DiskRead {
                    file: seg.file.clone(),
                    path: seg.path.clone(),
                    start,
                    end,
                    at,
                    lo: idx,
                    hi: seg_hi,
                });
                idx = seg_hi + 1;
            }
            if idx >= cache_first {
                for e in sh.cache.iter().skip((idx - cache_first) as usize) {
                    if e.index > hi || full(bytes, e.index) {
                        break;
                    }
                    bytes += e.data.len();
                    out.push(e.clone());
                }
            }
        }
        if plan.is_empty() {
            return Ok(out);
        }
        let mut disk = Vec::new();
        let mut taken = 0;
        for r in plan {
            self.faults
                .check(super::FaultOp::Read)
                .ctx("read", &r.path)?;
            if !read_records(&r, &mut disk, &mut taken, max_bytes)? {
                // Stopped short (the byte budget): the rest would leave a gap.
                return Ok(disk);
            }
        }
        disk.extend(out);
        Ok(disk)
    }
}

impl StreamState {
    /// Term of `idx` from the cache or the segment's term runs, ignoring first_index.
    pub fn term_at(&self, idx: Index) -> Option<Term> {
        let sh = self.shared.lock();
        if let Some(e) = sh.cache.iter().find(|e| e.index == idx) {
            return Some(e.term);
        }
        sh.segments
            .iter()
            .find(|s| s.contains(idx))
            .map(|s| s.term_of(idx))
    }
}

/// Reads the records of `r` into `out` while the payload bytes `taken` so far stay within
/// `max_bytes` (the first entry is always taken); false if it stopped before `r.hi`.
fn read_records(
    r: &DiskRead,
    out: &mut Vec<Entry>,
    taken: &mut usize,
    max_bytes: usize,
) -> Result<bool, StorageError> {
    let mut buf = vec![0u8; (r.end - r.start) as usize];
    let file = super::segment::open_or(&r.file, &r.path)?;
    file.read_exact_at(&mut buf, r.start).ctx("read", &r.path)?;
    let mut pos = 0usize;
    for idx in r.at..=r.hi {
        let off = r.start + pos as u64;
        if pos >= buf.len() {
            // The span ended (sparse offsets, budget): the caller reads on from here.
            return Ok(false);
        }
        let h = record::check(&buf[pos..]).map_err(|b| {
            let why = match b {
                record::Bad::End => "unexpected end of records",
                record::Bad::Invalid(w) => w,
            };
            StorageError::corrupt(&r.path, off, why)
        })?;
        if h.index != idx {
            return Err(StorageError::corrupt(
                &r.path,
                off,
                format!("record has index {}, expected {idx}", h.index),
            ));
        }
        if idx >= r.lo {
            if !out.is_empty() && *taken + h.len as usize > max_bytes {
                return Ok(false);
            }
            *taken += h.len as usize;
            out.push(record::to_entry(&h, &buf[pos..]));
        }
        pos += h.record_len();
    }
    Ok(true)
}
