//! Check-quorum: a leader that has not heard from a quorum within one election timeout steps
//! down, and hands the election to its most caught-up electable peer.
//!
//! The hand-off matters when the leader can still send but no longer hear (a one-way cut):
//! its followers keep receiving heartbeats, so their lease refuses ordinary votes and none
//! would campaign before its own election timeout ran out after the last heartbeat. The
//! leader's TIMEOUT_NOW reaches them over the link that still works, and the chosen peer
//! campaigns at once. It is safe: a forced campaign only passes the voters' lease; votes still
//! go to up-to-date logs only, once per term. When the leader is cut off both ways (or the
//! transport has already closed a path that got no acknowledgements), the message is simply
//! lost and the followers' own election timeouts decide.

use std::time::Instant;

use super::message::{Message, TimeoutNow};
use super::replica::Replica;
use super::types::RunMode;
use crate::types::NodeId;

impl Replica {
    /// Leader, at a heartbeat tick: steps down if the quorum has gone quiet. Returns whether
    /// it did.
    pub(crate) fn check_quorum(&mut self, now: Instant) -> bool {
        if self.cfg.run_mode != RunMode::Auto
            || self.minority()
            || self.quorum_active(now, self.cfg.election_timeout)
        {
            return false;
        }
        let heir = self.heir();
        let term = self.term;
        self.become_follower(term, None, now);
        if let Some(peer) = heir {
            let msg = TimeoutNow {
                term,
                leader: self.cfg.id,
            };
            self.send(peer, Message::TimeoutNow(msg));
        }
        true
    }

    /// The electable voter holding the most of the log by this leader's count.
    fn heir(&self) -> Option<NodeId> {
        let conf = self.conf.current();
        self.peers
            .iter()
            .filter(|(id, _)| {
                conf.member(**id)
                    .is_some_and(|m| m.role.is_voter() && m.role.is_electable())
            })
            .max_by_key(|(id, p)| (p.matched, std::cmp::Reverse(**id)))
            .map(|(id, _)| *id)
    }
}
