//! Power cuts under the real storage code. `storage::power` records every durable operation
//! storage makes (writes, syncs, creations, renames, removals, directory syncs) and yields
//! what a disk may hold after a power cut at any point: synced data stays; unsynced writes
//! survive, vanish or are torn at 512-byte sectors; unsynced directory changes survive or
//! not. The test drives storage through appends of mixed sizes, suffix cuts, prefix
//! truncations, segment rolls and hard-state and membership saves, cuts the power at
//! random points, runs the real recovery on each image and checks what it finds:
//! * every entry reported durable (on_durable, a flush, a recovery) is there, with its term
//!   and bytes, and so is everything before it;
//! * every entry found is one that was appended (bytes, term), in a log that was once
//!   written (each entry follows the entry it followed when it was appended);
//! * term, vote, membership and first index are the last acknowledged or the one in flight;
//! * recovery never fails.
//!
//! One image per batch of cuts becomes the disk of the next batch, so recovery's own repairs
//! are cut too.
//!
//! Seeds `POWER_LOSS_SEEDS=a..b` (default 0..4) or one `POWER_LOSS_SEED=s`; power cuts per
//! seed `POWER_LOSS_CUTS` (default 500). The writer's rounds are held to what the test
//! queues (`Faults::hold_rounds`), so a seed replays exactly.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use dcf_runtime::storage::power::Recorder;
use dcf_runtime::storage::{Faults, Recovered, Storage, StorageOptions};
use dcf_runtime::types::{Entry, EntryKind, HardState, Index, Term};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const STREAM: u32 = 1;
/// Power cuts checked per batch of work; the last one goes on.
const CUTS_PER_EPOCH: u64 = 10;

fn seeds() -> Range<u64> {
    if let Ok(s) = std::env::var("POWER_LOSS_SEED") {
        let s: u64 = s.trim().parse().expect("POWER_LOSS_SEED must be a number");
        return s..s + 1;
    }
    let Ok(s) = std::env::var("POWER_LOSS_SEEDS") else {
        return 0..4;
    };
    let (a, b) = s
        .split_once("..")
        .expect("POWER_LOSS_SEEDS must look like a..b");
    a.trim().parse().expect("seed range start")..b.trim().parse().expect("seed range end")
}

fn cuts() -> u64 {
    std::env::var("POWER_LOSS_CUTS")
        .map(|s| s.trim().parse().expect("POWER_LOSS_CUTS must be a number"))
        .unwrap_or(500)
}

/// Entry (index, term) always has the same key, kind and payload, so any byte that differs
/// after recovery is caught. Sizes are mixed: mostly small, some across the 1 KiB copy
/// threshold, some of several KiB, a few larger than a small segment.
fn entry(index: Index, term: Term) -> Entry {
    thread_local! {
        static MADE: std::cell::RefCell<HashMap<(Index, Term), Entry>> = Default::default();
    }
    MADE.with(|m| {
        m.borrow_mut()
            .entry((index, term))
            .or_insert_with(|| make_entry(index, term))
            .clone()
    })
}

fn make_entry(index: Index, term: Term) -> Entry {
    let h = index.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ term.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    let h = h ^ (h >> 29);
    let len = match h % 100 {
        0..=49 => (h >> 8) % 200,
        50..=74 => 200 + (h >> 8) % 1800,
        75..=91 => 2000 + (h >> 8) % 7000,
        92..=98 => 9000 + (h >> 8) % 20_000,
        _ => 30_000 + (h >> 8) % 50_000,
    } as usize;
    Entry {
        index,
        term,
        key: h,
        kind: if (h >> 3).is_multiple_of(11) {
            EntryKind::Conf
        } else {
            EntryKind::Normal
        },
        data: Bytes::from(
            (0..len)
                .map(|i| (h >> (i % 56)) as u8 ^ i as u8)
                .collect::<Vec<_>>(),
        ),
    }
}

/// What the test did or learned, at a position of the recorder's journal.
#[derive(Clone, Debug)]
enum Mark {
    /// Entries lo..=hi of one term queued.
    Append(Index, Index, Term),
    TruncSuffix(Index),
    /// on_durable.
    Durable(Index, Term),
    HardState(HardState),
    HardStateSaved,
    Membership(Vec<u8>),
    MembershipSaved,
    TruncPrefix(Index),
    TruncPrefixDone,
    /// A flush returned: everything queued before is durable.
    Flushed,
}

