//! The stream's driver thread: the one owner of its replica's I/O. It fires the timers,
//! steps what peers sent, and carries out every Ready in dependency order.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::MutexGuard;

use super::mailbox::Control;
use super::stream::{Stream, MAX_IDLE};
use super::Shared;
use crate::consensus::{Event, Exception, Message, Ready, Role};
use crate::error::DcfResult;
use crate::host::{DcfException, DcfRole};
use crate::types::{Entry, Index, NodeId};
use crate::{dcf_info, dcf_warn};

/// Readies the driver carries out in a row before it checks its timers again.
const MAX_ROUNDS: usize = 64;

/// How often the stand-in looks for a write of the driver's own that is taking long: a
/// tenth of the election timeout (20..=300 ms), so a follower whose disk stalls stays deaf
/// to its leader for a small part of the window in which the leader must hear a quorum.
/// Not more often: its wake-ups cost the single-writer p50 about 4% at every 20 ms on
/// 2 cores (alternated pairs against every 1 s).
fn stand_in_poll(election_timeout: Duration) -> Duration {
    (election_timeout / 10).clamp(Duration::from_millis(20), Duration::from_millis(300))
}

/// What the driving loop keeps from one pass to the next, held with `Stream::drive`.
pub struct DriveState {
    deadline: Instant,
    spare: Vec<(NodeId, Message)>,
    /// Entries were written on this thread since the last idle pass: the next segment may
    /// be wanted (`Storage::prepare_spare`).
    wrote_here: bool,
}

impl DriveState {
    pub fn new() -> DriveState {
        DriveState {
            deadline: Instant::now(),
            spare: Vec::new(),
            wrote_here: false,
        }
    }
}

/// The stream's one owner of I/O: fires the replica's timers, steps what peers sent, and
/// carries out every Ready (persist, send, commit, events), then sleeps until the next timer
/// or a wake-up (a message, a proposal, a durable report, an `act`).
pub fn run_driver(shared: Arc<Shared>, stream: Arc<Stream>) {
    while !shared.stopping() {
        let wake_at = drive_once(&shared, &stream, &mut stream.drive.lock(), true);
        // (The wait yields for 100 us before it sleeps, see `signal`; busy polling instead
        // was measured worse: it kept the CPU from the other processes on 2 cores.)
        if let Some(at) = wake_at {
            stream.mailbox.wake.wait_until(at);
        }
    }
    stream.carried_cond.notify_all();
}

/// Drives the stream while a write the driver makes itself takes longer than
/// `stand_in_poll` (a stalled disk): the driver let go of `Stream::drive` for that write,
/// and without a stand-in the follower would answer no heartbeat until the disk returns
/// (its leader, hearing from no quorum, would step down). The stand-in's own entries go
/// to the storage writer, queued behind the stalled write.
pub fn run_stand_in(shared: Arc<Shared>, stream: Arc<Stream>) {
    let poll = stand_in_poll(shared.params.election_timeout);
    let mut seen = 0;
    while !shared.stopping() {
        std::thread::sleep(poll);
        let n = stream.writes_here.load(Ordering::Acquire);
        let same_write = n % 2 == 1 && n == seen;
        seen = n;
        if !same_write {
            continue;
        }
        let Some(mut st) = stream.drive.try_lock() else {
            continue;
        };
        dcf_info!(
            "stream {}: a log write on the driver takes over {} ms; another thread answers peers meanwhile",
            stream.id,
            poll.as_millis()
        );
        while stream.writes_here.load(Ordering::Acquire) == n && !shared.stopping() {
            if let Some(at) = drive_once(&shared, &stream, &mut st, false) {
                stream
                    .mailbox
                    .wake
                    .wait_until(at.min(Instant::now() + poll));
            }
        }
    }
}

