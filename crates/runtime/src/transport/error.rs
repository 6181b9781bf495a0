use crate::types::NodeId;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot bind the transport to {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS file {path}: {reason}")]
    TlsFile { path: PathBuf, reason: String },
    #[error("TLS configuration: {0}")]
    Tls(String),
    #[error("node {0} is not a configured peer")]
    UnknownPeer(NodeId),
    #[error("frame of {size} bytes exceeds the limit of {limit} bytes")]
    FrameTooBig { size: usize, limit: usize },
    #[error("send queue to node {peer} ({channel} channel) is full")]
    QueueFull {
        peer: NodeId,
        channel: crate::transport::Channel,
    },
    #[error("the transport is shut down")]
    ShutDown,
    #[error("key password: {0}")]
    KeyPassword(String),
}
