//! Frames from peers: routing to streams, user messages, and the small request/response
//! protocol a non-leader uses to reach the leader.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Weak;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use super::wire::{self, Incoming, PeerFacts, Request, RequestHeader, Response, ResponseHeader};
use super::Shared;
use crate::transport::{Channel, FrameHandler, ReceivedFrame};
use crate::types::{NodeId, StreamId};
use crate::{dcf_debug, dcf_warn};

pub struct Handler {
    pub shared: Weak<Shared>,
}

impl FrameHandler for Handler {
    fn on_frame(&self, from: NodeId, _channel: Channel, frame: ReceivedFrame) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        if shared.faults.is_cut(from) {
            return;
        }
        let t0 = Instant::now();
        let incoming = match wire::decode(frame.kind, &frame.header, frame.payload) {
            Ok(i) => i,
            Err(e) => {
                dcf_warn!("node {from}: dropped a malformed frame: {e}");
                return;
            }
        };
        match incoming {
            Incoming::Consensus(s, msg) => match shared.stream(s) {
                Some(stream) => {
                    super::stats::on_consensus_in(s, from, &msg);
                    stream.deliver(from, msg)
                }
                None => dcf_debug!("node {from}: message for unknown stream {s}"),
            },
            Incoming::UserMsg(s, data) => {
                if shared.stream(s).is_some() {
                    shared.post_message(s, from, data);
                }
            }
            Incoming::Request(s, header, payload) => serve(&shared, s, from, header, payload),
            Incoming::Response(_, header) => shared.rpc.complete(header.id, header.response),
            Incoming::PeerFacts(info) => {
                shared.peer_big_endian.lock().insert(from, info.big_endian);
            }
        }
        super::stats::on_received(t0.elapsed());
    }

    fn on_peer(&self, peer: NodeId, connected: bool) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        if connected {
            let info = PeerFacts {
                big_endian: cfg!(target_endian = "big"),
            };
            shared.send(peer, Channel::Control, wire::peer_facts_frame(&info));
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
            Response::Changed(super::admin::change_member_as_leader(shared, &json).ok())
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