type Marks = Arc<Mutex<Vec<(usize, Mark)>>>;

fn note(marks: &Marks, rec: &Recorder, m: Mark) {
    let mut v = marks.lock();
    v.push((rec.position(), m));
}

/// What a recovery may find, folded from the marks up to a power cut.
#[derive(Clone, Debug)]
struct Expect {
    /// The log as queued.
    log: BTreeMap<Index, Term>,
    /// Term of the entry before (index, term) when it was appended, if there was one.
    parent: HashMap<(Index, Term), Option<Term>>,
    /// Entries that may be found (appended, not known to be durably cut away).
    permitted: HashSet<(Index, Term)>,
    /// This entry and all before it must be found.
    durable: Option<(Index, Term)>,
    first: Index,
    first_pending: Option<Index>,
    hs: HardState,
    hs_pending: Option<HardState>,
    membership: Option<Vec<u8>>,
    membership_pending: Option<Vec<u8>>,
}

impl Expect {
    /// A recovery's findings are on disk: all of it must survive the next cut.
    fn recovered(r: &Recovered, entries: &[Entry]) -> Expect {
        let mut e = Expect {
            log: BTreeMap::new(),
            parent: HashMap::new(),
            permitted: HashSet::new(),
            durable: None,
            first: r.first_index,
            first_pending: None,
            hs: r.hard_state,
            hs_pending: None,
            membership: r.membership.clone(),
            membership_pending: None,
        };
        let mut prev = None;
        for x in entries {
            e.log.insert(x.index, x.term);
            e.parent.insert((x.index, x.term), prev);
            e.permitted.insert((x.index, x.term));
            prev = Some(x.term);
            e.durable = Some((x.index, x.term));
        }
        e
    }

    fn apply(&mut self, m: &Mark) {
        match m {
            Mark::Append(lo, hi, t) => {
                for i in *lo..=*hi {
                    let p = self.log.get(&(i - 1)).copied();
                    self.log.insert(i, *t);
                    self.parent.insert((i, *t), p);
                    self.permitted.insert((i, *t));
                }
            }
            Mark::TruncSuffix(from) => {
                self.log.split_off(from);
                if self.durable.is_some_and(|(d, _)| d >= *from) {
                    self.durable = self.log.get(&(from - 1)).map(|t| (from - 1, *t));
                }
            }
            Mark::Durable(i, t) => {
                // A report that a suffix cut queued since has overtaken no longer holds.
                if self.log.get(i) == Some(t) && self.durable.is_none_or(|(d, _)| *i > d) {
                    self.durable = Some((*i, *t));
                }
            }
            Mark::HardState(h) => self.hs_pending = Some(*h),
            Mark::HardStateSaved => self.hs = self.hs_pending.take().expect("a save in flight"),
            Mark::Membership(b) => self.membership_pending = Some(b.clone()),
            Mark::MembershipSaved => self.membership = self.membership_pending.take(),
            Mark::TruncPrefix(k) => self.first_pending = Some(*k),
            Mark::TruncPrefixDone => {
                self.first = self.first_pending.take().expect("a truncation in flight");
                self.log = self.log.split_off(&self.first);
            }
            Mark::Flushed => {
                self.durable = self.log.last_key_value().map(|(i, t)| (*i, *t));
                let log = &self.log;
                self.permitted.retain(|(i, t)| log.get(i) == Some(t));
            }
        }
    }

