//! Recovery on open: scan every segment, cut a torn tail, refuse damage to synced data.
//!
//! The writer keeps at most one unsynced write per stream, and a write goes to a new
//! segment only after the previous segment is synced. Each write has a number `gen` (+1
//! per write, reused after a suffix cut which is synced before the next write) and every
//! record names where its write ends (`batch_end`). So when the scan of the last segment
//! with data stops at offset X (zero header, bad CRC, short file), the only write that may
//! legitimately be incomplete is:
//! * the write of the last good record, if X is before that write's end; else
//! * the next write (gen + 1).
//!
//! Pages of that torn write may have reached the disk in any order, so intact records of
//! it may follow X: they are dropped with the tail. An intact record of any later write
//! after X means synced data was damaged: that is corruption, reported with file and offset.
//!
//! A cut that leaves the tail of a write behind (torn write, suffix truncation) ends the
//! segment: later writes go to a new one, so that the batch_end of the kept records never
//! points past the start of a later write.
//!
//! In any segment before the last one with data, every break that is not a clean end is
//! corruption.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{IoContext, StorageError};
use super::meta::{fsync_dir, Meta};
use super::record::{self, Bad, Header};
use super::seg_index;
use super::segment::{self, SegInfo};
use crate::types::{Entry, EntryKind, Index, Term};

pub(super) struct Scan {
    pub(super) path: PathBuf,
    /// Intact records before the break; payloads are kept only for CONF entries
    /// (memberships), so that a long log does not come back into memory.
    pub(super) records: Records,
    pub(super) confs: Vec<Entry>,
    /// Where the intact prefix ends, and why.
    pub(super) brk: u64,
    pub(super) brk_reason: Option<&'static str>,
    /// Intact records found after the break: (offset, gen).
    pub(super) beyond: Vec<(u64, u64)>,
}

pub(super) enum Records {
    /// Every record with its offset, from reading the segment.
    Scanned(Vec<(u32, Header)>),
    /// A sealed segment as its index describes it (contiguous from `first` to `last`).
    Indexed(Box<seg_index::Indexed>),
}

impl Scan {
    pub(super) fn has_data(&self) -> bool {
        !self.is_empty() || !self.beyond.is_empty()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.count() == 0
    }

    pub(super) fn count(&self) -> u64 {
        match &self.records {
            Records::Scanned(v) => v.len() as u64,
            Records::Indexed(ix) => ix.last.index - ix.first.index + 1,
        }
    }

    pub(super) fn first(&self) -> Option<Header> {
        match &self.records {
            Records::Scanned(v) => v.first().map(|r| r.1),
            Records::Indexed(ix) => Some(ix.first),
        }
    }

    pub(super) fn last(&self) -> Option<Header> {
        match &self.records {
            Records::Scanned(v) => v.last().map(|r| r.1),
            Records::Indexed(ix) => Some(ix.last),
        }
    }

    /// A sealed segment as its index describes it.
    pub(super) fn from_index(path: PathBuf, mut ix: seg_index::Indexed) -> Scan {
        Scan {
            path,
            confs: std::mem::take(&mut ix.confs),
            brk: ix.end,
            brk_reason: None,
            beyond: Vec::new(),
            records: Records::Indexed(Box::new(ix)),
        }
    }

    /// The segment's in-memory index, for entries from `first` on (terms of earlier ones
    /// stay in the runs: the segment still holds them).
    fn seg_info(self, file: File) -> (SegInfo, Vec<Entry>) {
        let mut g = SegInfo::new(self.path, Some(Arc::new(file)));
        match self.records {
            Records::Scanned(v) => {
                for (off, h) in &v {
                    g.note(h.index, h.term, h.kind, *off);
                }
            }
            Records::Indexed(ix) => {
                let ix = *ix;
                g.first = ix.first.index;
                g.offsets = ix.offsets;
                g.runs = ix.runs;
                g.confs = ix.conf_offs;
                g.last_term = ix.last.term;
            }
        }
        g.end = self.brk;
        (g, self.confs)
    }
}

pub(super) fn scan(dir: &Path, seq: u64) -> Result<Scan, StorageError> {
    let path = segment::seg_path(dir, seq);
    let ix = seg_index::load(&path);
    scan_with(path, ix)
}

/// The segment at `path` through its index if it has a valid one, else by reading it whole.
pub(super) fn scan_with(
    path: PathBuf,
    ix: Option<seg_index::Indexed>,
) -> Result<Scan, StorageError> {
    if let Some(ix) = ix {
        return Ok(Scan::from_index(path, ix));
    }
    let b = fs::read(&path).ctx("read", &path)?;
    scan_bytes(path, &b)
}

