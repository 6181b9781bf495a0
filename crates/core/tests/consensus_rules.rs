//! One test per rule of the consensus core, on small simulated clusters with a perfect
//! network (virtual time, deterministic).

use dcf_sim as sim;

use std::time::Duration;

use bytes::Bytes;
use dcf_core::consensus::{
    AdminError, ConfChange, ConfRole, Event, Exception, Member, Membership, ProposeError,
    ReplicaConfig, Role, RunMode, WorkMode,
};
use dcf_core::types::NodeId;
use sim::{member, Sim, MS};

const T: u64 = 100 * MS;

fn cfg(id: NodeId) -> ReplicaConfig {
    ReplicaConfig {
        election_timeout: Duration::from_micros(T),
        heartbeat_interval: Duration::from_micros(T / 4),
        ..ReplicaConfig::new(id)
    }
}

fn cluster(members: Vec<Member>) -> Sim {
    Sim::new(7, members, cfg)
}

fn cluster_with(members: Vec<Member>, f: impl Fn(&mut ReplicaConfig)) -> Sim {
    Sim::new(7, members, |id| {
        let mut c = cfg(id);
        f(&mut c);
        c
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

/// Proposes `n` entries at the leader and waits until every live node commits them.
fn write(sim: &mut Sim, n: usize) -> u64 {
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
    hi
}

fn role(sim: &Sim, id: NodeId) -> Role {
    sim.replica(id).unwrap().role()
}

#[test]
fn single_node_stream_leads_at_once() {
    let mut sim = cluster(followers(1));
    assert_eq!(role(&sim, 1), Role::Leader);
    assert_eq!(elect(&mut sim), 1);
    write(&mut sim, 3);
}

#[test]
fn configured_leader_is_elected_first() {
    let mut m = followers(3);
    m[1].role = ConfRole::Leader;
    let mut sim = cluster(m);
    assert_eq!(elect(&mut sim), 2);
    assert_eq!(sim.replica(2).unwrap().term(), 1);
}

/// Nodes that announced leadership (LeaderReady) in `sim.events` and later left it.
fn announced_then_left(sim: &Sim) -> Vec<NodeId> {
    let mut announced = std::collections::BTreeSet::new();
    let mut left = Vec::new();
    for (id, ev) in &sim.events {
        match ev {
            Event::LeaderReady { .. } => {
                announced.insert(*id);
            }
            Event::RoleChanged { role, .. } if *role != Role::Leader && announced.remove(id) => {
                left.push(*id);
            }
            _ => {}
        }
    }
    left
}

fn announced(sim: &Sim, id: NodeId) -> bool {
    sim.events
        .iter()
        .any(|(n, e)| *n == id && matches!(e, Event::LeaderReady { .. }))
}

#[test]
fn priority_handoff_happens_before_the_leader_is_announced() {
    let mut m = followers(3);
    m[0].role = ConfRole::Leader;
    m[2].priority = 9;
    let mut sim = cluster(m);
    // Node 1 wins first but hands off to the live peer with a higher priority before it
    // accepts writes: it never announces leadership, so it never announces losing it.
    assert_eq!(elect(&mut sim), 3);
    let led = |id: NodeId| {
        sim.events.iter().any(|(n, e)| {
            *n == id
                && matches!(
                    e,
                    Event::RoleChanged {
                        role: Role::Leader,
                        ..
                    }
                )
        })
    };
    assert!(led(1), "node 1 was elected first");
    assert!(!announced(&sim, 1));
    assert!(announced(&sim, 3));
    write(&mut sim, 2);
    // A runtime priority (AUTO_ELC_PRIORITY_EN) above 3's does not move the settled
    // leader; it counts at the next election (a forced winner does not hand off).
    sim.with(2, |r, _| r.set_priority(20)).unwrap();
    sim.run_for(20 * T).unwrap();
    assert_eq!(sim.leader(), Some(3));
    sim.with(3, |r, now| r.demote(now)).unwrap();
    assert!(sim.run_until(40 * T, |s| s.leader() == Some(2)).unwrap());
    assert!(announced_then_left(&sim).iter().all(|&id| id == 3));
}

#[test]
fn standbys_raising_priority_never_move_an_announced_leader() {
    let mut m = followers(3);
    m[0].role = ConfRole::Leader;
    let mut sim = cluster(m);
    assert_eq!(elect(&mut sim), 1);
    // As openGauss: every standby sets its replay position as priority, continuously; the
    // primary stops setting it once it leads.
    for round in 0..200u64 {
        for id in [2, 3] {
            sim.with(id, move |r, _| {
                r.set_priority(1000 + round * 10 + u64::from(id))
            })
            .unwrap();
        }
        if round % 10 == 0 {
            write(&mut sim, 3);
        }
        sim.run_for(T / 2).unwrap();
    }
    assert_eq!(sim.leader(), Some(1));
    assert_eq!(sim.replica(1).unwrap().term(), 1);
    assert!(announced_then_left(&sim).is_empty());
}

#[test]
fn priority_handoff_prefers_the_previous_leaders_group() {
    let mut m = followers(3);
    m[0].role = ConfRole::Leader;
    m[0].group = 1;
    m[1].group = 1;
    m[1].priority = 1;
    m[2].group = 2;
    m[2].priority = 100;
    let mut sim = cluster(m);
    // Node 1 has followed no leader yet: its own group counts, so 2 beats 3's priority.
    assert_eq!(elect(&mut sim), 2);
    assert!(!announced(&sim, 1));
    sim.run_for(10 * T).unwrap();
    assert_eq!(sim.leader(), Some(2));
    // Node 2 (group 1) fails: whoever wins, node 1 of the previous leader's group ends up
    // leading, although node 3 has the higher priority.
    sim.crash(2);
    assert!(sim.run_until(40 * T, |s| s.leader().is_some()).unwrap());
    assert_eq!(sim.leader(), Some(1));
}

#[test]
fn priority_handoff_skips_logger_and_passive_peers() {
    let mut m = followers(4);
    m[0].role = ConfRole::Leader;
    m[2].role = ConfRole::Logger;
    m[2].priority = 50;
    m[3].role = ConfRole::Passive;
    m[3].priority = 60;
    let mut sim = cluster(m);
    assert_eq!(elect(&mut sim), 1);
    sim.run_for(10 * T).unwrap();
    assert_eq!(sim.leader(), Some(1));
    assert_eq!(sim.replica(1).unwrap().term(), 1);
}

#[test]
fn priority_handoff_ignores_a_peer_that_does_not_answer() {
    let mut m = followers(3);
    m[0].role = ConfRole::Leader;
    m[2].priority = 9;
    let mut sim = cluster(m);
    // Node 3 is down when node 1 takes over: not a candidate, and node 1 leads at once.
    sim.crash(3);
    assert_eq!(elect(&mut sim), 1);
    sim.restart(3).unwrap();
    sim.run_for(20 * T).unwrap();
    assert_eq!(sim.leader(), Some(1));
    assert!(announced_then_left(&sim).is_empty());
}

#[test]
fn priority_ignores_runtime_value_when_auto_priority_is_off() {
    let mut m = followers(3);
    m[0].role = ConfRole::Leader;
    let mut sim = cluster_with(m, |c| c.auto_priority = false);
    assert_eq!(elect(&mut sim), 1);
    sim.with(2, |r, _| r.set_priority(20)).unwrap();
    sim.run_for(20 * T).unwrap();
    assert_eq!(sim.leader(), Some(1));
}

#[test]
fn logger_never_campaigns() {
    let m = vec![
        member(1, ConfRole::Logger),
        member(2, ConfRole::Follower),
        member(3, ConfRole::Follower),
    ];
    let mut sim = cluster(m);
    let l = elect(&mut sim);
    assert_ne!(l, 1);
    write(&mut sim, 3);
    sim.crash(2);
    sim.crash(3);
    sim.run_for(30 * T).unwrap();
    assert_eq!(role(&sim, 1), Role::Logger);
    assert!(!sim.events.iter().any(|(id, e)| *id == 1
        && matches!(
            e,
            Event::RoleChanged {
                role: Role::PreCandidate | Role::Candidate | Role::Leader,
                ..
            }
        )));
    sim.with(1, |r, now| r.timeout_now(now)).unwrap();
    assert_eq!(role(&sim, 1), Role::Logger);
}

#[test]
fn logger_votes_and_counts_toward_commit() {
    let m = vec![
        member(1, ConfRole::Leader),
        member(2, ConfRole::Logger),
        member(3, ConfRole::Follower),
    ];
    let mut sim = cluster(m);
    assert_eq!(elect(&mut sim), 1);
    // Node 3 down: the leader commits with the LOGGER's acks.
    sim.crash(3);
    write(&mut sim, 3);
    sim.restart(3).unwrap();
    write(&mut sim, 1);
    // The leader fails; node 3 can only win with the LOGGER's vote.
    sim.crash(1);
    assert!(sim.run_until(40 * T, |s| s.leader() == Some(3)).unwrap());
    write(&mut sim, 1);
}

#[test]
fn passive_neither_votes_nor_counts_but_receives_the_log() {
    let m = vec![
        member(1, ConfRole::Leader),
        member(2, ConfRole::Follower),
        member(3, ConfRole::Passive),
    ];
    let mut sim = cluster(m);
    assert_eq!(elect(&mut sim), 1);
    let hi = write(&mut sim, 4);
    assert_eq!(sim.replica(3).unwrap().commit_index(), hi);
    assert_eq!(role(&sim, 3), Role::Passive);
    // Without node 2 the leader has no quorum: PASSIVE acks do not count.
    sim.crash(2);
    let (_, _, hi2) = sim.propose(1).unwrap().unwrap();
    sim.run_for(10 * T).unwrap();
    assert!(sim.replica(1).unwrap().commit_index() < hi2);
    assert!(sim.replica(3).unwrap().last_index() >= hi2);
}

#[test]
fn weights_count_in_the_quorum() {
    let mut m = followers(3);
    m[0].role = ConfRole::Leader;
    m[0].weight = 3;
    let mut sim = cluster(m);
    assert_eq!(elect(&mut sim), 1);
    // Weight 3 of 5: node 1 alone is a quorum.
    sim.crash(2);
    sim.crash(3);
    let (_, _, hi) = sim.propose(2).unwrap().unwrap();
    sim.run_for(5 * T).unwrap();
    assert_eq!(sim.replica(1).unwrap().commit_index(), hi);
}

#[test]
fn majority_groups_hold_the_commit() {
    let mut m = followers(3);
    m[0].role = ConfRole::Leader;
    m[0].group = 1;
    m[1].group = 1;
    m[2].group = 2;
    let mut sim = cluster_with(m, |c| c.majority_groups = vec![2]);
    assert_eq!(elect(&mut sim), 1);
    write(&mut sim, 1);
    sim.crash(3);
    let (_, _, hi) = sim.propose(1).unwrap().unwrap();
    sim.run_for(10 * T).unwrap();
    assert!(
        sim.replica(1).unwrap().commit_index() < hi,
        "group 2 does not hold it yet"
    );
    sim.restart(3).unwrap();
    assert!(sim
        .run_until(20 * T, |s| s.replica(1).unwrap().commit_index() >= hi)
        .unwrap());
}

#[test]
fn minority_mode_commits_with_vote_num() {
    let mut sim = cluster(followers(5));
    let l = elect(&mut sim);
    write(&mut sim, 2);
    let survivors: Vec<NodeId> = (1..=5).filter(|&id| id != l).take(2).collect();
    for id in 1..=5 {
        if !survivors.contains(&id) {
            sim.crash(id);
        }
    }
    sim.run_for(10 * T).unwrap();
    assert!(sim.leader().is_none());
    for &id in &survivors {
        let bad = sim
            .with(id, |r, now| {
                r.set_work_mode(WorkMode::Minority { vote_num: 6 }, now)
            })
            .unwrap();
        assert_eq!(
            bad,
            Some(Err(AdminError::InvalidVoteNum {
                vote_num: 6,
                voters: 5
            }))
        );
        sim.with(id, |r, now| {
            r.set_work_mode(WorkMode::Minority { vote_num: 2 }, now)
                .unwrap()
        })
        .unwrap();
    }
    assert!(sim.run_until(30 * T, |s| s.leader().is_some()).unwrap());
    let nl = sim.leader().unwrap();
    // The first election after switching to MINORITY jumps the term by 1000.
    assert!(sim.replica(nl).unwrap().term() > 1000);
    let (_, _, hi) = sim.propose(3).unwrap().unwrap();
    assert!(sim
        .run_until(10 * T, |s| s.replica(nl).unwrap().commit_index() >= hi)
        .unwrap());
    assert!(sim.replica(nl).unwrap().is_healthy(sim.now()));
}

#[test]
fn transfer_moves_leadership_to_the_named_node() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    write(&mut sim, 5);
    let target = if l == 3 { 2 } else { 3 };
    let res = sim
        .with(l, |r, now| r.transfer_leader(target, now))
        .unwrap();
    assert_eq!(res, Some(Ok(())));
    assert!(sim
        .run_until(10 * T, |s| s.leader() == Some(target))
        .unwrap());
    // A follower promotes itself through the leader (dcf_promote_leader on itself).
    let other = (1..=3).find(|&id| id != target).unwrap();
    sim.with(other, |r, now| r.transfer_leader(other, now).unwrap())
        .unwrap();
    assert!(sim
        .run_until(10 * T, |s| s.leader() == Some(other))
        .unwrap());
    write(&mut sim, 1);
}

#[test]
fn transfer_rejects_logger_and_passive_targets() {
    let m = vec![
        member(1, ConfRole::Leader),
        member(2, ConfRole::Logger),
        member(3, ConfRole::Passive),
        member(4, ConfRole::Follower),
    ];
    let mut sim = cluster(m);
    assert_eq!(elect(&mut sim), 1);
    for t in [2, 3] {
        let res = sim
            .with(1, |r, now| r.transfer_leader(t, now))
            .unwrap()
            .unwrap();
        assert!(matches!(res, Err(AdminError::InvalidTarget { .. })));
    }
    let res = sim
        .with(1, |r, now| r.transfer_leader(9, now))
        .unwrap()
        .unwrap();
    assert_eq!(res, Err(AdminError::UnknownNode(9)));
}

#[test]
fn transfer_refuses_a_peer_not_heard_within_the_election_timeout() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    write(&mut sim, 3);
    let t = if l == 3 { 2 } else { 3 };
    // A stopped node sends nothing; handing over to it would leave no leader.
    sim.crash(t);
    sim.run_for(2 * T).unwrap();
    let res = sim.with(l, |r, now| r.transfer_leader(t, now)).unwrap();
    assert!(
        matches!(res, Some(Err(AdminError::InvalidTarget { .. }))),
        "{res:?}"
    );
    // Writes were never held back.
    assert!(sim.propose(1).unwrap().is_some());
}

#[test]
fn transfer_refuses_a_peer_that_needs_truncated_entries() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    write(&mut sim, 3);
    let t = if l == 3 { 2 } else { 3 };
    sim.cut.insert((l, t));
    let (_, _, hi) = sim.propose(10).unwrap().expect("the leader takes writes");
    let committed = sim
        .run_until(10 * T, |s| s.replica(l).unwrap().commit_index() >= hi)
        .unwrap();
    assert!(committed);
    let c = sim.replica(l).unwrap().commit_index();
    sim.with(l, |r, _| r.compact(c)).unwrap();
    // It hears the leader again (and answers), but cannot catch up by replication.
    sim.cut.clear();
    sim.run_for(T).unwrap();
    let res = sim.with(l, |r, now| r.transfer_leader(t, now)).unwrap();
    assert!(
        matches!(res, Some(Err(AdminError::InvalidTarget { .. }))),
        "{res:?}"
    );
    assert!(sim.propose(1).unwrap().is_some());
}

