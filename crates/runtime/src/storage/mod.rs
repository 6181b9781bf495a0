//! Durable log storage of one node (DESIGN.md "On disk", SPEC.md Part C §7 for the behaviour).
//!
//! Layout under DATA_PATH: `LOCK` (flock held while open) and one directory per stream,
//! `stream_NN/`, holding `meta` (hard state, membership, first index; replaced atomically)
//! and numbered segment files `seg_NNNNNNNNNN.log` of checksummed records (record.rs), each
//! sealed one with an index `seg_NNNNNNNNNN.idx` (seg_index.rs).
//! All writes go through one writer thread per node (writer.rs); recovery is recover.rs.
//! inspect.rs and inspect_verify.rs read a stopped node's directory for `dcf-inspect`;
//! dcf/ reads and writes the C library's layout (adoption on start, export back).

mod crc;
pub mod dcf;
mod diskops;
mod error;
mod fault;
pub mod inspect;
pub mod inspect_verify;
mod meta;
mod offsets;
#[cfg(feature = "power-loss")]
pub mod power;
mod record;
mod recover;
mod seg_index;
mod segment;
mod stream;
mod sys;
mod vecwrite;
mod writer;

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex, RwLock};
use rustix::fs::FlockOperation;

pub use error::StorageError;
pub use fault::{FaultOp, Faults};
pub use record::MAX_PAYLOAD;

use diskops::{DiskEnv, Stats};
use error::IoContext;
use stream::{LogState, StreamState, WriterSide};
use writer::{Done, Op, Queued, Waiter};

use crate::types::{Entry, HardState, Index, StreamId, Term};

#[derive(Clone, Debug)]
pub struct StorageOptions {
    /// Segment roll size in bytes (DATA_FILE_SIZE); segments are preallocated to it.
    pub segment_size: u64,
    /// Byte budget of the per-stream cache of recent entries.
    pub cache_bytes: usize,
    /// fsync/fdatasync for real; tests may turn it off.
    pub sync: bool,
    /// Injected disk faults (tests).
    pub faults: Arc<Faults>,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            segment_size: 64 << 20,
            cache_bytes: 64 << 20,
            sync: true,
            faults: Arc::default(),
        }
    }
}

const MIN_SEGMENT: u64 = 4096;
const MAX_SEGMENT: u64 = 2 << 30;

/// What a stream's storage held when it was opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    pub hard_state: HardState,
    pub membership: Option<Vec<u8>>,
    pub first_index: Index,
    pub last_index: Index,
    /// Term of first_index-1 if known, else 0.
    pub base_term: Term,
    /// (first index, term) of each run of entries of one term in first..=last.
    pub terms: Vec<(Index, Term)>,
    /// The CONF entries of first..=last. Other payloads stay on disk (`read`).
    pub conf_entries: Vec<Entry>,
}

/// Counters since open (for benchmarks and tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StorageStats {
    pub syncs: u64,
    pub rounds: u64,
    pub entries_written: u64,
    pub bytes_written: u64,
    pub round_ns: u64,
}

pub struct Storage {
    data_path: PathBuf,
    opts: StorageOptions,
    w: Arc<writer::WriterState>,
    streams: RwLock<HashMap<StreamId, Arc<StreamState>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    lock: File,
}

impl Storage {
    pub fn open(
        data_path: &Path,
        opts: StorageOptions,
        on_durable: Box<dyn Fn(StreamId, Index, Term) + Send + Sync>,
    ) -> Result<Storage, StorageError> {
        if !(MIN_SEGMENT..=MAX_SEGMENT).contains(&opts.segment_size) {
            return Err(StorageError::BadOption {
                name: "segment_size",
                value: opts.segment_size,
                reason: "must be within 4 KiB..=2 GiB",
            });
        }
        sys::create_dir_all(data_path).ctx("create directory", data_path)?;
        let lock_path = data_path.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .ctx("open", &lock_path)?;
        lock_dir(&lock, FlockOperation::NonBlockingLockExclusive, data_path)?;
        let w = Arc::new(writer::WriterState {
            queue: Mutex::new(writer::Queue::default()),
            cv: Condvar::new(),
            failed: Mutex::new(None),
            on_failure: Mutex::new(None),
            disk: DiskEnv {
                faults: opts.faults.clone(),
                stats: Stats::default(),
                seg_size: opts.segment_size,
                sync: opts.sync,
            },
            on_durable,
            buf: Mutex::new(Vec::new()),
        });
        let ws = w.clone();
        let thread = std::thread::Builder::new()
            .name("dcf-storage".into())
            .spawn(move || writer::run(ws))
            .ctx("spawn writer thread", data_path)?;
        Ok(Storage {
            data_path: data_path.to_path_buf(),
            opts,
            w,
            streams: RwLock::new(HashMap::new()),
            thread: Mutex::new(Some(thread)),
            lock,
        })
    }

