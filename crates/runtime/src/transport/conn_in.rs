//! The receiving side: accepts peers' connections, checks their hello, and reads the three
//! channel streams into frames for the handler. Anything malformed closes that connection
//! only, with the reason logged and sent to the peer.

use crate::transport::frame::FrameDecoder;
use crate::transport::hello::{read_hello, Hello};
use crate::transport::identity;
use crate::transport::log::Level;
use crate::transport::state::{close_code, TransportState};
use crate::transport::tuning;
use crate::transport::types::Channel;
use crate::types::NodeId;
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;

/// Chunks taken from quinn per read; frames inside one chunk are sliced, not copied.
const READ_CHUNKS: usize = 64;

pub(crate) async fn accept_loop(shared: Arc<TransportState>, endpoint: quinn::Endpoint) {
    while let Some(incoming) = endpoint.accept().await {
        if shared.is_shut() {
            incoming.refuse();
            continue;
        }
        let remote = incoming.remote_address();
        let entered = shared.pending.lock().enter(remote.ip());
        if let Err(why) = entered {
            shared.log_refusal(remote, &why);
            incoming.refuse();
            continue;
        }
        let guard = PendingGuard {
            shared: shared.clone(),
            ip: remote.ip(),
        };
        let task = shared
            .rt
            .spawn(serve_inbound(shared.clone(), incoming, guard));
        shared.track(task);
    }
}

/// Counts a connection as pending until dropped (its hello accepted, or it failed).
struct PendingGuard {
    shared: Arc<TransportState>,
    ip: std::net::IpAddr,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.shared.pending.lock().leave(self.ip);
    }
}

/// How reading a connection ended.
enum Ended {
    /// The peer broke the protocol: close with the reason.
    Protocol(String),
    /// The connection went away (peer closed, timeout, shutdown).
    Lost(String),
}

async fn serve_inbound(
    shared: Arc<TransportState>,
    incoming: quinn::Incoming,
    guard: PendingGuard,
) {
    let remote = incoming.remote_address();
    let conn = match tokio::time::timeout(shared.timing.connect, incoming).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => {
            shared.log_refusal(remote, &format!("handshake failed: {e}"));
            return;
        }
        Err(_) => {
            shared.log_refusal(remote, "handshake timed out");
            return;
        }
    };
    let hello = accept_hello(&shared, &conn, remote);
    let from = match tokio::time::timeout(shared.timing.hello, hello).await {
        Ok(Ok(from)) => from,
        Ok(Err(why)) => {
            shared.log_refusal(remote, &why);
            conn.close(close_code::REFUSED.into(), why.as_bytes());
            return;
        }
        Err(_) => {
            shared.log_refusal(remote, "no hello in time");
            conn.close(close_code::REFUSED.into(), b"no hello in time");
            return;
        }
    };
    drop(guard);
    shared.refusals.lock().forget(remote.ip());
    {
        let mut inbound = shared.inbound.lock();
        // Two claims raced through their hellos: the first one in keeps the place.
        if inbound
            .get(&from)
            .is_some_and(|c| c.close_reason().is_none())
        {
            drop(inbound);
            let why = format!("node {from} is already connected");
            shared.log_refusal(remote, &why);
            conn.close(close_code::BUSY.into(), why.as_bytes());
            return;
        }
        inbound.insert(from, conn.clone());
    }
    // Trusted now: full windows and the three channel streams.
    conn.set_receive_window(quinn::VarInt::from_u32(tuning::connection_window(
        shared.max_frame_bytes,
    )));
    conn.set_max_concurrent_uni_streams(quinn::VarInt::from_u32(3));
    shared.log(Level::Info, format!("accepted node {from} from {remote}"));
    match read_channels(&shared, &conn, from).await {
        Ended::Protocol(why) => {
            shared.log(
                Level::Warn,
                format!("closing the connection from node {from} ({remote}): {why}"),
            );
            conn.close(close_code::PROTOCOL.into(), why.as_bytes());
        }
        Ended::Lost(why) => {
            if !shared.is_shut() {
                shared.log(
                    Level::Info,
                    format!("connection from node {from} ended: {why}"),
                );
            }
        }
    }
    let mut inbound = shared.inbound.lock();
    if inbound.get(&from).map(|c| c.stable_id()) == Some(conn.stable_id()) {
        inbound.remove(&from);
    }
}

