//! Starting, crashing, restarting, rebuilding and isolating simulated nodes.

use dcf_core::consensus::{ConfRole, Membership, Replica, ReplicaConfig, Role};
use dcf_core::types::{HardState, NodeId};
use rand::Rng;

use crate::{member, Ev, Node, Sim, MS};

impl Sim {
    pub(crate) fn start_node(&mut self, id: NodeId) -> Result<(), String> {
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
        self.nodes.insert(id, Node::new(id, cfg, membership));
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
}
