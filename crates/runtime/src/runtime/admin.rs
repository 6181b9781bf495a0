//! Membership, leadership and replication control of a running node. Calls that wait do so
//! with no lock held, polling the stream's counters.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::node::Node;
use super::ops::unknown_stream;
use super::stream::Stream;
use super::wire::{Request, Response};
use super::Shared;
use crate::config;
use crate::consensus::{ConfChange, ConfRole, Member, WorkMode};
use crate::error::{DcfError, DcfResult, ErrorCode};
use crate::host::{DcfRole, Waited};
use crate::types::{Index, NodeId, StreamId};

/// DCF waits at least this long for a membership change to apply.
const MIN_CHANGE_WAIT: Duration = Duration::from_millis(3000);
/// Fixed wait for a forwarded request (as DCF).
const FORWARD_TIMEOUT: Duration = Duration::from_millis(3000);
/// Pause before asking the leader again after it refused a forwarded change.
const REFUSED_RETRY: Duration = Duration::from_millis(50);

/// `dcf_change_member` executed on the leader; returns the index of the change.
pub fn change_member_as_leader(shared: &Shared, json: &str) -> DcfResult<Index> {
    let c = config::parse_change_member(json)?;
    let stream = shared
        .stream(c.stream_id)
        .ok_or_else(|| unknown_stream(c.stream_id))?;
    let change = ConfChange::Update {
        id: c.node_id,
        role: c.role,
        group: c.group,
        priority: c.priority,
    };
    // Also served on the node's network thread for peers, so it does not wait for the
    // driver (and the disk).
    let i = stream.input(|r| r.propose_conf_change(change, Instant::now()))?;
    Ok(i)
}

