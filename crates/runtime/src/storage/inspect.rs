//! Read-only inspection of a stopped node's DATA_PATH, for the `dcf-inspect` tool: what a
//! data directory holds (`info`), its entries (`dump`) and, in inspect_verify.rs, a check of
//! every record. Nothing here writes to the directory; `repair` is the library's own
//! recovery (open and close the storage).

use std::fs::{self, File};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::fs::FlockOperation;

use super::error::{IoContext, StorageError};
use super::{meta, record, recover, seg_index, segment, Storage, StorageOptions};
use crate::types::{Entry, Index, StreamId};

/// The metadata file of a stream, as stored.
pub use super::meta::Meta as StoredMeta;

/// One segment file.
#[derive(Clone, Debug)]
pub struct SegmentFile {
    pub path: PathBuf,
    /// Length of the file, preallocated space included.
    pub len: u64,
    /// Bytes allocated on disk.
    pub allocated: u64,
    /// Where the records end.
    pub data_end: u64,
    /// Index range of the records found (None: no records, e.g. the preallocated spare).
    pub range: Option<(Index, Index)>,
    /// A `.idx` file is present and matches the segment.
    pub indexed: bool,
}

/// What one stream directory holds.
#[derive(Clone, Debug)]
pub struct StreamInfo {
    pub id: StreamId,
    pub dir: PathBuf,
    pub meta: Option<StoredMeta>,
    pub segments: Vec<SegmentFile>,
}

impl StreamInfo {
    /// First and last index of the records on disk at or above the stored first index.
    pub fn range(&self) -> Option<(Index, Index)> {
        let floor = self.meta.as_ref().map_or(1, |m| m.first_index);
        let lo = self
            .segments
            .iter()
            .filter_map(|g| g.range)
            .map(|r| r.0)
            .min()?;
        let hi = self
            .segments
            .iter()
            .filter_map(|g| g.range)
            .map(|r| r.1)
            .max()?;
        (hi >= floor).then_some((lo.max(floor), hi))
    }
}

/// The stream directories (`stream_NN`) under `data`, by stream id.
pub fn streams(data: &Path) -> Result<Vec<(StreamId, PathBuf)>, StorageError> {
    numbered_dirs(data, "stream_")
}

/// The directories under `data` named `prefix` and a stream id in digits, by stream id
/// (ours are `stream_NN`, DCF's `streamNN`).
pub(crate) fn numbered_dirs(
    data: &Path,
    prefix: &str,
) -> Result<Vec<(StreamId, PathBuf)>, StorageError> {
    let mut out = Vec::new();
    for de in fs::read_dir(data).ctx("list", data)? {
        let de = de.ctx("list", data)?;
        let name = de.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .filter(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|n| n.parse::<StreamId>().ok())
        else {
            continue;
        };
        if de.path().is_dir() {
            out.push((id, de.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Takes a shared lock on `data/LOCK` so that no node starts while the tool reads.
/// `Err(Locked)` while a node holds it; `Ok(None)` if there is no lock file.
pub fn lock_shared(data: &Path) -> Result<Option<File>, StorageError> {
    let path = data.join("LOCK");
    let f = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io("open", path, e)),
    };
    super::lock_dir(&f, FlockOperation::NonBlockingLockShared, data)?;
    Ok(Some(f))
}

/// Streams, stored metadata and segments of `data` (sealed segments through their index).
pub fn info(data: &Path) -> Result<Vec<StreamInfo>, StorageError> {
    let mut out = Vec::new();
    for (id, dir) in streams(data)? {
        let meta = meta::load(&dir)?;
        let mut segments = Vec::new();
        for seq in segment::list(&dir)? {
            let path = segment::seg_path(&dir, seq);
            let md = fs::metadata(&path).ctx("stat", &path)?;
            let ix = seg_index::load(&path);
            let indexed = ix.is_some();
            let s = recover::scan_with(path.clone(), ix)?;
            let range = match (s.first(), s.last()) {
                (Some(a), Some(b)) => Some((a.index, b.index)),
                _ => None,
            };
            segments.push(SegmentFile {
                path,
                len: md.len(),
                allocated: md.blocks() * 512,
                data_end: s.brk,
                range,
                indexed,
            });
        }
        out.push(StreamInfo {
            id,
            dir,
            meta,
            segments,
        });
    }
    Ok(out)
}

/// (available, total) bytes of the filesystem holding `data`.
pub fn free_space(data: &Path) -> Result<(u64, u64), StorageError> {
    let s = rustix::fs::statvfs(data).ctx("statvfs", data)?;
    Ok((s.f_bavail * s.f_frsize, s.f_blocks * s.f_frsize))
}

/// Calls `f` with each entry of `stream` in from..=to, in index order, checking each
/// record's checksum; stops at the first damaged record with its file and offset.
pub fn dump(
    data: &Path,
    stream: StreamId,
    from: Index,
    to: Index,
    mut f: impl FnMut(&Entry),
) -> Result<(), StorageError> {
    let dir = data.join(format!("stream_{stream:02}"));
    if !dir.is_dir() {
        return Err(StorageError::UnknownStream(stream));
    }
    let floor = meta::load(&dir)?.map_or(1, |m| m.first_index);
    for seq in segment::list(&dir)? {
        // Every record's offset: read the segment whole rather than through its index.
        let s = recover::scan_with(segment::seg_path(&dir, seq), None)?;
        let recover::Records::Scanned(records) = &s.records else {
            continue;
        };
        let wanted: Vec<_> = records
            .iter()
            .filter(|(_, h)| h.index >= from.max(floor) && h.index <= to)
            .collect();
        if wanted.is_empty() {
            continue;
        }
        let file = File::open(&s.path).ctx("open", &s.path)?;
        for (off, h) in wanted {
            let mut buf = vec![0u8; h.record_len()];
            file.read_exact_at(&mut buf, u64::from(*off))
                .ctx("read", &s.path)?;
            let h = record::check(&buf).map_err(|b| {
                let why = match b {
                    record::Bad::End => "zero header",
                    record::Bad::Invalid(w) => w,
                };
                StorageError::corrupt(&s.path, u64::from(*off), why)
            })?;
            f(&record::to_entry(&h, &buf));
        }
    }
    Ok(())
}

/// Runs the library's recovery on the streams `ids` of `data`, as a starting node does: a
/// torn tail is cut (and the preallocated spare segment replaced), damage is refused.
/// Takes the DATA_PATH lock, so it fails while a node runs.
pub fn repair(data: &Path, ids: &[StreamId]) -> Result<(), StorageError> {
    let storage = Storage::open(data, StorageOptions::default(), Box::new(|_, _, _| {}))?;
    for &id in ids {
        storage.open_stream(id, None)?;
    }
    storage.close()
}
