//! A path that stops carrying packets is replaced: two endpoints talk through UDP relays on
//! loopback that can drop everything, as a network cut does.

mod transport_support;

use dcf_runtime::transport::Channel;
use dcf_runtime::types::NodeId;
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use transport_support::{config, frame, runtime, wait_connected, Node, PATIENCE};

/// Forwards datagrams between two fixed addresses through one socket, unless cut.
struct Relay {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    fn start(a: SocketAddr, b: SocketAddr) -> Relay {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let addr = socket.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (cut.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            // Bounded even if the test forgets to stop it.
            let end = Instant::now() + PATIENCE * 2;
            while !s.load(Ordering::Acquire) && Instant::now() < end {
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let to = if from == a { b } else { a };
                if !c.load(Ordering::Acquire) {
                    let _ = socket.send_to(&buf[..n], to);
                }
            }
        });
        Relay {
            addr,
            cut,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_cut_path_is_replaced_and_carries_frames_again_after_the_heal() {
    let rt = runtime();
    // ELECTION_TIMEOUT 1 s: a path silent for 500 ms is given up on.
    let a = Node::start(config(1, Default::default(), 1 << 20), &rt);
    let b = Node::start(config(2, Default::default(), 1 << 20), &rt);
    // Each node reaches the other through its own relay.
    let to_b = Relay::start(a.addr(), b.addr());
    let to_a = Relay::start(b.addr(), a.addr());
    let peers = |me: NodeId| -> HashMap<NodeId, SocketAddr> {
        [(1, to_a.addr), (2, to_b.addr)]
            .into_iter()
            .filter(|(id, _)| *id != me)
            .collect()
    };
    a.transport.set_peers(peers(1));
    b.transport.set_peers(peers(2));
    wait_connected(&a, 2);
    a.transport
        .send(2, Channel::Control, frame(1, b"before", &[]))
        .unwrap();
    b.rec.wait("the first frame", |r| r.count_from(1) == 1);

    for r in [&to_a, &to_b] {
        r.cut.store(true, Ordering::Release);
    }
    // Longer than the idle limit, far shorter than the fixed 10 s it used to be.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        a.rec.downs(2) >= 1,
        "the silent connection to node 2 was not given up during the cut"
    );
    for r in [&to_a, &to_b] {
        r.cut.store(false, Ordering::Release);
    }
    let healed = Instant::now();
    wait_connected(&a, 2);
    a.transport
        .send(2, Channel::Control, frame(1, b"after", &[]))
        .unwrap();
    b.rec
        .wait("a frame after the heal", |r| r.count_from(1) == 2);
    let took = healed.elapsed();
    // The old behaviour waited for the receiver's 10 s idle timeout; generous for a loaded
    // machine, far below that.
    assert!(
        took < Duration::from_secs(5),
        "the path carried frames again only {took:?} after the heal"
    );
    let got = b.rec.frames_from(1, Channel::Control);
    assert_eq!(&got[1].header[..], b"after");
}
