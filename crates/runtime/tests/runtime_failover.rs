//! Failover without waiting for an election timeout: a leader that stops hands over, and a
//! leader whose process is gone is noticed through its closed port. The election timeout
//! here is 10 s, so a new leader within 5 s can only come from these paths.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use dcf_runtime::api::DcfRole;

const SLOW_T: &str = "10";
const SOON: Duration = Duration::from_secs(5);

fn slow_cluster() -> Cluster {
    let mut c = Cluster::new(3);
    for i in 0..3 {
        let id = i as u32 + 1;
        let dir = c.root.path().join(format!("node{id}"));
        let mut p = params(&dir);
        p.set("ELECTION_TIMEOUT", SLOW_T).unwrap();
        c.nodes[i] = make_node_with(id, &dir, p);
    }
    for n in &c.nodes {
        n.dcf.start(n.id, &c.json).expect("start");
    }
    c
}

fn term(n: &TestNode) -> u64 {
    n.dcf.term_and_role(1).unwrap().0
}

#[test]
fn a_stopping_leader_hands_over_and_the_new_leader_takes_writes() {
    let c = slow_cluster();
    let l = c.wait_leader(LONG);
    let keys = write_keys(c.node(l), 0..20);
    let _ = keys;
    for n in &c.nodes {
        wait_keys(n, &(0..20).collect::<Vec<_>>(), LONG);
    }
    c.node(l).dcf.stop().unwrap();
    let next = c.wait_leader_except(l, SOON);
    write_keys(c.node(next), 20..30);
    for n in c.nodes.iter().filter(|n| n.id != l) {
        wait_keys(n, &(0..30).collect::<Vec<_>>(), LONG);
        check_in_order(n);
    }
}

/// dcf_stop starts no callback once called: the stopping leader's own step-down during the
/// hand-over is no news to its application (openGauss exits on a demotion).
#[test]
fn a_stopping_leader_reports_no_demotion_of_its_own() {
    for _ in 0..5 {
        let c = slow_cluster();
        let l = c.wait_leader(LONG);
        let n = c.node(l);
        wait_for(LONG, "status_notify(LEADER) on the leader", || {
            n.events.lock().contains(&Ev::Status(DcfRole::Leader))
        });
        let before = n.events.lock().len();
        n.dcf.stop().unwrap();
        c.wait_leader_except(l, SOON);
        std::thread::sleep(Duration::from_millis(100));
        let after: Vec<Ev> = n.events.lock()[before..].to_vec();
        assert!(
            after.is_empty(),
            "node {l} reported {after:?} after dcf_stop was called"
        );
    }
}

#[test]
fn followers_notice_a_crashed_leaders_closed_port_and_elect_at_once() {
    let c = slow_cluster();
    let l = c.wait_leader(LONG);
    write_keys(c.node(l), 0..10);
    for n in &c.nodes {
        wait_keys(n, &(0..10).collect::<Vec<_>>(), LONG);
    }
    // Gone as a killed process is: no hand-over, the port simply closes.
    c.node(l)
        .dcf
        .faults()
        .stop_as_crash
        .store(true, Ordering::Release);
    c.node(l).dcf.stop().unwrap();
    let next = c.wait_leader_except(l, SOON);
    write_keys(c.node(next), 10..20);
    for n in c.nodes.iter().filter(|n| n.id != l) {
        wait_keys(n, &(0..20).collect::<Vec<_>>(), LONG);
    }
}

#[test]
fn probes_of_a_live_leader_cause_no_election() {
    let c = Cluster::start(3);
    let l = c.wait_leader(LONG);
    let t = term(c.node(l));
    // Several election timeouts (1 s) of probing every 100 ms.
    std::thread::sleep(Duration::from_secs(4));
    assert!(c.node(l).is_writable_leader(), "node {l} lost leadership");
    for n in &c.nodes {
        assert_eq!(term(n), t, "node {}: an election happened", n.id);
    }
}
