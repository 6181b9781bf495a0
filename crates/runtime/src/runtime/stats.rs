//! Counters behind `dcf_query_statistics_info` that the runtime measures where frames are
//! handed to and taken from the transport. Process-wide, as DCF's (one node per process).
//! They only ever grow; the statistics window subtracts two snapshots.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::consensus::Message;
use crate::query::Statistics;
use crate::types::{NodeId, StreamId};

struct Counters {
    send_bytes: AtomicU64,
    send_calls: AtomicU64,
    send_wait_ns: AtomicU64,
    recv_frames: AtomicU64,
    recv_ns: AtomicU64,
    hb_sent: AtomicU64,
    hb_recv: AtomicU64,
    rtt_samples: AtomicU64,
    rtt_ns: AtomicU64,
}

static COUNTERS: Counters = Counters {
    send_bytes: AtomicU64::new(0),
    send_calls: AtomicU64::new(0),
    send_wait_ns: AtomicU64::new(0),
    recv_frames: AtomicU64::new(0),
    recv_ns: AtomicU64::new(0),
    hb_sent: AtomicU64::new(0),
    hb_recv: AtomicU64::new(0),
    rtt_samples: AtomicU64::new(0),
    rtt_ns: AtomicU64::new(0),
};

/// When the last heartbeat to each peer went out, for the round trip to its answer.
static HB_OUT: Mutex<BTreeMap<(StreamId, NodeId), Instant>> = Mutex::new(BTreeMap::new());

fn add(c: &AtomicU64, v: u64) {
    c.fetch_add(v, Ordering::Relaxed);
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A frame of `bytes` was handed to the transport, which took `wait` to accept it.
pub fn on_send(bytes: usize, wait: Duration) {
    add(&COUNTERS.send_bytes, bytes as u64);
    add(&COUNTERS.send_calls, 1);
    add(&COUNTERS.send_wait_ns, nanos(wait));
}

/// A consensus message is about to go to `to`.
pub fn on_consensus_out(stream: StreamId, to: NodeId, msg: &Message) {
    if let Message::Heartbeat(_) = msg {
        add(&COUNTERS.hb_sent, 1);
        HB_OUT.lock().insert((stream, to), Instant::now());
    }
}

/// A consensus message arrived from `from` (before it is handled).
pub fn on_consensus_in(stream: StreamId, from: NodeId, msg: &Message) {
    match msg {
        Message::Heartbeat(_) => add(&COUNTERS.hb_recv, 1),
        Message::HeartbeatResponse(_) => {
            let sent = HB_OUT.lock().remove(&(stream, from));
            if let Some(t) = sent {
                add(&COUNTERS.rtt_samples, 1);
                add(&COUNTERS.rtt_ns, nanos(t.elapsed()));
            }
        }
        _ => {}
    }
}

/// A received frame took `took` to decode and hand on.
pub fn on_received(took: Duration) {
    add(&COUNTERS.recv_frames, 1);
    add(&COUNTERS.recv_ns, nanos(took));
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

/// The counters now, with the storage writer's (rounds, time in them).
pub fn snapshot(disk: (u64, u64)) -> Snapshot {
    let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let c = &COUNTERS;
    Snapshot {
        send_bytes: g(&c.send_bytes),
        send_calls: g(&c.send_calls),
        send_wait_ns: g(&c.send_wait_ns),
        recv_frames: g(&c.recv_frames),
        recv_ns: g(&c.recv_ns),
        hb_sent: g(&c.hb_sent),
        hb_recv: g(&c.hb_recv),
        rtt_samples: g(&c.rtt_samples),
        rtt_ns: g(&c.rtt_ns),
        disk_rounds: disk.0,
        disk_ns: disk.1,
    }
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
