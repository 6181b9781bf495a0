//! `Transport`: the endpoint, the peer table, start and shutdown.

use crate::transport::conn_in;
use crate::transport::delay;
use crate::transport::error::TransportError;
use crate::transport::log::Level;
use crate::transport::state::{close_code, Outgoing, PeerSender, TransportState};
use crate::transport::tls;
use crate::transport::tuning::{self, Timing};
use crate::transport::types::{Channel, Frame, FrameHandler, TransportConfig};
use crate::types::NodeId;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use quinn::Runtime;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::runtime::{Handle, RuntimeFlavor};

/// How long shutdown waits for connections to drain and the port to be released. Short:
/// `dcf_stop` must return within a second, and a connection still draining (its peer
/// unreachable) is dropped with the network runtime right after anyway.
const SHUTDOWN_WAIT: Duration = Duration::from_millis(500);
const CERT_CHECK_PERIOD: Duration = Duration::from_secs(24 * 3600);

/// One node's QUIC transport. See the module documentation.
pub struct Transport {
    shared: Arc<TransportState>,
    local_addr: SocketAddr,
}

impl Transport {
    /// Binds at once (errors: address in use, bad TLS files...), spawns its tasks on `rt`.
    pub fn start(
        cfg: TransportConfig,
        handler: Arc<dyn FrameHandler>,
        rt: &Handle,
    ) -> Result<Transport, TransportError> {
        let mut cfg = cfg;
        let crypto = tls::build(&cfg.tls, cfg.node_id, SystemTime::now());
        // The key is open (or the start failed): the password is not needed any more.
        if let Some(pw) = cfg.tls.key_password.take() {
            tls::wipe(pw);
        }
        let crypto = crypto?;
        let mutual_tls = cfg.tls.ca.is_some();
        let max_frame_bytes = cfg.max_frame_bytes.min(u32::MAX as usize);
        let socket = tuning::bind_socket(cfg.listen)?;
        let timing = Timing::derive(cfg.election_timeout, cfg.heartbeat_interval);
        let quic = Arc::new(tuning::quic_transport_config(max_frame_bytes, timing));
        let mut server = quinn::ServerConfig::with_crypto(crypto.server);
        // Until its hello is accepted a connection may send a few KiB and no channel
        // stream (conn_in widens both).
        server.transport_config(Arc::new(tuning::before_hello(
            tuning::quic_transport_config(max_frame_bytes, timing),
        )));
        let mut client = quinn::ClientConfig::new(crypto.client);
        client.transport_config(quic);
        let bind_err = |source| TransportError::Bind {
            addr: cfg.listen,
            source,
        };
        let mut endpoint = {
            let _guard = rt.enter();
            let socket = quinn::TokioRuntime.wrap_udp_socket(socket).map_err(bind_err)?;
            let socket = match delay::delay_from_env() {
                None => socket,
                Some(d) => {
                    let (h, id) = (handler.clone(), cfg.node_id);
                    let log: delay::LogFn = Arc::new(move |level, msg: &str| {
                        h.on_log(level, &format!("transport node {id}: {msg}"))
                    });
                    log(
                        Level::Info,
                        &format!(
                            "{} set: every datagram sent leaves {} us late (a test of a wide-area link)",
                            delay::LINK_DELAY_ENV,
                            d.as_micros()
                        ),
                    );
                    delay::DelayedSocket::new(socket, d, delay::DEFAULT_QUEUE_BYTES, log)
                        .map_err(bind_err)?
                }
            };
            quinn::Endpoint::new_with_abstract_socket(
                tuning::endpoint_config(),
                Some(server),
                socket,
                Arc::new(quinn::TokioRuntime),
            )
        }
        .map_err(bind_err)?;
        endpoint.set_default_client_config(client);
        let local_addr = endpoint.local_addr().map_err(bind_err)?;
        let shared = Arc::new(TransportState {
            node_id: cfg.node_id,
            cluster_id: cfg.cluster_id,
            max_frame_bytes,
            timing,
            handler,
            rt: rt.clone(),
            endpoint: Mutex::new(Some(endpoint.clone())),
            peers: RwLock::new(HashMap::new()),
            inbound: Mutex::new(HashMap::new()),
            refusals: Mutex::new(Default::default()),
            pending: Mutex::new(Default::default()),
            mutual_tls,
            unnamed_warned: Mutex::new(Default::default()),
            tasks: Mutex::new(Vec::new()),
            background: Mutex::new(Vec::new()),
            shut: AtomicBool::new(false),
        });
        for (level, msg) in &crypto.notices {
            shared.log(*level, msg);
        }
        shared.log(Level::Info, format!("listening on {local_addr}"));
        shared.track(rt.spawn(conn_in::accept_loop(shared.clone(), endpoint)));
        if cfg.tls.ca.is_some() {
            let task = rt.spawn(check_certs_daily(shared.clone(), cfg.tls.clone()));
            shared.background.lock().push(task);
        }
        let transport = Transport { shared, local_addr };
        transport.set_peers(cfg.peers);
        Ok(transport)
    }