    /// `f` is called once, on the writer thread, when the writer fails: from then on
    /// nothing more can be made durable until the node restarts.
    pub fn on_failure(&self, f: writer::FailureFn) {
        // Installed under the failure lock, so that a failure either finds `f` or is seen here.
        let failed = self.w.failed.lock();
        if let Some(e) = &*failed {
            f(e);
        }
        *self.w.on_failure.lock() = Some(f);
    }

    /// The first failure of the writer, if any.
    pub fn failure(&self) -> Option<String> {
        self.w.failed.lock().clone()
    }

    /// Open (or create) a stream and recover its log. `applied_base`: Some(v-1) with an
    /// empty log makes the log start at v.
    pub fn open_stream(
        &self,
        stream: StreamId,
        applied_base: Option<Index>,
    ) -> Result<Recovered, StorageError> {
        self.check_running()?;
        let mut streams = self.streams.write();
        if streams.contains_key(&stream) {
            return Err(StorageError::StreamAlreadyOpen(stream));
        }
        let dir = self.data_path.join(format!("stream_{stream:02}"));
        if !dir.exists() {
            sys::create_dir_all(&dir).ctx("create directory", &dir)?;
            if self.opts.sync {
                meta::fsync_dir(&self.data_path)?;
            }
        }
        recover::remove_tmp(&dir)?;
        let stored = meta::load(&dir)?;
        let mut meta = stored.clone().unwrap_or_default();
        let found = recover::recover(&dir, &meta, self.opts.segment_size, self.opts.sync)?;
        let mut first = found.first_index;
        let mut base_term = found.base_term;
        if let (Some(a), true) = (applied_base, found.terms.is_empty()) {
            if a + 1 != first {
                first = a + 1;
                base_term = 0;
            }
        }
        meta.first_index = first;
        meta.base_term = base_term;
        if stored.as_ref() != Some(&meta) {
            meta::store(&dir, &meta)?;
        }
        let last = if found.terms.is_empty() {
            first - 1
        } else {
            found.last_index
        };
        let last_term = found.segments.last().map_or(base_term, |g| g.last_term);
        let (cur, cur_off) = match found.segments.last() {
            Some(g) if found.resume => (Some((g.handle()?, g.path.clone())), g.end),
            _ => (None, 0),
        };
        let spare_seq = found.next_seq;
        let max = self.opts.segment_size;
        let spare_cap = if found.resume {
            segment::next_cap(found.cur_cap, max)
        } else {
            segment::first_cap(max)
        };
        let spare = segment::create(&dir, spare_seq, spare_cap, self.opts.sync)?;
        let recovered = Recovered {
            hard_state: meta.hard_state,
            membership: meta.membership.clone(),
            first_index: first,
            last_index: last,
            base_term,
            terms: found.terms,
            conf_entries: found.conf_entries,
        };
        let state = Arc::new(StreamState {
            id: stream,
            dir,
            faults: self.opts.faults.clone(),
            shared: Mutex::new(LogState {
                first_index: first,
                last_index: last,
                written_index: last,
                durable_index: last,
                cache: VecDeque::new(),
                cache_bytes: 0,
                cache_limit: self.opts.cache_bytes,
                segments: found.segments,
                op_seq: 0,
                pending_truncs: Vec::new(),
            }),
            w: Mutex::new(WriterSide {
                meta,
                gen: found.last_gen,
                cur,
                cur_off,
                spare: Some((spare_seq, spare)),
                spare_cap,
                cur_cap: found.cur_cap,
                next_cap: segment::next_cap(spare_cap, max),
                next_seq: spare_seq + 1,
                unsynced: false,
                released_to: 0,
                last_written: (last, last_term),
            }),
        });
        streams.insert(stream, state);
        Ok(recovered)
    }

