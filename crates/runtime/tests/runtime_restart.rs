//! `Dcf::stop` then `Dcf::start` again on the same instance, ports and data directory.

mod common;

use std::time::Duration;

use common::*;
use dcf_runtime::api::DcfRole;

/// Keys applied after position `from` of the node's event list.
fn keys_since(n: &TestNode, from: usize) -> Vec<u64> {
    n.events.lock()[from..]
        .iter()
        .filter_map(|e| match e {
            Ev::Applied { key, .. } => Some(*key),
            _ => None,
        })
        .collect()
}

fn index_of_key(n: &TestNode, key: u64) -> u64 {
    n.applied()
        .into_iter()
        .find(|(_, k)| *k == key)
        .map(|(i, _)| i)
        .unwrap_or_else(|| panic!("node {} never applied key {key}", n.id))
}

#[test]
fn follower_stop_start_same_instance_resumes_after_seeded_index() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let l = c.node(leader);
    let f = c.node(leader % 3 + 1);
    write_keys(l, 1..31);
    for n in &c.nodes {
        wait_keys(n, &(1..31).collect::<Vec<_>>(), LONG);
    }

    f.dcf.stop().unwrap();
    f.dcf.stop().expect("a second stop is Ok");
    assert!(!f.dcf.is_started());
    assert!(f.dcf.write(1, b"x", 1).is_err(), "write on a stopped node");
    assert!(
        f.dcf.stream_info(1).is_err(),
        "stream_info on a stopped node"
    );

    // The cluster goes on with two nodes while the follower is down.
    write_keys(l, 31..41);
    wait_keys(l, &(31..41).collect::<Vec<_>>(), LONG);

    let seed = index_of_key(f, 20);
    let mark = f.events.lock().len();
    f.dcf.set_applied_index(1, seed).unwrap();
    f.dcf
        .start(f.id, &c.json)
        .expect("start again, same ports and data");
    f.dcf
        .start(f.id, &c.json)
        .expect("start while started is Ok");
    wait_keys(f, &(21..41).collect::<Vec<_>>(), LONG);
    assert_eq!(
        keys_since(f, mark),
        (21..41).collect::<Vec<u64>>(),
        "after a restart seeded at key 20's index, exactly keys 21..=40 come, in order"
    );
    // Still replicating after the restart.
    write_keys(l, 41..46);
    wait_keys(f, &(41..46).collect::<Vec<_>>(), LONG);
    check_in_order_since(f, mark);
    let info = f.dcf.stream_info(1).unwrap();
    assert!(info.contains(r#""role":"FOLLOWER""#), "{info}");
}

#[test]
fn leader_stop_start_same_instance_rejoins_as_follower() {
    let c = Cluster::start(3);
    let first = c.wait_leader(LONG);
    let old = c.node(first);
    write_keys(old, 1..21);
    wait_keys(old, &(1..21).collect::<Vec<_>>(), LONG);
    old.dcf.stop().unwrap();
    let second = c.wait_leader_except(first, LONG);
    write_keys(c.node(second), 21..31);

    let seed = index_of_key(old, 20);
    let mark = old.events.lock().len();
    old.dcf.set_applied_index(1, seed).unwrap();
    old.dcf
        .start(old.id, &c.json)
        .expect("restart the old leader");
    wait_keys(old, &(21..31).collect::<Vec<_>>(), LONG);
    assert_eq!(keys_since(old, mark), (21..31).collect::<Vec<u64>>());
    check_in_order_since(old, mark);
    // It was told LEADER once, FOLLOWER never had to be (stop is not a demotion), and it does
    // not lead now.
    assert_eq!(old.statuses().first(), Some(&DcfRole::Leader));
    assert!(!old.is_writable_leader());
}

#[test]
fn whole_cluster_stop_start_recovers_the_log() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let idx = write_keys(c.node(leader), 1..26);
    for n in &c.nodes {
        wait_keys(n, &(1..26).collect::<Vec<_>>(), LONG);
    }
    c.stop_all();
    for n in &c.nodes {
        assert!(n.dcf.stop().is_ok(), "stop twice");
    }
    let marks: Vec<usize> = c.nodes.iter().map(|n| n.events.lock().len()).collect();
    // Seeded at key 10: keys 11..=25 come again from the recovered log, nothing earlier.
    for n in &c.nodes {
        n.dcf.set_applied_index(1, idx[9]).unwrap();
        n.dcf.start(n.id, &c.json).expect("start again");
    }
    let leader = c.wait_leader(LONG);
    for n in &c.nodes {
        let last = n.dcf.last_index(1).unwrap_or(0);
        assert!(
            last >= idx[24],
            "node {}: recovered log ends at {last}, before {}",
            n.id,
            idx[24]
        );
    }
    write_keys(c.node(leader), 26..31);
    for (n, mark) in c.nodes.iter().zip(marks) {
        wait_keys(n, &(26..31).collect::<Vec<_>>(), LONG);
        assert_eq!(
            keys_since(n, mark),
            (11..31).collect::<Vec<u64>>(),
            "node {}: keys after the restart",
            n.id
        );
        check_in_order_since(n, mark);
    }
}

#[test]
fn stop_from_a_callback_thread_is_refused_not_deadlocked() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let l = c.node(leader);
    let w = weak(l);
    let result = std::sync::Arc::new(parking_lot::Mutex::new(None));
    let r2 = result.clone();
    l.dcf.callbacks().update(move |cb| {
        cb.after_writer = Some(std::sync::Arc::new(move |_, _, _, _, _| {
            if let Some(d) = w.upgrade() {
                let mut r = r2.lock();
                if r.is_none() {
                    *r = Some(d.stop().is_err());
                }
            }
            0
        }));
    });
    write_keys(l, 1..2);
    wait_for(Duration::from_secs(20), "after_writer to try stop", || {
        result.lock().is_some()
    });
    assert_eq!(
        *result.lock(),
        Some(true),
        "stop inside a callback is refused"
    );
    assert!(l.dcf.is_started());
    l.dcf.stop().unwrap();
}
