//! Attacks from outside the cluster, without SSL_* (the default): a process that is not a
//! member claims a member's node id, from another address or while the member is connected,
//! and sends what a member could; strangers open connections and push data before any hello.
//! Each attack is refused or bounded, the cluster keeps committing, nothing injected is
//! delivered, and the process stays under 400 MiB.

mod common;
mod hostile_support;

use std::time::Duration;

use bytes::Bytes;
use dcf_runtime::api::DcfRole;
use dcf_runtime::consensus::{AppendHeader, Message, VoteRequest};
use dcf_runtime::runtime::wire::Request;
use dcf_runtime::types::{Entry, EntryKind};

use common::*;
use hostile_support::*;

const ATTACK: Duration = Duration::from_secs(3);

fn cluster() -> Cluster {
    let c = Cluster::start(3);
    c.wait_leader(LONG);
    keeps_committing(&nodes(&c), 1);
    c
}

fn nodes(c: &Cluster) -> Vec<&TestNode> {
    c.nodes.iter().collect()
}

fn forged_append(term: u64, leader: u32, prev_index: u64, n: u64) -> Message {
    Message::Append {
        header: AppendHeader {
            term,
            leader,
            prev_index,
            prev_term: 0,
            commit: prev_index + n,
            leader_last_index: prev_index + n,
            leader_first_index: 1,
            cluster_min_applied: 0,
            minority: false,
        },
        entries: (1..=n)
            .map(|k| Entry {
                index: prev_index + k,
                term,
                key: FORGED_KEY + k,
                kind: EntryKind::Normal,
                data: Bytes::from_static(b"forged entry"),
            })
            .collect(),
    }
}

fn vote(term: u64, candidate: u32, force: bool) -> Message {
    Message::Vote(VoteRequest {
        term,
        candidate,
        last_index: 1 << 20,
        last_term: term,
        pre_vote: false,
        force,
        minority: false,
    })
}

/// An impostor of node 2 on 127.0.0.5 tries everything a member could send.
fn impostor(c: &Cluster, rt: &tokio::runtime::Runtime, attack: impl FnMut(&Hostile)) -> Hostile {
    let h = Hostile::from_ip(rt, 2, loopback(5), &[(1, c.ports[0]), (3, c.ports[2])]);
    h.repeat(ATTACK, attack);
    h
}

#[test]
fn another_id_from_another_address_is_refused() {
    let _serial = SERIAL.lock();
    let c = cluster();
    let rt = runtime();
    let watch = RssWatch::start();
    let h = impostor(&c, &rt, |h| {
        for to in [1, 3] {
            h.user_msg(to, FORGED_MSG);
        }
    });
    assert!(!h.ever_connected(), "the impostor of node 2 was accepted");
    nothing_injected(&nodes(&c));
    keeps_committing(&nodes(&c), 100);
    watch.check("other id from another address");
}

#[test]
fn a_forged_append_with_a_high_term_is_refused() {
    let _serial = SERIAL.lock();
    let c = cluster();
    let rt = runtime();
    let before: Vec<u64> = c.nodes.iter().map(term_of).collect();
    let h = impostor(&c, &rt, |h| {
        for to in [1, 3] {
            h.consensus(to, &forged_append(5000, 2, 0, 3));
        }
    });
    assert!(!h.ever_connected());
    for (n, t) in c.nodes.iter().zip(before) {
        assert!(
            term_of(n) < 5000,
            "node {} moved to term {}",
            n.id,
            term_of(n)
        );
        assert!(term_of(n) <= t + 3);
    }
    nothing_injected(&nodes(&c));
    keeps_committing(&nodes(&c), 100);
}

#[test]
fn a_vote_with_the_highest_term_bricks_nothing() {
    let _serial = SERIAL.lock();
    let c = cluster();
    let rt = runtime();
    let h = impostor(&c, &rt, |h| {
        for to in [1, 3] {
            h.consensus(to, &vote(u64::MAX, 2, true));
        }
    });
    drop(h);
    for n in &c.nodes {
        assert!(
            term_of(n) < 1 << 62,
            "node {} adopted term {}",
            n.id,
            term_of(n)
        );
    }
    keeps_committing(&nodes(&c), 100);
}

#[test]
fn a_vote_storm_does_not_move_the_leadership() {
    let _serial = SERIAL.lock();
    let c = cluster();
    let rt = runtime();
    let leader = c.wait_leader(LONG);
    let term = term_of(c.node(leader));
    let mut t = term;
    let _h = impostor(&c, &rt, |h| {
        t += 1;
        for to in [1, 3] {
            h.consensus(to, &vote(t, 2, true));
        }
    });
    assert_eq!(c.wait_leader(LONG), leader, "leadership moved");
    assert_eq!(term_of(c.node(leader)), term, "the term moved");
    keeps_committing(&nodes(&c), 100);
}

