//! Membership changes, leadership transfer and minority work mode (SPEC B6, Part C §9).

mod common;

use common::*;
use dcf_runtime::api::{DcfRole, Waited};

/// The roles the node's stream_info shows for every member, by id.
fn roles_seen(n: &TestNode) -> Vec<(u64, String)> {
    let v: serde_json::Value = serde_json::from_str(&n.dcf.stream_info(1).unwrap()).unwrap();
    let mut r: Vec<(u64, String)> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["node_id"].as_u64().unwrap(),
                m["role"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    r.sort();
    r
}

fn role_of(n: &TestNode, id: u64) -> Option<String> {
    roles_seen(n)
        .into_iter()
        .find(|(i, _)| *i == id)
        .map(|(_, r)| r)
}

fn stream_field(n: &TestNode, name: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&n.dcf.stream_info(1).unwrap()).unwrap();
    v[name].clone()
}

#[test]
fn passive_node_joins_gets_the_log_becomes_follower_and_a_node_is_removed() {
    let mut c = Cluster::new(3);
    let port4 = free_udp_port();
    for n in &c.nodes {
        n.dcf.start(n.id, &c.json).unwrap();
    }
    let leader = c.wait_leader(LONG);
    write_keys(c.node(leader), 1..11);
    let waited = c
        .node(leader)
        .dcf
        .add_member(1, 4, "127.0.0.1", u32::from(port4), DcfRole::Passive, 1000)
        .expect("add a PASSIVE member");
    assert_eq!(waited, Waited::Done);
    assert_eq!(role_of(c.node(leader), 4).as_deref(), Some("PASSIVE"));

    // The new node starts with a configuration that contains itself.
    let mut ports = c.ports.clone();
    ports.push(port4);
    let json4 = cluster_json_roles(&ports, &["LEADER", "FOLLOWER", "FOLLOWER", "PASSIVE"]);
    let n4 = make_node(4, &c.root.path().join("node4"));
    n4.dcf.start(4, &json4).expect("start the new node");
    c.ports = ports;
    c.nodes.push(n4);
    write_keys(c.node(leader), 11..21);
    let keys: Vec<u64> = (1..21).collect();
    wait_keys(c.node(4), &keys, LONG);
    check_in_order(c.node(4));
    assert_eq!(
        c.node(4).role(),
        Some(DcfRole::Passive),
        "a PASSIVE member stays PASSIVE"
    );
    assert!(
        c.node(leader).dcf.promote_leader(1, 4, 0).is_err(),
        "a PASSIVE node cannot be promoted"
    );

    let waited = c
        .node(leader)
        .dcf
        .change_member_role(1, 4, DcfRole::Follower, 1000)
        .expect("PASSIVE -> FOLLOWER");
    assert_eq!(waited, Waited::Done);
    wait_for(LONG, "node 4 to see itself FOLLOWER", || {
        role_of(c.node(4), 4).as_deref() == Some("FOLLOWER")
            && c.node(4).role() == Some(DcfRole::Follower)
    });

    let gone = (1..=3).find(|i| *i != leader).unwrap();
    let waited = c
        .node(leader)
        .dcf
        .remove_member(1, gone, 1000)
        .expect("remove a member");
    assert_eq!(waited, Waited::Done);
    assert_eq!(role_of(c.node(leader), u64::from(gone)), None);
    c.node(gone).dcf.stop().unwrap();
    // Three voters left (leader, the other old node, node 4): writes still commit.
    write_keys(c.node(leader), 21..31);
    let keys: Vec<u64> = (21..31).collect();
    for n in c.nodes.iter().filter(|n| n.id != gone) {
        wait_keys(n, &keys, LONG);
        check_in_order(n);
        assert_eq!(role_of(n, u64::from(gone)), None, "node {}", n.id);
    }
    // Membership is on disk: node 4 restarts from its directory, the JSON is ignored.
    c.node(4).dcf.stop().unwrap();
    c.json = json4;
    c.restart(4);
    wait_for(LONG, "node 4 back as FOLLOWER", || {
        c.node(4).role() == Some(DcfRole::Follower)
    });
    assert_eq!(role_of(c.node(4), u64::from(gone)), None);
}

