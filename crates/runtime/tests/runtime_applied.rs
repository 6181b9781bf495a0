//! The cluster's minimum applied index (dcf_get_cluster_min_applied_idx), which openGauss
//! uses to choose what to truncate (SPEC B4 flow E).

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::*;

#[test]
fn cluster_min_applied_holds_at_a_stopped_member() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let f = c.node(leader % 3 + 1);
    let idx = write_keys(c.node(leader), 1..6);
    wait_keys(f, &(1..6).collect::<Vec<_>>(), LONG);
    let l = c.node(leader);
    wait_for(
        LONG,
        "the leader to learn the follower's applied index",
        || l.dcf.cluster_min_applied(1).unwrap() == idx[4],
    );
    f.dcf.stop().unwrap();
    let idx = write_keys(l, 6..21);
    let other = (1..=3).find(|i| *i != leader && *i != f.id).unwrap();
    wait_keys(c.node(other), &(6..21).collect::<Vec<_>>(), LONG);
    wait_for(
        LONG,
        "a follower to learn the minimum from the leader",
        || c.node(other).dcf.cluster_min_applied(1).unwrap() > 0,
    );
    let held = l.dcf.cluster_min_applied(1).unwrap();
    assert!(held < idx[0], "minimum {held} passed the stopped node");
    assert!(c.node(other).dcf.cluster_min_applied(1).unwrap() <= held);
    f.dcf.start(f.id, &c.json).unwrap();
    wait_keys(f, &(6..21).collect::<Vec<_>>(), LONG);
    wait_for(LONG, "the minimum to reach the last entry", || {
        l.dcf.cluster_min_applied(1).unwrap() == idx[14]
    });
}

/// SPEC B4 flow E: openGauss truncates below this value; it must follow each member.
#[test]
fn cluster_min_applied_waits_for_the_slowest_member() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let slow = c.node(leader % 3 + 1);
    // The slow node consumes nothing with a key of `hold` or more.
    let hold = Arc::new(AtomicU64::new(6));
    let h = hold.clone();
    let ev = slow.events.clone();
    slow.dcf.callbacks().update(move |cb| {
        cb.consensus_notify = Some(Arc::new(move |_, index, _, key| {
            if key >= h.load(Ordering::Relaxed) {
                return -1;
            }
            ev.lock().push(Ev::Applied {
                index,
                key,
                leader_cb: false,
            });
            0
        }));
    });
    let idx = write_keys(c.node(leader), 1..21);
    let last = *idx.last().unwrap();
    let other = (1..=3).find(|i| *i != leader && *i != slow.id).unwrap();
    wait_keys(c.node(other), &(1..21).collect::<Vec<_>>(), LONG);
    wait_keys(slow, &(1..6).collect::<Vec<_>>(), LONG);
    let l = c.node(leader);
    wait_for(
        LONG,
        "the leader to learn the slow node's applied index",
        || l.dcf.cluster_min_applied(1).unwrap() == idx[4],
    );
    wait_for(
        LONG,
        "followers to learn the minimum from the leader",
        || {
            c.node(other).dcf.cluster_min_applied(1).unwrap() == idx[4]
                && slow.dcf.cluster_min_applied(1).unwrap() == idx[4]
        },
    );
    hold.store(u64::MAX, Ordering::Relaxed);
    wait_keys(slow, &(1..21).collect::<Vec<_>>(), LONG);
    wait_for(LONG, "the minimum to reach the last entry", || {
        l.dcf.cluster_min_applied(1).unwrap() == last
    });
}

#[test]
fn rewind_lowers_what_the_node_reports_as_applied() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let idx = write_keys(c.node(leader), 1..21);
    for n in &c.nodes {
        wait_keys(n, &(1..21).collect::<Vec<_>>(), LONG);
    }
    let f = c.node(leader % 3 + 1);
    let l = c.node(leader);
    wait_for(LONG, "everything applied everywhere", || {
        l.dcf.cluster_min_applied(1).unwrap() == idx[19]
    });
    // The follower rewinds (a walreceiver restart) and refuses from key 11 on: it has
    // really consumed only up to key 10, and the cluster minimum must not claim more.
    let ev = f.events.clone();
    f.dcf.callbacks().update(move |cb| {
        cb.consensus_notify = Some(Arc::new(move |_, index, _, key| {
            if key > 10 {
                return -1;
            }
            ev.lock().push(Ev::Applied {
                index,
                key,
                leader_cb: false,
            });
            0
        }));
    });
    f.dcf.set_applied_index(1, idx[4]).unwrap();
    wait_for(LONG, "keys 6..=10 again", || {
        f.applied_keys().iter().filter(|k| **k == 10).count() == 2
    });
    let v: serde_json::Value = serde_json::from_str(&f.dcf.stream_info(1).unwrap()).unwrap();
    assert_eq!(v["applied_index"].as_u64(), Some(idx[9]));
    write_keys(l, 21..23);
    wait_for(LONG, "the leader's minimum to come down to key 10", || {
        l.dcf.cluster_min_applied(1).unwrap() <= idx[9]
    });
}