/// One pass of the driving loop; the time to wake up at, or None when more is waiting.
/// `may_write_here`: a follower's entries may be written on this thread (see `handle_ready`).
fn drive_once(
    shared: &Shared,
    stream: &Stream,
    st: &mut MutexGuard<'_, DriveState>,
    may_write_here: bool,
) -> Option<Instant> {
    if let Some(why) = stream
        .mailbox
        .storage_failure()
        .filter(|_| !stream.is_failed())
    {
        stream.fail(shared, format!("the storage writer failed: {why}"));
    }
    for c in stream.mailbox.take_control() {
        carry_out(shared, stream, c);
    }
    let asked = stream.asked.load(Ordering::Acquire);
    let now = Instant::now();
    if now >= st.deadline {
        stream.replica.lock().tick(now);
    }
    let more = drain(stream, shared, st, may_write_here);
    st.deadline = stream.replica.lock().next_deadline();
    {
        let mut carried = stream.carried.lock();
        if asked > *carried {
            *carried = asked;
            stream.carried_cond.notify_all();
        }
    }
    if !more && may_write_here && std::mem::take(&mut st.wrote_here) {
        // Idle now, with the acknowledgements sent: the time to prepare the next segment.
        let r = on_this_thread(stream, st, || shared.storage.prepare_spare(stream.id));
        if let Err(e) = r {
            stream.fail(shared, format!("preparing the next log segment: {e}"));
        }
    }
    (!more).then(|| st.deadline.min(now + MAX_IDLE))
}

/// Runs `io` (a write to this stream's disk) with `Stream::drive` let go and the write
/// counted in `Stream::writes_here`, so that the stand-in can answer peers if it stalls.
fn on_this_thread<T>(
    stream: &Stream,
    st: &mut MutexGuard<'_, DriveState>,
    io: impl FnOnce() -> T,
) -> T {
    MutexGuard::unlocked(st, || {
        stream.writes_here.fetch_add(1, Ordering::AcqRel);
        let r = io();
        stream.writes_here.fetch_add(1, Ordering::AcqRel);
        // A stand-in waiting for the mailbox hands the stream back at once.
        stream.mailbox.wake.notify();
        r
    })
}

/// `dcf_write` on a leader whose driver sleeps: the writing thread carries out the Ready
/// itself when it only hands new entries to the storage writer and sends them (nothing in
/// it waits for the disk), holding `Stream::drive` like any driver. That saves waking the
/// driver (20-40 us on a 2-vCPU machine) on the path of a lone write. True if done; else
/// the caller wakes the driver. An awake driver, and the writes of a busy leader, are left
/// to the driver: it batches the proposals of many writers into one append.
pub fn send_here(shared: &Shared, stream: &Stream) -> bool {
    if !stream.mailbox.wake.is_asleep() || !stream.mailbox.is_idle() {
        return false;
    }
    let Some(_driving) = stream.drive.try_lock() else {
        return false;
    };
    let ready = {
        let mut r = stream.replica.lock();
        // A lone write: everything before it is committed. Otherwise more writes are under
        // way, and the driver sends them in fewer, larger appends.
        let lone = r.commit_index() + 1 == r.last_index();
        if !lone || r.role() != Role::Leader || !r.ready_is_sends_only() {
            return false;
        }
        r.take_ready()
    };
    if !stream.is_failed() {
        if let Err(why) = handle_ready(shared, stream, ready, false) {
            stream.fail(shared, why);
        }
    }
    true
}

/// A truncation or rewind the application asked for, in order with each other and with
/// the readies (so a truncation never cuts what a rewind asked for just before it).
fn carry_out(shared: &Shared, stream: &Stream, c: Control) {
    match c {
        Control::Rewind(index, reply) => {
            let _ = reply.send(stream.rewind_to(index));
        }
        Control::Truncate(first_kept, reply) => {
            let _ = reply.send(truncate(shared, stream, first_kept));
        }
    }
}

/// `dcf_truncate`: what is not applied (or asked again by a rewind) stays. The replica
/// compacts first: from then on it never asks storage for what storage drops next, so a
/// follower that needs entries right at the cut learns it cannot catch up (MISSING_LOG)
/// instead of the leader failing to read them back.
fn truncate(shared: &Shared, stream: &Stream, first_kept: Index) -> DcfResult<()> {
    let first_kept = first_kept.min(stream.apply_floor() + 1);
    let first = {
        let mut r = stream.replica.lock();
        r.compact(first_kept);
        r.first_index()
    };
    shared.storage.truncate_prefix(stream.id, first)?;
    Ok(())
}

