//! Callbacks that call back into the API, and msg_proc running while consensus_notify blocks
//! (SPEC B4 "Threads", B7.6): openGauss's 'Q'/'R' build check.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use dcf_runtime::api::CommitIndexKind;
use parking_lot::Mutex;

/// The leader answers every 'Q' with an 'R' carrying the same bytes, from inside msg_proc,
/// after querying itself the way ProcessMsgCbFunc does.
fn leader_answers_queries(n: &TestNode, reentered: Arc<AtomicUsize>) {
    let w = weak(n);
    let me = n.id;
    n.dcf.callbacks().update(move |c| {
        c.msg_proc = Some(Arc::new(move |s, src, data| {
            let Some(d) = w.upgrade() else { return 0 };
            let leader = d.leader_info(s).ok().flatten().map(|(_, _, id)| id);
            let _ = d.stream_info(s).expect("stream_info inside msg_proc");
            let _ =
                dcf_runtime::api::get_param("ELECTION_TIMEOUT").expect("get_param inside msg_proc");
            if data.first() == Some(&b'Q') && leader == Some(me) {
                let mut reply = data.to_vec();
                reply[0] = b'R';
                d.send_msg(s, src, &reply)
                    .expect("send_msg inside msg_proc");
                reentered.fetch_add(1, Ordering::Relaxed);
            }
            0
        }));
    });
}

#[test]
fn consensus_notify_blocked_on_a_reply_that_msg_proc_delivers() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let answered = Arc::new(AtomicUsize::new(0));
    leader_answers_queries(c.node(leader), answered.clone());
    for f in c.nodes.iter().filter(|n| n.id != leader) {
        let replies: Arc<Mutex<HashSet<u64>>> = Arc::default();
        let (r1, r2) = (replies.clone(), replies.clone());
        let w = weak(f);
        let events = f.events.clone();
        f.dcf.callbacks().update(move |cb| {
            cb.msg_proc = Some(Arc::new(move |_, _, data| {
                if data.len() == 9 && data[0] == b'R' {
                    r1.lock()
                        .insert(u64::from_le_bytes(data[1..9].try_into().unwrap()));
                }
                0
            }));
            // Blocks (no -1) until msg_proc has seen the leader's answer for this index.
            cb.consensus_notify = Some(Arc::new(move |s, index, _, key| {
                let Some(d) = w.upgrade() else { return -1 };
                let (_, _, lid) = match d.leader_info(s) {
                    Ok(Some(l)) => l,
                    _ => return -1,
                };
                let _ = d
                    .stream_info(s)
                    .expect("stream_info inside consensus_notify");
                let _ = dcf_runtime::api::get_param("HEARTBEAT_INTERVAL").expect("get_param");
                let mut q = vec![b'Q'];
                q.extend_from_slice(&index.to_le_bytes());
                if d.send_msg(s, lid, &q).is_err() {
                    return -1;
                }
                let end = Instant::now() + Duration::from_secs(20);
                while !r2.lock().contains(&index) {
                    if Instant::now() > end {
                        return -1;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                events.lock().push(Ev::Applied {
                    index,
                    key,
                    leader_cb: false,
                });
                0
            }));
        });
    }
    write_keys(c.node(leader), 1..21);
    let keys: Vec<u64> = (1..21).collect();
    for n in &c.nodes {
        wait_keys(n, &keys, LONG);
        check_in_order(n);
    }
    assert!(answered.load(Ordering::Relaxed) >= 40);
}

#[test]
fn consensus_notify_refusing_until_msg_proc_confirms() {
    // The real openGauss pattern: -1 until the 'R' has been handled in msg_proc.
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    leader_answers_queries(c.node(leader), Arc::default());
    let f = c.node(leader % 3 + 1);
    let confirmed: Arc<Mutex<HashSet<u64>>> = Arc::default();
    let (c1, c2) = (confirmed.clone(), confirmed.clone());
    let refusals = Arc::new(AtomicUsize::new(0));
    let r = refusals.clone();
    let w = weak(f);
    let events = f.events.clone();
    f.dcf.callbacks().update(move |cb| {
        cb.msg_proc = Some(Arc::new(move |_, _, data| {
            if data.len() == 9 && data[0] == b'R' {
                c1.lock()
                    .insert(u64::from_le_bytes(data[1..9].try_into().unwrap()));
            }
            0
        }));
        cb.consensus_notify = Some(Arc::new(move |s, index, _, key| {
            if c2.lock().contains(&index) {
                events.lock().push(Ev::Applied {
                    index,
                    key,
                    leader_cb: false,
                });
                return 0;
            }
            if let Some(d) = w.upgrade() {
                if let Ok(Some((_, _, lid))) = d.leader_info(s) {
                    let mut q = vec![b'Q'];
                    q.extend_from_slice(&index.to_le_bytes());
                    let _ = d.send_msg(s, lid, &q);
                }
            }
            r.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(30));
            -1
        }));
    });
    write_keys(c.node(leader), 1..11);
    wait_keys(f, &(1..11).collect::<Vec<_>>(), LONG);
    check_in_order(f);
    assert_eq!(
        f.applied_keys(),
        (1..11).collect::<Vec<u64>>(),
        "each entry once"
    );
    assert!(refusals.load(Ordering::Relaxed) >= 10);
}

