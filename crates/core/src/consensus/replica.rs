//! The `Replica`: state, construction, queries, and the plumbing shared by the rules
//! (role transitions, the Ready being built, timers). The rules live in `election.rs`,
//! `replicate.rs` and `admin.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::conf::ConfState;
use super::handoff::Handoff;
use super::log::{Log, LogSource, RecoveredLog};
use super::message::Message;
use super::plausible::{Refusals, MAX_TERM};
use super::progress::{Pace, Progress};
use super::quorum;
use super::types::{
    ConfRole, ConsensusError, Event, Membership, PeerProgress, Ready, ReplicaConfig, Role, RunMode,
    WorkMode,
};
use crate::types::{Entry, HardState, Index, NodeId, Term};

/// A leadership transfer in progress.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Transfer {
    pub target: NodeId,
    pub deadline: Instant,
}

/// One stream's consensus state machine. See the module documentation.
pub struct Replica {
    pub(crate) cfg: ReplicaConfig,
    pub(crate) rng: ChaCha8Rng,
    pub(crate) now: Instant,
    pub(crate) term: Term,
    pub(crate) vote: NodeId,
    pub(crate) role: Role,
    pub(crate) leader: Option<NodeId>,
    pub(crate) log: Log,
    /// Raft's commit index (held by a quorum).
    pub(crate) commit: Index,
    /// min(commit, persisted): what the driver may apply.
    pub(crate) visible_commit: Index,
    pub(crate) persisted: Index,
    pub(crate) applied: Index,
    /// Follower: last index known to match the current leader's log in this term.
    pub(crate) matched: Index,
    pub(crate) conf: ConfState,
    pub(crate) work_mode: WorkMode,
    /// The next campaign is the first since switching to MINORITY (term jumps by 1000).
    pub(crate) minority_fresh: bool,
    pub(crate) priority_override: Option<u64>,
    pub(crate) election_deadline: Instant,
    pub(crate) heartbeat_deadline: Instant,
    /// Leader: when peers not yet told of the commit get a notice (replicate.rs).
    pub(crate) commit_notice_at: Option<Instant>,
    pub(crate) last_leader_contact: Option<Instant>,
    /// When this node accepted the current leader (ELECTION_SWITCH_THRESHOLD).
    pub(crate) leader_since: Option<Instant>,
    pub(crate) votes: BTreeMap<NodeId, bool>,
    pub(crate) peers: BTreeMap<NodeId, Progress>,
    /// Index of this leader's first entry of its term.
    pub(crate) term_start: Index,
    pub(crate) transfer: Option<Transfer>,
    /// The priority hand-off of a new leader (SPEC §5.6).
    pub(crate) handoff: Handoff,
    /// This candidacy or leadership came from a forced vote (no priority hand-off).
    pub(crate) forced: bool,
    pub(crate) writable: bool,
    /// Applied index per node, as last reported (kept across terms, as DCF does).
    pub(crate) applied_of: BTreeMap<NodeId, Index>,
    pub(crate) peer_priority: BTreeMap<NodeId, u64>,
    pub(crate) follower_min_applied: Index,
    pub(crate) leader_last: Index,
    pub(crate) leader_first: Index,
    pub(crate) missing_log_raised: bool,
    /// A payload could not be read back from the log source (reported once).
    pub(crate) read_failed_raised: bool,
    /// Leader: proposals were appended since the followers were last sent appends; the
    /// next `take_ready` sends them, so every proposal made between two passes of the
    /// driver travels in one message per follower instead of one each.
    pub(crate) appends_due: bool,
    pub(crate) refusals: Refusals,
    /// `hand_over` was called: the node is stopping, never takes writes nor campaigns again.
    pub(crate) stopping: bool,
    /// Evidence that a node's process is gone, and when it came (failover.rs).
    pub(crate) gone: Option<(NodeId, Instant)>,
    /// The last leader other than this node that it followed.
    pub(crate) followed: Option<NodeId>,
    /// When evidence last started a pre-vote.
    pub(crate) early_pre_vote: Option<Instant>,
    pub(crate) ready: Ready,
}

