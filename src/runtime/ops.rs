//! The operations of a running node behind the C interface. Each takes the stream's replica
//! lock briefly; none waits on the network with a lock held.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::node::Node;
use super::stream::{dcf_role, Stream};
use super::wire::{Request, Response};
use super::Shared;
use crate::api::{CommitIndexKind, DcfRole, Waited};
use crate::config::{self, ConfRoleName};
use crate::consensus::{
    AdminError, ConfChange, ConfRole, Member, ProposeError, Replica, Role, WorkMode,
};
use crate::error::{DcfError, DcfResult, ErrorCode};
use crate::query::{self, NodeInfo, StreamInfo};
use crate::transport::Channel;
use crate::types::{EntryKind, Index, NodeId, StreamId, Term};

/// DCF waits at least this long for a membership change to apply.
const MIN_CHANGE_WAIT: Duration = Duration::from_millis(3000);
/// Fixed wait for a forwarded request (as DCF).
const FORWARD_TIMEOUT: Duration = Duration::from_millis(3000);

fn propose_err(e: ProposeError) -> DcfError {
    let code = match e {
        ProposeError::NotLeader { .. } | ProposeError::NotWritable => ErrorCode::NotLeader,
        ProposeError::Transferring | ProposeError::ConfChangePending => ErrorCode::Busy,
        ProposeError::InvalidConfChange(_) => ErrorCode::InvalidArgument,
    };
    DcfError::new(code, e.to_string())
}

fn admin_err(e: AdminError) -> DcfError {
    let code = match e {
        AdminError::NotLeader | AdminError::NoLeader => ErrorCode::NotLeader,
        AdminError::UnknownNode(_) => ErrorCode::UnknownNode,
        _ => ErrorCode::InvalidArgument,
    };
    DcfError::new(code, e.to_string())
}

/// Appends one entry on the leader: assigns the index under the lock and wakes the driver.
pub fn propose(shared: &Shared, stream: &Stream, key: u64, data: Bytes) -> DcfResult<Index> {
    let len = data.len() as u64;
    let index = stream
        .replica
        .lock()
        .propose(key, data, Instant::now())
        .map_err(propose_err)?;
    stream.writes.fetch_add(1, Ordering::Relaxed);
    stream.write_bytes.fetch_add(len, Ordering::Relaxed);
    stream.flush_after_propose(shared);
    Ok(index)
}

/// The commit index walked back to the newest data entry (DCF's LOCAL commit index).
pub fn data_commit(r: &Replica) -> Index {
    let mut i = r.commit_index();
    while i >= r.first_index() && r.entry(i).is_some_and(|e| e.kind == EntryKind::Conf) {
        i -= 1;
    }
    i
}

fn parse_role(r: ConfRoleName) -> ConfRole {
    match r {
        ConfRoleName::Leader => ConfRole::Leader,
        ConfRoleName::Follower => ConfRole::Follower,
        ConfRoleName::Logger => ConfRole::Logger,
        ConfRoleName::Passive => ConfRole::Passive,
    }
}

/// `dcf_change_member` executed on the leader; returns the index of the change.
pub fn change_member_as_leader(shared: &Shared, json: &str) -> DcfResult<Index> {
    let c = config::parse_change_member(json)
        .map_err(|e| DcfError::new(ErrorCode::ParseConfig, e.to_string()))?;
    let stream = shared
        .stream(c.stream_id)
        .ok_or_else(|| unknown_stream(c.stream_id))?;
    let change = ConfChange::Update {
        id: c.node_id,
        role: c.role.map(parse_role),
        group: c.group,
        priority: c.priority,
    };
    let i = stream
        .replica
        .lock()
        .propose_conf_change(change, Instant::now())
        .map_err(propose_err)?;
    stream.driver_wake.notify();
    Ok(i)
}

fn unknown_stream(s: StreamId) -> DcfError {
    DcfError::new(
        ErrorCode::UnknownStream,
        format!("stream {s} is not configured on this node"),
    )
}

fn role_name(r: ConfRole) -> &'static str {
    match r {
        ConfRole::Leader | ConfRole::Follower => "FOLLOWER",
        ConfRole::Logger => "LOGGER",
        ConfRole::Passive => "PASSIVE",
    }
}

