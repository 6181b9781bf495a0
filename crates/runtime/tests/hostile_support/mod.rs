//! A hostile peer for the hostile_* tests: it speaks the wire protocol through the
//! transport's own types (`Transport`, the runtime's frames), under any node id, from any
//! loopback address (127.0.0.0/8 needs no namespace); and raw QUIC connections that never
//! say hello. Also the checks every attack ends with: nothing injected delivered, the
//! cluster still commits, the process's resident memory bounded.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dcf_runtime::consensus::Message;
use dcf_runtime::runtime::wire::{self, Request, RequestHeader};
use dcf_runtime::transport::{
    Channel, Frame, FrameHandler, Level, ReceivedFrame, TlsSettings, Transport, TransportConfig,
};
use dcf_runtime::types::NodeId;
use parking_lot::Mutex;

use crate::common::*;

/// Every node of these tests stays below this resident size (all nodes and the attacker
/// share the test process).
pub const RSS_LIMIT_MIB: u64 = 400;
/// Keys of entries the attacker injects: never applied anywhere.
pub const FORGED_KEY: u64 = 0xBAD0_0000;
pub const FORGED_MSG: &[u8] = b"forged message";

/// One attack at a time per test binary: the memory figures are the process's.
pub static SERIAL: Mutex<()> = Mutex::new(());

pub fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// Samples the resident size every 20 ms until dropped; `peak` is the highest seen.
pub struct RssWatch {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssWatch {
    pub fn start() -> RssWatch {
        let peak = Arc::new(AtomicU64::new(rss_mib()));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_mib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        RssWatch {
            peak,
            stop,
            thread: Some(thread),
        }
    }

    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed).max(rss_mib())
    }

    pub fn check(&self, attack: &str) {
        let peak = self.peak();
        eprintln!("{attack}: peak resident size {peak} MiB");
        assert!(
            peak < RSS_LIMIT_MIB,
            "{attack}: resident size reached {peak} MiB (limit {RSS_LIMIT_MIB})"
        );
    }
}

impl Drop for RssWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the hostile peer's transport saw: whether any connection came up, frames counted
/// (never kept, so a long attack costs the test nothing).
#[derive(Default)]
pub struct Seen {
    pub ups: AtomicUsize,
    pub frames: AtomicUsize,
    pub responses: Mutex<Vec<wire::Response>>,
    pub logs: Mutex<Vec<String>>,
}

impl FrameHandler for Seen {
    fn on_frame(&self, _from: NodeId, _channel: Channel, frame: ReceivedFrame) {
        self.frames.fetch_add(1, Ordering::Relaxed);
        if let Ok(wire::Incoming::Response(_, h)) =
            wire::decode(frame.kind, &frame.header, frame.payload)
        {
            self.responses.lock().push(h.response);
        }
    }

