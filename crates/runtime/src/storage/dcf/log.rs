//! DCF's log of one stream: `log_ctrl` (the first index, after prefix truncation) and the
//! segment files, `log_<first>_<last>` once sealed and `log_inprogress_<first>` while
//! written (numbers zero-padded to 20 digits).
//!
//! An entry is a 44-byte head and its data, back to back, little-endian:
//!
//! ```text
//! 0 term u64   8 index u64   16 key u64   24 type u32   28 reserved u32
//! 32 size u32  36 CRC32C(data) u32   40 CRC32C(bytes 0..40) u32
//! ```
//!
//! `log_ctrl` is 12 bytes: first index u64, CRC32C of those 8 bytes u32.
//!
//! Reading follows DCF's start: files named `*.tmp` are leftovers it deletes (so are all
//! `log_*` files when there is no `log_ctrl`: the stream is new), sealed segments wholly
//! below the first index are garbage it deletes, and the sealed ones left plus the one in
//! progress must continue each other. In the segment in progress DCF cuts the log at the
//! first entry that is incomplete or whose head fails its checksum (a torn last write).
//! We apply the same cut, and count a bad data checksum of the last entry as torn too; but
//! where an intact entry follows the bad spot the write was not the last one, and that is
//! damage, as is anything wrong in a sealed segment: the reader then fails with the file
//! and offset.

use crate::storage::crc::crc32c;
use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::storage::error::{IoContext, StorageError};

pub const LOG_CTRL: &str = "log_ctrl";
pub const HEAD_LEN: usize = 44;
pub const KIND_LOG: u32 = 0;
pub const KIND_CONF: u32 = 1;
const CTRL_LEN: usize = 12;

/// One entry, in DCF's numbering (terms start at 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DcfEntry {
    pub index: u64,
    pub term: u64,
    pub key: u64,
    pub kind: u32,
    pub data: Vec<u8>,
}

/// Appends the on-disk form of `e` to `out`.
pub fn encode(out: &mut Vec<u8>, e: &DcfEntry) {
    let start = out.len();
    out.extend_from_slice(&e.term.to_le_bytes());
    out.extend_from_slice(&e.index.to_le_bytes());
    out.extend_from_slice(&e.key.to_le_bytes());
    out.extend_from_slice(&e.kind.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(e.data.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c(&e.data).to_le_bytes());
    let crc = crc32c(&out[start..start + 40]);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&e.data);
}

#[derive(Clone, Copy, Debug)]
struct Head {
    term: u64,
    index: u64,
    key: u64,
    kind: u32,
    size: u32,
    data_crc: u32,
}

/// None when the head's checksum fails.
fn decode_head(b: &[u8]) -> Option<Head> {
    let d = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]));
    let w = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]));
    if crc32c(&b[..40]) != w(40) {
        return None;
    }
    Some(Head {
        term: d(0),
        index: d(8),
        key: d(16),
        kind: w(24),
        size: w(32),
        data_crc: w(36),
    })
}

pub fn encode_ctrl(first_index: u64) -> [u8; CTRL_LEN] {
    let mut b = [0u8; CTRL_LEN];
    b[..8].copy_from_slice(&first_index.to_le_bytes());
    let crc = crc32c(&b[..8]);
    b[8..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// The first index stored in `dir/log_ctrl`; None if the file does not exist.
pub fn read_ctrl(dir: &Path) -> Result<Option<u64>, StorageError> {
    let path = dir.join(LOG_CTRL);
    let b = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::io("read", path, e)),
    };
    if b.len() < CTRL_LEN {
        return Err(StorageError::corrupt(
            &path,
            b.len() as u64,
            format!("{} bytes, {CTRL_LEN} expected", b.len()),
        ));
    }
    let crc = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
    if crc32c(&b[..8]) != crc {
        return Err(StorageError::corrupt(&path, 8, "checksum mismatch"));
    }
    Ok(Some(u64::from_le_bytes(
        b[..8].try_into().unwrap_or([0; 8]),
    )))
}

/// A segment file: `last` is None for the one in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegFile {
    pub path: PathBuf,
    pub first: u64,
    pub last: Option<u64>,
}

pub fn seg_name(first: u64, last: Option<u64>) -> String {
    match last {
        Some(l) => format!("log_{first:020}_{l:020}"),
        None => format!("log_inprogress_{first:020}"),
    }
}

fn parse_name(name: &str) -> Option<(u64, Option<u64>)> {
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    if let Some(r) = name.strip_prefix("log_inprogress_") {
        return Some((num(r)?, None));
    }
    let (a, b) = name.strip_prefix("log_")?.split_once('_')?;
    Some((num(a)?, Some(num(b)?)))
}

