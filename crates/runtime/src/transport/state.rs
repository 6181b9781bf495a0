//! The transport's shared state: what its tasks share (`TransportState`, with the peer
//! table) and each peer's outbound queues (`PeerSender`, whose behaviour is in conn_out).
//! The connection modules and the endpoint all build on this one; it builds on none of them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::transport::log::Level;
use crate::transport::tuning::Timing;
use crate::transport::types::{Frame, FrameHandler};
use crate::types::NodeId;

/// QUIC application close codes.
pub(crate) mod close_code {
    pub const SHUTDOWN: u32 = 0;
    pub const REFUSED: u32 = 1;
    pub const PROTOCOL: u32 = 2;
    pub const REPLACED: u32 = 3;
    pub const PEER_REMOVED: u32 = 4;
}

/// State shared by the transport's tasks.
pub(crate) struct TransportState {
    pub node_id: NodeId,
    pub cluster_id: u64,
    pub max_frame_bytes: usize,
    pub timing: Timing,
    pub handler: Arc<dyn FrameHandler>,
    pub rt: Handle,
    /// Taken at shutdown: the UDP socket closes once every handle is gone.
    pub(super) endpoint: Mutex<Option<quinn::Endpoint>>,
    /// Outbound side, one per configured peer; also the set of nodes allowed to connect.
    pub peers: RwLock<HashMap<NodeId, Arc<PeerSender>>>,
    /// Accepted connections by the node id of their hello.
    pub inbound: Mutex<HashMap<NodeId, quinn::Connection>>,
    /// The last refusal logged per remote address, so a peer retrying every second with the
    /// same problem is logged once.
    pub refusals: Mutex<HashMap<SocketAddr, String>>,
    pub(super) tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Tasks that only wait (timers): aborted at shutdown rather than awaited.
    pub(super) background: Mutex<Vec<JoinHandle<()>>>,
    pub(super) shut: AtomicBool,
}

impl TransportState {
    pub fn log(&self, level: Level, msg: impl AsRef<str>) {
        self.handler.on_log(
            level,
            &format!("transport node {}: {}", self.node_id, msg.as_ref()),
        );
    }

    pub fn endpoint(&self) -> Option<quinn::Endpoint> {
        self.endpoint.lock().clone()
    }

    pub fn is_shut(&self) -> bool {
        self.shut.load(Ordering::Acquire)
    }

    pub fn is_peer(&self, node: NodeId) -> bool {
        self.peers.read().contains_key(&node)
    }

    /// Logs why a connection from `remote` was refused, unless it was the last reason logged
    /// for that address.
    pub fn log_refusal(&self, remote: SocketAddr, why: &str) {
        {
            let mut seen = self.refusals.lock();
            if seen.get(&remote).map(String::as_str) == Some(why) {
                return;
            }
            if seen.len() >= 1024 {
                seen.clear();
            }
            seen.insert(remote, why.to_string());
        }
        self.log(
            Level::Warn,
            format!("refused connection from {remote}: {why}"),
        );
    }

    /// Keeps the task's handle so shutdown can wait for it.
    pub fn track(&self, task: JoinHandle<()>) {
        let mut tasks = self.tasks.lock();
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }
}

pub(crate) enum Outgoing {
    Frame(Frame),
    /// Bytes written as they are (fault injection in tests).
    Raw(Bytes),
}

pub(super) struct Queue {
    pub(super) tx: mpsc::Sender<(Outgoing, usize)>,
    pub(super) bytes: Arc<AtomicUsize>,
    pub(super) limit: usize,
}

pub(crate) struct PeerSender {
    pub addr: SocketAddr,
    pub(super) queues: [Queue; 3],
    pub(super) connected: AtomicBool,
    pub(super) stop: watch::Sender<bool>,
    pub(super) task: Mutex<Option<JoinHandle<()>>>,
}

/// The receiving ends of a peer's queues, owned by its task across reconnections.
pub(super) struct Receivers {
    pub(super) control: mpsc::Receiver<(Outgoing, usize)>,
    pub(super) data: mpsc::Receiver<(Outgoing, usize)>,
    pub(super) message: mpsc::Receiver<(Outgoing, usize)>,
}