    fn check(&self, r: &Recovered, entries: &[Entry]) -> Result<(), String> {
        if r.first_index != self.first && Some(r.first_index) != self.first_pending {
            return Err(format!(
                "first index {} (expected {} or the truncation in flight {:?})",
                r.first_index, self.first, self.first_pending
            ));
        }
        if r.hard_state != self.hs && Some(r.hard_state) != self.hs_pending {
            return Err(format!(
                "hard state {:?} went back (saved {:?}, in flight {:?})",
                r.hard_state, self.hs, self.hs_pending
            ));
        }
        if r.membership != self.membership
            && !(self.membership_pending.is_some() && r.membership == self.membership_pending)
        {
            return Err(format!(
                "membership {:?} (saved {:?}, in flight {:?})",
                r.membership, self.membership, self.membership_pending
            ));
        }
        let n = (r.last_index + 1).saturating_sub(r.first_index);
        if entries.len() as u64 != n {
            return Err(format!(
                "read {} entries of {}..={}",
                entries.len(),
                r.first_index,
                r.last_index
            ));
        }
        let mut prev: Option<&Entry> = None;
        for (k, e) in entries.iter().enumerate() {
            let want = entry(e.index, e.term);
            if e.index != r.first_index + k as u64 {
                return Err(format!(
                    "entry {} where {} belongs",
                    e.index,
                    r.first_index + k as u64
                ));
            }
            if e.key != want.key || e.kind != want.kind || e.data != want.data {
                return Err(format!("entry {} term {}: wrong bytes", e.index, e.term));
            }
            if !self.permitted.contains(&(e.index, e.term)) {
                return Err(format!(
                    "entry {} term {} was never appended or was durably cut",
                    e.index, e.term
                ));
            }
            if let Some(p) = prev {
                let parent = self.parent.get(&(e.index, e.term)).copied().flatten();
                if parent != Some(p.term) {
                    return Err(format!(
                        "entry {} term {} follows term {} (it was appended after {parent:?})",
                        e.index, e.term, p.term
                    ));
                }
            }
            prev = Some(e);
        }
        if let Some((d, t)) = self.durable {
            if d >= r.first_index {
                let found = entries.get((d - r.first_index) as usize).map(|e| e.term);
                if found != Some(t) {
                    return Err(format!(
                        "entry {d} term {t} was reported durable; found {found:?}, last index {}",
                        r.last_index
                    ));
                }
            }
        }
        let mut runs: Vec<(Index, Term)> = Vec::new();
        for e in entries {
            if runs.last().is_none_or(|r| r.1 != e.term) {
                runs.push((e.index, e.term));
            }
        }
        if runs != r.terms {
            return Err(format!("term runs {:?}, entries say {runs:?}", r.terms));
        }
        let confs: Vec<(Index, Term)> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::Conf)
            .map(|e| (e.index, e.term))
            .collect();
        let got: Vec<(Index, Term)> = r.conf_entries.iter().map(|e| (e.index, e.term)).collect();
        if confs != got {
            return Err(format!("CONF entries {got:?}, log has {confs:?}"));
        }
        Ok(())
    }
}

/// In memory where there is a /dev/shm: images are written and removed by the thousand.
fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("dcf-power-")
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap()
}

fn options(seg: u64, faults: Arc<Faults>) -> StorageOptions {
    StorageOptions {
        segment_size: seg,
        // Small: most reads after recovery come from the segment files.
        cache_bytes: 32 << 10,
        sync: true,
        faults,
    }
}

/// Opens the storage on `dir` (under a recorder, so its syncs are simulated), recovers the
/// stream and reads it whole.
fn recover(
    dir: &Path,
    seg: u64,
    faults: Arc<Faults>,
    on_durable: Box<dyn Fn(u32, Index, Term) + Send + Sync>,
) -> Result<(Arc<Storage>, Recovered, Vec<Entry>), String> {
    let s =
        Storage::open(dir, options(seg, faults), on_durable).map_err(|e| format!("open: {e}"))?;
    let r = s
        .open_stream(STREAM, None)
        .map_err(|e| format!("recovery failed: {e}"))?;
    let entries = s.read_all(STREAM).map_err(|e| format!("read: {e}"))?;
    Ok((Arc::new(s), r, entries))
}

struct Failure {
    what: String,
}

/// The work of one epoch, one writer round per step.
struct Work<'a> {
    s: &'a Arc<Storage>,
    faults: &'a Faults,
    rec: &'a Arc<Recorder>,
    marks: &'a Marks,
    rng: &'a mut ChaCha8Rng,
    first: Index,
    next: Index,
    term: Term,
    hs: HardState,
}

