//! One stream: its replica behind a short-held lock, the driver thread that alone steps it
//! and carries out its readies, and the apply loop that hands committed entries to the application.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::signal::Signal;
use super::Shared;
use crate::api::{DcfException, DcfRole};
use crate::consensus::{Event, Exception, Message, Ready, Replica, Role};
use crate::types::{Entry, EntryKind, Index, NodeId, StreamId, Term};
use crate::{dcf_error, dcf_info, dcf_warn};

/// Entries and payload bytes the apply loop reads from the log at a time.
const APPLY_BATCH: u64 = 1024;
const APPLY_BYTES: usize = 4 << 20;
/// Readies the driver carries out in a row before it checks its timers again.
const MAX_ROUNDS: usize = 64;
/// The driver wakes at least this often even with no timer due (stop checks).
const MAX_IDLE: Duration = Duration::from_millis(100);

pub struct Stream {
    pub id: StreamId,
    pub replica: Mutex<Replica>,
    pub driver_wake: Signal,
    /// When the sleeping driver will wake by itself, in ns since `epoch`; written and read
    /// under the replica lock. Other threads wake it only when the replica's next deadline
    /// is sooner than this: a wake per message or durable report cost a futex call and a
    /// contended `io` lock per commit on 2 cores, pushing `on_durable` off the fast path.
    driver_until: AtomicU64,
    epoch: Instant,
    pub apply_wake: Signal,
    /// Messages from peers, stepped by the driver in arrival order.
    inbox: Mutex<Vec<(NodeId, Message)>>,
    /// `act` tickets handed out, and the newest one whose readies the driver carried out.
    asked: AtomicU64,
    carried: Mutex<u64>,
    carried_cond: Condvar,
    /// The node, for failing the stream from the storage writer's failure report.
    pub shared: OnceLock<Weak<Shared>>,
    durable: Mutex<Option<(Index, Term)>>,
    /// Writes accepted: set once a new leader applied everything before its term.
    pub can_write: AtomicBool,
    /// status_notify(LEADER) was sent and not yet followed by FOLLOWER.
    notified_leader: AtomicBool,
    pub role: AtomicU8,
    pub term: AtomicU64,
    /// 0 = no known leader.
    pub leader: AtomicU32,
    pub commit: AtomicU64,
    /// The apply cursor: everything up to here was consumed by the application.
    pub applied: AtomicU64,
    rewind: Mutex<Option<Index>>,
    /// Configured LOGGER: stores and votes, never applies.
    pub is_logger: bool,
    /// When `dcf_set_election_priority` last took effect (it is throttled to once a second).
    pub priority_stamp: Mutex<Option<Instant>>,
    pub writes: AtomicU64,
    pub write_bytes: AtomicU64,
    /// Set once by the first storage fault (or a panic): the stream stops until restart.
    failure: OnceLock<String>,
    /// Backpressure: how much of `writes` this leader has not applied yet.
    accepted: Pending,
    trim: super::memory::TrimPolicy,
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
    fn reset(&self, entries: u64, bytes: u64) {
        self.base_entries.store(entries, Ordering::Relaxed);
        self.base_bytes.store(bytes, Ordering::Relaxed);
        self.out_entries.store(0, Ordering::Relaxed);
        self.out_bytes.store(0, Ordering::Relaxed);
    }
    fn done(&self, bytes: u64) {
        self.out_entries.fetch_add(1, Ordering::Relaxed);
        self.out_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

pub fn dcf_role(role: Role) -> DcfRole {
    match role {
        Role::Leader => DcfRole::Leader,
        Role::Follower => DcfRole::Follower,
        Role::Logger => DcfRole::Logger,
        Role::Passive => DcfRole::Passive,
        Role::PreCandidate => DcfRole::PreCandidate,
        Role::Candidate => DcfRole::Candidate,
    }
}

impl Stream {
    pub fn new(id: StreamId, replica: Replica, applied: Index, is_logger: bool) -> Stream {
        let role = dcf_role(replica.role()) as u8;
        let term = replica.term();
        let commit = replica.commit_index();
        Stream {
            id,
            replica: Mutex::new(replica),
            driver_wake: Signal::default(),
            driver_until: AtomicU64::new(0),
            epoch: Instant::now(),
            apply_wake: Signal::default(),
            inbox: Mutex::new(Vec::new()),
            asked: AtomicU64::new(0),
            carried: Mutex::new(0),
            carried_cond: Condvar::new(),
            shared: OnceLock::new(),
            durable: Mutex::new(None),
            can_write: AtomicBool::new(false),
            notified_leader: AtomicBool::new(false),
            role: AtomicU8::new(role),
            term: AtomicU64::new(term),
            leader: AtomicU32::new(0),
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
        self.can_write.store(false, Ordering::Release);
        self.role.store(DcfRole::Follower as u8, Ordering::Release);
        self.leader.store(0, Ordering::Release);
        if self.notified_leader.swap(false, Ordering::AcqRel) {
            shared.post_status(self.id, DcfRole::Follower);
        }
        shared.raise_exception(self.id, DcfException::MissingLog);
        self.apply_wake.notify();
        self.driver_wake.notify();
    }

    pub fn is_failed(&self) -> bool {
        self.failure.get().is_some()
    }

    pub fn current_role(&self) -> DcfRole {
        DcfRole::from_i32(i32::from(self.role.load(Ordering::Acquire))).unwrap_or(DcfRole::Unknown)
    }

    fn nanos_since_epoch(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// Whether the replica's next timer is due before the driver wakes by itself (call with
    /// the replica locked, notify the driver after unlocking).
    fn due_before_driver(&self, r: &Replica) -> bool {
        self.nanos_since_epoch(r.next_deadline()) < self.driver_until.load(Ordering::Relaxed)
    }

    /// Runs `f` on the replica and waits until the driver has carried out what it produced,
    /// so that its effects (role, messages, durable state) are in place when the caller
    /// returns. Not for the network thread: this waits for the disk (see `input`).
    pub fn act<T>(&self, shared: &Shared, f: impl FnOnce(&mut Replica) -> T) -> T {
        let out = f(&mut self.replica.lock());
        let ticket = self.asked.fetch_add(1, Ordering::AcqRel) + 1;
        self.driver_wake.notify();
        let mut done = self.carried.lock();
        while *done < ticket && !shared.stopping() && !self.is_failed() {
            self.carried_cond.wait_for(&mut done, MAX_IDLE);
        }
        out
    }

    /// Runs `f` on the replica and leaves what it produced to the driver, without waiting.
    pub fn input<T>(&self, f: impl FnOnce(&mut Replica) -> T) -> T {
        let out = f(&mut self.replica.lock());
        self.driver_wake.notify();
        out
    }

    /// A message from a peer (on a network thread): queued for the driver, which steps it.
    pub fn deliver(&self, from: NodeId, msg: Message) {
        if self.is_failed() {
            return;
        }
        self.inbox.lock().push((from, msg));
        self.driver_wake.notify();
    }

    /// Storage made the log durable up to `index` (on the storage writer thread): the driver
    /// tells the replica, which then acknowledges or commits.
    pub fn on_durable(&self, index: Index, term: Term) {
        {
            let mut d = self.durable.lock();
            if d.is_none_or(|(i, _)| index >= i) {
                *d = Some((index, term));
            }
        }
        self.driver_wake.notify();
    }

    /// Driver only: steps queued messages and durable reports and carries out the readies
    /// they produce, in order, until none is left or `MAX_ROUNDS` passed (the caller ticks
    /// in between, so a flood of messages cannot starve the timers). True when more is
    /// waiting. A failed stream's readies are dropped.
    fn drain(&self, shared: &Shared, spare: &mut Vec<(NodeId, Message)>) -> bool {
        for _ in 0..MAX_ROUNDS {
            std::mem::swap(&mut *self.inbox.lock(), spare);
            let durable = self.durable.lock().take();
            let ready = {
                let mut r = self.replica.lock();
                if !spare.is_empty() {
                    let now = Instant::now();
                    for (from, msg) in spare.drain(..) {
                        r.step(from, msg, now);
                    }
                }
                if let Some((index, term)) = durable {
                    r.persisted(index, term);
                }
                if !r.has_ready() {
                    return false;
                }
                r.take_ready()
            };
            if self.is_failed() {
                continue;
            }
            if let Err(why) = handle_ready(shared, self, ready) {
                self.fail(shared, why);
            }
        }
        true
    }

    /// `dcf_set_applied_index` while running: deliver again from `index + 1`.
    pub fn rewind_to(&self, index: Index) {
        *self.rewind.lock() = Some(index);
        self.apply_wake.notify();
    }

    /// The apply loop reached the end of the log and every entry is applied.
    pub fn all_applied(&self) -> bool {
        self.can_write.load(Ordering::Acquire)
    }
}

/// The stream's one owner of I/O: fires the replica's timers, steps what peers sent, and
/// carries out every Ready (persist, send, commit, events), then sleeps until the next timer
/// or a wake-up (a message, a proposal, a durable report, an `act`).
pub fn run_driver(shared: Arc<Shared>, stream: Arc<Stream>) {
    let mut deadline = Instant::now();
    let mut spare = Vec::new();
    while !shared.stopping() {
        let asked = stream.asked.load(Ordering::Acquire);
        let now = Instant::now();
        if now >= deadline {
            stream.replica.lock().tick(now);
        }
        let more = stream.drain(&shared, &mut spare);
        let wake_at = {
            let r = stream.replica.lock();
            deadline = r.next_deadline();
            let until = deadline.min(now + MAX_IDLE);
            stream
                .driver_until
                .store(stream.nanos_since_epoch(until), Ordering::Relaxed);
            until
        };
        if asked > *stream.carried.lock() {
            *stream.carried.lock() = asked;
            stream.carried_cond.notify_all();
        }
        if !more {
            stream.driver_wake.wait_until(wake_at);
        }
    }
    stream.carried_cond.notify_all();
}

/// Carries out one Ready in the order its parts depend on each other. An error stops the
/// stream (the caller fails it): nothing that depends on a failed write may go out.
fn handle_ready(shared: &Shared, stream: &Stream, ready: Ready) -> Result<(), String> {
    let storage = &shared.storage;
    if let Some(hs) = ready.hard_state {
        // Votes and term changes must be on disk before any message that depends on them.
        storage
            .save_hard_state(stream.id, hs)
            .map_err(|e| format!("saving term {} and vote: {e}", hs.term))?;
    }
    if let Some(from) = ready.truncate_from {
        storage
            .truncate_suffix(stream.id, from)
            .map_err(|e| format!("cutting the log from index {from}: {e}"))?;
    }
    if let Some(first) = ready.entries.first().map(|e| e.index) {
        storage
            .append(stream.id, ready.entries)
            .map_err(|e| format!("appending entries from index {first}: {e}"))?;
    }
    for (to, msg) in ready.messages {
        shared.send_consensus(stream.id, to, &msg);
    }
    if let Some(c) = ready.commit_index {
        stream.commit.fetch_max(c, Ordering::AcqRel);
        stream.apply_wake.notify();
    }
    for ev in ready.events {
        on_event(shared, stream, ev)?;
    }
    Ok(())
}

fn on_event(shared: &Shared, stream: &Stream, ev: Event) -> Result<(), String> {
    match ev {
        Event::RoleChanged { role, term } => {
            dcf_info!("stream {}: role {:?} in term {term}", stream.id, role);
            stream.role.store(dcf_role(role) as u8, Ordering::Release);
            stream.term.store(term, Ordering::Release);
            if role != Role::Leader {
                stream.can_write.store(false, Ordering::Release);
                if stream.notified_leader.swap(false, Ordering::AcqRel) {
                    shared.post_status(stream.id, DcfRole::Follower);
                }
            }
        }
        Event::LeaderChanged { leader } => {
            let id = leader.unwrap_or(0);
            let old = stream.leader.swap(id, Ordering::AcqRel);
            if id != 0 && id != old && id != shared.id {
                shared.post_election(stream.id, id);
            }
        }
        Event::LeaderReady { term } => {
            dcf_info!("stream {}: leader of term {term} accepts writes", stream.id);
            stream.accepted.reset(
                stream.writes.load(Ordering::Relaxed),
                stream.write_bytes.load(Ordering::Relaxed),
            );
            stream.can_write.store(true, Ordering::Release);
            stream.notified_leader.store(true, Ordering::Release);
            shared.post_status(stream.id, DcfRole::Leader);
        }
        Event::Exception(Exception::MissingLog) => {
            dcf_warn!(
                "stream {}: entries this node needs were truncated on the leader",
                stream.id
            );
            shared.raise_exception(stream.id, DcfException::MissingLog);
        }
        Event::MembershipChanged(m) => {
            shared
                .storage
                .save_membership(stream.id, &m.to_json())
                .map_err(|e| format!("saving the membership: {e}"))?;
            shared.refresh_peers();
        }
        Event::LogReadFailed { index, error } => {
            return Err(format!(
                "reading entry {index} back for a follower: {error}"
            ));
        }
    }
    Ok(())
}

/// Hands committed entries to after_writer / consensus_notify, in index order, once each;
/// an entry the application refuses (non-zero) is offered again.
pub fn run_apply(shared: Arc<Shared>, stream: Arc<Stream>) {
    shared.init_callback_thread();
    let mut reported = stream.applied.load(Ordering::Acquire);
    while !shared.stopping() {
        if let Some(x) = stream.rewind.lock().take() {
            stream.applied.store(x, Ordering::Release);
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
        let batch = match shared.storage.read(stream.id, applied + 1, hi, APPLY_BYTES) {
            Ok(b) if b.first().map(|e| e.index) == Some(applied + 1) => b,
            Ok(_) => {
                let why = format!("entry {} to apply was not returned by the log", applied + 1);
                stream.fail(&shared, why);
                continue;
            }
            Err(e) => {
                stream.fail(
                    &shared,
                    format!("reading entry {} to apply: {e}", applied + 1),
                );
                continue;
            }
        };
        for e in &batch {
            if !apply_one(&shared, &stream, e, &mut reported) {
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
    let wake = {
        let mut r = stream.replica.lock();
        r.applied(applied);
        r.has_ready() || stream.due_before_driver(&r)
    };
    if wake {
        stream.driver_wake.notify();
    }
}

/// Delivers one entry, retrying while the application refuses it. False when interrupted
/// (stop or rewind).
fn apply_one(shared: &Shared, stream: &Stream, e: &Entry, reported: &mut Index) -> bool {
    if e.kind == EntryKind::Conf || stream.is_logger {
        return true;
    }
    let mut backoff = Duration::from_micros(100);
    loop {
        // Nothing new is handed to the application once dcf_stop was called.
        if shared.stopping() {
            return false;
        }
        let cbs = shared.callbacks.snapshot();
        let own_term = stream.current_role() == DcfRole::Leader
            && e.term == stream.term.load(Ordering::Acquire);
        let rc = if own_term {
            let rc = cbs
                .after_writer
                .map_or(0, |f| f(stream.id, e.index, &e.data, e.key, 0));
            if rc == 0 {
                stream.accepted.done(e.data.len() as u64);
            }
            rc
        } else {
            cbs.consensus_notify
                .map_or(0, |f| f(stream.id, e.index, &e.data, e.key))
        };
        if rc == 0 {
            return true;
        }
        if shared.stopping() || stream.rewind.lock().is_some() {
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
