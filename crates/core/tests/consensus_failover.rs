//! The failover rules: a stopping leader hands over to its best peer, and crash evidence
//! starts a pre-vote that only peers with evidence of their own grant (virtual time).

use dcf_sim as sim;

use std::time::Duration;

use bytes::Bytes;
use dcf_core::consensus::{ConfRole, Member, ProposeError, ReplicaConfig, Role};
use dcf_core::types::NodeId;
use sim::{member, Sim, MS};

const T: u64 = 100 * MS;

fn cluster(members: Vec<Member>) -> Sim {
    Sim::new(11, members, |id| ReplicaConfig {
        election_timeout: Duration::from_micros(T),
        heartbeat_interval: Duration::from_micros(T / 4),
        ..ReplicaConfig::new(id)
    })
}

fn followers(n: NodeId) -> Vec<Member> {
    (1..=n).map(|id| member(id, ConfRole::Follower)).collect()
}

fn elect(sim: &mut Sim) -> NodeId {
    assert!(
        sim.run_until(30 * T, |s| s.leader().is_some()).unwrap(),
        "no leader elected"
    );
    sim.leader().unwrap()
}

fn write(sim: &mut Sim, n: usize) {
    let (_, _, hi) = sim.propose(n).unwrap().expect("leader accepts writes");
    let ok = sim
        .run_until(20 * T, |s| {
            s.nodes
                .values()
                .filter_map(|n| n.replica.as_ref())
                .all(|r| r.commit_index() >= hi)
        })
        .unwrap();
    assert!(ok, "entry {hi} not committed everywhere");
}

fn others(sim: &Sim, not: NodeId) -> Vec<NodeId> {
    sim.nodes.keys().copied().filter(|&i| i != not).collect()
}

fn try_write(sim: &mut Sim, id: NodeId) -> Result<u64, ProposeError> {
    sim.with(id, |r, now| r.propose(9, Bytes::from_static(b"x"), now))
        .unwrap()
        .expect("node is up")
}

#[test]
fn hand_over_goes_to_the_highest_priority_peer_and_refuses_writes_meanwhile() {
    let mut m = followers(3);
    // Whoever leads, the hand-over must pick the best-ranked of the other two.
    m[0].priority = 5;
    m[1].priority = 9;
    m[2].priority = 7;
    let mut sim = cluster(m);
    let l = elect(&mut sim);
    write(&mut sim, 3);
    let expected = match l {
        2 => 3,
        _ => 2,
    };
    let target = sim.with(l, |r, now| r.hand_over(now)).unwrap().flatten();
    assert_eq!(target, Some(expected));
    let err = try_write(&mut sim, l).unwrap_err();
    assert!(
        matches!(err, ProposeError::NotLeader { .. }),
        "write during the hand-over: {err:?}"
    );
    let moved = sim
        .run_until(T / 2, |s| s.leader() == Some(expected))
        .unwrap();
    assert!(moved, "node {expected} did not take over within T/2");
    assert!(!sim.replica(l).unwrap().can_write());
    assert!(try_write(&mut sim, l).is_err(), "old leader wrote after it");
    write(&mut sim, 2);
}

#[test]
fn hand_over_prefers_the_leaders_group_over_a_higher_priority() {
    let mut m = followers(3);
    m[0].role = ConfRole::Leader;
    for x in &mut m {
        x.group = 1;
        x.priority = 1;
    }
    m[2].group = 2;
    m[2].priority = 50;
    let mut sim = cluster(m);
    assert_eq!(
        elect(&mut sim),
        1,
        "the configured leader, nobody ranks above it"
    );
    write(&mut sim, 2);
    let target = sim.with(1, |r, now| r.hand_over(now)).unwrap().flatten();
    assert_eq!(target, Some(2));
    assert!(sim.run_until(T / 2, |s| s.leader() == Some(2)).unwrap());
    // No priority hand-off back to the stopping node, nor on to node 3 (other group).
    sim.run_for(5 * T).unwrap();
    assert_eq!(sim.leader(), Some(2));
}

#[test]
fn hand_over_without_priorities_picks_the_most_caught_up_peer() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    write(&mut sim, 2);
    let ids = others(&sim, l);
    let (slow, fast) = (ids[0], ids[1]);
    // Entries stop flowing to `slow`; heartbeats still reach it and it still answers.
    sim.with(l, |r, now| r.pause_peer(slow, None, now).unwrap())
        .unwrap();
    write_at_least_on(&mut sim, fast, 5);
    let target = sim.with(l, |r, now| r.hand_over(now)).unwrap().flatten();
    assert_eq!(target, Some(fast));
    assert!(sim.run_until(T / 2, |s| s.leader() == Some(fast)).unwrap());
}

/// Writes `n` entries and waits until `node` holds them (others may lag).
fn write_at_least_on(sim: &mut Sim, node: NodeId, n: usize) {
    let (_, _, hi) = sim.propose(n).unwrap().expect("leader accepts writes");
    let ok = sim
        .run_until(20 * T, |s| {
            s.replica(node).is_some_and(|r| r.commit_index() >= hi)
        })
        .unwrap();
    assert!(ok);
}

