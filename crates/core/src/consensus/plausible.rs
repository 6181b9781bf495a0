//! Values no real cluster can produce are refused before any rule sees them.
//!
//! Terms only ever rise by one per election (1000 on entering MINORITY mode), so a term far
//! beyond this node's, or near the top of the range, can only come from a broken or hostile
//! peer; adopting it would leave the cluster unable to elect (a term cannot rise past the
//! top) and survive restarts, since the term is persisted. Indexes likewise stay far below
//! 2^62, so with these bounds no `+ 1` on a peer's value can overflow. Every check is a
//! comparison; nothing is allocated unless a message is refused.

use std::time::{Duration, Instant};

use super::message::Message;
use super::replica::Replica;
use super::types::Event;
use crate::types::{Index, NodeId, Term};

/// No term at or above this is ever adopted, sent or persisted.
pub const MAX_TERM: Term = 1 << 62;
/// How far above this node's term a peer's term may be.
pub const TERM_REACH: Term = 1 << 32;
/// No index at or above this is accepted.
pub const MAX_INDEX: Index = 1 << 62;
/// How far beyond this node's last index a peer's last index may be.
pub const INDEX_REACH: Index = 1 << 40;
/// At most one refusal event per this period (the others are counted in it).
const REFUSAL_EVENT_PERIOD: Duration = Duration::from_secs(1);

/// Why a message was refused (formatted only when reported).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implausible {
    TermTooHigh { term: Term, own: Term },
    TermBelowEntry { term: Term, inner: Term },
    IndexTooHigh { index: Index, limit: Index },
    CommitPastLast { commit: Index, last: Index },
    NotFromLeader { claimed: NodeId },
}

impl std::fmt::Display for Implausible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Implausible::TermTooHigh { term, own } => {
                write!(f, "term {term} is beyond reach of this node's term {own}")
            }
            Implausible::TermBelowEntry { term, inner } => {
                write!(f, "message term {term} is below a term it names ({inner})")
            }
            Implausible::IndexTooHigh { index, limit } => {
                write!(f, "index {index} is beyond {limit}")
            }
            Implausible::CommitPastLast { commit, last } => {
                write!(f, "commit {commit} is past the sender's last index {last}")
            }
            Implausible::NotFromLeader { claimed } => {
                write!(f, "claims to come from leader {claimed}")
            }
        }
    }
}

/// Counts refusals and reports them as events at most once per period.
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    pub total: u64,
    unreported: u64,
    last_event: Option<Instant>,
}

fn term_ok(term: Term, own: Term) -> Result<(), Implausible> {
    if term >= MAX_TERM || term.saturating_sub(own) > TERM_REACH {
        return Err(Implausible::TermTooHigh { term, own });
    }
    Ok(())
}

fn inner_term_ok(term: Term, inner: Term) -> Result<(), Implausible> {
    if inner > term {
        return Err(Implausible::TermBelowEntry { term, inner });
    }
    Ok(())
}

fn index_ok(index: Index, limit: Index) -> Result<(), Implausible> {
    if index >= limit {
        return Err(Implausible::IndexTooHigh { index, limit });
    }
    Ok(())
}

impl Replica {
    /// Whether `msg` carries only values a real cluster can produce.
    pub(crate) fn check_plausible(&self, from: NodeId, msg: &Message) -> Result<(), Implausible> {
        term_ok(msg.term(), self.term)?;
        // Peers' claims about their own log: within reach of ours.
        let reach = self
            .log
            .last_index()
            .saturating_add(INDEX_REACH)
            .min(MAX_INDEX);
        match msg {
            Message::Append { header: h, entries } => {
                if h.leader != from {
                    return Err(Implausible::NotFromLeader { claimed: h.leader });
                }
                inner_term_ok(h.term, h.prev_term)?;
                index_ok(h.leader_last_index, reach)?;
                let covered = h.prev_index.saturating_add(entries.len() as Index);
                let last = h.leader_last_index;
                index_ok(covered, last.saturating_add(1))?;
                leader_indexes_ok(h.commit, last, h.leader_first_index, h.cluster_min_applied)?;
                // The codec checks each entry's index and term; the core also takes
                // messages from elsewhere (the simulator), so the term is checked again.
                for e in entries {
                    inner_term_ok(h.term, e.term)?;
                }
            }
            Message::Heartbeat(h) => {
                if h.leader != from {
                    return Err(Implausible::NotFromLeader { claimed: h.leader });
                }
                index_ok(h.leader_last_index, reach)?;
                leader_indexes_ok(
                    h.commit,
                    h.leader_last_index,
                    h.leader_first_index,
                    h.cluster_min_applied,
                )?;
            }
            Message::AppendResponse(r) => {
                inner_term_ok(r.term, r.hint_term)?;
                index_ok(r.last_index, reach)?;
                for i in [r.index, r.durable, r.applied, r.reject_prev] {
                    index_ok(i, MAX_INDEX)?;
                }
            }
            Message::HeartbeatResponse(r) => {
                index_ok(r.last_index, reach)?;
                for i in [r.matched, r.durable, r.applied] {
                    index_ok(i, MAX_INDEX)?;
                }
            }
            Message::Vote(v) => {
                inner_term_ok(v.term, v.last_term)?;
                index_ok(v.last_index, reach)?;
            }
            Message::TimeoutNow(t) => {
                if t.leader != from {
                    return Err(Implausible::NotFromLeader { claimed: t.leader });
                }
            }
            Message::VoteResponse(_) | Message::TransferRequest(_) => {}
        }
        Ok(())
    }

    /// Counts a refused message; reports it as an event unless one was reported within the
    /// last period (those in between are counted in the next report).
    pub(crate) fn refuse(&mut self, from: NodeId, why: Implausible, now: Instant) {
        let r = &mut self.refusals;
        r.total += 1;
        r.unreported += 1;
        let due = r
            .last_event
            .is_none_or(|t| now.saturating_duration_since(t) >= REFUSAL_EVENT_PERIOD);
        if due {
            let count = std::mem::take(&mut r.unreported);
            r.last_event = Some(now);
            self.event(Event::Refused {
                from,
                reason: why.to_string(),
                count,
            });
        }
    }

    /// Messages refused as implausible since the start.
    pub fn refused_messages(&self) -> u64 {
        self.refusals.total
    }

    /// The next term of a campaign `step` above the current one, unless it would leave
    /// the range a real cluster uses (then this node does not campaign).
    pub(crate) fn next_term(&self, step: Term) -> Option<Term> {
        self.term.checked_add(step).filter(|&t| t < MAX_TERM)
    }
}

fn leader_indexes_ok(
    commit: Index,
    last: Index,
    first: Index,
    min_applied: Index,
) -> Result<(), Implausible> {
    if commit > last {
        return Err(Implausible::CommitPastLast { commit, last });
    }
    index_ok(first, last.saturating_add(2))?;
    index_ok(min_applied, MAX_INDEX)
}
