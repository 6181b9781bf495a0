//! Power-loss simulation for tests (the `power-loss` feature; never in a release build).
//!
//! A `Recorder` started on a directory receives every durable operation storage makes
//! under it (`storage::sys`): writes with their bytes, file syncs, creations, resizes,
//! renames, removals, directory syncs. Syncs there are simulated, not made. Afterwards
//! `crash_image(n, rng)` gives one state a disk may be left in by a power cut after the
//! first `n` operations, the way a file system without guarantees beyond POSIX may leave
//! it:
//! * data covered by a sync of its file survives;
//! * each unsynced write independently survives, vanishes, or is torn: each of its 512-byte
//!   sectors survives or not; unsynced resizes survive or not;
//! * a created, renamed or removed name is durable once its directory was synced; before
//!   that it survives or not (all, none, an ordered prefix, or each independently).
//!
//! The image is written into a fresh directory, on which the real recovery then runs.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use rand::Rng;

/// One recorded operation; paths are relative to the recorder's root.
#[derive(Clone, Debug)]
pub enum Op {
    Create {
        path: PathBuf,
    },
    Mkdir {
        path: PathBuf,
    },
    Write {
        path: PathBuf,
        off: u64,
        data: Arc<[u8]>,
    },
    SetLen {
        path: PathBuf,
        len: u64,
    },
    Allocate {
        path: PathBuf,
        len: u64,
    },
    SyncFile {
        path: PathBuf,
    },
    Rename {
        from: PathBuf,
        to: PathBuf,
    },
    Remove {
        path: PathBuf,
    },
    SyncDir {
        path: PathBuf,
    },
}

static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static RECORDERS: Mutex<Vec<Arc<Recorder>>> = Mutex::new(Vec::new());

/// Called by `storage::sys` for every operation: true if a recorder covers `path`.
pub(super) fn record(path: &Path, op: impl FnOnce(&dyn Fn(&Path) -> PathBuf) -> Op) -> bool {
    if ACTIVE.load(Ordering::Acquire) == 0 {
        return false;
    }
    let recs = RECORDERS.lock();
    let Some(r) = recs.iter().find(|r| path.starts_with(&r.root)) else {
        return false;
    };
    let rel = |p: &Path| p.strip_prefix(&r.root).unwrap_or(p).to_path_buf();
    let op = op(&rel);
    r.ops.lock().push(op);
    true
}

/// Records what storage does under one directory.
pub struct Recorder {
    root: PathBuf,
    base: Model,
    ops: Mutex<Vec<Op>>,
}

impl Recorder {
    /// Starts recording under `root` (created if missing); what it holds now counts as
    /// durable. Until `stop`, syncs under it are simulated.
    pub fn start(root: &Path) -> io::Result<Arc<Recorder>> {
        fs::create_dir_all(root)?;
        let mut base = Model::default();
        base.load(root, Path::new(""))?;
        let r = Arc::new(Recorder {
            root: root.to_path_buf(),
            base,
            ops: Mutex::new(Vec::new()),
        });
        let mut recs = RECORDERS.lock();
        recs.retain(|o| !o.root.starts_with(root) && !root.starts_with(&o.root));
        recs.push(r.clone());
        ACTIVE.store(recs.len(), Ordering::Release);
        Ok(r)
    }

    /// Operations recorded so far: a power cut now is a cut "after `position()` operations".
    pub fn position(&self) -> usize {
        self.ops.lock().len()
    }