#[test]
fn every_callback_may_reenter_the_api() {
    let c = Cluster::new(3);
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    for n in &c.nodes {
        let w = weak(n);
        let (s1, s2, s3, s4, s5) = (
            seen.clone(),
            seen.clone(),
            seen.clone(),
            seen.clone(),
            seen.clone(),
        );
        let (w1, w2, w3, w4, w5) = (w.clone(), w.clone(), w.clone(), w.clone(), w);
        let ev = n.events.clone();
        let ev2 = n.events.clone();
        let id = n.id;
        n.dcf.callbacks().update(move |cb| {
            cb.after_writer = Some(Arc::new(move |s, index, _, key, _| {
                let d = w1.upgrade().unwrap();
                if key == 1 {
                    d.broadcast_msg(s, b"cfg")
                        .expect("broadcast_msg in after_writer");
                }
                d.stream_info(s).expect("stream_info in after_writer");
                d.data_commit_index(s, CommitIndexKind::Local)
                    .expect("commit index in after_writer");
                d.cluster_min_applied(s).expect("min applied");
                let _ = d.all_logs_applied(s);
                for peer in (1..=3).filter(|p| *p != id) {
                    d.pause_rep(s, peer, 0).expect("pause_rep in after_writer");
                }
                s1.lock().push(format!("after_writer {id}"));
                ev.lock().push(Ev::Applied {
                    index,
                    key,
                    leader_cb: true,
                });
                0
            }));
            cb.consensus_notify = Some(Arc::new(move |s, index, _, key| {
                let d = w2.upgrade().unwrap();
                d.leader_info(s).expect("leader_info in consensus_notify");
                d.stream_info(s).expect("stream_info in consensus_notify");
                // Goes to the leader over the network and waits for the answer.
                d.data_commit_index(s, CommitIndexKind::Leader)
                    .expect("leader commit index in consensus_notify");
                s2.lock().push(format!("consensus_notify {id}"));
                ev2.lock().push(Ev::Applied {
                    index,
                    key,
                    leader_cb: false,
                });
                0
            }));
            cb.status_notify = Some(Arc::new(move |s, role| {
                let d = w3.upgrade().unwrap();
                d.stream_info(s).expect("stream_info in status_notify");
                d.leader_info(s).expect("leader_info in status_notify");
                d.node_is_healthy(s).expect("health in status_notify");
                s3.lock().push(format!("status {id} {role:?}"));
                0
            }));
            cb.election_notify = Some(Arc::new(move |s, leader| {
                let d = w4.upgrade().unwrap();
                d.stream_info(s).expect("stream_info in election_notify");
                let _ = d.send_msg(s, leader, b"hello leader");
                s4.lock().push(format!("election {id} {leader}"));
                0
            }));
            cb.msg_proc = Some(Arc::new(move |s, src, data| {
                let d = w5.upgrade().unwrap();
                d.leader_info(s).expect("leader_info in msg_proc");
                d.stream_info(s).expect("stream_info in msg_proc");
                if data == b"cfg" {
                    // The leader's message may come before its first heartbeat: retry while
                    // this node does not know the leader yet.
                    let key = 1000 + u64::from(id);
                    let end = Instant::now() + Duration::from_secs(20);
                    let r = loop {
                        let r = d.universal_write(s, &payload(key), key);
                        if r.is_ok() || Instant::now() > end {
                            break r;
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    };
                    s5.lock().push(format!(
                        "msg {id} from {src} write {:?}",
                        r.map(|o| o.is_some())
                    ));
                }
                0
            }));
        });
    }
    for n in &c.nodes {
        n.dcf.start(n.id, &c.json).unwrap();
    }
    let leader = c.wait_leader(LONG);
    // Key 1's after_writer broadcasts "cfg"; each follower answers with a universal write.
    write_keys(c.node(leader), 1..2);
    let followers: Vec<u32> = (1..=3).filter(|i| *i != leader).collect();
    let extra: Vec<u64> = followers.iter().map(|f| 1000 + u64::from(*f)).collect();
    for n in &c.nodes {
        wait_keys(n, &[1], LONG);
    }
    let end = Instant::now() + LONG;
    loop {
        let s = seen.lock().clone();
        let done = followers.iter().all(|f| {
            s.iter()
                .any(|l| l.starts_with(&format!("msg {f} from {leader} write Ok(true)")))
        });
        if done {
            break;
        }
        assert!(
            Instant::now() < end,
            "universal writes from msg_proc: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    for n in &c.nodes {
        wait_keys(n, &extra, LONG);
    }
    let s = seen.lock().clone();
    assert!(
        s.iter().any(|l| l == &format!("status {leader} Leader")),
        "{s:?}"
    );
    for f in &followers {
        assert!(
            s.iter().any(|l| l == &format!("election {f} {leader}")),
            "{s:?}"
        );
    }
}
