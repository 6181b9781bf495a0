//! The log as the core sees it: the term of every index (kept as runs of one term), and the
//! payloads of the newest entries. Older payloads live in storage and are read through a
//! `LogSource` when a lagging follower needs them, so memory stays bounded whatever the
//! length of the log (DESIGN.md "The log lives on disk").

use std::collections::VecDeque;
use std::sync::Arc;

use crate::types::{Entry, EntryKind, Index, Term};

/// Per-entry overhead counted against byte budgets, so that empty entries are bounded too.
pub(crate) const ENTRY_OVERHEAD: usize = 32;

/// Where payloads evicted from the cache can be read back: the node's durable log.
pub trait LogSource: Send + Sync {
    /// Entries `lo..=hi`, all durable; may stop early once `max_bytes` of payload are read,
    /// but returns at least `lo`.
    fn read(&self, lo: Index, hi: Index, max_bytes: usize) -> Result<Vec<Entry>, String>;
}

/// What storage found on start, without payloads except those the core needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveredLog {
    pub last_index: Index,
    /// (first index, term) of each run of entries of one term, ascending.
    pub terms: Vec<(Index, Term)>,
    /// The CONF entries (their payload is the membership).
    pub conf_entries: Vec<Entry>,
    /// Newest entries to keep in the cache (contiguous, ending at `last_index`); may be empty.
    pub tail: Vec<Entry>,
}

impl From<Vec<Entry>> for RecoveredLog {
    /// A log held whole in memory (tests, the simulator).
    fn from(entries: Vec<Entry>) -> RecoveredLog {
        let mut terms: Vec<(Index, Term)> = Vec::new();
        for e in &entries {
            if terms.last().is_none_or(|r| r.1 != e.term) {
                terms.push((e.index, e.term));
            }
        }
        RecoveredLog {
            last_index: entries.last().map_or(0, |e| e.index),
            terms,
            conf_entries: entries
                .iter()
                .filter(|e| e.kind == EntryKind::Conf)
                .cloned()
                .collect(),
            tail: entries,
        }
    }
}

pub(crate) struct Log {
    base_index: Index,
    base_term: Term,
    last: Index,
    /// (first index, term) of each run of consecutive entries of one term, covering
    /// `base_index + 1 ..= last`.
    runs: VecDeque<(Index, Term)>,
    /// Payloads of the newest entries: contiguous and ending at `last` (or empty).
    cache: VecDeque<Entry>,
    cache_bytes: usize,
    cache_limit: usize,
    source: Option<Arc<dyn LogSource>>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("base", &(self.base_index, self.base_term))
            .field("last", &self.last)
            .field("runs", &self.runs.len())
            .field("cached", &self.cache.len())
            .finish()
    }
}

impl Log {
    pub fn new(base: (Index, Term)) -> Log {
        Log {
            base_index: base.0,
            base_term: base.1,
            last: base.0,
            runs: VecDeque::new(),
            cache: VecDeque::new(),
            cache_bytes: 0,
            cache_limit: usize::MAX,
            source: None,
        }
    }

    /// Bounds the payload cache; durable entries beyond it are read from `source`.
    pub fn set_source(&mut self, limit: usize, source: Arc<dyn LogSource>) {
        self.cache_limit = limit;
        self.source = Some(source);
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
        self.last
    }

    pub fn last_term(&self) -> Term {
        self.runs.back().map_or(self.base_term, |r| r.1)
    }

    pub fn cached_bytes(&self) -> usize {
        self.cache_bytes
    }

    /// Term of `index`; the base index answers with the base term.
    pub fn term_at(&self, index: Index) -> Option<Term> {
        if index == self.base_index {
            return Some(self.base_term);
        }
        if index < self.base_index || index > self.last {
            return None;
        }
        let k = self.runs.partition_point(|r| r.0 <= index);
        k.checked_sub(1).map(|k| self.runs[k].1)
    }

    fn cache_first(&self) -> Index {
        self.cache.front().map_or(self.last + 1, |e| e.index)
    }

    /// The entry at `index` if its payload is cached.
    pub fn entry(&self, index: Index) -> Option<&Entry> {
        let first = self.cache_first();
        if index < first {
            return None;
        }
        self.cache.get(usize::try_from(index - first).ok()?)
    }

    /// Cached entries `lo..=hi`, clamped to what the cache holds.
    pub fn cached_range(&self, lo: Index, hi: Index) -> impl Iterator<Item = &Entry> {
        let first = self.cache_first();
        let lo = lo.max(first);
        let hi = hi.min(self.last);
        let (a, b) = if lo > hi {
            (0, 0)
        } else {
            ((lo - first) as usize, (hi - first + 1) as usize)
        };
        self.cache.range(a..b)
    }

