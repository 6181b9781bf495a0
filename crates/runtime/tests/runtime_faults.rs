//! Storage faults are loud (DESIGN.md "Failures"): the stream stops accepting writes,
//! dcf_write fails with a storage error, the exception callback fires, a failing leader
//! falls silent so that a healthy node takes over, and after the fault is removed and the
//! node restarted nothing acknowledged is missing. Faults come through `Dcf::faults()`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use dcf_runtime::api::{DcfException, DcfRole};
use dcf_runtime::error::ErrorCode;
use dcf_runtime::storage::FaultOp;

/// Writes keys from `next` on `n` until a write fails (or `limit` keys); returns the keys
/// written and the error.
fn write_until_refused(
    n: &TestNode,
    next: &mut u64,
    limit: u64,
) -> Option<dcf_runtime::error::DcfError> {
    let end = *next + limit;
    while *next < end {
        match n.dcf.write(1, &payload(*next), *next) {
            Ok(_) => *next += 1,
            Err(e) => return Some(e),
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

fn saw_exception(n: &TestNode) -> bool {
    n.events
        .lock()
        .contains(&Ev::Exception(DcfException::MissingLog))
}

/// After the faulty node restarts with a healthy disk: every key acknowledged anywhere is
/// applied on every node, in index order, with its bytes.
fn check_recovered(c: &Cluster, acked_keys: &[u64]) {
    for n in &c.nodes {
        wait_keys(n, acked_keys, LONG);
        check_in_order(n);
    }
}

fn leader_fault_steps_down(op: FaultOp, errno: i32) {
    let mut c = Cluster::start(3);
    let first = c.wait_leader(LONG);
    let old = c.node(first);
    let mut next = 1;
    write_until_refused(old, &mut next, 50);
    wait_keys(old, &(1..51).collect::<Vec<_>>(), LONG);

    old.dcf.faults().disk.fail(op, errno);
    let fault_at = Instant::now();
    let err = write_until_refused(old, &mut next, 100_000)
        .expect("the leader keeps accepting writes on a failing disk");
    assert_eq!(err.code, ErrorCode::Storage, "{err}");
    assert!(err.message.contains("stopped"), "{err}");
    wait_for(LONG, "the exception callback", || saw_exception(old));

    // A healthy node leads within about one election timeout (1 s here) of the fault.
    let second = c.wait_leader_except(first, Duration::from_secs(10));
    let took = fault_at.elapsed();
    assert!(took < Duration::from_secs(8), "takeover took {took:?}");
    let new = c.node(second);
    let resume = next;
    write_until_refused(new, &mut next, 30);
    wait_keys(new, &(resume..next).collect::<Vec<_>>(), LONG);
    // It does not come back as leader while its disk fails.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!old.is_writable_leader());
    let mut keys = old.acked_keys();
    keys.extend(new.acked_keys());

    c.node(first).dcf.stop().unwrap();
    c.restart(first);
    check_recovered(&c, &keys);
}

#[test]
fn leader_write_error_hands_leadership_to_a_healthy_node() {
    leader_fault_steps_down(FaultOp::Write, libc::EIO);
}

#[test]
fn leader_disk_full_hands_leadership_to_a_healthy_node() {
    leader_fault_steps_down(FaultOp::Write, libc::ENOSPC);
}

#[test]
fn leader_fdatasync_error_is_not_retried() {
    leader_fault_steps_down(FaultOp::Sync, libc::EIO);
}

/// A follower whose fdatasync fails stops its stream; the other two go on; after a restart
/// it catches up.
#[test]
fn follower_sync_error_stops_only_that_follower() {
    let mut c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let l = c.node(leader);
    let f = (1..=3).find(|i| *i != leader).unwrap();
    write_keys(l, 1..21);
    wait_keys(c.node(f), &(1..21).collect::<Vec<_>>(), LONG);
    c.node(f).dcf.faults().disk.fail(FaultOp::Sync, libc::EIO);
    write_keys(l, 21..61);
    wait_for(LONG, "the follower's exception", || {
        saw_exception(c.node(f))
    });
    wait_keys(l, &(21..61).collect::<Vec<_>>(), LONG);
    // The failed follower applies nothing new.
    let before = c.node(f).applied_keys().len();
    write_keys(l, 61..71);
    wait_keys(l, &(61..71).collect::<Vec<_>>(), LONG);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(c.node(f).applied_keys().len(), before);
    assert!(c.node(f).dcf.write(1, b"x", 0).is_err());

    c.node(f).dcf.stop().unwrap();
    c.restart(f);
    check_recovered(&c, &c.node(leader).acked_keys());
}

/// The leader cannot read back entries a restarted follower needs: it stops leading rather
/// than leaving that follower behind silently; the others carry on.
#[test]
fn leader_read_error_for_a_lagging_follower_is_loud() {
    let mut c = Cluster::new(3);
    for n in c.nodes.iter_mut() {
        let mut p = params(&n.dir);
        // Small caches, so that the follower's entries must come from the disk.
        p.set("STG_POOL_MAX_SIZE", "32").unwrap();
        *n = make_node_with(n.id, &n.dir, p);
    }
    for n in &c.nodes {
        n.dcf.start(n.id, &c.json).unwrap();
    }
    let leader = c.wait_leader(LONG);
    let f = (1..=3).find(|i| *i != leader).unwrap();
    c.node(f).dcf.stop().unwrap();
    let l = c.node(leader);
    let big = vec![7u8; 256 << 10];
    for k in 0..160u64 {
        // 40 MiB: more than the replica's and storage's caches hold.
        l.dcf.write(1, &big, 1_000_000 + k).unwrap();
    }
    wait_for(LONG, "the 40 MiB to commit", || {
        l.acked_keys().iter().filter(|k| **k >= 1_000_000).count() == 160
    });
    l.dcf.faults().disk.fail(FaultOp::Read, libc::EIO);
    c.restart(f);
    wait_for(LONG, "the leader's exception", || {
        saw_exception(c.node(leader))
    });
    let second = c.wait_leader_except(leader, LONG);
    write_keys(c.node(second), 1..11);
    wait_keys(c.node(f), &(1..11).collect::<Vec<_>>(), LONG);
    c.node(leader).dcf.stop().unwrap();
    c.restart(leader);
    wait_keys(c.node(leader), &(1..11).collect::<Vec<_>>(), LONG);
}

/// A callback that panics stops the stream instead of hanging it: later writes fail with
/// an error and the exception callback fires.
#[test]
fn a_panicking_thread_stops_the_stream_loudly() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let l = c.node(leader);
    l.dcf.callbacks().update(|cb| {
        cb.after_writer = Some(std::sync::Arc::new(|_, _, _, key, _| {
            assert!(key != 13, "the application panicked on key 13");
            0
        }));
    });
    let mut next = 1;
    let err = {
        let mut e = None;
        let end = Instant::now() + LONG;
        while e.is_none() && Instant::now() < end {
            e = write_until_refused(l, &mut next, 1);
            std::thread::sleep(Duration::from_millis(5));
        }
        e.expect("writes go on after a panic")
    };
    assert_eq!(err.code, ErrorCode::Storage, "{err}");
    assert!(err.message.contains("panicked"), "{err}");
    wait_for(LONG, "the exception callback", || saw_exception(l));
}

/// dcf_stop delivers nothing new once called: with a slow consensus_notify (500 ms per
/// entry) and entries waiting, stop returns after the callback in progress, not after the
/// whole backlog.
#[test]
fn stop_starts_no_callback_after_it_was_called() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let f = c.node((1..=3).find(|i| *i != leader).unwrap());
    *f.apply_delay.lock() = Duration::from_millis(500);
    write_keys(c.node(leader), 1..21);
    wait_for(LONG, "the follower to start applying", || {
        !f.applied_keys().is_empty()
    });
    let t0 = Instant::now();
    f.dcf.stop().unwrap();
    let took = t0.elapsed();
    let delivered = f.applied_keys().len();
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        f.applied_keys().len(),
        delivered,
        "a callback ran after stop"
    );
    assert!(
        delivered < 20,
        "everything was delivered before stop returned"
    );
    assert!(took < Duration::from_secs(3), "stop took {took:?}");
}