#[test]
fn follower_changes_its_own_membership_through_the_leader() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let f = c.node(leader % 3 + 1);
    let other = (1..=3).find(|i| *i != leader && *i != f.id).unwrap();
    let json = format!(
        r#"[{{"stream_id":1,"node_id":{},"priority":7,"group":2}}]"#,
        f.id
    );
    assert_eq!(f.dcf.change_member(&json, 5000).unwrap(), Waited::Done);
    wait_for(LONG, "the leader to see the new priority", || {
        let v: serde_json::Value =
            serde_json::from_str(&c.node(leader).dcf.stream_info(1).unwrap()).unwrap();
        v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["node_id"] == f.id)
            && stream_field(f, "priority") == 7
            && stream_field(f, "group") == 2
            && all_committed(c.node(leader))
    });
    // About another node: refused on a follower.
    let json = format!(r#"[{{"stream_id":1,"node_id":{other},"priority":3}}]"#);
    assert!(f.dcf.change_member(&json, 1000).is_err());
    // Its own role, there and back.
    assert_eq!(
        f.dcf
            .change_member_role(1, f.id, DcfRole::Passive, 5000)
            .unwrap(),
        Waited::Done
    );
    wait_for(LONG, "PASSIVE on the leader, committed", || {
        role_of(c.node(leader), u64::from(f.id)).as_deref() == Some("PASSIVE")
            && all_committed(c.node(leader))
    });
    assert_eq!(
        f.dcf
            .change_member_role(1, f.id, DcfRole::Follower, 5000)
            .unwrap(),
        Waited::Done
    );
    wait_for(LONG, "FOLLOWER on the leader", || {
        role_of(c.node(leader), u64::from(f.id)).as_deref() == Some("FOLLOWER")
    });
    write_keys(c.node(leader), 1..6);
    for n in &c.nodes {
        wait_keys(n, &(1..6).collect::<Vec<_>>(), LONG);
    }
}

/// The leader committed everything in its log (no membership change pending).
fn all_committed(n: &TestNode) -> bool {
    stream_field(n, "commit_index") == stream_field(n, "last_index")
}

#[test]
fn follower_change_member_done_means_committed() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let f = c.node(leader % 3 + 1);
    // The leader may be writable before this follower heard from it.
    wait_for(LONG, "the follower to know the leader", || {
        role_of(f, u64::from(leader)).as_deref() == Some("LEADER")
    });
    assert_eq!(
        f.dcf
            .change_member_role(1, f.id, DcfRole::Passive, 5000)
            .unwrap(),
        Waited::Done
    );
    // Done: the change has taken effect, so another change may follow at once.
    let json = format!(
        r#"[{{"stream_id":1,"node_id":{},"role":"FOLLOWER"}}]"#,
        f.id
    );
    assert_eq!(
        c.node(leader).dcf.change_member(&json, 5000).unwrap(),
        Waited::Done
    );
}

#[test]
fn follower_promotes_itself_switchover() {
    let c = Cluster::start(3);
    let first = c.wait_leader(LONG);
    write_keys(c.node(first), 1..11);
    let f = c.node(first % 3 + 1);
    wait_keys(f, &(1..11).collect::<Vec<_>>(), LONG);
    // gs_ctl switchover: dcf_promote_leader(1, own id, timeout) on the standby.
    f.dcf
        .promote_leader(1, f.id, 10_000)
        .expect("a follower promotes itself");
    let second = c.wait_leader_except(first, LONG);
    assert_eq!(second, f.id);
    wait_for(LONG, "FOLLOWER on the old leader", || {
        c.node(first).statuses().last() == Some(&DcfRole::Follower)
    });
    write_keys(f, 11..16);
    for n in &c.nodes {
        wait_keys(n, &(1..16).collect::<Vec<_>>(), LONG);
        check_in_order(n);
    }
    // A follower may not promote someone else.
    let third = (1..=3).find(|i| *i != first && *i != f.id).unwrap();
    assert!(c.node(first).dcf.promote_leader(1, third, 0).is_err());
}