#[test]
fn a_transfer_whose_target_never_campaigns_is_abandoned_after_an_election_timeout() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    write(&mut sim, 3);
    let t = if l == 3 { 2 } else { 3 };
    let res = sim.with(l, |r, now| r.transfer_leader(t, now)).unwrap();
    assert_eq!(res, Some(Ok(())));
    // The target stops before PROMOTE reaches it.
    sim.crash(t);
    assert!(
        sim.propose(1).unwrap().is_none(),
        "writes wait during the transfer"
    );
    let resumed = sim.run_until(T + T / 2, |s| s.leader() == Some(l)).unwrap();
    assert!(resumed, "the old leader does not take writes again");
    write(&mut sim, 2);
    assert_eq!(sim.leader(), Some(l));
}

#[test]
fn demote_steps_down_and_the_cluster_reelects() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    let term = sim.replica(l).unwrap().term();
    sim.with(l, |r, now| r.demote(now)).unwrap();
    assert_eq!(role(&sim, l), Role::Follower);
    assert_eq!(sim.replica(l).unwrap().term(), term);
    assert!(sim.run_until(30 * T, |s| s.leader().is_some()).unwrap());
    assert!(sim.replica(sim.leader().unwrap()).unwrap().term() > term);
    write(&mut sim, 1);
}

