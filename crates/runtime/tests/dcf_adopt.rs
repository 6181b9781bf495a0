//! Adoption of data directories left by the original DCF library (the fixtures in
//! tests/fixtures/dcf, made by it: see their README), the export back to DCF's layout, and
//! refusal of damaged copies. The fixtures' stored membership names ports 17311..17314, so
//! the tests that start nodes hold one lock and use those ports.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{make_node, wait_for, TestNode, LONG};
use dcf_runtime::consensus::{ConfRole, Membership};
use dcf_runtime::storage::dcf::{adopt, log};
use dcf_runtime::storage::{inspect, StorageOptions};
use dcf_runtime::types::{Entry, EntryKind};
use parking_lot::Mutex;

static PORTS: Mutex<()> = Mutex::new(());
const PORTS_OF_FIXTURE: [u16; 3] = [17311, 17312, 17313];
const CHILD_ENV: &str = "DCF_ADOPT_CHILD_DIR";

fn fixture(n: u32) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/dcf/node{n}"))
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.insert(p.clone(), Vec::new());
            out.extend(snapshot(&p));
        } else {
            out.insert(p.clone(), fs::read(&p).unwrap());
        }
    }
    out
}

/// The fixtures' payload rule (tests/fixtures/dcf/README.md).
fn fixture_payload(key: u64) -> Vec<u8> {
    let size = if key.is_multiple_of(100) {
        65536 + key
    } else if key % 100 == 50 {
        65535 + (key / 100) % 3
    } else if key % 10 == 1 {
        1
    } else {
        1 + (key * 97) % 2000
    };
    let mut x = key.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// (index, key) of every user entry of the fixtures' log (121..=304).
fn fixture_entries() -> Vec<(u64, u64)> {
    (121..=304u64)
        .filter(|i| *i != 203 && *i != 264)
        .map(|i| {
            let key = match i {
                ..=202 => i - 2,
                204..=263 => i - 3,
                _ => i - 4,
            };
            (i, key)
        })
        .collect()
}

fn json() -> String {
    common::cluster_json(&PORTS_OF_FIXTURE)
}

fn opts() -> StorageOptions {
    StorageOptions {
        segment_size: 64 << 20,
        ..Default::default()
    }
}

/// Copies of the three fixtures under `root`.
fn copies(root: &Path) -> Vec<PathBuf> {
    (1..=3)
        .map(|n| {
            let d = root.join(format!("node{n}"));
            copy_dir(&fixture(n), &d);
            d
        })
        .collect()
}

fn start_all(dirs: &[PathBuf]) -> Vec<TestNode> {
    let nodes: Vec<TestNode> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| make_node(i as u32 + 1, d))
        .collect();
    for n in &nodes {
        n.dcf.start(n.id, &json()).expect("start");
    }
    nodes
}

fn leader(nodes: &[TestNode]) -> &TestNode {
    let mut found = 0;
    wait_for(LONG, "a writable leader", || {
        found = nodes
            .iter()
            .find(|n| n.is_writable_leader())
            .map_or(0, |n| n.id);
        found != 0
    });
    &nodes[found as usize - 1]
}

/// Every entry of our storage in `dir` (stream 1).
fn our_log(dir: &Path) -> Vec<Entry> {
    let mut out = Vec::new();
    inspect::dump(dir, 1, 0, u64::MAX, |e| out.push(e.clone())).unwrap();
    out
}

