//! Mutual TLS configured through the SSL_* parameters, end to end: a cluster whose nodes hold
//! certificates of one CA replicates; a node whose certificate comes from another CA is kept
//! out. Certificates are generated here (rcgen), never committed.

mod common;
mod tls_support;

use std::path::Path;

use common::*;
use tls_support::Ca;

/// Sets SSL_CA, SSL_CERT and SSL_KEY of `p` to a fresh certificate of `ca`.
fn configure(ca: &Ca, node: u32, p: &mut dcf_runtime::config::Params) {
    let (cert, key) = ca.issue(&format!("node{node}"), u64::from(node), None);
    p.set("SSL_CA", ca.path.to_str().unwrap()).unwrap();
    p.set("SSL_CERT", cert.to_str().unwrap()).unwrap();
    p.set("SSL_KEY", key.to_str().unwrap()).unwrap();
}

/// Three nodes; node `i` gets its certificate from `cas[i-1]`.
fn tls_cluster(root: &Path, cas: [&Ca; 3]) -> Cluster {
    let ports: Vec<u16> = (0..3).map(|_| free_udp_port()).collect();
    let json = cluster_json(&ports);
    let nodes = (1..=3u32)
        .map(|id| {
            let dir = root.join(format!("node{id}"));
            std::fs::create_dir_all(&dir).unwrap();
            let mut p = params(&dir);
            configure(cas[id as usize - 1], id, &mut p);
            make_node_with(id, &dir, p)
        })
        .collect();
    Cluster {
        nodes,
        ports,
        json,
        root: tempfile::tempdir().unwrap(),
    }
}

#[test]
fn nodes_of_one_ca_replicate_over_mutual_tls() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new("ca");
    let c = tls_cluster(root.path(), [&ca, &ca, &ca]);
    for n in &c.nodes {
        n.dcf.start(n.id, &c.json).expect("start with TLS");
    }
    let leader = c.wait_leader(LONG);
    write_keys(c.node(leader), 1..21);
    let keys: Vec<u64> = (1..21).collect();
    for n in &c.nodes {
        wait_keys(n, &keys, LONG);
        check_in_order(n);
    }
    c.stop_all();
}

#[test]
fn a_node_of_another_ca_is_kept_out() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new("ca");
    let other = Ca::new("other");
    let c = tls_cluster(root.path(), [&ca, &ca, &other]);
    for n in &c.nodes {
        n.dcf.start(n.id, &c.json).expect("start with TLS");
    }
    // Nodes 1 and 2 form a majority and commit; node 3 never receives anything.
    let leader = c.wait_leader(LONG);
    assert_ne!(leader, 3);
    write_keys(c.node(leader), 1..11);
    let keys: Vec<u64> = (1..11).collect();
    wait_keys(c.node(1), &keys, LONG);
    wait_keys(c.node(2), &keys, LONG);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        c.node(3).applied_keys().is_empty(),
        "node 3 must not be able to join"
    );
    assert!(c.node(leader).dcf.conn_status(1, 3).is_err());
    c.stop_all();
}
