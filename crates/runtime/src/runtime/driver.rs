//! The stream's driver thread: the one owner of its replica's I/O. It fires the timers,
//! steps what peers sent, and carries out every Ready in dependency order.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::mailbox::Control;
use super::stream::{Stream, MAX_IDLE};
use super::Shared;
use crate::consensus::{Event, Exception, Message, Ready, Role};
use crate::error::DcfResult;
use crate::host::{DcfException, DcfRole};
use crate::types::{Index, NodeId};
use crate::{dcf_info, dcf_warn};

/// Readies the driver carries out in a row before it checks its timers again.
const MAX_ROUNDS: usize = 64;

/// The stream's one owner of I/O: fires the replica's timers, steps what peers sent, and
/// carries out every Ready (persist, send, commit, events), then sleeps until the next timer
/// or a wake-up (a message, a proposal, a durable report, an `act`).
pub fn run_driver(shared: Arc<Shared>, stream: Arc<Stream>) {
    let mut deadline = Instant::now();
    let mut spare = Vec::new();
    while !shared.stopping() {
        if let Some(why) = stream
            .mailbox
            .storage_failure()
            .filter(|_| !stream.is_failed())
        {
            stream.fail(&shared, format!("the storage writer failed: {why}"));
        }
        for c in stream.mailbox.take_control() {
            carry_out(&shared, &stream, c);
        }
        let asked = stream.asked.load(Ordering::Acquire);
        let now = Instant::now();
        if now >= deadline {
            stream.replica.lock().tick(now);
        }
        let more = drain(&stream, &shared, &mut spare);
        deadline = stream.replica.lock().next_deadline();
        let wake_at = deadline.min(now + MAX_IDLE);
        {
            let mut carried = stream.carried.lock();
            if asked > *carried {
                *carried = asked;
                stream.carried_cond.notify_all();
            }
        }
        // (The wait yields for 100 us before it sleeps, see `signal`; busy polling instead
        // was measured worse: it kept the CPU from the other processes on 2 cores.)
        if !more {
            stream.mailbox.wake.wait_until(wake_at);
        }
    }
    stream.carried_cond.notify_all();
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

/// Driver only: steps queued messages and durable reports and carries out the readies
/// they produce, in order, until none is left or `MAX_ROUNDS` passed (the caller ticks
/// in between, so a flood of messages cannot starve the timers). True when more is
/// waiting. A failed stream's readies are dropped.
fn drain(stream: &Stream, shared: &Shared, spare: &mut Vec<(NodeId, Message)>) -> bool {
    for _ in 0..MAX_ROUNDS {
        stream.mailbox.take_messages(spare);
        let durable = stream.mailbox.take_durable();
        let ready = {
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
            r.take_ready()
        };
        if stream.is_failed() {
            continue;
        }
        if let Err(why) = handle_ready(shared, stream, ready) {
            stream.fail(shared, why);
        }
    }
    true
}
