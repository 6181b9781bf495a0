//! A leader that stops hands its streams over first (the core's `hand_over`): writes are
//! refused from then on, the best peer catches up and gets TIMEOUT_NOW, and the stop goes
//! on once that peer leads or a short bound passed. The cluster so gets a new leader in a
//! few round trips instead of an election timeout.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::stream::Stream;
use super::Shared;
use crate::consensus::Message;
use crate::dcf_info;
use crate::types::NodeId;

/// The hand-over waits at most one heartbeat interval, and never longer than this (so that
/// `dcf_stop` stays well within a second).
const MAX_WAIT: Duration = Duration::from_millis(500);

/// Hands over every stream this node leads and waits for the new leaders (bounded).
pub fn hand_over_all(shared: &Shared) {
    if shared.faults.stop_as_crash.load(Ordering::Acquire) {
        return;
    }
    let mut waiting: Vec<(&Stream, NodeId)> = Vec::new();
    for s in shared.streams.values() {
        if s.is_failed() {
            continue;
        }
        // `input`, not `act`: nothing here may wait for a driver beyond the bound below.
        if let Some(t) = s.input(|r| r.hand_over(Instant::now())) {
            dcf_info!("stream {}: stopping; handing leadership to node {t}", s.id);
            waiting.push((s.as_ref(), t));
        }
    }
    let deadline = Instant::now() + shared.params.heartbeat_interval.min(MAX_WAIT);
    while !waiting.is_empty() && Instant::now() < deadline {
        waiting.retain(|(s, t)| s.leader() != Some(*t) && !s.is_failed());
        std::thread::sleep(Duration::from_millis(1));
    }
    for (s, t) in waiting {
        dcf_info!(
            "stream {}: node {t} did not take over in time; stopping anyway",
            s.id
        );
    }
}

/// A leader whose stream stops on a storage fault: what it can still send (appends of
/// what it holds in memory, TIMEOUT_NOW to a peer that already holds the whole log) goes
/// out before it falls silent. Nothing that needs the disk is sent.
pub fn hand_over_on_failure(shared: &Shared, stream: &Stream) {
    let ready = {
        let mut r = stream.replica.lock();
        if r.hand_over(Instant::now()).is_none() {
            return;
        }
        r.take_ready()
    };
    for (to, msg) in ready.messages {
        if matches!(
            msg,
            Message::Append { .. } | Message::Heartbeat(_) | Message::TimeoutNow(_)
        ) {
            shared.send_consensus(stream.id, to, &msg);
        }
    }
}
