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