/// Carries out one Ready in the order its parts depend on each other. An error stops the
/// stream (the caller fails it): nothing that depends on a failed write may go out.
///
/// `follower`: the entries are a follower's, whose acknowledgement waits for them. Then, if
/// the Ready has no events (a membership is saved after its entry), they are not handed to
/// the storage writer but returned, for the caller to write once everything else is done
/// (`write_here`). A leader always hands its entries to the writer, so that its appends to
/// followers never wait for its own disk.
fn handle_ready(
    shared: &Shared,
    stream: &Stream,
    mut ready: Ready,
    follower: bool,
) -> Result<Vec<Entry>, String> {
    let storage = &shared.storage;
    let keep_entries = follower && ready.events.is_empty();
    let mut entries = std::mem::take(&mut ready.entries);
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
    if !keep_entries {
        append(shared, stream, std::mem::take(&mut entries), false)?;
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
    Ok(entries)
}

/// Hands entries to storage: `Storage::append`, or with `here` `Storage::append_here`.
fn append(shared: &Shared, stream: &Stream, entries: Vec<Entry>, here: bool) -> Result<(), String> {
    let first = entries.first().map_or(0, |e| e.index);
    let r = if here {
        shared.storage.append_here(stream.id, entries)
    } else {
        shared.storage.append(stream.id, entries)
    };
    r.map_err(|e| format!("appending entries from index {first}: {e}"))
}

/// A follower's entries, written and synced on this thread when the storage writer is idle
/// (`Storage::append_here`): their durable report is in the mailbox when this returns, two
/// thread hand-offs sooner than through the writer. `Stream::drive` is let go meanwhile,
/// so that the stand-in can answer peers if the disk stalls.
fn write_here(
    shared: &Shared,
    stream: &Stream,
    st: &mut MutexGuard<'_, DriveState>,
    entries: Vec<Entry>,
) -> Result<(), String> {
    if entries.is_empty() {
        return Ok(());
    }
    st.wrote_here = true;
    on_this_thread(stream, st, || append(shared, stream, entries, true))
}

fn on_event(shared: &Shared, stream: &Stream, ev: Event) -> Result<(), String> {
    match ev {
        Event::RoleChanged { role, term } => {
            dcf_info!("stream {}: role {:?} in term {term}", stream.id, role);
            if role != Role::Leader {
                stream.can_write.store(false, Ordering::Release);
                if stream.notified_leader.swap(false, Ordering::AcqRel) {
                    shared.post_status(stream.id, DcfRole::Follower);
                }
            }
        }
        Event::LeaderChanged { leader } => {
            // Raised only when the leader changes.
            if let Some(id) = leader.filter(|&id| id != shared.id) {
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
        Event::Refused {
            from,
            reason,
            count,
        } => {
            // The core reports at most once a second, with the count since the last report.
            dcf_warn!(
                "stream {}: refused {count} message(s) from node {from}, the last because {reason}",
                stream.id
            );
        }
        Event::LogReadFailed { index, error } => {
            return Err(format!(
                "reading entry {index} back for a follower: {error}"
            ));
        }
    }
    Ok(())
}

/// Whoever drives (`Stream::drive`): steps queued messages and durable reports and carries out the readies
/// they produce, in order, until none is left or `MAX_ROUNDS` passed (the caller ticks
/// in between, so a flood of messages cannot starve the timers). True when more is
/// waiting. A failed stream's readies are dropped.
fn drain(
    stream: &Stream,
    shared: &Shared,
    st: &mut MutexGuard<'_, DriveState>,
    may_write_here: bool,
) -> bool {
    for _ in 0..MAX_ROUNDS {
        let spare = &mut st.spare;
        stream.mailbox.take_messages(spare);
        let durable = stream.mailbox.take_durable();
        let (ready, follower) = {
            let mut r = stream.replica.lock();
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
            (r.take_ready(), may_write_here && r.role() != Role::Leader)
        };
        if stream.is_failed() {
            continue;
        }
        let r = handle_ready(shared, stream, ready, follower)
            .and_then(|entries| write_here(shared, stream, st, entries));
        if let Err(why) = r {
            stream.fail(shared, why);
        }
    }
    true
}
