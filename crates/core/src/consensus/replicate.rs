//! Log replication: proposals, pipelined AppendEntries under a byte window, fast back-off,
//! heartbeats, acknowledgements, commit.

use std::ops::Range;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::log::ENTRY_OVERHEAD;
use super::message::{AppendHeader, AppendResponse, Heartbeat, HeartbeatResponse, Message};
use super::progress::Pace;
use super::quorum;
use super::replica::Replica;
use super::types::{Event, Exception, ProposeError, Role};
use crate::types::{Entry, EntryKind, Index, NodeId, Term};

/// How long a commit may wait for an append or heartbeat to carry it to a follower.
pub const COMMIT_NOTICE_DELAY: Duration = Duration::from_millis(5);

impl Replica {
    /// Leader only, once writable; assigns the next index.
    pub fn propose(&mut self, key: u64, data: Bytes, now: Instant) -> Result<Index, ProposeError> {
        self.propose_batch(std::iter::once((key, data)), now)
            .map(|r| r.start)
    }

    /// Leader only, once writable; assigns consecutive indexes (an empty batch gives an
    /// empty range).
    pub fn propose_batch(
        &mut self,
        items: impl IntoIterator<Item = (u64, Bytes)>,
        now: Instant,
    ) -> Result<Range<Index>, ProposeError> {
        self.now = now;
        self.check_writable()?;
        let start = self.log.last_index() + 1;
        let term = self.term;
        for (key, data) in items {
            let e = Entry {
                index: self.log.last_index() + 1,
                term,
                key,
                kind: EntryKind::Normal,
                data,
            };
            self.log.push(e.clone());
            self.ready.entries.push(e);
        }
        let end = self.log.last_index() + 1;
        // Sent by `take_ready`: the proposal is in the Ready's entries, so the driver takes it.
        self.appends_due |= end > start;
        Ok(start..end)
    }

    pub(crate) fn check_writable(&self) -> Result<(), ProposeError> {
        if self.role != Role::Leader {
            return Err(ProposeError::NotLeader {
                leader: self.leader,
            });
        }
        if self.stopping {
            // Handing over before a stop: to the application this node no longer leads.
            return Err(ProposeError::NotLeader { leader: None });
        }
        if self.transfer.is_some() {
            return Err(ProposeError::Transferring);
        }
        if !self.writable {
            return Err(ProposeError::NotWritable);
        }
        Ok(())
    }

    /// Local storage made the log durable up to `index` (of term `term`); stale reports
    /// that do not match the current log are ignored.
    pub fn persisted(&mut self, index: Index, term: Term) {
        if index <= self.persisted
            || index > self.log.last_index()
            || self.log.term_at(index) != Some(term)
        {
            return;
        }
        let before = self.persisted.min(self.matched);
        self.persisted = index;
        self.log.evict(index);
        self.update_visible_commit();
        if self.role == Role::Leader {
            self.maybe_commit();
        } else if let Some(leader) = self.leader {
            if self.persisted.min(self.matched) > before {
                let r = self.append_ok();
                self.send(leader, Message::AppendResponse(r));
            }
        }
    }

    /// The peers' ids, for loops that change the replica per peer.
    fn peer_ids(&self) -> Vec<NodeId> {
        self.peers.keys().copied().collect()
    }

    pub(crate) fn broadcast_appends(&mut self, now: Instant) {
        for id in self.peer_ids() {
            self.send_appends(id, now);
        }
    }

    /// Fills the peer's window (one probe at a time while probing).
    pub(crate) fn send_appends(&mut self, peer: NodeId, now: Instant) {
        while self.send_one_append(peer, now) {
            if self.peers.get(&peer).is_none_or(|p| p.probing) {
                break;
            }
        }
    }