#[test]
fn a_cluster_on_the_fixtures_delivers_every_entry_then_goes_on() {
    let _ports = PORTS.lock();
    let root = tempfile::tempdir().unwrap();
    let dirs = copies(root.path());
    let dcf_files: Vec<_> = dirs.iter().map(|d| snapshot(d)).collect();
    let nodes = start_all(&dirs);
    let want = fixture_entries();
    for n in &nodes {
        wait_for(
            LONG,
            &format!("node {} to deliver the fixture's log", n.id),
            || n.applied().len() >= want.len(),
        );
    }
    let l = leader(&nodes);
    assert!(
        l.dcf.term_and_role(1).unwrap().0 >= 4,
        "term continues upward"
    );
    let new: Vec<u64> = (1000..1020).collect();
    common::write_keys(l, 1000..1020);
    for n in &nodes {
        common::wait_keys(n, &new, LONG);
        let applied = n.applied();
        assert_eq!(
            &applied[..want.len()],
            &want[..],
            "node {}: exactly once, in order",
            n.id
        );
        common::check_indexes_since(n, 0);
        let data = n.data.lock();
        for (_, k) in &want {
            assert_eq!(
                data[k],
                fixture_payload(*k),
                "node {}: bytes of key {k}",
                n.id
            );
        }
        let marker = fs::read_to_string(n.dir.join(adopt::MARKER)).unwrap();
        assert!(
            marker.contains("184 entries, index 121..=304, term 4"),
            "{marker}"
        );
    }
    // A restart neither adopts again nor loses what came after the adoption.
    let last = nodes[1].dcf.last_index(1).unwrap();
    let marker = fs::read(nodes[1].dir.join(adopt::MARKER)).unwrap();
    nodes[1].dcf.stop().unwrap();
    let again = make_node(2, &dirs[1]);
    again.dcf.start(2, &json()).unwrap();
    assert!(again.dcf.last_index(1).unwrap() >= last);
    common::wait_keys(&again, &new, LONG);
    assert_eq!(fs::read(dirs[1].join(adopt::MARKER)).unwrap(), marker);
    again.dcf.stop().unwrap();
    for n in &nodes {
        n.dcf.stop().unwrap();
    }
    // DCF's own files were never touched.
    for (d, before) in dirs.iter().zip(&dcf_files) {
        let after = snapshot(d);
        for (p, b) in before {
            assert_eq!(after.get(p), Some(b), "{} changed", p.display());
        }
    }
}

#[test]
fn applied_index_set_before_start_is_honoured_after_adoption() {
    let _ports = PORTS.lock();
    let root = tempfile::tempdir().unwrap();
    let dirs = copies(root.path());
    let nodes: Vec<TestNode> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| make_node(i as u32 + 1, d))
        .collect();
    nodes[2].dcf.set_applied_index(1, 250).unwrap();
    for n in &nodes {
        n.dcf.start(n.id, &json()).unwrap();
    }
    let want = fixture_entries();
    let tail: Vec<_> = want.iter().copied().filter(|(i, _)| *i > 250).collect();
    wait_for(LONG, "node 3 to deliver after 250", || {
        nodes[2].applied().len() >= tail.len()
    });
    wait_for(LONG, "node 1 to deliver everything", || {
        nodes[0].applied().len() >= want.len()
    });
    assert_eq!(nodes[2].applied()[..tail.len()], tail[..]);
    assert_eq!(nodes[0].applied()[..want.len()], want[..]);
    for n in &nodes {
        n.dcf.stop().unwrap();
    }
}

#[test]
fn export_after_new_writes_reads_back_every_entry() {
    let _ports = PORTS.lock();
    let root = tempfile::tempdir().unwrap();
    let dirs = copies(root.path());
    let nodes = start_all(&dirs);
    let l = leader(&nodes);
    common::write_keys(l, 5000..5050);
    let new: Vec<u64> = (5000..5050).collect();
    for n in &nodes {
        common::wait_keys(n, &new, LONG);
    }
    for n in &nodes {
        n.dcf.stop().unwrap();
    }
    // DCF_ADOPT_EXPORT_TO keeps the exports (to start the original library on them).
    let base =
        std::env::var("DCF_ADOPT_EXPORT_TO").map_or(root.path().to_path_buf(), PathBuf::from);
    for (i, dir) in dirs.iter().enumerate() {
        let out = base.join(format!("export{}", i + 1));
        check_export(dir, &out, &new);
    }
    let ours = our_log(&dirs[0]);
    let out = base.join("export1");
    // The export adopts again into the same log.
    let again = root.path().join("again");
    copy_dir(&out, &again);
    let r = adopt::adopt_if_needed(&again, &opts()).unwrap();
    assert!(matches!(r, adopt::Outcome::Adopted(_)));
    assert_eq!(our_log(&again), ours, "CONF payloads included");
}

