//! Segment files: naming, preallocation, and the in-memory index of one segment.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{IoContext, StorageError};
use super::meta::fsync_dir;
use super::offsets::Offsets;
use super::sys;
use crate::types::{Index, Term};

/// `seg_0000000042.log`: numbered in creation order, not by index, because a segment is
/// created (preallocated) before the first index it will hold is known.
pub fn seg_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("seg_{seq:010}.log"))
}

pub fn parse_seg_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("seg_")?.strip_suffix(".log")?;
    if digits.len() != 10 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Sequence numbers of the segment files in `dir`, ascending.
pub fn list(dir: &Path) -> Result<Vec<u64>, StorageError> {
    let mut seqs = Vec::new();
    for de in fs::read_dir(dir).ctx("list", dir)? {
        let de = de.ctx("list", dir)?;
        if let Some(seq) = de.file_name().to_str().and_then(parse_seg_name) {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

pub fn open_rw(path: &Path) -> Result<File, StorageError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .ctx("open", path)
}

/// The first segment of a stream is preallocated this large (or DATA_FILE_SIZE if smaller);
/// each new one twice the last, up to DATA_FILE_SIZE, so that a small log (DCC's
/// configuration data) takes little disk and a busy one soon gets full-size segments.
pub const MIN_PREALLOC: u64 = 1 << 20;

/// Size of a stream's first segment (and the first after a truncation).
pub fn first_cap(max: u64) -> u64 {
    MIN_PREALLOC.min(max)
}

/// Size of the segment after one of `cap` bytes.
pub fn next_cap(cap: u64, max: u64) -> u64 {
    cap.saturating_mul(2).min(max)
}

/// Capacity for writes that resume in a segment whose records end at `len`.
pub fn resume_cap(len: u64, max: u64) -> u64 {
    len.max(1).next_power_of_two().clamp(first_cap(max), max)
}

/// Give `file` `size` bytes of allocated, zero-reading space so that later writes and their
/// fdatasync do not also have to grow it.
pub fn preallocate(file: &File, path: &Path, size: u64) -> Result<(), StorageError> {
    if size == 0 {
        return Ok(());
    }
    // File systems without fallocate get a sparse file of the right length.
    sys::allocate(file, path, size).ctx("fallocate", path)
}

/// Create, preallocate and sync a new empty segment (and its directory entry).
pub fn create(dir: &Path, seq: u64, size: u64, sync: bool) -> Result<File, StorageError> {
    let path = seg_path(dir, seq);
    let file = sys::create_new(&path).ctx("create", &path)?;
    preallocate(&file, &path, size)?;
    if sync {
        sys::sync_all(&file, &path).ctx("fsync", &path)?;
        fsync_dir(dir)?;
    }
    Ok(file)
}

/// Cut `file` to `len` bytes and give the rest back as zeros up to `size`.
pub fn cut(file: &File, path: &Path, len: u64, size: u64) -> Result<(), StorageError> {
    sys::set_len(file, path, len).ctx("truncate", path)?;
    preallocate(file, path, size.max(len))
}

pub fn remove(path: &Path) -> Result<(), StorageError> {
    sys::remove_file(path).ctx("remove", path)
}

/// Removes a segment file and its index (the index first: it must never describe a
/// segment that changed).
pub fn remove_segment(path: &Path) -> Result<(), StorageError> {
    super::seg_index::remove(path).ctx("remove", path)?;
    remove(path)
}

/// What the log knows about one segment holding records.
#[derive(Debug)]
pub struct SegInfo {
    pub path: PathBuf,
    /// Open while the segment is among the newest (`KEEP_OPEN`); older ones are opened
    /// when read, so that a long log does not hold a descriptor per segment.
    pub file: Option<Arc<File>>,
    /// Index of the first record (meaningful when `offsets` is not empty).
    pub first: Index,
    /// Where the records start: every one while the segment is written, anchors once
    /// sealed.
    pub offsets: Offsets,
    /// (first index, term) of each run of records of one term.
    pub runs: Vec<(Index, Term)>,
    /// Offsets of the CONF records.
    pub confs: Vec<u32>,
    /// End offset of the last record.
    pub end: u64,
    pub last_term: Term,
}

/// `file` if the segment is open, else the segment at `path` opened anew.
pub fn open_or(file: &Option<Arc<File>>, path: &Path) -> Result<Arc<File>, StorageError> {
    match file {
        Some(f) => Ok(f.clone()),
        None => open_rw(path).map(Arc::new),
    }
}

/// Segments at the end of the log whose files stay open.
pub const KEEP_OPEN: usize = 2;

/// Closes the files of all but the newest `KEEP_OPEN` segments.
pub fn close_old(segments: &mut [SegInfo]) {
    let n = segments.len().saturating_sub(KEEP_OPEN);
    for g in &mut segments[..n] {
        g.file = None;
    }
}

impl SegInfo {
    /// An empty segment about to receive records.
    pub fn new(path: PathBuf, file: Option<Arc<File>>) -> SegInfo {
        SegInfo {
            path,
            file,
            first: 0,
            offsets: Offsets::default(),
            runs: Vec::new(),
            confs: Vec::new(),
            end: 0,
            last_term: 0,
        }
    }

    /// Records that records `first + offsets.len()..` were appended at `offsets`.
    pub fn note(&mut self, index: Index, term: Term, kind: crate::types::EntryKind, off: u32) {
        if self.offsets.is_empty() {
            self.first = index;
        }
        if self.runs.last().is_none_or(|r| r.1 != term) {
            self.runs.push((index, term));
        }
        if kind == crate::types::EntryKind::Conf {
            self.confs.push(off);
        }
        self.offsets.push(off);
        self.last_term = term;
    }

    /// Keeps the records before `index` only; the segment is sealed (writes go on in a new
    /// one).
    pub fn cut_at(&mut self, index: Index) -> Result<(), StorageError> {
        if !self.contains(index) {
            return Ok(());
        }
        let n = index - self.first;
        self.end = self.locate(n)?;
        self.offsets.truncate(n);
        self.offsets.seal();
        self.runs.retain(|r| r.0 < index);
        let end = self.end;
        self.confs.retain(|&o| u64::from(o) < end);
        self.last_term = self.runs.last().map_or(0, |r| r.1);
        Ok(())
    }

    /// The open file, or the segment opened anew if it was closed.
    pub fn handle(&self) -> Result<Arc<File>, StorageError> {
        open_or(&self.file, &self.path)
    }

    pub fn last(&self) -> Option<Index> {
        (!self.offsets.is_empty()).then(|| self.first + self.offsets.len() - 1)
    }

    pub fn contains(&self, index: Index) -> bool {
        self.last()
            .is_some_and(|l| index >= self.first && index <= l)
    }

    /// Term of `index`, which must be in this segment.
    pub fn term_of(&self, index: Index) -> Term {
        self.runs[self
            .runs
            .partition_point(|r| r.0 <= index)
            .saturating_sub(1)]
        .1
    }

    /// Offset of the record with number `k` in this segment (reads headers when sealed).
    pub fn locate(&self, k: u64) -> Result<u64, StorageError> {
        self.offsets
            .locate(k, self.end, &self.path, || self.handle())
    }

    /// What to read for records lo..=hi of about `budget` bytes: (start offset, index of
    /// the record there, end offset). See `Offsets::span`.
    pub fn span(&self, lo: Index, hi: Index, budget: usize) -> (u64, Index, u64) {
        let (start, rec, end) =
            self.offsets
                .span(lo - self.first, hi - self.first, budget, self.end);
        (start, self.first + rec, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let p = seg_path(Path::new("/x"), 42);
        assert_eq!(p, Path::new("/x/seg_0000000042.log"));
        let n = p.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_seg_name(n), Some(42));
        assert_eq!(parse_seg_name("seg_42.log"), None);
        assert_eq!(parse_seg_name("seg_00000000x2.log"), None);
        assert_eq!(parse_seg_name("meta"), None);
    }
}
