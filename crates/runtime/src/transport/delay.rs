//! A wide-area link for benchmarks and tests: [`DelayedSocket`] holds every outgoing datagram
//! for a fixed one-way delay before it leaves, so every link of a node's round trip grows by
//! twice that delay. On when `DCF_TEST_LINK_DELAY_US` (the one-way delay in microseconds) is
//! set when the transport starts; unset, the endpoint gets the plain socket and this costs
//! nothing.
//!
//! Why in the transport and not a delaying UDP relay between processes: a relay is one more
//! process taking CPU from the nodes on a small machine, and it rewrites source addresses,
//! which peer identity checks use (a peer is bound to its IP address without TLS). The kernel
//! here has no netem either. Delaying each node's own sends delays every link the same way in
//! both directions with no address changes.
//!
//! The held datagrams wait in a FIFO queue (a constant delay keeps their order) and are sent
//! by a thread of their own, which sleeps until the oldest is due: never on a tokio thread, and
//! with the kernel's timer precision (tokio's timers round to milliseconds, too coarse for a
//! 0.5 ms delay), aiming early by its measured wake-up lateness so that the delay is right
//! on average (a datagram leaves at most [`MAX_AIM_EARLY`] early). A segmentation-offload transmit is held and sent as one, with its segment
//! size. The queue is bounded in bytes; beyond it datagrams are dropped, as by a full network
//! queue, and counted.

use crate::transport::log::Level;
use parking_lot::{Condvar, Mutex};
use quinn::udp::{EcnCodepoint, RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The environment variable that turns the delay on: one-way delay in microseconds.
pub const LINK_DELAY_ENV: &str = "DCF_TEST_LINK_DELAY_US";
/// Bytes held at most: several times a bandwidth-delay product at 50 ms and hundreds of MB/s.
pub const DEFAULT_QUEUE_BYTES: usize = 64 << 20;
/// A send the kernel refused for a full buffer is tried again after this pause.
const RETRY_PAUSE: Duration = Duration::from_micros(200);
/// The most a datagram leaves before its delay is over (see `send_when_due`).
pub const MAX_AIM_EARLY: Duration = Duration::from_micros(300);

/// The one-way delay the environment asks for, if any (0 and unparsable values: none).
pub fn delay_from_env() -> Option<Duration> {
    let us: u64 = std::env::var(LINK_DELAY_ENV).ok()?.trim().parse().ok()?;
    (us > 0).then(|| Duration::from_micros(us))
}

pub type LogFn = Arc<dyn Fn(Level, &str) + Send + Sync>;

struct Held {
    due: Instant,
    destination: SocketAddr,
    ecn: Option<EcnCodepoint>,
    contents: Vec<u8>,
    segment_size: Option<usize>,
    src_ip: Option<IpAddr>,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Held>,
    bytes: usize,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    dropped: AtomicU64,
}

/// An [`AsyncUdpSocket`] whose sends leave `delay` late. See the module documentation.
pub struct DelayedSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    delay: Duration,
    max_bytes: usize,
    shared: Arc<Shared>,
    log: LogFn,
}

impl fmt::Debug for DelayedSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelayedSocket")
            .field("delay", &self.delay)
            .finish_non_exhaustive()
    }
}

