//! A failed start releases everything; leader step-down without a quorum; two streams;
//! messages to a node outside the stream.

mod common;

use std::sync::Arc;

use common::*;
use dcf_runtime::api::DcfRole;
use parking_lot::Mutex;

#[test]
fn failed_start_on_a_busy_port_releases_everything_and_a_retry_works() {
    let c = Cluster::new(3);
    for n in &c.nodes[..2] {
        n.dcf.start(n.id, &c.json).unwrap();
    }
    let blocker = std::net::UdpSocket::bind(("127.0.0.1", c.ports[2])).unwrap();
    let n3 = c.node(3);
    assert!(n3.dcf.start(3, &c.json).is_err(), "start on a busy port");
    assert!(!n3.dcf.is_started());
    // The same DATA_PATH from another instance: the failed start must not hold its lock.
    drop(blocker);
    let other = make_node(3, &n3.dir);
    other
        .dcf
        .start(3, &c.json)
        .expect("the directory and port are free after a failed start");
    other.dcf.stop().unwrap();
    n3.dcf
        .start(3, &c.json)
        .expect("retry on the same instance");
    let leader = c.wait_leader(LONG);
    write_keys(c.node(leader), 1..6);
    wait_keys(n3, &(1..6).collect::<Vec<_>>(), LONG);
}

#[test]
fn second_instance_on_the_same_data_path_is_refused() {
    let c = Cluster::start(1);
    let twin = make_node(1, &c.node(1).dir);
    let ports = [free_udp_port()];
    assert!(
        twin.dcf.start(1, &cluster_json(&ports)).is_err(),
        "DATA_PATH is in use by a running node"
    );
}

#[test]
fn leader_without_a_quorum_steps_down_and_says_follower() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    for n in c.nodes.iter().filter(|n| n.id != leader) {
        n.dcf.stop().unwrap();
    }
    let l = c.node(leader);
    wait_for(LONG, "FOLLOWER on the isolated leader", || {
        l.statuses() == vec![DcfRole::Leader, DcfRole::Follower]
    });
    assert!(!l.dcf.all_logs_applied(1).unwrap());
    assert!(l.dcf.write(1, b"x", 1).is_err());
    wait_for(LONG, "no leader reported", || {
        l.dcf.leader_info(1).unwrap().is_none()
    });
}

#[test]
fn send_msg_outside_the_stream_fails() {
    let c = Cluster::start(3);
    c.wait_leader(LONG);
    assert!(c.node(1).dcf.send_msg(1, 9, b"to nobody").is_err());
    assert!(c.node(1).dcf.send_msg(2, 2, b"unknown stream").is_err());
}

/// (stream, key) of every entry a node was given.
type Delivered = Arc<Mutex<Vec<(u32, u64)>>>;

#[test]
fn two_streams_replicate_independently() {
    let root = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..3).map(|_| free_udp_port()).collect();
    let mut items = Vec::new();
    for s in 1..=2 {
        for (i, p) in ports.iter().enumerate() {
            items.push(format!(
                r#"{{"stream_id":{s},"node_id":{},"ip":"127.0.0.1","port":{p},"role":"{}"}}"#,
                i + 1,
                if i == 0 { "LEADER" } else { "FOLLOWER" }
            ));
        }
    }
    let json = format!("[{}]", items.join(","));
    let got: Vec<Delivered> = (0..3).map(|_| Arc::default()).collect();
    let nodes: Vec<TestNode> = (1..=3)
        .map(|id| {
            let n = make_node(id, &root.path().join(format!("node{id}")));
            let (g1, g2) = (got[id as usize - 1].clone(), got[id as usize - 1].clone());
            n.dcf.callbacks().update(move |cb| {
                cb.after_writer = Some(Arc::new(move |s, _, _, key, _| {
                    g1.lock().push((s, key));
                    0
                }));
                cb.consensus_notify = Some(Arc::new(move |s, _, _, key| {
                    g2.lock().push((s, key));
                    0
                }));
            });
            n.dcf.start(id, &json).expect("start with two streams");
            n
        })
        .collect();
    let leader_of = |s: u32| -> u32 {
        let mut found = 0;
        wait_for(LONG, "a leader of the stream", || {
            found = nodes
                .iter()
                .find(|n| n.dcf.all_logs_applied(s).unwrap_or(false))
                .map_or(0, |n| n.id);
            found != 0
        });
        found
    };
    let (l1, l2) = (leader_of(1), leader_of(2));
    for k in 1..6 {
        nodes[l1 as usize - 1].dcf.write(1, b"one", k).unwrap();
        nodes[l2 as usize - 1]
            .dcf
            .write(2, b"two", 100 + k)
            .unwrap();
    }
    for g in &got {
        wait_for(LONG, "both streams delivered", || g.lock().len() >= 10);
        let g = g.lock();
        let s1: Vec<u64> = g.iter().filter(|(s, _)| *s == 1).map(|(_, k)| *k).collect();
        let s2: Vec<u64> = g.iter().filter(|(s, _)| *s == 2).map(|(_, k)| *k).collect();
        assert_eq!(s1, (1..6).collect::<Vec<u64>>());
        assert_eq!(s2, (101..106).collect::<Vec<u64>>());
    }
    let info: serde_json::Value = serde_json::from_str(&nodes[0].dcf.cluster_info()).unwrap();
    assert_eq!(info["stream_list"].as_array().unwrap().len(), 2);
    for n in &nodes {
        n.dcf.stop().unwrap();
    }
}

/// Indexes near u64::MAX would wrap in index arithmetic (the node would lead but never
/// become writable): refused with an error before and after start.
#[test]
fn indexes_out_of_range_are_refused() {
    let d = dcf_runtime::api::Dcf::default();
    for bad in [u64::MAX, u64::MAX - 1, (i64::MAX as u64) + 1] {
        let e = d.set_applied_index(1, bad).unwrap_err();
        assert!(e.message.contains("out of range"), "{e}");
        let e = d.truncate(1, bad).unwrap_err();
        assert!(e.message.contains("out of range"), "{e}");
    }
    d.set_applied_index(1, 5).unwrap();
}

/// dcf_is_diff_endian answers for every member: from the peer's hello once it connected,
/// else from this node's own byte order (a caller that casts the answer to a boolean must
/// not byte-swap a peer it has not heard yet); a node outside the stream is an error.
#[test]
fn is_diff_endian_answers_for_a_member_that_has_not_connected() {
    let c = Cluster::new(3);
    c.node(1).dcf.start(1, &c.json).unwrap();
    assert_eq!(c.node(1).dcf.is_diff_endian(1, 2).ok(), Some(false));
    assert_eq!(c.node(1).dcf.is_diff_endian(1, 1).ok(), Some(false));
    assert!(c.node(1).dcf.is_diff_endian(1, 9).is_err());
    c.node(2).dcf.start(2, &c.json).unwrap();
    wait_for(LONG, "node 2 to connect", || {
        c.node(1).dcf.conn_status(1, 2).is_ok()
    });
    assert_eq!(c.node(1).dcf.is_diff_endian(1, 2).ok(), Some(false));
    c.stop_all();
}
