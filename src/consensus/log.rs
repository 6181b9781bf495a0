//! The in-memory log: every entry after `base`, payloads shared.

use std::collections::VecDeque;

use crate::types::{Entry, Index, Term};

#[derive(Debug, Default)]
pub(crate) struct Log {
    base_index: Index,
    base_term: Term,
    entries: VecDeque<Entry>,
}

impl Log {
    pub fn new(base: (Index, Term)) -> Log {
        Log {
            base_index: base.0,
            base_term: base.1,
            entries: VecDeque::new(),
        }
    }

    pub fn base(&self) -> (Index, Term) {
        (self.base_index, self.base_term)
    }

    /// Sets the base term when it was unknown (0): learned from the leader.
    pub fn learn_base_term(&mut self, term: Term) {
        if self.base_term == 0 {
            self.base_term = term;
        }
    }

    pub fn first_index(&self) -> Index {
        self.base_index + 1
    }

    pub fn last_index(&self) -> Index {
        self.base_index + self.entries.len() as Index
    }

    pub fn last_term(&self) -> Term {
        self.entries.back().map_or(self.base_term, |e| e.term)
    }

    /// Term of `index`; the base index answers with the base term.
    pub fn term_at(&self, index: Index) -> Option<Term> {
        if index == self.base_index {
            return Some(self.base_term);
        }
        self.entry(index).map(|e| e.term)
    }

    pub fn entry(&self, index: Index) -> Option<&Entry> {
        if index <= self.base_index {
            return None;
        }
        let off = usize::try_from(index - self.base_index - 1).ok()?;
        self.entries.get(off)
    }

    /// Entries `lo..=hi`, clamped to what is held.
    pub fn range(&self, lo: Index, hi: Index) -> impl Iterator<Item = &Entry> {
        let lo = lo.max(self.first_index());
        let hi = hi.min(self.last_index());
        let (a, b) = if lo > hi {
            (0, 0)
        } else {
            (
                (lo - self.base_index - 1) as usize,
                (hi - self.base_index) as usize,
            )
        };
        self.entries.range(a..b)
    }

    /// Appends one entry; the caller guarantees `e.index == last_index() + 1`.
    pub fn push(&mut self, e: Entry) {
        debug_assert_eq!(e.index, self.last_index() + 1);
        self.entries.push_back(e);
    }

    /// Drops every entry with index >= `index`.
    pub fn truncate_from(&mut self, index: Index) {
        if index <= self.base_index {
            self.entries.clear();
            return;
        }
        let keep = (index - self.base_index - 1) as usize;
        self.entries.truncate(keep);
    }

    /// Drops every entry before `first_kept` (at most up to the last entry).
    pub fn compact(&mut self, first_kept: Index) {
        let first_kept = first_kept.min(self.last_index() + 1);
        if first_kept <= self.first_index() {
            return;
        }
        let new_base = first_kept - 1;
        let term = self.term_at(new_base).unwrap_or(self.base_term);
        let drop = (new_base - self.base_index) as usize;
        self.entries.drain(..drop);
        self.base_index = new_base;
        self.base_term = term;
    }

    /// Largest index <= `index` whose term is <= `term` (fast back-off), at least the base.
    pub fn find_conflict_by_term(&self, index: Index, term: Term) -> Index {
        let mut i = index.min(self.last_index());
        while i > self.base_index {
            match self.term_at(i) {
                Some(t) if t <= term => return i,
                _ => i -= 1,
            }
        }
        self.base_index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::EntryKind;
    use bytes::Bytes;

    fn e(index: Index, term: Term) -> Entry {
        Entry {
            index,
            term,
            key: 0,
            kind: EntryKind::Normal,
            data: Bytes::new(),
        }
    }

    #[test]
    fn append_truncate_compact() {
        let mut l = Log::new((10, 2));
        assert_eq!(
            (l.first_index(), l.last_index(), l.last_term()),
            (11, 10, 2)
        );
        for i in 11..=20 {
            l.push(e(i, if i < 15 { 2 } else { 3 }));
        }
        assert_eq!(l.term_at(10), Some(2));
        assert_eq!(l.term_at(9), None);
        assert_eq!(l.term_at(16), Some(3));
        assert_eq!(
            l.range(12, 14).map(|x| x.index).collect::<Vec<_>>(),
            vec![12, 13, 14]
        );
        assert_eq!(l.range(19, 40).count(), 2);
        assert_eq!(l.range(15, 14).count(), 0);
        assert_eq!(l.find_conflict_by_term(18, 2), 14);
        l.truncate_from(18);
        assert_eq!(l.last_index(), 17);
        l.compact(13);
        assert_eq!(l.base(), (12, 2));
        assert_eq!(l.entry(12), None);
        assert_eq!(l.entry(13).map(|x| x.index), Some(13));
        l.compact(100);
        assert_eq!(
            (l.first_index(), l.last_index(), l.last_term()),
            (18, 17, 3)
        );
    }
}