#[test]
fn prevote_does_not_disrupt_a_healthy_leader() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    write(&mut sim, 2);
    let term = sim.replica(l).unwrap().term();
    let lonely = if l == 3 { 1 } else { 3 };
    sim.isolate(lonely);
    sim.run_for(30 * T).unwrap();
    // Pre-votes failed, so the isolated node's term did not grow.
    assert_eq!(sim.replica(lonely).unwrap().term(), term);
    sim.cut.clear();
    // An external timeout (dcf_timeout_notify) does not disrupt it either.
    sim.with(lonely, |r, now| r.timeout_now(now)).unwrap();
    sim.run_for(10 * T).unwrap();
    assert_eq!(sim.leader(), Some(l));
    assert_eq!(sim.replica(l).unwrap().term(), term);
    write(&mut sim, 1);
}

#[test]
fn timeout_notify_campaigns_at_once_without_a_leader() {
    let m = vec![
        member(1, ConfRole::Leader),
        member(2, ConfRole::Follower),
        member(3, ConfRole::Logger),
    ];
    // Node 2 would wait 10 T on its own.
    let mut sim = cluster_with(m, |c| {
        if c.id == 2 {
            c.election_timeout = Duration::from_micros(10 * T);
        }
    });
    assert_eq!(elect(&mut sim), 1);
    write(&mut sim, 1);
    sim.crash(1);
    sim.run_for(3 * T / 2).unwrap(); // the LOGGER's leader lease expires
    assert!(sim.leader().is_none());
    sim.with(2, |r, now| r.timeout_now(now)).unwrap();
    // Elected at once; writes may wait a little longer for the priority hand-off, which
    // waits up to two heartbeats for node 1 (heard within node 2's long timeout).
    let leads = |s: &Sim| s.replica(2).is_some_and(|r| r.role() == Role::Leader);
    assert!(sim.run_until(T / 2, leads).unwrap());
    assert!(sim.run_until(T, |s| s.leader() == Some(2)).unwrap());
}

