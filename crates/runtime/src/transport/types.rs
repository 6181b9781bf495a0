//! The transport's public data types (the contract the runtime is written against).

use crate::transport::log::{self, Level};
use crate::types::NodeId;
use bytes::Bytes;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `dcf_send_msg` / `dcf_broadcast_msg` carry at most this many bytes (SPEC B5).
pub const MAX_USER_MESSAGE_BYTES: usize = 512 * 1024;

/// A sensible `TransportConfig::max_frame_bytes`: room for a replication batch of several
/// maximal (1 MiB) entries.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// The three long-lived unidirectional streams of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Votes, heartbeats, acks: small and urgent.
    Control,
    /// Replication batches.
    Data,
    /// User messages (`dcf_send_msg`, `dcf_broadcast_msg`).
    Message,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Control, Channel::Data, Channel::Message];

    pub(crate) fn index(self) -> usize {
        match self {
            Channel::Control => 0,
            Channel::Data => 1,
            Channel::Message => 2,
        }
    }

    /// The byte that opens each stream and names its channel.
    pub(crate) fn tag(self) -> u8 {
        self.index() as u8 + 1
    }

    pub(crate) fn from_tag(tag: u8) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.tag() == tag)
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Channel::Control => "control",
            Channel::Data => "data",
            Channel::Message => "message",
        })
    }
}

/// A frame to send: `header` is the caller's bincode header; `payload` chunks are sent raw,
/// back to back, without being copied, and arrive as one contiguous `payload`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    pub kind: u8,
    pub header: Bytes,
    pub payload: Vec<Bytes>,
}

impl Frame {
    /// Header plus payload bytes: what `max_frame_bytes` limits.
    pub fn body_len(&self) -> usize {
        self.payload
            .iter()
            .fold(self.header.len(), |n, p| n.saturating_add(p.len()))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedFrame {
    pub kind: u8,
    pub header: Bytes,
    pub payload: Bytes,
}

/// The SSL_* parameters. TLS with mutual authentication is on when `ca`, `cert` and `key` are
/// all set; with none set an ephemeral self-signed certificate is used; a partial set is an
/// error. `key_password` is the resolved passphrase of an encrypted key (see
/// [`crate::transport::resolve_key_password`] for SSL_PWD_CIPHERTEXT).
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub crl: Option<PathBuf>,
    pub key_password: Option<String>,
    /// SSL_CERT_NOTIFY_TIME: warn when the certificate or CA expires within this many days.
    pub cert_notify_days: u32,
}

#[derive(Clone, Debug)]
pub struct TransportConfig {
    pub node_id: NodeId,
    pub listen: SocketAddr,
    pub peers: HashMap<NodeId, SocketAddr>,
    pub tls: TlsSettings,
    /// Largest header + payload accepted, both when sending and receiving.
    pub max_frame_bytes: usize,
    /// Nodes of different clusters refuse each other; 0 is an ordinary value.
    pub cluster_id: u64,
    /// ELECTION_TIMEOUT: a path silent for a fraction of it is replaced (see `Timing`).
    pub election_timeout: Duration,
    /// HEARTBEAT_INTERVAL: keep-alives are never sparser than heartbeats.
    pub heartbeat_interval: Duration,
}

/// Receives what the transport delivers. Called on the transport's tasks: return quickly.
pub trait FrameHandler: Send + Sync + 'static {
    fn on_frame(&self, from: NodeId, channel: Channel, frame: ReceivedFrame);

    /// The outbound connection to `peer` came up (handshake done) or went down.
    fn on_peer(&self, _peer: NodeId, _connected: bool) {}

    /// Every log line of this transport; by default the process-wide hook.
    fn on_log(&self, level: Level, msg: &str) {
        log::emit(level, msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_named_in_plain_words() {
        let names: Vec<String> = Channel::ALL.iter().map(|c| c.to_string()).collect();
        assert_eq!(names, ["control", "data", "message"]);
    }
}
