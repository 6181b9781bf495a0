//! The leader's view of one peer: where to send next, what it holds, what is in flight.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::types::Index;

/// Replication pacing set by `pause_peer` (DCF's `dcf_pause_rep`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pace {
    Off,
    /// At least this long between two AppendEntries batches.
    Interval(Duration),
    /// No AppendEntries at all (heartbeats still go out).
    Indefinite,
}

#[derive(Debug)]
pub(crate) struct Progress {
    pub next: Index,
    pub matched: Index,
    /// Probe: one AppendEntries at a time until a reply tells where the logs match.
    pub probing: bool,
    pub probe_sent: bool,
    /// (last index sent, bytes) per AppendEntries not yet acknowledged durable.
    pub inflight: VecDeque<(Index, usize)>,
    pub inflight_bytes: usize,
    pub last_ack: Instant,
    pub last_send: Option<Instant>,
    pub pace: Pace,
    /// Heartbeat replies in a row that show sent entries missing.
    pub stall: u32,
    /// The highest commit index sent to the peer.
    pub commit_sent: u64,
}

impl Progress {
    pub fn new(next: Index, now: Instant) -> Progress {
        Progress {
            next,
            matched: 0,
            probing: true,
            probe_sent: false,
            inflight: VecDeque::new(),
            inflight_bytes: 0,
            last_ack: now,
            last_send: None,
            pace: Pace::Off,
            stall: 0,
            commit_sent: 0,
        }
    }

    pub fn become_probe(&mut self, next: Index) {
        self.next = next.max(self.matched + 1);
        self.probing = true;
        self.probe_sent = false;
        self.inflight.clear();
        self.inflight_bytes = 0;
        self.stall = 0;
    }

    /// The peer holds everything up to `matched` (durable up to `durable`).
    pub fn on_ack(&mut self, matched: Index, durable: Index) -> bool {
        let advanced = durable > self.matched;
        if advanced {
            self.matched = durable;
            self.stall = 0;
        }
        if self.probing {
            self.probing = false;
            self.probe_sent = false;
            self.inflight.clear();
            self.inflight_bytes = 0;
            self.next = matched.max(self.matched) + 1;
        } else {
            self.next = self.next.max(matched.max(self.matched) + 1);
        }
        while let Some(&(last, bytes)) = self.inflight.front() {
            if last > self.matched {
                break;
            }
            self.inflight.pop_front();
            self.inflight_bytes -= bytes;
        }
        advanced
    }
}