    fn send_one_append(&mut self, peer: NodeId, now: Instant) -> bool {
        let last = self.log.last_index();
        let max_msgs = self.cfg.max_inflight_msgs.max(1);
        let max_bytes = self.cfg.max_inflight_bytes;
        let max_batch = self.cfg.max_batch_bytes;
        let Some(pr) = self.peers.get_mut(&peer) else {
            return false;
        };
        match pr.pace {
            Pace::Indefinite => return false,
            Pace::Interval(gap) => {
                if pr.last_send.is_some_and(|s| now < s + gap) {
                    return false;
                }
            }
            Pace::Off => {}
        }
        if !pr.probing {
            if self.log.term_at(pr.next - 1).is_none() {
                // The peer needs entries compacted away: probe with our base so it can
                // report MISSING_LOG.
                let n = pr.next;
                pr.become_probe(n);
            } else if pr.next > last
                || pr.inflight.len() >= max_msgs
                || pr.inflight_bytes >= max_bytes
            {
                return false;
            }
        }
        if pr.probing && pr.probe_sent {
            return false;
        }
        let (prev_index, prev_term, with_entries) = match self.log.term_at(pr.next - 1) {
            Some(t) => (pr.next - 1, t, true),
            None => {
                let (i, t) = self.log.base();
                (i, t, false)
            }
        };
        let (mut entries, mut bytes) = (Vec::new(), 0usize);
        if with_entries && pr.next <= last {
            match self.log.read(pr.next, last, max_batch) {
                Ok(got) => entries = got,
                Err(error) => {
                    let index = pr.next;
                    self.read_failed(index, error);
                    return false;
                }
            }
            bytes = entries.iter().map(|e| e.data.len() + ENTRY_OVERHEAD).sum();
        }
        let Some(pr) = self.peers.get_mut(&peer) else {
            return false;
        };
        let sent_last = prev_index + entries.len() as Index;
        pr.last_send = Some(now);
        pr.commit_sent = pr.commit_sent.max(self.commit);
        if pr.probing {
            pr.probe_sent = true;
        } else {
            pr.next = sent_last + 1;
            pr.inflight.push_back((sent_last, bytes));
            pr.inflight_bytes += bytes;
        }
        let header = AppendHeader {
            term: self.term,
            leader: self.cfg.id,
            prev_index,
            prev_term,
            commit: self.commit,
            leader_last_index: last,
            leader_first_index: self.log.first_index(),
            cluster_min_applied: self.cluster_min_applied(),
            minority: self.minority(),
        };
        self.send(peer, Message::Append { header, entries });
        true
    }

    pub(crate) fn broadcast_heartbeat(&mut self) {
        let hb = Heartbeat {
            term: self.term,
            leader: self.cfg.id,
            commit: self.commit,
            leader_last_index: self.log.last_index(),
            leader_first_index: self.log.first_index(),
            cluster_min_applied: self.cluster_min_applied(),
            minority: self.minority(),
        };
        for id in self.peer_ids() {
            if let Some(p) = self.peers.get_mut(&id) {
                p.commit_sent = p.commit_sent.max(self.commit);
            }
            self.send(id, Message::Heartbeat(hb.clone()));
        }
    }

    /// A commit a peer has not seen travels on the next append or heartbeat. Only when none
    /// has gone out within [`COMMIT_NOTICE_DELAY`] does the peer get a notice of its own: with
    /// a steady writer the next append nearly always comes first, which saves the notice and
    /// its answer (four messages per commit with two followers).
    fn schedule_commit_notice(&mut self) {
        let due = self.now + COMMIT_NOTICE_DELAY.min(self.cfg.heartbeat_interval);
        match self.commit_notice_at {
            Some(t) if t > self.now => {}
            _ => self.commit_notice_at = Some(due),
        }
    }

    pub(crate) fn send_due_commit_notices(&mut self, now: Instant) {
        if self.commit_notice_at.is_none_or(|t| now < t) {
            return;
        }
        self.commit_notice_at = None;
        for id in self.peer_ids() {
            self.notify_commit(id);
        }
    }

    /// Tells a peer with nothing in flight about a commit it has not seen.
    fn notify_commit(&mut self, peer: NodeId) {
        let last = self.log.last_index();
        let commit = self.commit;
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if p.commit_sent >= commit || p.probing || p.next <= last || !p.inflight.is_empty() {
            return;
        }
        p.commit_sent = commit;
        let hb = Heartbeat {
            term: self.term,
            leader: self.cfg.id,
            commit,
            leader_last_index: last,
            leader_first_index: self.log.first_index(),
            cluster_min_applied: self.cluster_min_applied(),
            minority: self.minority(),
        };
        self.send(peer, Message::Heartbeat(hb));
    }

    /// A message from the leader of `term`: follow it and refresh the election timer.
    fn follow(&mut self, term: Term, leader: NodeId, now: Instant) {
        if term > self.term || matches!(self.role, Role::PreCandidate | Role::Candidate) {
            self.become_follower(term, Some(leader), now);
        } else {
            self.set_leader(Some(leader), now);
            self.reset_election_timer(now);
        }
        self.last_leader_contact = Some(now);
    }

