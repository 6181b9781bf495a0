//! Counters behind `dcf_query_statistics_info` that the runtime measures where frames are
//! handed to and taken from the transport. One set per node (several nodes in one process
//! each count their own). They only ever grow; the statistics window subtracts two
//! snapshots.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::consensus::Message;
use crate::query::Statistics;
use crate::types::{NodeId, StreamId};

/// Heartbeats sent to one peer and not answered yet that are remembered: answers come in
/// order on one connection, one per heartbeat, so the oldest is the one answered; more
/// than this unanswered means some were lost and the oldest is forgotten.
const HB_UNANSWERED: usize = 8;

#[derive(Default)]
pub struct NodeStats {
    send_bytes: AtomicU64,
    send_calls: AtomicU64,
    send_wait_ns: AtomicU64,
    recv_frames: AtomicU64,
    recv_ns: AtomicU64,
    hb_sent: AtomicU64,
    hb_recv: AtomicU64,
    rtt_samples: AtomicU64,
    rtt_ns: AtomicU64,
    /// When each unanswered heartbeat to a peer went out, oldest first.
    hb_out: Mutex<HashMap<(StreamId, NodeId), VecDeque<Instant>>>,
}

fn add(c: &AtomicU64, v: u64) {
    c.fetch_add(v, Ordering::Relaxed);
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl NodeStats {
    /// A frame of `bytes` was handed to the transport, which took `wait` to accept it.
    pub fn on_send(&self, bytes: usize, wait: Duration) {
        add(&self.send_bytes, bytes as u64);
        add(&self.send_calls, 1);
        add(&self.send_wait_ns, nanos(wait));
    }

    /// A heartbeat is about to go to `to` at `at`; `heartbeat_unsent` takes it back if it
    /// could not be sent. (Noted before the send, so that a fast answer finds it.)
    pub fn heartbeat_out(&self, stream: StreamId, to: NodeId, at: Instant) {
        let mut m = self.hb_out.lock();
        let q = m.entry((stream, to)).or_default();
        if q.len() >= HB_UNANSWERED {
            q.pop_front();
        }
        q.push_back(at);
    }

    /// The heartbeat noted last for `to` did not go out.
    pub fn heartbeat_unsent(&self, stream: StreamId, to: NodeId) {
        if let Some(q) = self.hb_out.lock().get_mut(&(stream, to)) {
            q.pop_back();
        }
    }

    /// The heartbeat noted last for `to` went out.
    pub fn heartbeat_sent(&self) {
        add(&self.hb_sent, 1);
    }

    /// A consensus message arrived from `from` at `at` (before it is handled).
    pub fn on_consensus_in(&self, stream: StreamId, from: NodeId, msg: &Message, at: Instant) {
        match msg {
            Message::Heartbeat(_) => add(&self.hb_recv, 1),
            Message::HeartbeatResponse(_) => {
                let sent = self
                    .hb_out
                    .lock()
                    .get_mut(&(stream, from))
                    .and_then(VecDeque::pop_front);
                if let Some(t) = sent {
                    add(&self.rtt_samples, 1);
                    add(&self.rtt_ns, nanos(at.saturating_duration_since(t)));
                }
            }
            _ => {}
        }
    }

    /// A received frame took `took` to decode and hand on.
    pub fn on_received(&self, took: Duration) {
        add(&self.recv_frames, 1);
        add(&self.recv_ns, nanos(took));
    }

    /// The counters now, with the storage writer's (rounds, time in them).
    pub fn snapshot(&self, disk: (u64, u64)) -> Snapshot {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            send_bytes: g(&self.send_bytes),
            send_calls: g(&self.send_calls),
            send_wait_ns: g(&self.send_wait_ns),
            recv_frames: g(&self.recv_frames),
            recv_ns: g(&self.recv_ns),
            hb_sent: g(&self.hb_sent),
            hb_recv: g(&self.hb_recv),
            rtt_samples: g(&self.rtt_samples),
            rtt_ns: g(&self.rtt_ns),
            disk_rounds: disk.0,
            disk_ns: disk.1,
        }
    }
}

