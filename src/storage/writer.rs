//! The writer thread: group commit for every stream of the node.
//!
//! Each round takes everything queued, writes each stream's new records with one pwrite,
//! issues one fdatasync per file written, replaces metadata files that changed, and then
//! reports the durable index per stream. Ordering rules that recovery relies on
//! (recover.rs): at most one unsynced write per stream; a segment is synced before the
//! next one is written; a suffix cut is synced before anything is written after it.

use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use super::error::{IoContext, StorageError};
use super::meta;
use super::record;
use super::segment::{self, SegInfo};
use super::stream::{StreamState, WriterSide};
use crate::types::{Entry, HardState, Index, StreamId, Term};

pub type DurableFn = Box<dyn Fn(StreamId, Index, Term) + Send + Sync>;

/// Completion of a synchronous operation.
#[derive(Default)]
pub struct Done {
    result: Mutex<Option<Result<(), String>>>,
    cv: Condvar,
}

/// The writer's end of a `Done`: completes it with an error if dropped unanswered (say,
/// while a panic unwinds the writer), so that no caller waits for ever.
pub struct Waiter(pub Arc<Done>);

impl Waiter {
    pub fn complete(&self, r: Result<(), String>) {
        *self.0.result.lock() = Some(r);
        self.0.cv.notify_all();
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if self.0.result.lock().is_none() {
            self.complete(Err("storage writer stopped".into()));
        }
    }
}

impl Done {
    pub fn wait(&self) -> Result<(), StorageError> {
        let mut g = self.result.lock();
        while g.is_none() {
            self.cv.wait(&mut g);
        }
        match g.take() {
            Some(Err(e)) => Err(StorageError::Failed(e)),
            _ => Ok(()),
        }
    }
}

pub enum Op {
    Append(Vec<Entry>),
    TruncSuffix(Index),
    HardState(HardState, Waiter),
    Membership(Vec<u8>, Waiter),
    TruncPrefix(Index, Waiter),
    /// Completes once everything queued before it is durable.
    Barrier(Waiter),
}

pub struct Queued {
    pub stream: Arc<StreamState>,
    pub seq: u64,
    pub op: Op,
}

#[derive(Default)]
pub struct Queue {
    pub ops: Vec<Queued>,
    pub shutdown: bool,
}

/// Counters for benchmarks and tests.
#[derive(Default)]
pub struct Stats {
    pub syncs: AtomicU64,
    pub rounds: AtomicU64,
    pub entries: AtomicU64,
    pub bytes: AtomicU64,
}

pub struct Shared {
    pub queue: Mutex<Queue>,
    pub cv: Condvar,
    pub failed: Mutex<Option<String>>,
    pub stats: Stats,
    pub seg_size: u64,
    pub sync: bool,
}

pub fn run(sh: Arc<Shared>, on_durable: DurableFn) {
    let mut buf = Vec::new();
    loop {
        let ops = {
            let mut q = sh.queue.lock();
            while q.ops.is_empty() && !q.shutdown {
                sh.cv.wait(&mut q);
            }
            if q.ops.is_empty() {
                return;
            }
            std::mem::take(&mut q.ops)
        };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            round(&sh, &on_durable, ops, &mut buf)
        }));
        if r.is_err() {
            // Waiters of the round were answered by their drop; later operations fail.
            sh.failed.lock().get_or_insert_with(|| {
                "storage writer panicked (or the on_durable callback did)".into()
            });
        }
    }
}

/// What one stream did in a round.
struct Touched {
    st: Arc<StreamState>,
    wrote: bool,
    meta_dirty: bool,
    waiters: Vec<Waiter>,
}