impl Node {
    fn stream(&self, s: StreamId) -> DcfResult<&Stream> {
        self.shared
            .stream(s)
            .map(|a| a.as_ref())
            .ok_or_else(|| unknown_stream(s))
    }

    pub fn id(&self) -> NodeId {
        self.shared.id
    }

    pub fn write(&self, s: StreamId, data: &[u8], key: u64) -> DcfResult<Index> {
        let stream = self.stream(s)?;
        let max = self.shared.params.max_write_size();
        if data.len() as u64 > max {
            return Err(DcfError::invalid(format!(
                "entry of {} bytes exceeds the limit of {max}",
                data.len()
            )));
        }
        propose(&self.shared, stream, key, Bytes::copy_from_slice(data))
    }

    /// Leader: write locally. Otherwise forward to the leader; `None` when it did not answer.
    pub fn universal_write(&self, s: StreamId, data: &[u8], key: u64) -> DcfResult<Option<Index>> {
        let stream = self.stream(s)?;
        if stream.current_role() == DcfRole::Leader {
            return self.write(s, data, key).map(Some);
        }
        let leader = stream.leader.load(Ordering::Acquire);
        if leader == 0 {
            return Err(DcfError::new(ErrorCode::NotLeader, "no leader is known"));
        }
        let payload = Bytes::copy_from_slice(data);
        match self.shared.rpc.call(
            &self.shared,
            s,
            leader,
            Request::Write { key },
            payload,
            FORWARD_TIMEOUT,
        ) {
            Some(Response::Written(Some(i))) => Ok(Some(i)),
            Some(_) => Err(DcfError::new(
                ErrorCode::NotLeader,
                format!("node {leader} refused the write"),
            )),
            None => Ok(None),
        }
    }

    pub fn read(&self, s: StreamId, index: Index, out: &mut [u8]) -> DcfResult<usize> {
        let stream = self.stream(s)?;
        let data = match stream.replica.lock().entry(index) {
            Some(e) => e.data.clone(),
            None => {
                return Err(DcfError::invalid(format!(
                    "entry {index} is not in the log"
                )))
            }
        };
        if out.len() < data.len() {
            return Err(DcfError::new(
                ErrorCode::BufferTooSmall,
                format!(
                    "entry {index} has {} bytes, the buffer {}",
                    data.len(),
                    out.len()
                ),
            ));
        }
        out[..data.len()].copy_from_slice(&data);
        Ok(data.len())
    }

    /// Drops entries before `first_kept`. Entries not yet applied here are kept (refused).
    pub fn truncate(&self, s: StreamId, first_kept: Index) -> DcfResult<()> {
        let stream = self.stream(s)?;
        let applied = stream.applied.load(Ordering::Acquire);
        if first_kept > applied + 1 {
            return Err(DcfError::invalid(format!(
                "cannot truncate before {first_kept}: only entries up to {applied} are applied"
            )));
        }
        self.shared
            .storage
            .truncate_prefix(s, first_kept)
            .map_err(|e| DcfError::new(ErrorCode::Storage, e.to_string()))?;
        stream.replica.lock().compact(first_kept);
        Ok(())
    }

    pub fn set_applied_index(&self, s: StreamId, index: Index) -> DcfResult<()> {
        let stream = self.stream(s)?;
        let first = stream.replica.lock().first_index();
        if index + 1 < first {
            return Err(DcfError::invalid(format!(
                "cannot re-deliver from {}: the log starts at {first}",
                index + 1
            )));
        }
        stream.rewind_to(index);
        Ok(())
    }

    pub fn cluster_min_applied(&self, s: StreamId) -> DcfResult<Index> {
        Ok(self.stream(s)?.replica.lock().cluster_min_applied())
    }

    pub fn leader_last_index(&self, s: StreamId) -> DcfResult<Index> {
        Ok(self.stream(s)?.replica.lock().leader_last_index())
    }

    /// Local last index; an empty log is an error (as DCF).
    pub fn last_index(&self, s: StreamId) -> DcfResult<Index> {
        let r = self.stream(s)?.replica.lock();
        if r.last_index() < r.first_index() {
            return Err(DcfError::invalid("the log is empty"));
        }
        Ok(r.last_index())
    }

