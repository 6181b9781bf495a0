//! The operations of a running node behind the C interface. Each takes the stream's replica
//! lock briefly; none waits on the network with a lock held.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::mailbox::Control;
use super::node::Node;
use super::stream::Stream;
use super::wire::{Request, Response};
use super::Shared;
use crate::consensus::{Replica, Role};
use crate::error::{DcfError, DcfResult, ErrorCode};
use crate::host::CommitIndexKind;
use crate::transport::Channel;
use crate::types::{Index, NodeId, StreamId};

/// Entries a leader accepts beyond those applied (with MEM_POOL_MAX_SIZE bytes).
const MAX_PENDING_ENTRIES: u64 = 1 << 20;

/// Fixed wait for a forwarded request (as DCF).
const FORWARD_TIMEOUT: Duration = Duration::from_millis(3000);

/// Appends one entry on the leader: assigns the index under the lock and wakes the driver.
pub fn propose(shared: &Shared, stream: &Stream, key: u64, data: Bytes) -> DcfResult<Index> {
    let len = data.len() as u64;
    if let Some(why) = stream.failure() {
        return Err(DcfError::new(
            ErrorCode::Storage,
            format!(
                "stream {} is stopped and accepts no writes until the node restarts: {why}",
                stream.id
            ),
        ));
    }
    let (entries, bytes) = stream.outstanding();
    let p = &shared.params;
    if bytes.saturating_add(len) > p.mem_pool_max_size || entries >= MAX_PENDING_ENTRIES {
        return Err(DcfError::new(
            ErrorCode::PoolFull,
            format!(
                "{entries} entries ({bytes} bytes) written and not yet applied; the limit is \
                 {MAX_PENDING_ENTRIES} entries or MEM_POOL_MAX_SIZE = {} bytes: retry once \
                 commits catch up",
                p.mem_pool_max_size
            ),
        ));
    }
    let index = stream.input_unless(
        |r| r.propose(key, data, Instant::now()),
        || super::driver::send_here(shared, stream),
    )?;
    stream.writes.fetch_add(1, Ordering::Relaxed);
    stream.write_bytes.fetch_add(len, Ordering::Relaxed);
    Ok(index)
}

/// The commit index walked back to the newest data entry (DCF's LOCAL commit index).
pub fn data_commit(r: &Replica) -> Index {
    let mut i = r.commit_index();
    while i >= r.first_index() && r.is_conf(i) {
        i -= 1;
    }
    i
}

pub(super) fn unknown_stream(s: StreamId) -> DcfError {
    DcfError::new(
        ErrorCode::UnknownStream,
        format!("stream {s} is not configured on this node"),
    )
}

impl Node {
    pub(super) fn stream(&self, s: StreamId) -> DcfResult<&Stream> {
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
        let leader = match stream.leader() {
            Some(l) if l == self.shared.id => return self.write(s, data, key).map(Some),
            Some(l) => l,
            None => return Err(DcfError::new(ErrorCode::NotLeader, "no leader is known")),
        };
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
        let (first, last) = {
            let r = stream.replica.lock();
            (r.first_index(), r.last_index())
        };
        if index < first || index > last {
            return Err(DcfError::invalid(format!(
                "entry {index} is not in the log ({first}..={last})"
            )));
        }
        let data = match self.shared.storage.read(s, index, index, 0) {
            Ok(v) if v.first().map(|e| e.index) == Some(index) => v[0].data.clone(),
            Ok(_) => {
                return Err(DcfError::invalid(format!(
                    "entry {index} is not in the log"
                )))
            }
            Err(e) => return Err(e.into()),
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
    /// Carried out by the stream's driver, in order with rewinds and replication.
    pub fn truncate(&self, s: StreamId, first_kept: Index) -> DcfResult<()> {
        self.stream(s)?
            .ask_driver(&self.shared, |tx| Control::Truncate(first_kept, tx))
    }

    pub fn set_applied_index(&self, s: StreamId, index: Index) -> DcfResult<()> {
        self.stream(s)?
            .ask_driver(&self.shared, |tx| Control::Rewind(index, tx))
    }

    /// `dcf_set_exception` while running: set and reported once.
    pub fn raise_exception(&self, s: StreamId, e: crate::host::DcfException) {
        self.shared.raise_exception(s, e);
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
        let (leader_here, healthy, local, leader) = {
            let r = stream.replica.lock();
            let leader = r.leader();
            (
                r.role() == Role::Leader,
                r.is_healthy(now),
                data_commit(&r),
                leader,
            )
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
        let Some(leader) = leader else {
            return Err(DcfError::new(ErrorCode::NotLeader, "no leader is known"));
        };
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
}
