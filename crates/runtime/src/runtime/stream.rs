//! One stream's shared state: its replica behind a short-held lock, the inputs other threads
//! hand its driver (driver.rs), and what the apply thread (apply.rs) and the queries read.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError, SyncSender};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::mailbox::{Control, Mailbox};
use super::signal::Signal;
use super::Shared;
use crate::consensus::Replica;
use crate::dcf_error;
use crate::error::{DcfError, DcfResult, ErrorCode};
use crate::host::{DcfException, DcfRole};
use crate::types::{Index, NodeId, StreamId};

/// The driver and apply threads wake at least this often (stop checks).
pub(super) const MAX_IDLE: Duration = Duration::from_millis(100);

pub struct Stream {
    pub id: StreamId,
    pub replica: Mutex<Replica>,
    /// Where other threads leave the driver's inputs, and its wake-up signal.
    pub mailbox: Arc<Mailbox>,
    pub apply_wake: Signal,
    /// `act` tickets handed out, and the newest one whose readies the driver carried out.
    pub(super) asked: AtomicU64,
    pub(super) carried: Mutex<u64>,
    pub(super) carried_cond: Condvar,
    /// Writes accepted: set once a new leader applied everything before its term.
    pub can_write: AtomicBool,
    /// status_notify(LEADER) was sent and not yet followed by FOLLOWER.
    pub(super) notified_leader: AtomicBool,
    pub commit: AtomicU64,
    /// The apply cursor: everything up to here was consumed by the application.
    pub applied: AtomicU64,
    pub(super) rewind: Mutex<Option<Index>>,
    /// Configured LOGGER: stores and votes, never applies.
    pub is_logger: bool,
    /// When `dcf_set_election_priority` last took effect (it is throttled to once a second).
    pub priority_stamp: Mutex<Option<Instant>>,
    pub writes: AtomicU64,
    pub write_bytes: AtomicU64,
    /// Set once by the first storage fault (or a panic): the stream stops until restart.
    pub(super) failure: OnceLock<String>,
    /// Backpressure: how much of `writes` this leader has not applied yet.
    pub(super) accepted: Pending,
    pub(super) trim: super::memory::TrimPolicy,
    /// Held by whoever drives the stream, with the driving loop's state: the driver thread,
    /// or the stand-in while the driver's own write of entries is slow (`driver`).
    pub(super) drive: Mutex<super::driver::DriveState>,
    /// Writes the driver made itself, counted at their start and end (odd: one runs).
    pub(super) writes_here: AtomicU64,
}

/// Entries accepted by `dcf_write` and not yet handed to after_writer, for backpressure.
/// Counted per leadership: what `writes`/`write_bytes` held when the leader started
/// accepting writes, and what after_writer took since.
#[derive(Default)]
pub struct Pending {
    base_entries: AtomicU64,
    base_bytes: AtomicU64,
    out_entries: AtomicU64,
    out_bytes: AtomicU64,
}

