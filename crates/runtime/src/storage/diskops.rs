//! What the writer does to one stream's files: write a batch, sync, roll to the next
//! segment, cut a suffix, drop a prefix. The ordering rules recovery relies on live here
//! (see recover.rs): at most one unsynced write per stream (a prefix truncation syncs
//! first, as appends may follow it in the same round); a segment is synced before the
//! next one is written; a suffix cut is synced, and later writes go to a new segment.

use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::error::{IoContext, StorageError};
use super::fault::FaultOp;
use super::meta;
use super::record;
use super::seg_index;
use super::segment::{self, SegInfo};
use super::stream::{StreamState, WriterSide};
use super::sys;
use super::vecwrite;
use crate::types::{Entry, Index, Term};

/// Writer counters (StorageStats), bumped by the operations here and by the writer's rounds.
#[derive(Default)]
pub struct Stats {
    pub syncs: AtomicU64,
    pub rounds: AtomicU64,
    pub entries: AtomicU64,
    pub bytes: AtomicU64,
    /// Time spent in successful rounds (writes and syncs), for DiskWrite statistics.
    pub round_ns: AtomicU64,
}

/// What the operations here need from their caller: fault injection, counters, the segment
/// size limit, and whether to fsync at all.
pub struct DiskEnv {
    pub faults: Arc<super::Faults>,
    pub stats: Stats,
    pub seg_size: u64,
    pub sync: bool,
}

/// Write the pending records of a stream to its current segment with one pwritev.
pub fn flush(
    disk: &DiskEnv,
    st: &StreamState,
    w: &mut WriterSide,
    pend: &mut Vec<Entry>,
    pend_bytes: &mut u64,
    buf: &mut Vec<u8>,
) -> Result<bool, StorageError> {
    let (Some(last), Some((file, path))) = (pend.last(), w.cur.clone()) else {
        return Ok(false);
    };
    let (last_idx, last_term) = (last.index, last.term);
    w.gen += 1;
    let start = w.cur_off;
    let end = start + *pend_bytes;
    let offsets = disk
        .faults
        .check(FaultOp::Write)
        .and_then(|()| vecwrite::write_records(&file, start, pend, w.gen, end as u32, buf))
        .ctx("write", &path)?;
    sys::wrote(&file, &path, start, end - start);
    w.unsynced = true;
    w.cur_off = end;
    w.last_written = (last_idx, last_term);
    disk.stats
        .entries
        .fetch_add(pend.len() as u64, Ordering::Relaxed);
    disk.stats.bytes.fetch_add(*pend_bytes, Ordering::Relaxed);
    {
        let mut s = st.shared.lock();
        if let Some(seg) = s.segments.last_mut() {
            for (e, &off) in pend.iter().zip(&offsets) {
                seg.note(e.index, e.term, e.kind, (start + u64::from(off)) as u32);
            }
            seg.end = end;
        }
        s.written_index = s.clamp(last_idx);
        s.evict();
    }
    pend.clear();
    *pend_bytes = 0;
    Ok(true)
}

pub fn sync_current(disk: &DiskEnv, w: &mut WriterSide) -> Result<(), StorageError> {
    if w.unsynced {
        if let Some((file, path)) = &w.cur {
            disk.faults.check(FaultOp::Sync).ctx("fdatasync", path)?;
            if disk.sync {
                sys::sync_data(file, path).ctx("fdatasync", path)?;
                release_synced(file, w.cur_off, &mut w.released_to);
            }
            disk.stats.syncs.fetch_add(1, Ordering::Relaxed);
        }
        w.unsynced = false;
    }
    Ok(())
}

/// Hands the synced whole pages below `off` back to the kernel. The log is written once
/// and read back rarely (entries are served from the cache while they are recent), so its
/// pages would only push the database's own files out of the page cache; and reusing freed
/// pages is cheaper than taking fresh ones (on a virtual machine, much cheaper). Advice
/// only: an error changes nothing.
fn release_synced(file: &std::fs::File, off: u64, released_to: &mut u64) {
    const PAGE: u64 = 4096;
    let to = off & !(PAGE - 1);
    if let Some(len) = std::num::NonZeroU64::new(to.saturating_sub(*released_to)) {
        let _ = rustix::fs::fadvise(file, *released_to, Some(len), rustix::fs::Advice::DontNeed);
        *released_to = to;
    }
}

/// Continue in the next (preallocated) segment; the current one is synced and trimmed first
/// so that a segment never holds data after an unsynced tail of its predecessor.
pub fn roll(disk: &DiskEnv, st: &StreamState, w: &mut WriterSide) -> Result<(), StorageError> {
    sync_current(disk, w)?;
    if let Some((file, path)) = w.cur.take() {
        if w.cur_off > 0 {
            sys::set_len(&file, &path, w.cur_off).ctx("truncate", &path)?;
            // Sealed: it never changes again, so restarts can trust its index.
            let idx = {
                let mut s = st.shared.lock();
                s.segments
                    .last_mut()
                    .filter(|g| g.path == path)
                    .and_then(|g| {
                        let b = seg_index::encode(g, w.gen);
                        g.offsets.seal();
                        b
                    })
            };
            if let Some(b) = idx {
                seg_index::store(&path, &b, disk.sync);
            }
        }
    }
    let (seq, file) = match w.spare.take() {
        Some(s) => {
            w.cur_cap = w.spare_cap;
            s
        }
        None => {
            let seq = w.next_seq;
            w.next_seq += 1;
            let cap = w.next_cap;
            let f = segment::create(&st.dir, seq, cap, disk.sync)?;
            w.cur_cap = cap;
            w.next_cap = segment::next_cap(cap, disk.seg_size);
            (seq, f)
        }
    };
    let path = segment::seg_path(&st.dir, seq);
    let file = Arc::new(file);
    let mut s = st.shared.lock();
    segment::close_old(&mut s.segments);
    s.segments
        .push(SegInfo::new(path.clone(), Some(file.clone())));
    drop(s);
    w.start_segment(Some((file, path)));
    Ok(())
}

