//! The status documents as DCF fills them: terms numbered from 1 (so the first elected term
//! is 2), and is_in_major only while this node and the voters it hears form a majority.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

fn doc(n: &TestNode) -> Value {
    serde_json::from_str(&n.dcf.stream_info(1).unwrap()).unwrap()
}

#[test]
fn a_fresh_node_shows_term_one_outside_the_majority() {
    let c = Cluster::new(3);
    // Node 2 alone: a follower in its start grace, then pre-voting in vain.
    let n = c.node(2);
    n.dcf.start(2, &c.json).unwrap();
    let d = doc(n);
    assert_eq!(d["term"], 1);
    assert_eq!(d["is_in_major"], 0);
    assert_eq!(n.dcf.term_and_role(1).unwrap().0, 1);
}

#[test]
fn the_first_election_is_term_two_and_a_cut_off_node_leaves_the_majority() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    wait_for(LONG, "every node in the majority", || {
        c.nodes.iter().all(|n| doc(n)["is_in_major"] == 1)
    });
    for n in &c.nodes {
        let (term, _) = n.dcf.term_and_role(1).unwrap();
        assert_eq!(
            doc(n)["term"],
            term,
            "node {}: document and API agree",
            n.id
        );
        // Only the configured leader campaigns during the start grace, so one election.
        assert_eq!(
            term, 2,
            "node {}: DCF numbers the first elected term 2",
            n.id
        );
    }
    let alone = c.nodes.iter().find(|n| n.id != leader).unwrap();
    for n in c.nodes.iter().filter(|n| n.id != alone.id) {
        n.dcf.stop().unwrap();
    }
    // ELECTION_TIMEOUT is 1 s in these tests.
    wait_for(
        Duration::from_secs(5),
        "the lone node to leave the majority",
        || doc(alone)["is_in_major"] == 0,
    );
}