/// Checks every record of the segment `b` read from `path` (no index is consulted).
pub(super) fn scan_bytes(path: PathBuf, b: &[u8]) -> Result<Scan, StorageError> {
    let mut records = Vec::new();
    let mut s = Scan {
        path,
        records: Records::Scanned(Vec::new()),
        confs: Vec::new(),
        brk: 0,
        brk_reason: None,
        beyond: Vec::new(),
    };
    let mut pos = 0usize;
    while pos < b.len() {
        match record::check(&b[pos..]) {
            Ok(h) => {
                if pos > u32::MAX as usize {
                    return Err(StorageError::corrupt(
                        &s.path,
                        pos as u64,
                        "segment too large",
                    ));
                }
                if h.kind == EntryKind::Conf {
                    s.confs.push(record::to_entry(&h, &b[pos..]));
                }
                records.push((pos as u32, h));
                pos += h.record_len();
            }
            Err(Bad::End) => break,
            Err(Bad::Invalid(why)) => {
                s.brk_reason = Some(why);
                break;
            }
        }
    }
    s.records = Records::Scanned(records);
    s.brk = pos.min(b.len()) as u64;
    // Look for intact records after the break; records are 8-byte aligned.
    let mut off = (s.brk as usize + 8) & !7;
    while off + record::HEADER_LEN <= b.len() {
        if b[off..off + 8] == [0; 8] {
            off += 8;
            continue;
        }
        match record::check(&b[off..]) {
            Ok(h) if h.batch_end as usize > off => {
                s.beyond.push((off as u64, h.gen));
                off += h.record_len();
            }
            _ => off += 8,
        }
    }
    Ok(s)
}

/// The log of one stream as found on disk, after repairs.
pub struct Found {
    pub segments: Vec<SegInfo>,
    /// Last index found (first_index - 1 when there is none).
    pub last_index: Index,
    /// (first index, term) of each run of entries >= first_index with one term.
    pub terms: Vec<(Index, Term)>,
    /// CONF entries >= first_index.
    pub conf_entries: Vec<Entry>,
    pub first_index: Index,
    pub base_term: Term,
    /// Gen of the last write kept.
    pub last_gen: u64,
    /// Writes may continue at the end of the last segment (else they start a new one), up
    /// to `cur_cap` bytes.
    pub resume: bool,
    pub cur_cap: u64,
    pub next_seq: u64,
}

/// Scan and repair the segments of `dir` against `meta`; `seg_size` is used to
/// re-preallocate the last segment after cutting its tail.
pub fn recover(dir: &Path, meta: &Meta, seg_size: u64, sync: bool) -> Result<Found, StorageError> {
    let seqs = segment::list(dir)?;
    let next_seq = seqs.last().map_or(1, |s| s + 1);
    let mut scans = Vec::with_capacity(seqs.len());
    for &seq in &seqs {
        scans.push(scan(dir, seq)?);
    }
    let last_data = scans.iter().rposition(Scan::has_data);
    let mut dir_changed = false;

    if let Some(l) = last_data {
        scans[..l].iter().try_for_each(check_sealed)?;
        check_torn_tail(&scans, l)?;
    }

    // Drop segments without records (preallocated spares, or holding only a torn write),
    // and those wholly below first_index: a prefix truncation deletes them once first_index
    // is durable, and the deletions reach the disk in any order, so gaps among them are fine.
    let first = meta.first_index;
    let mut base_term = meta.base_term;
    let mut last_gen = 0;
    let mut kept: Vec<Scan> = Vec::new();
    for s in scans {
        let below = s.last().filter(|h| h.index < first);
        if let Some(h) = below {
            last_gen = h.gen;
            if h.index + 1 == first {
                base_term = h.term;
            }
        }
        if s.is_empty() || below.is_some() {
            segment::remove_segment(&s.path)?;
            dir_changed = true;
        } else {
            kept.push(s);
        }
    }

    check_contiguous(&kept)?;

    // The rest must reach first_index.
    let mut segs = Vec::new();
    let mut terms: Vec<(Index, Term)> = Vec::new();
    let mut conf_entries = Vec::new();
    let mut last_index = first.saturating_sub(1);
    let mut resume = false;
    let mut cur_cap = 0;
    let n = kept.len();
    for (i, s) in kept.into_iter().enumerate() {
        let (Some(fh), Some(lh)) = (s.first(), s.last()) else {
            continue;
        };
        last_gen = lh.gen;
        if segs.is_empty() && fh.index > first {
            return Err(StorageError::corrupt(
                &s.path,
                0,
                format!(
                    "log starts at index {} but the metadata's first index is {first}",
                    fh.index
                ),
            ));
        }
        let file = segment::open_rw(&s.path)?;
        let writable = i + 1 == n;
        // A sealed segment read through its index (its newer neighbour lost everything it
        // held) stays sealed: its offsets are sparse, writes go on in a new segment.
        if writable && matches!(s.records, Records::Scanned(_)) {
            // Writes may go on in it: its index would no longer describe it.
            seg_index::remove(&s.path).ctx("remove", &s.path)?;
            // Zero everything after the kept records. Writes continue in this segment only
            // if the cut is at the end of a write: a record of a later write must not sit
            // right behind records whose batch_end points past it (see the rule above).
            resume = s.brk >= lh.batch_end as u64;
            cur_cap = segment::resume_cap(s.brk, seg_size);
            segment::cut(&file, &s.path, s.brk, if resume { cur_cap } else { s.brk })?;
            if sync {
                super::sys::sync_all(&file, &s.path).ctx("fsync", &s.path)?;
            }
        }
        let (mut g, confs) = s.seg_info(file);
        if fh.index < first {
            base_term = g.term_of(first - 1);
        }
        for (k, &(at, term)) in g.runs.iter().enumerate() {
            let run_end = g.runs.get(k + 1).map_or(lh.index, |r| r.0 - 1);
            if run_end >= first && terms.last().is_none_or(|r| r.1 != term) {
                terms.push((at.max(first), term));
            }
        }
        last_index = lh.index;
        conf_entries.extend(confs.into_iter().filter(|e| e.index >= first));
        if !(writable && resume) {
            g.offsets.seal();
        }
        segs.push(g);
    }
    if dir_changed && sync {
        fsync_dir(dir)?;
    }
    segment::close_old(&mut segs);
    Ok(Found {
        segments: segs,
        last_index,
        terms,
        conf_entries,
        first_index: first,
        base_term,
        last_gen,
        resume,
        cur_cap,
        next_seq,
    })
}

