//! The sending side: per peer, bounded queues per channel and a task that dials the peer,
//! redials with backoff after a loss, and writes each channel's frames on its own stream.

use crate::transport::error::TransportError;
use crate::transport::frame::Batch;
use crate::transport::hello::{read_hello, Hello};
use crate::transport::identity;
use crate::transport::log::Level;
use crate::transport::state::{close_code, Outgoing, PeerSender, Queue, Receivers, TransportState};
use crate::transport::tls::SERVER_NAME;
use crate::transport::types::Channel;
use crate::types::NodeId;
use parking_lot::Mutex;
use rand::Rng;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

const MIN_BACKOFF: Duration = Duration::from_millis(20);
/// Frames queued per peer and channel, whatever their size.
const QUEUE_FRAMES: usize = 8192;
/// Bytes written per stream write call: many small frames go out in one call.
const BATCH_BYTES: usize = 1024 * 1024;
const BATCH_FRAMES: usize = 1024;

fn queue_byte_limit(channel: Channel, max_frame: usize) -> usize {
    match channel {
        Channel::Control => (8 << 20).max(max_frame),
        Channel::Data => (64 << 20).max(max_frame.saturating_mul(2)),
        Channel::Message => (16 << 20).max(max_frame),
    }
}

impl PeerSender {
    pub fn spawn(shared: &Arc<TransportState>, peer: NodeId, addr: SocketAddr) -> Arc<PeerSender> {
        let mk = |channel| {
            let (tx, rx) = mpsc::channel(QUEUE_FRAMES);
            let queue = Queue {
                tx,
                bytes: Arc::new(AtomicUsize::new(0)),
                limit: queue_byte_limit(channel, shared.max_frame_bytes),
            };
            (queue, rx)
        };
        let (qc, control) = mk(Channel::Control);
        let (qd, data) = mk(Channel::Data);
        let (qm, message) = mk(Channel::Message);
        let (stop, stop_rx) = watch::channel(false);
        let sender = Arc::new(PeerSender {
            addr,
            queues: [qc, qd, qm],
            connected: AtomicBool::new(false),
            stop,
            task: Mutex::new(None),
        });
        let rx = Receivers {
            control,
            data,
            message,
        };
        let task = shared
            .rt
            .spawn(run(shared.clone(), peer, sender.clone(), rx, stop_rx));
        *sender.task.lock() = Some(task);
        sender
    }

