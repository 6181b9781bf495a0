//! The handshake at connection start, on the connection's one bidirectional stream:
//! `len u32 LE | encoding(Hello)` each way, in the project's one encoding (bincode 1 with
//! fixed-width little-endian integers: the field order of `Hello`, no padding).

use crate::encoding;
use crate::types::NodeId;
use serde::{Deserialize, Serialize};

pub const MAGIC: u32 = 0x4443_4631; // "DCF1"
pub const PROTOCOL_VERSION: u16 = 1;
/// A hello is a few dozen bytes; anything longer is refused unread.
pub const MAX_HELLO_BYTES: usize = 1024;
/// Every channel stream (Control, Data, Message).
pub const ALL_CHANNELS: u8 = 0b111;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub magic: u32,
    pub version: u16,
    pub cluster_id: u64,
    /// The sender.
    pub node_id: NodeId,
    /// The node the sender means to reach (0 in the acceptor's answer).
    pub to: NodeId,
    /// Bit i set: the sender serves channel stream i.
    pub channels: u8,
}

impl Hello {
    pub fn new(cluster_id: u64, node_id: NodeId, to: NodeId) -> Hello {
        Hello {
            magic: MAGIC,
            version: PROTOCOL_VERSION,
            cluster_id,
            node_id,
            to,
            channels: ALL_CHANNELS,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let body = encoding::encode(self);
        let mut out = (body.len() as u32).to_le_bytes().to_vec();
        out.extend(body);
        out
    }

    pub fn decode(body: &[u8]) -> Result<Hello, String> {
        encoding::decode(body, MAX_HELLO_BYTES as u64).map_err(|e| format!("malformed hello: {e}"))
    }

    /// Why a hello from a peer is unacceptable to a node of `cluster_id`, or None.
    pub fn mismatch(&self, cluster_id: u64) -> Option<String> {
        if self.magic != MAGIC {
            return Some(format!("bad hello magic {:#x}", self.magic));
        }
        if self.version != PROTOCOL_VERSION {
            return Some(format!(
                "protocol version {} (this node speaks {PROTOCOL_VERSION})",
                self.version
            ));
        }
        if self.cluster_id != cluster_id {
            return Some(format!(
                "cluster id {} (this node is in cluster {cluster_id})",
                self.cluster_id
            ));
        }
        if self.channels & ALL_CHANNELS != ALL_CHANNELS {
            return Some(format!("channel set {:#b} lacks a channel", self.channels));
        }
        None
    }
}

/// The body length announced by a hello's 4-byte prefix, if acceptable.
pub fn body_len(prefix: [u8; 4]) -> Result<usize, String> {
    let len = u32::from_le_bytes(prefix) as usize;
    if len > MAX_HELLO_BYTES {
        return Err(format!("hello of {len} bytes exceeds {MAX_HELLO_BYTES}"));
    }
    Ok(len)
}

/// Reads one length-prefixed hello from `recv`, refusing an oversized one unread.
pub async fn read_hello(recv: &mut quinn::RecvStream) -> Result<Hello, String> {
    let mut prefix = [0u8; 4];
    recv.read_exact(&mut prefix)
        .await
        .map_err(|e| format!("reading the hello: {e}"))?;
    let mut body = vec![0u8; body_len(prefix)?];
    recv.read_exact(&mut body)
        .await
        .map_err(|e| format!("reading the hello: {e}"))?;
    Hello::decode(&body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_mismatches() {
        let h = Hello::new(7, 1, 2);
        let wire = h.encode();
        let len = body_len(wire[..4].try_into().unwrap()).unwrap();
        assert_eq!(Hello::decode(&wire[4..4 + len]).unwrap(), h);
        assert_eq!(h.mismatch(7), None);
        assert!(h.mismatch(8).unwrap().contains("cluster id 7"));
        let old = Hello {
            version: 0,
            ..h.clone()
        };
        assert!(old.mismatch(7).unwrap().contains("protocol version 0"));
        let partial = Hello { channels: 1, ..h };
        assert!(partial.mismatch(7).is_some());
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = Hello::decode(&bytes);
        }
    }

    #[test]
    fn the_wire_bytes_are_fixed() {
        // Every released node speaks this: a change needs a new PROTOCOL_VERSION.
        let wire = Hello::new(7, 1, 2).encode();
        let expected = [
            0x17, 0, 0, 0, // body length 23
            0x31, 0x46, 0x43, 0x44, // magic
            1, 0, // version
            7, 0, 0, 0, 0, 0, 0, 0, // cluster id
            1, 0, 0, 0, // node id
            2, 0, 0, 0, // to
            7, // channels
        ];
        assert_eq!(wire, expected);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(body_len(u32::MAX.to_le_bytes()).is_err());
        assert!(Hello::decode(&[1, 2, 3]).is_err());
        assert!(Hello::decode(&[0u8; 200]).is_err());
    }
}
