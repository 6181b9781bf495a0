//! Recovery: torn tails are cut, damage to synced data stops the open with file and offset.
//!
//! Every entry here has a 40-byte payload, so each record takes 48 + 40 = 88 bytes and
//! record n (1-based) of a segment starts at (n - 1) * 88.

mod storage_support;

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use dcf_runtime::storage::{Storage, StorageError, StorageOptions};
use dcf_runtime::types::{Entry, EntryKind, Index};
use storage_support::{with_entries, Reopened};

const REC: u64 = 88;

fn opts(segment_size: u64) -> StorageOptions {
    StorageOptions {
        segment_size,
        cache_bytes: 0,
        sync: false,
        ..Default::default()
    }
}

fn entry(index: Index) -> Entry {
    Entry {
        index,
        term: 1 + index / 4,
        key: index ^ 0x5a5a,
        kind: EntryKind::Normal,
        data: Bytes::from(vec![index as u8; 40]),
    }
}

/// A log whose writes hold `writes[i]` entries each (one write per flush).
fn build(dir: &Path, writes: &[usize], segment_size: u64) -> Vec<Entry> {
    let s = Storage::open(dir, opts(segment_size), Box::new(|_, _, _| {})).unwrap();
    s.open_stream(1, None).unwrap();
    let mut next = 1;
    let mut all = Vec::new();
    for &n in writes {
        let es: Vec<Entry> = (next..next + n as u64).map(entry).collect();
        next += n as u64;
        all.extend(es.clone());
        s.append(1, es).unwrap();
        s.flush(1).unwrap();
    }
    s.close().unwrap();
    all
}

fn seg(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("stream_01/seg_{seq:010}.log"))
}

fn reopen(dir: &Path, segment_size: u64) -> Result<Reopened, StorageError> {
    let s = Storage::open(dir, opts(segment_size), Box::new(|_, _, _| {})).unwrap();
    s.open_stream(1, None).map(|r| with_entries(&s, r))
}

fn patch(path: &Path, offset: u64, f: impl FnOnce(&mut [u8])) {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = vec![0u8; 48];
    file.read_exact_at(&mut b, offset).unwrap();
    f(&mut b);
    file.write_all_at(&b, offset).unwrap();
}

fn flip(path: &Path, offset: u64, bit: u32) {
    patch(path, offset, |b| b[0] ^= 1 << bit);
}