/// What DCF's start makes of a stream directory's log files, before reading them.
#[derive(Clone, Debug)]
pub struct Layout {
    pub dir: PathBuf,
    /// From `log_ctrl` (1 when there is none).
    pub first_index: u64,
    pub has_ctrl: bool,
    /// The segments DCF uses, in index order (the one in progress last).
    pub segments: Vec<SegFile>,
    /// Files DCF's start would delete (leftovers, garbage below the first index).
    pub ignored: Vec<PathBuf>,
}

const OWN_FILES: [&str; 3] = [LOG_CTRL, super::ctrl::CTRL_1, super::ctrl::CTRL_2];

pub fn layout(dir: &Path) -> Result<Layout, StorageError> {
    let ctrl = read_ctrl(dir)?;
    let first_index = ctrl.unwrap_or(1);
    let mut sealed = Vec::new();
    let mut open: Option<SegFile> = None;
    let mut ignored = Vec::new();
    let mut names: Vec<_> = fs::read_dir(dir)
        .ctx("list", dir)?
        .map(|d| d.map(|d| d.file_name()))
        .collect::<Result<_, _>>()
        .ctx("list", dir)?;
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let Some(name) = name.to_str() else {
            return Err(StorageError::corrupt(&path, 0, "not a DCF log file name"));
        };
        if OWN_FILES.contains(&name) {
            continue;
        }
        if name.ends_with(".tmp") || (ctrl.is_none() && name.starts_with("log_")) {
            ignored.push(path);
            continue;
        }
        let Some((first, last)) = parse_name(name) else {
            return Err(StorageError::corrupt(
                &path,
                0,
                "not a DCF log file name (DCF's start refuses the directory)",
            ));
        };
        let seg = SegFile { path, first, last };
        match (last, &open) {
            (Some(_), _) => sealed.push(seg),
            (None, None) => open = Some(seg),
            (None, Some(o)) => {
                return Err(StorageError::corrupt(
                    &seg.path,
                    0,
                    format!("a second segment in progress besides {}", o.path.display()),
                ))
            }
        }
    }
    sealed.sort_by_key(|s| s.first);
    let mut segments: Vec<SegFile> = Vec::new();
    for s in sealed {
        let last = s.last.unwrap_or(0);
        if s.first > last {
            return Err(StorageError::corrupt(
                &s.path,
                0,
                "sealed segment whose first index is above its last",
            ));
        }
        match segments.last() {
            None if last < first_index => ignored.push(s.path),
            None if s.first > first_index => return Err(missing(&s, first_index, s.first - 1)),
            Some(p) if p.last.map(|l| l + 1) != Some(s.first) => {
                let after = p.last.unwrap_or(0) + 1;
                return Err(missing(&s, after, s.first.saturating_sub(1)));
            }
            _ => segments.push(s),
        }
    }
    if let Some(o) = open {
        match segments.last().and_then(|p| p.last) {
            Some(l) if o.first != l + 1 => {
                return Err(missing(&o, l + 1, o.first.saturating_sub(1)))
            }
            None if o.first > first_index => return Err(missing(&o, first_index, o.first - 1)),
            _ => segments.push(o),
        }
    }
    Ok(Layout {
        dir: dir.to_path_buf(),
        first_index,
        has_ctrl: ctrl.is_some(),
        segments,
        ignored,
    })
}

fn missing(next: &SegFile, lo: u64, hi: u64) -> StorageError {
    StorageError::corrupt(
        &next.path,
        0,
        format!("missing segment: entries {lo}..={hi} are in no file before this one"),
    )
}

/// A torn last write, cut as DCF's start cuts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Torn {
    pub file: PathBuf,
    pub offset: u64,
    /// Bytes from the cut to the end of the file.
    pub len: u64,
    pub reason: String,
}

/// What a read found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub first_index: u64,
    /// first_index - 1 when the log is empty.
    pub last_index: u64,
    pub last_term: u64,
    pub entries: u64,
    pub data_bytes: u64,
    /// Range of each segment's entries at or above the first index (None: none there).
    pub segment_ranges: Vec<(PathBuf, Option<(u64, u64)>)>,
    pub torn: Option<Torn>,
}

