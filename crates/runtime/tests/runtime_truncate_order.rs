//! dcf_truncate in order with rewinds (dcf_set_applied_index while running) and with
//! replication: a truncation never cuts what a rewind asked for, and a leader that
//! truncates right where a lagging follower is never fails to read an entry back.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::*;

fn first_index(n: &TestNode) -> u64 {
    let v: serde_json::Value = serde_json::from_str(&n.dcf.stream_info(1).unwrap()).unwrap();
    v["first_index"].as_u64().unwrap()
}

/// A restarted walreceiver rewinds the applied index while the node's own truncation
/// thread cuts the log at what it read as applied just before: whichever comes first, the
/// entries the rewind asks for are delivered and the stream goes on.
#[test]
fn a_truncation_racing_a_rewind_never_cuts_what_the_rewind_needs() {
    let c = Cluster::start(1);
    c.wait_leader(LONG);
    let n = c.node(1);
    let mut key = 1u64;
    for round in 0..200 {
        let idx = write_keys(n, key..key + 20);
        let keys: Vec<u64> = (key..key + 20).collect();
        key += 20;
        wait_keys(n, &keys, LONG);
        let back = first_index(n).max(idx[0]) - 1;
        let upto = *idx.last().unwrap() + 1;
        let last_key = key - 1;
        let mark = n.events.lock().len();
        let go = Arc::new(Barrier::new(2));
        let (g, d) = (go.clone(), n.dcf.clone());
        let t = std::thread::spawn(move || {
            g.wait();
            d.truncate(1, upto)
        });
        go.wait();
        // Refused only if the truncation came first and already dropped `back + 1`.
        let rewound = n.dcf.set_applied_index(1, back).is_ok();
        t.join().unwrap().expect("truncate");
        if rewound {
            wait_for(LONG, "the rewound entries to be delivered again", || {
                n.events.lock()[mark..]
                    .iter()
                    .any(|e| matches!(e, Ev::Applied { key, .. } if *key == last_key))
            });
        }
        assert_eq!(
            n.exceptions(),
            0,
            "round {round}: MISSING_LOG raised (the stream stopped?)"
        );
    }
    // The stream still takes writes and applies them.
    write_keys(n, key..key + 5);
    wait_keys(n, &(key..key + 5).collect::<Vec<_>>(), LONG);
    assert_eq!(n.exceptions(), 0);
}

/// A follower that lags by more than the leader caches catches up while the leader
/// truncates again and again right at what the follower needs next: the leader never
/// fails reading an entry back (its stream would stop) and keeps taking writes; the
/// follower either catches up or learns it cannot (MISSING_LOG).
#[test]
fn truncating_at_a_lagging_followers_next_entry_keeps_the_leader_going() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let l = c.node(leader);
    let f = leader % 3 + 1;
    l.dcf.faults().cut(f);
    c.node(f).dcf.faults().cut(leader);
    // 16 MB the follower misses: more than the leader's payload cache (8 MiB).
    let big = vec![0x3cu8; 100_000];
    let mut key = 1u64;
    for _ in 0..160 {
        l.dcf
            .write(1, &big, key)
            .expect("write while the follower is cut off");
        key += 1;
    }
    // Slow the catch-up so that it spans many truncations.
    l.dcf.pause_rep(1, f, 5_000).unwrap();
    l.dcf.faults().heal(f);
    c.node(f).dcf.faults().heal(leader);
    wait_for(LONG, "the follower to catch up for a while", || {
        l.dcf.node_last_disk_index(1, f).unwrap_or(0) >= 20
    });
    // Slow disk rounds: a truncation then spans several sends to the follower.
    l.dcf.faults().disk.slow_sync(Duration::from_millis(20));
    let end = Instant::now() + Duration::from_secs(4);
    let mut truncations = 0;
    while Instant::now() < end {
        // A little past what the follower has: the entries it needs next.
        let matched = l.dcf.node_last_disk_index(1, f).unwrap_or(0);
        let cut = matched + 1 + truncations % 8;
        l.dcf.truncate(1, cut).expect("truncate on the leader");
        truncations += 1;
        l.dcf
            .write(1, &payload(key), key)
            .unwrap_or_else(|e| panic!("the leader stopped taking writes: {e}"));
        key += 1;
    }
    assert!(truncations > 10);
    l.dcf.faults().disk.slow_sync(Duration::ZERO);
    l.dcf.pause_rep(1, f, 0).unwrap();
    let last = key - 1;
    wait_keys(l, &[last], LONG);
    l.dcf
        .write(1, &payload(key), key)
        .expect("the leader still takes writes");
    c.stop_all();
}
