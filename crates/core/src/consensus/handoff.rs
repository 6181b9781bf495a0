//! DCF's priority hand-off (SPEC §5.6 step 2). It runs once, at the transition into
//! LEADER and before the leader accepts writes (`Event::LeaderReady`, which the driver turns
//! into status_notify(LEADER)): the new leader looks for a better peer, waits for it to
//! catch up and promotes it. If leadership moves, this node never announced it, so neither
//! LEADER nor the following FOLLOWER is reported. It is never repeated during the same
//! leadership: standbys raising their priority later (openGauss sets it to the replay LSN)
//! do not move a settled leader; only `dcf_promote_leader` does.
//!
//! Candidates are peers configured FOLLOWER or LEADER, heard from within the election
//! timeout, that answered this leader (which is how this core sees them connected to a
//! majority). Better means: in the group
//! of the previous leader first, then a higher priority.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::message::{Message, TimeoutNow};
use super::replica::Replica;
use super::types::{Event, Role, RunMode};
use crate::types::{Index, NodeId};

/// The best peer must make progress at least this often, or the leader keeps leadership.
const CATCH_UP_STALL: Duration = Duration::from_secs(10);
/// PROMOTE is sent up to this many times, this far apart.
const PROMOTE_TRIES: u32 = 3;
const PROMOTE_GAP: Duration = Duration::from_millis(100);

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// No hand-off under way.
    #[default]
    Idle,
    /// Collecting the peers' answers to the new leader's first messages.
    Deciding { until: Instant },
    /// Waiting for `target` to hold the whole log; `matched` last moved at `since`.
    CatchingUp {
        target: NodeId,
        matched: Index,
        since: Instant,
    },
    /// PROMOTE sent `sent` times; the next one (or giving up) at `next`.
    Promoting {
        target: NodeId,
        sent: u32,
        next: Instant,
    },
}

#[derive(Debug, Default)]
pub(crate) struct Handoff {
    pub phase: Phase,
    /// DCF's leader_group: the group of the leader this node last followed (None: its own).
    pub leader_group: Option<u32>,
    /// When each peer was last heard from, whatever it sent (votes included).
    pub heard: BTreeMap<NodeId, Instant>,
}

impl Handoff {
    /// Holds back writes and the LEADER notification.
    pub fn busy(&self) -> bool {
        self.phase != Phase::Idle
    }

    pub fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Idle => None,
            Phase::Deciding { until } => Some(until),
            Phase::CatchingUp { since, .. } => Some(since + CATCH_UP_STALL),
            Phase::Promoting { next, .. } => Some(next),
        }
    }
}

impl Replica {
    /// Called once a node has just become leader (peer progress fresh, CONF entry appended).
    pub(crate) fn start_handoff(&mut self, now: Instant) {
        // Only answers to this leadership count as "seen".
        self.peer_priority.clear();
        self.handoff.phase = if self.cfg.run_mode == RunMode::Auto && !self.forced {
            // Live peers answer the first append within a round trip (or the first
            // heartbeat); two heartbeat intervals bound the wait for one that does not
            // (it is not a candidate then). Peers not heard within T are not waited for.
            Phase::Deciding {
                until: now + self.cfg.heartbeat_interval * 2,
            }
        } else {
            Phase::Idle
        };
        self.step_handoff(now);
    }

