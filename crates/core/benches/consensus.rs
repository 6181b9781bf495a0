//! Proposals per second one core pushes through a 3-replica in-memory cluster: messages are
//! delivered at once, storage reports durable at once, so this measures the consensus core
//! alone (batching, pipelining, commit counting, entry sharing).
//!
//! `cargo bench --bench consensus` (env: DCF_BENCH_ENTRIES, DCF_BENCH_BATCH).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dcf_core::consensus::{ConfRole, Member, Membership, Message, Replica, ReplicaConfig};
use dcf_core::types::{HardState, NodeId};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Cluster {
    nodes: Vec<Replica>,
    queue: VecDeque<(NodeId, NodeId, Message)>,
    now: Instant,
}

impl Cluster {
    fn new() -> Cluster {
        let members = (1..=3)
            .map(|id| {
                Member::new(
                    id,
                    if id == 1 {
                        ConfRole::Leader
                    } else {
                        ConfRole::Follower
                    },
                )
            })
            .collect();
        let m = Membership { members };
        let now = Instant::now();
        let nodes = (1..=3)
            .map(|id| {
                let cfg = ReplicaConfig {
                    max_inflight_bytes: 64 << 20,
                    max_batch_bytes: 256 << 10,
                    max_inflight_msgs: 256,
                    ..ReplicaConfig::new(id)
                };
                Replica::new(
                    cfg,
                    m.clone(),
                    HardState::default(),
                    (0, 0),
                    vec![],
                    id as u64,
                    now,
                )
                .expect("replica")
            })
            .collect();
        Cluster {
            nodes,
            queue: VecDeque::new(),
            now,
        }
    }

    /// Drains every replica's output and delivers every message until quiet.
    fn settle(&mut self) {
        loop {
            let mut busy = false;
            for k in 0..self.nodes.len() {
                let r = &mut self.nodes[k];
                if !r.has_ready() {
                    continue;
                }
                busy = true;
                let ready = r.take_ready();
                if let Some(last) = ready.entries.last() {
                    r.persisted(last.index, last.term);
                }
                if ready.commit_index.is_some() {
                    let c = r.commit_index();
                    r.applied(c);
                }
                let from = r.id();
                for (to, msg) in ready.messages {
                    self.queue.push_back((from, to, msg));
                }
            }
            while let Some((from, to, msg)) = self.queue.pop_front() {
                busy = true;
                let now = self.now;
                self.nodes[to as usize - 1].step(from, msg, now);
            }
            if !busy {
                return;
            }
        }
    }

    fn elect(&mut self) {
        for _ in 0..1000 {
            self.now += Duration::from_millis(50);
            let now = self.now;
            for r in &mut self.nodes {
                r.tick(now);
            }
            self.settle();
            if self.nodes[0].can_write() {
                return;
            }
        }
        panic!("no leader");
    }
}

fn main() {
    let total = env("DCF_BENCH_ENTRIES", 2_000_000);
    let batch = env("DCF_BENCH_BATCH", 256);
    let payload = Bytes::from(vec![7u8; 16]);
    let mut c = Cluster::new();
    c.elect();
    let start_commit = c.nodes[0].commit_index();
    let t0 = Instant::now();
    let mut proposed = 0u64;
    while proposed < total {
        let items = (0..batch).map(|k| (proposed + k, payload.clone()));
        let now = c.now;
        c.nodes[0].propose_batch(items, now).expect("propose");
        proposed += batch;
        c.settle();
    }
    let elapsed = t0.elapsed();
    let committed = c.nodes.iter().map(|r| r.commit_index()).min().unwrap() - start_commit;
    assert!(committed >= total, "only {committed} of {total} committed");
    let rate = committed as f64 / elapsed.as_secs_f64();
    println!(
        "consensus_3replica_inmemory_commit: {rate:.0} entries/s ({committed} entries of 16 B, batch {batch}, {:.3} s, 1 core; target > 1000000 entries/s)",
        elapsed.as_secs_f64()
    );
}