    /// Positions of the file and directory syncs: a cut just before one loses the most.
    pub fn syncs(&self) -> Vec<usize> {
        let ops = self.ops.lock();
        (0..ops.len())
            .filter(|&k| matches!(ops[k], Op::SyncFile { .. } | Op::SyncDir { .. }))
            .collect()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Stops recording (later operations under the root are real again and unrecorded).
    pub fn stop(self: &Arc<Self>) {
        let mut recs = RECORDERS.lock();
        recs.retain(|o| !Arc::ptr_eq(o, self));
        ACTIVE.store(recs.len(), Ordering::Release);
    }

    /// The operations `from..to`, one a line (for a failure report).
    pub fn describe(&self, from: usize, to: usize) -> String {
        let ops = self.ops.lock();
        let to = to.min(ops.len());
        let mut s = String::new();
        for (k, op) in ops[from.min(to)..to].iter().enumerate() {
            let line = match op {
                Op::Write { path, off, data } => {
                    format!("write {} @{off} +{}", path.display(), data.len())
                }
                o => format!("{o:?}"),
            };
            s += &format!("  {:5} {line}\n", from + k);
        }
        s
    }

    /// A state the disk may hold after a power cut following the first `at` operations.
    pub fn crash_image(&self, at: usize, rng: &mut impl Rng) -> Image {
        let mut m = self.base.clone();
        let ops = self.ops.lock();
        for op in &ops[..at.min(ops.len())] {
            m.apply(op);
        }
        drop(ops);
        m.crash(rng)
    }
}

/// What one power cut left: directories and files, by path under the root.
#[derive(Clone, Debug, Default)]
pub struct Image {
    /// None: a directory.
    pub entries: BTreeMap<PathBuf, Option<Vec<u8>>>,
}

impl Image {
    /// Creates the image's directories and files under `dir` (which should be empty).
    pub fn write_to(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)?;
        for (p, e) in &self.entries {
            match e {
                None => fs::create_dir_all(dir.join(p))?,
                Some(b) => fs::write(dir.join(p), b)?,
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Dir,
    File(usize),
}

#[derive(Clone, Debug)]
enum FileOp {
    Write(u64, Arc<[u8]>),
    SetLen(u64),
    Allocate(u64),
}

#[derive(Clone, Debug, Default)]
struct FileState {
    durable: Vec<u8>,
    pending: Vec<FileOp>,
}

#[derive(Clone, Debug)]
enum DirOp {
    Link(PathBuf, Node),
    /// The node `from` named when it was renamed.
    Rename(PathBuf, PathBuf, Node),
    Unlink(PathBuf),
}

/// The file system as storage changed it: names now (`live`), names a directory sync made
/// durable (`durable`), directory changes not yet synced, and each file's synced bytes
/// and unsynced changes.
#[derive(Clone, Debug, Default)]
struct Model {
    files: Vec<FileState>,
    live: BTreeMap<PathBuf, Node>,
    durable: BTreeMap<PathBuf, Node>,
    pending_dir: Vec<(PathBuf, DirOp)>,
}

fn parent(p: &Path) -> PathBuf {
    p.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn apply_file(b: &mut Vec<u8>, op: &FileOp) {
    match op {
        FileOp::Write(off, d) => put(b, *off, d),
        FileOp::SetLen(n) => b.resize(*n as usize, 0),
        FileOp::Allocate(n) => {
            if b.len() < *n as usize {
                b.resize(*n as usize, 0);
            }
        }
    }
}

fn put(b: &mut Vec<u8>, off: u64, d: &[u8]) {
    let (off, end) = (off as usize, off as usize + d.len());
    if b.len() < end {
        b.resize(end, 0);
    }
    b[off..end].copy_from_slice(d);
}

fn apply_dir(ns: &mut BTreeMap<PathBuf, Node>, op: &DirOp) {
    match op {
        DirOp::Link(p, n) => {
            ns.insert(p.clone(), *n);
        }
        DirOp::Rename(from, to, n) => {
            if ns.get(from) == Some(n) {
                ns.remove(from);
            }
            ns.insert(to.clone(), *n);
        }
        DirOp::Unlink(p) => {
            ns.remove(p);
        }
    }
}

impl Model {
    /// Takes what `dir` holds as durable.
    fn load(&mut self, root: &Path, rel: &Path) -> io::Result<()> {
        for de in fs::read_dir(root.join(rel))? {
            let de = de?;
            let p = rel.join(de.file_name());
            let n = if de.file_type()?.is_dir() {
                self.load(root, &p)?;
                Node::Dir
            } else {
                self.files.push(FileState {
                    durable: fs::read(root.join(&p))?,
                    pending: Vec::new(),
                });
                Node::File(self.files.len() - 1)
            };
            self.live.insert(p.clone(), n);
            self.durable.insert(p, n);
        }
        Ok(())
    }

    fn file(&mut self, p: &Path) -> &mut FileState {
        match self.live.get(p) {
            Some(Node::File(i)) => &mut self.files[*i],
            _ => panic!("power-loss model: {} is not a file", p.display()),
        }
    }

    fn link(&mut self, p: &Path, n: Node) {
        self.live.insert(p.to_path_buf(), n);
        self.pending_dir
            .push((parent(p), DirOp::Link(p.to_path_buf(), n)));
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Create { path } => {
                if self.live.contains_key(path) {
                    self.file(path).pending.push(FileOp::SetLen(0));
                } else {
                    self.files.push(FileState::default());
                    self.link(path, Node::File(self.files.len() - 1));
                }
            }
            Op::Mkdir { path } => {
                if !path.as_os_str().is_empty() && !self.live.contains_key(path) {
                    self.link(path, Node::Dir);
                }
            }
            Op::Write { path, off, data } => {
                self.file(path)
                    .pending
                    .push(FileOp::Write(*off, data.clone()));
            }
            Op::SetLen { path, len } => self.file(path).pending.push(FileOp::SetLen(*len)),
            Op::Allocate { path, len } => self.file(path).pending.push(FileOp::Allocate(*len)),
            Op::SyncFile { path } => {
                let f = self.file(path);
                for op in std::mem::take(&mut f.pending) {
                    apply_file(&mut f.durable, &op);
                }
            }
            Op::Rename { from, to } => {
                let n = self
                    .live
                    .remove(from)
                    .unwrap_or_else(|| panic!("power-loss model: rename of {}", from.display()));
                self.live.insert(to.clone(), n);
                self.pending_dir
                    .push((parent(to), DirOp::Rename(from.clone(), to.clone(), n)));
            }
            Op::Remove { path } => {
                self.live.remove(path);
                self.pending_dir
                    .push((parent(path), DirOp::Unlink(path.clone())));
            }
            Op::SyncDir { path } => {
                let mut keep = Vec::new();
                for (d, op) in std::mem::take(&mut self.pending_dir) {
                    if d == *path {
                        apply_dir(&mut self.durable, &op);
                    } else {
                        keep.push((d, op));
                    }
                }
                self.pending_dir = keep;
            }
        }
    }

    /// One state a power cut may leave (see the module comment).
    fn crash(mut self, rng: &mut impl Rng) -> Image {
        // How unsynced directory changes fare: none, all, an ordered prefix, or each alone.
        let dir_mode = rng.gen_range(0..4);
        let cut = rng.gen_range(0..=self.pending_dir.len());
        let mut ns = std::mem::take(&mut self.durable);
        for (k, (_, op)) in self.pending_dir.iter().enumerate() {
            let keep = match dir_mode {
                0 => false,
                1 => true,
                2 => k < cut,
                _ => rng.gen_bool(0.5),
            };
            if keep {
                apply_dir(&mut ns, op);
            }
        }
        // How unsynced writes fare: all lost, all kept, or each kept, lost or torn.
        let write_mode = rng.gen_range(0..3);
        let mut contents: Vec<Option<Vec<u8>>> = vec![None; self.files.len()];
        for n in ns.values() {
            let Node::File(i) = *n else { continue };
            if contents[i].is_some() {
                continue;
            }
            let f = &mut self.files[i];
            let mut b = std::mem::take(&mut f.durable);
            for op in &f.pending {
                let fate = match write_mode {
                    0 => 0,
                    1 => 1,
                    _ => rng.gen_range(0..3),
                };
                match (fate, op) {
                    (0, _) => {}
                    (2, FileOp::Write(off, d)) => tear(&mut b, *off, d, rng),
                    _ => apply_file(&mut b, op),
                }
            }
            contents[i] = Some(b);
        }
        let mut img = Image::default();
        // Parents sort before their children: a name whose directory is gone is gone.
        for (p, n) in &ns {
            let par = parent(p);
            if !par.as_os_str().is_empty() && img.entries.get(&par) != Some(&None) {
                continue;
            }
            let e = match *n {
                Node::Dir => None,
                Node::File(i) => Some(contents[i].clone().unwrap_or_default()),
            };
            img.entries.insert(p.clone(), e);
        }
        img
    }
}

/// A write of which each 512-byte sector (of the file) survives or not.
fn tear(b: &mut Vec<u8>, off: u64, d: &[u8], rng: &mut impl Rng) {
    const SECTOR: u64 = 512;
    let end = off + d.len() as u64;
    let mut at = off;
    while at < end {
        let next = ((at / SECTOR) + 1) * SECTOR;
        let to = next.min(end);
        if rng.gen_bool(0.5) {
            put(b, at, &d[(at - off) as usize..(to - off) as usize]);
        }
        at = to;
    }
}

#[cfg(test)]
mod tests {
    use super::super::sys;
    use super::*;
    use rand::SeedableRng;
    use std::collections::HashSet;

    /// Images of a cut after everything `ops` did under a fresh directory, for 300 seeds.
    fn images(ops: impl Fn(&Path)) -> Vec<Image> {
        let d = tempfile::tempdir().unwrap();
        let rec = Recorder::start(d.path()).unwrap();
        ops(d.path());
        rec.stop();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        (0..300)
            .map(|_| rec.crash_image(rec.position(), &mut rng))
            .collect()
    }

    fn file<'a>(img: &'a Image, name: &str) -> Option<&'a [u8]> {
        img.entries.get(Path::new(name)).and_then(|e| e.as_deref())
    }

