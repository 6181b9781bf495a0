//! QUIC transport between nodes (DESIGN.md "Wire protocol").
//!
//! Each node runs one quinn endpoint. For every peer it dials its own outbound connection,
//! used only for sending; it accepts the peers' connections for receiving. So there is one
//! connection per ordered pair of nodes and no dial race to resolve.
//!
//! A connection starts with a hello on a bidirectional stream (protocol version, cluster id,
//! sender and intended receiver node ids, channels); the acceptor answers with its own hello or
//! closes the connection with the reason. Then the dialer opens three long-lived unidirectional
//! streams, one per [`Channel`], so a large replication batch never delays a vote or a heartbeat.
//!
//! Peer identity: the node id in the hello, which must be a configured peer, bound to the
//! connection by `identity`: a certificate naming nodes (`dcf-node-<id>`) may claim only
//! those; otherwise the claim must come from the node's IP address in the membership. With
//! TLS on (SSL_CA/SSL_CERT/SSL_KEY), both sides must present a certificate issued by the
//! configured CA and not revoked by SSL_CRL. Without TLS an ephemeral self-signed
//! certificate keeps traffic encrypted but peers are bound by address only (logged as a
//! warning). One authenticated connection per node: a second claim is refused while the
//! first still hears from its peer (`conn_in`).

mod conn_in;
mod conn_out;
mod delay;
mod endpoint;
mod error;
mod frame;
mod hello;
mod identity;
mod legacy_key;
mod log;
mod state;
mod tls;
mod tuning;
mod types;

pub use endpoint::Transport;
pub use error::TransportError;
pub use frame::{encode_frame, FrameDecoder, FrameError, FRAME_PREFIX_LEN};
pub use identity::{named_nodes, node_name};
pub use log::{emit as log_emit, Level};
pub use tls::{cert_expiry_warnings, load_private_key, resolve_key_password, wipe, DecryptPwd};
pub use types::{
    Channel, Frame, FrameHandler, ReceivedFrame, TlsSettings, TransportConfig,
    DEFAULT_MAX_FRAME_BYTES, MAX_USER_MESSAGE_BYTES,
};
