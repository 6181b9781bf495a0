//! `dcf-inspect verify`: reads every record of every segment (ignoring the `.idx` files,
//! which recovery trusts) and applies recovery's rules to tell a torn tail, which a start
//! cuts, from damage, which a start refuses. Read-only.

use std::fs;
use std::path::{Path, PathBuf};

use super::error::{IoContext, StorageError};
use super::inspect::streams;
use super::meta;
use super::{recover, seg_index, segment};
use crate::types::{Index, StreamId};

/// Damage: the file and offset of the first bad byte found, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    pub file: PathBuf,
    pub offset: u64,
    pub reason: String,
    /// A start sees this damage and refuses to open the stream. False when the segment has
    /// a matching index: a start trusts it, and reading the damaged entries fails instead.
    pub refused_at_start: bool,
}

impl Damage {
    fn new(file: PathBuf, offset: u64, reason: String) -> Damage {
        let refused_at_start = seg_index::load(&file).is_none();
        Damage {
            file,
            offset,
            reason,
            refused_at_start,
        }
    }
}

/// An incomplete last write, which recovery (and `repair`) cuts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    pub file: PathBuf,
    /// The cut point: everything from here to `end` goes.
    pub offset: u64,
    /// End of the non-zero bytes after the cut point.
    pub end: u64,
    pub reason: String,
    /// Intact records of the torn write found after the cut point (dropped with it).
    pub records_dropped: usize,
}

#[derive(Clone, Debug)]
pub struct StreamVerdict {
    pub id: StreamId,
    pub records: u64,
    pub range: Option<(Index, Index)>,
    pub damage: Option<Damage>,
    pub torn: Option<TornTail>,
    /// Index files that do not match their segment (recovery then scans the segment).
    pub stale_indexes: Vec<PathBuf>,
}

fn damage(e: StorageError) -> Result<Damage, StorageError> {
    match e {
        StorageError::Corrupt {
            file,
            offset,
            reason,
        } => Ok(Damage::new(file, offset, reason)),
        e => Err(e),
    }
}

/// Verifies every stream of `data`.
pub fn verify(data: &Path) -> Result<Vec<StreamVerdict>, StorageError> {
    streams(data)?
        .into_iter()
        .map(|(id, dir)| verify_stream(id, &dir))
        .collect()
}

fn verify_stream(id: StreamId, dir: &Path) -> Result<StreamVerdict, StorageError> {
    let mut v = StreamVerdict {
        id,
        records: 0,
        range: None,
        damage: None,
        torn: None,
        stale_indexes: Vec::new(),
    };
    let first = match meta::load(dir) {
        Ok(m) => m.map_or(1, |m| m.first_index),
        Err(e) => {
            v.damage = Some(damage(e)?);
            return Ok(v);
        }
    };
    let mut scans = Vec::new();
    let mut ends = Vec::new();
    for seq in segment::list(dir)? {
        let path = segment::seg_path(dir, seq);
        if seg_index::idx_path(&path).exists() && seg_index::load(&path).is_none() {
            v.stale_indexes.push(seg_index::idx_path(&path));
        }
        let b = fs::read(&path).ctx("read", &path)?;
        let s = match recover::scan_bytes(path, &b) {
            Ok(s) => s,
            Err(e) => {
                v.damage = Some(damage(e)?);
                return Ok(v);
            }
        };
        let end = b
            .iter()
            .rposition(|&x| x != 0)
            .map_or(0, |p| (p as u64 + 8) & !7);
        scans.push(s);
        ends.push(end);
    }
    v.records = scans.iter().map(recover::Scan::count).sum();
    let Some(l) = scans.iter().rposition(recover::Scan::has_data) else {
        return Ok(v);
    };
    let checked = scans[..l]
        .iter()
        .try_for_each(recover::check_sealed)
        .and_then(|()| recover::check_torn_tail(&scans, l))
        .and_then(|()| recover::check_contiguous(&scans[..=l]));
    if let Err(e) = checked {
        v.damage = Some(damage(e)?);
        return Ok(v);
    }
    let first_scan = scans.iter().find(|s| !s.is_empty());
    let first_kept = first_scan.and_then(recover::Scan::first);
    let last_kept = scans.iter().rev().find_map(recover::Scan::last);
    if let (Some(a), Some(b), Some(s)) = (first_kept, last_kept, first_scan) {
        if b.index >= first && a.index > first {
            let reason = format!(
                "log starts at index {} but the metadata's first index is {first}",
                a.index
            );
            v.damage = Some(Damage::new(s.path.clone(), 0, reason));
            return Ok(v);
        }
        v.range = (b.index >= first).then_some((a.index.max(first), b.index));
    }
    let (s, end) = (&scans[l], ends[l]);
    if s.brk_reason.is_some() || !s.beyond.is_empty() {
        v.torn = Some(TornTail {
            file: s.path.clone(),
            offset: s.brk,
            end,
            reason: s.brk_reason.unwrap_or("zero header").to_string(),
            records_dropped: s.beyond.len(),
        });
    }
    Ok(v)
}
