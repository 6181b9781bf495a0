//! Crash evidence for the core's `leader_gone`: a small UDP socket per watched leader,
//! connected to its address beside the QUIC endpoint, sends a one-byte datagram every
//! `PROBE_GAP`. A live endpoint drops it (it is no QUIC packet). When nothing listens on
//! the port any more (the leader's process is gone, its host still up), the host answers
//! with an ICMP port unreachable, and the connected socket's next send or receive fails
//! with ConnectionRefused. A host that vanished entirely answers nothing: the election
//! timeout still decides then.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use super::Shared;
use crate::dcf_info;
use crate::types::NodeId;

/// How often a watched leader is probed (at most every heartbeat interval).
const PROBE_GAP: Duration = Duration::from_millis(100);

struct Probe {
    addr: SocketAddr,
    sock: UdpSocket,
}

impl Probe {
    fn open(addr: SocketAddr) -> Option<Probe> {
        let any: IpAddr = if addr.is_ipv4() {
            Ipv4Addr::UNSPECIFIED.into()
        } else {
            Ipv6Addr::UNSPECIFIED.into()
        };
        let sock = UdpSocket::bind(SocketAddr::new(any, 0)).ok()?;
        sock.connect(addr).ok()?;
        sock.set_nonblocking(true).ok()?;
        Some(Probe { addr, sock })
    }

    /// Sends one probe; true when the host refused this one or an earlier one.
    fn refused(&self) -> bool {
        let mut buf = [0u8; 16];
        let refused = |e: std::io::Error| e.kind() == ErrorKind::ConnectionRefused;
        // Whatever comes back is read and dropped; the error queued by an ICMP shows here.
        loop {
            match self.sock.recv(&mut buf) {
                Ok(_) => continue,
                Err(e) => {
                    if refused(e) {
                        return true;
                    }
                    break;
                }
            }
        }
        self.sock.send(&[0]).is_err_and(refused)
    }
}

/// The probe thread: runs until the node stops.
pub fn run_probe(shared: &Shared) {
    let gap = PROBE_GAP.min(shared.params.heartbeat_interval);
    let mut probes: HashMap<NodeId, Probe> = HashMap::new();
    // Leaders whose refusal was logged, until they answer again.
    let mut logged: HashSet<NodeId> = HashSet::new();
    while !shared.stopping() {
        std::thread::sleep(gap);
        let watched: Vec<(NodeId, Option<SocketAddr>)> = shared
            .streams
            .values()
            .filter(|s| !s.is_failed())
            .filter_map(|s| {
                let r = s.replica.lock();
                let l = r.watched_leader()?;
                let addr = r
                    .membership()
                    .member(l)
                    .and_then(|m| Some(SocketAddr::new(m.ip.parse().ok()?, m.port)));
                Some((l, addr))
            })
            .collect();
        probes.retain(|id, _| watched.iter().any(|(l, _)| l == id));
        for (leader, addr) in watched {
            let Some(addr) = addr else { continue };
            if probes.get(&leader).is_some_and(|p| p.addr != addr) {
                probes.remove(&leader);
            }
            let probe = match probes.entry(leader) {
                Entry::Occupied(o) => o.into_mut(),
                Entry::Vacant(v) => match Probe::open(addr) {
                    Some(p) => v.insert(p),
                    None => continue,
                },
            };
            if probe.refused() {
                if logged.insert(leader) {
                    dcf_info!("node {leader}'s port at {addr} is closed: its process is gone");
                }
                report(shared, leader);
            } else {
                logged.remove(&leader);
            }
        }
    }
}

fn report(shared: &Shared, leader: NodeId) {
    let now = Instant::now();
    for s in shared.streams.values() {
        if s.is_failed() {
            continue;
        }
        let watched = s.replica.lock().watched_leader() == Some(leader);
        if watched {
            s.input(|r| r.leader_gone(leader, now));
        }
    }
}
