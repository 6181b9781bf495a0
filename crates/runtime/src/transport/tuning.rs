//! Socket and QUIC settings for a replication workload: large windows so a replication window
//! of batches is in flight without stalls (on a wide-area link too), big socket buffers,
//! segmentation offload, a LAN
//! initial RTT, prompt acknowledgements (so a lost tail packet is resent within milliseconds),
//! and liveness timers derived from the election timeout.

use crate::transport::error::TransportError;
use quinn::{AckFrequencyConfig, IdleTimeout, VarInt};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

pub const SOCKET_BUFFER_BYTES: usize = 4 * 1024 * 1024;
/// Flow control: twice the consensus core's 8 MiB of entries in flight per follower
/// (`ReplicaConfig::max_inflight_bytes`), so the stream window never closes before the
/// core's own. The send window bounds what the leader buffers per peer: 64 MiB raised
/// make bench-memory's flood peak from about 170 to 190-315 MiB and carried no more.
pub const STREAM_WINDOW_BYTES: u32 = 16 * 1024 * 1024;
pub const CONNECTION_WINDOW_BYTES: u32 = 48 * 1024 * 1024;
/// Below this a loaded machine can miss a keep-alive and drop a healthy connection.
const MIN_IDLE: Duration = Duration::from_millis(300);
const MAX_IDLE: Duration = Duration::from_secs(10);
/// Asked of the peer: ack within this delay. Loss recovery waits for acks, so on a LAN the
/// default 25 ms delay is what a lost packet costs.
const MAX_ACK_DELAY: Duration = Duration::from_millis(2);
/// Largest UDP payload a QUIC endpoint may use. Path MTU discovery starts from the safe 1200
/// bytes and probes up to this (probes are sent unfragmented, so a 1500-byte network settles
/// near 1452 while loopback and jumbo-frame links use bigger datagrams): each datagram costs
/// quinn, the AEAD and the kernel a fixed amount of work, so fewer, larger ones save CPU per
/// byte. Not more: quinn hands the kernel up to 10 datagrams in one segmentation-offload send,
/// which must stay within 64 KiB, or the whole send is refused and counts as lost.
pub const MAX_UDP_PAYLOAD: u16 = 6500;
/// A burst of lost big datagrams (a loaded machine declares some lost spuriously) makes quinn
/// fall back to 1200-byte datagrams; search again soon rather than after its default minute.
const BLACK_HOLE_COOLDOWN: Duration = Duration::from_secs(1);

/// The liveness timers of every connection.
///
/// A path makes progress when the peer acknowledges what was sent (keep-alives make sure
/// something is always in flight). A path without progress for `idle` is closed at once on
/// both ends and the sender redials every [`Timing::max_backoff`] at most, so a cut of any
/// length heals within about `idle + max_backoff` instead of waiting out QUIC's exponential
/// retransmission back-off. `idle` is half the election timeout: a connection lost to a
/// short cut is back before a follower would start an election.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub idle: Duration,
    pub keep_alive: Duration,
    /// For the QUIC handshake. Nothing else bounds a dial into a cut (quinn's idle timer
    /// starts with the first answer), and a short one keeps the dial's own retransmission
    /// back-off short, so the first attempt after a heal comes soon.
    pub connect: Duration,
    /// For the hello exchange and the channel streams, on a connection already up (a dead
    /// path is caught by `idle`): generous, so a loaded machine is not refused forever.
    pub hello: Duration,
    pub max_backoff: Duration,
}

impl Timing {
    pub fn derive(election_timeout: Duration, heartbeat_interval: Duration) -> Timing {
        let idle = (election_timeout / 2).clamp(MIN_IDLE, MAX_IDLE);
        let mut keep_alive = (idle / 4).min(heartbeat_interval);
        if keep_alive.is_zero() {
            keep_alive = idle / 4;
        }
        Timing {
            idle,
            keep_alive,
            connect: idle,
            hello: (idle * 4).max(Duration::from_secs(2)),
            max_backoff: Duration::from_millis(100),
        }
    }
}

/// What a connection may send before its hello is accepted: the hello, with room to spare.
pub const BEFORE_HELLO_WINDOW: u32 = 16 * 1024;