/// The network seam: a leader cut off from both peers is replaced, and after the heal it
/// follows again and receives what was written meanwhile.
#[test]
fn a_leader_cut_off_through_the_seam_is_replaced_and_rejoins() {
    let c = Cluster::start(3);
    let first = c.wait_leader(LONG);
    let old = c.node(first);
    write_keys(old, 1..11);
    wait_keys(old, &(1..11).collect::<Vec<_>>(), LONG);
    for p in (1..=3).filter(|p| *p != first) {
        old.dcf.faults().cut(p);
    }
    let second = c.wait_leader_except(first, LONG);
    write_keys(c.node(second), 11..21);
    old.dcf.faults().heal_all();
    wait_keys(old, &(11..21).collect::<Vec<_>>(), LONG);
    assert!(!old.is_writable_leader());
    check_in_order(old);
}

/// Followers whose disks stall for longer than the election timeout (1 s here) still
/// answer the leader's heartbeats: the leader keeps its term, commits with whoever is
/// healthy, and the stalled followers catch up afterwards.
fn stalled_follower_disks(stalled: usize) {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let l = c.node(leader);
    let followers: Vec<u32> = (1..=3).filter(|&i| i != leader).collect();
    write_keys(l, 1..11);
    for &f in &followers {
        wait_keys(c.node(f), &(1..11).collect::<Vec<_>>(), LONG);
    }
    let (term, _) = l.dcf.term_and_role(1).unwrap();
    let stall = Duration::from_millis(2500);
    for &f in &followers[..stalled] {
        c.node(f).dcf.faults().disk.slow_sync(stall);
    }
    write_keys(l, 11..21);
    if stalled == 1 {
        // The leader and the healthy follower are a quorum.
        wait_keys(
            l,
            &(11..21).collect::<Vec<_>>(),
            stall - Duration::from_millis(500),
        );
    }
    std::thread::sleep(stall + Duration::from_millis(500));
    for &f in &followers[..stalled] {
        c.node(f).dcf.faults().disk.slow_sync(Duration::ZERO);
    }
    write_keys(l, 21..31);
    let keys: Vec<u64> = (1..31).collect();
    for &f in &followers {
        wait_keys(c.node(f), &keys, LONG);
        check_in_order(c.node(f));
    }
    for i in 1..=3 {
        let (t, _) = c.node(i).dcf.term_and_role(1).unwrap();
        assert_eq!(t, term, "node {i} moved to term {t} (from {term})");
    }
    assert_eq!(c.wait_leader(LONG), leader);
}

