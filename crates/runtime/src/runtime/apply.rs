//! The stream's apply thread: hands committed entries to after_writer / consensus_notify,
//! in index order, once each.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::stream::{Stream, MAX_IDLE};
use super::Shared;
use crate::consensus::Role;
use crate::dcf_warn;
use crate::host::{CallbackCache, DcfException};
use crate::types::{Entry, EntryKind, Index, Term};

/// Entries and payload bytes the apply loop reads from the log at a time.
const APPLY_BATCH: u64 = 1024;
const APPLY_BYTES: usize = 4 << 20;

/// Hands committed entries to after_writer / consensus_notify, in index order, once each;
/// an entry the application refuses (non-zero) is offered again.
pub fn run_apply(shared: Arc<Shared>, stream: Arc<Stream>) {
    shared.init_callback_thread();
    let mut reported = stream.applied.load(Ordering::Acquire);
    let mut callbacks = CallbackCache::default();
    // The entry found missing from the log, reported once (until the cursor moves).
    let mut missing: Option<Index> = None;
    while !shared.stopping() {
        if shared.closing() {
            // dcf_stop was called: nothing more is delivered; wait for the threads' stop.
            stream.apply_wake.wait_for(MAX_IDLE);
            continue;
        }
        let rewound = {
            // Under the lock: a truncation computing its floor sees the rewind or the cursor.
            let mut pending = stream.rewind.lock();
            let x = pending.take();
            if let Some(x) = x {
                stream.applied.store(x, Ordering::Release);
            }
            x
        };
        if let Some(x) = rewound {
            // The leader's cluster minimum must see the rewind: these entries are needed again.
            reported = x;
            report_applied(&stream, x);
        }
        let applied = stream.applied.load(Ordering::Acquire);
        let commit = stream.commit.load(Ordering::Acquire);
        if commit <= applied {
            stream.apply_wake.wait_for(MAX_IDLE);
            continue;
        }
        if stream.is_failed() {
            stream.apply_wake.wait_for(MAX_IDLE);
            continue;
        }
        let hi = commit.min(applied + APPLY_BATCH);
        if stream.is_logger {
            // A LOGGER stores and votes but never applies: no need to read payloads back.
            stream.applied.store(hi, Ordering::Release);
            reported = hi;
            report_applied(&stream, hi);
            continue;
        }
        let want = applied + 1;
        let batch = match shared.storage.read(stream.id, want, hi, APPLY_BYTES) {
            Ok(b) if b.first().map(|e| e.index) == Some(want) => b,
            // No longer in the log (a truncation): not a storage fault. The application
            // hears it once and may move the cursor; the stream keeps following the leader.
            _ if want < shared.storage.first_index(stream.id) => {
                if missing != Some(want) {
                    missing = Some(want);
                    dcf_warn!(
                        "stream {}: entry {want} to apply is no longer in the log",
                        stream.id
                    );
                    shared.raise_exception(stream.id, DcfException::MissingLog);
                }
                stream.apply_wake.wait_for(MAX_IDLE);
                continue;
            }
            Ok(_) => {
                let why = format!("entry {want} to apply was not returned by the log");
                stream.fail(&shared, why);
                continue;
            }
            Err(e) => {
                stream.fail(&shared, format!("reading entry {want} to apply: {e}"));
                continue;
            }
        };
        // Whose callback: read once per batch from the replica (the one record of role and
        // term), so no lock is taken per entry.
        let lead_term = {
            let r = stream.replica.lock();
            (r.role() == Role::Leader).then(|| r.term())
        };
        for e in &batch {
            if !apply_one(
                &shared,
                &stream,
                e,
                lead_term,
                &mut reported,
                &mut callbacks,
            ) {
                break;
            }
            stream.applied.store(e.index, Ordering::Release);
        }
        stream.trim.observe(stream.outstanding().1);
        let now_applied = stream.applied.load(Ordering::Acquire);
        if now_applied > reported {
            reported = now_applied;
            report_applied(&stream, now_applied);
        }
    }
}

/// Tells the replica how far the application got (cluster minimum, a new leader's writes).
fn report_applied(stream: &Stream, applied: Index) {
    stream.input(|r| r.applied(applied));
}

/// Delivers one entry, retrying while the application refuses it: to after_writer if it is
/// of the term this node leads (`lead_term`), else to consensus_notify. False when
/// interrupted (stop or rewind).
fn apply_one(
    shared: &Shared,
    stream: &Stream,
    e: &Entry,
    lead_term: Option<Term>,
    reported: &mut Index,
    callbacks: &mut CallbackCache,
) -> bool {
    if e.kind == EntryKind::Conf || stream.is_logger {
        return true;
    }
    let mut backoff = Duration::from_micros(100);
    loop {
        // Nothing new is handed to the application once dcf_stop was called.
        if shared.closing() {
            return false;
        }
        let cbs = shared.callbacks.current(callbacks);
        let own_term = lead_term == Some(e.term);
        let rc = if own_term {
            let rc = cbs
                .after_writer
                .as_ref()
                .map_or(0, |f| f(stream.id, e.index, &e.data, e.key, 0));
            if rc == 0 {
                stream.accepted.done(e.data.len() as u64);
            }
            rc
        } else {
            cbs.consensus_notify
                .as_ref()
                .map_or(0, |f| f(stream.id, e.index, &e.data, e.key))
        };
        if rc == 0 {
            return true;
        }
        if shared.closing() || stream.rewind.lock().is_some() {
            return false;
        }
        // Refused: what came before is applied; say so before waiting (may be for long).
        let before = e.index - 1;
        if before > *reported {
            *reported = before;
            report_applied(stream, before);
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(Duration::from_millis(20));
    }
}