fn set_len(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn assert_corrupt(r: Result<Reopened, StorageError>, file: &Path, offset: u64) {
    match r {
        Err(StorageError::Corrupt {
            file: f,
            offset: o,
            reason,
        }) => {
            assert_eq!((f.as_path(), o), (file, offset), "{reason}");
        }
        other => panic!(
            "expected corruption at {} offset {offset}, got {other:?}",
            file.display()
        ),
    }
}

#[test]
fn a_tail_cut_anywhere_recovers_the_complete_records() {
    for cut in (0..=10 * REC).step_by(4) {
        let d = tempfile::tempdir().unwrap();
        let all = build(d.path(), &[1; 10], 1 << 20);
        set_len(&seg(d.path(), 1), cut);
        let r = reopen(d.path(), 1 << 20).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let n = (cut / REC) as usize;
        assert_eq!(r.entries, all[..n].to_vec(), "cut at {cut}");
        assert_eq!(r.last_index, n as u64);
    }
}

#[test]
fn the_log_continues_after_a_cut_tail() {
    let d = tempfile::tempdir().unwrap();
    let all = build(d.path(), &[3, 3], 1 << 20);
    flip(&seg(d.path(), 1), 4 * REC + 60, 2);
    {
        let s = Storage::open(d.path(), opts(1 << 20), Box::new(|_, _, _| {})).unwrap();
        let r = storage_support::with_entries(&s, s.open_stream(1, None).unwrap());
        assert_eq!(r.entries, all[..4].to_vec());
        s.append(1, (5..=8).map(entry).collect()).unwrap();
        s.close().unwrap();
    }
    let r = reopen(d.path(), 1 << 20).unwrap();
    assert_eq!(r.entries, (1..=8).map(entry).collect::<Vec<_>>());
}

/// Flip one bit in every byte of the log. A flip in the last write is a torn tail (the
/// records before it survive, intact records of that write after it are dropped); a flip
/// anywhere else is corruption at the damaged record. Never is wrong data returned.
#[test]
fn every_bit_flip_is_a_torn_tail_or_named_corruption() {
    let writes = [1, 1, 3, 1, 2];
    let last_write_start = 6;
    // Every third byte: across the eight records this still hits every header field.
    for byte in (0..8 * REC).step_by(3) {
        let d = tempfile::tempdir().unwrap();
        let all = build(d.path(), &writes, 1 << 20);
        flip(&seg(d.path(), 1), byte, (byte % 8) as u32);
        let rec = byte / REC;
        let r = reopen(d.path(), 1 << 20);
        if rec >= last_write_start {
            let r = r.unwrap_or_else(|e| panic!("flip at {byte}: {e}"));
            assert_eq!(r.entries, all[..rec as usize].to_vec(), "flip at {byte}");
        } else {
            assert_corrupt(r, &seg(d.path(), 1), rec * REC);
        }
    }
}

#[test]
fn a_zeroed_record_before_later_writes_is_corruption() {
    let d = tempfile::tempdir().unwrap();
    build(d.path(), &[2, 2, 2], 1 << 20);
    patch(&seg(d.path(), 1), 2 * REC, |b| b.fill(0));
    assert_corrupt(reopen(d.path(), 1 << 20), &seg(d.path(), 1), 2 * REC);
}

/// Pages of the last, unsynced write may reach the disk in any order: a hole in that write
/// with intact records after it is still a torn tail.
#[test]
fn a_hole_inside_the_last_write_is_a_torn_tail() {
    let d = tempfile::tempdir().unwrap();
    let all = build(d.path(), &[2, 4], 1 << 20);
    patch(&seg(d.path(), 1), 3 * REC, |b| b.fill(0));
    let r = reopen(d.path(), 1 << 20).unwrap();
    assert_eq!(r.entries, all[..3].to_vec());
    // And the hole at the very start of the last write.
    let d = tempfile::tempdir().unwrap();
    let all = build(d.path(), &[2, 4], 1 << 20);
    patch(&seg(d.path(), 1), 2 * REC, |b| b.fill(0));
    assert_eq!(
        reopen(d.path(), 1 << 20).unwrap().entries,
        all[..2].to_vec()
    );
}

#[test]
fn damage_in_an_earlier_segment_is_corruption() {
    // 4096-byte segments hold 46 records; 150 entries span four segments.
    let writes = [10; 15];
    let d = tempfile::tempdir().unwrap();
    build(d.path(), &writes, 4096);
    flip(&seg(d.path(), 1), 5 * REC + 50, 0);
    // A sealed segment has an index, so the start does not read its payloads: the damage
    // shows, with file and offset, when the entry is read.
    assert!(seg(d.path(), 1).with_extension("idx").exists());
    {
        let s = Storage::open(d.path(), opts(4096), Box::new(|_, _, _| {})).unwrap();
        let r = s.open_stream(1, None).unwrap();
        assert_eq!(r.last_index, 150);
        assert!(s.read(1, 1, 5, usize::MAX).is_ok());
        match s.read(1, 6, 6, usize::MAX) {
            Err(StorageError::Corrupt { file, offset, .. }) => {
                assert_eq!(
                    (file.as_path(), offset),
                    (seg(d.path(), 1).as_path(), 5 * REC)
                );
            }
            other => panic!("expected corruption, got {other:?}"),
        }
    }
    // Without the index the start scans the segment and refuses it.
    std::fs::remove_file(seg(d.path(), 1).with_extension("idx")).unwrap();
    assert_corrupt(reopen(d.path(), 4096), &seg(d.path(), 1), 5 * REC);

    // A closed segment cut short: its records no longer reach the next segment.
    let d = tempfile::tempdir().unwrap();
    build(d.path(), &writes, 4096);
    set_len(&seg(d.path(), 2), 7 * REC + 20);
    assert_corrupt(reopen(d.path(), 4096), &seg(d.path(), 2), 7 * REC);

    let d = tempfile::tempdir().unwrap();
    build(d.path(), &writes, 4096);
    set_len(&seg(d.path(), 2), 7 * REC);
    assert_corrupt(reopen(d.path(), 4096), &seg(d.path(), 3), 0);

    // A missing segment leaves a gap in the indexes.
    let d = tempfile::tempdir().unwrap();
    build(d.path(), &writes, 4096);
    std::fs::remove_file(seg(d.path(), 2)).unwrap();
    assert_corrupt(reopen(d.path(), 4096), &seg(d.path(), 3), 0);
}

#[test]
fn a_torn_last_segment_keeps_the_earlier_ones() {
    let d = tempfile::tempdir().unwrap();
    let all = build(d.path(), &[40, 40], 4096);
    // Segment 1 holds 46 records (the second write's first 6 fill it up; it is synced
    // before the rest goes to segment 2).
    set_len(&seg(d.path(), 2), 0);
    let r = reopen(d.path(), 4096).unwrap();
    assert_eq!(r.entries, all[..46].to_vec());
    // A hole at the start of the last segment with intact records of the same write after it.
    let d = tempfile::tempdir().unwrap();
    let all = build(d.path(), &[40, 40], 4096);
    patch(&seg(d.path(), 2), 0, |b| b.fill(0));
    assert_eq!(reopen(d.path(), 4096).unwrap().entries, all[..46].to_vec());
}

#[test]
fn damaged_metadata_stops_the_open() {
    let d = tempfile::tempdir().unwrap();
    build(d.path(), &[3], 1 << 20);
    let meta = d.path().join("stream_01/meta");
    let mut b = std::fs::read(&meta).unwrap();
    b[13] ^= 0x10;
    std::fs::write(&meta, b).unwrap();
    match reopen(d.path(), 1 << 20) {
        Err(StorageError::Corrupt { file, .. }) => assert_eq!(file, meta),
        other => panic!("{other:?}"),
    }
    // A leftover temp file from an interrupted replace is ignored.
    let d = tempfile::tempdir().unwrap();
    let all = build(d.path(), &[3], 1 << 20);
    std::fs::write(d.path().join("stream_01/meta.tmp"), b"garbage").unwrap();
    assert_eq!(reopen(d.path(), 1 << 20).unwrap().entries, all);
}

/// The highest-numbered segment that holds data.
fn last_data_seg(dir: &Path) -> PathBuf {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir.join("stream_01"))
        .unwrap()
        .map(|d| d.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("seg_"))
        .filter(|p| std::fs::read(p).unwrap().iter().any(|&b| b != 0))
        .collect();
    segs.sort();
    segs.pop().unwrap()
}