#[test]
fn check_quorum_steps_down_a_cut_off_leader() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    assert!(sim.replica(l).unwrap().is_healthy(sim.now()));
    sim.isolate(l);
    sim.run_for(3 * T).unwrap();
    assert!(!sim.replica(l).unwrap().is_healthy(sim.now()));
    assert_ne!(role(&sim, l), Role::Leader);
    assert!(sim.leader().is_some_and(|n| n != l));
}

#[test]
fn a_leader_that_cannot_hear_hands_over_within_two_election_timeouts() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    write(&mut sim, 2);
    let term = sim.replica(l).unwrap().term();
    // Nothing reaches the leader; what it sends still arrives, so its followers keep hearing
    // heartbeats and their lease refuses ordinary campaigns.
    for o in (1..=3).filter(|&o| o != l) {
        sim.cut.insert((o, l));
    }
    let handed = sim
        .run_until(2 * T, |s| s.leader().is_some_and(|n| n != l))
        .unwrap();
    assert!(
        handed,
        "no writable leader other than {l} within 2 election timeouts"
    );
    assert_ne!(role(&sim, l), Role::Leader);
    let new = sim.leader().unwrap();
    assert!(sim.replica(new).unwrap().term() > term);
    let (_, _, hi) = sim
        .propose(3)
        .unwrap()
        .expect("the new leader accepts writes");
    let committed = sim
        .run_until(T, |s| s.replica(new).unwrap().commit_index() >= hi)
        .unwrap();
    assert!(committed);
    // Once it hears again, the old leader follows and catches up.
    sim.cut.clear();
    let caught_up = sim
        .run_until(5 * T, |s| s.replica(l).unwrap().commit_index() >= hi)
        .unwrap();
    assert!(caught_up);
    assert_eq!(sim.leader(), Some(new));
}

