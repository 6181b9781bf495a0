//! Proposals per second one core pushes through a 3-replica in-memory cluster (`dcf_sim::Pump`):
//! messages are delivered at once, storage reports durable at once, so this measures the consensus
//! core alone (batching, pipelining, commit counting, entry sharing).
//!
//! `cargo bench -p dcf-core --bench consensus` (env: DCF_BENCH_ENTRIES, DCF_BENCH_BATCH).

use std::time::{Duration, Instant};

use bytes::Bytes;
use dcf_core::consensus::ReplicaConfig;
use dcf_sim::Pump;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Ticks until node 1 (the configured leader) accepts writes.
fn elect(c: &mut Pump) {
    for _ in 0..1000 {
        c.advance(Duration::from_millis(50));
        if c.node(1).can_write() {
            return;
        }
    }
    panic!("no leader");
}

fn main() {
    let total = env("DCF_BENCH_ENTRIES", 2_000_000);
    let batch = env("DCF_BENCH_BATCH", 256);
    let payload = Bytes::from(vec![7u8; 16]);
    let mut c = Pump::new(3, |id| ReplicaConfig {
        max_inflight_bytes: 64 << 20,
        max_batch_bytes: 256 << 10,
        max_inflight_msgs: 256,
        ..ReplicaConfig::new(id)
    });
    elect(&mut c);
    let start_commit = c.node(1).commit_index();
    let t0 = Instant::now();
    let mut proposed = 0u64;
    while proposed < total {
        let items = (0..batch).map(|k| (proposed + k, payload.clone()));
        let now = c.now;
        c.node(1).propose_batch(items, now).expect("propose");
        proposed += batch;
        c.settle();
    }
    let elapsed = t0.elapsed();
    let committed = c.r.iter().map(|r| r.commit_index()).min().unwrap() - start_commit;
    assert!(committed >= total, "only {committed} of {total} committed");
    let rate = committed as f64 / elapsed.as_secs_f64();
    println!(
        "consensus_3replica_inmemory_commit: {rate:.0} entries/s ({committed} entries of 16 B, batch {batch}, {:.3} s, 1 core; target > 1000000 entries/s)",
        elapsed.as_secs_f64()
    );
}
