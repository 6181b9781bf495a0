//! Safety invariants, checked incrementally as the simulation runs.

use std::collections::HashMap;

use bytes::Bytes;
use dcf_core::consensus::{Event, Replica, Role};
use dcf_core::types::{Entry, EntryKind, Index, NodeId, Term};

#[derive(Clone, Debug, PartialEq, Eq)]
struct Fingerprint {
    key: u64,
    kind: EntryKind,
    data: Bytes,
}

impl Fingerprint {
    fn of(e: &Entry) -> Fingerprint {
        Fingerprint {
            key: e.key,
            kind: e.kind,
            data: e.data.clone(),
        }
    }
}

#[derive(Default)]
pub struct Checker {
    /// Election safety: the leader of each term.
    leaders: HashMap<Term, NodeId>,
    /// Log matching: every (index, term) ever appended anywhere, with the term before it.
    registry: HashMap<(Index, Term), (Option<Term>, Fingerprint)>,
    /// The one committed history (index i at i-1) and the term in which each was first
    /// seen committed.
    history: Vec<(Term, Fingerprint)>,
    commit_term: Vec<Term>,
    /// Proposals by index: (term, key).
    proposals: HashMap<Index, Vec<(Term, u64)>>,
    /// Acknowledged to the client: (index, key).
    pub acked: Vec<(Index, u64)>,
    pub elections: u64,
}

impl Checker {
    pub fn appended(&mut self, node: NodeId, e: &Entry, prev: Option<Term>) -> Result<(), String> {
        let fp = Fingerprint::of(e);
        match self.registry.get_mut(&(e.index, e.term)) {
            Some((p, known)) => {
                if *known != fp {
                    return Err(format!(
                        "log matching: node {node} appended a different entry at ({}, {})",
                        e.index, e.term
                    ));
                }
                match (*p, prev) {
                    (Some(a), Some(b)) if a != b => {
                        return Err(format!(
                            "log matching: node {node} has entry ({}, {}) after term {b}, elsewhere after term {a}",
                            e.index, e.term
                        ))
                    }
                    (None, Some(b)) => *p = Some(b),
                    _ => {}
                }
            }
            None => {
                self.registry.insert((e.index, e.term), (prev, fp));
            }
        }
        Ok(())
    }

    pub fn event(&mut self, node: NodeId, r: &Replica, ev: &Event) -> Result<(), String> {
        if let Event::RoleChanged {
            role: Role::Leader,
            term,
        } = ev
        {
            self.elections += 1;
            if let Some(other) = self.leaders.insert(*term, node) {
                if other != node {
                    return Err(format!(
                        "election safety: nodes {other} and {node} both lead term {term}"
                    ));
                }
            }
            // Leader completeness: every entry committed in an earlier term is in its log.
            for (k, (t, fp)) in self.history.iter().enumerate() {
                let i = k as Index + 1;
                if self.commit_term[k] >= *term || i < r.first_index() {
                    continue;
                }
                match r.entry(i) {
                    Some(e) if e.term == *t && Fingerprint::of(e) == *fp => {}
                    _ => {
                        return Err(format!(
                            "leader completeness: node {node}, leader of term {term}, lacks committed entry {i}"
                        ))
                    }
                }
            }
        }
        Ok(())
    }

    pub fn committed(&mut self, node: NodeId, r: &Replica, e: &Entry) -> Result<(), String> {
        let i = e.index as usize;
        let fp = Fingerprint::of(e);
        if i <= self.history.len() {
            let (t, known) = &self.history[i - 1];
            if *t != e.term || *known != fp {
                return Err(format!(
                    "committed entries changed: node {node} committed ({}, {}) where ({}, {t}) was committed",
                    e.index, e.term, e.index
                ));
            }
        } else if i == self.history.len() + 1 {
            self.history.push((e.term, fp));
            self.commit_term.push(r.term());
            if let Some(ps) = self.proposals.remove(&e.index) {
                for (t, k) in ps {
                    if t == e.term && k == e.key {
                        self.acked.push((e.index, k));
                    }
                }
            }
        } else {
            return Err(format!(
                "node {node} committed entry {i} beyond the known history of {}",
                self.history.len()
            ));
        }
        Ok(())
    }

    pub fn applied(&mut self, node: NodeId, e: &Entry) -> Result<(), String> {
        let i = e.index as usize;
        match self.history.get(i.wrapping_sub(1)) {
            Some((t, fp)) if *t == e.term && *fp == Fingerprint::of(e) => Ok(()),
            _ => Err(format!(
                "node {node} applied entry {} which is not in the committed history",
                e.index
            )),
        }
    }

    pub fn proposed(&mut self, _leader: NodeId, term: Term, index: Index, key: u64) {
        self.proposals.entry(index).or_default().push((term, key));
    }

    /// Key of the committed entry at `index`.
    pub fn key_at(&self, index: Index) -> Option<u64> {
        self.history
            .get((index as usize).wrapping_sub(1))
            .map(|h| h.1.key)
    }

    pub fn history_len(&self) -> Index {
        self.history.len() as Index
    }

    /// No acknowledged entry was lost, and `r` holds the history up to its commit.
    pub fn final_check(&self, node: NodeId, r: &Replica) -> Result<(), String> {
        for &(i, k) in &self.acked {
            if self.history.get(i as usize - 1).map(|h| h.1.key) != Some(k) {
                return Err(format!("acknowledged entry {i} (key {k}) was lost"));
            }
        }
        for i in r.first_index()..=r.commit_index() {
            let e = r
                .entry(i)
                .ok_or_else(|| format!("node {node} lacks committed entry {i}"))?;
            let (t, fp) = &self.history[i as usize - 1];
            if e.term != *t || Fingerprint::of(e) != *fp {
                return Err(format!(
                    "node {node} holds a different entry {i} than committed"
                ));
            }
        }
        Ok(())
    }
}