/// Reads the dialer's hello, checks that this connection may speak for the node it names
/// and that the node has no live connection already, answers it, and returns the node id.
async fn accept_hello(
    shared: &TransportState,
    conn: &quinn::Connection,
    remote: SocketAddr,
) -> Result<NodeId, String> {
    let (mut send, mut recv) = conn.accept_bi().await.map_err(|e| e.to_string())?;
    let hello = read_hello(&mut recv).await?;
    if let Some(why) = hello.mismatch(shared.cluster_id) {
        return Err(why);
    }
    if hello.to != shared.node_id {
        return Err(format!(
            "hello meant for node {}, this is node {}",
            hello.to, shared.node_id
        ));
    }
    let from = hello.node_id;
    if from == shared.node_id || !shared.is_peer(from) {
        return Err(format!("node {from} is not a configured peer"));
    }
    if let Some(why) = identity::refuse_claim(shared, conn, remote, from) {
        return Err(why);
    }
    if shared.mutual_tls
        && identity::peer_named_nodes(conn).is_empty()
        && shared.unnamed_warned.lock().insert(from)
    {
        shared.log(
            Level::Warn,
            format!(
                "node {from}'s certificate names no node ({}): it is bound by its address only",
                identity::node_name(from)
            ),
        );
    }
    displace_only_silent(shared, from).await?;
    send.write_all(&Hello::new(shared.cluster_id, shared.node_id, 0).encode())
        .await
        .map_err(|e| format!("answering the hello: {e}"))?;
    let _ = send.finish();
    Ok(hello.node_id)
}

/// One connection per node: a live connection for `node` keeps its place, so a second
/// claim (an impostor, or a duplicate process) is refused rather than taking turns with it.
/// A peer that restarted left its old connection dead: nothing arrives on it any more, not
/// even the keep-alives sent every `keep_alive`, so after three such periods of silence the
/// newcomer takes its place (within about 3 x HEARTBEAT_INTERVAL, never more than half an
/// election timeout, when the idle timer would have closed it anyway).
async fn displace_only_silent(shared: &TransportState, node: NodeId) -> Result<(), String> {
    let old = shared.inbound.lock().get(&node).cloned();
    let Some(old) = old else {
        return Ok(());
    };
    if old.close_reason().is_some() {
        return Ok(());
    }
    let heard = || old.stats().udp_rx.datagrams;
    let before = heard();
    tokio::time::sleep(shared.timing.keep_alive * 3).await;
    if old.close_reason().is_none() && heard() != before {
        return Err(format!(
            "node {node} is already connected from {} and that connection is alive",
            old.remote_address()
        ));
    }
    old.close(
        close_code::REPLACED.into(),
        b"silent; replaced by a newer connection",
    );
    Ok(())
}

async fn read_channels(shared: &TransportState, conn: &quinn::Connection, from: NodeId) -> Ended {
    let mut streams = Vec::with_capacity(3);
    for expected in Channel::ALL {
        let accepted = tokio::time::timeout(shared.timing.hello, conn.accept_uni()).await;
        let mut recv = match accepted {
            Ok(Ok(recv)) => recv,
            Ok(Err(e)) => return Ended::Lost(e.to_string()),
            Err(_) => return Ended::Protocol(format!("no {expected} stream in time")),
        };
        let mut tag = [0u8];
        if let Err(e) = recv.read_exact(&mut tag).await {
            return Ended::Lost(e.to_string());
        }
        if Channel::from_tag(tag[0]) != Some(expected) {
            return Ended::Protocol(format!(
                "stream tag {} where the {expected} stream was expected",
                tag[0]
            ));
        }
        streams.push(recv);
    }
    let [mut control, mut data, mut message]: [quinn::RecvStream; 3] = match streams.try_into() {
        Ok(s) => s,
        Err(_) => return Ended::Protocol("missing channel streams".into()),
    };
    tokio::select! {
        e = read_loop(shared, &mut control, from, Channel::Control) => e,
        e = read_loop(shared, &mut data, from, Channel::Data) => e,
        e = read_loop(shared, &mut message, from, Channel::Message) => e,
    }
}

async fn read_loop(
    shared: &TransportState,
    recv: &mut quinn::RecvStream,
    from: NodeId,
    channel: Channel,
) -> Ended {
    let mut decoder = FrameDecoder::new(shared.max_frame_bytes);
    let handler = &shared.handler;
    // Many chunks per call: one lock of the connection state for all that has arrived.
    let mut chunks: [Bytes; READ_CHUNKS] = std::array::from_fn(|_| Bytes::new());
    loop {
        match recv.read_chunks(&mut chunks).await {
            Ok(Some(n)) => {
                for chunk in chunks.iter_mut().take(n) {
                    let pushed = decoder.push(std::mem::take(chunk), &mut |f| {
                        handler.on_frame(from, channel, f)
                    });
                    if let Err(e) = pushed {
                        return Ended::Protocol(format!("{channel} stream: {e}"));
                    }
                }
            }
            Ok(None) => return Ended::Protocol(format!("{channel} stream finished by the peer")),
            Err(e) => return Ended::Lost(e.to_string()),
        }
    }
}
