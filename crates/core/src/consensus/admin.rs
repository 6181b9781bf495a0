//! Administrative operations: leadership transfer, demotion, external timeout, work mode,
//! priority, pausing a peer, membership changes, compaction.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::message::{Message, TransferRequest};
use super::progress::Pace;
use super::replica::Replica;
use super::types::{
    AdminError, ConfChange, ConfRole, Membership, ProposeError, Role, RunMode, WorkMode,
};
use crate::types::{Entry, EntryKind, Index, NodeId};

/// DCF's membership-change op bits, in the CONF entry's key `(node << 32) | op`.
const OP_ADD: u64 = 0x1;
const OP_REMOVE: u64 = 0x2;
const OP_ROLE: u64 = 0x4;
const OP_GROUP: u64 = 0x8;
const OP_PRIORITY: u64 = 0x10;
const ALL_NODES: u64 = 0xFFFF_FFFF;

impl Replica {
    /// `dcf_promote_leader`: the leader hands leadership to `target` once it holds the
    /// whole log (writes are refused meanwhile, for at most one election timeout; then the
    /// transfer is abandoned and this leader takes writes again). Only a peer that can take
    /// over refuses nothing here: heard from within the election timeout, and with a log
    /// known to match this leader's from before its first index (see `transfer_ready`).
    /// A non-leader may only name itself; it asks the leader.
    pub fn transfer_leader(&mut self, target: NodeId, now: Instant) -> Result<(), AdminError> {
        self.now = now;
        let m = self.conf.current();
        let Some(member) = m.member(target) else {
            return Err(AdminError::UnknownNode(target));
        };
        if !member.role.is_electable() {
            return Err(AdminError::InvalidTarget {
                node: target,
                reason: "LOGGER and PASSIVE nodes never lead",
            });
        }
        if self.role != Role::Leader {
            if target != self.cfg.id {
                return Err(AdminError::NotLeader);
            }
            let Some(leader) = self.leader else {
                return Err(AdminError::NoLeader);
            };
            let msg = TransferRequest { term: self.term };
            self.send(leader, Message::TransferRequest(msg));
            return Ok(());
        }
        if target != self.cfg.id {
            self.transfer_ready(target)?;
            self.start_transfer(target, now);
        }
        Ok(())
    }

    /// A transfer target must be able to campaign and catch up at once: a peer this leader
    /// has not heard within the election timeout (stopped, cut off) would leave the
    /// cluster without a leader, and one whose log does not match from before this
    /// leader's first index cannot catch up by replication.
    fn transfer_ready(&self, target: NodeId) -> Result<(), AdminError> {
        if !self.heard_recently(target) {
            return Err(AdminError::InvalidTarget {
                node: target,
                reason: "it was not heard from within the election timeout",
            });
        }
        let first = self.log.first_index();
        let caught_up = self
            .peers
            .get(&target)
            .is_some_and(|p| !p.probing && p.matched + 1 >= first);
        if !caught_up {
            return Err(AdminError::InvalidTarget {
                node: target,
                reason: "its log is not known to match the leader's (it is behind or needs \
                         truncated entries)",
            });
        }
        Ok(())
    }

    /// Whether `peer` sent anything within the election timeout.
    pub(crate) fn heard_recently(&self, peer: NodeId) -> bool {
        self.handoff
            .heard
            .get(&peer)
            .is_some_and(|&at| self.now.saturating_duration_since(at) < self.cfg.election_timeout)
    }

    /// `dcf_demote_follower`: a leader becomes a follower in the same term; the cluster then
    /// elects again (possibly this node).
    pub fn demote(&mut self, now: Instant) {
        self.now = now;
        if self.role == Role::Leader {
            self.become_follower(self.term, None, now);
        }
    }

    /// `dcf_timeout_notify`: act as if the election timer expired now.
    pub fn timeout_now(&mut self, now: Instant) {
        self.now = now;
        if self.role != Role::Leader && self.cfg.run_mode == RunMode::Auto && self.electable() {
            self.reset_election_timer(now);
            self.campaign_pre(now);
        }
    }

    /// `dcf_set_work_mode`: MINORITY needs 1 <= vote_num <= number of voters.
    pub fn set_work_mode(&mut self, mode: WorkMode, now: Instant) -> Result<(), AdminError> {
        self.now = now;
        if let WorkMode::Minority { vote_num } = mode {
            let voters = self.conf.current().voters().count() as u32;
            if vote_num == 0 || vote_num > voters {
                return Err(AdminError::InvalidVoteNum { vote_num, voters });
            }
            if !self.work_mode.is_minority() {
                self.minority_fresh = true;
            }
        } else {
            self.minority_fresh = false;
        }
        self.work_mode = mode;
        Ok(())
    }

    /// `dcf_set_election_priority` (counts while AUTO_ELC_PRIORITY_EN is on).
    pub fn set_priority(&mut self, priority: u64) {
        self.priority_override = Some(priority);
    }