    pub fn node_last_disk_index(&self, s: StreamId, node: NodeId) -> DcfResult<Index> {
        let r = self.stream(s)?.replica.lock();
        if node == self.shared.id {
            return Ok(r.persisted_index());
        }
        if r.role() != Role::Leader {
            return Err(DcfError::new(
                ErrorCode::NotLeader,
                "only the leader knows other nodes' disk index",
            ));
        }
        r.progress(node).map(|p| p.matched).ok_or_else(|| {
            DcfError::new(
                ErrorCode::UnknownNode,
                format!("node {node} is not in stream {s}"),
            )
        })
    }

    pub fn data_commit_index(
        &self,
        s: StreamId,
        kind: CommitIndexKind,
    ) -> DcfResult<Option<Index>> {
        let stream = self.stream(s)?;
        let now = Instant::now();
        let (leader_here, healthy, local) = {
            let r = stream.replica.lock();
            (r.role() == Role::Leader, r.is_healthy(now), data_commit(&r))
        };
        match kind {
            CommitIndexKind::Local => return Ok(Some(local)),
            CommitIndexKind::Consensus if !healthy => {
                return Err(DcfError::invalid("this node is not healthy"));
            }
            _ => {}
        }
        if leader_here {
            return Ok(Some(local));
        }
        let leader = stream.leader.load(Ordering::Acquire);
        if leader == 0 {
            return Err(DcfError::new(ErrorCode::NotLeader, "no leader is known"));
        }
        let req = Request::CommitIndex {
            consensus: kind == CommitIndexKind::Consensus,
        };
        match self
            .shared
            .rpc
            .call(&self.shared, s, leader, req, Bytes::new(), FORWARD_TIMEOUT)
        {
            Some(Response::CommitIndex(i)) => Ok(i),
            Some(_) => Err(DcfError::new(
                ErrorCode::Internal,
                "unexpected answer from the leader",
            )),
            None => Ok(None),
        }
    }

    pub fn send_msg(&self, s: StreamId, dest: NodeId, data: &[u8]) -> DcfResult<()> {
        self.stream(s)?;
        let data = Bytes::copy_from_slice(data);
        if dest == self.shared.id {
            self.shared.post_message(s, dest, data);
            return Ok(());
        }
        let t = self
            .shared
            .transport
            .get()
            .ok_or_else(DcfError::not_started)?;
        t.send(dest, Channel::Message, super::wire::user_msg_frame(s, data))
            .map_err(|e| {
                DcfError::new(ErrorCode::Transport, format!("sending to node {dest}: {e}"))
            })
    }

    /// To every other member of the stream; per-peer failures are ignored (as DCF).
    pub fn broadcast_msg(&self, s: StreamId, data: &[u8]) -> DcfResult<()> {
        let stream = self.stream(s)?;
        let data = Bytes::copy_from_slice(data);
        let peers: Vec<NodeId> = stream
            .replica
            .lock()
            .membership()
            .members
            .iter()
            .map(|m| m.id)
            .collect();
        for p in peers.into_iter().filter(|p| *p != self.shared.id) {
            self.shared.send(
                p,
                Channel::Message,
                super::wire::user_msg_frame(s, data.clone()),
            );
        }
        Ok(())
    }

    /// Throttled to once a second per stream; a no-op with AUTO_ELC_PRIORITY_EN off.
    pub fn set_election_priority(&self, s: StreamId, priority: u64) -> DcfResult<()> {
        let stream = self.stream(s)?;
        let now = Instant::now();
        {
            let mut stamp = stream.priority_stamp.lock();
            if stamp.is_some_and(|t| now.duration_since(t) < Duration::from_secs(1)) {
                return Ok(());
            }
            *stamp = Some(now);
        }
        if self.shared.params.auto_elc_priority_en {
            stream.replica.lock().set_priority(priority);
        }
        Ok(())
    }

    pub fn leader_info(&self, s: StreamId) -> DcfResult<Option<(String, u32, NodeId)>> {
        let stream = self.stream(s)?;
        let r = stream.replica.lock();
        Ok(r.leader().and_then(|l| {
            r.membership()
                .member(l)
                .map(|m| (m.ip.clone(), u32::from(m.port), l))
        }))
    }