/// Exports `dir` into `out` and reads it back: every entry of ours, terms one up, the
/// fixture's and the new keys' bytes, hard state and membership.
fn check_export(dir: &Path, out: &Path, new: &[u64]) {
    let ours = our_log(dir);
    let hs = inspect::info(dir).unwrap()[0].meta.clone().unwrap();
    let done = dcf_runtime::storage::dcf::export::export(dir, out, "test").unwrap();
    assert_eq!(done[0].entries, ours.len() as u64);
    let mut back = Vec::new();
    let sum = log::read(&out.join("stream01"), |e| {
        back.push(e);
        Ok(())
    })
    .unwrap();
    assert_eq!((sum.first_index, sum.torn), (121, None));
    assert_eq!(back.len(), ours.len());
    for (d, o) in back.iter().zip(&ours) {
        assert_eq!((d.index, d.term, d.key), (o.index, o.term + 1, o.key));
        if o.kind == EntryKind::Normal {
            assert_eq!(d.kind, log::KIND_LOG);
            assert_eq!(d.data, o.data.to_vec(), "index {}", o.index);
        } else {
            assert_eq!(d.kind, log::KIND_CONF);
        }
    }
    let keys: BTreeMap<u64, Vec<u8>> = back
        .iter()
        .filter(|e| e.kind == log::KIND_LOG)
        .map(|e| (e.key, e.data.clone()))
        .collect();
    for (_, k) in fixture_entries() {
        assert_eq!(keys[&k], fixture_payload(k), "key {k}");
    }
    for &k in new {
        assert_eq!(keys[&k], common::payload(k), "key {k}");
    }
    let c = dcf_runtime::storage::dcf::ctrl::read(&out.join("stream01")).unwrap();
    assert_eq!(
        (c.term, c.voted_for),
        (hs.hard_state.term + 1, hs.hard_state.vote)
    );
    let md = dcf_runtime::storage::dcf::metadata::read(out)
        .unwrap()
        .unwrap();
    assert_eq!(md.members.len(), 4);
}

/// Starts one node on `dir` and returns its error.
fn start_error(dir: &Path) -> String {
    let n = make_node(1, dir);
    let e = n.dcf.start(1, &json()).expect_err("start must fail");
    e.to_string()
}

fn flip(path: &Path, at: u64) {
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, at).unwrap();
    f.write_all_at(&[b[0] ^ 0x5A], at).unwrap();
}

fn damaged(name: &str, damage: impl FnOnce(&Path) -> PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(name);
    copy_dir(&fixture(1), &dir);
    let file = damage(&dir);
    let before = snapshot(&dir);
    let e = start_error(&dir);
    println!("{name}: {e}");
    assert!(
        e.contains(file.to_str().unwrap()) && e.contains("offset"),
        "{name}: {e}"
    );
    assert_eq!(snapshot(&dir), before, "{name}: something was written");
}

#[test]
fn damaged_fixtures_are_refused_with_file_and_offset() {
    let _ports = PORTS.lock();
    let seg = "stream01/log_00000000000000000185_00000000000000000263";
    damaged("sealed", |d| {
        flip(&d.join(seg), 5000);
        d.join(seg)
    });
    damaged("open", |d| {
        let p = d.join("stream01/log_inprogress_00000000000000000264");
        flip(&p, 100);
        p
    });
    damaged("missing", |d| {
        fs::remove_file(d.join(seg)).unwrap();
        d.join("stream01/log_inprogress_00000000000000000264")
    });
    damaged("metadata", |d| {
        flip(&d.join("metadata/_dcf_metadata"), 40);
        flip(&d.join("metadata/_dcf_metadata.bak"), 41);
        d.join("metadata/_dcf_metadata")
    });
    damaged("ctrl", |d| {
        flip(&d.join("stream01/dcf_ctrl_01"), 3);
        flip(&d.join("stream01/dcf_ctrl_02"), 3);
        d.join("stream01/dcf_ctrl_01")
    });
}

