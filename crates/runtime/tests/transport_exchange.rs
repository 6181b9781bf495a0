//! Loopback endpoints exchanging frames: all channels, several nodes, bad frames, restarts.

mod transport_support;

use bytes::Bytes;
use dcf_runtime::transport::{
    Channel, TlsSettings, Transport, TransportError, MAX_USER_MESSAGE_BYTES,
};
use std::collections::HashMap;
use transport_support::*;

const MIB: usize = 1024 * 1024;

#[test]
fn two_endpoints_exchange_frames_on_every_channel() {
    let rt = runtime();
    let a = Node::start(config(1, TlsSettings::default(), 4 * MIB), &rt);
    let b = Node::start(config(2, TlsSettings::default(), 4 * MIB), &rt);
    mesh(&[&a, &b]);
    wait_connected(&a, 2);
    wait_connected(&b, 1);
    assert!(a.rec.has_log("NOT authenticated"));
    for (n, channel) in Channel::ALL.into_iter().enumerate() {
        for i in 0..50u8 {
            let f = frame(n as u8 * 10, &[i], &[b"pay", &[i; 3], b""]);
            a.transport.send(2, channel, f.clone()).unwrap();
            b.transport.send(1, channel, f).unwrap();
        }
    }
    // An empty frame and a large multi-chunk one.
    a.transport
        .send(2, Channel::Data, frame(9, b"", &[]))
        .unwrap();
    let big = vec![7u8; 3 * MIB];
    let f = dcf_runtime::transport::Frame {
        kind: 5,
        header: Bytes::from_static(b"h"),
        payload: vec![
            Bytes::from(big[..MIB].to_vec()),
            Bytes::from(big[MIB..].to_vec()),
        ],
    };
    a.transport.send(2, Channel::Data, f).unwrap();
    b.rec.wait("frames from a", |r| r.count_from(1) == 152);
    a.rec.wait("frames from b", |r| r.count_from(2) == 150);
    for rec in [&a.rec, &b.rec] {
        let from = if std::ptr::eq(rec, &a.rec) { 2 } else { 1 };
        for (n, channel) in Channel::ALL.into_iter().enumerate() {
            let got = rec.frames_from(from, channel);
            for (i, f) in got.iter().take(50).enumerate() {
                assert_eq!(f.kind, n as u8 * 10);
                assert_eq!(f.header.as_ref(), &[i as u8]);
                assert_eq!(f.payload.as_ref(), [&b"pay"[..], &[i as u8; 3]].concat());
            }
        }
    }
    let data = b.rec.frames_from(1, Channel::Data);
    assert_eq!((data[50].kind, data[50].payload.len()), (9, 0));
    assert_eq!(data[51].header.as_ref(), b"h");
    assert_eq!(data[51].payload.as_ref(), &big[..]);
    a.transport.shutdown();
    b.transport.shutdown();
}

#[test]
fn three_endpoints_deliver_user_messages_whole_and_in_order() {
    let rt = runtime();
    let nodes: Vec<Node> = (1..=3)
        .map(|id| Node::start(config(id, TlsSettings::default(), 2 * MIB), &rt))
        .collect();
    let refs: Vec<&Node> = nodes.iter().collect();
    mesh(&refs);
    let message: Vec<u8> = (0..MAX_USER_MESSAGE_BYTES)
        .map(|i| (i % 251) as u8)
        .collect();
    for n in &nodes {
        for to in (1..=3).filter(|&t| t != n.id) {
            for seq in 0..5u8 {
                let f = frame(seq, &[n.id as u8], &[&message]);
                n.transport.send(to, Channel::Message, f).unwrap();
                n.transport
                    .send(to, Channel::Control, frame(seq, b"vote", &[]))
                    .unwrap();
            }
        }
    }
    for n in &nodes {
        n.rec.wait("all frames", |r| r.frames.lock().len() == 20);
        for from in (1..=3).filter(|&f| f != n.id) {
            let msgs = n.rec.frames_from(from, Channel::Message);
            assert_eq!(msgs.len(), 5);
            for (seq, m) in msgs.iter().enumerate() {
                assert_eq!(m.kind, seq as u8);
                assert_eq!(m.header.as_ref(), &[from as u8]);
                assert!(m.payload == message, "message from {from} altered");
            }
            assert_eq!(n.rec.frames_from(from, Channel::Control).len(), 5);
        }
    }
    for n in &nodes {
        n.transport.shutdown();
    }
}