#[test]
fn manual_run_mode_never_elects() {
    let mut m = followers(3);
    m[0].role = ConfRole::Leader;
    let mut sim = cluster_with(m, |c| c.run_mode = RunMode::Manual);
    assert_eq!(role(&sim, 1), Role::Leader);
    sim.run_for(2 * T).unwrap();
    write(&mut sim, 2);
    sim.crash(1);
    sim.run_for(30 * T).unwrap();
    assert!(sim.leader().is_none());
    assert!(!sim.events.iter().any(|(_, e)| matches!(
        e,
        Event::RoleChanged {
            role: Role::PreCandidate,
            ..
        }
    )));
    // Promotion still works in MANUAL mode (switchover); restart the old leader first.
    sim.restart(1).unwrap();
    sim.run_for(2 * T).unwrap();
}

#[test]
fn pause_peer_holds_back_replication_to_it() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    write(&mut sim, 1);
    let slow = if l == 3 { 2 } else { 3 };
    sim.with(l, |r, now| r.pause_peer(slow, None, now).unwrap())
        .unwrap();
    let before = sim.replica(slow).unwrap().last_index();
    let (_, _, hi) = sim.propose(5).unwrap().unwrap();
    assert!(sim
        .run_until(10 * T, |s| s.replica(l).unwrap().commit_index() >= hi)
        .unwrap());
    assert_eq!(sim.replica(slow).unwrap().last_index(), before);
    assert!(sim.replica(l).unwrap().progress(slow).unwrap().paused);
    sim.with(l, |r, now| {
        r.pause_peer(slow, Some(Duration::ZERO), now).unwrap()
    })
    .unwrap();
    assert!(sim
        .run_until(10 * T, |s| s.replica(slow).unwrap().commit_index() >= hi)
        .unwrap());
    let res = sim
        .with(slow, |r, now| r.pause_peer(l, None, now))
        .unwrap()
        .unwrap();
    assert_eq!(res, Err(AdminError::NotLeader));
}