    /// Queues `frame` for `peer` on `channel`; never blocks, callable from any thread.
    pub fn send(&self, peer: NodeId, channel: Channel, frame: Frame) -> Result<(), TransportError> {
        let size = frame.body_len();
        if size > self.shared.max_frame_bytes {
            return Err(TransportError::FrameTooBig {
                size,
                limit: self.shared.max_frame_bytes,
            });
        }
        self.enqueue(peer, channel, Outgoing::Frame(frame), size)
    }

    /// Fault injection for tests: writes `bytes` as they are on the channel stream.
    #[doc(hidden)]
    pub fn send_raw_for_tests(
        &self,
        peer: NodeId,
        channel: Channel,
        bytes: Bytes,
    ) -> Result<(), TransportError> {
        let size = bytes.len();
        self.enqueue(peer, channel, Outgoing::Raw(bytes), size)
    }

    fn enqueue(
        &self,
        peer: NodeId,
        channel: Channel,
        item: Outgoing,
        size: usize,
    ) -> Result<(), TransportError> {
        if self.shared.is_shut() {
            return Err(TransportError::ShutDown);
        }
        let sender = self
            .shared
            .peers
            .read()
            .get(&peer)
            .cloned()
            .ok_or(TransportError::UnknownPeer(peer))?;
        sender.enqueue(peer, channel, item, size)
    }

    /// Membership change: connects to new peers, drops removed ones (and their inbound
    /// connections), and redials a peer whose address changed (its queued frames are lost).
    pub fn set_peers(&self, peers: HashMap<NodeId, SocketAddr>) {
        if self.shared.is_shut() {
            return;
        }
        let me = self.shared.node_id;
        let mut removed = Vec::new();
        {
            let mut table = self.shared.peers.write();
            table.retain(|id, sender| {
                let keep = peers.get(id) == Some(&sender.addr);
                if !keep {
                    sender.stop();
                    removed.push(*id);
                }
                keep
            });
            for (&id, &addr) in peers.iter().filter(|(id, _)| **id != me) {
                table
                    .entry(id)
                    .or_insert_with(|| PeerSender::spawn(&self.shared, id, addr));
            }
        }
        let mut inbound = self.shared.inbound.lock();
        for id in removed.into_iter().filter(|id| !peers.contains_key(id)) {
            if let Some(conn) = inbound.remove(&id) {
                conn.close(close_code::PEER_REMOVED.into(), b"no longer a peer");
            }
        }
    }

    /// Whether the outbound connection to `peer` is up (handshake done).
    pub fn is_connected(&self, peer: NodeId) -> bool {
        self.shared
            .peers
            .read()
            .get(&peer)
            .is_some_and(|p| p.is_connected())
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Closes every connection and releases the port before returning. Outside tokio, or on
    /// a multi-thread runtime, it blocks until done; on a current-thread runtime it cannot
    /// block, so it starts the shutdown and returns.
    pub fn shutdown(&self) {
        if self.shared.shut.swap(true, Ordering::AcqRel) {
            return;
        }
        let job = shutdown_all(self.shared.clone(), self.local_addr);
        match Handle::try_current() {
            Err(_) => self.shared.rt.block_on(job),
            Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| self.shared.rt.block_on(job))
            }
            Ok(_) => {
                self.shared.rt.spawn(job);
            }
        }
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn shutdown_all(shared: Arc<TransportState>, local_addr: SocketAddr) {
    let peers: Vec<_> = shared.peers.write().drain().map(|(_, p)| p).collect();
    for p in &peers {
        p.stop();
    }
    for (_, conn) in shared.inbound.lock().drain() {
        conn.close(close_code::SHUTDOWN.into(), b"node shutting down");
    }
    let endpoint = shared.endpoint.lock().take();
    if let Some(endpoint) = &endpoint {
        endpoint.close(close_code::SHUTDOWN.into(), b"node shutting down");
    }
    for task in shared.background.lock().drain(..) {
        task.abort();
    }
    let mut tasks: Vec<_> = std::mem::take(&mut *shared.tasks.lock());
    tasks.extend(peers.iter().filter_map(|p| p.take_task()));
    let deadline = tokio::time::Instant::now() + SHUTDOWN_WAIT;
    for task in tasks {
        let abort = task.abort_handle();
        if tokio::time::timeout_at(deadline, task).await.is_err() {
            abort.abort();
        }
    }
    if let Some(endpoint) = endpoint {
        let _ = tokio::time::timeout_at(deadline, endpoint.wait_idle()).await;
    }
    // The socket closes when quinn's driver drops its last handle; wait until the port
    // can be bound again so a restart on the same address succeeds.
    loop {
        if std::net::UdpSocket::bind(local_addr).is_ok() {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            shared.log(
                Level::Info,
                format!("port {local_addr} still held by connections closing to unreachable peers"),
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shared.log(Level::Info, "shut down");
}

async fn check_certs_daily(shared: Arc<TransportState>, tls: crate::transport::TlsSettings) {
    let paths: Vec<_> = [tls.cert, tls.ca].into_iter().flatten().collect();
    let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    loop {
        tokio::time::sleep(CERT_CHECK_PERIOD).await;
        for w in tls::cert_expiry_warnings(&refs, tls.cert_notify_days, SystemTime::now()) {
            shared.log(Level::Warn, w);
        }
    }
}
