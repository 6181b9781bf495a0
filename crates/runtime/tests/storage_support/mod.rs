//! Shared by the storage tests: a recovered stream with its log read back whole, checked
//! against the terms and CONF entries that recovery reported without payloads.
#![allow(dead_code)]

use dcf_runtime::storage::{Recovered, Storage};
use dcf_runtime::types::{Entry, EntryKind, Index, Term};

#[derive(Debug)]
pub struct Reopened {
    pub rec: Recovered,
    pub entries: Vec<Entry>,
}

impl std::ops::Deref for Reopened {
    type Target = Recovered;
    fn deref(&self) -> &Recovered {
        &self.rec
    }
}

/// Reads stream 1 back from `s` and checks it against `rec`.
pub fn with_entries(s: &Storage, rec: Recovered) -> Reopened {
    let entries = s.read_all(1).expect("reading the recovered log back");
    let mut runs: Vec<(Index, Term)> = Vec::new();
    for e in &entries {
        if runs.last().is_none_or(|r| r.1 != e.term) {
            runs.push((e.index, e.term));
        }
    }
    assert_eq!(rec.terms, runs, "recovered term runs");
    let confs: Vec<Entry> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Conf)
        .cloned()
        .collect();
    assert_eq!(rec.conf_entries, confs, "recovered CONF entries");
    if let Some(last) = entries.last() {
        assert_eq!(last.index, rec.last_index);
    }
    Reopened { rec, entries }
}
