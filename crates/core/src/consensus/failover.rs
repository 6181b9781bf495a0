//! Failover faster than an election timeout where the facts allow it.
//!
//! A leader that is about to stop knows it: `hand_over` stops its writes and hands
//! leadership to its best peer through the ordinary transfer (the peer catches up, gets
//! TIMEOUT_NOW and campaigns with a forced vote), so the cluster never waits for a timeout.
//!
//! A follower whose leader's process is gone learns it from the host (a datagram to the
//! leader's port refused, or a new incarnation of the leader saying hello): `leader_gone`
//! starts its pre-vote at once. Such evidence also drops this node's own lease on the leader,
//! so it grants others' pre-votes; a node without evidence of its own still hears the leader
//! and refuses. A signal seen by one node only, or a false one, cannot depose a live leader:
//! a pre-vote changes nothing, and it needs a majority that has the same evidence.

use std::cmp::Reverse;
use std::time::{Duration, Instant};

use rand::Rng;

use super::replica::Replica;
use super::types::{Role, RunMode};
use crate::types::NodeId;

impl Replica {
    /// Leader about to stop: refuses writes from now on and starts a transfer to the best
    /// peer that can take over (heard within the election timeout, log known to match):
    /// in the leader's group first, then by priority (SPEC §5.6 order), then the most caught
    /// up. Returns that peer; `None` (no leader, or no such peer) leaves only the refusal.
    /// The caller decides how long it waits for the peer to lead.
    pub fn hand_over(&mut self, now: Instant) -> Option<NodeId> {
        self.now = now;
        if self.role != Role::Leader {
            return None;
        }
        self.stopping = true;
        self.writable = false;
        // The priority hand-off of a fresh leadership gives way to this one.
        self.handoff.phase = Default::default();
        let target = self.heir_for_stop()?;
        self.start_transfer(target, now);
        Some(target)
    }

    /// Whether `hand_over` was called during this leadership.
    pub fn handing_over(&self) -> bool {
        self.stopping && self.role == Role::Leader
    }

    fn heir_for_stop(&self) -> Option<NodeId> {
        let m = self.conf.current();
        let own_group = m.member(self.cfg.id).map_or(0, |me| me.group);
        let first = self.log.first_index();
        m.members
            .iter()
            .filter(|x| x.id != self.cfg.id && x.role.is_voter() && x.role.is_electable())
            .filter(|x| self.heard_recently(x.id))
            .filter_map(|x| {
                let p = self.peers.get(&x.id)?;
                (!p.probing && p.matched + 1 >= first).then_some((x, p.matched))
            })
            .max_by_key(|(x, matched)| {
                let prio = self.peer_priority.get(&x.id).copied().unwrap_or(x.priority);
                (x.group == own_group, prio, *matched, Reverse(x.id))
            })
            .map(|(x, _)| x.id)
    }

    /// Evidence that `node`'s process is gone (see the module documentation). A follower
    /// of `node` starts a pre-vote within T/20 (at most once per heartbeat interval); any
    /// node stops counting `node`'s leadership as a lease until it hears from it again.
    pub fn leader_gone(&mut self, node: NodeId, now: Instant) {
        self.now = now;
        if node == self.cfg.id || self.role == Role::Leader || self.stopping {
            return;
        }
        self.gone = Some((node, now));
        let follows =
            self.leader == Some(node) || (self.leader.is_none() && self.followed == Some(node));
        if !follows || self.role != Role::Follower {
            return;
        }
        if self.cfg.run_mode != RunMode::Auto || !self.electable() {
            return;
        }
        if self
            .early_pre_vote
            .is_some_and(|at| now.saturating_duration_since(at) < self.cfg.heartbeat_interval)
        {
            return;
        }
        self.early_pre_vote = Some(now);
        // The election timer fires within T/20: survivors that learn of the crash at the
        // same moment would otherwise split their votes and fall back on a full timeout.
        // The timer's usual checks (switch threshold, role) then apply.
        let spread = (self.cfg.election_timeout / 20).as_micros().max(1) as u64;
        let at = now + Duration::from_micros(self.rng.gen_range(0..spread));
        self.election_deadline = self.election_deadline.min(at);
    }

    /// Fresh evidence that the leader this node follows is gone: no lease then.
    pub(crate) fn leader_known_gone(&self, now: Instant) -> bool {
        self.leader.is_some_and(|l| self.known_gone(l, now))
    }

    /// Evidence that `node` is gone lasts until it is heard again, one election timeout at
    /// most. Such a node is no hand-off candidate either.
    pub(crate) fn known_gone(&self, node: NodeId, now: Instant) -> bool {
        self.gone.is_some_and(|(n, at)| {
            n == node && now.saturating_duration_since(at) < self.cfg.election_timeout
        })
    }

    /// Anything from `from` proves it alive.
    pub(crate) fn heard_alive(&mut self, from: NodeId) {
        if self.gone.is_some_and(|(node, _)| node == from) {
            self.gone = None;
        }
    }
}

impl Replica {
    /// The leader whose process this node should watch: the one it follows, or while it
    /// has none (campaigning), the one it followed last. None on a leader.
    pub fn watched_leader(&self) -> Option<NodeId> {
        if self.role == Role::Leader {
            return None;
        }
        self.leader.filter(|&l| l != self.cfg.id).or(self.followed)
    }
}
