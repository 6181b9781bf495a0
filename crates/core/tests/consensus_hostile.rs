//! Messages no real cluster sends: refused whole, counted, reported at most once a second,
//! and never adopted or persisted; the cluster keeps committing afterwards.

use std::time::Duration;

use bytes::Bytes;
use dcf_core::consensus::{
    AppendHeader, AppendResponse, Event, Heartbeat, HeartbeatResponse, Membership, Message,
    Replica, ReplicaConfig, Role, TimeoutNow, VoteRequest, MAX_TERM, TERM_REACH,
};
use dcf_core::types::{HardState, Index, NodeId};
use dcf_sim::Pump;

const T: Duration = Duration::from_millis(100);

fn cluster() -> Pump {
    let mut h = Pump::new(3, |id| ReplicaConfig {
        election_timeout: T,
        heartbeat_interval: T / 4,
        ..ReplicaConfig::new(id)
    });
    h.advance(T / 2);
    assert!(h.node(1).can_write(), "node 1 leads");
    h
}

fn commits(h: &mut Pump) -> Index {
    let leader = (1..=3)
        .find(|&id| h.node(id).can_write())
        .expect("a leader");
    let now = h.now;
    let i = h
        .node(leader)
        .propose(7, Bytes::from_static(b"x"), now)
        .unwrap();
    h.settle();
    assert!(h.node(leader).commit_index() >= i, "the cluster commits");
    i
}

fn vote(term: u64, candidate: NodeId, force: bool) -> Message {
    Message::Vote(VoteRequest {
        term,
        candidate,
        last_index: 1 << 30,
        last_term: term,
        pre_vote: false,
        force,
        minority: false,
    })
}

fn append(term: u64, leader: NodeId, prev_index: Index, last: Index, commit: Index) -> Message {
    Message::Append {
        header: AppendHeader {
            term,
            leader,
            prev_index,
            prev_term: 0,
            commit,
            leader_last_index: last,
            leader_first_index: 1,
            cluster_min_applied: 0,
            minority: false,
        },
        entries: Vec::new(),
    }
}

