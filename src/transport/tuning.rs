//! Socket and QUIC settings for a replication workload: large windows so a replication window
//! of batches is in flight without stalls, big socket buffers, segmentation offload, a LAN
//! initial RTT, and keep-alives that notice a dead peer within seconds.

use crate::transport::error::TransportError;
use quinn::{IdleTimeout, VarInt};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

pub const SOCKET_BUFFER_BYTES: usize = 4 * 1024 * 1024;
pub const STREAM_WINDOW_BYTES: u32 = 16 * 1024 * 1024;
pub const CONNECTION_WINDOW_BYTES: u32 = 48 * 1024 * 1024;
pub const KEEP_ALIVE: Duration = Duration::from_secs(1);
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

pub fn quic_transport_config(max_frame_bytes: usize) -> quinn::TransportConfig {
    // A stream window below one frame would still work (flow control), but one frame's
    // worth avoids a round trip per frame on the data channel.
    let stream_window = (STREAM_WINDOW_BYTES as usize)
        .max(max_frame_bytes.saturating_mul(2))
        .min(u32::MAX as usize / 2) as u32;
    let conn_window = CONNECTION_WINDOW_BYTES.max(stream_window.saturating_mul(2));
    let mut t = quinn::TransportConfig::default();
    t.stream_receive_window(VarInt::from_u32(stream_window))
        .receive_window(VarInt::from_u32(conn_window))
        .send_window(u64::from(conn_window))
        // Only the handshake stream and the three channel streams are ever opened.
        .max_concurrent_bidi_streams(VarInt::from_u32(1))
        .max_concurrent_uni_streams(VarInt::from_u32(3))
        .initial_rtt(Duration::from_millis(10))
        .keep_alive_interval(Some(KEEP_ALIVE))
        .max_idle_timeout(IdleTimeout::try_from(IDLE_TIMEOUT).ok())
        .enable_segmentation_offload(true)
        .datagram_receive_buffer_size(None);
    t
}

/// A UDP socket bound to `addr` with large kernel buffers (the kernel may cap them at
/// net.core.{r,w}mem_max; that is not an error).
pub fn bind_socket(addr: SocketAddr) -> Result<UdpSocket, TransportError> {
    use socket2::{Domain, Protocol, Socket, Type};
    let bind_err = |source| TransportError::Bind { addr, source };
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))
        .map_err(bind_err)?;
    if addr.is_ipv6() {
        let _ = socket.set_only_v6(false);
    }
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER_BYTES);
    socket.bind(&addr.into()).map_err(bind_err)?;
    socket.set_nonblocking(true).map_err(bind_err)?;
    Ok(socket.into())
}