impl Pending {
    pub(super) fn reset(&self, entries: u64, bytes: u64) {
        self.base_entries.store(entries, Ordering::Relaxed);
        self.base_bytes.store(bytes, Ordering::Relaxed);
        self.out_entries.store(0, Ordering::Relaxed);
        self.out_bytes.store(0, Ordering::Relaxed);
    }
    pub(super) fn done(&self, bytes: u64) {
        self.out_entries.fetch_add(1, Ordering::Relaxed);
        self.out_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

impl Stream {
    pub fn new(
        id: StreamId,
        mailbox: Arc<Mailbox>,
        replica: Replica,
        applied: Index,
        is_logger: bool,
    ) -> Stream {
        let commit = replica.commit_index();
        Stream {
            id,
            replica: Mutex::new(replica),
            mailbox,
            apply_wake: Signal::default(),
            asked: AtomicU64::new(0),
            carried: Mutex::new(0),
            carried_cond: Condvar::new(),
            can_write: AtomicBool::new(false),
            notified_leader: AtomicBool::new(false),
            commit: AtomicU64::new(commit),
            applied: AtomicU64::new(applied),
            rewind: Mutex::new(None),
            is_logger,
            priority_stamp: Mutex::new(None),
            writes: AtomicU64::new(0),
            write_bytes: AtomicU64::new(0),
            failure: OnceLock::new(),
            accepted: Pending::default(),
            trim: Default::default(),
            drive: Mutex::new(super::driver::DriveState::new()),
            writes_here: AtomicU64::new(0),
        }
    }

    /// The storage fault (or panic) that stopped this stream, if any.
    pub fn failure(&self) -> Option<String> {
        self.failure.get().cloned()
    }

    /// (entries, bytes) this leader accepted and has not applied yet.
    pub fn outstanding(&self) -> (u64, u64) {
        let p = &self.accepted;
        let left = |total: &AtomicU64, base: &AtomicU64, out: &AtomicU64| {
            let t = total.load(Ordering::Relaxed);
            t.saturating_sub(base.load(Ordering::Relaxed) + out.load(Ordering::Relaxed))
        };
        (
            left(&self.writes, &p.base_entries, &p.out_entries),
            left(&self.write_bytes, &p.base_bytes, &p.out_bytes),
        )
    }

    /// Stops the stream after a fault that makes its log untrustworthy or unwritable: no
    /// more writes, nothing more sent or persisted (a leader falls silent, so a healthy node
    /// takes over after one election timeout), the exception callback is raised (DCF has
    /// one code, MISSING_LOG: this node's log cannot go on), and the log says why, once.
    /// Only a restart brings the stream back; nothing acknowledged is lost by that.
    pub fn fail(&self, shared: &Shared, why: String) {
        let msg = format!(
            "stream {}: stopped (no writes, nothing sent) until the node restarts: {why}",
            self.id
        );
        if self.failure.set(why).is_err() {
            return;
        }
        dcf_error!("{msg}");
        super::handover::hand_over_on_failure(shared, self);
        self.mailbox.close();
        self.can_write.store(false, Ordering::Release);
        // The replica is the one record of role, term and leader: a stopped leader is a
        // follower there too (its Ready is dropped: nothing of this goes out).
        self.replica.lock().demote(Instant::now());
        if self.notified_leader.swap(false, Ordering::AcqRel) {
            shared.post_status(self.id, DcfRole::Follower);
        }
        shared.raise_exception(self.id, DcfException::MissingLog);
        self.apply_wake.notify();
        self.mailbox.wake.notify();
    }

    pub fn is_failed(&self) -> bool {
        self.failure.get().is_some()
    }

    pub fn current_role(&self) -> DcfRole {
        DcfRole::from(self.replica.lock().role())
    }

    /// The known leader (from the replica, the one record of it).
    pub fn leader(&self) -> Option<NodeId> {
        self.replica.lock().leader()
    }

    /// Runs `f` on the replica and waits until the driver has carried out what it produced,
    /// so that its effects (role, messages, durable state) are in place when the caller
    /// returns. Not for the network thread: this waits for the disk (see `input`).
    pub fn act<T>(&self, shared: &Shared, f: impl FnOnce(&mut Replica) -> T) -> T {
        let out = self.input(f);
        let ticket = self.asked.fetch_add(1, Ordering::AcqRel) + 1;
        self.mailbox.wake.notify();
        let mut done = self.carried.lock();
        while *done < ticket && !shared.stopping() && !self.is_failed() {
            self.carried_cond.wait_for(&mut done, MAX_IDLE);
        }
        out
    }

    /// Runs `f` on the replica (a proposal, the applied index, an admin change) under its
    /// short lock and leaves what it produced to the driver, without waiting: the driver is
    /// woken if `f` left it a Ready or a timer sooner than the one it sleeps towards.
    pub fn input<T>(&self, f: impl FnOnce(&mut Replica) -> T) -> T {
        self.input_unless(f, || false)
    }

    /// Like `input`, but `handled` may carry out the Ready `f` left instead of waking the
    /// driver (true: it did). A timer sooner than the one the driver sleeps towards wakes it
    /// all the same: only the driver fires timers.
    pub fn input_unless<T>(
        &self,
        f: impl FnOnce(&mut Replica) -> T,
        handled: impl FnOnce() -> bool,
    ) -> T {
        let (out, ready, sooner) = {
            let mut r = self.replica.lock();
            let before = r.next_deadline();
            let out = f(&mut r);
            (out, r.has_ready(), r.next_deadline() < before)
        };
        if sooner || (ready && !handled()) {
            self.mailbox.wake.notify();
        }
        out
    }

    /// Hands a truncation or rewind to the driver and waits until it was carried out.
    pub fn ask_driver(
        &self,
        shared: &Shared,
        make: impl FnOnce(SyncSender<DcfResult<()>>) -> Control,
    ) -> DcfResult<()> {
        let (tx, rx) = sync_channel(1);
        self.mailbox.post_control(make(tx));
        loop {
            match rx.recv_timeout(MAX_IDLE) {
                Ok(r) => return r,
                Err(RecvTimeoutError::Timeout) if !shared.stopping() && !self.is_failed() => {}
                Err(_) => {
                    return Err(DcfError::new(
                        ErrorCode::Storage,
                        format!("stream {} is stopped or stopping", self.id),
                    ))
                }
            }
        }
    }

    /// Driver only: `dcf_set_applied_index` while running, delivering again from
    /// `index + 1` if the log still holds it.
    pub(super) fn rewind_to(&self, index: Index) -> DcfResult<()> {
        let first = self.replica.lock().first_index();
        if index + 1 < first {
            return Err(DcfError::invalid(format!(
                "cannot re-deliver from {}: the log starts at {first}",
                index + 1
            )));
        }
        *self.rewind.lock() = Some(index);
        self.apply_wake.notify();
        Ok(())
    }

    /// Everything the application may still ask for lies above this: the apply cursor, or
    /// a rewind the apply thread has not taken yet. (The apply thread moves a rewind into
    /// the cursor under the same lock, so no rewind is missed between the two.)
    pub(super) fn apply_floor(&self) -> Index {
        let pending = self.rewind.lock();
        let applied = self.applied.load(Ordering::Acquire);
        pending.map_or(applied, |x| x.min(applied))
    }

    /// The apply loop reached the end of the log and every entry is applied.
    pub fn all_applied(&self) -> bool {
        self.can_write.load(Ordering::Acquire)
    }
}