/// After a cut inside a write (torn tail cut on open, or a suffix truncation), a torn
/// next write is still recognised as a torn tail, and damage before it as corruption.
#[test]
fn a_torn_write_after_a_cut_inside_a_write_is_a_torn_tail() {
    for via_truncate in [false, true] {
        let d = tempfile::tempdir().unwrap();
        let all = build(d.path(), &[2, 4], 1 << 20);
        {
            let s = Storage::open(d.path(), opts(1 << 20), Box::new(|_, _, _| {})).unwrap();
            if via_truncate {
                s.open_stream(1, None).unwrap();
                s.truncate_suffix(1, 4).unwrap();
            } else {
                flip(&seg(d.path(), 1), 3 * REC + 50, 1);
                assert_eq!(
                    storage_support::with_entries(&s, s.open_stream(1, None).unwrap()).entries,
                    all[..3].to_vec()
                );
            }
            // One write of four records after the cut.
            s.append(1, (4..=7).map(entry).collect()).unwrap();
            s.close().unwrap();
        }
        let newest = last_data_seg(d.path());
        assert_ne!(
            newest,
            seg(d.path(), 1),
            "writes after a cut go to a new segment"
        );
        // Damage to its first record: a torn write, records 1..=3 stay.
        flip(&newest, 10, 0);
        let r = reopen(d.path(), 1 << 20).unwrap();
        assert_eq!(r.entries, all[..3].to_vec(), "via_truncate={via_truncate}");
    }
}

/// Sealed segments' indexes give the same recovery as a scan; a damaged or stale index is
/// ignored (the segment is scanned).
#[test]
fn segment_indexes_match_a_scan_and_bad_ones_are_ignored() {
    let d = tempfile::tempdir().unwrap();
    let all = build(d.path(), &[10; 15], 4096);
    let idx = |seq| seg(d.path(), seq).with_extension("idx");
    assert!(idx(1).exists() && idx(2).exists());
    let with = reopen(d.path(), 4096).unwrap();
    assert_eq!(with.entries, all);
    flip(&idx(1), 20, 0);
    assert_eq!(reopen(d.path(), 4096).unwrap().entries, all);
    std::fs::remove_file(idx(2)).unwrap();
    let without = reopen(d.path(), 4096).unwrap();
    assert_eq!(without.entries, all);
    assert_eq!(
        (without.terms.clone(), without.last_index),
        (with.terms.clone(), with.last_index)
    );
}