    /// Queue entries (contiguous with the current last index) for the writer; returns at
    /// once. on_durable(stream, index, term) follows the fdatasync that covers them, on the
    /// writer thread. A report can race with a truncate_suffix queued meanwhile, so callers
    /// match (index, term) against their log rather than trusting the index alone.
    pub fn append(&self, stream: StreamId, entries: Vec<Entry>) -> Result<(), StorageError> {
        self.append_via(stream, entries, false)
    }

    /// Like `append`, but when the writer is idle and nothing is queued, the calling thread
    /// writes and syncs the entries itself (one round, as the writer would run it) and
    /// on_durable is called on it before this returns. A follower's driver appends so: the
    /// entries become durable without two thread hand-offs (to the writer and back), which
    /// are a fifth of a follower's part of a commit on a loaded 2-core machine.
    pub fn append_here(&self, stream: StreamId, entries: Vec<Entry>) -> Result<(), StorageError> {
        self.append_via(stream, entries, true)
    }

    /// After `append_here`: creates the stream's next segment on the calling thread if it
    /// has none and the writer is idle, so that the segment after the current one is ready
    /// before it is needed, and its creation was not on the path of the durable report.
    /// (A writer that is not idle prepares it at the end of a round of this stream's; a
    /// roll without one creates it then.)
    pub fn prepare_spare(&self, stream: StreamId) -> Result<(), StorageError> {
        let st = self.stream(stream)?;
        if st.w.lock().spare.is_some() {
            return Ok(());
        }
        if !self.w.try_claim(&mut self.w.queue.lock()) {
            return Ok(());
        }
        writer::prepare_spare(&self.w, &st);
        self.w.release();
        self.check_failed()
    }

    /// `append`, or with `here` `append_here`: checks the entries, takes them into the
    /// cache, and queues them or runs their round on this thread.
    fn append_via(
        &self,
        stream: StreamId,
        entries: Vec<Entry>,
        here: bool,
    ) -> Result<(), StorageError> {
        if entries.is_empty() {
            return Ok(());
        }
        let st = self.stream(stream)?;
        let mut sh = st.shared.lock();
        let mut expect = sh.last_index + 1;
        for e in &entries {
            if e.index != expect {
                return Err(StorageError::NotContiguous {
                    stream,
                    last: expect - 1,
                    got: e.index,
                });
            }
            if e.data.len() > MAX_PAYLOAD {
                return Err(StorageError::EntryTooLarge {
                    stream,
                    index: e.index,
                    len: e.data.len(),
                    max: MAX_PAYLOAD,
                });
            }
            expect += 1;
        }
        for e in &entries {
            sh.push_cache(e.clone());
        }
        sh.last_index = expect - 1;
        let r = self.queue_op(&st, &mut sh, Op::Append(entries), here);
        drop(sh);
        match r {
            Ok(Some(claimed)) => {
                self.w.run_here(claimed);
                Ok(())
            }
            r => {
                self.wake_writer();
                r.map(drop)
            }
        }
    }

    /// Queue: drop every entry >= from (ordered with appends).
    pub fn truncate_suffix(&self, stream: StreamId, from: Index) -> Result<(), StorageError> {
        let st = self.stream(stream)?;
        let mut sh = st.shared.lock();
        if from < sh.first_index || from > sh.last_index + 1 {
            return Err(StorageError::OutOfRange {
                stream,
                index: from,
                first: sh.first_index,
                last: sh.last_index + 1,
            });
        }
        if from == sh.last_index + 1 {
            return Ok(());
        }
        sh.cut_cache(from);
        sh.last_index = from - 1;
        sh.written_index = sh.written_index.min(from - 1);
        sh.durable_index = sh.durable_index.min(from - 1);
        let seq = sh.op_seq + 1;
        sh.pending_truncs.push((seq, from));
        let r = self.enqueue(&st, &mut sh, Op::TruncSuffix(from));
        drop(sh);
        self.wake_writer();
        r
    }