impl Node {
    fn wait_applied(&self, stream: &Stream, index: Index, wait_ms: u32) -> Waited {
        let deadline =
            Instant::now() + Duration::from_millis(u64::from(wait_ms)).max(MIN_CHANGE_WAIT);
        while Instant::now() < deadline {
            if stream.applied.load(Ordering::Acquire) >= index
                || stream.commit.load(Ordering::Acquire) >= index
            {
                return Waited::Done;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Waited::TimedOut
    }

    fn conf_change(&self, s: StreamId, change: ConfChange, wait_ms: u32) -> DcfResult<Waited> {
        let stream = self.stream(s)?;
        let i = stream.act(&self.shared, |r| {
            r.propose_conf_change(change, Instant::now())
        })?;
        Ok(self.wait_applied(stream, i, wait_ms))
    }

    pub fn add_member(
        &self,
        s: StreamId,
        node: NodeId,
        ip: &str,
        port: u32,
        role: DcfRole,
        wait_ms: u32,
    ) -> DcfResult<Waited> {
        ip.parse::<std::net::IpAddr>()
            .map_err(|_| DcfError::invalid(format!("ip {ip:?} is not an IPv4 or IPv6 address")))?;
        let port = u16::try_from(port)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| DcfError::invalid(format!("port {port} is outside 1..65535")))?;
        let role = match role {
            DcfRole::Follower => ConfRole::Follower,
            DcfRole::Passive => ConfRole::Passive,
            DcfRole::Logger => ConfRole::Logger,
            other => {
                return Err(DcfError::invalid(format!(
                    "a new member cannot have role {}",
                    other.name()
                )))
            }
        };
        let mut m = Member::new(node, role);
        m.ip = ip.to_string();
        m.port = port;
        self.conf_change(s, ConfChange::AddNode(m), wait_ms)
    }

    pub fn remove_member(&self, s: StreamId, node: NodeId, wait_ms: u32) -> DcfResult<Waited> {
        self.conf_change(s, ConfChange::RemoveNode(node), wait_ms)
    }

    pub fn change_member_role(
        &self,
        s: StreamId,
        node: NodeId,
        role: DcfRole,
        wait_ms: u32,
    ) -> DcfResult<Waited> {
        let name = match role {
            DcfRole::Follower | DcfRole::Passive => role.name(),
            other => {
                return Err(DcfError::invalid(format!(
                    "role can change only to FOLLOWER or PASSIVE, not {}",
                    other.name()
                )))
            }
        };
        let json = format!(r#"[{{"stream_id":{s},"node_id":{node},"role":"{name}"}}]"#);
        self.change_member(&json, wait_ms)
    }

    /// On the leader: replicate the change and wait. Elsewhere (about this node only):
    /// forward to the leader and wait until the change shows here.
    pub fn change_member(&self, json: &str, wait_ms: u32) -> DcfResult<Waited> {
        let c = config::parse_change_member(json)?;
        let stream = self.stream(c.stream_id)?;
        if stream.current_role() == DcfRole::Leader {
            let i = change_member_as_leader(&self.shared, json)?;
            return Ok(self.wait_applied(stream, i, wait_ms));
        }
        if c.node_id != self.shared.id {
            return Err(DcfError::new(
                ErrorCode::NotLeader,
                "a non-leader may only change its own membership",
            ));
        }
        let Some(leader) = stream.leader() else {
            return Err(DcfError::new(ErrorCode::NotLeader, "no leader is known"));
        };
        let deadline = Instant::now() + Duration::from_millis(u64::from(wait_ms));
        let index = loop {
            let req = Request::ChangeMember {
                json: json.to_string(),
            };
            match self.shared.rpc.call(
                &self.shared,
                c.stream_id,
                leader,
                req,
                Bytes::new(),
                FORWARD_TIMEOUT,
            ) {
                Some(Response::Changed(Some(index))) => break index,
                // Refused: most often an earlier change (say, one whose wait timed out) is
                // still uncommitted, or the leader is not writable yet. Ask again until the
                // deadline, so that a change can always be undone.
                Some(_) if Instant::now() + REFUSED_RETRY < deadline => {
                    std::thread::sleep(REFUSED_RETRY)
                }
                Some(_) => {
                    return Err(DcfError::new(
                        ErrorCode::InvalidArgument,
                        format!("the leader (node {leader}) refused the change"),
                    ))
                }
                None => return Ok(Waited::TimedOut),
            }
        };
        // Done once the change is committed here, so the next change will not find it pending.
        while Instant::now() < deadline {
            if stream.commit.load(Ordering::Acquire) >= index {
                return Ok(Waited::Done);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(Waited::TimedOut)
    }

    /// Starts a transfer to `node`; with `wait_ms` > 0 waits until it leads (-1 on timeout).
    pub fn promote_leader(&self, s: StreamId, node: NodeId, wait_ms: u32) -> DcfResult<()> {
        let stream = self.stream(s)?;
        if let Some(why) = stream.failure() {
            // Its replica sends nothing: a transfer through it would only hold writes back.
            return Err(DcfError::new(
                ErrorCode::Storage,
                format!("stream {s} is stopped until the node restarts: {why}"),
            ));
        }
        if stream.leader() == Some(node) {
            return Ok(());
        }
        stream.act(&self.shared, |r| r.transfer_leader(node, Instant::now()))?;
        if wait_ms == 0 {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_millis(u64::from(wait_ms));
        while Instant::now() < deadline {
            if stream.leader() == Some(node) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Err(DcfError::new(
            ErrorCode::Timeout,
            format!("node {node} did not become leader within {wait_ms} ms"),
        ))
    }

    pub fn timeout_notify(&self, s: StreamId) -> DcfResult<()> {
        let stream = self.stream(s)?;
        stream.act(&self.shared, |r| r.timeout_now(Instant::now()));
        Ok(())
    }

    pub fn set_work_mode(&self, s: StreamId, minority: bool, vote_num: u32) -> DcfResult<()> {
        let stream = self.stream(s)?;
        let mode = if minority {
            WorkMode::Minority { vote_num }
        } else {
            WorkMode::Normal
        };
        stream.act(&self.shared, |r| r.set_work_mode(mode, Instant::now()))?;
        Ok(())
    }

    pub fn pause_rep(&self, s: StreamId, node: NodeId, time_us: u32) -> DcfResult<()> {
        let stream = self.stream(s)?;
        let pause = match time_us {
            0 => Some(Duration::ZERO),
            u32::MAX => None,
            us => Some(Duration::from_micros(u64::from(us))),
        };
        stream.act(&self.shared, |r| r.pause_peer(node, pause, Instant::now()))?;
        Ok(())
    }

    pub fn demote_follower(&self, s: StreamId) -> DcfResult<()> {
        let stream = self.stream(s)?;
        stream.act(&self.shared, |r| r.demote(Instant::now()));
        Ok(())
    }
}