#[test]
fn membership_change_add_promote_remove() {
    let mut m = followers(3);
    m[0].role = ConfRole::Leader;
    let mut sim = cluster(m.clone());
    assert_eq!(elect(&mut sim), 1);
    write(&mut sim, 3);
    // A new node starts with a membership that contains it, as PASSIVE.
    let mut m4 = m.clone();
    m4.push(member(4, ConfRole::Passive));
    sim.add_node(cfg(4), Membership { members: m4 }).unwrap();
    let idx = sim
        .with(1, |r, now| {
            r.propose_conf_change(ConfChange::AddNode(member(4, ConfRole::Passive)), now)
        })
        .unwrap()
        .unwrap()
        .unwrap();
    // One change at a time.
    let again = sim
        .with(1, |r, now| {
            r.propose_conf_change(ConfChange::RemoveNode(2), now)
        })
        .unwrap()
        .unwrap();
    assert_eq!(again, Err(ProposeError::ConfChangePending));
    assert!(sim
        .run_until(10 * T, |s| s.replica(4).unwrap().commit_index() >= idx)
        .unwrap());
    // Promote it to a voter: 4 voters, quorum 3.
    let promote = ConfChange::Update {
        id: 4,
        role: Some(ConfRole::Follower),
        group: None,
        priority: None,
    };
    sim.with(1, |r, now| r.propose_conf_change(promote, now).unwrap())
        .unwrap();
    write(&mut sim, 1);
    assert_eq!(role(&sim, 4), Role::Follower);
    assert!(sim.replica(2).unwrap().membership().is_voter(4));
    sim.crash(2);
    sim.crash(3);
    let (_, _, hi) = sim.propose(1).unwrap().unwrap();
    sim.run_for(5 * T).unwrap();
    assert!(
        sim.replica(1).unwrap().commit_index() < hi,
        "2 of 4 voters are not a quorum"
    );
    sim.restart(2).unwrap();
    assert!(sim
        .run_until(10 * T, |s| s.replica(1).unwrap().commit_index() >= hi)
        .unwrap());
    // Remove node 3: back to 3 voters. Check-quorum may have moved leadership meanwhile.
    let l = elect(&mut sim);
    sim.with(l, |r, now| {
        r.propose_conf_change(ConfChange::RemoveNode(3), now)
            .unwrap()
    })
    .unwrap();
    sim.run_for(3 * T).unwrap();
    assert!(!sim.replica(l).unwrap().membership().contains(3));
    assert!(sim.replica(l).unwrap().progress(3).is_none());
    write(&mut sim, 1);
}