    /// Durable when it returns.
    pub fn save_hard_state(&self, stream: StreamId, hs: HardState) -> Result<(), StorageError> {
        self.sync_op(stream, |d| Op::HardState(hs, d))
    }

    /// Durable when it returns; `membership` is an opaque blob.
    pub fn save_membership(&self, stream: StreamId, membership: &[u8]) -> Result<(), StorageError> {
        let m = membership.to_vec();
        self.sync_op(stream, |d| Op::Membership(m, d))
    }

    /// dcf_truncate: keep first_kept and after; whole segments below it are deleted once the
    /// new first index is durable. If first_kept > last+1 the log jumps forward (last =
    /// first_kept-1), as DCF does.
    pub fn truncate_prefix(&self, stream: StreamId, first_kept: Index) -> Result<(), StorageError> {
        let st = self.stream(stream)?;
        let done = Arc::new(Done::default());
        {
            let mut sh = st.shared.lock();
            if first_kept <= sh.first_index {
                return Ok(());
            }
            sh.first_index = first_kept;
            if first_kept > sh.last_index + 1 {
                sh.last_index = first_kept - 1;
            }
            sh.trim_cache_front(first_kept);
            self.enqueue(
                &st,
                &mut sh,
                Op::TruncPrefix(first_kept, Waiter(done.clone())),
            )?;
        }
        self.wake_writer();
        done.wait()
    }

    /// Block until everything queued so far is durable.
    pub fn flush(&self, stream: StreamId) -> Result<(), StorageError> {
        self.sync_op(stream, Op::Barrier)
    }

    /// Entries lo..=hi (stops early at max_bytes but returns at least one), from the
    /// cache or disk.
    pub fn read(
        &self,
        stream: StreamId,
        lo: Index,
        hi: Index,
        max_bytes: usize,
    ) -> Result<Vec<Entry>, StorageError> {
        self.stream(stream)?.read(lo, hi, max_bytes)
    }

    /// Every entry of the stream, first..=last (tests and tools; a long log is large).
    pub fn read_all(&self, stream: StreamId) -> Result<Vec<Entry>, StorageError> {
        let (first, last) = (self.first_index(stream), self.last_index(stream));
        if last < first {
            return Ok(Vec::new());
        }
        self.read(stream, first, last, usize::MAX)
    }

    /// (segments, of which open) of a stream: old segments are opened only when read.
    pub fn segment_files(&self, stream: StreamId) -> (usize, usize) {
        self.streams.read().get(&stream).map_or((0, 0), |s| {
            let sh = s.shared.lock();
            let open = sh.segments.iter().filter(|g| g.file.is_some()).count();
            (sh.segments.len(), open)
        })
    }

    pub fn durable_index(&self, stream: StreamId) -> Index {
        self.get(stream, |s| s.durable_index)
    }

    pub fn first_index(&self, stream: StreamId) -> Index {
        self.get(stream, |s| s.first_index)
    }

    /// Including queued, not yet durable entries.
    pub fn last_index(&self, stream: StreamId) -> Index {
        self.get(stream, |s| s.last_index)
    }

    /// Bytes of payload held in the stream's cache (bounded by `cache_bytes` once written).
    pub fn cached_bytes(&self, stream: StreamId) -> usize {
        self.streams
            .read()
            .get(&stream)
            .map_or(0, |s| s.shared.lock().cache_bytes)
    }

    pub fn stats(&self) -> StorageStats {
        let s = &self.w.disk.stats;
        StorageStats {
            syncs: s.syncs.load(Ordering::Relaxed),
            rounds: s.rounds.load(Ordering::Relaxed),
            entries_written: s.entries.load(Ordering::Relaxed),
            bytes_written: s.bytes.load(Ordering::Relaxed),
            round_ns: s.round_ns.load(Ordering::Relaxed),
        }
    }

    /// Write out everything queued, stop the writer, close the files.
    pub fn close(self) -> Result<(), StorageError> {
        self.shutdown()
    }