    pub fn is_diff_endian(&self, s: StreamId, dest: NodeId) -> DcfResult<bool> {
        self.stream(s)?;
        if dest == self.shared.id {
            return Ok(false);
        }
        let ours = cfg!(target_endian = "big");
        self.shared
            .peer_big_endian
            .lock()
            .get(&dest)
            .map(|theirs| *theirs != ours)
            .ok_or_else(|| {
                DcfError::new(
                    ErrorCode::Transport,
                    format!("node {dest} has not connected yet"),
                )
            })
    }

    pub fn term_and_role(&self, s: StreamId) -> DcfResult<(Term, DcfRole)> {
        let r = self.stream(s)?.replica.lock();
        Ok((r.term(), dcf_role(r.role())))
    }

    pub fn node_is_healthy(&self, s: StreamId) -> DcfResult<(DcfRole, bool)> {
        let r = self.stream(s)?.replica.lock();
        Ok((dcf_role(r.role()), r.is_healthy(Instant::now())))
    }

    /// Lock-free: a leader that applied everything and accepts writes.
    pub fn all_logs_applied(&self, s: StreamId) -> DcfResult<bool> {
        Ok(self.stream(s)?.all_applied())
    }

    pub fn conn_status(&self, s: StreamId, dest: NodeId) -> DcfResult<()> {
        self.stream(s)?;
        if dest == self.shared.id {
            return Ok(());
        }
        let up = self
            .shared
            .transport
            .get()
            .is_some_and(|t| t.is_connected(dest));
        if up {
            Ok(())
        } else {
            Err(DcfError::new(
                ErrorCode::Transport,
                format!("node {dest} is not connected"),
            ))
        }
    }

    pub fn stream_info(&self, s: StreamId) -> DcfResult<String> {
        Ok(query::stream_info_json(
            &self.stream_info_data(self.stream(s)?),
        ))
    }

    pub fn cluster_info(&self) -> String {
        let infos: Vec<StreamInfo> = self
            .shared
            .streams
            .values()
            .map(|s| self.stream_info_data(s))
            .collect();
        query::cluster_info_json(self.shared.id, &infos)
    }

    pub fn write_stats(&self) -> (u64, u64) {
        self.shared.streams.values().fold((0, 0), |(n, b), s| {
            (
                n + s.writes.swap(0, Ordering::Relaxed),
                b + s.write_bytes.swap(0, Ordering::Relaxed),
            )
        })
    }