    /// The election priority this node announces: the value set by `set_priority` while
    /// AUTO_ELC_PRIORITY_EN is on, else the membership's.
    pub fn priority(&self) -> u64 {
        self.my_priority()
    }

    /// `dcf_pause_rep`: at least `pause` between two AppendEntries batches to `peer`
    /// (`None` = none at all until changed, zero = no pacing). Leader only.
    pub fn pause_peer(
        &mut self,
        peer: NodeId,
        pause: Option<Duration>,
        now: Instant,
    ) -> Result<(), AdminError> {
        self.now = now;
        if self.role != Role::Leader {
            return Err(AdminError::NotLeader);
        }
        let Some(p) = self.peers.get_mut(&peer) else {
            return Err(AdminError::UnknownNode(peer));
        };
        p.pace = match pause {
            None => Pace::Indefinite,
            Some(d) if d.is_zero() => Pace::Off,
            Some(d) => Pace::Interval(d),
        };
        self.send_appends(peer, now);
        Ok(())
    }

    /// Appends a CONF entry with the changed membership. Single-server changes, one at a
    /// time: the new membership takes effect when appended (and rolls back if the entry is
    /// truncated); a change must move the total voting weight by at most 1, which keeps
    /// every old quorum intersecting every new one.
    pub fn propose_conf_change(
        &mut self,
        change: ConfChange,
        now: Instant,
    ) -> Result<Index, ProposeError> {
        self.now = now;
        self.check_writable()?;
        if self.conf.pending(self.commit) {
            return Err(ProposeError::ConfChangePending);
        }
        let cur = self.conf.current().clone();
        let (next, key) = self.apply_change(&cur, change)?;
        if self.work_mode == WorkMode::Normal {
            let delta = next.voter_weight().abs_diff(cur.voter_weight());
            if delta > 1 {
                return Err(ProposeError::InvalidConfChange(format!(
                    "changes the voting weight by {delta}; a single step may change it by at most 1"
                )));
            }
        }
        next.validate()
            .map_err(|e| ProposeError::InvalidConfChange(e.to_string()))?;
        let e = Entry {
            index: self.log.last_index() + 1,
            term: self.term,
            key,
            kind: EntryKind::Conf,
            data: Bytes::from(next.to_json()),
        };
        let index = e.index;
        self.append_local(e);
        self.broadcast_appends(now);
        Ok(index)
    }

    fn apply_change(
        &self,
        cur: &Membership,
        change: ConfChange,
    ) -> Result<(Membership, u64), ProposeError> {
        let invalid = |s: String| Err(ProposeError::InvalidConfChange(s));
        let mut next = cur.clone();
        match change {
            ConfChange::AddNode(m) => {
                if cur.contains(m.id) {
                    return invalid(format!("node {} is already a member", m.id));
                }
                next.members.push(m);
                next.members.sort_by_key(|m| m.id);
                Ok((next, (ALL_NODES << 32) | OP_ADD))
            }
            ConfChange::RemoveNode(id) => {
                if !cur.contains(id) {
                    return invalid(format!("node {id} is not a member"));
                }
                next.members.retain(|m| m.id != id);
                if next.members.is_empty() {
                    return invalid("cannot remove the last member".into());
                }
                Ok((next, (ALL_NODES << 32) | OP_REMOVE))
            }
            ConfChange::Update {
                id,
                role,
                group,
                priority,
            } => {
                let Some(m) = next.members.iter_mut().find(|m| m.id == id) else {
                    return invalid(format!("node {id} is not a member"));
                };
                let mut op = 0;
                if let Some(r) = role {
                    if !matches!(r, ConfRole::Follower | ConfRole::Passive) {
                        return invalid(format!(
                            "new role of node {id} must be FOLLOWER or PASSIVE"
                        ));
                    }
                    if m.role == ConfRole::Logger && r != ConfRole::Logger {
                        return invalid(format!("node {id} is a LOGGER; its role cannot change"));
                    }
                    if id == self.cfg.id
                        && r != m.role
                        && !(r == ConfRole::Follower && m.role == ConfRole::Leader)
                    {
                        return invalid(format!("node {id} is the leader; its role cannot change"));
                    }
                    m.role = r;
                    op |= OP_ROLE;
                }
                if let Some(g) = group {
                    m.group = g;
                    op |= OP_GROUP;
                }
                if let Some(p) = priority {
                    m.priority = p;
                    op |= OP_PRIORITY;
                }
                Ok((next, (u64::from(id) << 32) | op))
            }
        }
    }

    /// `dcf_truncate`: drops the in-memory prefix before `first_kept`, never past what is
    /// committed and durable here.
    pub fn compact(&mut self, first_kept: Index) {
        let first_kept = first_kept.min(self.visible_commit + 1);
        self.log.compact(first_kept);
        self.conf.on_compact(self.log.base().0);
    }
}