/// The counters at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    send_bytes: u64,
    send_calls: u64,
    send_wait_ns: u64,
    recv_frames: u64,
    recv_ns: u64,
    hb_sent: u64,
    hb_recv: u64,
    rtt_samples: u64,
    rtt_ns: u64,
    disk_rounds: u64,
    disk_ns: u64,
}

/// Fills the items measured here from the counters' growth over one window; an item with
/// no sample in the window stays null (as DCF).
pub fn fill(st: &mut Statistics, from: Snapshot, to: Snapshot) {
    const MB: f64 = 1024.0 * 1024.0;
    let d = |a: u64, b: u64| b.saturating_sub(a);
    let avg_ms = |ns: u64, n: u64| (n > 0).then(|| ns as f64 / n as f64 / 1e6);
    let count = |n: u64| (n > 0).then_some(n);
    let calls = d(from.send_calls, to.send_calls);
    st.send_pack_size_mb = (calls > 0).then(|| d(from.send_bytes, to.send_bytes) as f64 / MB);
    st.send_wait_ms = avg_ms(d(from.send_wait_ns, to.send_wait_ns), calls);
    st.recv_delay_ms = avg_ms(
        d(from.recv_ns, to.recv_ns),
        d(from.recv_frames, to.recv_frames),
    );
    st.hb_send_count = count(d(from.hb_sent, to.hb_sent));
    st.hb_recv_count = count(d(from.hb_recv, to.hb_recv));
    st.hb_rtt_ms = avg_ms(
        d(from.rtt_ns, to.rtt_ns),
        d(from.rtt_samples, to.rtt_samples),
    );
    // One storage round writes what was queued and syncs it.
    st.disk_write_ms = avg_ms(
        d(from.disk_ns, to.disk_ns),
        d(from.disk_rounds, to.disk_rounds),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::HeartbeatResponse;

    fn answer() -> Message {
        Message::HeartbeatResponse(HeartbeatResponse {
            term: 1,
            matched: 0,
            durable: 0,
            last_index: 0,
            applied: 0,
            priority: 0,
            minority: false,
        })
    }

    #[test]
    fn an_answer_is_timed_from_the_heartbeat_it_answers() {
        // Two heartbeats out before the first answer: the answer is to the first (answers
        // come in order), so the round trip is 30 ms, not the 10 ms since the second.
        let st = NodeStats::default();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        st.heartbeat_out(1, 2, t0);
        st.heartbeat_out(1, 2, t0 + ms(20));
        st.on_consensus_in(1, 2, &answer(), t0 + ms(30));
        st.on_consensus_in(1, 2, &answer(), t0 + ms(50));
        let s = st.snapshot((0, 0));
        assert_eq!(s.rtt_samples, 2);
        assert_eq!(s.rtt_ns, nanos(ms(30) + ms(30)));
        // One that could not be sent is neither counted nor waited for.
        st.heartbeat_out(1, 3, t0);
        st.heartbeat_unsent(1, 3);
        st.on_consensus_in(1, 3, &answer(), t0 + ms(5));
        assert_eq!(st.snapshot((0, 0)).rtt_samples, 2);
        assert_eq!(st.snapshot((0, 0)).hb_sent, 0);
    }

    #[test]
    fn items_are_averages_and_sums_over_the_window_and_null_without_samples() {
        let from = Snapshot::default();
        let to = Snapshot {
            send_bytes: 3 << 20,
            send_calls: 4,
            send_wait_ns: 8_000_000,
            recv_frames: 2,
            recv_ns: 3_000_000,
            hb_sent: 5,
            hb_recv: 0,
            rtt_samples: 2,
            rtt_ns: 1_000_000,
            disk_rounds: 4,
            disk_ns: 2_000_000,
        };
        let mut st = Statistics::default();
        fill(&mut st, from, to);
        assert_eq!(st.send_pack_size_mb, Some(3.0));
        assert_eq!(st.send_wait_ms, Some(2.0));
        assert_eq!(st.recv_delay_ms, Some(1.5));
        assert_eq!(st.hb_send_count, Some(5));
        assert_eq!(st.hb_recv_count, None);
        assert_eq!(st.hb_rtt_ms, Some(0.5));
        assert_eq!(st.disk_write_ms, Some(0.5));
        let mut idle = Statistics::default();
        fill(&mut idle, to, to);
        assert_eq!(idle, Statistics::default());
    }
}