impl DelayedSocket {
    /// Wraps `inner`; starts the thread that sends what is due. `log` hears of the first
    /// drop and of the count when the socket closes.
    pub fn new(
        inner: Arc<dyn AsyncUdpSocket>,
        delay: Duration,
        max_bytes: usize,
        log: LogFn,
    ) -> io::Result<Arc<DelayedSocket>> {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            dropped: AtomicU64::new(0),
        });
        let (s, i, l) = (shared.clone(), inner.clone(), log.clone());
        std::thread::Builder::new()
            .name("dcf-net-delay".into())
            .spawn(move || send_when_due(&s, &*i, delay, &l))?;
        Ok(Arc::new(DelayedSocket {
            inner,
            delay,
            max_bytes,
            shared,
            log,
        }))
    }

    /// Datagrams (transmits) dropped for a full queue so far.
    #[cfg(test)]
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for DelayedSocket {
    fn drop(&mut self) {
        // The thread holds the real socket: let it go now, so the port is released as soon
        // as quinn drops this one (shutdown waits for that). What is still held is lost.
        self.shared.queue.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

fn send_when_due(shared: &Shared, socket: &dyn AsyncUdpSocket, delay: Duration, log: &LogFn) {
    // A timed wake-up comes some tens of microseconds late (more on a loaded machine); aim
    // that much early, as measured over the recent wake-ups, so that datagrams leave when due
    // on average rather than a wake-up late, twice per round trip. Bounded: never more than
    // a quarter of the delay or MAX_AIM_EARLY early.
    let max_early = (delay / 4).min(MAX_AIM_EARLY);
    let mut early = Duration::ZERO;
    // The kernel may defer a timed wake-up by this thread's timer slack (50 us by default),
    // which would add to every delay.
    let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1));
    let mut batch = Vec::new();
    loop {
        {
            let mut q = shared.queue.lock();
            loop {
                if q.closed {
                    let n = shared.dropped.load(Ordering::Relaxed);
                    if n > 0 {
                        log(
                            Level::Info,
                            &format!("link delay: {n} datagrams dropped for a full queue"),
                        );
                    }
                    return;
                }
                let now = Instant::now();
                match q.items.front().map(|h| h.due - early) {
                    None => shared.wake.wait(&mut q),
                    Some(aim) if aim > now => {
                        if shared.wake.wait_until(&mut q, aim).timed_out() {
                            let late = Instant::now().saturating_duration_since(aim);
                            early = ((early * 7 + late) / 8).min(max_early);
                        }
                    }
                    Some(_) => break,
                }
            }
            let until = Instant::now() + early;
            while q.items.front().is_some_and(|h| h.due <= until) {
                let h = q.items.pop_front().expect("front checked");
                q.bytes -= h.contents.len();
                batch.push(h);
            }
        }
        for h in batch.drain(..) {
            let t = Transmit {
                destination: h.destination,
                ecn: h.ecn,
                contents: &h.contents,
                segment_size: h.segment_size,
                src_ip: h.src_ip,
            };
            // A full kernel buffer: wait for it rather than drop (the queue bound is the
            // network's). Other errors are what a plain socket would have returned to quinn,
            // which counts them as lost packets; here they are just lost.
            let mut tries = 0;
            while let Err(e) = socket.try_send(&t) {
                tries += 1;
                if e.kind() != io::ErrorKind::WouldBlock || tries > 50 {
                    break;
                }
                std::thread::sleep(RETRY_PAUSE);
            }
        }
    }
}

impl AsyncUdpSocket for DelayedSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(AlwaysWritable)
    }

    /// Queues a copy of the transmit; never `WouldBlock` (a full queue drops).
    fn try_send(&self, t: &Transmit) -> io::Result<()> {
        let mut q = self.shared.queue.lock();
        if q.bytes + t.contents.len() > self.max_bytes {
            drop(q);
            if self.shared.dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                (self.log)(Level::Warn, "link delay: queue full, dropping datagrams");
            }
            return Ok(());
        }
        q.bytes += t.contents.len();
        let was_empty = q.items.is_empty();
        q.items.push_back(Held {
            due: Instant::now() + self.delay,
            destination: t.destination,
            ecn: t.ecn,
            contents: t.contents.to_vec(),
            segment_size: t.segment_size,
            src_ip: t.src_ip,
        });
        drop(q);
        // Items behind the first are due later: the thread finds them when it wakes for it.
        if was_empty {
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        self.inner.poll_recv(cx, bufs, meta)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.inner.max_transmit_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.inner.max_receive_segments()
    }

    fn may_fragment(&self) -> bool {
        self.inner.may_fragment()
    }
}