#[test]
fn membership_change_rejects_unsafe_steps() {
    let mut m = followers(3);
    m[0].role = ConfRole::Leader;
    m[1].weight = 2;
    m.push(member(4, ConfRole::Logger));
    let mut sim = cluster(m);
    assert_eq!(elect(&mut sim), 1);
    write(&mut sim, 1);
    let cases = [
        ConfChange::Update {
            id: 2,
            role: Some(ConfRole::Passive),
            group: None,
            priority: None,
        },
        ConfChange::Update {
            id: 4,
            role: Some(ConfRole::Follower),
            group: None,
            priority: None,
        },
        ConfChange::Update {
            id: 1,
            role: Some(ConfRole::Passive),
            group: None,
            priority: None,
        },
        ConfChange::Update {
            id: 3,
            role: Some(ConfRole::Logger),
            group: None,
            priority: None,
        },
        ConfChange::AddNode(member(3, ConfRole::Follower)),
        ConfChange::RemoveNode(9),
        ConfChange::AddNode(Member {
            weight: 2,
            ..member(5, ConfRole::Follower)
        }),
    ];
    for c in cases {
        let res = sim
            .with(1, |r, now| r.propose_conf_change(c.clone(), now))
            .unwrap()
            .unwrap();
        assert!(
            matches!(res, Err(ProposeError::InvalidConfChange(_))),
            "{c:?} gave {res:?}"
        );
    }
    // Group and priority changes are fine.
    let ok = ConfChange::Update {
        id: 3,
        role: None,
        group: Some(4),
        priority: Some(7),
    };
    assert!(sim
        .with(1, |r, now| r.propose_conf_change(ok, now))
        .unwrap()
        .unwrap()
        .is_ok());
    write(&mut sim, 1);
    assert_eq!(
        sim.replica(2)
            .unwrap()
            .membership()
            .member(3)
            .unwrap()
            .group,
        4
    );
}

#[test]
fn writes_wait_for_the_leader_to_apply_its_earlier_entries() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    write(&mut sim, 2);
    let f = if l == 1 { 2 } else { 1 };
    let res = sim
        .with(f, |r, now| r.propose(1, Bytes::from_static(b"x"), now))
        .unwrap()
        .unwrap();
    assert!(matches!(res, Err(ProposeError::NotLeader { leader: Some(x) }) if x == l));
    assert!(sim
        .events
        .iter()
        .any(|(id, e)| *id == l && matches!(e, Event::LeaderReady { .. })));
}

#[test]
fn missing_log_is_raised_when_the_leader_compacted_what_a_follower_needs() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    let lagging = if l == 3 { 2 } else { 3 };
    write(&mut sim, 10);
    sim.wipe(lagging);
    write(&mut sim, 10);
    let c = sim.replica(l).unwrap().commit_index();
    sim.with(l, |r, _| r.compact(c - 2)).unwrap();
    assert_eq!(sim.replica(l).unwrap().first_index(), c - 2);
    sim.restart(lagging).unwrap();
    sim.run_for(5 * T).unwrap();
    assert!(sim
        .events
        .iter()
        .any(|(id, e)| *id == lagging && *e == Event::Exception(Exception::MissingLog)));
}

