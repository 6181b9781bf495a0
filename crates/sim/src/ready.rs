//! What a replica hands over: storage with delayed durability, a faulty network, and the
//! invariant checks on every entry, event and commit.

use std::cmp::Reverse;

use dcf_core::consensus::{Event, Exception, Message};
use dcf_core::types::{Index, NodeId};
use rand::Rng;

use crate::{Ev, Queued, Sim, MS};

impl Sim {
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

    pub(crate) fn observe_commit(&mut self, id: NodeId) -> Result<(), String> {
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

    pub(crate) fn route(&mut self, from: NodeId, to: NodeId, msg: Message) {
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

    pub(crate) fn flush(&mut self, id: NodeId) -> Result<(), String> {
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
}
