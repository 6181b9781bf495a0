//! The writer thread: group commit for every stream of the node.
//!
//! Each round takes everything queued, writes each stream's new records with one pwritev,
//! issues one fdatasync per file written, replaces metadata files that changed, and then
//! reports the durable index per stream. What is done to the files is in diskops.rs.
//!
//! A round may also run on the thread that queues an append, when the writer is idle
//! (`Storage::append_here`): `Queue::busy` lets one round run at a time, wherever it runs.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use super::diskops::{cut_suffix, flush, roll, sync_current, truncate_prefix, DiskEnv};
use super::error::StorageError;
use super::meta;
use super::record;
use super::segment;
use super::stream::StreamState;
use crate::types::{Entry, HardState, Index, StreamId, Term};

pub type DurableFn = Box<dyn Fn(StreamId, Index, Term) + Send + Sync>;
pub type FailureFn = Box<dyn Fn(&str) + Send + Sync>;

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
    /// A round is running (on the writer thread or on a thread that appends).
    pub busy: bool,
}

pub struct WriterState {
    pub queue: Mutex<Queue>,
    pub cv: Condvar,
    pub failed: Mutex<Option<String>>,
    pub on_failure: Mutex<Option<FailureFn>>,
    pub disk: DiskEnv,
    pub on_durable: DurableFn,
    /// The record buffer of whichever thread runs the round.
    pub buf: Mutex<Vec<u8>>,
}

impl WriterState {
    /// Runs a round of `op` on the calling thread, which must have claimed it (`try_claim`);
    /// releases it after. The next segment is not prepared here: the caller does it once
    /// it has acted on the durable report (`Storage::prepare_spare`).
    pub fn run_here(&self, op: Queued) {
        run_round(self, vec![op], false);
        self.release();
    }

    /// Claims the next round for the calling thread if the writer is idle (nothing queued,
    /// no round running) and a round may run off the writer thread; `release` ends it.
    pub fn try_claim(&self, q: &mut Queue) -> bool {
        let idle = !q.busy && !q.shutdown && q.ops.is_empty();
        if !idle || !self.disk.faults.rounds_may_run_anywhere() {
            return false;
        }
        q.busy = true;
        true
    }

    /// Ends a round (clears `Queue::busy`) and wakes the writer thread if more was queued
    /// meanwhile.
    pub fn release(&self) {
        let mut q = self.queue.lock();
        q.busy = false;
        if !q.ops.is_empty() || q.shutdown {
            self.cv.notify_one();
        }
    }
}

pub fn run(sh: Arc<WriterState>) {
    loop {
        let ops = {
            let mut q = sh.queue.lock();
            #[cfg(feature = "power-loss")]
            sh.disk.faults.writer_idle();
            // A round running elsewhere is waited for, also at shutdown: the files stay
            // open until it is done.
            while (q.ops.is_empty() && !q.shutdown) || q.busy {
                sh.cv.wait(&mut q);
            }
            // A test holding the rounds decides what each one takes (storage::power).
            #[cfg(feature = "power-loss")]
            while !q.shutdown && !sh.disk.faults.may_take(q.ops.len()) {
                sh.cv.wait_for(&mut q, std::time::Duration::from_millis(1));
            }
            if q.ops.is_empty() {
                return;
            }
            q.busy = true;
            std::mem::take(&mut q.ops)
        };
        run_round(&sh, ops, true);
        sh.release();
    }
}

fn run_round(sh: &WriterState, ops: Vec<Queued>, spares: bool) {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        round(sh, ops, &mut sh.buf.lock(), spares)
    }));
    if r.is_err() {
        // Waiters of the round were answered by their drop; later operations fail.
        mark_failed(
            sh,
            "storage writer panicked (or the on_durable callback did)",
        );
    }
}

/// Records the writer's first failure and tells the owner once. Nothing is retried: after
/// a failed fdatasync the page cache may have dropped the data it claimed to hold.
fn mark_failed(sh: &WriterState, why: &str) {
    // The hook runs under the failure lock, as `Storage::on_failure` installs it: once.
    let mut failed = sh.failed.lock();
    if failed.is_none() {
        *failed = Some(why.to_string());
        if let Some(f) = &*sh.on_failure.lock() {
            f(why);
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

/// `spares`: prepare the next segment of each stream written that has none.
fn round(sh: &WriterState, ops: Vec<Queued>, buf: &mut Vec<u8>, spares: bool) {
    sh.disk.stats.rounds.fetch_add(1, Ordering::Relaxed);
    let t0 = std::time::Instant::now();
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
        if let Err(e) = sync_current(&sh.disk, &mut w) {
            failure = Some(e.to_string());
        } else if t.meta_dirty {
            if let Err(e) = meta::store(&t.st.dir, &w.meta) {
                failure = Some(e.to_string());
            }
        }
    }
    if let Some(f) = &failure {
        mark_failed(sh, f);
        for t in &touched {
            for d in &t.waiters {
                d.complete(Err(f.clone()));
            }
        }
        return;
    }
    let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
    sh.disk.stats.round_ns.fetch_add(ns, Ordering::Relaxed);
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
                (sh.on_durable)(t.st.id, idx, term);
            }
        }
        for d in &t.waiters {
            d.complete(Ok(()));
        }
    }
    // Prepare the next segment outside the path of any pending sync.
    if spares {
        for t in &touched {
            prepare_spare(sh, &t.st);
        }
    }
}

/// Creates the stream's next segment if it has none (a failure fails the writer).
pub fn prepare_spare(sh: &WriterState, st: &StreamState) {
    let mut w = st.w.lock();
    if w.spare.is_none() {
        let seq = w.next_seq;
        let cap = w.next_cap;
        match segment::create(&st.dir, seq, cap, sh.disk.sync) {
            Ok(f) => {
                w.spare = Some((seq, f));
                w.spare_cap = cap;
                w.next_cap = segment::next_cap(cap, sh.disk.seg_size);
                w.next_seq += 1;
            }
            Err(e) => mark_failed(sh, &e.to_string()),
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
    sh: &WriterState,
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
                        w.cur_off + pend_bytes > 0 && w.cur_off + pend_bytes + rl > w.cur_cap;
                    if w.cur.is_none() || full {
                        t.wrote |= flush(&sh.disk, &st, &mut w, &mut pend, &mut pend_bytes, buf)?;
                        roll(&sh.disk, &st, &mut w)?;
                    }
                    pend_bytes += rl;
                    pend.push(e);
                }
                Ok(())
            }
            Op::TruncSuffix(from) => {
                t.wrote |= flush(&sh.disk, &st, &mut w, &mut pend, &mut pend_bytes, buf)?;
                cut_suffix(&sh.disk, &st, &mut w, seq, from)
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
                t.wrote |= flush(&sh.disk, &st, &mut w, &mut pend, &mut pend_bytes, buf)?;
                truncate_prefix(&sh.disk, &st, &mut w, k)
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
    t.wrote |= flush(&sh.disk, &st, &mut w, &mut pend, &mut pend_bytes, buf)?;
    Ok(())
}
