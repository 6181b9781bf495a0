//! Clusters of several nodes in one process over loopback QUIC, through the safe API.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dcf_runtime::api::{Dcf, DcfRole};
use dcf_runtime::config::Params;
use parking_lot::Mutex;

type Log = Arc<Mutex<Vec<(u64, u64, Vec<u8>)>>>;
type Inbox = Arc<Mutex<Vec<(u32, Vec<u8>)>>>;

struct TestNode {
    id: u32,
    dcf: Dcf,
    delivered: Log,
    messages: Inbox,
    roles: Arc<Mutex<Vec<DcfRole>>>,
    /// consensus_notify refuses (returns -1) while this is above 0, counting down.
    refuse: Arc<Mutex<u32>>,
    _dir: Option<tempfile::TempDir>,
    dir_path: std::path::PathBuf,
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn cluster_json(ports: &[u16]) -> String {
    let items: Vec<String> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!(
                r#"{{"stream_id":1,"node_id":{},"ip":"127.0.0.1","port":{p},"role":"{}"}}"#,
                i + 1,
                if i == 0 { "LEADER" } else { "FOLLOWER" }
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn make_node(id: u32, dir: &std::path::Path) -> TestNode {
    let mut p = Params::default();
    p.set("DATA_PATH", dir.to_str().unwrap()).unwrap();
    p.set("ELECTION_TIMEOUT", "1").unwrap();
    let dcf = Dcf::with_params(p);
    let delivered: Log = Arc::default();
    let messages: Inbox = Arc::default();
    let roles: Arc<Mutex<Vec<DcfRole>>> = Arc::default();
    let refuse: Arc<Mutex<u32>> = Arc::default();
    let (d1, d2, m, r, rf) = (
        delivered.clone(),
        delivered.clone(),
        messages.clone(),
        roles.clone(),
        refuse.clone(),
    );
    dcf.callbacks().update(move |c| {
        c.after_writer = Some(Arc::new(move |_, i, data, key, _| {
            d1.lock().push((i, key, data.to_vec()));
            0
        }));
        c.consensus_notify = Some(Arc::new(move |_, i, data, key| {
            let mut n = rf.lock();
            if *n > 0 {
                *n -= 1;
                return -1;
            }
            d2.lock().push((i, key, data.to_vec()));
            0
        }));
        c.msg_proc = Some(Arc::new(move |_, src, data| {
            m.lock().push((src, data.to_vec()));
            0
        }));
        c.status_notify = Some(Arc::new(move |_, role| {
            r.lock().push(role);
            0
        }));
    });
    TestNode {
        id,
        dcf,
        delivered,
        messages,
        roles,
        refuse,
        _dir: None,
        dir_path: dir.to_path_buf(),
    }
}

struct Cluster {
    nodes: Vec<TestNode>,
    json: String,
    _root: tempfile::TempDir,
}

impl Cluster {
    fn start(n: usize) -> Cluster {
        let root = tempfile::tempdir().unwrap();
        let ports: Vec<u16> = (0..n).map(|_| free_udp_port()).collect();
        let json = cluster_json(&ports);
        let nodes: Vec<TestNode> = (1..=n as u32)
            .map(|id| {
                let dir = root.path().join(format!("node{id}"));
                let node = make_node(id, &dir);
                node.dcf.start(id, &json).expect("start");
                node
            })
            .collect();
        Cluster {
            nodes,
            json,
            _root: root,
        }
    }

    fn node(&self, id: u32) -> &TestNode {
        &self.nodes[id as usize - 1]
    }

    fn wait_leader(&self, timeout: Duration) -> u32 {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            for n in &self.nodes {
                if n.dcf.is_started() && n.dcf.all_logs_applied(1).unwrap_or(false) {
                    return n.id;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no writable leader within {timeout:?}");
    }

    fn restart(&mut self, id: u32) {
        let dir = self.node(id).dir_path.clone();
        let node = make_node(id, &dir);
        node.dcf.start(id, &self.json).expect("restart");
        self.nodes[id as usize - 1] = node;
    }
}

fn payload(key: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (key.wrapping_mul(31).wrapping_add(i as u64) % 251) as u8)
        .collect()
}

fn write_n(c: &Cluster, leader: u32, keys: std::ops::Range<u64>) -> Vec<u64> {
    let mut idx = Vec::new();
    for k in keys {
        let i = c
            .node(leader)
            .dcf
            .write(1, &payload(k, 100 + (k % 50) as usize), k)
            .unwrap_or_else(|e| panic!("write {k} failed: {e}"));
        idx.push(i);
    }
    idx
}

fn wait_delivered(n: &TestNode, keys: &[u64], timeout: Duration) {
    let end = Instant::now() + timeout;
    loop {
        let have: Vec<u64> = n.delivered.lock().iter().map(|(_, k, _)| *k).collect();
        if keys.iter().all(|k| have.contains(k)) {
            return;
        }
        assert!(
            Instant::now() < end,
            "node {} delivered {} of {} keys",
            n.id,
            have.len(),
            keys.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Strictly increasing indexes and the exact bytes for each key.
fn check_order_and_bytes(n: &TestNode) {
    let d = n.delivered.lock();
    for w in d.windows(2) {
        assert!(
            w[0].0 < w[1].0,
            "node {}: index {} delivered after {}",
            n.id,
            w[1].0,
            w[0].0
        );
    }
    for (_, key, data) in d.iter() {
        assert_eq!(
            data,
            &payload(*key, 100 + (*key % 50) as usize),
            "node {}: bytes of key {key}",
            n.id
        );
    }
}

fn same_history(c: &Cluster) {
    let reference: Vec<(u64, u64)> = c.nodes[0]
        .delivered
        .lock()
        .iter()
        .map(|(i, k, _)| (*i, *k))
        .collect();
    for n in &c.nodes[1..] {
        let mine: Vec<(u64, u64)> = n
            .delivered
            .lock()
            .iter()
            .map(|(i, k, _)| (*i, *k))
            .collect();
        let common = reference.len().min(mine.len());
        assert_eq!(
            reference[..common],
            mine[..common],
            "node {} diverges",
            n.id
        );
    }
}

#[test]
fn three_nodes_replicate_in_order_with_exact_bytes() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(Duration::from_secs(20));
    let end = Instant::now() + Duration::from_secs(5);
    while c.node(leader).roles.lock().is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        *c.node(leader).roles.lock(),
        vec![DcfRole::Leader],
        "status_notify(LEADER) once"
    );
    let keys: Vec<u64> = (1..=300).collect();
    write_n(&c, leader, 1..301);
    for n in &c.nodes {
        wait_delivered(n, &keys, Duration::from_secs(20));
        check_order_and_bytes(n);
    }
    same_history(&c);
    // The leader delivered its own entries through after_writer, followers through consensus_notify.
    let info = c.node(leader).dcf.stream_info(1).unwrap();
    assert!(info.contains(r#""role":"LEADER""#), "{info}");
    let v: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(v["nodes"].as_array().unwrap().len(), 3);
    let (ip, _port, id) = c
        .node(leader % 3 + 1)
        .dcf
        .leader_info(1)
        .unwrap()
        .expect("leader known");
    assert_eq!((ip.as_str(), id), ("127.0.0.1", leader));
    // Reads return the exact payload.
    let mut buf = vec![0u8; 4096];
    let last = c.node(leader).dcf.last_index(1).unwrap();
    assert!(c.node(leader).dcf.read(1, last, &mut buf).unwrap() > 0);
    for n in &c.nodes {
        n.dcf.stop().unwrap();
    }
}

#[test]
fn refused_entry_is_offered_again_and_rewind_redelivers() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(Duration::from_secs(20));
    let follower = c.node(leader % 3 + 1);
    *follower.refuse.lock() = 5;
    let keys: Vec<u64> = (1..=20).collect();
    let idx = write_n(&c, leader, 1..21);
    wait_delivered(follower, &keys, Duration::from_secs(20));
    check_order_and_bytes(follower);
    assert_eq!(
        *follower.refuse.lock(),
        0,
        "the refusals were consumed by retries"
    );
    // Rewind: everything after idx[9] comes again, in order.
    let before = follower.delivered.lock().len();
    follower.dcf.set_applied_index(1, idx[9]).unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    while follower.delivered.lock().len() < before + 10 {
        assert!(Instant::now() < end, "rewind did not re-deliver");
        std::thread::sleep(Duration::from_millis(20));
    }
    let again: Vec<u64> = follower.delivered.lock()[before..]
        .iter()
        .map(|(_, k, _)| *k)
        .collect();
    assert_eq!(again, (11..=20).collect::<Vec<u64>>());
    for n in &c.nodes {
        n.dcf.stop().unwrap();
    }
}

#[test]
fn leader_failure_elects_a_new_leader_and_the_old_one_catches_up() {
    let mut c = Cluster::start(3);
    let first = c.wait_leader(Duration::from_secs(20));
    write_n(&c, first, 1..51);
    let keys: Vec<u64> = (1..=50).collect();
    for n in &c.nodes {
        wait_delivered(n, &keys, Duration::from_secs(20));
    }
    c.node(first).dcf.stop().unwrap();
    let second = {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let l = c
                .nodes
                .iter()
                .find(|n| n.id != first && n.dcf.all_logs_applied(1).unwrap_or(false));
            if let Some(l) = l {
                break l.id;
            }
            assert!(Instant::now() < end, "no new leader");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    assert_ne!(second, first);
    write_n(&c, second, 51..101);
    c.restart(first);
    let all: Vec<u64> = (51..=100).collect();
    wait_delivered(c.node(first), &all, Duration::from_secs(30));
    for n in &c.nodes {
        wait_delivered(n, &all, Duration::from_secs(20));
        check_order_and_bytes(n);
    }
    for n in &c.nodes {
        n.dcf.stop().unwrap();
    }
}

#[test]
fn messages_reach_the_right_node_with_the_source_id() {
    let c = Cluster::start(3);
    c.wait_leader(Duration::from_secs(20));
    let end = Instant::now() + Duration::from_secs(10);
    while c.node(1).dcf.conn_status(1, 2).is_err() || c.node(1).dcf.conn_status(1, 3).is_err() {
        assert!(Instant::now() < end, "nodes did not connect");
        std::thread::sleep(Duration::from_millis(20));
    }
    let big = vec![7u8; 512 * 1024];
    c.node(1).dcf.send_msg(1, 2, b"hello two").unwrap();
    c.node(1).dcf.send_msg(1, 2, &big).unwrap();
    c.node(3).dcf.broadcast_msg(1, b"from three").unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let two = c.node(2).messages.lock().clone();
        let one = c.node(1).messages.lock().clone();
        if two.len() >= 3 && !one.is_empty() {
            let from_one: Vec<&(u32, Vec<u8>)> = two.iter().filter(|(s, _)| *s == 1).collect();
            assert_eq!(
                from_one[0],
                &(1, b"hello two".to_vec()),
                "in order per sender"
            );
            assert_eq!(from_one[1], &(1, big.clone()));
            assert!(two.contains(&(3, b"from three".to_vec())));
            assert_eq!(one[0], (3, b"from three".to_vec()));
            break;
        }
        assert!(
            Instant::now() < end,
            "messages not delivered: {} {}",
            two.len(),
            one.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        c.node(3).messages.lock().is_empty(),
        "broadcast excludes the sender"
    );
    for n in &c.nodes {
        n.dcf.stop().unwrap();
    }
}

#[test]
fn five_nodes_commit_and_forward_writes() {
    let c = Cluster::start(5);
    let leader = c.wait_leader(Duration::from_secs(20));
    let keys: Vec<u64> = (1..=100).collect();
    write_n(&c, leader, 1..101);
    // A follower's universal write goes through the leader.
    let follower = c.node(leader % 5 + 1);
    let idx = follower
        .dcf
        .universal_write(1, &payload(1000, 100), 1000)
        .unwrap();
    assert!(idx.is_some());
    for n in &c.nodes {
        wait_delivered(n, &keys, Duration::from_secs(20));
        wait_delivered(n, &[1000], Duration::from_secs(20));
        check_order_and_bytes(n);
    }
    same_history(&c);
    for n in &c.nodes {
        n.dcf.stop().unwrap();
    }
}