#[test]
fn a_stalled_follower_disk_unseats_no_leader() {
    stalled_follower_disks(1);
}

#[test]
fn stalled_disks_on_every_follower_unseat_no_leader() {
    stalled_follower_disks(2);
}

/// Only the stream's driver waits for the disk: with every fdatasync of the leader taking
/// 4 s, writes and queries on the leader return at once; the entries are applied once the
/// leader's own sync covers them (a leader applies only what is durable locally).
#[test]
fn a_stalled_leader_disk_blocks_no_caller() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let l = c.node(leader);
    write_keys(l, 1..11);
    wait_keys(l, &(1..11).collect::<Vec<_>>(), LONG);
    let stall = Duration::from_secs(4);
    l.dcf.faults().disk.slow_sync(stall);
    std::thread::sleep(Duration::from_millis(50));
    let t0 = Instant::now();
    write_keys(l, 11..111);
    let last = l.dcf.last_index(1).unwrap();
    assert!(l.dcf.leader_info(1).unwrap().is_some());
    let took = t0.elapsed();
    assert!(last >= 110, "last index {last}");
    // Well under the stall: nothing on these paths waited for the leader's fdatasync.
    assert!(took < stall - Duration::from_millis(1500), "took {took:?}");
    l.dcf.faults().disk.slow_sync(Duration::ZERO);
    wait_keys(l, &(11..111).collect::<Vec<_>>(), LONG);
    check_in_order(l);
}

/// Role, term and leader have one source: once a leader's stream stops, every query says
/// it is no longer the leader, at once (not only the write path, and not one election
/// timeout later when the silent replica would step down by itself).
#[test]
fn a_stopped_leader_reports_itself_a_follower_everywhere() {
    let c = Cluster::start(3);
    let id = c.wait_leader(LONG);
    let l = c.node(id);
    let mut next = 1;
    write_until_refused(l, &mut next, 10);
    l.dcf.faults().disk.fail(FaultOp::Write, libc::EIO);
    let err = write_until_refused(l, &mut next, 100_000).expect("a write is refused");
    assert_eq!(err.code, ErrorCode::Storage, "{err}");
    let (_, role) = l.dcf.term_and_role(1).unwrap();
    assert_ne!(
        role,
        DcfRole::Leader,
        "term_and_role after the stream stopped"
    );
    let (role, _) = l.dcf.node_is_healthy(1).unwrap();
    assert_ne!(
        role,
        DcfRole::Leader,
        "node_is_healthy after the stream stopped"
    );
    let leader = l.dcf.leader_info(1).unwrap().map(|(_, _, n)| n);
    assert_ne!(leader, Some(id), "leader_info names the stopped node");
    let info: serde_json::Value = serde_json::from_str(&l.dcf.stream_info(1).unwrap()).unwrap();
    assert_ne!(info["role"], "LEADER", "{info}");
    l.dcf.faults().heal_all();
    c.stop_all();
}

/// A planned switchover to a follower whose stream stopped is refused at once, and the
/// leader keeps taking writes: handing over to a node that cannot campaign would leave the
/// cluster without a leader. The stopped node refuses to promote itself too.
#[test]
fn promote_to_a_stopped_follower_is_refused_and_writes_go_on() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let l = c.node(leader);
    let f = (1..=3).find(|i| *i != leader).unwrap();
    write_keys(l, 1..11);
    wait_keys(c.node(f), &(1..11).collect::<Vec<_>>(), LONG);
    c.node(f).dcf.faults().disk.fail(FaultOp::Sync, libc::EIO);
    write_keys(l, 11..21);
    wait_for(LONG, "the follower's exception", || {
        saw_exception(c.node(f))
    });
    // Silent for more than ELECTION_TIMEOUT (1 s here).
    std::thread::sleep(Duration::from_millis(1500));
    // One event, one report (not one a second while the stream stays stopped).
    assert_eq!(c.node(f).exceptions(), 1, "MISSING_LOG reports of one stop");
    assert!(
        l.dcf.promote_leader(1, f, 0).is_err(),
        "a transfer to the stopped node {f} was started"
    );
    assert!(c.node(f).dcf.promote_leader(1, f, 0).is_err());
    // Accepted at once (a transfer under way refuses writes, and write_keys panics).
    write_keys(l, 21..31);
    wait_keys(l, &(21..31).collect::<Vec<_>>(), LONG);
    assert_eq!(c.wait_leader(LONG), leader);
    c.node(f).dcf.faults().heal_all();
    c.stop_all();
}