    pub(crate) fn append_ok(&self) -> AppendResponse {
        AppendResponse {
            term: self.term,
            reject: false,
            index: self.matched,
            hint_term: 0,
            reject_prev: 0,
            durable: self.persisted.min(self.matched),
            last_index: self.log.last_index(),
            applied: self.applied,
            priority: self.my_priority(),
            minority: self.minority(),
        }
    }

    fn advance_follower_commit(&mut self, leader_commit: Index) {
        let c = leader_commit.min(self.matched);
        if c > self.commit {
            self.commit = c;
            self.update_visible_commit();
        }
    }

    pub(crate) fn handle_append(
        &mut self,
        from: NodeId,
        h: AppendHeader,
        mut entries: Vec<Entry>,
        now: Instant,
    ) {
        if h.minority != self.minority() {
            return;
        }
        if h.term < self.term {
            let mut r = self.append_ok();
            r.reject = true;
            r.reject_prev = h.prev_index;
            self.send(from, Message::AppendResponse(r));
            return;
        }
        if self.role == Role::Leader && h.term == self.term {
            return;
        }
        // Malformed batches are dropped whole.
        let n = entries.len() as Index;
        let consecutive = entries
            .iter()
            .enumerate()
            .all(|(k, e)| e.index == h.prev_index + 1 + k as Index && e.term <= h.term);
        if !consecutive || h.prev_index.checked_add(n).is_none() {
            return;
        }
        self.follow(h.term, from, now);
        self.leader_last = h.leader_last_index;
        self.leader_first = h.leader_first_index;
        self.follower_min_applied = h.cluster_min_applied;
        let covered = h.prev_index + n;
        let (base, _) = self.log.base();
        if h.prev_index == base && base > 0 {
            self.log.learn_base_term(h.prev_term);
        }
        if h.prev_index <= base {
            // Entries up to our base were committed and applied here: they match (after a
            // rebuild the base term may even be unknown).
            let skip = ((base - h.prev_index) as usize).min(entries.len());
            entries.drain(..skip);
        } else if self.log.term_at(h.prev_index) != Some(h.prev_term) {
            self.reject_append(from, &h);
            return;
        }
        let mut first_new = entries.len();
        for (k, e) in entries.iter().enumerate() {
            match self.log.term_at(e.index) {
                Some(t) if t == e.term => continue,
                Some(_) => {
                    if e.index <= self.commit {
                        // Would rewrite a committed entry: refuse the whole message.
                        return;
                    }
                    self.truncate_local(e.index);
                    first_new = k;
                    break;
                }
                None => {
                    first_new = k;
                    break;
                }
            }
        }
        for e in entries.drain(first_new..) {
            self.append_local(e);
        }
        self.missing_log_raised = false;
        self.matched = self.matched.max(covered.min(self.log.last_index()));
        self.advance_follower_commit(h.commit);
        if n == 0 || self.persisted.min(self.matched) >= covered {
            let r = self.append_ok();
            self.send(from, Message::AppendResponse(r));
        }
    }

    fn reject_append(&mut self, from: NodeId, h: &AppendHeader) {
        let hint = self
            .log
            .find_conflict_by_term(h.prev_index.min(self.log.last_index()), h.prev_term);
        let hint_term = self.log.term_at(hint).unwrap_or(0);
        // The leader can only send from its first index: if that does not fit, this node
        // cannot catch up by replication (SPEC §6.7).
        if h.prev_index < h.leader_first_index && !self.missing_log_raised {
            self.missing_log_raised = true;
            self.event(Event::Exception(Exception::MissingLog));
        }
        let mut r = self.append_ok();
        r.reject = true;
        r.index = hint;
        r.hint_term = hint_term;
        r.reject_prev = h.prev_index;
        self.send(from, Message::AppendResponse(r));
    }

    /// Whether a follower's answer (append or heartbeat) is for this leader now: same
    /// minority mode, this term, still leading. A higher term makes this node a follower.
    fn answer_is_current(&mut self, minority: bool, term: Term, now: Instant) -> bool {
        if minority != self.minority() {
            return false;
        }
        if term > self.term {
            self.become_follower(term, None, now);
            return false;
        }
        term == self.term && self.role == Role::Leader
    }