    #[test]
    fn synced_data_survives_and_unsynced_data_may_not() {
        let imgs = images(|d| {
            let p = d.join("a");
            let f = sys::create_new(&p).unwrap();
            sys::write_all_at(&f, &p, b"hello", 0).unwrap();
            sys::sync_data(&f, &p).unwrap();
            sys::sync_dir(d).unwrap();
            sys::write_all_at(&f, &p, b" world", 5).unwrap();
        });
        let got: HashSet<&[u8]> = imgs.iter().map(|i| file(i, "a").unwrap()).collect();
        let want: HashSet<&[u8]> = [&b"hello"[..], b"hello world"].into_iter().collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_new_name_needs_a_directory_sync() {
        let imgs = images(|d| {
            let p = d.join("b");
            let f = sys::create_new(&p).unwrap();
            sys::write_all_at(&f, &p, b"data", 0).unwrap();
            sys::sync_all(&f, &p).unwrap();
        });
        let found = imgs.iter().filter(|i| file(i, "b").is_some()).count();
        assert!(found > 0 && found < imgs.len(), "{found} of {}", imgs.len());
        assert!(imgs
            .iter()
            .filter_map(|i| file(i, "b"))
            .all(|b| b == b"data"));
    }

    #[test]
    fn a_rename_over_a_file_is_all_or_nothing() {
        let imgs = images(|d| {
            let (m, t) = (d.join("meta"), d.join("meta.tmp"));
            let f = sys::create(&m).unwrap();
            sys::write_all_at(&f, &m, b"old", 0).unwrap();
            sys::sync_all(&f, &m).unwrap();
            sys::sync_dir(d).unwrap();
            let f = sys::create(&t).unwrap();
            sys::write_all_at(&f, &t, b"new", 0).unwrap();
            sys::sync_all(&f, &t).unwrap();
            sys::rename(&t, &m).unwrap();
        });
        let got: HashSet<&[u8]> = imgs.iter().map(|i| file(i, "meta").unwrap()).collect();
        let want: HashSet<&[u8]> = [&b"old"[..], b"new"].into_iter().collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_torn_write_keeps_whole_sectors() {
        let imgs = images(|d| {
            let p = d.join("seg");
            let f = sys::create_new(&p).unwrap();
            sys::allocate(&f, &p, 4096).unwrap();
            sys::sync_all(&f, &p).unwrap();
            sys::sync_dir(d).unwrap();
            sys::write_all_at(&f, &p, &[0xaa; 2048], 256).unwrap();
        });
        let mut mixed = 0;
        for i in &imgs {
            let b = file(i, "seg").unwrap();
            assert_eq!(b.len(), 4096);
            let sectors: Vec<bool> = b.chunks(512).map(|s| s.contains(&0xaa)).collect();
            for (k, s) in b.chunks(512).enumerate() {
                let lo = if k == 0 { 256 } else { 0 };
                let hi = if k == 4 { 256 } else { 512 };
                let kept = &s[lo.min(s.len())..hi.min(s.len())];
                assert!(kept.iter().all(|&x| x == s[lo]), "sector {k} torn inside");
            }
            if sectors.iter().any(|&x| x) && !sectors[..5].iter().all(|&x| x) {
                mixed += 1;
            }
        }
        assert!(mixed > 0);
    }
}