#[test]
fn a_torn_tail_is_cut() {
    let _ports = PORTS.lock();
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("torn");
    copy_dir(&fixture(1), &dir);
    let p = dir.join("stream01/log_inprogress_00000000000000000264");
    let len = fs::metadata(&p).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(len - 7)
        .unwrap();
    // The run log gets the summary line (the logger is process-wide; set for this test).
    let logs = root.path().join("log");
    let mut lc = common::params(&dir).log_config();
    lc.path = Some(logs.clone());
    dcf_runtime::logging::init(lc.clone()).unwrap();
    let n = make_node(1, &dir);
    n.dcf.start(1, &json()).unwrap();
    assert_eq!(n.dcf.last_index(1).unwrap(), 303);
    n.dcf.stop().unwrap();
    lc.path = None;
    dcf_runtime::logging::init(lc).unwrap();
    let marker = fs::read_to_string(dir.join(adopt::MARKER)).unwrap();
    assert!(
        marker.contains("183 entries") && marker.contains("torn tail"),
        "{marker}"
    );
    let run = fs::read_to_string(logs.join("run/dcf.rlog")).unwrap();
    let lines: Vec<_> = run
        .lines()
        .filter(|l| l.contains("adopted DCF's data directory"))
        .collect();
    assert_eq!(lines.len(), 1, "{run}");
    assert!(lines[0].contains(marker.trim()), "{run}");
    assert_eq!(
        fs::metadata(&p).unwrap().len(),
        len - 7,
        "DCF's file is left as it is"
    );
}

/// The child role of the kill test: starts a node on the directory it is given, with the
/// hook that pauses adoption; the parent kills it there. Does nothing in a normal run.
#[test]
fn adopt_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let n = make_node(1, Path::new(&dir));
    let _ = n.dcf.start(1, &json());
    unreachable!("the adoption hook pauses");
}

fn stored_state(dir: &Path) -> (inspect::StoredMeta, Vec<Entry>) {
    let info = inspect::info(dir).unwrap();
    (info[0].meta.clone().unwrap(), our_log(dir))
}

#[test]
fn a_node_killed_while_adopting_adopts_again_from_scratch() {
    let _ports = PORTS.lock();
    let root = tempfile::tempdir().unwrap();
    let whole = root.path().join("whole");
    let killed = root.path().join("killed");
    copy_dir(&fixture(3), &whole);
    copy_dir(&fixture(3), &killed);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["adopt_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &killed)
        .env(adopt::STOP_AFTER_ENV, "100")
        .spawn()
        .unwrap();
    let paused = killed.join(adopt::WORK_DIR).join(adopt::PAUSED_FILE);
    wait_for(LONG, "the child to pause mid-adoption", || paused.exists());
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!killed.join(adopt::MARKER).exists());
    let partial = our_log(&killed.join(adopt::WORK_DIR));
    assert_eq!(partial.len(), 100, "the kill came mid-way");
    // Restarted as a node, and an uninterrupted adoption beside it.
    let n = make_node(3, &killed);
    n.dcf.start(3, &json()).unwrap();
    n.dcf.stop().unwrap();
    adopt::adopt_if_needed(&whole, &opts()).unwrap();
    assert!(!killed.join(adopt::WORK_DIR).exists());
    let (ma, la) = stored_state(&killed);
    let (mb, lb) = stored_state(&whole);
    assert_eq!(ma.membership, mb.membership);
    // Hard state and membership as DCF stored them (node 3's newer control copy: term 4,
    // which is our 3; node 4 added as PASSIVE).
    assert_eq!((mb.hard_state.term, mb.hard_state.vote), (3, 1));
    let m = Membership::from_json(mb.membership.as_deref().unwrap()).unwrap();
    let roles: Vec<_> = m.members.iter().map(|x| (x.id, x.role, x.port)).collect();
    assert_eq!(
        roles,
        [
            (1, ConfRole::Leader, 17311),
            (2, ConfRole::Follower, 17312),
            (3, ConfRole::Follower, 17313),
            (4, ConfRole::Passive, 17314)
        ]
    );
    assert_eq!(ma.first_index, mb.first_index);
    assert_eq!(la, lb, "entry by entry");
    // And that is DCF's log: same indexes, keys, types and bytes, terms one lower.
    let mut dcf = Vec::new();
    log::read(&fixture(3).join("stream01"), |e| {
        dcf.push(adopt::to_entry(e, 1));
        Ok(())
    })
    .unwrap();
    assert_eq!(dcf.len(), 184);
    assert_eq!((dcf[0].index, dcf[183].index, dcf[183].term), (121, 304, 3));
    assert_eq!(la, dcf);
}