impl Replica {
    /// `log`: entries recovered from storage (may be empty); `base`: (index, term) of the
    /// entry just before the first one ((0,0) for a fresh log; (v-1, term or 0) after a
    /// rebuild whose applied base is v-1). Recovered entries count as durable.
    pub fn new(
        cfg: ReplicaConfig,
        membership: Membership,
        hs: HardState,
        base: (Index, Term),
        log: impl Into<RecoveredLog>,
        seed: u64,
        now: Instant,
    ) -> Result<Replica, ConsensusError> {
        membership.validate()?;
        let id = cfg.id;
        // A node removed by a CONF entry in its log may still start (inert, never
        // campaigning) as long as the given membership names it, so it can be re-added.
        if !membership.contains(id) {
            return Err(ConsensusError::NotAMember(id));
        }
        let rl: RecoveredLog = log.into();
        let mut l = Log::new(base);
        let mut conf = ConfState::new(membership);
        for (k, &(i, t)) in rl.terms.iter().enumerate() {
            let (pi, pt) = if k == 0 {
                (base.0, base.1)
            } else {
                rl.terms[k - 1]
            };
            let starts_right = if k == 0 { i == base.0 + 1 } else { i > pi };
            if !starts_right || t < pt || (k > 0 && t == pt) || i > rl.last_index {
                return Err(ConsensusError::BadLog(format!(
                    "entries from index {i} (term {t}) do not follow index {pi} (term {pt})"
                )));
            }
        }
        if rl.terms.is_empty() && rl.last_index > base.0 {
            return Err(ConsensusError::BadLog(format!(
                "no terms known for entries {}..={}",
                base.0 + 1,
                rl.last_index
            )));
        }
        l.push_terms(rl.last_index, &rl.terms);
        for e in &rl.conf_entries {
            if e.index > base.0 && e.index <= l.last_index() {
                conf.on_append(e);
            }
        }
        if !rl.tail.is_empty() {
            l.fill_cache(rl.tail).map_err(ConsensusError::BadLog)?;
        }
        // A durable entry of a later term means that term was reached even if the hard
        // state write was lost; no vote in it was ever sent.
        let (term, vote) = if l.last_term() > hs.term {
            (l.last_term(), 0)
        } else {
            (hs.term, hs.vote)
        };
        if term >= MAX_TERM - 1 {
            // Only a peer's forged term can have put it there (before such terms were
            // refused); no election could ever succeed from it.
            return Err(ConsensusError::BadLog(format!(
                "the recorded term {term} is beyond any real cluster's; rebuild this node"
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let t = cfg.election_timeout;
        let jitter = rng.gen_range(0..=t.as_micros().max(1) as u64);
        let last = l.last_index();
        let mut r = Replica {
            rng,
            now,
            term,
            vote,
            role: Role::Follower,
            leader: None,
            commit: base.0,
            visible_commit: base.0,
            persisted: last,
            applied: base.0,
            matched: 0,
            log: l,
            conf,
            work_mode: WorkMode::Normal,
            minority_fresh: false,
            priority_override: None,
            // Start grace: a restarted cluster gives the configured leader time to win.
            election_deadline: now + t * 2 + Duration::from_micros(jitter),
            heartbeat_deadline: now,
            commit_notice_at: None,
            last_leader_contact: None,
            leader_since: None,
            votes: BTreeMap::new(),
            peers: BTreeMap::new(),
            term_start: 0,
            transfer: None,
            handoff: Handoff::default(),
            forced: false,
            writable: false,
            applied_of: BTreeMap::new(),
            peer_priority: BTreeMap::new(),
            follower_min_applied: 0,
            leader_last: 0,
            leader_first: 0,
            missing_log_raised: false,
            read_failed_raised: false,
            appends_due: false,
            refusals: Refusals::default(),
            stopping: false,
            gone: None,
            followed: None,
            early_pre_vote: None,
            ready: Ready::default(),
            cfg,
        };
        if term != hs.term {
            r.persist_hard_state();
        }
        r.role = r.base_role();
        let configured = r.own_conf_role();
        let sole_voter = r.membership().voters().all(|m| m.id == id)
            && configured.is_some_and(ConfRole::is_electable);
        match r.cfg.run_mode {
            RunMode::Disabled => {}
            _ if sole_voter => r.campaign(now, false),
            RunMode::Auto => {
                if configured == Some(ConfRole::Leader) && (vote == 0 || vote == id) {
                    let hb = r.cfg.heartbeat_interval.as_micros().max(1) as u64;
                    let d = r.rng.gen_range(0..hb);
                    r.election_deadline = now + Duration::from_micros(d);
                }
            }
            RunMode::Manual => {
                if vote == id && term > 0 {
                    r.become_leader(now);
                } else if vote == 0 && configured == Some(ConfRole::Leader) {
                    r.term += 1; // below MAX_TERM, checked above
                    r.vote = id;
                    r.persist_hard_state();
                    r.become_leader(now);
                }
            }
        }
        Ok(r)
    }

    // ----- queries -----

    pub fn id(&self) -> NodeId {
        self.cfg.id
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn term(&self) -> Term {
        self.term
    }
    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }
    /// Committed by a quorum and durable here: what may be applied.
    pub fn commit_index(&self) -> Index {
        self.visible_commit
    }
    pub fn first_index(&self) -> Index {
        self.log.first_index()
    }
    pub fn last_index(&self) -> Index {
        self.log.last_index()
    }
    pub fn persisted_index(&self) -> Index {
        self.persisted
    }
    pub fn applied_index(&self) -> Index {
        self.applied
    }
    pub fn membership(&self) -> &Membership {
        self.conf.current()
    }
    /// The membership in effect at `first_index() - 1`: what a node rebuilt from this one
    /// with that applied base must start with.
    pub fn base_membership(&self) -> &Membership {
        self.conf.base()
    }
    pub fn work_mode(&self) -> WorkMode {
        self.work_mode
    }
    pub fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
        }
    }
    /// Leader whose earlier entries are all applied and that accepts `propose`.
    pub fn can_write(&self) -> bool {
        self.role == Role::Leader && self.writable && self.transfer.is_none() && !self.stopping
    }
    /// The entry at `index` if its payload is held in memory (see `set_log_source`).
    pub fn entry(&self, index: Index) -> Option<&Entry> {
        self.log.entry(index)
    }
    /// Entries `lo..=hi` whose payloads are held in memory.
    pub fn entries(&self, lo: Index, hi_inclusive: Index) -> impl Iterator<Item = &Entry> {
        self.log.cached_range(lo, hi_inclusive)
    }
    /// Whether `index` holds a CONF entry (of those still in the log).
    pub fn is_conf(&self, index: Index) -> bool {
        self.conf.is_change_at(index)
    }
    /// Bytes of payload held in memory.
    pub fn cached_bytes(&self) -> usize {
        self.log.cached_bytes()
    }
    /// Keeps at most `cache_bytes` of durable payloads in memory; the rest is read back
    /// from `source` when a follower needs it. Without a source the whole log stays.
    pub fn set_log_source(&mut self, cache_bytes: usize, source: Arc<dyn LogSource>) {
        self.log.set_source(cache_bytes, source);
        self.log.evict(self.persisted);
    }
    pub fn term_at(&self, index: Index) -> Option<Term> {
        self.log.term_at(index)
    }

    pub fn progress(&self, peer: NodeId) -> Option<PeerProgress> {
        let p = self.peers.get(&peer)?;
        Some(PeerProgress {
            next: p.next,
            matched: p.matched,
            applied: self.applied_of.get(&peer).copied().unwrap_or(0),
            paused: p.pace != Pace::Off,
        })
    }

    /// Leader: the minimum applied index over all members (never-heard ones count 0);
    /// others: the value the leader last sent.
    pub fn cluster_min_applied(&self) -> Index {
        if self.role != Role::Leader {
            return self.follower_min_applied;
        }
        self.conf
            .current()
            .members
            .iter()
            .map(|m| {
                if m.id == self.cfg.id {
                    self.applied
                } else {
                    self.applied_of.get(&m.id).copied().unwrap_or(0)
                }
            })
            .min()
            .unwrap_or(self.applied)
    }

    pub fn leader_last_index(&self) -> Index {
        if self.role == Role::Leader {
            self.log.last_index()
        } else {
            self.leader_last
        }
    }

    /// DCF's `dcf_node_is_healthy`: a leader still hears from a quorum within the election
    /// timeout (always, in MINORITY mode); others heard from a leader within it.
    pub fn is_healthy(&self, now: Instant) -> bool {
        if self.role == Role::Leader {
            return self.work_mode.is_minority()
                || self.quorum_active(now, self.cfg.election_timeout);
        }
        self.leader.is_some()
            && self
                .last_leader_contact
                .is_some_and(|t| now.saturating_duration_since(t) < self.cfg.election_timeout)
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty() || self.appends_due
    }

    /// Whether the pending Ready waits for no disk: no hard state, no cut, no events (a
    /// leader's new entries and sends, a commit index).
    pub fn ready_is_sends_only(&self) -> bool {
        self.ready.hard_state.is_none()
            && self.ready.truncate_from.is_none()
            && self.ready.events.is_empty()
    }

    pub fn take_ready(&mut self) -> Ready {
        self.send_due_appends();
        std::mem::take(&mut self.ready)
    }

    /// Sends what was proposed since the last Ready; also before leadership ends, so that
    /// a leader stepping down still offers its last proposals, as it did when each
    /// proposal was sent at once.
    pub(crate) fn send_due_appends(&mut self) {
        if std::mem::take(&mut self.appends_due) && self.role == Role::Leader {
            self.broadcast_appends(self.now);
        }
    }

    /// The instant by which `tick` must be called next.
    pub fn next_deadline(&self) -> Instant {
        if self.role != Role::Leader {
            return self.election_deadline;
        }
        let mut d = self.heartbeat_deadline;
        if let Some(t) = &self.transfer {
            d = d.min(t.deadline);
        }
        if let Some(h) = self.handoff.deadline() {
            d = d.min(h);
        }
        if let Some(t) = self.commit_notice_at {
            if self.peers.values().any(|p| p.commit_sent < self.commit) {
                d = d.min(t);
            }
        }
        let last = self.log.last_index();
        for p in self.peers.values() {
            if let (Pace::Interval(gap), Some(sent)) = (p.pace, p.last_send) {
                // Only a pacing gap still ahead wakes the driver; a full window waits for acks.
                if p.next <= last && sent + gap > self.now {
                    d = d.min(sent + gap);
                }
            }
        }
        d
    }

    // ----- inputs -----

    pub fn tick(&mut self, now: Instant) {
        self.now = now;
        if self.role == Role::Leader {
            self.tick_leader(now);
        } else if now >= self.election_deadline {
            self.on_election_timeout(now);
        }
    }

    pub fn step(&mut self, from: NodeId, msg: Message, now: Instant) {
        self.now = now;
        if from == self.cfg.id || from == 0 {
            return;
        }
        if let Err(why) = self.check_plausible(from, &msg) {
            self.refuse(from, why, now);
            return;
        }
        self.handoff.heard.insert(from, now);
        self.heard_alive(from);
        match msg {
            Message::Append { header, entries } => self.handle_append(from, header, entries, now),
            Message::AppendResponse(r) => self.handle_append_response(from, r, now),
            Message::Heartbeat(h) => self.handle_heartbeat(from, h, now),
            Message::HeartbeatResponse(r) => self.handle_heartbeat_response(from, r, now),
            Message::Vote(v) => self.handle_vote(from, v, now),
            Message::VoteResponse(v) => self.handle_vote_response(from, v, now),
            Message::TimeoutNow(t) => self.handle_timeout_now(from, t, now),
            Message::TransferRequest(t) => {
                if self.role == Role::Leader && t.term == self.term {
                    // A refused request is simply not acted upon; the caller times out.
                    let _ = self.transfer_leader(from, now);
                }
            }
        }
    }

    /// The application applied everything up to `index` (may move back: DCF re-delivers
    /// after `dcf_set_applied_index`).
    pub fn applied(&mut self, index: Index) {
        self.applied = index.min(self.visible_commit);
        self.maybe_writable();
    }

    // ----- shared plumbing -----

    pub(crate) fn minority(&self) -> bool {
        self.work_mode.is_minority()
    }

    pub(crate) fn own_conf_role(&self) -> Option<ConfRole> {
        self.conf.current().member(self.cfg.id).map(|m| m.role)
    }

    /// The role this node holds when it is not leading or campaigning.
    pub(crate) fn base_role(&self) -> Role {
        match self.own_conf_role() {
            Some(ConfRole::Logger) => Role::Logger,
            Some(ConfRole::Passive) => Role::Passive,
            _ => Role::Follower,
        }
    }

    pub(crate) fn my_priority(&self) -> u64 {
        if self.stopping {
            // A stopping node announces the lowest priority, so the peer it handed over to
            // does not promote it back.
            return 0;
        }
        let configured = self
            .conf
            .current()
            .member(self.cfg.id)
            .map_or(0, |m| m.priority);
        if self.cfg.auto_priority {
            self.priority_override.unwrap_or(configured)
        } else {
            configured
        }
    }

    /// The payload of `index` could not be read back: the peer waiting for it gets nothing
    /// more until the driver has dealt with the storage fault.
    pub(crate) fn read_failed(&mut self, index: Index, error: String) {
        if !self.read_failed_raised {
            self.read_failed_raised = true;
            self.event(Event::LogReadFailed { index, error });
        }
    }

    pub(crate) fn event(&mut self, e: Event) {
        self.ready.events.push(e);
    }

    pub(crate) fn send(&mut self, to: NodeId, msg: Message) {
        self.ready.messages.push((to, msg));
    }

    pub(crate) fn persist_hard_state(&mut self) {
        self.ready.hard_state = Some(self.hard_state());
    }

    pub(crate) fn set_role(&mut self, role: Role) {
        if self.role != role {
            self.role = role;
            self.event(Event::RoleChanged {
                role,
                term: self.term,
            });
        }
    }

    pub(crate) fn set_leader(&mut self, leader: Option<NodeId>, now: Instant) {
        if self.leader != leader {
            self.leader = leader;
            // DCF learns the leader's group from its heartbeats, so never from itself.
            let other = leader.filter(|&l| l != self.cfg.id);
            if other.is_some() {
                self.followed = other;
            }
            if let Some(m) = other.and_then(|l| self.conf.current().member(l)) {
                self.handoff.leader_group = Some(m.group);
            }
            self.leader_since = leader.map(|_| now);
            self.matched = 0;
            self.missing_log_raised = false;
            self.event(Event::LeaderChanged { leader });
        }
    }

    pub(crate) fn reset_election_timer(&mut self, now: Instant) {
        // As DCF: while a leader is known, T plus up to T/10, so a failed leader is replaced
        // soon after T; without one (start, a split vote) a wide spread of T, so that
        // competing candidates fall apart.
        let t = self.cfg.election_timeout.as_micros().max(10) as u64;
        let spread = if self.leader.is_some() { t / 10 } else { t };
        let jitter = self.rng.gen_range(0..spread);
        self.election_deadline = now + self.cfg.election_timeout + Duration::from_micros(jitter);
    }

    /// Leaves leadership or candidacy (or adopts a higher term) and follows `leader`.
    pub(crate) fn become_follower(&mut self, term: Term, leader: Option<NodeId>, now: Instant) {
        self.send_due_appends();
        if term > self.term {
            self.term = term;
            self.vote = 0;
            // What matched the leader of an older term proves nothing now.
            self.matched = 0;
            self.persist_hard_state();
        }
        let role = self.base_role();
        self.set_role(role);
        self.set_leader(leader, now);
        self.peers.clear();
        self.transfer = None;
        self.writable = false;
        self.votes.clear();
        self.forced = false;
        self.reset_election_timer(now);
    }

    /// Appends one entry to the in-memory log and to the Ready.
    pub(crate) fn append_local(&mut self, e: Entry) {
        let changed = self.conf.on_append(&e);
        self.log.push(e.clone());
        self.ready.entries.push(e);
        if changed {
            self.on_membership_changed();
        }
    }

    /// Drops entries >= `from` (never committed ones: callers check).
    pub(crate) fn truncate_local(&mut self, from: Index) {
        self.log.truncate_from(from);
        self.persisted = self.persisted.min(from - 1);
        self.matched = self.matched.min(from - 1);
        // Entries of this Ready not yet handed to storage are simply dropped; storage only
        // needs to truncate what it may already hold.
        self.ready.entries.retain(|e| e.index < from);
        if self.ready.entries.is_empty() {
            self.ready.truncate_from = Some(self.ready.truncate_from.map_or(from, |t| t.min(from)));
        }
        if self.conf.on_truncate(from) {
            self.on_membership_changed();
        }
    }

    pub(crate) fn update_visible_commit(&mut self) {
        let v = self.commit.min(self.persisted);
        if v > self.visible_commit {
            self.visible_commit = v;
            self.ready.commit_index = Some(v);
        }
    }

    /// A new membership is in effect (appended, or rolled back by a truncation).
    pub(crate) fn on_membership_changed(&mut self) {
        let m = self.conf.current().clone();
        self.event(Event::MembershipChanged(m.clone()));
        let now = self.now;
        match self.role {
            Role::Leader => {
                let last = self.log.last_index();
                self.peers.retain(|id, _| m.contains(*id));
                for mem in &m.members {
                    if mem.id != self.cfg.id && !self.peers.contains_key(&mem.id) {
                        self.peers.insert(mem.id, Progress::new(last + 1, now));
                    }
                }
                if self.transfer.is_some_and(|t| !m.contains(t.target)) {
                    self.transfer = None;
                }
            }
            Role::PreCandidate | Role::Candidate => {
                if !self.own_conf_role().is_some_and(ConfRole::is_electable) {
                    self.become_follower(self.term, None, now);
                }
            }
            _ => {
                let role = self.base_role();
                self.set_role(role);
            }
        }
    }

    /// Voters heard from within `window` (and this node) form a quorum.
    pub(crate) fn quorum_active(&self, now: Instant, window: Duration) -> bool {
        let me = self.cfg.id;
        quorum::has_quorum(self.conf.current(), self.work_mode, |id| {
            id == me
                || self
                    .peers
                    .get(&id)
                    .is_some_and(|p| now.saturating_duration_since(p.last_ack) <= window)
        })
    }
}
