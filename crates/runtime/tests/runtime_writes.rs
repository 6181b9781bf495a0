//! universal_write, data_commit_index and pause_rep (SPEC Part C §1.2, B6 flow control).

mod common;

use common::*;
use dcf_runtime::api::CommitIndexKind;

#[test]
fn universal_write_from_a_follower_lands_at_the_returned_index() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let f = c.node(leader % 3 + 1);
    wait_for(LONG, "the follower to know the leader", || {
        f.dcf.leader_info(1).ok().flatten().is_some()
    });
    let mut expect = Vec::new();
    for k in 1..11u64 {
        let i = f
            .dcf
            .universal_write(1, &payload(k), k)
            .expect("universal_write on a follower")
            .expect("the leader answered");
        expect.push((i, k));
    }
    let i = c
        .node(leader)
        .dcf
        .universal_write(1, &payload(11), 11)
        .unwrap()
        .expect("on the leader it is a plain write");
    expect.push((i, 11));
    for n in &c.nodes {
        wait_keys(n, &(1..12).collect::<Vec<_>>(), LONG);
        check_in_order(n);
        let got = n.applied();
        for e in &expect {
            assert!(
                got.contains(e),
                "node {}: (index, key) {e:?} in {got:?}",
                n.id
            );
        }
    }
}

#[test]
fn universal_write_without_a_leader_fails() {
    let c = Cluster::new(3);
    c.node(2).dcf.start(2, &c.json).unwrap();
    assert!(c.node(2).dcf.universal_write(1, b"x", 1).is_err());
    assert!(c.node(2).dcf.write(1, b"x", 1).is_err());
}

#[test]
fn data_commit_index_local_leader_and_consensus() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let idx = write_keys(c.node(leader), 1..21);
    let last = *idx.last().unwrap();
    for n in &c.nodes {
        wait_keys(n, &(1..21).collect::<Vec<_>>(), LONG);
    }
    let l = c.node(leader);
    for kind in [
        CommitIndexKind::Local,
        CommitIndexKind::Leader,
        CommitIndexKind::Consensus,
    ] {
        assert_eq!(
            l.dcf.data_commit_index(1, kind).unwrap(),
            Some(last),
            "leader, {kind:?}"
        );
    }
    let f = c.node(leader % 3 + 1);
    wait_for(LONG, "the follower's local commit index", || {
        f.dcf.data_commit_index(1, CommitIndexKind::Local).unwrap() == Some(last)
    });
    assert_eq!(
        f.dcf.data_commit_index(1, CommitIndexKind::Leader).unwrap(),
        Some(last),
        "follower asks the leader"
    );
    assert_eq!(
        f.dcf
            .data_commit_index(1, CommitIndexKind::Consensus)
            .unwrap(),
        Some(last),
        "follower, CONSENSUS"
    );
}

#[test]
fn pause_rep_holds_one_follower_back_until_resumed() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let l = c.node(leader);
    let paused = c.node(leader % 3 + 1);
    let other = c
        .nodes
        .iter()
        .find(|n| n.id != leader && n.id != paused.id)
        .unwrap();
    assert!(l.dcf.pause_rep(1, paused.id, 1_000_001).is_err());
    assert!(
        paused.dcf.pause_rep(1, leader, 1000).is_err(),
        "pause_rep on a non-leader"
    );
    l.dcf
        .pause_rep(1, paused.id, u32::MAX)
        .expect("pause indefinitely");
    write_keys(l, 1..21);
    wait_keys(other, &(1..21).collect::<Vec<_>>(), LONG);
    assert!(
        paused.applied_keys().is_empty(),
        "a paused follower received {:?}",
        paused.applied_keys()
    );
    // Paused for 0.2 s between batches: slow, but it catches up.
    l.dcf.pause_rep(1, paused.id, 200_000).unwrap();
    wait_keys(paused, &(1..21).collect::<Vec<_>>(), LONG);
    l.dcf.pause_rep(1, paused.id, 0).unwrap();
    write_keys(l, 21..31);
    wait_keys(paused, &(21..31).collect::<Vec<_>>(), LONG);
    check_in_order(paused);
}

#[test]
fn nothing_reaches_after_writer_until_a_majority_has_it() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let l = c.node(leader);
    let (term, _) = l.dcf.term_and_role(1).unwrap();
    for n in c.nodes.iter().filter(|n| n.id != leader) {
        l.dcf.pause_rep(1, n.id, u32::MAX).unwrap();
    }
    let idx = write_keys(l, 1..6);
    // Three election timeouts with both followers paused: heartbeats still flow (no new
    // election) and nothing commits.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(
        l.applied().is_empty(),
        "after_writer before a majority had the entry"
    );
    assert!(
        l.dcf.data_commit_index(1, CommitIndexKind::Local).unwrap() < Some(idx[0]),
        "committed with no follower"
    );
    assert_eq!(
        l.dcf.term_and_role(1).unwrap(),
        (term, dcf_runtime::api::DcfRole::Leader),
        "pausing replication cost the leadership"
    );
    for n in c.nodes.iter().filter(|n| n.id != leader) {
        l.dcf.pause_rep(1, n.id, 0).unwrap();
    }
    for n in &c.nodes {
        wait_keys(n, &(1..6).collect::<Vec<_>>(), LONG);
        check_in_order(n);
    }
}
