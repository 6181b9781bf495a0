//! What a running node tells about itself: leader, role, health, connections, JSON documents.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::node::Node;
use super::stats;
use super::stream::Stream;
use crate::consensus::{ConfRole, Role, WorkMode};
use crate::error::{DcfError, DcfResult, ErrorCode};
use crate::host::DcfRole;
use crate::query::{self, NodeInfo, Statistics, StreamInfo};
use crate::types::{NodeId, StreamId, Term};

/// A member's configured role in the documents: DCF shows a configured LEADER as FOLLOWER
/// (the confirmed leader is marked LEADER separately).
fn role_name(r: ConfRole) -> &'static str {
    match r {
        ConfRole::Leader => DcfRole::Follower.name(),
        r => DcfRole::from(r).name(),
    }
}

/// The term as the interface reports it. DCF's terms start at 1 (a fresh node writes term 1
/// to its control file) where ours start at 0; elections then count alike, so DCF's number is
/// always ours plus one (hosts and tools compare the two across versions).
fn dcf_term(t: Term) -> Term {
    t.saturating_add(1)
}

/// DCF's `is_in_major`: this node, if it votes, and the voters it currently hears form a
/// majority. A leader counts voters that answered within the election timeout (and always
/// holds one in MINORITY mode); another node counts itself and a leader heard within it.
/// A fresh node reports 0 until then. PASSIVE nodes never count.
fn in_majority(r: &crate::consensus::Replica, now: Instant) -> bool {
    r.role() != Role::Passive && r.is_healthy(now)
}

/// DCF computes its statistics over windows of this length.
const STATS_WINDOW: Duration = Duration::from_secs(3);

/// Counters at the start of the current window and the result of the last complete one.
pub(super) struct StatWindow {
    start: Instant,
    writes: u64,
    bytes: u64,
    counters: stats::Snapshot,
    last: Option<(u64, u64, stats::Snapshot, stats::Snapshot)>,
}

impl Node {
    pub fn leader_info(&self, s: StreamId) -> DcfResult<Option<(String, u32, NodeId)>> {
        let stream = self.stream(s)?;
        let r = stream.replica.lock();
        Ok(r.leader().and_then(|l| {
            r.membership()
                .member(l)
                .map(|m| (m.ip.clone(), u32::from(m.port), l))
        }))
    }

    /// From the peer's hello once it connected; before that, this node's own byte order
    /// (all nodes of a cluster nearly always share one, and an error would read as "yes"
    /// to a caller that casts the answer to a boolean).
    pub fn is_diff_endian(&self, s: StreamId, dest: NodeId) -> DcfResult<bool> {
        let stream = self.stream(s)?;
        if dest == self.shared.id {
            return Ok(false);
        }
        if stream.replica.lock().membership().member(dest).is_none() {
            return Err(DcfError::new(
                ErrorCode::UnknownNode,
                format!("node {dest} is not in stream {s}"),
            ));
        }
        let ours = cfg!(target_endian = "big");
        let theirs = self.shared.peer_big_endian.lock().get(&dest).copied();
        Ok(theirs.is_some_and(|t| t != ours))
    }

    pub fn term_and_role(&self, s: StreamId) -> DcfResult<(Term, DcfRole)> {
        let r = self.stream(s)?.replica.lock();
        Ok((dcf_term(r.term()), DcfRole::from(r.role())))
    }

    pub fn node_is_healthy(&self, s: StreamId) -> DcfResult<(DcfRole, bool)> {
        let r = self.stream(s)?.replica.lock();
        Ok((DcfRole::from(r.role()), r.is_healthy(Instant::now())))
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

    /// `dcf_query_statistics_info`: writes and the runtime's network counters (`stats`)
    /// over the last complete window of at least 3 s (DCF's window), the storage cache as a
    /// snapshot; items this library does not measure stay null.
    pub fn statistics(&self) -> Statistics {
        const MB: f64 = 1024.0 * 1024.0;
        let (writes, bytes) = self.shared.streams.values().fold((0, 0), |(n, b), s| {
            (
                n + s.writes.load(Ordering::Relaxed),
                b + s.write_bytes.load(Ordering::Relaxed),
            )
        });
        let now = Instant::now();
        let mut st = Statistics::default();
        {
            let mut w = self.stats.lock();
            let disk = self.shared.storage.stats();
            let counters = self.shared.stats.snapshot((disk.rounds, disk.round_ns));
            let win = w.get_or_insert(StatWindow {
                start: now,
                writes,
                bytes,
                counters,
                last: None,
            });
            if now.duration_since(win.start) >= STATS_WINDOW {
                win.last = Some((
                    writes - win.writes,
                    bytes - win.bytes,
                    win.counters,
                    counters,
                ));
                (win.start, win.writes, win.bytes, win.counters) = (now, writes, bytes, counters);
            }
            if let Some((n, b, from, to)) = win.last {
                st.dcf_write_count = Some(n);
                st.dcf_write_size_mb = Some(b as f64 / MB);
                stats::fill(&mut st, from, to);
            }
        }
        let cached: usize = self
            .shared
            .streams
            .keys()
            .map(|s| self.shared.storage.cached_bytes(*s))
            .sum();
        st.stg_mem_used_mb = Some(cached as f64 / MB);
        st
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
        let work_mode = match r.work_mode() {
            WorkMode::Normal => 0,
            WorkMode::Minority { .. } => 1,
        };
        StreamInfo {
            stream_id: stream.id,
            local_node_id: self.shared.id,
            role: DcfRole::from(r.role()).name(),
            term: dcf_term(r.term()),
            run_mode: p.run_mode as u32,
            work_mode,
            hb_interval_ms: p.heartbeat_interval.as_millis() as u64,
            elc_timeout_ms: p.election_timeout.as_millis() as u64,
            auto_elc_pri_en: u32::from(p.auto_elc_priority_en),
            elc_switch_thd: p.election_switch_threshold.as_secs() as u32,
            group: me.as_ref().map_or(0, |m| m.group),
            priority: r.priority(),
            leader_group: leader_member.as_ref().map_or(0, |m| m.group),
            is_in_major: in_majority(&r, Instant::now()),
            applied_index: stream.applied.load(Ordering::Acquire),
            commit_index: r.commit_index(),
            first_index: r.first_index(),
            last_index: r.last_index(),
            cluster_min_apply_idx: is_leader.then(|| r.cluster_min_applied()),
            leader: leader_member.map(|m| (m.id, m.ip, m.port)),
            nodes,
        }
    }
}
