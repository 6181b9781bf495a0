//! Deterministic cluster simulator for `dcf_core::consensus`: N replicas, a virtual clock, a
//! seeded network (drop, delay, duplicate, reorder, partition), storage that loses what was
//! not reported durable on a crash, and invariant checks after every step. `Pump` is the
//! hand-driven cluster beside it: instant delivery and durability, no faults, no checks.

#![allow(dead_code)]

pub mod check;
pub mod pump;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dcf_core::consensus::{
    ConfChange, ConfRole, Event, Exception, Member, Membership, Message, Replica, ReplicaConfig,
    Role,
};
use dcf_core::types::{Entry, HardState, Index, NodeId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use check::Checker;
pub use pump::Pump;

pub const MS: u64 = 1000;

/// Network behaviour; all probabilities in [0,1].
#[derive(Clone, Debug)]
pub struct NetConfig {
    pub drop: f64,
    pub duplicate: f64,
    /// Probability of a long delay (which reorders).
    pub long_delay: f64,
    pub min_delay_us: u64,
    pub max_delay_us: u64,
    pub max_long_delay_us: u64,
}

impl NetConfig {
    pub fn perfect() -> NetConfig {
        NetConfig {
            drop: 0.0,
            duplicate: 0.0,
            long_delay: 0.0,
            min_delay_us: 200,
            max_delay_us: 1000,
            max_long_delay_us: 1000,
        }
    }
}

#[derive(Debug)]
enum Ev {
    Deliver {
        to: NodeId,
        from: NodeId,
        epoch: u64,
        msg: Message,
    },
    Tick {
        node: NodeId,
        epoch: u64,
    },
    Flush {
        node: NodeId,
        epoch: u64,
    },
    Restart {
        node: NodeId,
    },
    Rebuild {
        node: NodeId,
    },
    Heal,
    Fault,
    Client,
}

struct Queued {
    at: u64,
    seq: u64,
    ev: Ev,
}
impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

pub struct Node {
    pub id: NodeId,
    pub cfg: ReplicaConfig,
    /// Membership passed at every start (the cluster JSON).
    pub membership0: Membership,
    pub replica: Option<Replica>,
    pub hs: HardState,
    /// Durable log: the entries after `base`.
    pub durable: Vec<Entry>,
    /// (index, term) before the first durable entry: (0,0), or an applied base after a
    /// rebuild (term unknown: 0).
    pub base: (Index, u64),
    pending: Vec<(Option<Index>, Vec<Entry>)>,
    flush_scheduled: bool,
    pub epoch: u64,
    tick_at: Option<u64>,
    /// Last commit index seen (per incarnation).
    pub commit_seen: Index,
    /// Applied by the simulated application (per incarnation).
    pub applied: Index,
}

pub struct Sim {
    pub rng: ChaCha8Rng,
    pub now_us: u64,
    pub base: Instant,
    queue: BinaryHeap<Reverse<Queued>>,
    seq: u64,
    pub nodes: BTreeMap<NodeId, Node>,
    pub initial: Membership,
    pub net: NetConfig,
    /// Directed links that drop everything.
    pub cut: BTreeSet<(NodeId, NodeId)>,
    pub check: Checker,
    pub faults: bool,
    pub client: bool,
    pub next_key: u64,
    pub trace: bool,
    pub steps: u64,
    /// Every event every replica reported, in order.
    pub events: Vec<(NodeId, Event)>,
    /// On MISSING_LOG, rebuild the node from the leader (as gs_ctl build does).
    pub rebuild_on_missing_log: bool,
    /// Rebuild with an unknown base term.
    pub rebuild_unknown_term: bool,
}

impl Sim {
    pub fn new(seed: u64, members: Vec<Member>, mk_cfg: impl Fn(NodeId) -> ReplicaConfig) -> Sim {
        let base = Instant::now();
        let initial = Membership { members };
        let mut sim = Sim {
            rng: ChaCha8Rng::seed_from_u64(seed),
            now_us: 0,
            base,
            queue: BinaryHeap::new(),
            seq: 0,
            nodes: BTreeMap::new(),
            initial: initial.clone(),
            net: NetConfig::perfect(),
            cut: BTreeSet::new(),
            check: Checker::default(),
            faults: false,
            client: false,
            next_key: 1,
            trace: std::env::var_os("DCF_SIM_TRACE").is_some(),
            steps: 0,
            events: Vec::new(),
            rebuild_on_missing_log: false,
            rebuild_unknown_term: false,
        };
        for m in &initial.members {
            let cfg = mk_cfg(m.id);
            sim.nodes.insert(
                m.id,
                Node {
                    id: m.id,
                    cfg,
                    membership0: initial.clone(),
                    replica: None,
                    hs: HardState::default(),
                    durable: Vec::new(),
                    base: (0, 0),
                    pending: Vec::new(),
                    flush_scheduled: false,
                    epoch: 0,
                    tick_at: None,
                    commit_seen: 0,
                    applied: 0,
                },
            );
        }
        let ids: Vec<NodeId> = sim.nodes.keys().copied().collect();
        for id in ids {
            sim.start_node(id).expect("initial start");
        }
        sim
    }

    pub fn now(&self) -> Instant {
        self.base + Duration::from_micros(self.now_us)
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Queued {
            at,
            seq: self.seq,
            ev,
        }));
    }

    fn start_node(&mut self, id: NodeId) -> Result<(), String> {
        let seed = self.rng.gen();
        let now = self.now();
        let n = self.nodes.get_mut(&id).ok_or("no such node")?;
        let r = Replica::new(
            n.cfg.clone(),
            n.membership0.clone(),
            n.hs,
            n.base,
            n.durable.clone(),
            seed,
            now,
        )
        .map_err(|e| format!("node {id} failed to start: {e}"))?;
        n.replica = Some(r);
        n.commit_seen = n.base.0;
        n.applied = n.base.0;
        n.tick_at = None;
        self.drain(id)
    }

    pub fn crash(&mut self, id: NodeId) {
        if let Some(n) = self.nodes.get_mut(&id) {
            if n.replica.take().is_some() {
                n.pending.clear();
                n.flush_scheduled = false;
                n.epoch += 1;
                n.tick_at = None;
                if self.trace {
                    eprintln!("[{}] crash {id}", self.now_us);
                }
            }
        }
    }

    pub fn restart(&mut self, id: NodeId) -> Result<(), String> {
        if self.nodes.get(&id).is_some_and(|n| n.replica.is_none()) {
            if self.trace {
                eprintln!("[{}] restart {id}", self.now_us);
            }
            self.start_node(id)?;
        }
        Ok(())
    }

    /// Adds and starts a node that was not in the initial membership; it starts with
    /// `membership` (which must contain it), as a new DCF node starts with its cfg_str.
    pub fn add_node(&mut self, cfg: ReplicaConfig, membership: Membership) -> Result<(), String> {
        let id = cfg.id;
        self.nodes.insert(
            id,
            Node {
                id,
                cfg,
                membership0: membership,
                replica: None,
                hs: HardState::default(),
                durable: Vec::new(),
                base: (0, 0),
                pending: Vec::new(),
                flush_scheduled: false,
                epoch: 0,
                tick_at: None,
                commit_seen: 0,
                applied: 0,
            },
        );
        self.start_node(id)
    }

    /// Replaces the node's state by a copy of the leader's applied state: empty log, applied
    /// base just before the leader's first index, term unknown (SPEC B6 "Build").
    pub fn rebuild(&mut self, id: NodeId) -> Result<(), String> {
        // Any leader will do: it may not be writable yet precisely because it needs this node.
        let l = self
            .nodes
            .values()
            .filter_map(|n| n.replica.as_ref())
            .filter(|r| r.role() == Role::Leader)
            .max_by_key(|r| r.term())
            .map(|r| r.id());
        let Some(l) = l else {
            // Like the exception callback, try again later.
            if self.replica(id).is_some() {
                self.push(self.now_us + 50 * MS, Ev::Rebuild { node: id });
            }
            return Ok(());
        };
        let first = self.replica(l).map_or(1, |r| r.first_index());
        // A known base term (like a snapshot's). With an unknown one (0) the node abstains
        // from votes until a leader sends it entries, which can stall an election that
        // needs its vote if that leader dies first: rules tests cover that case.
        let base_term = if self.rebuild_unknown_term {
            0
        } else {
            self.replica(l)
                .and_then(|r| r.term_at(first - 1))
                .unwrap_or(0)
        };
        let mut membership = self
            .replica(l)
            .map(|r| r.base_membership().clone())
            .unwrap_or_default();
        // Added after the base: it starts as the PASSIVE it was added as.
        if !membership.contains(id) {
            membership.members.push(member(id, ConfRole::Passive));
        }
        // A node whose log reaches the leader's first index can catch up by replication,
        // unless it holds another entry at the leader's base: then its tail diverged below
        // what the leader still has (DCF's second MISSING_LOG case) and only a build helps.
        let leader_base_term = self.replica(l).and_then(|r| r.term_at(first - 1));
        let diverged = |r: &Replica| {
            matches!(
                (r.term_at(first - 1), leader_base_term),
                (Some(a), Some(b)) if a != 0 && b != 0 && a != b
            )
        };
        if first <= 1
            || self
                .replica(id)
                .is_some_and(|r| r.last_index() + 1 >= first && !diverged(r))
        {
            return Ok(());
        }
        if self.trace {
            eprintln!("[{}] rebuild {id} at base {}", self.now_us, first - 1);
        }
        // The term and vote survive: a rebuild that lost them could vote twice in a term
        // it voted in before (the runtime must keep the hard state across a rebuild).
        let hs = self.nodes.get(&id).map(|n| n.hs).unwrap_or_default();
        self.wipe(id);
        if let Some(n) = self.nodes.get_mut(&id) {
            n.base = (first - 1, base_term);
            n.hs = hs;
            n.membership0 = membership;
        }
        self.restart(id)
    }

    /// Crashes the node and deletes its storage.
    pub fn wipe(&mut self, id: NodeId) {
        self.crash(id);
        if let Some(n) = self.nodes.get_mut(&id) {
            n.durable.clear();
            n.base = (0, 0);
            n.hs = HardState::default();
        }
    }

    /// Cuts every link to and from `id`.
    pub fn isolate(&mut self, id: NodeId) {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for o in ids {
            if o != id {
                self.cut.insert((id, o));
                self.cut.insert((o, id));
            }
        }
    }

    pub fn run_for(&mut self, us: u64) -> Result<(), String> {
        self.run_until(us, |_| false).map(|_| ())
    }

    pub fn replica(&self, id: NodeId) -> Option<&Replica> {
        self.nodes.get(&id).and_then(|n| n.replica.as_ref())
    }

    pub fn replica_mut(&mut self, id: NodeId) -> Option<&mut Replica> {
        self.nodes.get_mut(&id).and_then(|n| n.replica.as_mut())
    }

    /// Runs an operation on a live replica, then processes its output.
    pub fn with<T>(
        &mut self,
        id: NodeId,
        f: impl FnOnce(&mut Replica, Instant) -> T,
    ) -> Result<Option<T>, String> {
        let now = self.now();
        let Some(r) = self.replica_mut(id) else {
            return Ok(None);
        };
        let out = f(r, now);
        self.drain(id)?;
        Ok(Some(out))
    }

    /// The writable leader with the highest term, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.nodes
            .values()
            .filter_map(|n| n.replica.as_ref())
            .filter(|r| r.can_write())
            .max_by_key(|r| r.term())
            .map(|r| r.id())
    }

    /// Proposes `count` entries at the current writable leader; records them for the
    /// acknowledgement check. Returns the indexes.
    pub fn propose(&mut self, count: usize) -> Result<Option<(NodeId, Index, Index)>, String> {
        let Some(l) = self.leader() else {
            return Ok(None);
        };
        let keys: Vec<u64> = (0..count as u64).map(|k| self.next_key + k).collect();
        self.next_key += count as u64;
        let items: Vec<(u64, Bytes)> = keys
            .iter()
            .map(|&k| (k, Bytes::from(k.to_le_bytes().to_vec())))
            .collect();
        let res = self.with(l, |r, now| r.propose_batch(items, now))?;
        match res {
            Some(Ok(range)) => {
                let term = self.replica(l).map_or(0, |r| r.term());
                if self.trace {
                    eprintln!(
                        "[{}] node {l} proposed {range:?} in term {term}",
                        self.now_us
                    );
                }
                for (i, k) in range.clone().zip(keys) {
                    self.check.proposed(l, term, i, k);
                }
                Ok(Some((l, range.start, range.end - 1)))
            }
            _ => Ok(None),
        }
    }

    /// Processes everything the replica `id` has ready, runs the checks, applies commits.
    pub fn drain(&mut self, id: NodeId) -> Result<(), String> {
        loop {
            let now_us = self.now_us;
            let Some(n) = self.nodes.get_mut(&id) else {
                return Ok(());
            };
            let Some(r) = n.replica.as_mut() else {
                return Ok(());
            };
            if !r.has_ready() {
                break;
            }
            let ready = r.take_ready();
            if let Some(hs) = ready.hard_state {
                n.hs = hs;
            }
            // Log matching: every appended entry, with the term of the entry before it.
            let r = n.replica.as_ref().expect("live");
            // At the base the term may be unknown (rebuild): skip that link.
            let mut prev = ready
                .entries
                .first()
                .filter(|e| e.index > r.first_index())
                .and_then(|e| r.term_at(e.index - 1));
            for e in &ready.entries {
                self.check.appended(id, e, prev)?;
                prev = Some(e.term);
            }
            for ev in &ready.events {
                self.check.event(id, r, ev)?;
                if self.trace {
                    eprintln!("[{now_us}] node {id}: {ev:?}");
                }
            }
            if self.rebuild_on_missing_log
                && ready
                    .events
                    .contains(&Event::Exception(Exception::MissingLog))
            {
                self.seq += 1;
                self.queue.push(Reverse(Queued {
                    at: now_us + MS,
                    seq: self.seq,
                    ev: Ev::Rebuild { node: id },
                }));
            }
            self.events
                .extend(ready.events.iter().map(|e| (id, e.clone())));
            if ready.truncate_from.is_some() || !ready.entries.is_empty() {
                n.pending.push((ready.truncate_from, ready.entries));
                if !n.flush_scheduled {
                    n.flush_scheduled = true;
                    let epoch = n.epoch;
                    let d = self.rng.gen_range(50..3000);
                    self.push(now_us + d, Ev::Flush { node: id, epoch });
                }
            }
            for (to, msg) in ready.messages {
                self.route(id, to, msg);
            }
            self.observe_commit(id)?;
        }
        // Schedule the next tick.
        let now_us = self.now_us;
        let n = self.nodes.get_mut(&id).expect("node");
        if let Some(r) = n.replica.as_ref() {
            let d = r.next_deadline();
            // Round up: a tick before the deadline would do nothing and repeat forever.
            let at = d
                .saturating_duration_since(self.base)
                .as_nanos()
                .div_ceil(1000) as u64;
            let at = at.max(now_us);
            if n.tick_at.is_none_or(|t| at < t || t < now_us) {
                n.tick_at = Some(at);
                let epoch = n.epoch;
                self.push(at, Ev::Tick { node: id, epoch });
            }
        }
        Ok(())
    }

    fn observe_commit(&mut self, id: NodeId) -> Result<(), String> {
        let n = self.nodes.get_mut(&id).expect("node");
        let Some(r) = n.replica.as_mut() else {
            return Ok(());
        };
        let c = r.commit_index();
        if c < n.commit_seen {
            return Err(format!(
                "node {id}: commit index went back from {} to {c}",
                n.commit_seen
            ));
        }
        if c > n.commit_seen {
            let from = n.commit_seen + 1;
            for i in from..=c {
                let e = r
                    .entry(i)
                    .ok_or_else(|| format!("node {id}: committed entry {i} is not in its log"))?;
                self.check.committed(id, r, e)?;
            }
            n.commit_seen = c;
        }
        // The application applies in order up to the commit.
        if n.applied < c {
            for i in n.applied + 1..=c {
                if let Some(e) = r.entry(i) {
                    self.check.applied(id, e)?;
                }
            }
            n.applied = c;
            r.applied(c);
        }
        Ok(())
    }

    fn route(&mut self, from: NodeId, to: NodeId, msg: Message) {
        if self.cut.contains(&(from, to)) || !self.nodes.contains_key(&to) {
            return;
        }
        if self.net.drop > 0.0 && self.rng.gen_bool(self.net.drop) {
            return;
        }
        let copies = if self.net.duplicate > 0.0 && self.rng.gen_bool(self.net.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let d = if self.net.long_delay > 0.0 && self.rng.gen_bool(self.net.long_delay) {
                self.rng
                    .gen_range(self.net.min_delay_us..=self.net.max_long_delay_us)
            } else {
                self.rng
                    .gen_range(self.net.min_delay_us..=self.net.max_delay_us)
            };
            let epoch = self.nodes[&to].epoch;
            let msg = msg.clone();
            self.push(
                self.now_us + d,
                Ev::Deliver {
                    to,
                    from,
                    epoch,
                    msg,
                },
            );
        }
    }

    fn flush(&mut self, id: NodeId) -> Result<(), String> {
        let n = self.nodes.get_mut(&id).expect("node");
        n.flush_scheduled = false;
        let base = n.base.0;
        for (trunc, entries) in std::mem::take(&mut n.pending) {
            if let Some(t) = trunc {
                if t <= base {
                    return Err(format!(
                        "node {id}: truncate_from {t} at or below the base {base}"
                    ));
                }
                n.durable.truncate((t - base - 1) as usize);
            }
            if let Some(first) = entries.first() {
                if first.index != base + n.durable.len() as Index + 1 {
                    return Err(format!(
                        "node {id}: storage asked to append {} after {}",
                        first.index,
                        n.durable.len()
                    ));
                }
            }
            n.durable.extend(entries);
        }
        if let (Some(last), Some(r)) = (n.durable.last(), n.replica.as_mut()) {
            r.persisted(last.index, last.term);
        }
        self.drain(id)
    }

    /// Processes one event. Returns false when the queue is empty.
    pub fn step(&mut self) -> Result<bool, String> {
        let Some(Reverse(q)) = self.queue.pop() else {
            return Ok(false);
        };
        self.now_us = self.now_us.max(q.at);
        self.steps += 1;
        let now = self.now();
        match q.ev {
            Ev::Deliver {
                to,
                from,
                epoch,
                msg,
            } => {
                let n = self.nodes.get_mut(&to).expect("node");
                if n.epoch == epoch && !self.cut.contains(&(from, to)) {
                    if let Some(r) = n.replica.as_mut() {
                        if self.trace {
                            eprintln!("[{}] {from}->{to} {}", self.now_us, brief(&msg));
                        }
                        r.step(from, msg, now);
                        self.drain(to)?;
                    }
                }
            }
            Ev::Tick { node, epoch } => {
                let n = self.nodes.get_mut(&node).expect("node");
                if n.epoch == epoch && n.tick_at == Some(q.at) {
                    n.tick_at = None;
                    if let Some(r) = n.replica.as_mut() {
                        r.tick(now);
                        self.drain(node)?;
                    }
                }
            }
            Ev::Flush { node, epoch } => {
                if self.nodes[&node].epoch == epoch {
                    self.flush(node)?;
                }
            }
            Ev::Restart { node } => self.restart(node)?,
            Ev::Rebuild { node } => self.rebuild(node)?,
            Ev::Heal => self.cut.clear(),
            Ev::Fault => {
                if self.faults {
                    self.random_fault()?;
                    let d = self.rng.gen_range(5 * MS..80 * MS);
                    self.push(self.now_us + d, Ev::Fault);
                }
            }
            Ev::Client => {
                if self.client {
                    let k = self.rng.gen_range(1..4);
                    self.propose(k)?;
                    let d = self.rng.gen_range(MS..15 * MS);
                    self.push(self.now_us + d, Ev::Client);
                }
            }
        }
        Ok(true)
    }

    pub fn start_faults(&mut self) {
        self.faults = true;
        self.push(self.now_us + 10 * MS, Ev::Fault);
    }

    pub fn start_client(&mut self) {
        self.client = true;
        self.push(self.now_us + MS, Ev::Client);
    }

    /// Stops faults: heals partitions, restarts crashed nodes, perfect network.
    pub fn heal_all(&mut self) -> Result<(), String> {
        self.faults = false;
        self.cut.clear();
        self.net = NetConfig::perfect();
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for &id in &ids {
            self.restart(id)?;
        }
        // Replication pacing (pause_peer) is an operator fault too: lift it.
        for &id in &ids {
            for &peer in &ids {
                self.with(id, |r, now| {
                    let _ = r.pause_peer(peer, Some(Duration::ZERO), now);
                })?;
            }
        }
        Ok(())
    }

    /// Runs until `cond` holds or `limit_us` of virtual time passed.
    pub fn run_until(
        &mut self,
        limit_us: u64,
        mut cond: impl FnMut(&Sim) -> bool,
    ) -> Result<bool, String> {
        let end = self.now_us + limit_us;
        let max_steps = self.steps + 200_000;
        loop {
            if self.steps > max_steps {
                return Err(format!(
                    "livelock: 200000 steps without reaching virtual time {end}"
                ));
            }
            if cond(self) {
                return Ok(true);
            }
            match self.queue.peek() {
                Some(Reverse(q)) if q.at <= end => {}
                _ => return Ok(cond(self)),
            }
            self.step()?;
        }
    }

    fn random_fault(&mut self) -> Result<(), String> {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        let pick = |rng: &mut ChaCha8Rng| ids[rng.gen_range(0..ids.len())];
        let x: u32 = self.rng.gen_range(0..100);
        let now_us = self.now_us;
        match x {
            0..=19 => {
                // Partition into two sides, healed later.
                let side: Vec<NodeId> = ids
                    .iter()
                    .copied()
                    .filter(|_| self.rng.gen_bool(0.5))
                    .collect();
                for &a in &ids {
                    for &b in &ids {
                        if side.contains(&a) != side.contains(&b) {
                            self.cut.insert((a, b));
                        }
                    }
                }
                let d = self.rng.gen_range(50 * MS..1500 * MS);
                self.push(now_us + d, Ev::Heal);
                self.trace_fault(format!("partition {side:?}"));
            }
            20..=24 => {
                // One-way link failure, or a node that hears nothing but can still send.
                let (a, b) = (pick(&mut self.rng), pick(&mut self.rng));
                if self.rng.gen_bool(0.5) {
                    self.cut.insert((a, b));
                } else {
                    for &o in ids.iter().filter(|&&o| o != b) {
                        self.cut.insert((o, b));
                    }
                    self.trace_fault(format!("node {b} deaf"));
                }
                let d = self.rng.gen_range(50 * MS..800 * MS);
                self.push(now_us + d, Ev::Heal);
            }
            25..=39 => {
                let id = pick(&mut self.rng);
                self.crash(id);
                let d = self.rng.gen_range(10 * MS..1500 * MS);
                self.push(now_us + d, Ev::Restart { node: id });
            }
            40..=46 => {
                if let Some(l) = self.leader() {
                    let t = pick(&mut self.rng);
                    self.trace_fault(format!("transfer {l} -> {t}"));
                    self.with(l, |r, now| {
                        let _ = r.transfer_leader(t, now);
                    })?;
                }
            }
            47..=49 => {
                let id = pick(&mut self.rng);
                self.with(id, |r, now| r.demote(now))?;
            }
            50..=54 => {
                let id = pick(&mut self.rng);
                self.with(id, |r, now| r.timeout_now(now))?;
            }
            55..=61 => {
                let id = pick(&mut self.rng);
                let p = self.rng.gen_range(0..4);
                self.with(id, |r, _| r.set_priority(p))?;
            }
            62..=71 => self.random_conf_change()?,
            72..=76 => {
                if let Some(l) = self.leader() {
                    let peer = pick(&mut self.rng);
                    let pace = match self.rng.gen_range(0..3) {
                        0 => Some(Duration::ZERO),
                        _ => Some(Duration::from_micros(self.rng.gen_range(0..30 * MS))),
                    };
                    self.with(l, |r, now| {
                        let _ = r.pause_peer(peer, pace, now);
                    })?;
                }
            }
            77..=81 => {
                let id = pick(&mut self.rng);
                self.with(id, |r, _| {
                    let k = r.cluster_min_applied().min(r.applied_index());
                    r.compact(k.saturating_sub(3).max(1));
                })?;
            }
            82..=89 => {
                self.net.drop = [0.0, 0.01, 0.05, 0.2][self.rng.gen_range(0..4)];
                self.net.duplicate = [0.0, 0.02, 0.1][self.rng.gen_range(0..3)];
                self.net.long_delay = [0.0, 0.05, 0.2][self.rng.gen_range(0..3)];
                self.net.max_long_delay_us = self.rng.gen_range(5 * MS..300 * MS);
            }
            _ => {
                // Restart everything that is down.
                for id in ids.clone() {
                    self.restart(id)?;
                }
            }
        }
        Ok(())
    }

    fn trace_fault(&self, s: String) {
        if self.trace {
            eprintln!("[{}] fault: {s}", self.now_us);
        }
    }

    /// Toggles a random weight-1 FOLLOWER/PASSIVE member (not the leader) at the leader.
    fn random_conf_change(&mut self) -> Result<(), String> {
        let Some(l) = self.leader() else {
            return Ok(());
        };
        let m = self
            .replica(l)
            .map(|r| r.membership().clone())
            .unwrap_or_default();
        let electable = m.members.iter().filter(|x| x.role.is_electable()).count();
        let outside: Vec<Member> = self
            .initial
            .members
            .iter()
            .filter(|x| !m.contains(x.id))
            .cloned()
            .collect();
        if !outside.is_empty() && self.rng.gen_bool(0.5) {
            // Re-add as PASSIVE (openGauss adds PASSIVE, then promotes).
            let mut x = outside[self.rng.gen_range(0..outside.len())].clone();
            if x.role != ConfRole::Logger {
                x.role = ConfRole::Passive;
            }
            x.weight = 1;
            self.trace_fault(format!("add node {}", x.id));
            self.with(l, |r, now| {
                let _ = r.propose_conf_change(ConfChange::AddNode(x), now);
            })?;
            return Ok(());
        }
        if self.rng.gen_bool(0.3) {
            let cands: Vec<&Member> = m
                .members
                .iter()
                .filter(|x| {
                    x.id != l && x.weight == 1 && (x.role != ConfRole::Follower || electable > 2)
                })
                .collect();
            if cands.is_empty() {
                return Ok(());
            }
            let id = cands[self.rng.gen_range(0..cands.len())].id;
            self.trace_fault(format!("remove node {id}"));
            self.with(l, |r, now| {
                let _ = r.propose_conf_change(ConfChange::RemoveNode(id), now);
            })?;
            return Ok(());
        }
        let cands: Vec<&Member> = m
            .members
            .iter()
            .filter(|x| {
                x.id != l
                    && x.weight == 1
                    && matches!(x.role, ConfRole::Follower | ConfRole::Passive)
            })
            .collect();
        if cands.is_empty() {
            return Ok(());
        }
        let c = cands[self.rng.gen_range(0..cands.len())];
        let role = if c.role == ConfRole::Passive {
            ConfRole::Follower
        } else {
            ConfRole::Passive
        };
        // Keep at least two voters besides LOGGERs so the cluster can still elect.
        if role == ConfRole::Passive && electable <= 2 {
            return Ok(());
        }
        let change = ConfChange::Update {
            id: c.id,
            role: Some(role),
            group: None,
            priority: None,
        };
        self.trace_fault(format!("conf change {change:?}"));
        self.with(l, |r, now| {
            let _ = r.propose_conf_change(change, now);
        })?;
        Ok(())
    }
}

pub fn brief(m: &Message) -> String {
    match m {
        Message::Append { header, entries } => format!(
            "Append t{} prev=({},{}) n={} commit={}",
            header.term,
            header.prev_index,
            header.prev_term,
            entries.len(),
            header.commit
        ),
        other => format!("{other:?}"),
    }
}

pub fn member(id: NodeId, role: ConfRole) -> Member {
    Member {
        ip: "127.0.0.1".into(),
        port: 1000 + id as u16,
        ..Member::new(id, role)
    }
}

pub fn is_leader(r: &Replica) -> bool {
    r.role() == Role::Leader
}
