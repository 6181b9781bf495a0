//! Which membership is in effect: the one of the last CONF entry in the log (single-server
//! changes take effect when appended, and roll back when the entry is truncated away).

use super::types::Membership;
use crate::types::{Entry, EntryKind, Index};

#[derive(Debug)]
pub(crate) struct ConfState {
    /// In effect at the log's base index.
    base: Membership,
    /// CONF entries still in the log, in index order.
    changes: Vec<(Index, Membership)>,
}

impl ConfState {
    pub fn new(base: Membership) -> ConfState {
        ConfState {
            base,
            changes: Vec::new(),
        }
    }

    pub fn base(&self) -> &Membership {
        &self.base
    }

    pub fn current(&self) -> &Membership {
        self.changes.last().map_or(&self.base, |c| &c.1)
    }

    /// Records a CONF entry; true when the membership changed. Undecodable payloads are
    /// ignored (the entry still replicates; it just changes nothing).
    pub fn on_append(&mut self, e: &Entry) -> bool {
        if e.kind != EntryKind::Conf {
            return false;
        }
        let Ok(m) = Membership::from_json(&e.data) else {
            return false;
        };
        let changed = m != *self.current();
        self.changes.push((e.index, m));
        changed
    }

    /// Entries >= `from` were dropped; true when the membership changed.
    pub fn on_truncate(&mut self, from: Index) -> bool {
        let before = self.changes.last().map(|c| c.0);
        self.changes.retain(|c| c.0 < from);
        if before == self.changes.last().map(|c| c.0) {
            return false;
        }
        true
    }

    /// The log's prefix up to `base_index` was dropped.
    pub fn on_compact(&mut self, base_index: Index) {
        let n = self
            .changes
            .iter()
            .take_while(|c| c.0 <= base_index)
            .count();
        if n > 0 {
            let mut folded: Vec<_> = self.changes.drain(..n).collect();
            if let Some((_, m)) = folded.pop() {
                self.base = m;
            }
        }
    }

    /// A CONF entry above `commit` exists (a change is in progress).
    pub fn pending(&self, commit: Index) -> bool {
        self.changes.last().is_some_and(|c| c.0 > commit)
    }

    /// A CONF entry at `index` is in the log.
    pub fn is_change_at(&self, index: Index) -> bool {
        self.changes.binary_search_by_key(&index, |c| c.0).is_ok()
    }

    /// Index of the last CONF entry, 0 if none is in the log.
    pub fn last_index(&self) -> Index {
        self.changes.last().map_or(0, |c| c.0)
    }
}
