//! The random faults and client load a run injects, and healing them.

use std::time::Duration;

use dcf_core::consensus::{ConfChange, ConfRole, Member};
use dcf_core::types::NodeId;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::{Ev, NetConfig, Sim, MS};

impl Sim {
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

    pub(crate) fn random_fault(&mut self) -> Result<(), String> {
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
            25..=33 => {
                // A crash; its host either vanishes (no signal) or refuses datagrams to the
                // dead port, which each survivor's probe notices after a while.
                let id = pick(&mut self.rng);
                self.crash(id);
                let d = self.rng.gen_range(10 * MS..1500 * MS);
                self.push(now_us + d, Ev::Restart { node: id });
                if self.rng.gen_bool(0.6) {
                    for &o in ids.iter().filter(|&&o| o != id) {
                        if self.rng.gen_bool(0.8) {
                            let d = self.rng.gen_range(0..20 * MS);
                            self.push(now_us + d, Ev::Gone { to: o, about: id });
                        }
                    }
                }
            }
            34..=36 => {
                // A false "port unreachable" about a node that may well be alive.
                let (to, about) = (pick(&mut self.rng), pick(&mut self.rng));
                self.trace_fault(format!("false signal at {to} about {about}"));
                self.push(now_us, Ev::Gone { to, about });
            }
            37..=39 => {
                // A planned stop: the leader hands over, then goes down within a bound.
                let id = self.leader().unwrap_or_else(|| pick(&mut self.rng));
                self.trace_fault(format!("planned stop of {id}"));
                let bound = self.nodes[&id].cfg.heartbeat_interval.as_micros() as u64;
                self.with(id, |r, now| r.hand_over(now))?;
                let epoch = self.nodes[&id].epoch;
                let d = self.rng.gen_range(0..=bound);
                self.push(now_us + d, Ev::Stop { node: id, epoch });
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