/// Reads the log of `dir` (a `streamNN` directory), calling `f` with each entry from the
/// first index to the last, in order, every checksum checked. Never writes.
pub fn read(
    dir: &Path,
    mut f: impl FnMut(DcfEntry) -> Result<(), StorageError>,
) -> Result<Summary, StorageError> {
    let lay = layout(dir)?;
    let mut sum = Summary {
        first_index: lay.first_index,
        last_index: lay.first_index - 1,
        last_term: 0,
        entries: 0,
        data_bytes: 0,
        segment_ranges: Vec::new(),
        torn: None,
    };
    for seg in &lay.segments {
        let before = sum.entries;
        let lo = sum.last_index + 1;
        read_segment(seg, lay.first_index, &mut sum, &mut f)?;
        let range = (sum.entries > before).then_some((lo.max(seg.first), sum.last_index));
        sum.segment_ranges.push((seg.path.clone(), range));
    }
    Ok(sum)
}

const READ_BUF: usize = 8 << 20;

fn read_segment(
    seg: &SegFile,
    first_index: u64,
    sum: &mut Summary,
    f: &mut impl FnMut(DcfEntry) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let file = File::open(&seg.path).ctx("open", &seg.path)?;
    let size = file.metadata().ctx("stat", &seg.path)?.len();
    let mut rd = BufReader::with_capacity(READ_BUF, file);
    let mut off = 0u64;
    let mut expect = seg.first;
    let mut head = [0u8; HEAD_LEN];
    let fail = loop {
        if seg.last.is_some_and(|l| expect > l) || off == size {
            break None;
        }
        if off + HEAD_LEN as u64 > size {
            break Some("entry head cut short by the end of the file".to_string());
        }
        rd.read_exact(&mut head).ctx("read", &seg.path)?;
        let Some(h) = decode_head(&head) else {
            break Some("entry head checksum mismatch".into());
        };
        if h.index != expect {
            break Some(format!("entry index {} where {expect} belongs", h.index));
        }
        let end = off + HEAD_LEN as u64 + u64::from(h.size);
        if end > size {
            break Some(format!(
                "entry of {} bytes runs past the end of the file",
                h.size
            ));
        }
        if expect < first_index {
            // Below the first index: DCF never reads these again.
            rd.seek_relative(i64::from(h.size)).ctx("seek", &seg.path)?;
        } else {
            let mut data = vec![0u8; h.size as usize];
            rd.read_exact(&mut data).ctx("read", &seg.path)?;
            if crc32c(&data) != h.data_crc {
                break Some("entry data checksum mismatch".into());
            }
            if h.kind != KIND_LOG && h.kind != KIND_CONF {
                return Err(StorageError::corrupt(
                    &seg.path,
                    off,
                    format!(
                        "entry {expect} has type {}, which this library cannot carry",
                        h.kind
                    ),
                ));
            }
            sum.entries += 1;
            sum.data_bytes += u64::from(h.size);
            sum.last_index = expect;
            sum.last_term = h.term;
            f(DcfEntry {
                index: expect,
                term: h.term,
                key: h.key,
                kind: h.kind,
                data,
            })?;
        }
        off = end;
        expect += 1;
    };
    let Some(why) = fail else {
        return Ok(());
    };
    if let Some(l) = seg.last {
        return Err(StorageError::corrupt(
            &seg.path,
            off,
            format!("{why} (sealed segment, entries up to {l} expected)"),
        ));
    }
    drop(rd);
    let file = File::open(&seg.path).ctx("open", &seg.path)?;
    if let Some(at) = intact_entry_after(&file, &seg.path, off + 1, size, expect)? {
        return Err(StorageError::corrupt(
            &seg.path,
            off,
            format!(
                "{why}; an intact entry follows at offset {at}, so this is not a torn last write"
            ),
        ));
    }
    sum.torn = Some(Torn {
        file: seg.path.clone(),
        offset: off,
        len: size - off,
        reason: why,
    });
    Ok(())
}

/// Offset of the first complete entry (head and data checksums good, index `min_index` or
/// above) starting anywhere in from..size.
fn intact_entry_after(
    file: &File,
    path: &Path,
    from: u64,
    size: u64,
    min_index: u64,
) -> Result<Option<u64>, StorageError> {
    const CHUNK: u64 = 4 << 20;
    let mut at = from;
    let mut buf = Vec::new();
    while at + HEAD_LEN as u64 <= size {
        let len = (CHUNK + HEAD_LEN as u64).min(size - at) as usize;
        buf.resize(len, 0);
        file.read_exact_at(&mut buf, at).ctx("read", path)?;
        for p in 0..=len - HEAD_LEN {
            let b = &buf[p..p + HEAD_LEN];
            let index = u64::from_le_bytes(b[8..16].try_into().unwrap_or([0; 8]));
            if index < min_index || index - min_index > size {
                continue;
            }
            let Some(h) = decode_head(b) else { continue };
            let start = at + p as u64 + HEAD_LEN as u64;
            if start + u64::from(h.size) > size {
                continue;
            }
            let mut data = vec![0u8; h.size as usize];
            file.read_exact_at(&mut data, start).ctx("read", path)?;
            if crc32c(&data) == h.data_crc {
                return Ok(Some(at + p as u64));
            }
        }
        at += (len - HEAD_LEN + 1) as u64;
    }
    Ok(None)
}