#[test]
fn forwarded_writes_and_membership_changes_from_an_impostor_are_refused() {
    let _serial = SERIAL.lock();
    let c = cluster();
    let rt = runtime();
    let mut id = 0;
    let h = impostor(&c, &rt, |h| {
        id += 1;
        for to in [1, 3] {
            h.request(
                to,
                id,
                Request::Write {
                    key: FORGED_KEY + 1,
                },
                b"forged write",
            );
            let json = r#"[{"stream_id":1,"node_id":3,"role":"PASSIVE"}]"#.to_string();
            h.request(to, id, Request::ChangeMember { json }, b"");
        }
    });
    assert!(!h.ever_connected());
    std::thread::sleep(Duration::from_millis(500));
    assert_ne!(
        c.node(3).role(),
        Some(DcfRole::Passive),
        "node 3 was made PASSIVE"
    );
    nothing_injected(&nodes(&c));
    keeps_committing(&nodes(&c), 100);
}

#[test]
fn a_second_connection_for_a_live_node_is_refused() {
    let _serial = SERIAL.lock();
    let c = cluster();
    let rt = runtime();
    // On the members' own address (what the address check cannot tell apart), while the
    // real node 2 is connected.
    let h = Hostile::from_ip(&rt, 2, loopback(1), &[(1, c.ports[0]), (3, c.ports[2])]);
    h.repeat(ATTACK, |h| {
        for to in [1, 3] {
            h.user_msg(to, FORGED_MSG);
        }
    });
    assert!(
        !h.ever_connected(),
        "the second claim of node 2 was accepted"
    );
    nothing_injected(&nodes(&c));
    keeps_committing(&nodes(&c), 100);
}

#[test]
fn a_restarted_member_is_back_quickly() {
    let _serial = SERIAL.lock();
    let mut c = cluster();
    // Node 3 goes away without closing (its old connections are left to time out) and comes
    // back: one connection per node must not keep it out.
    c.node(3).dcf.stop().unwrap();
    c.restart(3);
    keeps_committing(&nodes(&c), 100);
}

#[test]
fn data_before_the_hello_is_bounded() {
    let _serial = SERIAL.lock();
    let c = cluster();
    let rt = runtime();
    let watch = RssWatch::start();
    // 24 connections from 24 addresses, each pushing up to 48 MiB before any hello.
    let eps: Vec<_> = (10..34).map(|k| raw_endpoint(&rt, loopback(k))).collect();
    let port = c.ports[0];
    let results = rt.block_on(async {
        let jobs: Vec<_> = eps
            .iter()
            .map(|ep| junk_before_hello(ep.clone(), port, 48 << 20, Duration::from_secs(3)))
            .collect();
        futures_join(jobs).await
    });
    let taken: usize = results.iter().map(|r| r.1).sum();
    eprintln!("data before the hello: the node took {} MiB", taken >> 20);
    watch.check("data before the hello");
    // Nothing at all, in fact: no channel stream may be opened before the hello.
    assert!(
        taken < 1 << 20,
        "the node took {taken} bytes before any hello"
    );
    drop(results);
    keeps_committing(&nodes(&c), 100);
}

#[test]
fn many_connections_are_capped() {
    let _serial = SERIAL.lock();
    let c = cluster();
    let rt = runtime();
    let watch = RssWatch::start();
    let eps: Vec<_> = (40..60).map(|k| raw_endpoint(&rt, loopback(k))).collect();
    let port = c.ports[0];
    // 20 addresses x 20 connections that never say hello.
    let conns = rt.block_on(async {
        let mut jobs = Vec::new();
        for ep in &eps {
            for _ in 0..20 {
                jobs.push(junk_before_hello(
                    ep.clone(),
                    port,
                    0,
                    Duration::from_millis(10),
                ));
            }
        }
        futures_join(jobs).await
    });
    let accepted = conns.iter().filter(|r| r.0.is_some()).count();
    eprintln!(
        "many connections: {accepted} of {} accepted at once",
        conns.len()
    );
    // The cap is 64 at a time (a few more may come in as the first ones time out).
    assert!(
        accepted <= 200,
        "{accepted} connections without a hello accepted"
    );
    keeps_committing(&nodes(&c), 100);
    watch.check("many connections");
    drop(conns);
}

/// Runs the futures concurrently (the test crate has no futures dependency).
async fn futures_join<F: std::future::Future + Send + 'static>(jobs: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = jobs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
