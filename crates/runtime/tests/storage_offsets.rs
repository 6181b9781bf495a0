//! Sealed segments keep sparse record offsets: reads of any range and byte budget, suffix
//! cuts inside a sealed segment, and restarts through segment indexes return exactly the
//! entries written. Random ranges come from `DCF_STORAGE_SEED` (printed on failure).

mod storage_support;

use std::path::Path;

use bytes::Bytes;
use dcf_runtime::storage::{Storage, StorageOptions};
use dcf_runtime::types::{Entry, EntryKind, Index, Term};
use rand::{Rng, SeedableRng};

fn open(dir: &Path) -> Storage {
    let o = StorageOptions {
        segment_size: 256 << 10,
        cache_bytes: 0,
        sync: false,
        ..Default::default()
    };
    Storage::open(dir, o, Box::new(|_, _, _| {})).unwrap()
}

/// Mostly small entries with a few large ones, so that anchors fall both by count and by
/// bytes.
fn entry(index: Index, term: Term) -> Entry {
    let len = if index.is_multiple_of(97) {
        70_000
    } else {
        (index * 31 % 200) as usize
    };
    Entry {
        index,
        term,
        key: index ^ term << 40,
        kind: if index.is_multiple_of(500) {
            EntryKind::Conf
        } else {
            EntryKind::Normal
        },
        data: Bytes::from(vec![(index % 251) as u8; len]),
    }
}

/// Reads `lo..=hi` with `budget` and checks the answer is a non-empty prefix within the
/// budget (one entry may exceed it); then reads on to `hi` and checks everything.
fn check_read(s: &Storage, want: &[Entry], lo: Index, hi: Index, budget: usize) {
    let got = s.read(1, lo, hi, budget).unwrap();
    let base = want[0].index;
    assert!(
        !got.is_empty(),
        "read {lo}..={hi} / {budget} returned nothing"
    );
    let bytes: usize = got.iter().map(|e| e.data.len()).sum();
    assert!(
        got.len() == 1 || bytes <= budget,
        "read {lo}..={hi} / {budget}: {bytes} bytes in {} entries",
        got.len()
    );
    let from = (lo - base) as usize;
    assert_eq!(got[..], want[from..from + got.len()], "read {lo}..={hi}");
    let mut at = lo + got.len() as u64;
    while at <= hi {
        let more = s.read(1, at, hi, budget).unwrap();
        assert!(!more.is_empty());
        let from = (at - base) as usize;
        assert_eq!(more[..], want[from..from + more.len()]);
        at += more.len() as u64;
    }
}

#[test]
fn sealed_segments_read_cut_and_reopen() {
    let seed: u64 = std::env::var("DCF_STORAGE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    let result = std::panic::catch_unwind(|| run(seed));
    if result.is_err() {
        panic!("failed with DCF_STORAGE_SEED={seed}");
    }
}

fn run(seed: u64) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let d = tempfile::tempdir().unwrap();
    let mut want: Vec<Entry> = (1..=6000).map(|i| entry(i, 1)).collect();
    {
        let s = open(d.path());
        s.open_stream(1, None).unwrap();
        for c in want.chunks(50) {
            s.append(1, c.to_vec()).unwrap();
        }
        s.flush(1).unwrap();
        let (segs, _) = s.segment_files(1);
        assert!(segs >= 6, "{segs} segments");
        for _ in 0..200 {
            let lo = rng.gen_range(1..=6000);
            let hi = rng.gen_range(lo..=6000);
            let budget = [0, 100, 5000, 100_000, 1 << 20][rng.gen_range(0..5)];
            check_read(&s, &want, lo, hi, budget);
        }
        // A cut in the middle of a sealed segment (a follower meeting a new leader).
        let cut = rng.gen_range(1500..3000);
        s.truncate_suffix(1, cut).unwrap();
        want.truncate(cut as usize - 1);
        want.extend((cut..cut + 700).map(|i| entry(i, 2)));
        s.append(1, want[cut as usize - 1..].to_vec()).unwrap();
        s.flush(1).unwrap();
        let last = want.len() as u64;
        check_read(&s, &want, 1, last, usize::MAX);
        check_read(&s, &want, cut - 3, last, 4096);
        s.close().unwrap();
    }
    // Restart through the indexes of the sealed segments.
    let s = open(d.path());
    let r = storage_support::with_entries(&s, s.open_stream(1, None).unwrap());
    assert_eq!(r.entries, want);
    let last = want.len() as u64;
    for _ in 0..100 {
        let lo = rng.gen_range(1..=last);
        let hi = rng.gen_range(lo..=last);
        check_read(&s, &want, lo, hi, rng.gen_range(0..200_000));
    }
}

fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Memory of a restart on a log of small entries (a figure, not a check): run with
/// `DCF_OFFSETS_MIB=1024 cargo test --release -p dcf-runtime --test storage_offsets restart_memory -- --ignored --nocapture`.
#[test]
#[ignore]
fn restart_memory_of_a_log_of_small_entries() {
    let mib: u64 = std::env::var("DCF_OFFSETS_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let d = tempfile::tempdir().unwrap();
    let o = || StorageOptions {
        segment_size: 64 << 20,
        cache_bytes: 0,
        sync: false,
        ..Default::default()
    };
    let payload = Bytes::from(vec![7u8; 64]);
    let mut n = 0;
    {
        let s = Storage::open(d.path(), o(), Box::new(|_, _, _| {})).unwrap();
        s.open_stream(1, None).unwrap();
        while n * 100 < mib << 20 {
            let batch: Vec<Entry> = (n + 1..=n + 4096)
                .map(|i| Entry {
                    index: i,
                    term: 1,
                    key: i,
                    kind: EntryKind::Normal,
                    data: payload.clone(),
                })
                .collect();
            s.append(1, batch).unwrap();
            n += 4096;
            if n % (1 << 20) == 0 {
                s.flush(1).unwrap();
            }
        }
        s.flush(1).unwrap();
        s.close().unwrap();
    }
    // Reset the peak, so that it measures the restart alone.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_kib("VmRSS:");
    let t = std::time::Instant::now();
    let s = Storage::open(d.path(), o(), Box::new(|_, _, _| {})).unwrap();
    let r = s.open_stream(1, None).unwrap();
    let took = t.elapsed();
    assert_eq!(r.last_index, n);
    let (after, peak) = (status_kib("VmRSS:"), status_kib("VmHWM:"));
    println!(
        "restart on {n} entries of 64 B ({mib} MiB of log): {took:?}, resident +{} KiB, peak +{} KiB",
        after.saturating_sub(before),
        peak.saturating_sub(before)
    );
}