/// Drop every entry >= from on disk: whole segments from the back, then cut the segment
/// holding from-1, synced before anything is written after it, which is in a new segment.
pub fn cut_suffix(
    disk: &DiskEnv,
    st: &StreamState,
    w: &mut WriterSide,
    seq: u64,
    from: Index,
) -> Result<(), StorageError> {
    sync_current(disk, w)?;
    let mut doomed = Vec::new();
    let keep = {
        let mut s = st.shared.lock();
        while s
            .segments
            .last()
            .is_some_and(|g| g.offsets.is_empty() || g.first >= from)
        {
            if let Some(g) = s.segments.pop() {
                doomed.push(g.path);
            }
        }
        let keep = s
            .segments
            .last_mut()
            .map(|g| {
                // Its index goes before the segment changes.
                seg_index::remove(&g.path).ctx("remove", &g.path)?;
                g.cut_at(from)?;
                let last_off = g.locate(g.offsets.len() - 1)?;
                g.handle().map(|f| (f, g.path.clone(), g.end, last_off))
            })
            .transpose()?;
        s.pending_truncs.retain(|&(q, _)| q > seq);
        s.written_index = s.written_index.min(from.saturating_sub(1));
        keep
    };
    for p in &doomed {
        segment::remove_segment(p)?;
        if disk.sync {
            meta::fsync_dir(&st.dir)?;
        }
    }
    match keep {
        Some((file, path, end, last_off)) => {
            segment::cut(&file, &path, end, end)?;
            if disk.sync {
                sys::sync_data(&file, &path).ctx("fdatasync", &path)?;
            }
            // Gens stay consecutive: the next write, in a new segment, follows the last
            // record kept (see recover.rs).
            let mut hb = [0u8; record::HEADER_LEN];
            file.read_exact_at(&mut hb, last_off).ctx("read", &path)?;
            let h = record::parse_header(&hb)
                .map_err(|_| StorageError::corrupt(&path, last_off, "unreadable record header"))?;
            w.gen = h.gen;
            w.last_written = (h.index, h.term);
        }
        None => {
            w.last_written = (from.saturating_sub(1), 0);
        }
    }
    // The cut segment is closed (its last write may be cut in the middle); writes go on in
    // the next segment.
    w.start_segment(None);
    Ok(())
}

/// dcf_truncate: first_kept becomes the first index (durably, in the metadata), then the
/// segments wholly below it are deleted.
pub fn truncate_prefix(
    disk: &DiskEnv,
    st: &StreamState,
    w: &mut WriterSide,
    k: Index,
) -> Result<(), StorageError> {
    if k <= w.meta.first_index {
        return Ok(());
    }
    // Appends of the same round may follow in the same segment: synced first, so that the
    // segment never holds two unsynced writes (recovery could not tell a lost first one
    // from damage).
    sync_current(disk, w)?;
    let base_term = term_of(st, w, k - 1).unwrap_or(0);
    w.meta.first_index = k;
    w.meta.base_term = base_term;
    meta::store(&st.dir, &w.meta)?;
    let mut doomed = Vec::new();
    {
        let mut s = st.shared.lock();
        let mut kept = Vec::new();
        for g in s.segments.drain(..) {
            if g.last().is_some_and(|l| l < k) {
                doomed.push(g);
            } else {
                kept.push(g);
            }
        }
        s.segments = kept;
        s.written_index = s.written_index.max(k - 1);
        s.durable_index = s.durable_index.max(k - 1);
    }
    for g in &doomed {
        if w.cur.as_ref().is_some_and(|(_, p)| *p == g.path) {
            w.start_segment(None);
        }
        segment::remove_segment(&g.path)?;
    }
    if w.last_written.0 < k - 1 {
        w.last_written = (k - 1, base_term);
    }
    if !doomed.is_empty() {
        // The log shrank: start small again, and give a large spare's space back.
        w.next_cap = segment::first_cap(disk.seg_size);
        if w.spare_cap > w.next_cap {
            if let Some((seq, f)) = w.spare.take() {
                drop(f);
                segment::remove_segment(&segment::seg_path(&st.dir, seq))?;
            }
        }
    }
    if !doomed.is_empty() && disk.sync {
        meta::fsync_dir(&st.dir)?;
    }
    Ok(())
}

/// Term of `idx` if the log still holds it (cache or disk), or the base term below it.
fn term_of(st: &StreamState, w: &WriterSide, idx: Index) -> Option<Term> {
    if idx + 1 == w.meta.first_index {
        return Some(w.meta.base_term);
    }
    st.term_at(idx)
}