fn stream_window(max_frame_bytes: usize) -> u32 {
    // A stream window below one frame would still work (flow control), but one frame's
    // worth avoids a round trip per frame on the data channel.
    (STREAM_WINDOW_BYTES as usize)
        .max(max_frame_bytes.saturating_mul(2))
        .min(u32::MAX as usize / 2) as u32
}

/// The connection-level receive window once a peer is accepted.
pub fn connection_window(max_frame_bytes: usize) -> u32 {
    CONNECTION_WINDOW_BYTES.max(stream_window(max_frame_bytes).saturating_mul(2))
}

/// The acceptor's settings until the hello is checked: a tiny connection window and no
/// unidirectional stream. A stranger can make this node hold a few KiB, not megabytes.
pub fn before_hello(mut t: quinn::TransportConfig) -> quinn::TransportConfig {
    t.receive_window(VarInt::from_u32(BEFORE_HELLO_WINDOW))
        .max_concurrent_uni_streams(VarInt::from_u32(0));
    t
}

pub fn quic_transport_config(max_frame_bytes: usize, timing: Timing) -> quinn::TransportConfig {
    let stream_window = stream_window(max_frame_bytes);
    let conn_window = connection_window(max_frame_bytes);
    let mut acks = AckFrequencyConfig::default();
    acks.max_ack_delay(Some(MAX_ACK_DELAY));
    let mut t = quinn::TransportConfig::default();
    t.stream_receive_window(VarInt::from_u32(stream_window))
        .receive_window(VarInt::from_u32(conn_window))
        .send_window(u64::from(conn_window))
        // Only the handshake stream and the three channel streams are ever opened.
        .max_concurrent_bidi_streams(VarInt::from_u32(1))
        .max_concurrent_uni_streams(VarInt::from_u32(3))
        .initial_rtt(Duration::from_millis(10))
        .keep_alive_interval(Some(timing.keep_alive))
        .max_idle_timeout(IdleTimeout::try_from(timing.idle).ok())
        .ack_frequency_config(Some(acks))
        // Congestion control stays quinn's default, Cubic from a ~15 KB window. Under 10%
        // random loss between three nodes (make fault-test) BBR kept no more throughput; a
        // 512 KiB initial window carried no more in make bench's wide-area cases and raised
        // the leader's peak memory under make bench-memory's flood (171 MiB median of 5 runs
        // without; 195 and 241 MiB in 2 runs with).
        .enable_segmentation_offload(true)
        .datagram_receive_buffer_size(None);
    let mut mtud = quinn::MtuDiscoveryConfig::default();
    mtud.upper_bound(MAX_UDP_PAYLOAD)
        .black_hole_cooldown(BLACK_HOLE_COOLDOWN);
    t.mtu_discovery_config(Some(mtud));
    t
}

/// Endpoint settings: announce that this node receives datagrams up to [`MAX_UDP_PAYLOAD`],
/// which bounds how far the peer's path MTU discovery searches.
pub fn endpoint_config() -> quinn::EndpointConfig {
    let mut c = quinn::EndpointConfig::default();
    // Only fails below 1200.
    let _ = c.max_udp_payload_size(MAX_UDP_PAYLOAD);
    c
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_follow_the_election_timeout_within_bounds() {
        let ms = Duration::from_millis;
        let t = Timing::derive(ms(1000), ms(100));
        assert_eq!(
            (t.idle, t.keep_alive, t.connect, t.hello),
            (ms(500), ms(100), ms(500), ms(2000))
        );
        let t = Timing::derive(ms(3000), ms(1000));
        assert_eq!(
            (t.idle, t.keep_alive, t.hello),
            (ms(1500), ms(375), ms(6000))
        );
        // Tiny and huge election timeouts stay within sane bounds.
        assert_eq!(Timing::derive(ms(50), ms(10)).idle, MIN_IDLE);
        assert_eq!(Timing::derive(ms(600_000), ms(1000)).idle, MAX_IDLE);
        assert_eq!(Timing::derive(ms(1000), ms(0)).keep_alive, ms(125));
    }
}
