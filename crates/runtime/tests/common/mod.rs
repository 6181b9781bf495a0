//! Shared helpers of the runtime_* tests: clusters of `Dcf` instances in one process over
//! loopback QUIC, with callbacks that record everything they see (and the thread they ran
//! on). Adapted from tests/runtime_cluster.rs.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use dcf_runtime::api::{Dcf, DcfException, DcfRole};
use dcf_runtime::config::Params;
use parking_lot::Mutex;

pub const LONG: Duration = Duration::from_secs(20);

/// One callback invocation, in the order the node saw them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    /// after_writer (true) or consensus_notify (false) accepted entry (index, key).
    Applied {
        index: u64,
        key: u64,
        leader_cb: bool,
    },
    Status(DcfRole),
    Election(u32),
    Exception(DcfException),
    Msg(u32, Vec<u8>),
}

/// Which callback ran on which thread; `init` lists thread_memctx_init calls.
#[derive(Default)]
pub struct Threads {
    pub init: Vec<ThreadId>,
    /// (callback name, thread, was thread_memctx_init already called on it)
    pub calls: Vec<(&'static str, ThreadId, bool)>,
}

/// A node's consensus_notify refuses (-1) while this returns true.
pub type Gate = Arc<dyn Fn(u64) -> bool + Send + Sync>;

pub struct TestNode {
    pub id: u32,
    pub dcf: Arc<Dcf>,
    pub events: Arc<Mutex<Vec<Ev>>>,
    pub data: Arc<Mutex<HashMap<u64, Vec<u8>>>>,
    pub threads: Arc<Mutex<Threads>>,
    /// Delay of every consensus_notify (simulates a slow standby).
    pub apply_delay: Arc<Mutex<Duration>>,
    pub dir: PathBuf,
}

impl TestNode {
    pub fn applied(&self) -> Vec<(u64, u64)> {
        self.events
            .lock()
            .iter()
            .filter_map(|e| match e {
                Ev::Applied { index, key, .. } => Some((*index, *key)),
                _ => None,
            })
            .collect()
    }

    /// Keys acknowledged to this node's writers (after_writer).
    pub fn acked_keys(&self) -> Vec<u64> {
        self.events
            .lock()
            .iter()
            .filter_map(|e| match e {
                Ev::Applied {
                    key,
                    leader_cb: true,
                    ..
                } => Some(*key),
                _ => None,
            })
            .collect()
    }

    pub fn applied_keys(&self) -> Vec<u64> {
        self.applied().into_iter().map(|(_, k)| k).collect()
    }

    pub fn statuses(&self) -> Vec<DcfRole> {
        self.events
            .lock()
            .iter()
            .filter_map(|e| match e {
                Ev::Status(r) => Some(*r),
                _ => None,
            })
            .collect()
    }

    pub fn elections(&self) -> Vec<u32> {
        self.events
            .lock()
            .iter()
            .filter_map(|e| match e {
                Ev::Election(l) => Some(*l),
                _ => None,
            })
            .collect()
    }

    pub fn exceptions(&self) -> usize {
        self.events
            .lock()
            .iter()
            .filter(|e| matches!(e, Ev::Exception(DcfException::MissingLog)))
            .count()
    }