    /// Moves the hand-off on: after every peer answer, match advance, tick and apply report.
    pub(crate) fn step_handoff(&mut self, now: Instant) {
        if self.role != Role::Leader {
            self.handoff.phase = Phase::Idle;
            return;
        }
        let last = self.log.last_index();
        match self.handoff.phase {
            Phase::Idle => return,
            Phase::Deciding { until } => {
                if now < until && !self.all_candidates_answered() {
                    return;
                }
                self.handoff.phase = match self.best_peer() {
                    Some(target) => Phase::CatchingUp {
                        target,
                        matched: self.matched_of(target),
                        since: now,
                    },
                    None => Phase::Idle,
                };
                if let Phase::CatchingUp { target, .. } = self.handoff.phase {
                    self.send_appends(target, now);
                    // It may already hold everything.
                    return self.step_handoff(now);
                }
            }
            Phase::CatchingUp {
                target,
                matched,
                since,
            } => {
                let m = self.matched_of(target);
                if m >= last {
                    self.send_promote(target);
                    self.handoff.phase = Phase::Promoting {
                        target,
                        sent: 1,
                        next: now + PROMOTE_GAP,
                    };
                } else if m > matched {
                    self.handoff.phase = Phase::CatchingUp {
                        target,
                        matched: m,
                        since: now,
                    };
                } else if now >= since + CATCH_UP_STALL {
                    self.handoff.phase = Phase::Idle;
                }
            }
            Phase::Promoting { target, sent, next } => {
                if now < next {
                    return;
                }
                if sent < PROMOTE_TRIES {
                    self.send_promote(target);
                    self.handoff.phase = Phase::Promoting {
                        target,
                        sent: sent + 1,
                        next: now + PROMOTE_GAP,
                    };
                } else {
                    // The target never campaigned: keep leadership.
                    self.handoff.phase = Phase::Idle;
                }
            }
        }
        if !self.handoff.busy() {
            self.maybe_writable();
        }
    }

    /// Leader whose hand-off is settled and whose earlier entries are all applied: accept
    /// writes and announce the leadership.
    pub(crate) fn maybe_writable(&mut self) {
        if self.role == Role::Leader
            && !self.writable
            && !self.stopping
            && !self.handoff.busy()
            && self.applied >= self.term_start
            && self.commit >= self.term_start
        {
            self.writable = true;
            self.event(Event::LeaderReady { term: self.term });
        }
    }

    fn matched_of(&self, peer: NodeId) -> Index {
        self.peers.get(&peer).map_or(0, |p| p.matched)
    }

    /// Peers configured to lead and heard from within the election timeout (and not known
    /// to have crashed since: a dead peer would hold the decision up for two heartbeats).
    fn candidates(&self) -> impl Iterator<Item = NodeId> + '_ {
        let me = self.cfg.id;
        self.conf
            .current()
            .members
            .iter()
            .filter(move |m| {
                m.id != me
                    && m.role.is_electable()
                    && self.heard_recently(m.id)
                    && !self.known_gone(m.id, self.now)
            })
            .map(|m| m.id)
    }

    fn all_candidates_answered(&self) -> bool {
        self.candidates()
            .all(|id| self.peer_priority.contains_key(&id))
    }

    /// The peer that ranks above this node and every other candidate, if any.
    fn best_peer(&self) -> Option<NodeId> {
        let m = self.conf.current();
        let own_group = m.member(self.cfg.id).map_or(0, |me| me.group);
        let leader_group = self.handoff.leader_group.unwrap_or(own_group);
        let rank = |group: u32, priority: u64| (group == leader_group, priority);
        let mut best = rank(own_group, self.my_priority());
        let mut winner = None;
        for id in self.candidates() {
            let (Some(&prio), Some(mem)) = (self.peer_priority.get(&id), m.member(id)) else {
                continue;
            };
            let r = rank(mem.group, prio);
            if r > best {
                best = r;
                winner = Some(id);
            }
        }
        winner
    }

    /// Whether this leader is handing leadership to `peer` (a transfer, or the priority
    /// hand-off promoting it): only then does it pass `peer`'s forced vote.
    pub(crate) fn hands_off_to(&self, peer: NodeId) -> bool {
        self.transfer.is_some_and(|t| t.target == peer)
            || matches!(self.handoff.phase, Phase::Promoting { target, .. } if target == peer)
    }

    fn send_promote(&mut self, target: NodeId) {
        let msg = TimeoutNow {
            term: self.term,
            leader: self.cfg.id,
        };
        self.send(target, Message::TimeoutNow(msg));
    }
}