/// Writes entries as DCF's segment files into `dir`, rolling to a new file past
/// `segment_size` bytes; the last file stays in progress, as DCF leaves it.
pub struct SegmentWriter {
    dir: PathBuf,
    segment_size: u64,
    cur: Option<(u64, u64, File, u64)>,
    buf: Vec<u8>,
}

impl SegmentWriter {
    pub fn new(dir: &Path, segment_size: u64) -> SegmentWriter {
        SegmentWriter {
            dir: dir.to_path_buf(),
            segment_size,
            cur: None,
            buf: Vec::with_capacity(READ_BUF),
        }
    }

    pub fn push(&mut self, e: &DcfEntry) -> Result<(), StorageError> {
        if self.cur.as_ref().is_some_and(|c| c.3 >= self.segment_size) {
            self.seal()?;
        }
        if self.cur.is_none() {
            let path = self.dir.join(seg_name(e.index, None));
            let f = File::create(&path).ctx("create", &path)?;
            self.cur = Some((e.index, e.index, f, 0));
        }
        let before = self.buf.len();
        encode(&mut self.buf, e);
        if let Some(c) = &mut self.cur {
            c.1 = e.index;
            c.3 += (self.buf.len() - before) as u64;
        }
        if self.buf.len() >= READ_BUF {
            self.flush_buf()?;
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> Result<(), StorageError> {
        use std::io::Write;
        if let Some((first, _, f, _)) = &mut self.cur {
            let path = self.dir.join(seg_name(*first, None));
            f.write_all(&self.buf).ctx("write", &path)?;
        }
        self.buf.clear();
        Ok(())
    }

    /// Closes the current file under its sealed name.
    fn seal(&mut self) -> Result<(), StorageError> {
        self.flush_buf()?;
        if let Some((first, last, f, _)) = self.cur.take() {
            let from = self.dir.join(seg_name(first, None));
            f.sync_all().ctx("fsync", &from)?;
            let to = self.dir.join(seg_name(first, Some(last)));
            fs::rename(&from, &to).ctx("rename", &from)?;
        }
        Ok(())
    }

    /// Writes out what is buffered; the last segment stays in progress.
    pub fn finish(mut self) -> Result<(), StorageError> {
        self.flush_buf()?;
        if let Some((first, _, f, _)) = self.cur.take() {
            f.sync_all()
                .ctx("fsync", &self.dir.join(seg_name(first, None)))?;
        }
        crate::storage::meta::fsync_dir(&self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, len: usize) -> DcfEntry {
        DcfEntry {
            index,
            term: 2 + index / 50,
            key: index * 7,
            kind: if index.is_multiple_of(40) {
                KIND_CONF
            } else {
                KIND_LOG
            },
            data: (0..len).map(|i| (i as u64 + index) as u8).collect(),
        }
    }

    /// A stream directory of entries first..=last in segments of about `seg` bytes.
    fn make(dir: &Path, first: u64, last: u64, seg: u64) -> Vec<DcfEntry> {
        fs::write(dir.join(LOG_CTRL), encode_ctrl(first)).unwrap();
        let mut w = SegmentWriter::new(dir, seg);
        let es: Vec<_> = (first..=last)
            .map(|i| entry(i, (i % 9) as usize * 100 + 1))
            .collect();
        for e in &es {
            w.push(e).unwrap();
        }
        w.finish().unwrap();
        es
    }

    fn all(dir: &Path) -> Result<(Vec<DcfEntry>, Summary), StorageError> {
        let mut out = Vec::new();
        let s = read(dir, |e| {
            out.push(e);
            Ok(())
        })?;
        Ok((out, s))
    }

    fn segs(dir: &Path) -> Vec<PathBuf> {
        layout(dir)
            .unwrap()
            .segments
            .into_iter()
            .map(|s| s.path)
            .collect()
    }

    #[test]
    fn written_segments_read_back() {
        let d = tempfile::tempdir().unwrap();
        let es = make(d.path(), 1, 300, 8 << 10);
        assert!(segs(d.path()).len() > 3);
        let (got, s) = all(d.path()).unwrap();
        assert_eq!(got, es);
        assert_eq!(
            (s.first_index, s.last_index, s.entries, s.torn),
            (1, 300, 300, None)
        );
    }

    #[test]
    fn prefix_truncation_skips_garbage_and_entries_below_the_first_index() {
        let d = tempfile::tempdir().unwrap();
        let es = make(d.path(), 1, 300, 8 << 10);
        let second = segs(d.path())[1].clone();
        let (lo, _) = parse_name(second.file_name().unwrap().to_str().unwrap()).unwrap();
        fs::write(d.path().join(LOG_CTRL), encode_ctrl(lo + 3)).unwrap();
        fs::write(
            d.path()
                .join("log_00000000000000000001_00000000000000000002.tmp"),
            b"x",
        )
        .unwrap();
        let lay = layout(d.path()).unwrap();
        assert_eq!(lay.ignored.len(), 2, "the first segment and the leftover");
        let (got, s) = all(d.path()).unwrap();
        assert_eq!(got, es[(lo + 2) as usize..].to_vec());
        assert_eq!((s.first_index, s.last_index), (lo + 3, 300));
    }

    #[test]
    fn a_torn_last_write_is_cut() {
        let d = tempfile::tempdir().unwrap();
        make(d.path(), 1, 100, 4 << 10);
        let open = segs(d.path()).pop().unwrap();
        let len = fs::metadata(&open).unwrap().len();
        let f = fs::OpenOptions::new().write(true).open(&open).unwrap();
        f.set_len(len - 5).unwrap();
        let (got, s) = all(d.path()).unwrap();
        assert_eq!((got.len(), s.last_index), (99, 99));
        let t = s.torn.unwrap();
        assert_eq!(t.file, open);
        // Garbage after the last entry is a torn write too.
        f.set_len(len).unwrap();
        f.write_all_at(&[0xAB; 30], len).unwrap();
        let (got, s) = all(d.path()).unwrap();
        assert_eq!(got.len(), 99, "the last entry's data checksum fails");
        assert!(s.torn.is_some());
    }

    #[test]
    fn damage_before_the_tail_is_refused_with_file_and_offset() {
        let d = tempfile::tempdir().unwrap();
        make(d.path(), 1, 200, 4 << 10);
        let files = segs(d.path());
        // In the segment in progress, with intact entries after the bad one.
        let open = files.last().unwrap();
        let b = fs::read(open).unwrap();
        let mut c = b.clone();
        c[HEAD_LEN + 2] ^= 0xFF;
        fs::write(open, &c).unwrap();
        let e = all(d.path()).unwrap_err().to_string();
        assert!(
            e.contains(open.to_str().unwrap()) && e.contains("offset 0"),
            "{e}"
        );
        fs::write(open, &b).unwrap();
        // In a sealed segment, even at its end.
        let sealed = &files[1];
        let len = fs::metadata(sealed).unwrap().len();
        let f = fs::OpenOptions::new().write(true).open(sealed).unwrap();
        f.set_len(len - 1).unwrap();
        let e = all(d.path()).unwrap_err().to_string();
        assert!(
            e.contains(sealed.to_str().unwrap()) && e.contains("sealed"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_segment_is_refused() {
        let d = tempfile::tempdir().unwrap();
        make(d.path(), 1, 200, 4 << 10);
        let files = segs(d.path());
        fs::remove_file(&files[1]).unwrap();
        let e = all(d.path()).unwrap_err().to_string();
        assert!(
            e.contains(files[2].to_str().unwrap()) && e.contains("missing segment"),
            "{e}"
        );
        fs::remove_file(&files[0]).unwrap();
        let e = all(d.path()).unwrap_err().to_string();
        assert!(e.contains("missing segment"), "{e}");
    }

    #[test]
    fn bad_log_ctrl_is_refused() {
        let d = tempfile::tempdir().unwrap();
        make(d.path(), 1, 10, 4 << 10);
        let mut b = encode_ctrl(1);
        b[0] = 9;
        fs::write(d.path().join(LOG_CTRL), b).unwrap();
        let e = all(d.path()).unwrap_err().to_string();
        assert!(e.contains(LOG_CTRL) && e.contains("offset 8"), "{e}");
    }

    #[test]
    fn no_log_ctrl_means_an_empty_log() {
        let d = tempfile::tempdir().unwrap();
        make(d.path(), 1, 10, 4 << 10);
        fs::remove_file(d.path().join(LOG_CTRL)).unwrap();
        let (got, s) = all(d.path()).unwrap();
        assert!(got.is_empty());
        assert_eq!((s.first_index, s.last_index), (1, 0));
    }
}
