//! Elections: timeouts, pre-vote, votes, taking leadership, leader lease and check-quorum,
//! PROMOTE (TimeoutNow). The priority hand-off of a new leader is in `handoff.rs`.

use std::time::Instant;

use bytes::Bytes;

use super::message::{Message, TimeoutNow, VoteRequest, VoteResponse};
use super::progress::Progress;
use super::quorum;
use super::replica::{Replica, Transfer};
use super::types::{ConfRole, Event, Role, RunMode};
use crate::types::{Entry, EntryKind, NodeId};

impl Replica {
    pub(crate) fn on_election_timeout(&mut self, now: Instant) {
        self.reset_election_timer(now);
        if self.cfg.run_mode != RunMode::Auto || !self.electable() || self.stopping {
            return;
        }
        if self.role == Role::Follower {
            if let (Some(_), Some(since)) = (self.leader, self.leader_since) {
                if now.saturating_duration_since(since) < self.cfg.switch_threshold {
                    return;
                }
            }
        }
        self.campaign_pre(now);
    }

    /// Configured to lead, not LOGGER or PASSIVE, still a member.
    pub(crate) fn electable(&self) -> bool {
        self.own_conf_role().is_some_and(ConfRole::is_electable)
            && !matches!(self.role, Role::Logger | Role::Passive)
    }

    fn voters_except_me(&self) -> Vec<NodeId> {
        let me = self.cfg.id;
        self.conf
            .current()
            .voters()
            .map(|m| m.id)
            .filter(|&id| id != me)
            .collect()
    }

    /// Pre-vote: asks whether a campaign could win, changing and persisting nothing.
    pub(crate) fn campaign_pre(&mut self, now: Instant) {
        self.set_role(Role::PreCandidate);
        self.set_leader(None, now);
        self.forced = false;
        self.votes.clear();
        self.votes.insert(self.cfg.id, true);
        self.reset_election_timer(now);
        if quorum::tally(self.conf.current(), self.work_mode, &self.votes) == Some(true) {
            self.campaign(now, false);
            return;
        }
        let Some(next) = self.next_term(1) else {
            return;
        };
        let req = self.vote_request(next, true, false);
        for id in self.voters_except_me() {
            self.send(id, Message::Vote(req.clone()));
        }
    }

    /// A real campaign: new term, vote for self (persisted before any request goes out).
    pub(crate) fn campaign(&mut self, now: Instant, force: bool) {
        let step = if self.minority() && self.minority_fresh {
            self.minority_fresh = false;
            1000
        } else {
            1
        };
        let Some(term) = self.next_term(step) else {
            // Unreachable from a real cluster (such terms are refused); never wrap.
            return;
        };
        self.term = term;
        self.vote = self.cfg.id;
        self.matched = 0;
        self.persist_hard_state();
        self.peers.clear();
        self.transfer = None;
        self.writable = false;
        self.role = Role::Candidate;
        self.event(Event::RoleChanged {
            role: Role::Candidate,
            term: self.term,
        });
        self.set_leader(None, now);
        self.forced = force;
        self.votes.clear();
        self.votes.insert(self.cfg.id, true);
        self.reset_election_timer(now);
        if quorum::tally(self.conf.current(), self.work_mode, &self.votes) == Some(true) {
            self.become_leader(now);
            return;
        }
        let req = self.vote_request(self.term, false, force);
        for id in self.voters_except_me() {
            self.send(id, Message::Vote(req.clone()));
        }
    }

    fn vote_request(&self, term: u64, pre_vote: bool, force: bool) -> VoteRequest {
        VoteRequest {
            term,
            candidate: self.cfg.id,
            last_index: self.log.last_index(),
            last_term: self.log.last_term(),
            pre_vote,
            force,
            minority: self.minority(),
        }
    }

    /// Whether this node believes a leader is alive (then it refuses non-forced votes, so a
    /// partitioned node rejoining cannot disrupt a healthy leader).
    fn in_lease(&self, now: Instant) -> bool {
        let t = self.cfg.election_timeout;
        match self.role {
            Role::Leader => self.minority() || self.quorum_active(now, t),
            _ => {
                self.leader.is_some()
                    && !self.leader_known_gone(now)
                    && self
                        .last_leader_contact
                        .is_some_and(|c| now.saturating_duration_since(c) < t)
            }
        }
    }