    /// Like `close`, through a shared reference (the node owns storage behind an Arc).
    pub fn shutdown(&self) -> Result<(), StorageError> {
        let Some(t) = self.thread.lock().take() else {
            return Ok(());
        };
        self.w.queue.lock().shutdown = true;
        self.w.cv.notify_all();
        if t.join().is_err() {
            return Err(StorageError::Failed("writer thread panicked".into()));
        }
        self.check_failed()
    }

    fn check_failed(&self) -> Result<(), StorageError> {
        match &*self.w.failed.lock() {
            Some(f) => Err(StorageError::Failed(f.clone())),
            None => Ok(()),
        }
    }

    fn check_running(&self) -> Result<(), StorageError> {
        self.check_failed()?;
        if self.w.queue.lock().shutdown {
            return Err(StorageError::Closed);
        }
        Ok(())
    }

    fn stream(&self, stream: StreamId) -> Result<Arc<StreamState>, StorageError> {
        self.streams
            .read()
            .get(&stream)
            .cloned()
            .ok_or(StorageError::UnknownStream(stream))
    }

    fn get(&self, stream: StreamId, f: impl Fn(&LogState) -> Index) -> Index {
        self.streams
            .read()
            .get(&stream)
            .map_or(0, |s| f(&s.shared.lock()))
    }

    /// Queue an op; called with the stream's lock held so that queue order is index order.
    /// The caller wakes the writer after unlocking.
    fn enqueue(
        &self,
        st: &Arc<StreamState>,
        sh: &mut LogState,
        op: Op,
    ) -> Result<(), StorageError> {
        self.queue_op(st, sh, op, false).map(drop)
    }

    /// `enqueue`, or with `claim` and the writer idle, the op handed back with the next
    /// round claimed for the caller to run (`WriterState::run_here`).
    fn queue_op(
        &self,
        st: &Arc<StreamState>,
        sh: &mut LogState,
        op: Op,
        claim: bool,
    ) -> Result<Option<Queued>, StorageError> {
        self.check_failed()?;
        sh.op_seq += 1;
        let mut q = self.w.queue.lock();
        if q.shutdown {
            return Err(StorageError::Closed);
        }
        let op = Queued {
            stream: st.clone(),
            seq: sh.op_seq,
            op,
        };
        if claim && self.w.try_claim(&mut q) {
            return Ok(Some(op));
        }
        q.ops.push(op);
        Ok(None)
    }

    /// Called after `enqueue` once the stream's lock is released: the writer takes that lock
    /// for every batch it writes, so waking it earlier makes it wait for this thread (and
    /// parking_lot's spinning yields the CPU, for milliseconds on a loaded machine).
    fn wake_writer(&self) {
        self.w.cv.notify_one();
    }

    fn sync_op(&self, stream: StreamId, op: impl FnOnce(Waiter) -> Op) -> Result<(), StorageError> {
        let st = self.stream(stream)?;
        let done = Arc::new(Done::default());
        {
            let mut sh = st.shared.lock();
            self.enqueue(&st, &mut sh, op(Waiter(done.clone())))?;
        }
        self.wake_writer();
        done.wait()
    }
}

/// How long a data directory's lock is retried before it counts as held by someone else.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Takes the lock on `data/LOCK` (`op` is a non-blocking exclusive or shared flock). A
/// child process that another thread of this process is starting shares the lock file with
/// us until it execs (a flock belongs to the open file), so a lock just released can seem
/// held for a moment: it is retried for `LOCK_WAIT` before `Locked` is returned.
pub(crate) fn lock_dir(file: &File, op: FlockOperation, data: &Path) -> Result<(), StorageError> {
    let end = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match rustix::fs::flock(file, op) {
            Ok(()) => return Ok(()),
            Err(rustix::io::Errno::WOULDBLOCK) if std::time::Instant::now() < end => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(_) => return Err(StorageError::Locked(data.to_path_buf())),
        }
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        // Errors were reported to waiters already; nothing more can be done here.
        let _ = self.shutdown();
        // Unlocked explicitly: a child process started meanwhile may still share the lock
        // file, and closing our descriptor alone would leave the lock held through its copy.
        let _ = rustix::fs::flock(&self.lock, FlockOperation::Unlock);
    }
}