    fn on_peer(&self, _peer: NodeId, connected: bool) {
        if connected {
            self.ups.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_log(&self, _level: Level, msg: &str) {
        let mut logs = self.logs.lock();
        if logs.len() < 1000 {
            logs.push(msg.to_string());
        }
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A process that claims to be node `claims`, listening on `ip`, dialing `targets`.
pub struct Hostile {
    pub transport: Transport,
    pub seen: Arc<Seen>,
    pub claims: NodeId,
}

pub fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

impl Hostile {
    pub fn start(
        rt: &tokio::runtime::Runtime,
        claims: NodeId,
        listen: SocketAddr,
        targets: &[(NodeId, u16)],
        tls: TlsSettings,
    ) -> Hostile {
        let peers: HashMap<NodeId, SocketAddr> = targets
            .iter()
            .map(|&(id, port)| (id, SocketAddr::new(loopback(1), port)))
            .collect();
        let seen = Arc::new(Seen::default());
        let cfg = TransportConfig {
            node_id: claims,
            listen,
            peers,
            tls,
            max_frame_bytes: 1 << 20,
            cluster_id: 0,
            election_timeout: Duration::from_secs(1),
            heartbeat_interval: Duration::from_millis(100),
        };
        let transport = Transport::start(cfg, seen.clone(), rt.handle()).expect("hostile start");
        Hostile {
            transport,
            seen,
            claims,
        }
    }

    /// From `ip` on a free port.
    pub fn from_ip(
        rt: &tokio::runtime::Runtime,
        claims: NodeId,
        ip: IpAddr,
        targets: &[(NodeId, u16)],
    ) -> Hostile {
        let port = std::net::UdpSocket::bind((ip, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Hostile::start(
            rt,
            claims,
            SocketAddr::new(ip, port),
            targets,
            TlsSettings::default(),
        )
    }

    pub fn ever_connected(&self) -> bool {
        self.seen.ups.load(Ordering::Relaxed) > 0
    }

    pub fn send(&self, to: NodeId, channel: Channel, frame: Frame) -> bool {
        self.transport.send(to, channel, frame).is_ok()
    }

    pub fn consensus(&self, to: NodeId, msg: &Message) -> bool {
        let (channel, frame) = wire::consensus_frame(1, msg);
        self.send(to, channel, frame)
    }

    pub fn user_msg(&self, to: NodeId, data: &[u8]) -> bool {
        self.send(
            to,
            Channel::Message,
            wire::user_msg_frame(1, Bytes::copy_from_slice(data)),
        )
    }

    pub fn request(&self, to: NodeId, id: u64, request: Request, payload: &[u8]) -> bool {
        let h = RequestHeader { id, request };
        self.send(
            to,
            Channel::Message,
            wire::request_frame(1, &h, Bytes::copy_from_slice(payload)),
        )
    }

    /// Keeps doing `attack` every 10 ms for `d`.
    pub fn repeat(&self, d: Duration, mut attack: impl FnMut(&Hostile)) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            attack(self);
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Nothing the attacker injected reached any application callback of `nodes`.
pub fn nothing_injected(nodes: &[&TestNode]) {
    for n in nodes {
        let forged: Vec<u64> = n
            .applied_keys()
            .into_iter()
            .filter(|k| k & 0xFFFF_0000 == FORGED_KEY)
            .collect();
        assert!(
            forged.is_empty(),
            "node {}: applied forged keys {forged:?}",
            n.id
        );
        assert!(
            !n.messages().iter().any(|(_, m)| m.as_slice() == FORGED_MSG),
            "node {}: a forged message reached msg_proc",
            n.id
        );
    }
}

/// The cluster (of `nodes`, the real ones) still commits: a few writes on its leader are
/// applied everywhere.
pub fn keeps_committing(nodes: &[&TestNode], first_key: u64) {
    let leader = wait_writable(nodes);
    let keys: Vec<u64> = (first_key..first_key + 5).collect();
    write_keys(leader, first_key..first_key + 5);
    for n in nodes {
        wait_keys(n, &keys, LONG);
    }
}

pub fn wait_writable<'a>(nodes: &[&'a TestNode]) -> &'a TestNode {
    let mut found = None;
    wait_for(LONG, "a writable leader", || {
        found = nodes.iter().find(|n| n.is_writable_leader()).copied();
        found.is_some()
    });
    found.unwrap()
}

pub fn term_of(n: &TestNode) -> u64 {
    n.dcf.term_and_role(1).map_or(0, |(t, _)| t)
}

/// Starts `nodes` of `c` (the others' places are left to the attacker).
pub fn start_some(c: &Cluster, ids: &[u32]) {
    for &id in ids {
        let n = c.node(id);
        n.dcf.start(id, &c.json).expect("start");
    }
}

// ----- raw QUIC: connections that never send a hello -----

#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A bare QUIC endpoint on `ip` that accepts any server certificate (the nodes here run
/// without SSL_*) and buffers little of its own (1 MiB send window), so that the memory
/// measured is the nodes'.
pub fn raw_endpoint(rt: &tokio::runtime::Runtime, ip: IpAddr) -> quinn::Endpoint {
    raw_endpoint_with(rt, ip, None)
}

/// As `raw_endpoint`, presenting the certificate and key in `files` if given.
pub fn raw_endpoint_with(
    rt: &tokio::runtime::Runtime,
    ip: IpAddr,
    files: Option<(std::path::PathBuf, std::path::PathBuf)>,
) -> quinn::Endpoint {
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)));
    let mut tls = match files {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = rustls::pki_types::CertificateDer::pem_file_iter(&cert)
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = dcf_runtime::transport::load_private_key(&key, None).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    tls.alpn_protocols = vec![b"dcf/1".to_vec()];
    let mut transport = quinn::TransportConfig::default();
    transport.send_window(1 << 20);
    let mut client = quinn::ClientConfig::new(Arc::new(
        quinn::crypto::rustls::QuicClientConfig::try_from(tls).unwrap(),
    ));
    client.transport_config(Arc::new(transport));
    let _g = rt.enter();
    let mut ep = quinn::Endpoint::client(SocketAddr::new(ip, 0)).unwrap();
    ep.set_default_client_config(client);
    ep
}

/// Connects to `port` and, without a hello, pushes up to `bytes` of junk on up to three
/// unidirectional streams (what a node reads only after a hello). Returns the connection,
/// if the node accepted one, and how much it took.
pub async fn junk_before_hello(
    ep: quinn::Endpoint,
    port: u16,
    bytes: usize,
    within: Duration,
) -> (Option<quinn::Connection>, usize) {
    let addr = SocketAddr::new(loopback(1), port);
    let Ok(connecting) = ep.connect(addr, "dcf-node") else {
        return (None, 0);
    };
    let conn = match tokio::time::timeout(Duration::from_secs(2), connecting).await {
        Ok(Ok(c)) => c,
        _ => return (None, 0),
    };
    let mut sent = 0usize;
    let chunk = vec![0x5Au8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + within;
    'streams: for _ in 0..3 {
        let Ok(Ok(mut s)) = tokio::time::timeout_at(deadline, conn.open_uni()).await else {
            break;
        };
        while sent < bytes {
            match tokio::time::timeout_at(deadline, s.write_all(&chunk)).await {
                Ok(Ok(())) => sent += chunk.len(),
                _ => break 'streams,
            }
            if sent.is_multiple_of(16 << 20) {
                break;
            }
        }
    }
    (Some(conn), sent)
}

/// The hello of the wire protocol, written out by hand: a program that speaks the
/// protocol without this library's own checks of its certificate.
fn hello_bytes(node: NodeId, to: NodeId) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&0x4443_4631u32.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u64.to_le_bytes());
    body.extend_from_slice(&node.to_le_bytes());
    body.extend_from_slice(&to.to_le_bytes());
    body.push(0b111);
    let mut out = (body.len() as u32).to_le_bytes().to_vec();
    out.extend(body);
    out
}

