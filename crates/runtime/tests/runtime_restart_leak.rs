//! Repeated stop/start of one instance releases its threads, files and sockets. Alone in its
//! binary so that no other test's threads are counted.

mod common;

use std::time::Duration;

use common::*;

fn count(dir: &str) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn stop_start_cycles_release_threads_and_descriptors() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let f = c.node(leader % 3 + 1);
    let mut key = 1;
    let mut cycle = |c: &Cluster| {
        f.dcf.stop().unwrap();
        f.dcf.start(f.id, &c.json).expect("start again");
        // A second start while running must not spawn anything.
        f.dcf.start(f.id, &c.json).unwrap();
        write_keys(c.node(leader), key..key + 5);
        wait_keys(f, &(key..key + 5).collect::<Vec<_>>(), LONG);
        key += 5;
    };
    cycle(&c);
    // A follower opens its probe socket to the leader on its first probe after it learns
    // who leads (every 100 ms at most): counted before that, the socket looked like a leak.
    std::thread::sleep(Duration::from_millis(500));
    let (threads, fds) = (count("/proc/self/task"), count("/proc/self/fd"));
    for _ in 0..3 {
        cycle(&c);
    }
    // Threads and descriptors may take a moment to go; they must not accumulate.
    wait_for(
        Duration::from_secs(20),
        "thread and descriptor counts to come back",
        || count("/proc/self/task") <= threads && count("/proc/self/fd") <= fds,
    );
}
