//! openGauss flows around a node's life: a full build (empty DATA_PATH + seeded applied
//! index), LOGGER members, a single-node cluster, the largest write, and stop while the
//! application keeps refusing an entry (SPEC B4, B6 "Build", B7.8, B7.9).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use dcf_runtime::api::DcfRole;

#[test]
fn rebuilt_follower_with_empty_dir_starts_after_the_seeded_index() {
    let mut c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let idx = write_keys(c.node(leader), 1..31);
    let f = leader % 3 + 1;
    wait_keys(c.node(f), &(1..31).collect::<Vec<_>>(), LONG);
    c.node(f).dcf.stop().unwrap();
    // gs_ctl build: the DCF directory is deleted, paxosindex holds the applied index.
    std::fs::remove_dir_all(&c.node(f).dir).unwrap();
    let n = make_node(f, &c.node(f).dir.clone());
    n.dcf.set_applied_index(1, idx[19]).unwrap();
    n.dcf
        .start(f, &c.json)
        .expect("start with an empty directory");
    c.nodes[f as usize - 1] = n;
    write_keys(c.node(leader), 31..36);
    let n = c.node(f);
    wait_keys(n, &(21..36).collect::<Vec<_>>(), LONG);
    assert_eq!(
        n.applied_keys(),
        (21..36).collect::<Vec<u64>>(),
        "exactly the entries after the seeded index"
    );
    check_in_order(n);
    let v: serde_json::Value = serde_json::from_str(&n.dcf.stream_info(1).unwrap()).unwrap();
    assert!(
        v["first_index"].as_u64().unwrap() > idx[19],
        "the rebuilt log starts after the seed: {v}"
    );
    // And it restarts from its own directory like any node.
    c.node(f).dcf.stop().unwrap();
    c.restart(f);
    write_keys(c.node(leader), 36..41);
    wait_keys(c.node(f), &(36..41).collect::<Vec<_>>(), LONG);
    c.stop_all();
}

#[test]
fn logger_votes_and_stores_but_never_applies_or_leads() {
    let root = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..3).map(|_| free_udp_port()).collect();
    let json = cluster_json_roles(&ports, &["LEADER", "FOLLOWER", "LOGGER"]);
    let mut c = Cluster {
        nodes: (1..=3)
            .map(|id| make_node(id, &root.path().join(format!("node{id}"))))
            .collect(),
        ports,
        json,
        root,
    };
    for n in &c.nodes {
        n.dcf.start(n.id, &c.json).unwrap();
    }
    let first = c.wait_leader(LONG);
    assert_ne!(first, 3, "a LOGGER leads");
    let idx = write_keys(c.node(first), 1..11);
    let survivor = 3 - first;
    wait_keys(c.node(survivor), &(1..11).collect::<Vec<_>>(), LONG);
    wait_for(LONG, "the logger to store the entries", || {
        c.node(3).dcf.last_index(1).unwrap_or(0) >= idx[9]
    });
    assert!(c.node(3).applied().is_empty(), "a LOGGER applied entries");
    // The leader goes: the follower wins with the logger's vote and the logger's log.
    c.node(first).dcf.stop().unwrap();
    let second = c.wait_leader_except(first, LONG);
    assert_eq!(second, survivor);
    write_keys(c.node(second), 11..16);
    wait_keys(c.node(second), &(11..16).collect::<Vec<_>>(), LONG);
    assert!(c.node(3).applied().is_empty());
    assert!(c.node(3).statuses().is_empty());
    assert_eq!(c.node(3).role(), Some(DcfRole::Logger));
    c.restart(first);
    wait_keys(c.node(first), &(11..16).collect::<Vec<_>>(), LONG);
}

#[test]
fn single_node_cluster_leads_writes_and_restarts() {
    let mut c = Cluster::start(1);
    c.wait_leader(LONG);
    wait_for(LONG, "status_notify(LEADER)", || {
        c.node(1).statuses() == vec![DcfRole::Leader]
    });
    let idx = write_keys(c.node(1), 1..11);
    wait_keys(c.node(1), &(1..11).collect::<Vec<_>>(), LONG);
    c.node(1).dcf.stop().unwrap();
    let dir = c.node(1).dir.clone();
    let n = make_node(1, &dir);
    n.dcf.set_applied_index(1, idx[4]).unwrap();
    n.dcf.start(1, &c.json).unwrap();
    c.nodes[0] = n;
    c.wait_leader(LONG);
    write_keys(c.node(1), 11..13);
    wait_keys(c.node(1), &(6..13).collect::<Vec<_>>(), LONG);
    let n = c.node(1);
    assert_eq!(n.applied_keys(), (6..13).collect::<Vec<u64>>());
    // Old-term entries go to consensus_notify, this term's to after_writer, LEADER after
    // the old ones.
    let ev = n.events.lock().clone();
    let pos = ev
        .iter()
        .position(|e| *e == Ev::Status(DcfRole::Leader))
        .expect("LEADER after restart");
    for e in &ev[..pos] {
        if let Ev::Applied { key, leader_cb, .. } = e {
            assert!(!leader_cb && *key <= 10, "{e:?} before LEADER");
        }
    }
    for e in &ev[pos..] {
        if let Ev::Applied { key, leader_cb, .. } = e {
            assert!(*leader_cb && *key > 10, "{e:?} after LEADER");
        }
    }
}

#[test]
fn a_one_mebibyte_write_replicates_exactly() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 253) as u8).collect();
    let i = c.node(leader).dcf.write(1, &big, 77).expect("1 MiB write");
    for n in &c.nodes {
        wait_keys(n, &[77], LONG);
        assert_eq!(n.data.lock().get(&77), Some(&big), "node {}", n.id);
        let mut buf = vec![0u8; 1 << 20];
        assert_eq!(n.dcf.read(1, i, &mut buf).unwrap(), 1 << 20);
    }
}

#[test]
fn stop_returns_while_consensus_notify_keeps_refusing() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let f = c.node(leader % 3 + 1);
    let tries = Arc::new(AtomicUsize::new(0));
    let t = tries.clone();
    f.dcf.callbacks().update(move |cb| {
        cb.consensus_notify = Some(Arc::new(move |_, _, _, _| {
            t.fetch_add(1, Ordering::Relaxed);
            -1
        }));
    });
    write_keys(c.node(leader), 1..3);
    wait_for(LONG, "the entry to be refused a few times", || {
        tries.load(Ordering::Relaxed) >= 5
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let d = f.dcf.clone();
    std::thread::spawn(move || {
        let _ = tx.send(d.stop());
    });
    let r = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("stop did not return within 20 s");
    assert!(r.is_ok());
    let after = tries.load(Ordering::Relaxed);
    assert!(!f.dcf.is_started());
    // No callback after stop returned.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(tries.load(Ordering::Relaxed), after, "callback after stop");
}