#[test]
fn hand_over_skips_a_dead_peer_and_with_none_left_only_refuses_writes() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    write(&mut sim, 2);
    let ids = others(&sim, l);
    sim.crash(ids[0]);
    // Not heard for an election timeout: not a candidate any more.
    sim.run_for(T + T / 2).unwrap();
    let target = sim.with(l, |r, now| r.hand_over(now)).unwrap().flatten();
    assert_eq!(target, Some(ids[1]));

    // Both peers die just now: still heard within T, so one is chosen, and never leads.
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    for id in others(&sim, l) {
        sim.crash(id);
    }
    let target = sim.with(l, |r, now| r.hand_over(now)).unwrap().flatten();
    assert!(target.is_some());
    assert!(sim.replica(l).unwrap().handing_over());
    assert!(try_write(&mut sim, l).is_err());
    // The caller's bound decides when it stops; until then the node takes no write, also
    // after the transfer is given up (one election timeout) and it steps down.
    sim.run_for(3 * T).unwrap();
    assert!(try_write(&mut sim, l).is_err());
    assert_ne!(role(&sim, l), Role::Leader, "no quorum: it stepped down");
    sim.run_for(10 * T).unwrap();
    assert_ne!(role(&sim, l), Role::Leader, "a stopping node campaigned");
}

#[test]
fn hand_over_on_a_follower_does_nothing() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    let f = others(&sim, l)[0];
    assert_eq!(
        sim.with(f, |r, now| r.hand_over(now)).unwrap().flatten(),
        None
    );
    sim.run_for(3 * T).unwrap();
    assert_eq!(sim.leader(), Some(l));
}

fn term_of(sim: &Sim, id: NodeId) -> u64 {
    sim.replica(id).unwrap().term()
}

#[test]
fn crash_evidence_at_every_survivor_elects_well_before_the_timeout() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    write(&mut sim, 2);
    sim.run_for(T / 8).unwrap();
    sim.crash(l);
    let ids = others(&sim, l);
    // As probes sent on their own schedules report it: a few milliseconds apart.
    for &id in &ids {
        sim.with(id, |r, now| r.leader_gone(l, now)).unwrap();
        sim.run_for(T / 20).unwrap();
    }
    // Without evidence the survivors would wait T after the last heartbeat at least.
    let ok = sim
        .run_until(T / 4, |s| s.leader().is_some_and(|n| n != l))
        .unwrap();
    assert!(ok, "no new leader within T/4 of the evidence");
}

#[test]
fn crash_evidence_at_one_node_only_is_refused_by_a_peer_that_hears_the_leader() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    write(&mut sim, 2);
    let ids = others(&sim, l);
    let (a, b) = (ids[0], ids[1]);
    let term = term_of(&sim, l);
    // A false "port unreachable" at `a` while the leader lives.
    sim.with(a, |r, now| r.leader_gone(l, now)).unwrap();
    let pre = sim
        .run_until(T / 10, |s| {
            s.replica(a).unwrap().role() == Role::PreCandidate
        })
        .unwrap();
    assert!(pre, "evidence starts a pre-vote within T/20");
    sim.run_for(4 * T).unwrap();
    assert_eq!(
        sim.leader(),
        Some(l),
        "a one-sided signal deposed the leader"
    );
    assert_eq!(term_of(&sim, l), term);
    assert_eq!(sim.replica(b).unwrap().leader(), Some(l));
    assert_eq!(sim.replica(a).unwrap().leader(), Some(l));
    // Repeated signals within a heartbeat interval cost no second pre-vote.
    sim.with(a, |r, now| r.leader_gone(l, now)).unwrap();
    sim.with(a, |r, now| r.leader_gone(l, now)).unwrap();
    sim.run_for(4 * T).unwrap();
    assert_eq!(sim.leader(), Some(l));
    assert_eq!(term_of(&sim, l), term);
}

#[test]
fn crash_evidence_granted_only_with_own_evidence_when_the_leader_is_dead() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    write(&mut sim, 2);
    sim.run_for(T / 8).unwrap();
    let ids = others(&sim, l);
    let (a, b) = (ids[0], ids[1]);
    let term = term_of(&sim, a);
    sim.crash(l);
    sim.with(a, |r, now| r.leader_gone(l, now)).unwrap();
    // `b` heard the leader a moment ago and has no evidence: it refuses; `a` cannot win.
    sim.run_for(T / 4).unwrap();
    assert_eq!(
        term_of(&sim, a),
        term,
        "a pre-vote without a majority moved the term"
    );
    assert!(sim.leader().is_none());
    // Once `b` has evidence of its own, its grant (or its own pre-vote) elects at once.
    sim.with(b, |r, now| r.leader_gone(l, now)).unwrap();
    let ok = sim
        .run_until(T / 4, |s| s.leader().is_some_and(|n| n != l))
        .unwrap();
    assert!(ok, "no new leader within T/4 of the second evidence");
}

fn role(sim: &Sim, id: NodeId) -> Role {
    sim.replica(id).unwrap().role()
}
