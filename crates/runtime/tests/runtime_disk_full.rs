//! A leader whose DATA_PATH fills up (a real, small tmpfs) stops accepting writes, and a
//! healthy node leads and acknowledges writes within ELECTION_TIMEOUT + 2 s of the first
//! refused write; after space is freed and the old leader restarts it rejoins, and nothing
//! acknowledged is lost. Needs root (mount); skips with a message otherwise.

mod common;
mod skip;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

struct Mount(std::path::PathBuf);

impl Mount {
    fn tmpfs(dir: &std::path::Path, mib: u32) -> Option<Mount> {
        std::fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Mount(dir.to_path_buf()))
    }

    fn grow(&self, mib: u32) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,size={mib}m")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(st.success(), "remount");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn leader_on_a_full_disk_hands_over_and_rejoins_after_space_is_freed() {
    let mut c = Cluster::new(3);
    let dir1 = c.node(1).dir.clone();
    // Two 10 MiB segments (the open one and its preallocated spare) fit, a third does not.
    let Some(mount) = Mount::tmpfs(&dir1, 28) else {
        skip::skipped("cannot mount a tmpfs for the disk-full test (needs root)");
        return;
    };
    for n in &c.nodes {
        n.dcf.start(n.id, &c.json).unwrap();
    }
    let leader = c.wait_leader(LONG);
    if leader != 1 {
        c.node(leader).dcf.promote_leader(1, 1, 5000).unwrap();
        wait_for(LONG, "node 1 to lead", || c.node(1).is_writable_leader());
    }
    let l = c.node(1);
    let data = vec![3u8; 64 << 10];
    let mut key = 1u64;
    let refused_at = loop {
        match l.dcf.write(1, &data, key) {
            Ok(_) => key += 1,
            Err(_) => break Instant::now(),
        }
        assert!(key < 100_000, "a full disk never refused a write");
        std::thread::sleep(Duration::from_millis(1));
    };
    // ELECTION_TIMEOUT is 1 s in these tests.
    let mut acked_by_new = None;
    while refused_at.elapsed() < Duration::from_secs(3) && acked_by_new.is_none() {
        if let Some(n) = c.nodes.iter().find(|n| n.id != 1 && n.is_writable_leader()) {
            if n.dcf.write(1, &payload(900_000), 900_000).is_ok() {
                acked_by_new = Some(n.id);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let new = acked_by_new.expect("no healthy node took over within ELECTION_TIMEOUT + 2 s");
    wait_keys(c.node(new), &[900_000], Duration::from_secs(3));
    println!(
        "disk full: new leader {new} acknowledged a write {:?} after the first refused write",
        refused_at.elapsed()
    );
    let acked_old = l.acked_keys();
    assert!(!acked_old.is_empty());

    l.dcf.stop().unwrap();
    mount.grow(400);
    c.restart(1);
    let mut want = acked_old;
    want.push(900_000);
    wait_keys(c.node(1), &want, LONG);
    for n in &c.nodes {
        wait_keys(n, &want, LONG);
    }
    c.stop_all();
    drop(c);
    drop(mount);
}

/// A segment that cannot be preallocated (disk full) is named in full in the error, with
/// its number, so that an operator finds the file.
#[test]
fn a_failed_preallocation_names_the_segment_file() {
    use dcf_runtime::storage::{Storage, StorageOptions};
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let Some(_mount) = Mount::tmpfs(&dir, 1) else {
        println!("skipped: cannot mount a tmpfs for the preallocation test (needs root)");
        return;
    };
    let opts = StorageOptions {
        segment_size: 8 << 20,
        ..StorageOptions::default()
    };
    let storage = Storage::open(&dir, opts, Box::new(|_, _, _| {})).unwrap();
    let err = storage
        .open_stream(1, None)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    println!("{err}");
    assert!(
        names_a_segment(&err),
        "the segment file is not named with its number: {err}"
    );
    // And on a running node, in what dcf_write returns once the disk is full.
    let c = Cluster::new(1);
    let Some(_mount) = Mount::tmpfs(&c.node(1).dir, 12) else {
        return;
    };
    c.node(1).dcf.start(1, &c.json).unwrap();
    c.wait_leader(LONG);
    let data = vec![1u8; 64 << 10];
    let err = (1..100_000u64)
        .find_map(|k| c.node(1).dcf.write(1, &data, k).err())
        .expect("a full disk refused no write")
        .to_string();
    let err = if names_a_segment(&err) {
        err
    } else {
        // The write that found the stream stopped may say so before the reason is known.
        std::thread::sleep(Duration::from_millis(200));
        c.node(1).dcf.write(1, &data, 0).unwrap_err().to_string()
    };
    println!("{err}");
    assert!(
        names_a_segment(&err),
        "the segment file is not named with its number: {err}"
    );
    c.stop_all();
}

/// Whether `text` names a segment file with its number (`seg_0000000003.log`).
fn names_a_segment(text: &str) -> bool {
    text.split(['/', ' ', ':']).any(|w| {
        w.strip_prefix("seg_")
            .and_then(|r| r.strip_suffix(".log"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    })
}
