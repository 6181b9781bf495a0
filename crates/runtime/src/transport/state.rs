//! The transport's shared state: what its tasks share (`TransportState`, with the peer
//! table) and each peer's outbound queues (`PeerSender`, whose behaviour is in conn_out).
//! The connection modules and the endpoint all build on this one; it builds on none of them.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    pub const BUSY: u32 = 5;
}

/// Connections not yet past their hello, in total and per source address: enough for every
/// peer to reconnect at once, too few for a stranger to matter.
pub(crate) const MAX_PENDING: usize = 64;
pub(crate) const MAX_PENDING_PER_IP: usize = 8;
/// A refusal is logged again for the same address after this long (with the count since).
const REFUSAL_LOG_PERIOD: Duration = Duration::from_secs(10);
/// Refusal lines per second, all addresses together; the rest are counted.
const REFUSAL_LINES_PER_SEC: u32 = 10;

struct LastRefusal {
    why: String,
    at: Instant,
    suppressed: u64,
}

/// Rate limits for refusal log lines: one per address and reason per period, and a few
/// per second in all (a flood from many addresses must not fill the log).
#[derive(Default)]
pub(crate) struct Refusals {
    by_ip: HashMap<IpAddr, LastRefusal>,
    second: Option<Instant>,
    lines: u32,
    dropped: u64,
}

impl Refusals {
    /// Whether to log `why` for `ip` now, and how many refusals were not logged before it.
    fn admit(&mut self, ip: IpAddr, why: &str, now: Instant) -> Option<u64> {
        if let Some(last) = self.by_ip.get_mut(&ip) {
            if last.why == why && now.duration_since(last.at) < REFUSAL_LOG_PERIOD {
                last.suppressed += 1;
                return None;
            }
        }
        if self
            .second
            .is_none_or(|s| now.duration_since(s) >= Duration::from_secs(1))
        {
            self.second = Some(now);
            self.lines = 0;
        }
        if self.lines >= REFUSAL_LINES_PER_SEC {
            self.dropped += 1;
            return None;
        }
        self.lines += 1;
        if self.by_ip.len() >= 1024 {
            self.by_ip.clear();
        }
        let before = self.by_ip.get(&ip).map_or(0, |l| l.suppressed);
        self.by_ip.insert(
            ip,
            LastRefusal {
                why: why.to_string(),
                at: now,
                suppressed: 0,
            },
        );
        Some(before + std::mem::take(&mut self.dropped))
    }

    pub fn forget(&mut self, ip: IpAddr) {
        self.by_ip.remove(&ip);
    }
}

/// Connections between accept and a validated hello.
#[derive(Default)]
pub(crate) struct Pending {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

impl Pending {
    /// Counts one more from `ip`, unless a cap is reached.
    pub fn enter(&mut self, ip: IpAddr) -> Result<(), String> {
        let n = self.by_ip.get(&ip).copied().unwrap_or(0);
        if self.total >= MAX_PENDING {
            return Err(format!(
                "{MAX_PENDING} connections are already being set up"
            ));
        }
        if n >= MAX_PENDING_PER_IP {
            return Err(format!(
                "{MAX_PENDING_PER_IP} connections from this address are already being set up"
            ));
        }
        self.total += 1;
        self.by_ip.insert(ip, n + 1);
        Ok(())
    }

    pub fn leave(&mut self, ip: IpAddr) {
        self.total = self.total.saturating_sub(1);
        if let Some(n) = self.by_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.by_ip.remove(&ip);
            }
        }
    }
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
    /// Refusal log lines, rate-limited per source address and in all.
    pub refusals: Mutex<Refusals>,
    /// Connections not yet past their hello (capped).
    pub pending: Mutex<Pending>,
    /// Mutual TLS: peers present certificates of the cluster's CA.
    pub mutual_tls: bool,
    /// Peers whose certificate names no node, warned about once each.
    pub unnamed_warned: Mutex<HashSet<NodeId>>,
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

    /// Logs why a connection from `remote` was refused: once per address and reason every
    /// few seconds, and a few lines per second in all (the rest counted in the next line).
    pub fn log_refusal(&self, remote: SocketAddr, why: &str) {
        let admitted = self.refusals.lock().admit(remote.ip(), why, Instant::now());
        let Some(unlogged) = admitted else {
            return;
        };
        let more = if unlogged > 0 {
            format!(" ({unlogged} more refusals not logged)")
        } else {
            String::new()
        };
        self.log(
            Level::Warn,
            format!("refused connection from {remote}: {why}{more}"),
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
