//! A hand-driven cluster: messages are delivered at once, storage reports durable at once
//! (unless held back), nodes can be marked down. Rule tests drive it step by step and the
//! benchmark measures the consensus core through it, so it adds as little as it can: no
//! checks, no randomness, no scheduling beyond "deliver everything until quiet".

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use dcf_core::consensus::{ConfRole, Member, Membership, Message, Replica, ReplicaConfig};
use dcf_core::types::{HardState, Index, NodeId, Term};

/// Virtual time between two ticks in `advance`.
pub const TICK: Duration = Duration::from_millis(5);

pub struct Pump {
    /// Node `id` is `r[id - 1]`.
    pub r: Vec<Replica>,
    pub now: Instant,
    /// Nodes whose storage does not report durability (reports held back in `held`).
    pub hold: BTreeSet<NodeId>,
    pub held: BTreeMap<NodeId, (Index, Term)>,
    /// Nodes that neither run nor receive.
    pub down: BTreeSet<NodeId>,
    /// Every hard state any node asked to persist, in order.
    pub hard_states: Vec<(NodeId, HardState)>,
    /// Kept across rounds so that pumping allocates nothing once warm.
    queue: Vec<(NodeId, NodeId, Message)>,
}

impl Pump {
    /// Nodes 1..=n, node 1 the configured LEADER, all starting from an empty log; `mk_cfg`
    /// gives each node's configuration.
    pub fn new(n: u32, mk_cfg: impl Fn(NodeId) -> ReplicaConfig) -> Pump {
        let members = (1..=n)
            .map(|id| {
                let role = if id == 1 {
                    ConfRole::Leader
                } else {
                    ConfRole::Follower
                };
                Member::new(id, role)
            })
            .collect();
        let m = Membership { members };
        let now = Instant::now();
        let r = (1..=n)
            .map(|id| {
                let (hs, base) = (HardState::default(), (0, 0));
                Replica::new(mk_cfg(id), m.clone(), hs, base, vec![], id as u64, now)
                    .expect("replica starts")
            })
            .collect();
        Pump {
            r,
            now,
            hold: BTreeSet::new(),
            held: BTreeMap::new(),
            down: BTreeSet::new(),
            hard_states: Vec::new(),
            queue: Vec::new(),
        }
    }

    pub fn node(&mut self, id: NodeId) -> &mut Replica {
        &mut self.r[id as usize - 1]
    }

    /// Drains every live node's output and delivers every message until all are quiet.
    pub fn settle(&mut self) {
        let mut queue = std::mem::take(&mut self.queue);
        loop {
            // Output taken this round may lead to more (a durability report, a delivery):
            // quiet means a round that found nothing.
            let mut busy = false;
            for k in 0..self.r.len() {
                let id = k as NodeId + 1;
                if self.down.contains(&id) || !self.r[k].has_ready() {
                    continue;
                }
                busy = true;
                let r = &mut self.r[k];
                let ready = r.take_ready();
                if let Some(hs) = ready.hard_state {
                    self.hard_states.push((id, hs));
                }
                if let Some(last) = ready.entries.last() {
                    if self.hold.contains(&id) {
                        self.held.insert(id, (last.index, last.term));
                    } else {
                        r.persisted(last.index, last.term);
                    }
                }
                if ready.commit_index.is_some() {
                    let c = r.commit_index();
                    r.applied(c);
                }
                for (to, msg) in ready.messages {
                    if !self.down.contains(&to) {
                        queue.push((id, to, msg));
                    }
                }
            }
            let now = self.now;
            for (from, to, msg) in queue.drain(..) {
                self.r[to as usize - 1].step(from, msg, now);
            }
            if !busy {
                break;
            }
        }
        self.queue = queue;
    }

    /// Advances virtual time by `d` in steps of `TICK`, ticking every live node.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += TICK;
            let now = self.now;
            for (k, r) in self.r.iter_mut().enumerate() {
                if !self.down.contains(&(k as NodeId + 1)) {
                    r.tick(now);
                }
            }
            self.settle();
        }
    }

    /// Reports every held durability report and stops holding any.
    pub fn release(&mut self) {
        self.hold.clear();
        for (id, (i, t)) in std::mem::take(&mut self.held) {
            self.node(id).persisted(i, t);
        }
        self.settle();
    }
}
