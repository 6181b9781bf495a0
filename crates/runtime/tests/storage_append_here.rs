//! `Storage::append_here`: a round on the appending thread when the writer is idle, queued
//! behind it otherwise, and never two rounds at once.

use std::path::Path;
use std::sync::Arc;
use std::thread::ThreadId;
use std::time::Duration;

use bytes::Bytes;
use dcf_runtime::storage::{Faults, Storage, StorageOptions};
use dcf_runtime::types::{Entry, EntryKind, HardState, Index, StreamId};
use parking_lot::Mutex;

/// Each durable report with the thread that made it.
type Reports = Arc<Mutex<Vec<(StreamId, Index, ThreadId)>>>;

fn open(dir: &Path, faults: Arc<Faults>) -> (Storage, Reports) {
    let reports: Reports = Arc::default();
    let r2 = reports.clone();
    let opts = StorageOptions {
        segment_size: 8192,
        cache_bytes: 1 << 16,
        sync: false,
        faults,
    };
    let s = Storage::open(
        dir,
        opts,
        Box::new(move |s, i, _| r2.lock().push((s, i, std::thread::current().id()))),
    )
    .unwrap();
    (s, reports)
}

fn entries(stream: StreamId, lo: Index, hi: Index) -> Vec<Entry> {
    (lo..=hi)
        .map(|i| Entry {
            index: i,
            term: 1,
            key: i,
            kind: EntryKind::Normal,
            data: Bytes::from(vec![(i as u8) ^ (stream as u8); (i % 200) as usize]),
        })
        .collect()
}

#[test]
fn an_idle_writer_lets_the_caller_make_its_entries_durable_before_it_returns() {
    let d = tempfile::tempdir().unwrap();
    let (s, reports) = open(d.path(), Arc::default());
    s.open_stream(1, None).unwrap();
    s.append_here(1, entries(1, 1, 5)).unwrap();
    assert_eq!(s.durable_index(1), 5);
    let me = std::thread::current().id();
    assert_eq!(reports.lock().as_slice(), &[(1, 5, me)]);
    // The next segment is left for the caller to prepare once idle, on its own thread.
    s.prepare_spare(1).unwrap();
    s.append_here(1, entries(1, 6, 9)).unwrap();
    assert_eq!(s.durable_index(1), 9);
    assert_eq!(reports.lock().last(), Some(&(1, 9, me)));
    assert_eq!(s.read(1, 1, 9, usize::MAX).unwrap(), entries(1, 1, 9));
}

#[test]
fn behind_a_busy_writer_the_entries_are_queued_in_order() {
    let d = tempfile::tempdir().unwrap();
    let faults = Arc::new(Faults::default());
    let (s, reports) = open(d.path(), faults.clone());
    s.open_stream(1, None).unwrap();
    // The writer takes these and sleeps in their sync.
    faults.slow_sync(Duration::from_millis(300));
    s.append(1, entries(1, 1, 5)).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    s.append_here(1, entries(1, 6, 10)).unwrap();
    assert!(
        s.durable_index(1) < 10,
        "append_here waited for a busy writer"
    );
    faults.clear();
    s.flush(1).unwrap();
    assert_eq!(s.durable_index(1), 10);
    assert_eq!(s.read(1, 1, 10, usize::MAX).unwrap(), entries(1, 1, 10));
    let me = std::thread::current().id();
    assert!(reports.lock().iter().all(|&(_, _, t)| t != me));
}

/// Threads appending here and through the writer, with synchronous metadata writes in
/// between: every stream reads back whole and in order after a reopen, so no two rounds
/// ever wrote one stream at once.
#[test]
fn rounds_here_and_on_the_writer_take_turns() {
    let d = tempfile::tempdir().unwrap();
    {
        let (s, _) = open(d.path(), Arc::default());
        let s = Arc::new(s);
        for st in 1..=4 {
            s.open_stream(st, None).unwrap();
        }
        let threads: Vec<_> = (1..=4u32)
            .map(|st| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for k in 0..300u64 {
                        let batch = entries(st, k * 3 + 1, k * 3 + 3);
                        if (k + u64::from(st)) % 3 == 0 {
                            s.append(st, batch).unwrap();
                        } else {
                            s.append_here(st, batch).unwrap();
                            s.prepare_spare(st).unwrap();
                        }
                        if k % 50 == 0 {
                            let hs = HardState {
                                term: k + 1,
                                vote: 1,
                            };
                            s.save_hard_state(st, hs).unwrap();
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for st in 1..=4 {
            s.flush(st).unwrap();
            assert_eq!(s.durable_index(st), 900);
        }
    }
    let (s, _) = open(d.path(), Arc::default());
    for st in 1..=4 {
        let rec = s.open_stream(st, None).unwrap();
        assert_eq!((rec.first_index, rec.last_index), (1, 900), "stream {st}");
        assert_eq!(rec.hard_state.term, 251, "stream {st}");
        assert_eq!(s.read_all(st).unwrap(), entries(st, 1, 900), "stream {st}");
    }
}
