//! The way back: writes a DCF data directory from ours (a stopped node's DATA_PATH), on
//! which the C library starts and re-delivers every entry. Terms go back up by one, CONF
//! payloads back to DCF's JSON, and the stored membership is the newest one (the last CONF
//! entry's, else the stored one), as DCF keeps its metadata file in step with its log.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::log::{encode_ctrl, DcfEntry, SegmentWriter, KIND_CONF, KIND_LOG};
use super::metadata::{self, DcfMember};
use super::{ctrl, log};
use crate::consensus::Membership;
use crate::storage::error::{IoContext, StorageError};
use crate::storage::inspect;
use crate::types::{EntryKind, Index, StreamId};

/// DCF's default segment size is 500 MiB; smaller files are as valid and quicker to load.
pub const SEGMENT_BYTES: u64 = 64 << 20;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportedStream {
    pub id: StreamId,
    pub entries: u64,
    pub first_index: Index,
    pub last_index: Index,
    /// DCF's number.
    pub term: u64,
}

fn dcf_members(per_stream: &BTreeMap<StreamId, Membership>) -> Vec<DcfMember> {
    per_stream
        .iter()
        .flat_map(|(s, m)| {
            m.members.iter().map(|x| DcfMember {
                stream: *s,
                member: x.clone(),
            })
        })
        .collect()
}

/// Exports `data` into `out` (which must not exist, or be empty).
pub fn export(data: &Path, out: &Path, version: &str) -> Result<Vec<ExportedStream>, StorageError> {
    let _lock = inspect::lock_shared(data)?;
    if out.exists() && fs::read_dir(out).ctx("list", out)?.next().is_some() {
        return Err(StorageError::io(
            "export into",
            out,
            std::io::Error::new(std::io::ErrorKind::AlreadyExists, "directory is not empty"),
        ));
    }
    fs::create_dir_all(out).ctx("create directory", out)?;
    let streams = inspect::streams(data)?;
    let mut metas = BTreeMap::new();
    let mut current: BTreeMap<StreamId, Membership> = BTreeMap::new();
    for (id, dir) in &streams {
        let m = crate::storage::meta::load(dir)?.unwrap_or_default();
        if let Some(ms) = m
            .membership
            .as_deref()
            .and_then(|b| Membership::from_json(b).ok())
        {
            current.insert(*id, ms);
        }
        metas.insert(*id, m);
    }
    let mut done = Vec::new();
    for (id, _) in &streams {
        let m = &metas[id];
        let sdir = out.join(format!("stream{id:02}"));
        fs::create_dir_all(&sdir).ctx("create directory", &sdir)?;
        let term = m.hard_state.term + 1;
        ctrl::write(&sdir, term, m.hard_state.vote)?;
        let ctrl_path = sdir.join(log::LOG_CTRL);
        fs::write(&ctrl_path, encode_ctrl(m.first_index)).ctx("write", &ctrl_path)?;
        let mut w = SegmentWriter::new(&sdir, SEGMENT_BYTES);
        let mut failed = None;
        let (mut n, mut last) = (0u64, m.first_index - 1);
        inspect::dump(data, *id, m.first_index, Index::MAX, |e| {
            if failed.is_some() {
                return;
            }
            let (kind, payload) = match e.kind {
                EntryKind::Normal => (KIND_LOG, e.data.to_vec()),
                EntryKind::Conf => match Membership::from_json(&e.data) {
                    Ok(ms) => {
                        current.insert(*id, ms);
                        (KIND_CONF, metadata::to_json(&dcf_members(&current)))
                    }
                    Err(_) => (KIND_CONF, e.data.to_vec()),
                },
            };
            let d = DcfEntry {
                index: e.index,
                term: e.term + 1,
                key: e.key,
                kind,
                data: payload,
            };
            if let Err(err) = w.push(&d) {
                failed = Some(err);
            }
            n += 1;
            last = e.index;
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        w.finish()?;
        done.push(ExportedStream {
            id: *id,
            entries: n,
            first_index: m.first_index,
            last_index: last,
            term,
        });
    }
    metadata::write(out, &dcf_members(&current), version)?;
    crate::storage::meta::fsync_dir(out)?;
    Ok(done)
}
