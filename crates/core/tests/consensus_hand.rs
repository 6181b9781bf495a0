//! Interaction tests of single rules on hand-driven replicas (the simulator covers the
//! rules together, under faults).

use std::time::Duration;

use bytes::Bytes;
use dcf_core::consensus::{
    AppendHeader, AppendResponse, Message, ProposeError, ReplicaConfig, Role, RunMode, VoteRequest,
    COMMIT_NOTICE_DELAY,
};
use dcf_core::types::{HardState, Index, NodeId};
use dcf_sim::Pump;

const T: Duration = Duration::from_millis(100);

fn cluster(n: u32) -> Pump {
    cluster_with(n, |_| {})
}

/// Node 1 leads once half an election timeout passed; `tune` adjusts each node's
/// configuration.
fn cluster_with(n: u32, tune: impl Fn(&mut ReplicaConfig)) -> Pump {
    let mut h = Pump::new(n, |id| {
        let mut cfg = ReplicaConfig {
            election_timeout: T,
            heartbeat_interval: T / 4,
            ..ReplicaConfig::new(id)
        };
        tune(&mut cfg);
        cfg
    });
    h.advance(T / 2);
    assert!(h.node(1).can_write(), "node 1 leads");
    h
}

/// Proposes `n` entries at node 1, delivers everything, returns the last index.
fn propose(h: &mut Pump, n: u64) -> Index {
    let now = h.now;
    let items = (0..n).map(|k| (k, Bytes::from_static(b"payload")));
    let range = h.node(1).propose_batch(items, now).unwrap();
    h.settle();
    range.end - 1
}

#[test]
fn leader_counts_its_own_entries_only_once_durable() {
    let mut h = cluster(3);
    h.down.insert(3);
    h.hold.insert(1);
    let i = propose(&mut h, 3);
    assert_eq!(h.node(2).persisted_index(), i);
    assert!(h.node(1).commit_index() < i, "node 2 alone is not a quorum");
    let (idx, term) = h.held[&1];
    h.node(1).persisted(idx, term);
    h.settle();
    assert_eq!(h.node(1).commit_index(), i);
}

#[test]
fn stale_persisted_reports_are_ignored() {
    let mut h = cluster(3);
    let last = h.node(2).last_index();
    let term = h.node(2).term();
    h.node(2).persisted(last + 5, term);
    h.node(2).persisted(last, term + 7);
    assert_eq!(h.node(2).persisted_index(), last);
}

#[test]
fn pre_vote_persists_nothing_and_votes_once_per_term() {
    let mut h = cluster(3);
    propose(&mut h, 1);
    h.down.insert(1);
    h.hard_states.clear();
    let now = h.now + T * 3;
    h.now = now;
    // Node 2 times out: its pre-vote must not touch the hard state.
    h.node(2).tick(now);
    assert_eq!(h.node(2).role(), Role::PreCandidate);
    let ready = h.node(2).take_ready();
    assert!(ready.hard_state.is_none());
    let term = h.node(2).term();
    // Node 3 grants a real vote to node 2 in term+1, then refuses node 1 in the same term.
    let req = |candidate| VoteRequest {
        term: term + 1,
        candidate,
        last_index: 100,
        last_term: term,
        pre_vote: false,
        force: true,
        minority: false,
    };
    h.node(3).step(2, Message::Vote(req(2)), now);
    h.node(3).step(1, Message::Vote(req(1)), now);
    let ready = h.node(3).take_ready();
    assert_eq!(
        ready.hard_state,
        Some(HardState {
            term: term + 1,
            vote: 2
        })
    );
    let granted: Vec<(NodeId, bool)> = ready
        .messages
        .iter()
        .filter_map(|(to, m)| match m {
            Message::VoteResponse(v) => Some((*to, v.granted)),
            _ => None,
        })
        .collect();
    assert_eq!(granted, vec![(2, true), (1, false)]);
}

#[test]
fn follower_commit_never_passes_what_it_shares_with_the_leader() {
    let mut h = cluster(3);
    let before = h.node(3).commit_index();
    let term = h.node(3).term();
    let last = h.node(3).last_index();
    // An empty append claiming a far commit: the follower only knows its log matches up
    // to prev, so its commit stops there.
    let hdr = AppendHeader {
        term,
        leader: 1,
        prev_index: last,
        prev_term: h.node(3).term_at(last).unwrap(),
        commit: last + 50,
        leader_last_index: last + 50,
        leader_first_index: 1,
        cluster_min_applied: 0,
        minority: false,
    };
    let now = h.now;
    h.node(3).step(
        1,
        Message::Append {
            header: hdr,
            entries: vec![],
        },
        now,
    );
    assert!(h.node(3).commit_index() <= last);
    assert!(h.node(3).commit_index() >= before);
}

