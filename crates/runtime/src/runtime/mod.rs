//! The driver: owns the threads, feeds the replicas, persists and sends what they ask, and
//! runs the callbacks (DESIGN.md "Threads and the write path").
//!
//! Threads of a node: per stream one driver and one apply thread; one event thread
//! (status/election/exception callbacks); one message thread (msg_proc); one network-events
//! thread (requests and answers between nodes); the storage writer; the transport's threads. Callbacks run only on the apply, event and message threads, each of
//! which calls thread_memctx_init once before anything else, and never with a lock held.

mod admin;
mod apply;
mod callbacks;
mod driver;
mod faults;
mod handover;
mod info;
mod limits;
mod mailbox;
pub mod memory;
mod net;
mod node;
mod ops;
mod probe;
mod signal;
mod stats;
mod stream;
pub mod wire;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use parking_lot::Mutex;

pub use faults::FaultSeam;
pub use node::{Node, NodeConfig};

use crate::config::Params;
use crate::consensus::Message;
use crate::dcf_debug;
use crate::host::{CallbackRegistry, DcfException, DcfRole};
use crate::storage::Storage;
use crate::transport::{Channel, Frame, Transport};
use crate::types::{NodeId, StreamId};
use callbacks::EventItem;
use stream::Stream;

/// The exception slot of `dcf_set_exception` / exception_report (one per process, as DCF).
pub type ExceptionSlot = Mutex<Option<(StreamId, DcfException)>>;

thread_local! {
    /// Set on every thread this library runs, so `dcf_stop` can refuse to join itself.
    static OWN_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

pub fn on_own_thread() -> bool {
    OWN_THREAD.with(|c| c.get())
}

/// What every thread of a node shares.
pub struct Shared {
    pub id: NodeId,
    pub params: Params,
    pub storage: Arc<Storage>,
    pub faults: Arc<FaultSeam>,
    pub transport: OnceLock<Transport>,
    pub streams: BTreeMap<StreamId, Arc<Stream>>,
    pub callbacks: Arc<CallbackRegistry>,
    pub exception: Arc<ExceptionSlot>,
    events: Mutex<Option<Sender<EventItem>>>,
    messages: Mutex<Option<Sender<(StreamId, NodeId, Bytes)>>>,
    pub rpc: net::Rpc,
    /// This node's counters for `dcf_query_statistics_info`.
    pub stats: Arc<stats::NodeStats>,
    /// Queue bounds against floods from peers.
    pub limits: Arc<limits::Limits>,
    /// Peers' byte order, learnt from their PeerFacts (true = big endian).
    pub peer_big_endian: Mutex<HashMap<NodeId, bool>>,
    stop: AtomicBool,
    /// dcf_stop was called: no callback starts from then on, though the threads still run
    /// while a leader hands over (its own step-down is no news to the application).
    closing: AtomicBool,
}

impl Shared {
    pub fn closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    pub fn stream(&self, id: StreamId) -> Option<&Arc<Stream>> {
        self.streams.get(&id)
    }

    pub fn send(&self, to: NodeId, channel: Channel, frame: Frame) -> bool {
        if self.faults.is_cut(to) {
            return false;
        }
        let Some(t) = self.transport.get() else {
            return false;
        };
        let (bytes, t0) = (frame.body_len(), std::time::Instant::now());
        match t.send(to, channel, frame) {
            Ok(()) => {
                self.stats.on_send(bytes, t0.elapsed());
                true
            }
            Err(e) => {
                dcf_debug!("send to node {to} failed: {e}");
                false
            }
        }
    }

    pub fn send_consensus(&self, stream: StreamId, to: NodeId, msg: &Message) {
        let heartbeat = matches!(msg, Message::Heartbeat(_));
        if heartbeat {
            self.stats
                .heartbeat_out(stream, to, std::time::Instant::now());
        }
        let (channel, frame) = wire::consensus_frame(stream, msg);
        let sent = self.send(to, channel, frame);
        // Counted only once it went out (not to a peer that is cut off or not connected).
        match (heartbeat, sent) {
            (true, true) => self.stats.heartbeat_sent(),
            (true, false) => self.stats.heartbeat_unsent(stream, to),
            _ => {}
        }
    }

    pub fn post_status(&self, stream: StreamId, role: DcfRole) {
        if let Some(tx) = self.events.lock().as_ref() {
            let _ = tx.send(EventItem::Status(stream, role));
        }
    }

    pub fn post_election(&self, stream: StreamId, leader: NodeId) {
        if let Some(tx) = self.events.lock().as_ref() {
            let _ = tx.send(EventItem::Election(stream, leader));
        }
    }

    /// Queues a user message for msg_proc, or drops it (counted, logged once a second)
    /// when USER_MESSAGE_BYTES already wait: msg_proc is slower than the senders.
    pub fn post_message(&self, stream: StreamId, from: NodeId, data: Bytes) {
        let size = data.len() + limits::ITEM_OVERHEAD;
        if !self.limits.user.take(size) {
            self.limits
                .user_drops
                .note(|| format!("user message(s) from node {from}"));
            return;
        }
        match self.messages.lock().as_ref() {
            Some(tx) if tx.send((stream, from, data)).is_ok() => {}
            _ => self.limits.user.give(size),
        }
    }

    /// Sets the exception slot and reports the exception once.
    pub fn raise_exception(&self, stream: StreamId, e: DcfException) {
        *self.exception.lock() = Some((stream, e));
        if let Some(tx) = self.events.lock().as_ref() {
            let _ = tx.send(EventItem::Exception(stream, e));
        }
    }

    /// Marks the calling thread as ours and runs thread_memctx_init once.
    pub fn init_callback_thread(&self) {
        OWN_THREAD.with(|c| c.set(true));
        if let Some(f) = self.callbacks.snapshot().thread_memctx_init {
            f();
        }
    }

    /// The transport's peer set follows the union of all streams' memberships.
    pub fn refresh_peers(&self) {
        let Some(t) = self.transport.get() else {
            return;
        };
        t.set_peers(self.peer_addrs());
    }

    pub fn peer_addrs(&self) -> HashMap<NodeId, std::net::SocketAddr> {
        let mut peers = HashMap::new();
        for s in self.streams.values() {
            for m in &s.replica.lock().membership().members {
                if m.id == self.id {
                    continue;
                }
                if let Ok(ip) = m.ip.parse::<std::net::IpAddr>() {
                    peers.insert(m.id, std::net::SocketAddr::new(ip, m.port));
                }
            }
        }
        peers
    }
}
