//! Attacks with mutual TLS (SSL_CA/SSL_CERT/SSL_KEY): a valid certificate of the cluster's
//! CA that names another node, a certificate shared by every node used from another address,
//! a certificate of another CA; and the start-time checks of the node's own files.

mod common;
mod hostile_support;
mod tls_support;

use std::net::SocketAddr;
use std::time::Duration;

use dcf_runtime::error::ErrorCode;
use dcf_runtime::transport::TlsSettings;
use rcgen::KeyPair;

use common::*;
use hostile_support::*;
use tls_support::Ca;

const ATTACK: Duration = Duration::from_secs(3);

/// The certificate and key of node `id`: naming it (`dcf-node-<id>`), or naming no node.
fn issue(ca: &Ca, id: u32, named: bool) -> (std::path::PathBuf, std::path::PathBuf) {
    let names = if named {
        vec![format!("dcf-node-{id}"), format!("node{id}.example")]
    } else {
        vec!["cluster.example".to_string()]
    };
    ca.issue_with_names(
        KeyPair::generate().unwrap(),
        &format!("node{id}"),
        u64::from(id),
        None,
        &names,
    )
}

fn settings(ca: &Ca, files: (std::path::PathBuf, std::path::PathBuf)) -> TlsSettings {
    ca.settings(files, None, None)
}

/// Three nodes of `ca`, certificates named per node or not; node 2 is left stopped, so
/// that only the certificate (or address) rule can keep an impostor of it out.
fn cluster(ca: &Ca, named: bool) -> Cluster {
    let mut c = Cluster::new(3);
    for id in 1..=3u32 {
        let dir = c.node(id).dir.clone();
        std::fs::create_dir_all(&dir).unwrap();
        let mut p = params(&dir);
        let (cert, key) = issue(ca, id, named);
        p.set("SSL_CA", ca.path.to_str().unwrap()).unwrap();
        p.set("SSL_CERT", cert.to_str().unwrap()).unwrap();
        p.set("SSL_KEY", key.to_str().unwrap()).unwrap();
        c.nodes[id as usize - 1] = make_node_with(id, &dir, p);
    }
    start_some(&c, &[1, 3]);
    keeps_committing(&[c.node(1), c.node(3)], 1);
    c
}

fn attack(c: &Cluster, h: &Hostile) {
    h.repeat(ATTACK, |h| {
        for to in [1, 3] {
            h.user_msg(to, FORGED_MSG);
        }
    });
    assert!(!h.ever_connected(), "the impostor of node 2 was accepted");
    nothing_injected(&[c.node(1), c.node(3)]);
    keeps_committing(&[c.node(1), c.node(3)], 100);
}

#[test]
fn another_nodes_valid_certificate_cannot_claim_node_2() {
    let _serial = SERIAL.lock();
    let ca = Ca::new("ca");
    let c = cluster(&ca, true);
    let rt = runtime();
    // Node 3's own certificate, from node 2's address, claiming node 2 (by hand: the
    // library itself refuses to start with a certificate naming another node).
    let stolen = issue(&ca, 3, true);
    let ep = raw_endpoint_with(&rt, loopback(1), Some(stolen));
    let (p1, p3) = (c.ports[0], c.ports[2]);
    let accepted = rt.block_on(async {
        let mut n = 0;
        for _ in 0..5 {
            n += raw_claim(ep.clone(), p1, 2, 1).await as usize;
            n += raw_claim(ep.clone(), p3, 2, 3).await as usize;
        }
        n
    });
    assert_eq!(accepted, 0, "node 3's certificate was accepted as node 2's");
    std::thread::sleep(Duration::from_millis(300));
    nothing_injected(&[c.node(1), c.node(3)]);
    keeps_committing(&[c.node(1), c.node(3)], 100);
    // The control: node 2's own certificate is accepted the same way.
    let own = raw_endpoint_with(&rt, loopback(1), Some(issue(&ca, 2, true)));
    assert!(
        rt.block_on(raw_claim(own, p1, 2, 1)),
        "a claim by hand works"
    );
}

#[test]
fn a_shared_certificate_is_bound_to_the_address() {
    let _serial = SERIAL.lock();
    let ca = Ca::new("ca");
    let c = cluster(&ca, false);
    let rt = runtime();
    let shared = issue(&ca, 9, false);
    let ip = loopback(5);
    let port = std::net::UdpSocket::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let targets = [(1, c.ports[0]), (3, c.ports[2])];
    let h = Hostile::start(
        &rt,
        2,
        SocketAddr::new(ip, port),
        &targets,
        settings(&ca, shared),
    );
    attack(&c, &h);
}

#[test]
fn a_certificate_of_another_ca_is_refused() {
    let _serial = SERIAL.lock();
    let ca = Ca::new("ca");
    let c = cluster(&ca, true);
    let rt = runtime();
    let other = Ca::new("other");
    let listen = SocketAddr::new(loopback(1), c.ports[1]);
    let targets = [(1, c.ports[0]), (3, c.ports[2])];
    let h = Hostile::start(
        &rt,
        2,
        listen,
        &targets,
        settings(&other, issue(&other, 2, true)),
    );
    attack(&c, &h);
}

#[test]
fn a_node_refuses_to_start_with_a_readable_key_or_another_nodes_certificate() {
    let ca = Ca::new("ca");
    let root = tempfile::tempdir().unwrap();
    let port = free_udp_port();
    let json = cluster_json(&[port]);
    let start = |cert: &std::path::Path, key: &std::path::Path| {
        let dir = root.path().join(format!("n{}", rand_suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut p = params(&dir);
        p.set("SSL_CA", ca.path.to_str().unwrap()).unwrap();
        p.set("SSL_CERT", cert.to_str().unwrap()).unwrap();
        p.set("SSL_KEY", key.to_str().unwrap()).unwrap();
        let n = make_node_with(1, &dir, p);
        let r = n.dcf.start(1, &json);
        let _ = n.dcf.stop();
        r
    };
    let (cert, key) = issue(&ca, 1, true);
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    let e = start(&cert, &key).unwrap_err();
    assert_eq!(e.code, ErrorCode::Tls, "{e:?}");
    assert!(e.message.contains("group or others"), "{}", e.message);
    let (cert, key) = issue(&ca, 2, true);
    let e = start(&cert, &key).unwrap_err();
    assert_eq!(e.code, ErrorCode::Tls, "{e:?}");
    assert!(e.message.contains("not this node 1"), "{}", e.message);
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