    pub(crate) fn handle_vote(&mut self, from: NodeId, req: VoteRequest, now: Instant) {
        if req.minority != self.minority() {
            return;
        }
        let reject = |r: &Replica| VoteResponse {
            term: r.term,
            granted: false,
            pre_vote: req.pre_vote,
            minority: r.minority(),
        };
        // Unlike DCF, a node answers whatever its own configured role: only the candidate's
        // membership decides whose votes count. Refusing here can deadlock elections while
        // nodes disagree about a role change in flight (standard Raft answers everyone).
        // After a rebuild the base term is unknown (0): this node cannot tell whether a
        // candidate holds what was committed, so it abstains until a leader sends entries.
        let (base, base_term) = self.log.base();
        let blind = base > 0 && base_term == 0 && self.log.last_index() == base;
        // A forced vote follows the current leader's TIMEOUT_NOW, whose target campaigns in
        // the very next term (1000 on, the first time in MINORITY mode); any other forced
        // request gets no exemption from the lease, so it cannot unseat a healthy leader.
        // A leader itself passes a forced vote only to the target of its own transfer.
        let step = if req.minority { 1000 } else { 1 };
        let forced = req.force
            && req.term.saturating_sub(self.term) <= step
            && (self.role != Role::Leader || self.hands_off_to(from));
        if blind || req.term < self.term || (!forced && self.in_lease(now)) {
            let r = reject(self);
            self.send(from, Message::VoteResponse(r));
            return;
        }
        let up_to_date =
            (req.last_term, req.last_index) >= (self.log.last_term(), self.log.last_index());
        if req.pre_vote {
            let granted = req.term > self.term && up_to_date;
            let r = VoteResponse {
                term: if granted { req.term } else { self.term },
                granted,
                pre_vote: true,
                minority: self.minority(),
            };
            self.send(from, Message::VoteResponse(r));
            return;
        }
        if req.term > self.term {
            self.become_follower(req.term, None, now);
        }
        let granted = (self.vote == 0 || self.vote == from) && up_to_date;
        if granted {
            self.vote = from;
            self.persist_hard_state();
            self.reset_election_timer(now);
        }
        let r = VoteResponse {
            term: self.term,
            granted,
            pre_vote: false,
            minority: self.minority(),
        };
        self.send(from, Message::VoteResponse(r));
    }

    pub(crate) fn handle_vote_response(&mut self, from: NodeId, r: VoteResponse, now: Instant) {
        if r.minority != self.minority() {
            return;
        }
        if r.term > self.term && !r.granted {
            self.become_follower(r.term, None, now);
            return;
        }
        let counts = match self.role {
            Role::PreCandidate => r.pre_vote && (!r.granted || r.term == self.term + 1),
            Role::Candidate => !r.pre_vote && r.term == self.term,
            _ => false,
        };
        if !counts || !self.conf.current().is_voter(from) {
            return;
        }
        self.votes.insert(from, r.granted);
        match quorum::tally(self.conf.current(), self.work_mode, &self.votes) {
            Some(true) if self.role == Role::PreCandidate => self.campaign(now, false),
            Some(true) => self.become_leader(now),
            Some(false) => self.become_follower(self.term, None, now),
            None => {}
        }
    }

    /// Takes leadership: fresh progress for every peer, then the term's first entry, a CONF
    /// entry with the membership (Raft's no-op; it lets earlier entries commit).
    pub(crate) fn become_leader(&mut self, now: Instant) {
        self.role = Role::Leader;
        self.event(Event::RoleChanged {
            role: Role::Leader,
            term: self.term,
        });
        self.set_leader(Some(self.cfg.id), now);
        self.votes.clear();
        self.transfer = None;
        self.writable = false;
        let next = self.log.last_index() + 1;
        self.peers.clear();
        let me = self.cfg.id;
        let ids: Vec<NodeId> = self.conf.current().members.iter().map(|m| m.id).collect();
        for id in ids.into_iter().filter(|&id| id != me) {
            self.peers.insert(id, Progress::new(next, now));
        }
        let noop = Entry {
            index: next,
            term: self.term,
            key: 0,
            kind: EntryKind::Conf,
            data: Bytes::from(self.conf.current().to_json()),
        };
        self.term_start = next;
        self.append_local(noop);
        self.heartbeat_deadline = now + self.cfg.heartbeat_interval;
        self.broadcast_appends(now);
        self.maybe_commit();
        self.start_handoff(now);
    }

    pub(crate) fn tick_leader(&mut self, now: Instant) {
        if let Some(t) = self.transfer {
            if now >= t.deadline {
                self.transfer = None;
            }
        }
        if now >= self.heartbeat_deadline {
            self.heartbeat_deadline = now + self.cfg.heartbeat_interval;
            // Check-quorum: a leader cut off from its majority steps down (stepdown.rs).
            if self.check_quorum(now) {
                return;
            }
            self.broadcast_heartbeat();
        }
        self.step_handoff(now);
        self.broadcast_appends(now);
        self.send_due_commit_notices(now);
    }

    pub(crate) fn start_transfer(&mut self, target: NodeId, now: Instant) {
        self.transfer = Some(Transfer {
            target,
            deadline: now + self.cfg.election_timeout,
        });
        self.maybe_send_timeout_now(target);
        self.send_appends(target, now);
    }

    /// Sends PROMOTE once the transfer target holds the whole log.
    pub(crate) fn maybe_send_timeout_now(&mut self, peer: NodeId) {
        // Called whenever a peer's match advances: the hand-off may be waiting for it.
        self.step_handoff(self.now);
        let Some(t) = self.transfer else {
            return;
        };
        let last = self.log.last_index();
        // Caught up and still heard from: PROMOTE to a silent peer would leave no leader.
        if t.target == peer
            && self.heard_recently(peer)
            && self.peers.get(&peer).is_some_and(|p| p.matched == last)
        {
            let msg = TimeoutNow {
                term: self.term,
                leader: self.cfg.id,
            };
            self.send(peer, Message::TimeoutNow(msg));
        }
    }

    pub(crate) fn handle_timeout_now(&mut self, from: NodeId, t: TimeoutNow, now: Instant) {
        if self.cfg.run_mode == RunMode::Disabled || !self.electable() || self.stopping {
            return;
        }
        // Only the leader this node follows, in its own term, may start a forced campaign
        // (it sends TIMEOUT_NOW to a peer that holds its whole log, so the peer knows it).
        if self.role == Role::Leader || self.leader != Some(from) || t.term != self.term {
            return;
        }
        self.campaign(now, true);
    }
}