#[derive(Debug)]
struct AlwaysWritable;

impl UdpPoller for AlwaysWritable {
    fn poll_writable(self: Pin<&mut Self>, _cx: &mut Context) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quinn::Runtime;
    use std::net::UdpSocket;

    fn pair(
        delay: Duration,
        max_bytes: usize,
    ) -> (tokio::runtime::Runtime, Arc<DelayedSocket>, UdpSocket) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let inner = {
            let _g = rt.enter();
            quinn::TokioRuntime
                .wrap_udp_socket(UdpSocket::bind("127.0.0.1:0").unwrap())
                .unwrap()
        };
        let log: LogFn = Arc::new(|_, _| {});
        let s = DelayedSocket::new(inner, delay, max_bytes, log).unwrap();
        (rt, s, rx)
    }

    fn transmit(to: SocketAddr, contents: &[u8], segment_size: Option<usize>) -> Transmit<'_> {
        Transmit {
            destination: to,
            ecn: None,
            contents,
            segment_size,
            src_ip: None,
        }
    }

    #[test]
    fn datagrams_leave_late_and_in_order() {
        let delay = Duration::from_millis(30);
        let (_rt, s, rx) = pair(delay, DEFAULT_QUEUE_BYTES);
        let to = rx.local_addr().unwrap();
        let mut sent = Vec::new();
        for i in 0u32..20 {
            sent.push(Instant::now());
            s.try_send(&transmit(to, &i.to_be_bytes(), None)).unwrap();
        }
        let mut buf = [0u8; 64];
        for (i, t0) in sent.iter().enumerate() {
            let n = rx.recv(&mut buf).unwrap();
            // Lower bounds only: a loaded machine may deliver later, never much earlier.
            assert!(
                t0.elapsed() >= delay - MAX_AIM_EARLY,
                "datagram {i} came early"
            );
            assert_eq!(&buf[..n], &(i as u32).to_be_bytes(), "order kept");
        }
        assert_eq!(s.dropped(), 0);
    }

    #[test]
    fn a_segmented_transmit_keeps_its_segments() {
        let delay = Duration::from_millis(5);
        let (_rt, s, rx) = pair(delay, DEFAULT_QUEUE_BYTES);
        let to = rx.local_addr().unwrap();
        let segs = s.max_transmit_segments().min(3);
        let contents: Vec<u8> = (0..segs * 100).map(|i| (i / 100) as u8).collect();
        let t0 = Instant::now();
        s.try_send(&transmit(to, &contents, (segs > 1).then_some(100)))
            .unwrap();
        let mut buf = [0u8; 1000];
        for k in 0..segs {
            let n = rx.recv(&mut buf).unwrap();
            assert!(t0.elapsed() >= delay - delay / 4);
            assert_eq!(&buf[..n], &[k as u8; 100][..], "segment {k}");
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts() {
        let (_rt, s, rx) = pair(Duration::from_millis(200), 250);
        let to = rx.local_addr().unwrap();
        for _ in 0..5 {
            s.try_send(&transmit(to, &[1; 100], None)).unwrap();
        }
        assert_eq!(s.dropped(), 3, "two fit in 250 bytes");
        let mut buf = [0u8; 200];
        for _ in 0..2 {
            assert_eq!(rx.recv(&mut buf).unwrap(), 100);
        }
    }

    #[test]
    fn dropping_the_socket_releases_the_port() {
        let (_rt, s, _rx) = pair(Duration::from_secs(10), DEFAULT_QUEUE_BYTES);
        let addr = s.local_addr().unwrap();
        s.try_send(&transmit(addr, &[0; 10], None)).unwrap();
        drop(s);
        let start = Instant::now();
        while UdpSocket::bind(addr).is_err() {
            assert!(start.elapsed() < Duration::from_secs(5), "port still held");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