#[test]
fn minority_work_mode_commits_with_vote_num() {
    let c = Cluster::start(5);
    let leader = c.wait_leader(LONG);
    write_keys(c.node(leader), 1..6);
    // Stop two followers: 3 of 5 remain, then minority mode with vote_num 3.
    let mut down: Vec<u32> = (1..=5).filter(|i| *i != leader).take(2).collect();
    for id in &down {
        c.node(*id).dcf.stop().unwrap();
    }
    let up: Vec<u32> = (1..=5).filter(|i| !down.contains(i)).collect();
    for id in &up {
        c.node(*id)
            .dcf
            .set_work_mode(1, true, 3)
            .expect("WM_MINORITY 3");
    }
    write_keys(c.node(leader), 6..11);
    for id in &up {
        wait_keys(c.node(*id), &(1..11).collect::<Vec<_>>(), LONG);
    }
    // One more down (a follower): 2 of 5 left, vote_num 2 lets them commit.
    let third = *up.iter().find(|i| **i != leader).unwrap();
    c.node(third).dcf.stop().unwrap();
    down.push(third);
    let up: Vec<u32> = (1..=5).filter(|i| !down.contains(i)).collect();
    for id in &up {
        c.node(*id)
            .dcf
            .set_work_mode(1, true, 2)
            .expect("WM_MINORITY 2");
    }
    let leader = c.wait_leader(LONG);
    write_keys(c.node(leader), 11..16);
    for id in &up {
        wait_keys(c.node(*id), &(11..16).collect::<Vec<_>>(), LONG);
        check_in_order(c.node(*id));
        assert_eq!(stream_field(c.node(*id), "work_mode"), 1);
    }
    // openGauss reads stream_info into a 2048-byte buffer (SPEC B5).
    let info = c.node(leader).dcf.stream_info(1).unwrap();
    assert!(info.len() < 2048, "{} bytes: {info}", info.len());
    // vote_num beyond the voters is refused.
    assert!(c.node(leader).dcf.set_work_mode(1, true, 6).is_err());
}

#[test]
fn leader_removes_itself_and_the_rest_go_on() {
    let c = Cluster::start(3);
    let first = c.wait_leader(LONG);
    write_keys(c.node(first), 1..6);
    let l = c.node(first);
    assert!(
        l.dcf
            .add_member(1, 2 + first % 3, "127.0.0.1", 4000, DcfRole::Follower, 1000)
            .is_err(),
        "adding an id that is already a member"
    );
    assert!(
        l.dcf.remove_member(1, 9, 1000).is_err(),
        "removing a stranger"
    );
    let _ = l.dcf.remove_member(1, first, 1000);
    let second = c.wait_leader_except(first, LONG);
    write_keys(c.node(second), 6..11);
    for n in c.nodes.iter().filter(|n| n.id != first) {
        wait_keys(n, &(1..11).collect::<Vec<_>>(), LONG);
        check_in_order(n);
        assert_eq!(role_of(n, u64::from(first)), None, "node {}", n.id);
    }
    assert!(!l.is_writable_leader());
    assert_eq!(l.statuses().last(), Some(&DcfRole::Follower));
}

#[test]
fn follower_goes_passive_and_back_under_load() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let f = c.node(leader % 3 + 1);
    let l = c.node(leader);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut k = 1000;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                write_keys(l, k..k + 5);
                k += 5;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        });
        for _ in 0..2 {
            let r = f.dcf.change_member_role(1, f.id, DcfRole::Passive, 3000);
            assert_eq!(r.unwrap(), Waited::Done);
            wait_for(LONG, "PASSIVE", || f.role() == Some(DcfRole::Passive));
            let r = f.dcf.change_member_role(1, f.id, DcfRole::Follower, 3000);
            assert_eq!(r.unwrap(), Waited::Done, "the change back is accepted");
            wait_for(LONG, "FOLLOWER", || f.role() == Some(DcfRole::Follower));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}

#[test]
fn stream_json_reports_the_priority_set_at_runtime() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let f = c.node(leader % 3 + 1);
    f.dcf.set_election_priority(1, 123_456).unwrap();
    assert_eq!(stream_field(f, "priority"), 123_456);
}

#[test]
fn a_role_change_can_be_undone_while_it_is_still_pending() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let l = c.node(leader);
    let f = c.node(leader % 3 + 1);
    let other = (1..=3).find(|i| *i != leader && *i != f.id).unwrap();
    // The other follower gets no entries (heartbeats still flow): the change cannot commit.
    l.dcf.pause_rep(1, other, u32::MAX).unwrap();
    let r = f.dcf.change_member_role(1, f.id, DcfRole::Passive, 300);
    assert_eq!(r.unwrap(), Waited::TimedOut);
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(std::time::Duration::from_secs(1));
            l.dcf.pause_rep(1, other, 0).unwrap();
        });
        // Refused while the first change is pending, asked again until it is accepted.
        let r = f.dcf.change_member_role(1, f.id, DcfRole::Follower, 10_000);
        assert_eq!(r.unwrap(), Waited::Done);
    });
    wait_for(LONG, "FOLLOWER", || f.role() == Some(DcfRole::Follower));
}