#[test]
fn stale_leader_steps_down_on_a_higher_term() {
    let mut h = cluster(3);
    let term = h.node(1).term();
    let now = h.now;
    let resp = AppendResponse {
        term: term + 3,
        reject: true,
        index: 0,
        hint_term: 0,
        reject_prev: 0,
        durable: 0,
        last_index: 0,
        applied: 0,
        priority: 0,
        minority: false,
    };
    h.node(1).step(2, Message::AppendResponse(resp), now);
    assert_eq!(h.node(1).role(), Role::Follower);
    assert_eq!(h.node(1).term(), term + 3);
    assert_eq!(
        h.node(1).propose(1, Bytes::new(), now),
        Err(ProposeError::NotLeader { leader: None })
    );
}

#[test]
fn compact_keeps_uncommitted_entries() {
    let mut h = cluster(3);
    h.down.insert(2);
    h.down.insert(3);
    let i = propose(&mut h, 5);
    let c = h.node(1).commit_index();
    assert!(c < i);
    h.node(1).compact(i + 10);
    assert_eq!(h.node(1).first_index(), c + 1);
    assert_eq!(h.node(1).last_index(), i);
}

#[test]
fn conflicting_suffix_is_truncated_in_ready() {
    let mut h = cluster(3);
    h.down.insert(2);
    h.down.insert(3);
    let stale = propose(&mut h, 3);
    // Node 1 is cut off; 2 and 3 elect a new leader that overwrites 1's suffix.
    h.down.clear();
    h.down.insert(1);
    // With DCF's narrow timeout spread (T..1.1T) and 5 ms ticks, 2 and 3 may time out on
    // the same tick and split the vote a few times before one wins.
    let mut leader = None;
    for _ in 0..40 {
        h.advance(T / 2);
        leader = [2, 3]
            .into_iter()
            .find(|&id| h.node(id).role() == Role::Leader);
        if leader.is_some() {
            break;
        }
    }
    let l = leader.expect("2 or 3 becomes leader");
    h.down.clear();
    h.advance(T);
    let new_term = h.node(l).term();
    assert_eq!(h.node(1).term(), new_term);
    assert_eq!(h.node(1).last_index(), h.node(l).last_index());
    let last = h.node(1).last_index();
    assert_eq!(h.node(1).term_at(last), Some(new_term));
    assert!(last < stale || h.node(1).term_at(stale) == Some(new_term));
}

/// Of five nodes, node 1 (the first leader) goes down with node 3 holding the best
/// priority and node 2 campaigning first: node 2 wins and must decide about handing off to
/// node 3 (nodes 2, 4 and 5 commit without it).
fn handoff_to_three(hold_three: bool) -> Pump {
    handoff_to_three_with(hold_three, |_| {})
}

fn handoff_to_three_with(hold_three: bool, tune: impl Fn(&mut ReplicaConfig)) -> Pump {
    let mut h = cluster_with(5, tune);
    propose(&mut h, 2);
    h.node(3).set_priority(9);
    if hold_three {
        h.hold.insert(3);
    }
    h.down.insert(1);
    // Past the lease, node 2 campaigns before node 3's own timer fires.
    h.now += T * 2;
    let now = h.now;
    h.node(2).timeout_now(now);
    h.settle();
    assert_eq!(h.node(2).role(), Role::Leader);
    h
}

#[test]
fn handoff_waits_for_the_best_peer_and_gives_up_without_progress() {
    let mut h = handoff_to_three(true);
    // Node 3 never reports its log durable: node 2 leads but holds writes (and its
    // LEADER notification) while it waits, then keeps leadership after 10 s.
    h.advance(Duration::from_secs(9));
    assert_eq!(h.node(2).role(), Role::Leader);
    assert!(!h.node(2).can_write());
    h.advance(Duration::from_millis(1200));
    assert!(h.node(2).can_write());
    assert_eq!(h.node(2).role(), Role::Leader);
}

#[test]
fn handoff_promotes_the_best_peer_once_it_caught_up() {
    let mut h = handoff_to_three(true);
    h.advance(Duration::from_secs(2));
    assert!(!h.node(2).can_write());
    // Node 3's storage catches up: node 2 promotes it without ever accepting writes.
    h.release();
    h.advance(T);
    assert!(h.node(3).can_write());
    assert_ne!(h.node(2).role(), Role::Leader);
}

#[test]
fn handoff_sends_promote_three_times_then_keeps_leadership() {
    // Node 3 never acts on PROMOTE (elections disabled there).
    let mut h = handoff_to_three_with(false, |c| {
        if c.id == 3 {
            c.run_mode = RunMode::Disabled;
        }
    });
    let term = h.node(2).term();
    // PROMOTE at once, after 100 ms and after 200 ms; leadership is kept 100 ms later.
    h.advance(Duration::from_millis(250));
    assert!(!h.node(2).can_write(), "still promoting");
    h.advance(Duration::from_millis(100));
    assert!(h.node(2).can_write());
    assert_eq!((h.node(2).role(), h.node(2).term()), (Role::Leader, term));
}