fn round(sh: &Shared, on_durable: &DurableFn, ops: Vec<Queued>, buf: &mut Vec<u8>) {
    sh.stats.rounds.fetch_add(1, Ordering::Relaxed);
    // Group by stream, keeping each stream's order.
    let mut groups: Vec<(Touched, Vec<(u64, Op)>)> = Vec::new();
    for q in ops {
        let pos = groups
            .iter()
            .position(|(t, _)| Arc::ptr_eq(&t.st, &q.stream));
        let i = pos.unwrap_or_else(|| {
            let t = Touched {
                st: q.stream.clone(),
                wrote: false,
                meta_dirty: false,
                waiters: Vec::new(),
            };
            groups.push((t, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push((q.seq, q.op));
    }
    let mut failure = sh.failed.lock().clone();
    let mut touched = Vec::with_capacity(groups.len());
    for (mut t, ops) in groups {
        if failure.is_none() {
            if let Err(e) = process(sh, &mut t, ops, buf) {
                failure = Some(e.to_string());
            }
        } else {
            collect_waiters(&mut t, ops);
        }
        touched.push(t);
    }
    // One fdatasync per file written, then the metadata files.
    for t in &touched {
        if failure.is_some() {
            break;
        }
        let mut w = t.st.w.lock();
        if let Err(e) = sync_current(sh, &mut w) {
            failure = Some(e.to_string());
        } else if t.meta_dirty {
            if let Err(e) = meta::store(&t.st.dir, &w.meta) {
                failure = Some(e.to_string());
            }
        }
    }
    if let Some(f) = &failure {
        sh.failed.lock().get_or_insert_with(|| f.clone());
        for t in &touched {
            for d in &t.waiters {
                d.complete(Err(f.clone()));
            }
        }
        return;
    }
    for t in &touched {
        if t.wrote {
            let (idx, term) = t.st.w.lock().last_written;
            let report = {
                let mut s = t.st.shared.lock();
                let clamped = s.clamp(idx);
                s.durable_index = clamped;
                clamped == idx
            };
            if report {
                on_durable(t.st.id, idx, term);
            }
        }
        for d in &t.waiters {
            d.complete(Ok(()));
        }
    }
    // Prepare the next segment outside the path of any pending sync.
    for t in &touched {
        let mut w = t.st.w.lock();
        if w.spare.is_none() {
            let seq = w.next_seq;
            match segment::create(&t.st.dir, seq, sh.seg_size, sh.sync) {
                Ok(f) => {
                    w.spare = Some((seq, f));
                    w.next_seq += 1;
                }
                Err(e) => {
                    sh.failed.lock().get_or_insert_with(|| e.to_string());
                }
            }
        }
    }
}

fn collect_waiters(t: &mut Touched, ops: Vec<(u64, Op)>) {
    for (_, op) in ops {
        match op {
            Op::HardState(_, d) | Op::Membership(_, d) | Op::TruncPrefix(_, d) | Op::Barrier(d) => {
                t.waiters.push(d)
            }
            Op::Append(_) | Op::TruncSuffix(_) => {}
        }
    }
}

fn process(
    sh: &Shared,
    t: &mut Touched,
    ops: Vec<(u64, Op)>,
    buf: &mut Vec<u8>,
) -> Result<(), StorageError> {
    let st = t.st.clone();
    let mut w = st.w.lock();
    let mut pend: Vec<Entry> = Vec::new();
    let mut pend_bytes = 0u64;
    let mut ops = ops.into_iter();
    while let Some((seq, op)) = ops.next() {
        let r = match op {
            Op::Append(es) => {
                for e in es {
                    let rl = record::record_len(e.data.len()) as u64;
                    let full =
                        w.cur_off + pend_bytes > 0 && w.cur_off + pend_bytes + rl > sh.seg_size;
                    if w.cur.is_none() || full {
                        t.wrote |= flush(sh, &st, &mut w, &mut pend, &mut pend_bytes, buf)?;
                        roll(sh, &st, &mut w)?;
                    }
                    pend_bytes += rl;
                    pend.push(e);
                }
                Ok(())
            }
            Op::TruncSuffix(from) => {
                t.wrote |= flush(sh, &st, &mut w, &mut pend, &mut pend_bytes, buf)?;
                cut_suffix(sh, &st, &mut w, seq, from)
            }
            Op::HardState(hs, d) => {
                w.meta.hard_state = hs;
                t.meta_dirty = true;
                t.waiters.push(d);
                Ok(())
            }
            Op::Membership(m, d) => {
                w.meta.membership = Some(m);
                t.meta_dirty = true;
                t.waiters.push(d);
                Ok(())
            }
            Op::TruncPrefix(k, d) => {
                t.waiters.push(d);
                t.wrote |= flush(sh, &st, &mut w, &mut pend, &mut pend_bytes, buf)?;
                truncate_prefix(sh, &st, &mut w, k)
            }
            Op::Barrier(d) => {
                t.waiters.push(d);
                Ok(())
            }
        };
        if let Err(e) = r {
            collect_waiters(t, ops.collect());
            return Err(e);
        }
    }
    t.wrote |= flush(sh, &st, &mut w, &mut pend, &mut pend_bytes, buf)?;
    Ok(())
}

/// Write the pending records of a stream to its current segment with one pwrite.
fn flush(
    sh: &Shared,
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
    buf.clear();
    buf.reserve(*pend_bytes as usize);
    let mut offsets = Vec::with_capacity(pend.len());
    for e in pend.iter() {
        offsets.push((start + buf.len() as u64) as u32);
        record::encode(buf, e, w.gen, end as u32);
    }
    file.write_all_at(buf, start).ctx("write", &path)?;
    w.unsynced = true;
    w.cur_off = end;
    w.last_written = (last_idx, last_term);
    sh.stats
        .entries
        .fetch_add(pend.len() as u64, Ordering::Relaxed);
    sh.stats.bytes.fetch_add(*pend_bytes, Ordering::Relaxed);
    {
        let mut s = st.shared.lock();
        if let Some(seg) = s.segments.last_mut() {
            if seg.offsets.is_empty() {
                seg.first = pend[0].index;
            }
            seg.offsets.extend_from_slice(&offsets);
            seg.end = end;
            seg.last_term = last_term;
        }
        s.written_index = s.clamp(last_idx);
        s.evict();
    }
    pend.clear();
    *pend_bytes = 0;
    Ok(true)
}

fn sync_current(sh: &Shared, w: &mut WriterSide) -> Result<(), StorageError> {
    if w.unsynced {
        if let Some((file, path)) = &w.cur {
            if sh.sync {
                file.sync_data().ctx("fdatasync", path)?;
            }
            sh.stats.syncs.fetch_add(1, Ordering::Relaxed);
        }
        w.unsynced = false;
    }
    Ok(())
}

/// Continue in the next (preallocated) segment; the current one is synced and trimmed first
/// so that a segment never holds data after an unsynced tail of its predecessor.
fn roll(sh: &Shared, st: &StreamState, w: &mut WriterSide) -> Result<(), StorageError> {
    sync_current(sh, w)?;
    if let Some((file, path)) = w.cur.take() {
        if w.cur_off > 0 {
            file.set_len(w.cur_off).ctx("truncate", &path)?;
        }
    }
    let (seq, file) = match w.spare.take() {
        Some(s) => s,
        None => {
            let seq = w.next_seq;
            w.next_seq += 1;
            (seq, segment::create(&st.dir, seq, sh.seg_size, sh.sync)?)
        }
    };
    let path = segment::seg_path(&st.dir, seq);
    let file = Arc::new(file);
    st.shared.lock().segments.push(SegInfo {
        path: path.clone(),
        file: file.clone(),
        first: 0,
        offsets: Vec::new(),
        end: 0,
        last_term: 0,
    });
    w.cur = Some((file, path));
    w.cur_off = 0;
    Ok(())
}

/// Drop every entry >= from on disk: whole segments from the back, then cut the segment
/// holding from-1, synced before anything is written after it, which is in a new segment.
fn cut_suffix(
    sh: &Shared,
    st: &StreamState,
    w: &mut WriterSide,
    seq: u64,
    from: Index,
) -> Result<(), StorageError> {
    sync_current(sh, w)?;
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
        let keep = s.segments.last_mut().map(|g| {
            if g.contains(from) {
                let n = (from - g.first) as usize;
                g.end = g.offsets[n] as u64;
                g.offsets.truncate(n);
            }
            let last_off = g.offsets[g.offsets.len() - 1] as u64;
            (g.file.clone(), g.path.clone(), g.end, last_off)
        });
        s.pending_truncs.retain(|&(q, _)| q > seq);
        s.written_index = s.written_index.min(from.saturating_sub(1));
        keep
    };
    for p in &doomed {
        segment::remove(p)?;
        if sh.sync {
            meta::fsync_dir(&st.dir)?;
        }
    }
    match keep {
        Some((file, path, end, last_off)) => {
            segment::cut(&file, &path, end, end)?;
            if sh.sync {
                file.sync_data().ctx("fdatasync", &path)?;
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
    w.cur = None;
    w.cur_off = 0;
    w.unsynced = false;
    Ok(())
}

/// dcf_truncate: first_kept becomes the first index (durably, in the metadata), then the
/// segments wholly below it are deleted.
fn truncate_prefix(
    sh: &Shared,
    st: &StreamState,
    w: &mut WriterSide,
    k: Index,
) -> Result<(), StorageError> {
    if k <= w.meta.first_index {
        return Ok(());
    }
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
        if w.cur.as_ref().is_some_and(|(f, _)| Arc::ptr_eq(f, &g.file)) {
            w.cur = None;
            w.cur_off = 0;
            w.unsynced = false;
        }
        segment::remove(&g.path)?;
    }
    if w.last_written.0 < k - 1 {
        w.last_written = (k - 1, base_term);
    }
    if !doomed.is_empty() && sh.sync {
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