#[test]
fn send_errors_name_the_problem() {
    let rt = runtime();
    let a = Node::start(config(1, TlsSettings::default(), 1024), &rt);
    let mut peers = HashMap::new();
    peers.insert(2, "127.0.0.1:9".parse().unwrap());
    a.transport.set_peers(peers);
    assert!(matches!(
        a.transport.send(3, Channel::Data, frame(0, b"", &[])),
        Err(TransportError::UnknownPeer(3))
    ));
    assert!(matches!(
        a.transport
            .send(2, Channel::Data, frame(0, &[0; 600], &[&[0; 600]])),
        Err(TransportError::FrameTooBig {
            size: 1200,
            limit: 1024
        })
    ));
    // The peer never answers: the bounded queue fills up instead of growing.
    let mut full = false;
    for _ in 0..100_000 {
        match a.transport.send(2, Channel::Control, frame(0, b"x", &[])) {
            Ok(()) => {}
            Err(TransportError::QueueFull { peer: 2, .. }) => {
                full = true;
                break;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(full);
    let taken = a.addr();
    let again = Transport::start(
        dcf_runtime::transport::TransportConfig {
            listen: taken,
            ..config(5, TlsSettings::default(), 1024)
        },
        std::sync::Arc::new(Recorder::default()),
        rt.handle(),
    );
    assert!(matches!(again, Err(TransportError::Bind { .. })));
    a.transport.shutdown();
    assert!(matches!(
        a.transport.send(2, Channel::Data, frame(0, b"", &[])),
        Err(TransportError::ShutDown)
    ));
}

/// Node 1 accepts frames up to 64 KiB; node 2 sends it a bad frame. Only the 2→1
/// connection closes; 3→1 stays up, and 2 reconnects and is heard again.
fn bad_frame_closes_only_that_connection(send_bad: impl FnOnce(&Transport)) {
    let rt = runtime();
    let a = Node::start(config(1, TlsSettings::default(), 64 * 1024), &rt);
    let b = Node::start(config(2, TlsSettings::default(), MIB), &rt);
    let c = Node::start(config(3, TlsSettings::default(), MIB), &rt);
    mesh(&[&a, &b, &c]);
    for (n, peers) in [(&a, [2, 3]), (&b, [1, 3]), (&c, [1, 2])] {
        for p in peers {
            wait_connected(n, p);
        }
    }
    send_bad(&b.transport);
    a.rec.wait("the protocol error logged", |r| {
        r.has_log("closing the connection from node 2")
    });
    b.rec
        .wait("b's connection to a dropped", |r| r.downs(1) == 1);
    wait_connected(&b, 1);
    b.transport
        .send(1, Channel::Control, frame(1, b"after", &[]))
        .unwrap();
    c.transport
        .send(1, Channel::Control, frame(1, b"still", &[]))
        .unwrap();
    a.rec.wait("frames after the bad one", |r| {
        r.count_from(2) == 1 && r.count_from(3) == 1
    });
    assert_eq!(
        a.rec.frames_from(2, Channel::Control)[0].header.as_ref(),
        b"after"
    );
    assert_eq!(
        c.rec.downs(1),
        0,
        "node 3's connection to node 1 must stay up"
    );
    assert_eq!(a.rec.downs(3), 0);
    assert!(a.transport.is_connected(3) && a.transport.is_connected(2));
    for n in [&a, &b, &c] {
        n.transport.shutdown();
    }
}

#[test]
fn oversized_frame_closes_only_that_connection() {
    bad_frame_closes_only_that_connection(|b| {
        b.send(1, Channel::Data, frame(1, b"", &[&vec![0u8; 100 * 1024]]))
            .unwrap();
    });
}

#[test]
fn garbage_frame_closes_only_that_connection() {
    bad_frame_closes_only_that_connection(|b| {
        // body 4 bytes but header 4000: inconsistent lengths.
        let mut raw = 4u32.to_le_bytes().to_vec();
        raw.push(1);
        raw.extend(4000u32.to_le_bytes());
        raw.extend([0xde, 0xad, 0xbe, 0xef]);
        b.send_raw_for_tests(1, Channel::Message, Bytes::from(raw))
            .unwrap();
    });
}

#[test]
fn reconnects_after_a_peer_restarts() {
    let rt = runtime();
    let a = Node::start(config(1, TlsSettings::default(), MIB), &rt);
    let b = Node::start(config(2, TlsSettings::default(), MIB), &rt);
    mesh(&[&a, &b]);
    wait_connected(&a, 2);
    a.transport
        .send(2, Channel::Data, frame(1, b"before", &[]))
        .unwrap();
    b.rec.wait("first frame", |r| r.count_from(1) == 1);
    let b_addr = b.addr();
    b.transport.shutdown();
    a.rec.wait("a sees b go", |r| r.downs(2) == 1);
    // Same address: shutdown released the port.
    let mut cfg = config(2, TlsSettings::default(), MIB);
    cfg.listen = b_addr;
    cfg.peers.insert(1, a.addr());
    let b2 = Node::start(cfg, &rt);
    wait_connected(&a, 2);
    wait_connected(&b2, 1);
    a.transport
        .send(2, Channel::Data, frame(2, b"after", &[]))
        .unwrap();
    b2.transport
        .send(1, Channel::Message, frame(3, b"back", &[]))
        .unwrap();
    b2.rec.wait("frame after restart", |r| r.count_from(1) >= 1);
    a.rec
        .wait("frame from restarted node", |r| r.count_from(2) == 1);
    assert_eq!(
        b2.rec
            .frames_from(1, Channel::Data)
            .last()
            .unwrap()
            .header
            .as_ref(),
        b"after"
    );
    a.transport.shutdown();
    b2.transport.shutdown();
}

#[test]
fn hello_from_a_stranger_or_another_cluster_is_refused() {
    let rt = runtime();
    let a = Node::start(config(1, TlsSettings::default(), MIB), &rt);
    let mut other_cluster = config(2, TlsSettings::default(), MIB);
    other_cluster.cluster_id = 7;
    let b = Node::start(other_cluster, &rt);
    let c = Node::start(config(3, TlsSettings::default(), MIB), &rt);
    // a knows b but not c; b and c know a.
    a.transport.set_peers([(2, b.addr())].into_iter().collect());
    b.transport.set_peers([(1, a.addr())].into_iter().collect());
    c.transport.set_peers([(1, a.addr())].into_iter().collect());
    a.rec
        .wait("cluster mismatch logged", |r| r.has_log("cluster id 7"));
    a.rec.wait("stranger logged", |r| {
        r.has_log("node 3 is not a configured peer")
    });
    c.rec.wait("refusal seen by the dialer", |r| {
        r.has_log("not a configured peer")
    });
    assert!(!c.transport.is_connected(1));
    for n in [&a, &b, &c] {
        n.transport.shutdown();
    }
}

#[test]
fn removed_peer_is_dropped_and_refused() {
    let rt = runtime();
    let a = Node::start(config(1, TlsSettings::default(), MIB), &rt);
    let b = Node::start(config(2, TlsSettings::default(), MIB), &rt);
    mesh(&[&a, &b]);
    wait_connected(&a, 2);
    wait_connected(&b, 1);
    a.transport.set_peers(HashMap::new());
    assert!(!a.transport.is_connected(2));
    assert!(matches!(
        a.transport.send(2, Channel::Data, frame(0, b"", &[])),
        Err(TransportError::UnknownPeer(2))
    ));
    // b's connection into a is closed and its redials are refused.
    b.rec.wait("b's connection dropped", |r| r.downs(1) >= 1);
    a.rec.wait("a refuses b", |r| {
        r.has_log("node 2 is not a configured peer")
    });
    assert!(!b.transport.is_connected(1));
    a.transport.shutdown();
    b.transport.shutdown();
}