impl Work<'_> {
    fn note(&self, m: Mark) {
        note(self.marks, self.rec, m);
    }

    fn append(&mut self) {
        let n = self.rng.gen_range(1..=6);
        let es: Vec<Entry> = (self.next..self.next + n)
            .map(|i| entry(i, self.term))
            .collect();
        self.note(Mark::Append(self.next, self.next + n - 1, self.term));
        self.s.append(STREAM, es).unwrap();
        self.next += n;
    }

    fn trunc_suffix(&mut self) -> bool {
        let last = self.next - 1;
        if last < self.first {
            return false;
        }
        let from = self
            .rng
            .gen_range(last.saturating_sub(12).max(self.first)..=last);
        self.note(Mark::TruncSuffix(from));
        self.s.truncate_suffix(STREAM, from).unwrap();
        self.next = from;
        // Entries after a cut come from a newer leader.
        self.term += 1;
        true
    }

    fn prefix_target(&mut self) -> Index {
        let last = self.next - 1;
        if self.rng.gen_ratio(1, 12) {
            // Past the end: the log jumps forward.
            last + self.rng.gen_range(2..5)
        } else {
            self.rng
                .gen_range(self.first + 1..=last.max(self.first) + 1)
        }
    }

    /// One writer round of `appends` append calls, then maybe one more operation.
    fn step(&mut self) {
        let appends = self.rng.gen_range(0..=3usize);
        match self.rng.gen_range(0..100) {
            // Appends only.
            0..=34 => {
                self.faults.next_round(appends.max(1));
                for _ in 0..appends.max(1) {
                    self.append();
                }
            }
            // A follower's repair: cut the suffix, append the leader's entries.
            35..=49 => {
                if self.next - 1 < self.first {
                    self.faults.next_round(1);
                    self.append();
                    return;
                }
                self.faults.next_round(appends + 2);
                for _ in 0..appends {
                    self.append();
                }
                self.trunc_suffix();
                self.append();
            }
            50..=61 => {
                let hs = HardState {
                    term: self.hs.term.max(self.term) + self.rng.gen_range(0..2),
                    vote: self.rng.gen_range(0..4),
                };
                self.term = hs.term;
                self.hs = hs;
                self.faults.next_round(appends + 1);
                for _ in 0..appends {
                    self.append();
                }
                self.note(Mark::HardState(hs));
                self.s.save_hard_state(STREAM, hs).unwrap();
                self.note(Mark::HardStateSaved);
            }
            62..=69 => {
                let m: Vec<u8> = (0..self.rng.gen_range(1..300))
                    .map(|_| self.rng.gen())
                    .collect();
                self.faults.next_round(appends + 1);
                for _ in 0..appends {
                    self.append();
                }
                self.note(Mark::Membership(m.clone()));
                self.s.save_membership(STREAM, &m).unwrap();
                self.note(Mark::MembershipSaved);
            }
            70..=79 => {
                self.faults.next_round(appends + 1);
                for _ in 0..appends {
                    self.append();
                }
                self.s.flush(STREAM).unwrap();
                self.note(Mark::Flushed);
            }
            80..=87 => {
                self.faults.next_round(appends + 1);
                for _ in 0..appends {
                    self.append();
                }
                let k = self.prefix_target();
                self.note(Mark::TruncPrefix(k));
                self.s.truncate_prefix(STREAM, k).unwrap();
                self.note(Mark::TruncPrefixDone);
                self.first = k;
                self.next = self.next.max(k);
            }
            88..=94 => {
                // dcf_truncate from another thread between appends of the same round.
                let after = self.rng.gen_range(1..=3usize);
                self.faults.next_round(appends + 1 + after);
                for _ in 0..appends {
                    self.append();
                }
                let k = self.prefix_target();
                self.note(Mark::TruncPrefix(k));
                let s = self.s.clone();
                let t = std::thread::spawn(move || s.truncate_prefix(STREAM, k));
                while self.s.first_index(STREAM) != k {
                    std::thread::yield_now();
                }
                self.first = k;
                self.next = self.next.max(k);
                for _ in 0..after {
                    self.append();
                }
                t.join().unwrap().unwrap();
                self.note(Mark::TruncPrefixDone);
            }
            _ => {
                self.term += 1;
                self.faults.next_round(1);
                self.append();
            }
        }
    }
}