    fn stream_info_data(&self, stream: &Stream) -> StreamInfo {
        let p = &self.shared.params;
        let r = stream.replica.lock();
        let me = r.membership().member(self.shared.id).cloned();
        let leader_id = r.leader();
        let is_leader = r.role() == Role::Leader;
        let leader_member = leader_id.and_then(|l| r.membership().member(l).cloned());
        let nodes = r
            .membership()
            .members
            .iter()
            .map(|m| NodeInfo {
                node_id: m.id,
                ip: m.ip.clone(),
                port: m.port,
                role: if Some(m.id) == leader_id {
                    "LEADER"
                } else {
                    role_name(m.role)
                },
                progress: if is_leader {
                    if m.id == self.shared.id {
                        Some((
                            r.last_index() + 1,
                            r.persisted_index(),
                            stream.applied.load(Ordering::Acquire),
                        ))
                    } else {
                        r.progress(m.id).map(|pr| (pr.next, pr.matched, pr.applied))
                    }
                } else {
                    None
                },
            })
            .collect();
        let (work_mode, in_major) = match r.work_mode() {
            WorkMode::Normal => (0, true),
            WorkMode::Minority { .. } => (1, true),
        };
        StreamInfo {
            stream_id: stream.id,
            local_node_id: self.shared.id,
            role: dcf_role(r.role()).name(),
            term: r.term(),
            run_mode: p.run_mode as u32,
            work_mode,
            hb_interval_ms: p.heartbeat_interval.as_millis() as u64,
            elc_timeout_ms: p.election_timeout.as_millis() as u64,
            auto_elc_pri_en: u32::from(p.auto_elc_priority_en),
            elc_switch_thd: p.election_switch_threshold.as_secs() as u32,
            group: me.as_ref().map_or(0, |m| m.group),
            priority: me.as_ref().map_or(0, |m| m.priority),
            leader_group: leader_member.as_ref().map_or(0, |m| m.group),
            is_in_major: in_major,
            applied_index: stream.applied.load(Ordering::Acquire),
            commit_index: r.commit_index(),
            first_index: r.first_index(),
            last_index: r.last_index(),
            cluster_min_apply_idx: is_leader.then(|| r.cluster_min_applied()),
            leader: leader_member.map(|m| (m.id, m.ip, m.port)),
            nodes,
        }
    }

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
        let i = stream
            .replica
            .lock()
            .propose_conf_change(change, Instant::now())
            .map_err(propose_err)?;
        stream.driver_wake.notify();
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
            DcfRole::Follower => "FOLLOWER",
            DcfRole::Passive => "PASSIVE",
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
        let c = config::parse_change_member(json)
            .map_err(|e| DcfError::new(ErrorCode::ParseConfig, e.to_string()))?;
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
        let leader = stream.leader.load(Ordering::Acquire);
        if leader == 0 {
            return Err(DcfError::new(ErrorCode::NotLeader, "no leader is known"));
        }
        let deadline = Instant::now() + Duration::from_millis(u64::from(wait_ms));
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
            Some(Response::Changed(true)) => {}
            Some(_) => {
                return Err(DcfError::new(
                    ErrorCode::InvalidArgument,
                    "the leader refused the change",
                ))
            }
            None => return Ok(Waited::TimedOut),
        }
        while Instant::now() < deadline {
            let done = stream
                .replica
                .lock()
                .membership()
                .member(c.node_id)
                .is_some_and(|m| {
                    c.role.is_none_or(|r| m.role == parse_role(r))
                        && c.group.is_none_or(|g| m.group == g)
                        && c.priority.is_none_or(|p| m.priority == p)
                });
            if done {
                return Ok(Waited::Done);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(Waited::TimedOut)
    }

    /// Starts a transfer to `node`; with `wait_ms` > 0 waits until it leads (-1 on timeout).
    pub fn promote_leader(&self, s: StreamId, node: NodeId, wait_ms: u32) -> DcfResult<()> {
        let stream = self.stream(s)?;
        if stream.leader.load(Ordering::Acquire) == node && node != 0 {
            return Ok(());
        }
        stream
            .replica
            .lock()
            .transfer_leader(node, Instant::now())
            .map_err(admin_err)?;
        stream.driver_wake.notify();
        if wait_ms == 0 {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_millis(u64::from(wait_ms));
        while Instant::now() < deadline {
            if stream.leader.load(Ordering::Acquire) == node {
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
        stream.replica.lock().timeout_now(Instant::now());
        stream.driver_wake.notify();
        Ok(())
    }

    pub fn set_work_mode(&self, s: StreamId, minority: bool, vote_num: u32) -> DcfResult<()> {
        let stream = self.stream(s)?;
        let mode = if minority {
            WorkMode::Minority { vote_num }
        } else {
            WorkMode::Normal
        };
        stream
            .replica
            .lock()
            .set_work_mode(mode, Instant::now())
            .map_err(admin_err)?;
        stream.driver_wake.notify();
        Ok(())
    }

    pub fn pause_rep(&self, s: StreamId, node: NodeId, time_us: u32) -> DcfResult<()> {
        let stream = self.stream(s)?;
        let pause = match time_us {
            0 => Some(Duration::ZERO),
            u32::MAX => None,
            us => Some(Duration::from_micros(u64::from(us))),
        };
        stream
            .replica
            .lock()
            .pause_peer(node, pause, Instant::now())
            .map_err(admin_err)?;
        stream.driver_wake.notify();
        Ok(())
    }

    pub fn demote_follower(&self, s: StreamId) -> DcfResult<()> {
        let stream = self.stream(s)?;
        stream.replica.lock().demote(Instant::now());
        stream.driver_wake.notify();
        Ok(())
    }
}
