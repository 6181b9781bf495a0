//! Transport benchmark: one-way throughput for 1 KiB and 64 KiB messages with many in flight,
//! and ping-pong round trips, for `dcf_runtime::transport` beside raw quinn with default settings.
//! Run: `cargo bench -p dcf-runtime --bench transport` (DCF_BENCH_SCALE=0.1 for a quick run).

use bytes::Bytes;
use dcf_runtime::transport::{
    Channel, Frame, FrameHandler, Level, ReceivedFrame, TlsSettings, Transport, TransportConfig,
    TransportError,
};
use dcf_runtime::types::NodeId;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::time::{Duration, Instant};

const PING_BYTES: usize = 64;

fn scale() -> f64 {
    std::env::var("DCF_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0)
}

struct Throughput {
    mb_s: f64,
    msg_s: f64,
}

struct Latency {
    p50_us: f64,
    p99_us: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn latency(mut samples: Vec<Duration>) -> Latency {
    samples.sort_unstable();
    Latency {
        p50_us: percentile(&samples, 0.50),
        p99_us: percentile(&samples, 0.99),
    }
}

// ---------------------------------------------------------------- dcf_runtime::transport

struct Sink {
    received: AtomicUsize,
    target: AtomicUsize,
    done: parking_lot::Mutex<Option<mpsc::Sender<()>>>,
    /// Set on the echoing node: frames on Control are sent straight back.
    echo: OnceLock<Arc<Transport>>,
}

impl Sink {
    fn new() -> Arc<Sink> {
        Arc::new(Sink {
            received: AtomicUsize::new(0),
            target: AtomicUsize::new(usize::MAX),
            done: parking_lot::Mutex::new(None),
            echo: OnceLock::new(),
        })
    }
}

impl FrameHandler for Sink {
    fn on_frame(&self, from: NodeId, channel: Channel, frame: ReceivedFrame) {
        if channel == Channel::Control {
            if let Some(t) = self.echo.get() {
                let back = Frame {
                    kind: 1,
                    header: frame.header,
                    payload: vec![frame.payload],
                };
                let _ = t.send(from, Channel::Control, back);
                return;
            }
        }
        let n = self.received.fetch_add(1, Ordering::AcqRel) + 1;
        if n == self.target.load(Ordering::Acquire) {
            if let Some(tx) = self.done.lock().take() {
                let _ = tx.send(());
            }
        }
    }

    fn on_log(&self, level: Level, msg: &str) {
        if level <= Level::Warn && !msg.contains("NOT authenticated") {
            eprintln!("{msg}");
        }
    }
}

fn dcf_pair(
    rt: &tokio::runtime::Runtime,
) -> (Arc<Transport>, Arc<Sink>, Arc<Transport>, Arc<Sink>) {
    let start = |id: NodeId, sink: Arc<Sink>| {
        let cfg = TransportConfig {
            node_id: id,
            listen: "127.0.0.1:0".parse().unwrap(),
            peers: HashMap::new(),
            tls: TlsSettings::default(),
            max_frame_bytes: dcf_runtime::transport::DEFAULT_MAX_FRAME_BYTES,
            cluster_id: 0,
            // DCF's defaults.
            election_timeout: Duration::from_secs(3),
            heartbeat_interval: Duration::from_secs(1),
        };
        Arc::new(Transport::start(cfg, sink, rt.handle()).unwrap())
    };
    let (sa, sb) = (Sink::new(), Sink::new());
    let (a, b) = (start(1, sa.clone()), start(2, sb.clone()));
    let peers: HashMap<NodeId, _> = [(1, a.local_addr()), (2, b.local_addr())]
        .into_iter()
        .collect();
    a.set_peers(peers.clone());
    b.set_peers(peers);
    while !(a.is_connected(2) && b.is_connected(1)) {
        std::thread::sleep(Duration::from_millis(5));
    }
    (a, sa, b, sb)
}

fn dcf_one_way(rt: &tokio::runtime::Runtime, size: usize, count: usize) -> Throughput {
    let (a, _sa, b, sb) = dcf_pair(rt);
    let (tx, rx) = mpsc::channel();
    *sb.done.lock() = Some(tx);
    sb.target.store(count, Ordering::Release);
    let payload = Bytes::from(vec![0xabu8; size]);
    let t0 = Instant::now();
    for i in 0..count {
        let frame = Frame {
            kind: 0,
            header: Bytes::copy_from_slice(&(i as u64).to_le_bytes()),
            payload: vec![payload.clone()],
        };
        let mut frame = Some(frame);
        while let Some(f) = frame.take() {
            match a.send(2, Channel::Data, f.clone()) {
                Ok(()) => {}
                Err(TransportError::QueueFull { .. }) => {
                    frame = Some(f);
                    std::thread::sleep(Duration::from_micros(50));
                }
                Err(e) => panic!("send: {e}"),
            }
        }
    }
    rx.recv_timeout(Duration::from_secs(120))
        .expect("all frames delivered");
    let secs = t0.elapsed().as_secs_f64();
    a.shutdown();
    b.shutdown();
    Throughput {
        mb_s: (size * count) as f64 / secs / 1e6,
        msg_s: count as f64 / secs,
    }
}

fn dcf_ping_pong(rt: &tokio::runtime::Runtime, rounds: usize) -> Latency {
    let (a, sa, b, sb) = dcf_pair(rt);
    let _ = sb.echo.set(b.clone());
    let mut samples = Vec::with_capacity(rounds);
    let ping = Bytes::from(vec![1u8; PING_BYTES]);
    for i in 0..rounds + rounds / 10 {
        let (tx, rx) = mpsc::channel();
        *sa.done.lock() = Some(tx);
        sa.target.store(i + 1, Ordering::Release);
        let t0 = Instant::now();
        a.send(
            2,
            Channel::Control,
            Frame {
                kind: 1,
                header: Bytes::new(),
                payload: vec![ping.clone()],
            },
        )
        .unwrap();
        rx.recv_timeout(Duration::from_secs(30)).expect("pong");
        if i >= rounds / 10 {
            samples.push(t0.elapsed()); // the first tenth warms up
        }
    }
    a.shutdown();
    b.shutdown();
    latency(samples)
}

// ---------------------------------------------------------------- raw quinn, defaults

struct RawPair {
    server: quinn::Endpoint,
    client: quinn::Endpoint,
}

fn raw_pair() -> RawPair {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let server_cfg =
        quinn::ServerConfig::with_single_cert(vec![cert.cert.der().clone()], key).unwrap();
    let server = quinn::Endpoint::server(server_cfg, "127.0.0.1:0".parse().unwrap()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let mut client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    client.set_default_client_config(
        quinn::ClientConfig::with_root_certificates(Arc::new(roots)).unwrap(),
    );
    RawPair { server, client }
}

async fn raw_connect(p: &RawPair) -> (quinn::Connection, quinn::Connection) {
    let addr = p.server.local_addr().unwrap();
    let (c, s) = tokio::join!(
        async { p.client.connect(addr, "localhost").unwrap().await.unwrap() },
        async { p.server.accept().await.unwrap().await.unwrap() }
    );
    (c, s)
}

fn raw_one_way(rt: &tokio::runtime::Runtime, size: usize, count: usize) -> Throughput {
    rt.block_on(async {
        let p = raw_pair();
        let (client, server) = raw_connect(&p).await;
        let reader = tokio::spawn(async move {
            let mut recv = server.accept_uni().await.unwrap();
            let mut buf = vec![0u8; 8 + size];
            for _ in 0..count {
                recv.read_exact(&mut buf).await.unwrap();
            }
            server
        });
        let payload = Bytes::from(vec![0xabu8; size]);
        let t0 = Instant::now();
        let mut send = client.open_uni().await.unwrap();
        for i in 0..count {
            let mut chunks = [
                Bytes::copy_from_slice(&(i as u64).to_le_bytes()),
                payload.clone(),
            ];
            send.write_all_chunks(&mut chunks).await.unwrap();
        }
        let _server = reader.await.unwrap();
        let secs = t0.elapsed().as_secs_f64();
        client.close(0u32.into(), b"");
        Throughput {
            mb_s: (size * count) as f64 / secs / 1e6,
            msg_s: count as f64 / secs,
        }
    })
}

fn raw_ping_pong(rt: &tokio::runtime::Runtime, rounds: usize) -> Latency {
    rt.block_on(async {
        let p = raw_pair();
        let (client, server) = raw_connect(&p).await;
        let total = rounds + rounds / 10;
        let echo = tokio::spawn(async move {
            let (mut send, mut recv) = server.accept_bi().await.unwrap();
            let mut buf = [0u8; PING_BYTES];
            for _ in 0..total {
                recv.read_exact(&mut buf).await.unwrap();
                send.write_all(&buf).await.unwrap();
            }
            server
        });
        let (mut send, mut recv) = client.open_bi().await.unwrap();
        let mut samples = Vec::with_capacity(rounds);
        let mut buf = [1u8; PING_BYTES];
        for i in 0..total {
            let t0 = Instant::now();
            send.write_all(&buf).await.unwrap();
            recv.read_exact(&mut buf).await.unwrap();
            if i >= rounds / 10 {
                samples.push(t0.elapsed());
            }
        }
        let _server = echo.await.unwrap();
        client.close(0u32.into(), b"");
        latency(samples)
    })
}

fn main() {
    // `cargo bench` passes --bench; a filter argument is not supported (one run, all cases).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let s = scale();
    let n = |base: f64| ((base * s) as usize).max(10);
    // The machine is shared and noisy: alternate the two sides and keep each one's median.
    const TRIALS: usize = 3;
    let median = |mut v: Vec<Throughput>| {
        v.sort_by(|a, b| a.mb_s.total_cmp(&b.mb_s));
        v.swap_remove(v.len() / 2)
    };
    for (size, count) in [(1024usize, n(100_000.0)), (64 * 1024, n(4_000.0))] {
        let (mut ours, mut raw) = (Vec::new(), Vec::new());
        for _ in 0..TRIALS {
            ours.push(dcf_one_way(&rt, size, count));
            raw.push(raw_one_way(&rt, size, count));
        }
        let (ours, raw) = (median(ours), median(raw));
        println!(
            "transport one-way {} KiB: {:.1} MB/s, {:.0} msg/s (n={count}, median of {TRIALS}) | raw quinn default: {:.1} MB/s, {:.0} msg/s | ratio {:.2}",
            size / 1024, ours.mb_s, ours.msg_s, raw.mb_s, raw.msg_s, ours.mb_s / raw.mb_s
        );
    }
    let rounds = n(3_000.0);
    let ours = dcf_ping_pong(&rt, rounds);
    let raw = raw_ping_pong(&rt, rounds);
    println!(
        "transport ping-pong {PING_BYTES} B: p50 {:.0} us, p99 {:.0} us (n={rounds}) | raw quinn default: p50 {:.0} us, p99 {:.0} us | ratio p50 {:.2}, p99 {:.2}",
        ours.p50_us, ours.p99_us, raw.p50_us, raw.p99_us, ours.p50_us / raw.p50_us, ours.p99_us / raw.p99_us
    );
}