    pub fn enqueue(
        &self,
        peer: NodeId,
        channel: Channel,
        item: Outgoing,
        size: usize,
    ) -> Result<(), TransportError> {
        let q = &self.queues[channel.index()];
        let full = || TransportError::QueueFull { peer, channel };
        if q.bytes
            .fetch_add(size, Ordering::AcqRel)
            .saturating_add(size)
            > q.limit
        {
            q.bytes.fetch_sub(size, Ordering::AcqRel);
            return Err(full());
        }
        q.tx.try_send((item, size)).map_err(|e| {
            q.bytes.fetch_sub(size, Ordering::AcqRel);
            match e {
                mpsc::error::TrySendError::Full(_) => full(),
                mpsc::error::TrySendError::Closed(_) => TransportError::ShutDown,
            }
        })
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    pub fn take_task(&self) -> Option<JoinHandle<()>> {
        self.task.lock().take()
    }
}

async fn run(
    shared: Arc<TransportState>,
    peer: NodeId,
    me: Arc<PeerSender>,
    mut rx: Receivers,
    mut stop: watch::Receiver<bool>,
) {
    let addr = me.addr;
    let mut backoff = MIN_BACKOFF;
    let mut last_error: Option<String> = None;
    loop {
        let dialed = tokio::select! {
            r = dial(&shared, peer, addr) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        match dialed {
            Err(e) => {
                // Log a failure once, not at every retry while the peer stays down.
                if last_error.as_deref() != Some(e.as_str()) {
                    shared.log(
                        Level::Warn,
                        format!("cannot connect to node {peer} at {addr}: {e} (retrying)"),
                    );
                    last_error = Some(e);
                }
                let jitter = rand::thread_rng().gen_range(0..=backoff.as_millis() as u64 / 2);
                let pause = backoff + Duration::from_millis(jitter);
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                // Capped low: a healed path must carry traffic again within ~100 ms.
                backoff = (backoff * 2).min(shared.timing.max_backoff);
            }
            Ok(conn) => {
                last_error = None;
                backoff = MIN_BACKOFF;
                me.connected.store(true, Ordering::Release);
                shared.log(Level::Info, format!("connected to node {peer} at {addr}"));
                shared.handler.on_peer(peer, true);
                let why = serve(&conn, &me, &mut rx, &mut stop).await;
                me.connected.store(false, Ordering::Release);
                shared.handler.on_peer(peer, false);
                if *stop.borrow() {
                    conn.close(close_code::SHUTDOWN.into(), b"node shutting down");
                    return;
                }
                // A peer that shut down cleanly is routine; anything else is worth a warning.
                let level = match conn.close_reason() {
                    Some(quinn::ConnectionError::ApplicationClosed(c))
                        if c.error_code == close_code::SHUTDOWN.into() =>
                    {
                        Level::Info
                    }
                    _ => Level::Warn,
                };
                conn.close(close_code::PROTOCOL.into(), why.as_bytes());
                shared.log(
                    level,
                    format!("connection to node {peer} at {addr} lost: {why}"),
                );
            }
        }
    }
}

async fn dial(
    shared: &TransportState,
    peer: NodeId,
    addr: SocketAddr,
) -> Result<quinn::Connection, String> {
    let endpoint = shared.endpoint().ok_or("the transport is shut down")?;
    let connecting = endpoint
        .connect(addr, SERVER_NAME)
        .map_err(|e| e.to_string())?;
    let conn = match tokio::time::timeout(shared.timing.connect, connecting).await {
        Ok(r) => r.map_err(|e| e.to_string())?,
        Err(_) => return Err("connection timed out".into()),
    };
    let result = tokio::time::timeout(shared.timing.hello, handshake(shared, peer, addr, &conn))
        .await
        .unwrap_or_else(|_| Err("hello timed out".into()));
    match result {
        Ok(()) => Ok(conn),
        Err(e) => {
            // A refusal arrives as the peer closing the connection: its reason says why.
            let e = match conn.close_reason() {
                Some(reason) => format!("{e} ({reason})"),
                None => e,
            };
            conn.close(close_code::REFUSED.into(), e.as_bytes());
            Err(e)
        }
    }
}

async fn handshake(
    shared: &TransportState,
    peer: NodeId,
    addr: SocketAddr,
    conn: &quinn::Connection,
) -> Result<(), String> {
    if shared.mutual_tls {
        let named = identity::peer_named_nodes(conn);
        if !named.is_empty() && !named.contains(&peer) {
            return Err(format!(
                "{addr} presents a certificate naming node(s) {named:?}, not node {peer}"
            ));
        }
    }
    let (mut send, mut recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
    send.write_all(&Hello::new(shared.cluster_id, shared.node_id, peer).encode())
        .await
        .map_err(|e| format!("sending the hello: {e}"))?;
    let _ = send.finish();
    let reply = read_hello(&mut recv).await?;
    if let Some(why) = reply.mismatch(shared.cluster_id) {
        return Err(format!("refused the peer's hello: {why}"));
    }
    if reply.node_id != peer {
        return Err(format!(
            "{addr} answers as node {}, not node {peer}",
            reply.node_id
        ));
    }
    Ok(())
}

/// Opens the channel streams and writes until the connection fails or the peer is stopped;
/// returns why it ended.
async fn serve(
    conn: &quinn::Connection,
    me: &PeerSender,
    rx: &mut Receivers,
    stop: &mut watch::Receiver<bool>,
) -> String {
    let mut streams = Vec::with_capacity(3);
    for channel in Channel::ALL {
        let opened = async {
            let mut s = conn.open_uni().await.map_err(|e| e.to_string())?;
            // Votes and heartbeats first when the path is congested.
            let priority = match channel {
                Channel::Control => 2,
                Channel::Message => 1,
                Channel::Data => 0,
            };
            let _ = s.set_priority(priority);
            s.write_all(&[channel.tag()])
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(s)
        };
        match opened.await {
            Ok(s) => streams.push(s),
            Err(e) => return format!("opening the {channel} stream: {e}"),
        }
    }
    let [mut control, mut data, mut message]: [quinn::SendStream; 3] = match streams.try_into() {
        Ok(s) => s,
        Err(_) => return "opening the channel streams".into(),
    };
    let [qc, qd, qm] = &me.queues;
    tokio::select! {
        r = write_loop(&mut control, &mut rx.control, &qc.bytes) => format!("control stream: {r}"),
        r = write_loop(&mut data, &mut rx.data, &qd.bytes) => format!("data stream: {r}"),
        r = write_loop(&mut message, &mut rx.message, &qm.bytes) => format!("message stream: {r}"),
        e = conn.closed() => e.to_string(),
        _ = stop.wait_for(|s| *s) => "stopped".into(),
    }
}

/// Writes queued frames, many per call, without waiting for acknowledgements.
async fn write_loop(
    stream: &mut quinn::SendStream,
    rx: &mut mpsc::Receiver<(Outgoing, usize)>,
    queued_bytes: &AtomicUsize,
) -> String {
    let mut batch = Batch::default();
    loop {
        let Some(first) = rx.recv().await else {
            return "queue closed".into();
        };
        let mut batch_bytes = 0usize;
        let mut frames = 0usize;
        let mut next = Some(first);
        while let Some((item, size)) = next.take() {
            batch_bytes += size;
            frames += 1;
            match item {
                Outgoing::Frame(f) => batch.push_frame(f),
                Outgoing::Raw(b) => batch.push_piece(b),
            }
            if batch_bytes < BATCH_BYTES && frames < BATCH_FRAMES {
                next = rx.try_recv().ok();
            }
        }
        queued_bytes.fetch_sub(batch_bytes, Ordering::AcqRel);
        if let Err(e) = stream.write_all_chunks(batch.chunks()).await {
            return e.to_string();
        }
        batch.clear();
    }
}
