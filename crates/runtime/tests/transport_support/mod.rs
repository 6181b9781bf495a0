//! Helpers shared by the transport integration tests.
#![allow(dead_code)]

use bytes::Bytes;
use dcf_runtime::transport::{
    Channel, Frame, FrameHandler, Level, ReceivedFrame, TlsSettings, Transport, TransportConfig,
};
use dcf_runtime::types::NodeId;
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Upper bound for anything to happen; tests never rely on it being short.
pub const PATIENCE: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct Recorder {
    pub frames: Mutex<Vec<(NodeId, Channel, ReceivedFrame)>>,
    pub peer_events: Mutex<Vec<(NodeId, bool)>>,
    pub logs: Mutex<Vec<String>>,
    changed: Condvar,
    lock: Mutex<()>,
}

impl Recorder {
    fn notify(&self) {
        let _g = self.lock.lock();
        self.changed.notify_all();
    }

    /// Waits until `cond` holds, panicking with `what` after PATIENCE.
    pub fn wait(&self, what: &str, mut cond: impl FnMut(&Recorder) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if cond(self) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            let mut g = self.lock.lock();
            self.changed.wait_for(&mut g, Duration::from_millis(20));
        }
    }

    pub fn frames_from(&self, from: NodeId, channel: Channel) -> Vec<ReceivedFrame> {
        self.frames
            .lock()
            .iter()
            .filter(|(f, c, _)| *f == from && *c == channel)
            .map(|(_, _, fr)| fr.clone())
            .collect()
    }

    pub fn count_from(&self, from: NodeId) -> usize {
        self.frames
            .lock()
            .iter()
            .filter(|(f, _, _)| *f == from)
            .count()
    }

    pub fn has_log(&self, needle: &str) -> bool {
        self.logs.lock().iter().any(|l| l.contains(needle))
    }

    pub fn downs(&self, peer: NodeId) -> usize {
        self.peer_events
            .lock()
            .iter()
            .filter(|(p, up)| *p == peer && !up)
            .count()
    }
}

impl FrameHandler for Recorder {
    fn on_frame(&self, from: NodeId, channel: Channel, frame: ReceivedFrame) {
        self.frames.lock().push((from, channel, frame));
        self.notify();
    }

    fn on_peer(&self, peer: NodeId, connected: bool) {
        self.peer_events.lock().push((peer, connected));
        self.notify();
    }

    fn on_log(&self, level: Level, msg: &str) {
        if std::env::var_os("DCF_TEST_LOG").is_some() {
            eprintln!("{level:?} {msg}");
        }
        self.logs.lock().push(msg.to_string());
        self.notify();
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

pub fn config(node_id: NodeId, tls: TlsSettings, max_frame_bytes: usize) -> TransportConfig {
    TransportConfig {
        node_id,
        listen: "127.0.0.1:0".parse().unwrap(),
        peers: HashMap::new(),
        tls,
        max_frame_bytes,
        cluster_id: 42,
        election_timeout: Duration::from_secs(1),
        heartbeat_interval: Duration::from_millis(100),
    }
}

pub struct Node {
    pub id: NodeId,
    pub transport: Transport,
    pub rec: Arc<Recorder>,
}

impl Node {
    pub fn start(cfg: TransportConfig, rt: &tokio::runtime::Runtime) -> Node {
        let rec = Arc::new(Recorder::default());
        let id = cfg.node_id;
        let transport = Transport::start(cfg, rec.clone(), rt.handle()).expect("transport start");
        Node { id, transport, rec }
    }

    pub fn addr(&self) -> SocketAddr {
        self.transport.local_addr()
    }
}

/// Tells every node about every other one.
pub fn mesh(nodes: &[&Node]) {
    let all: HashMap<NodeId, SocketAddr> = nodes.iter().map(|n| (n.id, n.addr())).collect();
    for n in nodes {
        n.transport.set_peers(all.clone());
    }
}

pub fn wait_connected(from: &Node, to: NodeId) {
    from.rec
        .wait(&format!("node {} connected to {to}", from.id), |_| {
            from.transport.is_connected(to)
        });
}

pub fn frame(kind: u8, header: &[u8], payload: &[&[u8]]) -> Frame {
    Frame {
        kind,
        header: Bytes::copy_from_slice(header),
        payload: payload.iter().map(|p| Bytes::copy_from_slice(p)).collect(),
    }
}