    /// Entries `lo..=hi` (within the log), from the cache or the source: at least one, and
    /// no more once the next would take the batch past `max_bytes`.
    pub fn read(&self, lo: Index, hi: Index, max_bytes: usize) -> Result<Vec<Entry>, String> {
        let hi = hi.min(self.last);
        if lo <= self.base_index || lo > hi {
            return Ok(Vec::new());
        }
        let first = self.cache_first();
        let mut from_source = Vec::new();
        if lo < first {
            let src = self
                .source
                .as_ref()
                .ok_or_else(|| format!("entry {lo} is no longer in memory and no log source"))?;
            from_source = src.read(lo, hi.min(first - 1), max_bytes)?;
            let in_order = from_source
                .iter()
                .enumerate()
                .all(|(k, e)| e.index == lo + k as Index && e.index < first);
            if from_source.is_empty() || !in_order {
                return Err(format!(
                    "the log source did not return entries from {lo} in order"
                ));
            }
        }
        // The cache continues the batch only where the source part reached it.
        let next = lo + from_source.len() as Index;
        let cached = self.cached_range(next, if next >= first { hi } else { 0 });
        let limit = max_bytes.saturating_add(ENTRY_OVERHEAD);
        let mut bytes = 0usize;
        Ok(from_source
            .into_iter()
            .chain(cached.cloned())
            .take_while(|e| {
                let sz = e.data.len() + ENTRY_OVERHEAD;
                let fits = bytes == 0 || bytes + sz <= limit;
                bytes += sz;
                fits
            })
            .collect())
    }

    /// Appends one entry; the caller guarantees `e.index == last_index() + 1`.
    pub fn push(&mut self, e: Entry) {
        debug_assert_eq!(e.index, self.last + 1);
        if self.runs.back().is_none_or(|r| r.1 != e.term) {
            self.runs.push_back((e.index, e.term));
        }
        self.last = e.index;
        if !self.cache.is_empty() && self.cache_first() + self.cache.len() as Index != e.index {
            self.clear_cache();
        }
        self.cache_bytes += e.data.len();
        self.cache.push_back(e);
    }

    /// Appends entries whose payloads are not kept (recovered from storage): terms only.
    pub fn push_terms(&mut self, last: Index, runs: &[(Index, Term)]) {
        for &(i, t) in runs {
            if i > self.last && self.runs.back().is_none_or(|r| r.1 != t) {
                self.runs.push_back((i, t));
            }
        }
        self.last = self.last.max(last);
        self.clear_cache();
    }

    /// Caches recovered payloads; they must end at the last index.
    pub fn fill_cache(&mut self, tail: Vec<Entry>) -> Result<(), String> {
        let contiguous = tail
            .iter()
            .enumerate()
            .all(|(k, e)| e.index == self.last + 1 + k as Index - tail.len() as Index);
        if !contiguous || tail.first().is_some_and(|e| e.index <= self.base_index) {
            return Err("cached entries must run on without a gap up to the last index".into());
        }
        for e in &tail {
            if self.term_at(e.index) != Some(e.term) {
                return Err(format!(
                    "entry {} has term {} in the cache",
                    e.index, e.term
                ));
            }
        }
        self.clear_cache();
        for e in tail {
            self.cache_bytes += e.data.len();
            self.cache.push_back(e);
        }
        Ok(())
    }

    fn clear_cache(&mut self) {
        self.cache.clear();
        self.cache_bytes = 0;
    }

    /// Drops cached payloads up to `durable` while the cache is over its budget: those can
    /// be read back from the source.
    pub fn evict(&mut self, durable: Index) {
        if self.source.is_none() {
            return;
        }
        while self.cache_bytes > self.cache_limit {
            match self.cache.front() {
                Some(e) if e.index <= durable => {
                    self.cache_bytes -= e.data.len();
                    self.cache.pop_front();
                }
                _ => break,
            }
        }
    }

    /// Drops every entry with index >= `index`.
    pub fn truncate_from(&mut self, index: Index) {
        let index = index.max(self.base_index + 1);
        if index > self.last {
            return;
        }
        self.last = index - 1;
        while self.runs.back().is_some_and(|r| r.0 >= index) {
            self.runs.pop_back();
        }
        while self.cache.back().is_some_and(|e| e.index >= index) {
            if let Some(e) = self.cache.pop_back() {
                self.cache_bytes -= e.data.len();
            }
        }
    }