    pub(crate) fn handle_append_response(&mut self, from: NodeId, r: AppendResponse, now: Instant) {
        if !self.answer_is_current(r.minority, r.term, now) {
            return;
        }
        self.note_peer(from, r.applied, r.priority);
        let last = self.log.last_index();
        let Some(pr) = self.peers.get_mut(&from) else {
            return;
        };
        pr.last_ack = now;
        if r.reject {
            if r.last_index < pr.matched && r.reject_prev > r.last_index {
                // The peer lost entries it had acknowledged (its storage was rebuilt):
                // start over from what it has.
                pr.matched = 0;
                pr.become_probe(r.index.min(r.last_index) + 1);
                self.send_appends(from, now);
                return;
            }
            if r.reject_prev <= pr.matched || (pr.probing && r.reject_prev + 1 != pr.next) {
                return; // stale
            }
            let hint = self.log.find_conflict_by_term(r.index, r.hint_term);
            let next = (hint + 1).min(r.reject_prev).max(pr.matched + 1);
            pr.become_probe(next);
            self.send_appends(from, now);
            return;
        }
        let advanced = pr.on_ack(r.index.min(last), r.durable.min(last));
        if advanced {
            self.maybe_commit();
            self.maybe_send_timeout_now(from);
        }
        self.send_appends(from, now);
        if self
            .peers
            .get(&from)
            .is_some_and(|p| p.commit_sent < self.commit)
        {
            self.schedule_commit_notice();
        }
    }

    pub(crate) fn handle_heartbeat(&mut self, from: NodeId, h: Heartbeat, now: Instant) {
        if h.minority != self.minority() {
            return;
        }
        if h.term >= self.term && !(self.role == Role::Leader && h.term == self.term) {
            self.follow(h.term, from, now);
            self.leader_last = h.leader_last_index;
            self.leader_first = h.leader_first_index;
            self.follower_min_applied = h.cluster_min_applied;
            self.advance_follower_commit(h.commit);
        }
        let r = HeartbeatResponse {
            term: self.term,
            matched: self.matched,
            durable: self.persisted.min(self.matched),
            last_index: self.log.last_index(),
            applied: self.applied,
            priority: self.my_priority(),
            minority: self.minority(),
        };
        self.send(from, Message::HeartbeatResponse(r));
    }

    pub(crate) fn handle_heartbeat_response(
        &mut self,
        from: NodeId,
        r: HeartbeatResponse,
        now: Instant,
    ) {
        if !self.answer_is_current(r.minority, r.term, now) {
            return;
        }
        self.note_peer(from, r.applied, r.priority);
        let last = self.log.last_index();
        let hb = self.cfg.heartbeat_interval;
        let Some(pr) = self.peers.get_mut(&from) else {
            return;
        };
        pr.last_ack = now;
        let mut advanced = false;
        if r.matched > 0 {
            advanced = pr.on_ack(r.matched.min(last), r.durable.min(last));
        }
        if pr.probing {
            // The probe or its answer may be lost: allow another.
            pr.probe_sent = false;
        } else if r.matched + 1 < pr.next
            && pr
                .last_send
                .is_some_and(|s| now.saturating_duration_since(s) >= hb)
        {
            // Entries sent a heartbeat ago have still not arrived, twice: assume them lost.
            pr.stall += 1;
            if pr.stall >= 2 {
                pr.become_probe(r.matched + 1);
            }
        }
        if advanced {
            self.maybe_commit();
            self.maybe_send_timeout_now(from);
        }
        self.send_appends(from, now);
    }

    fn note_peer(&mut self, from: NodeId, applied: Index, priority: u64) {
        self.applied_of.insert(from, applied);
        self.peer_priority.insert(from, priority);
    }

    /// Leader: advance the commit to what a quorum holds (this node's own entries count
    /// once durable), only by counting entries of the current term.
    pub(crate) fn maybe_commit(&mut self) {
        if self.role != Role::Leader {
            return;
        }
        let me = self.cfg.id;
        let own = self.persisted;
        let peers = &self.peers;
        let c = quorum::committed(
            self.conf.current(),
            self.work_mode,
            &self.cfg.majority_groups,
            |id| {
                if id == me {
                    Some(own)
                } else {
                    peers.get(&id).map(|p| p.matched)
                }
            },
        );
        if c <= self.commit || self.log.term_at(c) != Some(self.term) {
            return;
        }
        self.commit = c;
        self.update_visible_commit();
        self.schedule_commit_notice();
        // A leader that removed itself leaves once the change is committed.
        if !self.conf.current().contains(me) && self.conf.last_index() <= self.commit {
            let (term, now) = (self.term, self.now);
            self.become_follower(term, None, now);
        }
    }
}
