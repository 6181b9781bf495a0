//! Frames from peers: routing to streams, user messages, and the small request/response
//! protocol a non-leader uses to reach the leader.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use super::limits::{Limits, ITEM_OVERHEAD};
use super::mailbox::Mailbox;
use super::wire::{self, Incoming, PeerFacts, Request, RequestHeader, Response, ResponseHeader};
use super::{FaultSeam, Shared};
use crate::transport::{Channel, FrameHandler, ReceivedFrame};
use crate::types::{NodeId, StreamId};
use crate::{dcf_debug, dcf_warn};

/// What the transport hands the runtime: consensus messages go straight into the stream's
/// mailbox (the hot path, no thread hop); everything else becomes an event for the node's
/// network thread (`run_net`), which has the node. The transport holds no pointer to it.
pub struct Handler {
    pub mailboxes: Arc<BTreeMap<StreamId, Arc<Mailbox>>>,
    pub faults: Arc<FaultSeam>,
    pub events: Sender<NetEvent>,
    pub stats: Arc<super::stats::NodeStats>,
    pub limits: Arc<Limits>,
}

pub enum NetEvent {
    /// A frame, and the bytes it holds of the `Limits::net` budget.
    Frame(NodeId, Incoming, usize),
    PeerUp(NodeId),
}

impl FrameHandler for Handler {
    fn on_frame(&self, from: NodeId, _channel: Channel, frame: ReceivedFrame) {
        if self.faults.is_cut(from) {
            return;
        }
        let t0 = Instant::now();
        let size = frame.header.len() + frame.payload.len() + ITEM_OVERHEAD;
        let incoming = match wire::decode(frame.kind, &frame.header, frame.payload) {
            Ok(i) => i,
            Err(e) => {
                dcf_warn!("node {from}: dropped a malformed frame: {e}");
                return;
            }
        };
        match incoming {
            Incoming::Consensus(s, msg) => match self.mailboxes.get(&s) {
                Some(m) => {
                    self.stats.on_consensus_in(s, from, &msg, t0);
                    if !m.post_message(from, msg) {
                        self.limits
                            .mailbox_drops
                            .note(|| format!("consensus message(s) of stream {s}"));
                    }
                }
                None => dcf_debug!("node {from}: message for unknown stream {s}"),
            },
            other => {
                if !self.limits.net.take(size) {
                    self.limits
                        .net_drops
                        .note(|| format!("request(s) or message(s) from node {from}"));
                } else if self
                    .events
                    .send(NetEvent::Frame(from, other, size))
                    .is_err()
                {
                    self.limits.net.give(size);
                }
            }
        }
        self.stats.on_received(t0.elapsed());
    }

    fn on_peer(&self, peer: NodeId, connected: bool) {
        if connected {
            let _ = self.events.send(NetEvent::PeerUp(peer));
        }
    }
}

/// The node's network thread: user messages, requests from peers that expect this node to
/// lead, answers to this node's requests, and what a newly connected peer is told.
pub fn run_net(shared: Arc<Shared>, events: Receiver<NetEvent>) {
    while !shared.stopping() {
        let ev = match events.recv_timeout(Duration::from_millis(100)) {
            Ok(ev) => ev,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if let NetEvent::Frame(_, _, size) = &ev {
            shared.limits.net.give(*size);
        }
        match ev {
            NetEvent::Frame(from, Incoming::UserMsg(s, data), _) => {
                if shared.stream(s).is_some() {
                    shared.post_message(s, from, data);
                }
            }
            NetEvent::Frame(from, Incoming::Request(s, header, payload), _) => {
                serve(&shared, s, from, header, payload)
            }
            NetEvent::Frame(_, Incoming::Response(_, header), _) => {
                shared.rpc.complete(header.id, header.response)
            }
            NetEvent::Frame(from, Incoming::PeerFacts(info), _) => {
                shared.peer_big_endian.lock().insert(from, info.big_endian);
            }
            // Consensus frames go to the mailboxes in the handler.
            NetEvent::Frame(_, Incoming::Consensus(..), _) => {}
            NetEvent::PeerUp(peer) => {
                let info = PeerFacts {
                    big_endian: cfg!(target_endian = "big"),
                };
                shared.send(peer, Channel::Control, wire::peer_facts_frame(&info));
            }
        }
    }
}

/// Answers a peer's request (this node is expected to be the leader).
fn serve(shared: &Shared, s: StreamId, from: NodeId, header: RequestHeader, payload: Bytes) {
    let Some(stream) = shared.stream(s) else {
        return;
    };
    let response = match header.request {
        Request::Write { key } => {
            let r = super::ops::propose(shared, stream, key, payload);
            Response::Written(r.ok())
        }
        Request::CommitIndex { consensus } => {
            let r = stream.replica.lock();
            let ok = r.role() == crate::consensus::Role::Leader
                && (!consensus || r.is_healthy(Instant::now()));
            Response::CommitIndex(Some(if ok { super::ops::data_commit(&r) } else { 0 }))
        }
        Request::ChangeMember { json } => {
            // A non-leader forwards only changes of its own membership (SPEC: self only).
            let about = crate::config::parse_change_member(&json).map(|c| c.node_id);
            if about.as_ref().is_ok_and(|&n| n == from) {
                Response::Changed(super::admin::change_member_as_leader(shared, &json).ok())
            } else {
                dcf_warn!("node {from}: refused a forwarded membership change not about itself");
                Response::Changed(None)
            }
        }
    };
    let frame = wire::response_frame(
        s,
        &ResponseHeader {
            id: header.id,
            response,
        },
    );
    shared.send(from, Channel::Message, frame);
}

/// Outstanding requests by id. Ids never repeat in a process, so a late answer to an
/// abandoned request finds nothing (DCF reused slots and accepted stale answers).
#[derive(Default)]
pub struct Rpc {
    next: AtomicU64,
    pending: Mutex<HashMap<u64, SyncSender<Response>>>,
}

impl Rpc {
    pub fn call(
        &self,
        shared: &Shared,
        stream: StreamId,
        to: NodeId,
        request: Request,
        payload: Bytes,
        timeout: Duration,
    ) -> Option<Response> {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = sync_channel(1);
        self.pending.lock().insert(id, tx);
        let frame = wire::request_frame(stream, &RequestHeader { id, request }, payload);
        let answer = if shared.send(to, Channel::Message, frame) {
            rx.recv_timeout(timeout).ok()
        } else {
            None
        };
        self.pending.lock().remove(&id);
        answer
    }

    pub fn complete(&self, id: u64, response: Response) {
        if let Some(tx) = self.pending.lock().remove(&id) {
            let _ = tx.try_send(response);
        }
    }
}
