//! What binds a connection to the node id its hello claims.
//!
//! - A certificate that names nodes (subject alternative DNS names `dcf-node-<id>`) may
//!   claim only those nodes: a member's valid certificate cannot speak for another member.
//! - Otherwise (no TLS, or one certificate shared by every node) a claim of node N is
//!   accepted only from N's IP address in the membership. That stops a process elsewhere on
//!   the network, not one on N's own host (or one that can forge N's source address on a
//!   path that does not check it): certificates naming each node are the real protection.

use crate::transport::state::TransportState;
use crate::types::NodeId;
use rustls::pki_types::CertificateDer;
use std::net::{IpAddr, SocketAddr};
use x509_cert::der::Decode;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

/// The DNS name that binds a certificate to node `id`.
pub fn node_name(id: NodeId) -> String {
    format!("dcf-node-{id}")
}

/// The node ids a certificate names (empty: it names none, or is not a certificate).
pub fn named_nodes(der: &[u8]) -> Vec<NodeId> {
    let Ok(cert) = Certificate::from_der(der) else {
        return Vec::new();
    };
    let Ok(Some((_, san))) = cert.tbs_certificate.get::<SubjectAltName>() else {
        return Vec::new();
    };
    san.0
        .iter()
        .filter_map(|name| match name {
            GeneralName::DnsName(dns) => dns
                .as_str()
                .strip_prefix("dcf-node-")
                .and_then(|n| n.parse::<NodeId>().ok()),
            _ => None,
        })
        .collect()
}

/// The nodes the peer's certificate names (mutual TLS only; empty otherwise).
pub fn peer_named_nodes(conn: &quinn::Connection) -> Vec<NodeId> {
    conn.peer_identity()
        .and_then(|id| id.downcast::<Vec<CertificateDer<'static>>>().ok())
        .and_then(|chain| chain.first().map(|c| named_nodes(c)))
        .unwrap_or_default()
}

fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

/// Why `conn` from `remote` may not speak for node `claimed`, or None.
pub(crate) fn refuse_claim(
    shared: &TransportState,
    conn: &quinn::Connection,
    remote: SocketAddr,
    claimed: NodeId,
) -> Option<String> {
    if shared.mutual_tls {
        let named = peer_named_nodes(conn);
        if !named.is_empty() {
            return (!named.contains(&claimed)).then(|| {
                format!(
                    "its certificate names node(s) {named:?}, so it may not claim node {claimed}"
                )
            });
        }
    }
    let Some(expected) = shared.peers.read().get(&claimed).map(|p| p.addr.ip()) else {
        return Some(format!("node {claimed} is not a configured peer"));
    };
    if expected.is_unspecified() || same_ip(expected, remote.ip()) {
        return None;
    }
    Some(format!(
        "it claims node {claimed}, whose address is {expected}"
    ))
}

/// At start, with mutual TLS: an error if this node's own certificate names other nodes
/// only, a warning if it names none.
pub fn check_own_certificate(
    chain: &[CertificateDer<'_>],
    me: NodeId,
) -> Result<Option<String>, String> {
    let named = chain.first().map(|c| named_nodes(c)).unwrap_or_default();
    if named.is_empty() {
        return Ok(Some(format!(
            "SSL_CERT names no node (a subject alternative name {}): peers bind this node by \
             its address only, and any certificate of the cluster could claim it",
            node_name(me)
        )));
    }
    if !named.contains(&me) {
        return Err(format!(
            "SSL_CERT names node(s) {named:?}, not this node {me}"
        ));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(names: &[&str]) -> Vec<u8> {
        let names = names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let c = rcgen::generate_simple_self_signed(names).unwrap();
        c.cert.der().to_vec()
    }

    #[test]
    fn a_certificate_names_the_nodes_of_its_dcf_node_names() {
        assert_eq!(named_nodes(&cert(&["dcf-node-2", "host.example"])), vec![2]);
        assert_eq!(
            named_nodes(&cert(&["dcf-node-1", "dcf-node-3"])),
            vec![1, 3]
        );
        assert!(named_nodes(&cert(&["dcf-node", "dcf-node-x"])).is_empty());
        assert!(named_nodes(b"not a certificate").is_empty());
    }

    #[test]
    fn own_certificate_must_name_this_node_or_none() {
        let der = |n: &[&str]| vec![CertificateDer::from(cert(n))];
        assert!(check_own_certificate(&der(&["dcf-node-1"]), 1)
            .unwrap()
            .is_none());
        assert!(check_own_certificate(&der(&["dcf-node-2"]), 1).is_err());
        assert!(check_own_certificate(&der(&["other"]), 1)
            .unwrap()
            .is_some());
    }
}