/// Steps `msg` into `to` from `from`; returns the refusal events it produced.
fn inject(h: &mut Pump, from: NodeId, to: NodeId, msg: Message) -> Vec<(String, u64)> {
    let now = h.now;
    h.node(to).step(from, msg, now);
    let ready = h.node(to).take_ready();
    assert!(ready.hard_state.is_none(), "nothing persisted");
    ready
        .events
        .into_iter()
        .filter_map(|e| match e {
            Event::Refused {
                from: f,
                reason,
                count,
            } => {
                assert_eq!(f, from);
                Some((reason, count))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_vote_with_the_highest_term_is_refused_and_never_persisted() {
    let mut h = cluster();
    let term = h.node(2).term();
    h.hard_states.clear();
    for to in [1, 2] {
        let ev = inject(&mut h, 3, to, vote(u64::MAX, 3, true));
        assert_eq!(ev.len(), 1, "reported");
        assert!(ev[0].0.contains("beyond reach"), "{}", ev[0].0);
    }
    h.settle();
    assert_eq!(h.node(2).term(), term);
    assert!(h.hard_states.iter().all(|(_, hs)| hs.term < MAX_TERM));
    assert_eq!(h.node(1).role(), Role::Leader);
    commits(&mut h);
}

#[test]
fn terms_beyond_reach_are_refused_in_every_message_kind() {
    let mut h = cluster();
    let term = h.node(2).term();
    let far = term + TERM_REACH + 1;
    let msgs = vec![
        append(far, 1, 0, 0, 0),
        Message::Heartbeat(Heartbeat {
            term: far,
            leader: 1,
            commit: 0,
            leader_last_index: 0,
            leader_first_index: 1,
            cluster_min_applied: 0,
            minority: false,
        }),
        vote(MAX_TERM, 3, false),
        Message::TimeoutNow(TimeoutNow {
            term: far,
            leader: 1,
        }),
        Message::AppendResponse(AppendResponse {
            term: far,
            reject: true,
            index: 0,
            hint_term: 0,
            reject_prev: 0,
            durable: 0,
            last_index: 0,
            applied: 0,
            priority: 0,
            minority: false,
        }),
    ];
    for m in msgs {
        let before = h.node(2).refused_messages();
        inject(&mut h, 1, 2, m);
        assert_eq!(h.node(2).refused_messages(), before + 1);
    }
    assert_eq!(h.node(2).term(), term);
    // Within reach is a real (if odd) term: adopted as before.
    let now = h.now;
    h.node(2).step(3, append(term + 5000, 3, 0, 0, 0), now);
    assert_eq!(h.node(2).term(), term + 5000);
}

#[test]
fn indexes_near_the_top_of_the_range_are_refused_without_overflow() {
    let mut h = cluster();
    let term = h.node(1).term();
    let resp = |index: Index| {
        Message::AppendResponse(AppendResponse {
            term,
            reject: true,
            index,
            hint_term: 0,
            reject_prev: u64::MAX,
            durable: index,
            last_index: index,
            applied: index,
            priority: 0,
            minority: false,
        })
    };
    assert_eq!(inject(&mut h, 2, 1, resp(u64::MAX)).len(), 1);
    let hb = HeartbeatResponse {
        term,
        matched: u64::MAX,
        durable: u64::MAX,
        last_index: u64::MAX,
        applied: u64::MAX,
        priority: 0,
        minority: false,
    };
    inject(&mut h, 2, 1, Message::HeartbeatResponse(hb));
    // A follower: an append past the top, a commit past the leader's last index.
    inject(&mut h, 1, 2, append(term, 1, u64::MAX - 1, u64::MAX, 0));
    inject(&mut h, 1, 2, append(term, 1, 0, 5, 9));
    assert_eq!(h.node(1).refused_messages(), 2);
    assert_eq!(h.node(2).refused_messages(), 2);
    h.settle();
    commits(&mut h);
}

#[test]
fn a_message_naming_another_leader_than_its_sender_is_refused() {
    let mut h = cluster();
    let term = h.node(2).term();
    // Node 3 speaks as if it were the leader, node 1.
    inject(&mut h, 3, 2, append(term, 1, 0, 0, 0));
    let t = TimeoutNow { term, leader: 1 };
    inject(&mut h, 3, 2, Message::TimeoutNow(t));
    assert_eq!(h.node(2).refused_messages(), 2);
    assert_eq!(h.node(2).leader(), Some(1));
    assert_eq!(h.node(2).role(), Role::Follower);
}

#[test]
fn refusals_are_reported_at_most_once_a_second_with_a_count() {
    let mut h = cluster();
    let first = inject(&mut h, 3, 2, vote(u64::MAX, 3, false));
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].1, 1);
    for _ in 0..10 {
        assert!(inject(&mut h, 3, 2, vote(u64::MAX, 3, false)).is_empty());
    }
    h.now += Duration::from_secs(1);
    let later = inject(&mut h, 3, 2, vote(u64::MAX, 3, false));
    assert_eq!(later, vec![(later[0].0.clone(), 11)]);
    assert_eq!(h.node(2).refused_messages(), 12);
}

#[test]
fn timeout_now_is_obeyed_only_from_the_current_leader_in_its_term() {
    let mut h = cluster();
    let term = h.node(2).term();
    // From a follower (naming itself), and from the leader with another term: ignored.
    inject(
        &mut h,
        3,
        2,
        Message::TimeoutNow(TimeoutNow { term, leader: 3 }),
    );
    let later = TimeoutNow {
        term: term + 1,
        leader: 1,
    };
    inject(&mut h, 1, 2, Message::TimeoutNow(later));
    assert_eq!(h.node(2).role(), Role::Follower);
    assert_eq!(h.node(2).term(), term);
    // From the leader in its term: node 2 campaigns at once, with forced votes.
    let now = h.now;
    h.node(2)
        .step(1, Message::TimeoutNow(TimeoutNow { term, leader: 1 }), now);
    assert_eq!(h.node(2).role(), Role::Candidate);
    h.settle();
    assert_eq!(h.node(2).role(), Role::Leader);
}

#[test]
fn a_forced_vote_beyond_the_next_term_does_not_pass_the_lease() {
    let mut h = cluster();
    let term = h.node(2).term();
    let now = h.now;
    // A storm of forced votes from node 3 with ever higher terms: each is answered, none
    // granted while node 2 hears its leader.
    for k in 2..10 {
        h.node(2).step(3, vote(term + k, 3, true), now);
        let ready = h.node(2).take_ready();
        let granted = ready
            .messages
            .iter()
            .any(|(_, m)| matches!(m, Message::VoteResponse(r) if r.granted));
        assert!(!granted, "term +{k}");
    }
    assert_eq!(h.node(2).leader(), Some(1));
    // The next term with force (what a TIMEOUT_NOW's target sends) still passes it.
    h.node(2).step(3, vote(term + 1, 3, true), now);
    let ready = h.node(2).take_ready();
    assert!(ready
        .messages
        .iter()
        .any(|(_, m)| matches!(m, Message::VoteResponse(r) if r.granted)));
}

#[test]
fn a_node_whose_recorded_term_is_out_of_range_refuses_to_start() {
    let m = Membership {
        members: vec![dcf_sim::member(1, dcf_core::consensus::ConfRole::Follower)],
    };
    let hs = HardState {
        term: u64::MAX,
        vote: 0,
    };
    let r = Replica::new(
        ReplicaConfig::new(1),
        m,
        hs,
        (0, 0),
        vec![],
        1,
        std::time::Instant::now(),
    );
    let err = r.err().expect("refused");
    assert!(err.to_string().contains("rebuild"), "{err}");
}

#[test]
fn a_leader_passes_a_forced_vote_only_to_the_peer_it_hands_off_to() {
    let mut h = cluster();
    let term = h.node(1).term();
    let now = h.now;
    h.node(1).step(3, vote(term + 1, 3, true), now);
    let ready = h.node(1).take_ready();
    assert!(!ready
        .messages
        .iter()
        .any(|(_, m)| matches!(m, Message::VoteResponse(r) if r.granted)));
    assert_eq!(h.node(1).role(), Role::Leader);
    assert_eq!(h.node(1).term(), term);
}