/// One seed: epochs of work, each followed by `CUTS_PER_EPOCH` power cuts.
fn run(seed: u64, cuts: u64) -> Result<(), Failure> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let seg = [4096u64, 8192, 16 << 10, 64 << 10][rng.gen_range(0..4)];
    let root = scratch_dir();
    let mut expect = Expect::recovered(
        &Recovered {
            hard_state: HardState::default(),
            membership: None,
            first_index: 1,
            last_index: 0,
            base_term: 0,
            terms: Vec::new(),
            conf_entries: Vec::new(),
        },
        &[],
    );
    let mut term = 1;
    let epochs = cuts.div_ceil(CUTS_PER_EPOCH);
    for epoch in 0..epochs {
        let dir = root.path().join(format!("e{epoch}"));
        let rec = Recorder::start(&dir).unwrap();
        let marks: Marks = Arc::default();
        let faults = Arc::new(Faults::default());
        faults.hold_rounds();
        let (m2, r2) = (marks.clone(), rec.clone());
        let on_durable = Box::new(move |_, i, t| note(&m2, &r2, Mark::Durable(i, t)));
        let fail = |what: String| Failure {
            what: format!("epoch {epoch} (segments of {seg} bytes): {what}"),
        };
        let (s, r, entries) = recover(&dir, seg, faults.clone(), on_durable).map_err(&fail)?;
        expect.check(&r, &entries).map_err(|e| {
            fail(format!(
                "after the power cut that ended the last epoch: {e}"
            ))
        })?;
        let base = Expect::recovered(&r, &entries);
        term = term
            .max(r.hard_state.term)
            .max(r.terms.last().map_or(0, |t| t.1))
            + 1;
        let mut w = Work {
            s: &s,
            faults: &faults,
            rec: &rec,
            marks: &marks,
            rng: &mut rng,
            first: r.first_index,
            next: r.last_index + 1,
            term,
            hs: r.hard_state,
        };
        let steps = w.rng.gen_range(5..40);
        for _ in 0..steps {
            w.step();
        }
        term = w.term;
        faults.next_round(0);
        s.shutdown().map_err(|e| fail(format!("close: {e}")))?;
        drop(s);
        rec.stop();
        let end = rec.position();
        let marks = marks.lock().clone();
        // Half the cuts anywhere, half just before a sync (the most unsynced data).
        let syncs = rec.syncs();
        let mut points: Vec<usize> = (0..CUTS_PER_EPOCH)
            .map(|k| match syncs.len() {
                n if n > 0 && k % 2 == 1 => syncs[rng.gen_range(0..n)],
                _ => rng.gen_range(0..=end),
            })
            .collect();
        points.sort_unstable();
        let mut e = base;
        let mut applied = 0;
        for (k, &at) in points.iter().enumerate() {
            while applied < marks.len() && marks[applied].0 <= at {
                e.apply(&marks[applied].1);
                applied += 1;
            }
            let img = rec.crash_image(at, &mut rng);
            let why = |what: String| {
                fail(format!(
                    "power cut after operation {at} of {end}: {what}\noperations before the cut:\n{}marks: {:?}",
                    rec.describe(at.saturating_sub(25), at),
                    &marks[applied.saturating_sub(12)..applied]
                ))
            };
            if k + 1 == points.len() {
                img.write_to(&root.path().join(format!("e{}", epoch + 1)))
                    .unwrap();
                expect = e.clone();
                // Checked here as well, so that a failure names this cut and what led to it.
                if let Err(f) = check_image(&root.path().join("check"), &img, seg, &e) {
                    return Err(why(f));
                }
                break;
            }
            check_image(&root.path().join("check"), &img, seg, &e).map_err(why)?;
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
    Ok(())
}

/// Runs recovery on a copy of `img` and checks what it finds.
fn check_image(
    dir: &Path,
    img: &dcf_runtime::storage::power::Image,
    seg: u64,
    e: &Expect,
) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(dir);
    img.write_to(dir).unwrap();
    let rec = Recorder::start(dir).unwrap();
    let r = recover(dir, seg, Arc::default(), Box::new(|_, _, _| {}));
    rec.stop();
    let (s, r, entries) = r?;
    let checked = e.check(&r, &entries);
    s.shutdown().map_err(|e| format!("close: {e}"))?;
    checked
}

#[test]
fn power_loss_storage() {
    let cuts = cuts();
    let t0 = std::time::Instant::now();
    for seed in seeds() {
        let what = match std::panic::catch_unwind(|| run(seed, cuts)) {
            Ok(Ok(())) => continue,
            Ok(Err(f)) => f.what,
            Err(_) => "panicked (above)".to_string(),
        };
        panic!(
            "power_loss_storage: seed {seed}: {what}\nreplay: POWER_LOSS_SEED={seed} POWER_LOSS_CUTS={cuts} cargo test -p dcf-runtime --test power_loss power_loss_storage"
        );
    }
    eprintln!(
        "power_loss_storage: seeds {:?}, {} power cuts each, {:?}",
        seeds(),
        cuts,
        t0.elapsed()
    );
}