    /// Drops every entry before `first_kept` (at most up to the last entry).
    pub fn compact(&mut self, first_kept: Index) {
        let first_kept = first_kept.min(self.last + 1);
        if first_kept <= self.first_index() {
            return;
        }
        let new_base = first_kept - 1;
        let term = self.term_at(new_base).unwrap_or(self.base_term);
        while self.runs.len() > 1 && self.runs[1].0 <= first_kept {
            self.runs.pop_front();
        }
        if let Some(r) = self.runs.front_mut() {
            if first_kept > self.last {
                self.runs.clear();
            } else {
                r.0 = r.0.max(first_kept);
            }
        }
        while self.cache.front().is_some_and(|e| e.index < first_kept) {
            if let Some(e) = self.cache.pop_front() {
                self.cache_bytes -= e.data.len();
            }
        }
        self.base_index = new_base;
        self.base_term = term;
    }

    /// Largest index <= `index` whose term is <= `term` (fast back-off), at least the base.
    pub fn find_conflict_by_term(&self, index: Index, term: Term) -> Index {
        let mut i = index.min(self.last);
        for &(start, t) in self.runs.iter().rev() {
            if i <= self.base_index {
                break;
            }
            if start > i {
                continue;
            }
            if t <= term {
                return i;
            }
            i = start - 1;
        }
        self.base_index
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use parking_lot::Mutex;

    fn e(index: Index, term: Term) -> Entry {
        Entry {
            index,
            term,
            key: index,
            kind: EntryKind::Normal,
            data: Bytes::from(vec![index as u8; 100]),
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
        assert_eq!(l.term_at(21), None);
        assert_eq!(
            l.cached_range(12, 14).map(|x| x.index).collect::<Vec<_>>(),
            vec![12, 13, 14]
        );
        assert_eq!(l.cached_range(19, 40).count(), 2);
        assert_eq!(l.cached_range(15, 14).count(), 0);
        assert_eq!(l.find_conflict_by_term(18, 2), 14);
        assert_eq!(l.find_conflict_by_term(18, 1), 10);
        l.truncate_from(18);
        assert_eq!(l.last_index(), 17);
        l.compact(13);
        assert_eq!(l.base(), (12, 2));
        assert_eq!(l.entry(12), None);
        assert_eq!(l.entry(13).map(|x| x.index), Some(13));
        assert_eq!(l.term_at(16), Some(3));
        l.compact(100);
        assert_eq!(
            (l.first_index(), l.last_index(), l.last_term()),
            (18, 17, 3)
        );
        l.push(e(18, 4));
        assert_eq!((l.term_at(17), l.term_at(18)), (Some(3), Some(4)));
    }

    /// Serves a whole log kept aside, as storage would.
    struct Disk(Mutex<Vec<Entry>>);

    impl LogSource for Disk {
        fn read(&self, lo: Index, hi: Index, max: usize) -> Result<Vec<Entry>, String> {
            let d = self.0.lock();
            let mut out = Vec::new();
            let mut bytes = 0;
            for x in d.iter().filter(|x| x.index >= lo && x.index <= hi) {
                if !out.is_empty() && bytes >= max {
                    break;
                }
                bytes += x.data.len();
                out.push(x.clone());
            }
            Ok(out)
        }
    }

    #[test]
    fn evicted_payloads_come_back_from_the_source() {
        let all: Vec<Entry> = (1..=50).map(|i| e(i, 1 + i / 20)).collect();
        let disk = Arc::new(Disk(Mutex::new(all.clone())));
        let mut l = Log::new((0, 0));
        l.set_source(1000, disk);
        for x in &all {
            l.push(x.clone());
        }
        // Nothing durable yet: everything stays.
        l.evict(0);
        assert_eq!(l.cached_bytes(), 5000);
        l.evict(30);
        assert_eq!(l.cached_bytes(), 2000);
        assert!(l.entry(30).is_none());
        assert_eq!(l.entry(31).map(|x| x.index), Some(31));
        let got = l.read(5, 40, 10_000).unwrap();
        assert_eq!(got, all[4..40].to_vec());
        // A batch limit counts payload plus overhead and keeps at least one entry.
        let got = l.read(5, 40, 250).unwrap();
        assert_eq!(got.len(), 2);
        let got = l.read(29, 33, 1).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(l.read(51, 60, 100).unwrap(), vec![]);
    }

    #[test]
    fn without_a_source_nothing_is_evicted() {
        let mut l = Log::new((0, 0));
        for i in 1..=10 {
            l.push(e(i, 1));
        }
        l.evict(10);
        assert_eq!(l.read(1, 10, usize::MAX).unwrap().len(), 10);
        let mut r = Log::new((0, 0));
        r.push_terms(10, &[(1, 1), (6, 2)]);
        assert_eq!(
            (r.term_at(5), r.term_at(6), r.last_term()),
            (Some(1), Some(2), 2)
        );
        assert!(r.read(1, 2, 10).is_err());
    }
}
