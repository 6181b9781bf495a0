//! Deterministic cluster simulator for `dcf_core::consensus`: N replicas, a virtual clock, a
//! seeded network (drop, delay, duplicate, reorder, partition), storage that loses what was
//! not reported durable on a crash, and invariant checks after every step. `Pump` is the
//! hand-driven cluster beside it: instant delivery and durability, no faults, no checks.

#![allow(dead_code)]

pub mod check;
mod faults;
mod lifecycle;
pub mod pump;
mod ready;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dcf_core::consensus::{
    ConfRole, Event, Member, Membership, Message, Replica, ReplicaConfig, Role,
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
    /// `to` learns that `about`'s process is gone (a probe refused), true or not.
    Gone {
        to: NodeId,
        about: NodeId,
    },
    /// The end of a planned stop: the node goes down (if it was not restarted since).
    Stop {
        node: NodeId,
        epoch: u64,
    },
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

impl Node {
    /// A node never started: empty disk, no replica yet.
    fn new(id: NodeId, cfg: ReplicaConfig, membership0: Membership) -> Node {
        Node {
            id,
            cfg,
            membership0,
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
        }
    }
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
            sim.nodes
                .insert(m.id, Node::new(m.id, cfg, initial.clone()));
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
            Ev::Gone { to, about } => {
                if self.trace {
                    eprintln!("[{}] node {to} learns node {about} is gone", self.now_us);
                }
                self.with(to, |r, now| r.leader_gone(about, now))?;
            }
            Ev::Stop { node, epoch } => {
                if self.nodes.get(&node).is_some_and(|n| n.epoch == epoch) {
                    self.crash(node);
                    let d = self.rng.gen_range(10 * MS..1500 * MS);
                    self.push(self.now_us + d, Ev::Restart { node });
                }
            }
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