#[test]
fn a_commit_reaches_idle_followers_by_a_notice_only_after_a_short_delay() {
    let mut h = cluster(3);
    let first = propose(&mut h, 1);
    assert_eq!(h.node(1).commit_index(), first);
    assert!(h.node(2).commit_index() < first, "no notice at once");
    // The next append carries the commit instead.
    let second = propose(&mut h, 1);
    assert!(h.node(2).commit_index() >= first);
    assert!(h.node(3).commit_index() >= first);
    h.advance(COMMIT_NOTICE_DELAY + Duration::from_millis(5));
    assert_eq!(h.node(2).commit_index(), second);
    assert_eq!(h.node(3).commit_index(), second);
}

#[test]
fn proposals_between_two_readies_travel_in_one_append_per_follower() {
    let mut h = cluster(3);
    let now = h.now;
    for k in 0..5u64 {
        h.node(1)
            .propose(k, Bytes::from_static(b"payload"), now)
            .unwrap();
    }
    let ready = h.node(1).take_ready();
    assert_eq!(ready.entries.len(), 5);
    let appends: Vec<(NodeId, usize)> = ready
        .messages
        .iter()
        .filter_map(|(to, m)| match m {
            Message::Append { entries, .. } => Some((*to, entries.len())),
            _ => None,
        })
        .collect();
    assert_eq!(appends, vec![(2, 5), (3, 5)]);
    assert!(!h.node(1).has_ready());
}

#[test]
fn a_leader_stepping_down_still_sends_its_last_proposals() {
    let mut h = cluster(3);
    let now = h.now;
    let i = h
        .node(1)
        .propose(7, Bytes::from_static(b"payload"), now)
        .unwrap();
    h.node(1).demote(now);
    let ready = h.node(1).take_ready();
    let to: Vec<NodeId> = ready
        .messages
        .iter()
        .filter_map(|(to, m)| match m {
            Message::Append { entries, .. } if entries.iter().any(|e| e.index == i) => Some(*to),
            _ => None,
        })
        .collect();
    assert_eq!(to, vec![2, 3]);
}

/// Takes node 1's Ready with its entries made durable; returns the appends it sends node 2
/// and their entry bytes, and keeps every message in `wire` (the round trip still ahead).
fn take_appends(h: &mut Pump, wire: &mut Vec<(NodeId, Message)>) -> (usize, usize) {
    let ready = h.node(1).take_ready();
    if let Some(e) = ready.entries.last() {
        h.node(1).persisted(e.index, e.term);
    }
    let (mut n, mut bytes) = (0, 0);
    for (to, m) in ready.messages {
        if let (2, Message::Append { entries, .. }) = (to, &m) {
            n += 1;
            bytes += entries.iter().map(|e| e.data.len()).sum::<usize>();
        }
        wire.push((to, m));
    }
    (n, bytes)
}

/// Delivers what `take_appends` kept, then everything that follows.
fn deliver(h: &mut Pump, wire: Vec<(NodeId, Message)>) {
    let now = h.now;
    for (to, m) in wire {
        h.node(to).step(1, m, now);
    }
    h.settle();
    let last = h.node(1).last_index();
    for id in 2..=3 {
        assert_eq!(h.node(id).last_index(), last);
    }
    assert_eq!(h.node(1).commit_index(), last);
}

/// On a wide-area link the answers to a whole round trip's appends are still on their
/// way: a leader whose driver sends an append of one 8 KiB entry each pass must go on
/// sending, or the round trip caps the rate (64 such appends per 10 ms is 52 MB/s).
#[test]
fn a_follower_without_answers_gets_256_appends_in_flight() {
    let mut h = cluster(3);
    let now = h.now;
    let (mut sent, mut wire) = (0, Vec::new());
    for k in 0..300u64 {
        h.node(1)
            .propose(k, Bytes::from(vec![7u8; 8192]), now)
            .unwrap();
        sent += take_appends(&mut h, &mut wire).0;
    }
    assert_eq!(sent, 256, "the window of appends, not one per round trip");
    // The answers arrive: the window opens again and the rest goes out.
    deliver(&mut h, wire);
}

/// Full appends stop at 8 MiB of entries in flight per follower: a 10 ms round trip at
/// over 500 MB/s, and a bound on what a slow follower makes the leader queue.
#[test]
fn a_follower_without_answers_gets_8_mib_of_entries_in_flight() {
    let mut h = cluster(3);
    let now = h.now;
    let items = (0..20_000u64).map(|k| (k, Bytes::from(vec![7u8; 1024])));
    h.node(1).propose_batch(items, now).unwrap();
    let mut wire = Vec::new();
    let (_, bytes) = take_appends(&mut h, &mut wire);
    assert!(bytes >= 7 << 20, "{bytes} bytes in flight");
    assert!(bytes <= (8 << 20) + (64 << 10), "{bytes} bytes in flight");
    deliver(&mut h, wire);
}