#[test]
fn rebuilt_follower_starts_from_its_applied_base() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    write(&mut sim, 10);
    let c = sim.replica(l).unwrap().commit_index();
    // The leader keeps entries from c-3 on; a follower rebuilt at applied base c-4 has none.
    sim.with(l, |r, _| r.compact(c - 3)).unwrap();
    let f = if l == 3 { 2 } else { 3 };
    sim.wipe(f);
    let cfg_f = sim.nodes[&f].cfg.clone();
    let m = sim.initial.clone();
    let now = sim.now();
    let r =
        dcf_core::consensus::Replica::new(cfg_f, m, Default::default(), (c - 4, 0), vec![], 1, now)
            .unwrap();
    assert_eq!(
        (r.first_index(), r.last_index(), r.commit_index()),
        (c - 3, c - 4, c - 4)
    );
}

#[test]
fn rebuilt_node_with_unknown_base_term_catches_up_and_then_votes() {
    let mut sim = cluster(followers(3));
    let l = elect(&mut sim);
    write(&mut sim, 10);
    let c = sim.replica(l).unwrap().commit_index();
    sim.with(l, |r, _| r.compact(c - 3)).unwrap();
    let f = if l == 3 { 2 } else { 3 };
    sim.rebuild_unknown_term = true;
    sim.wipe(f);
    sim.rebuild(f).unwrap();
    assert_eq!(sim.replica(f).unwrap().first_index(), c - 3);
    // Blind (no entry, base term unknown): it refuses votes.
    let other = (1..=3).find(|&x| x != l && x != f).unwrap();
    sim.isolate(f);
    let term = sim.replica(f).unwrap().term();
    let req = dcf_core::consensus::VoteRequest {
        term: term + 1,
        candidate: other,
        last_index: c + 100,
        last_term: term,
        pre_vote: false,
        force: true,
        minority: false,
    };
    let ready = sim
        .with(f, |r, now| {
            r.step(other, dcf_core::consensus::Message::Vote(req.clone()), now);
            r.hard_state()
        })
        .unwrap()
        .unwrap();
    assert_ne!(ready.vote, other);
    // Once the leader sent it entries it follows normally and its log matches.
    sim.cut.clear();
    let hi = write(&mut sim, 2);
    assert!(sim.replica(f).unwrap().commit_index() >= hi);
    assert_eq!(
        sim.replica(f).unwrap().term_at(c - 3),
        sim.replica(l).unwrap().term_at(c - 3)
    );
}

#[test]
fn node_diverged_below_the_leaders_first_index_is_rebuilt_and_catches_up() {
    let mut sim = cluster(followers(3));
    let old = elect(&mut sim);
    write(&mut sim, 5);
    // The cut-off leader writes a tail that never commits, and keeps it on disk.
    sim.isolate(old);
    let (l, lo, _) = sim.propose(20).unwrap().expect("old leader still writable");
    assert_eq!(l, old);
    sim.run_for(10 * MS).unwrap();
    sim.crash(old);
    sim.cut.clear();
    let l = elect(&mut sim);
    write(&mut sim, 10);
    let c = sim.replica(l).unwrap().commit_index();
    sim.with(l, |r, _| r.compact(c - 2)).unwrap();
    let first = sim.replica(l).unwrap().first_index();
    // The old leader's log reaches past the new leader's first index, but its entry at the
    // leader's base is of the old term: replication cannot repair it, a build must.
    sim.rebuild_on_missing_log = true;
    sim.restart(old).unwrap();
    let r = sim.replica(old).unwrap();
    assert!(r.last_index() >= first && first > lo);
    assert_ne!(
        r.term_at(first - 1),
        sim.replica(l).unwrap().term_at(first - 1)
    );
    let hi = write(&mut sim, 1);
    assert!(sim.replica(old).unwrap().commit_index() >= hi);
    assert!(sim
        .events
        .iter()
        .any(|(id, e)| *id == old && *e == Event::Exception(Exception::MissingLog)));
}

#[test]
fn errors_read_as_sentences() {
    let known = ProposeError::NotLeader { leader: Some(2) }.to_string();
    assert_eq!(known, "not the leader; the leader is node 2");
    let unknown = ProposeError::NotLeader { leader: None }.to_string();
    assert_eq!(unknown, "not the leader; no leader is known");
}