/// The time to adopt a 1 GiB DCF log (written by the export's segment writer):
/// `cargo test --release -p dcf-runtime --test dcf_adopt adopt_one_gib -- --ignored --nocapture`
/// (DCF_ADOPT_ENTRY_BYTES sets the entry size, 1024 by default; DCF_ADOPT_DIR the directory).
/// DCF_ADOPT_FROM=DIR adopts a copy of DIR instead, e.g. a large log the original library
/// wrote (`make_fixtures big`, tests/fixtures/dcf/README.md).
#[test]
#[ignore]
fn adopt_one_gib_log() {
    if let Ok(from) = std::env::var("DCF_ADOPT_FROM") {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        copy_dir(Path::new(&from), &data);
        let t = std::time::Instant::now();
        let r = adopt::adopt_if_needed(&data, &opts()).unwrap();
        let took = t.elapsed();
        let adopt::Outcome::Adopted(s) = r else {
            panic!("not adopted")
        };
        println!(
            "adopted a copy of {from} in {took:?}: {}",
            adopt::summary(&s)
        );
        return;
    }
    use dcf_runtime::storage::dcf::{ctrl, metadata};
    let size: usize = std::env::var("DCF_ADOPT_ENTRY_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let root = match std::env::var("DCF_ADOPT_DIR") {
        Ok(d) => tempfile::tempdir_in(d).unwrap(),
        Err(_) => tempfile::tempdir().unwrap(),
    };
    let data = root.path().join("data");
    let sdir = data.join("stream01");
    fs::create_dir_all(&sdir).unwrap();
    let md = metadata::read(&fixture(1)).unwrap().unwrap();
    metadata::write(&data, &md.members, "test").unwrap();
    ctrl::write(&sdir, 7, 1).unwrap();
    fs::write(sdir.join(log::LOG_CTRL), log::encode_ctrl(1)).unwrap();
    let n = (1u64 << 30) / (size as u64 + log::HEAD_LEN as u64);
    let t = std::time::Instant::now();
    let mut w = log::SegmentWriter::new(&sdir, 500 << 20);
    for i in 1..=n {
        let data: Vec<u8> = (0..size).map(|j| (i as usize + j) as u8).collect();
        w.push(&log::DcfEntry {
            index: i,
            term: 7,
            key: i,
            kind: log::KIND_LOG,
            data,
        })
        .unwrap();
    }
    w.finish().unwrap();
    println!("wrote {n} entries of {size} bytes in {:?}", t.elapsed());
    let storage = StorageOptions {
        segment_size: 64 << 20,
        ..Default::default()
    };
    let t = std::time::Instant::now();
    let r = adopt::adopt_if_needed(&data, &storage).unwrap();
    let took = t.elapsed();
    let adopt::Outcome::Adopted(s) = r else {
        panic!("not adopted")
    };
    assert_eq!(s[0].entries, n);
    println!(
        "adopted {n} entries ({:.0} MiB of data) in {took:?}: {}",
        (n * size as u64) as f64 / (1 << 20) as f64,
        adopt::summary(&s)
    );
}