/// A segment before the last one with data must end cleanly and hold records.
pub(super) fn check_sealed(s: &Scan) -> Result<(), StorageError> {
    if let Some(why) = s.brk_reason {
        return Err(StorageError::corrupt(&s.path, s.brk, why));
    }
    if let Some(&(off, _)) = s.beyond.first() {
        return Err(StorageError::corrupt(
            &s.path,
            s.brk,
            format!("records end here but an intact record follows at offset {off}"),
        ));
    }
    if s.is_empty() {
        return Err(StorageError::corrupt(
            &s.path,
            0,
            "segment holds no records but a later one does",
        ));
    }
    Ok(())
}

/// Indexes must run on without a gap, within and across segments.
pub(super) fn check_contiguous(scans: &[Scan]) -> Result<(), StorageError> {
    let mut expect: Option<Index> = None;
    let check = |expect: Option<Index>, path: &Path, off: u64, index: Index| match expect {
        Some(e) if e != index => Err(StorageError::corrupt(
            path,
            off,
            format!("record has index {index}, expected {e}"),
        )),
        _ => Ok(()),
    };
    for s in scans {
        match &s.records {
            Records::Scanned(v) => {
                for (off, h) in v {
                    check(expect, &s.path, u64::from(*off), h.index)?;
                    expect = Some(h.index + 1);
                }
            }
            // An index is only trusted if it is contiguous (see seg_index::load).
            Records::Indexed(ix) => {
                check(expect, &s.path, 0, ix.first.index)?;
                expect = Some(ix.last.index + 1);
            }
        }
    }
    Ok(())
}

/// Decide whether what follows the break in the last segment with data is a torn write.
pub(super) fn check_torn_tail(scans: &[Scan], l: usize) -> Result<(), StorageError> {
    let s = &scans[l];
    let torn_gen = if let Some(h) = s.last() {
        if s.brk < h.batch_end as u64 {
            h.gen
        } else {
            h.gen + 1
        }
    } else if let Some(h) = l.checked_sub(1).and_then(|p| scans[p].last()) {
        h.gen + 1
    } else {
        // The very first write of the log: only the oldest write found can be the torn one.
        s.beyond.iter().map(|&(_, g)| g).min().unwrap_or(0)
    };
    if let Some(&(off, gen)) = s.beyond.iter().find(|&&(_, g)| g > torn_gen) {
        return Err(StorageError::corrupt(
            &s.path,
            s.brk,
            format!(
                "damaged record ({}) followed by an intact record of a later write (gen {gen}) at offset {off}",
                s.brk_reason.unwrap_or("zero header"),
            ),
        ));
    }
    Ok(())
}

/// Remove leftovers of interrupted metadata writes.
pub fn remove_tmp(dir: &Path) -> Result<(), StorageError> {
    segment::remove(&dir.join("meta.tmp"))
}