    pub fn messages(&self) -> Vec<(u32, Vec<u8>)> {
        self.events
            .lock()
            .iter()
            .filter_map(|e| match e {
                Ev::Msg(s, d) => Some((*s, d.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn role(&self) -> Option<DcfRole> {
        self.dcf.term_and_role(1).ok().map(|(_, r)| r)
    }

    pub fn is_writable_leader(&self) -> bool {
        self.dcf.is_started() && self.dcf.all_logs_applied(1).unwrap_or(false)
    }
}

pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Member `i` (0-based) of `ports` is node i+1; `roles[i]` its configured role.
pub fn cluster_json_roles(ports: &[u16], roles: &[&str]) -> String {
    let items: Vec<String> = ports
        .iter()
        .zip(roles)
        .enumerate()
        .map(|(i, (p, r))| {
            format!(
                r#"{{"stream_id":1,"node_id":{},"ip":"127.0.0.1","port":{p},"role":"{r}"}}"#,
                i + 1
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

pub fn cluster_json(ports: &[u16]) -> String {
    let roles: Vec<&str> = (0..ports.len())
        .map(|i| if i == 0 { "LEADER" } else { "FOLLOWER" })
        .collect();
    cluster_json_roles(ports, &roles)
}

fn record_thread(t: &Mutex<Threads>, name: &'static str) {
    let me = std::thread::current().id();
    let mut t = t.lock();
    let inited = t.init.contains(&me);
    t.calls.push((name, me, inited));
}

pub fn params(dir: &Path) -> Params {
    let mut p = Params::default();
    p.set("DATA_PATH", dir.to_str().unwrap()).unwrap();
    p.set("ELECTION_TIMEOUT", "1").unwrap();
    // The default 500 MB segments are read whole at every restart (seconds in a debug build).
    p.set("DATA_FILE_SIZE", "10").unwrap();
    p
}

/// A node (not started) whose callbacks record into its fields.
pub fn make_node(id: u32, dir: &Path) -> TestNode {
    make_node_with(id, dir, params(dir))
}

pub fn make_node_with(id: u32, dir: &Path, p: Params) -> TestNode {
    let dcf = Arc::new(Dcf::with_params(p));
    let node = TestNode {
        id,
        dcf,
        events: Arc::default(),
        data: Arc::default(),
        threads: Arc::default(),
        apply_delay: Arc::default(),
        dir: dir.to_path_buf(),
    };
    register_recorders(&node);
    node
}

fn register_recorders(n: &TestNode) {
    let (ev1, ev2, ev3, ev4, ev5, ev6) = (
        n.events.clone(),
        n.events.clone(),
        n.events.clone(),
        n.events.clone(),
        n.events.clone(),
        n.events.clone(),
    );
    let (d1, d2) = (n.data.clone(), n.data.clone());
    let th: Vec<Arc<Mutex<Threads>>> = (0..7).map(|_| n.threads.clone()).collect();
    let delay = n.apply_delay.clone();
    n.dcf.callbacks().update(move |c| {
        let t = th[0].clone();
        c.after_writer = Some(Arc::new(move |_, index, data, key, _| {
            record_thread(&t, "after_writer");
            d1.lock().insert(key, data.to_vec());
            ev1.lock().push(Ev::Applied {
                index,
                key,
                leader_cb: true,
            });
            0
        }));
        let t = th[1].clone();
        c.consensus_notify = Some(Arc::new(move |_, index, data, key| {
            record_thread(&t, "consensus_notify");
            let d = *delay.lock();
            if !d.is_zero() {
                std::thread::sleep(d);
            }
            d2.lock().insert(key, data.to_vec());
            ev2.lock().push(Ev::Applied {
                index,
                key,
                leader_cb: false,
            });
            0
        }));
        let t = th[2].clone();
        c.status_notify = Some(Arc::new(move |_, role| {
            record_thread(&t, "status_notify");
            ev3.lock().push(Ev::Status(role));
            0
        }));
        let t = th[3].clone();
        c.election_notify = Some(Arc::new(move |_, leader| {
            record_thread(&t, "election_notify");
            ev4.lock().push(Ev::Election(leader));
            0
        }));
        let t = th[4].clone();
        c.exception_report = Some(Arc::new(move |_, e| {
            record_thread(&t, "exception_report");
            ev5.lock().push(Ev::Exception(e));
            0
        }));
        let t = th[5].clone();
        c.msg_proc = Some(Arc::new(move |_, src, data| {
            record_thread(&t, "msg_proc");
            ev6.lock().push(Ev::Msg(src, data.to_vec()));
            0
        }));
        let t = th[6].clone();
        c.thread_memctx_init = Some(Arc::new(move || {
            t.lock().init.push(std::thread::current().id());
        }));
    });
}

pub fn weak(n: &TestNode) -> Weak<Dcf> {
    Arc::downgrade(&n.dcf)
}

pub struct Cluster {
    pub nodes: Vec<TestNode>,
    pub ports: Vec<u16>,
    pub json: String,
    pub root: tempfile::TempDir,
}

impl Cluster {
    /// `n` nodes, node 1 configured LEADER, the rest FOLLOWER; not started.
    pub fn new(n: usize) -> Cluster {
        let root = tempfile::tempdir().unwrap();
        let ports: Vec<u16> = (0..n).map(|_| free_udp_port()).collect();
        let json = cluster_json(&ports);
        let nodes = (1..=n as u32)
            .map(|id| make_node(id, &root.path().join(format!("node{id}"))))
            .collect();
        Cluster {
            nodes,
            ports,
            json,
            root,
        }
    }

    pub fn start(n: usize) -> Cluster {
        let c = Cluster::new(n);
        for node in &c.nodes {
            node.dcf.start(node.id, &c.json).expect("start");
        }
        c
    }

    pub fn node(&self, id: u32) -> &TestNode {
        &self.nodes[id as usize - 1]
    }

    pub fn wait_leader(&self, timeout: Duration) -> u32 {
        self.wait_leader_except(0, timeout)
    }

    /// A writable leader other than `not`.
    pub fn wait_leader_except(&self, not: u32, timeout: Duration) -> u32 {
        let mut found = 0;
        wait_for(timeout, "a writable leader", || {
            found = self
                .nodes
                .iter()
                .find(|n| n.id != not && n.is_writable_leader())
                .map_or(0, |n| n.id);
            found != 0
        });
        found
    }

    /// Replaces node `id` by a fresh instance on the same directory and ports, and starts it.
    pub fn restart(&mut self, id: u32) {
        let dir = self.node(id).dir.clone();
        let node = make_node(id, &dir);
        node.dcf.start(id, &self.json).expect("restart");
        self.nodes[id as usize - 1] = node;
    }

    pub fn stop_all(&self) {
        for n in &self.nodes {
            n.dcf.stop().unwrap();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for n in &self.nodes {
            let _ = n.dcf.stop();
        }
    }
}

/// Polls `cond` every 20 ms; panics naming `what` after `timeout`.
pub fn wait_for(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < end,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn payload(key: u64) -> Vec<u8> {
    let len = 100 + (key % 50) as usize;
    (0..len)
        .map(|i| (key.wrapping_mul(31).wrapping_add(i as u64) % 251) as u8)
        .collect()
}

/// Writes keys on `leader`; returns their indexes.
pub fn write_keys(n: &TestNode, keys: std::ops::Range<u64>) -> Vec<u64> {
    keys.map(|k| {
        n.dcf
            .write(1, &payload(k), k)
            .unwrap_or_else(|e| panic!("node {}: write of key {k} failed: {e}", n.id))
    })
    .collect()
}

pub fn wait_keys(n: &TestNode, keys: &[u64], timeout: Duration) {
    wait_for(timeout, &format!("node {} to apply {keys:?}", n.id), || {
        let have = n.applied_keys();
        keys.iter().all(|k| have.contains(k))
    });
}

/// Indexes strictly increasing (Conf entries, e.g. each term's first, are not delivered,
/// so gaps are allowed) and every key's bytes exact.
pub fn check_in_order(n: &TestNode) {
    check_in_order_since(n, 0)
}

/// As `check_in_order`, for what was applied after position `mark` of the event list (a
/// restart or a rewind delivers again).
pub fn check_in_order_since(n: &TestNode, mark: usize) {
    check_indexes_since(n, mark);
    for (k, d) in n.data.lock().iter() {
        assert_eq!(d, &payload(*k), "node {}: bytes of key {k}", n.id);
    }
}

/// Strictly increasing indexes after position `mark` of the event list.
pub fn check_indexes_since(n: &TestNode, mark: usize) {
    let a: Vec<(u64, u64)> = n.events.lock()[mark..]
        .iter()
        .filter_map(|e| match e {
            Ev::Applied { index, key, .. } => Some((*index, *key)),
            _ => None,
        })
        .collect();
    for w in a.windows(2) {
        assert!(
            w[1].0 > w[0].0,
            "node {}: index {} applied after {} in {a:?}",
            n.id,
            w[1].0,
            w[0].0
        );
    }
}