/// Claims node `node` to the node at `port`; then, if the hello is answered, sends
/// `FORGED_MSG` as a user message. Returns whether the claim was accepted.
pub async fn raw_claim(ep: quinn::Endpoint, port: u16, node: NodeId, to: NodeId) -> bool {
    let addr = SocketAddr::new(loopback(1), port);
    let Ok(connecting) = ep.connect(addr, "dcf-node") else {
        return false;
    };
    let Ok(Ok(conn)) = tokio::time::timeout(Duration::from_secs(2), connecting).await else {
        return false;
    };
    let exchange = async {
        let (mut send, mut recv) = conn.open_bi().await.ok()?;
        send.write_all(&hello_bytes(node, to)).await.ok()?;
        let _ = send.finish();
        let mut prefix = [0u8; 4];
        recv.read_exact(&mut prefix).await.ok()?;
        let mut streams = Vec::new();
        for tag in 1u8..=3 {
            let mut s = conn.open_uni().await.ok()?;
            s.write_all(&[tag]).await.ok()?;
            streams.push(s);
        }
        let frame = wire::user_msg_frame(1, Bytes::from_static(FORGED_MSG));
        let bytes = dcf_runtime::transport::encode_frame(&frame);
        streams[2].write_all(&bytes).await.ok()?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        Some(())
    };
    let accepted = tokio::time::timeout(Duration::from_secs(3), exchange)
        .await
        .ok()
        .flatten()
        .is_some();
    conn.close(0u32.into(), b"done");
    accepted
}
