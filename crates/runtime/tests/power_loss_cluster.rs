//! Power cuts under an in-process three-node cluster: each node's directory is recorded by
//! `storage::power`, and a node's power cut is its links cut, a crash image of that moment
//! written over its directory, and a restart. Seed `POWER_LOSS_SEED` (else a fresh one,
//! printed on failure); rounds of cuts `POWER_LOSS_CLUSTER_CYCLES` (default 2).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use dcf_runtime::storage::power::Recorder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod common;

/// The seed of the cluster test: `POWER_LOSS_SEED`, else a fresh one.
fn cluster_seed() -> u64 {
    std::env::var("POWER_LOSS_SEED")
        .map(|s| s.trim().parse().expect("POWER_LOSS_SEED must be a number"))
        .unwrap_or_else(|_| rand::random())
}

/// Three in-process nodes, each on a recorded directory, with slow syncs. The power of one
/// node, then of two, then of all three (`POWER_LOSS_CLUSTER_CYCLES` times, default 2) is
/// cut at once right after a burst of writes: their links
/// are cut first (nothing they do afterwards reaches anyone), the recorder's position is
/// the moment of the cut, the node is stopped, its directory replaced by a crash image of
/// that moment, and it is started again. Writes acknowledged before each cut, and all
/// acknowledged by nodes that kept running, must be applied on every node afterwards; and
/// every index ever applied, on any node before or after a cut, holds the same key.
#[test]
fn power_loss_cluster() {
    let seed = cluster_seed();
    if std::panic::catch_unwind(|| cluster_run(seed)).is_err() {
        panic!(
            "power_loss_cluster: seed {seed} failed (above)\nreplay (timing varies, the power cuts' choices do not): POWER_LOSS_SEED={seed} cargo test -p dcf-runtime --test power_loss_cluster"
        );
    }
}

fn cluster_run(seed: u64) {
    use common::*;
    use std::collections::BTreeSet;
    use std::time::Duration;

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut c = Cluster::new(3);
    let mut recs: Vec<Arc<Recorder>> = c
        .nodes
        .iter()
        .map(|n| Recorder::start(&n.dir).unwrap())
        .collect();
    // Slow syncs keep writes in flight (written, not yet synced) when the power goes.
    let slow = |c: &Cluster, rng: &mut ChaCha8Rng| {
        for n in &c.nodes {
            let d = Duration::from_micros(rng.gen_range(500..5000));
            n.dcf.faults().disk.slow_sync(d);
        }
    };
    slow(&c, &mut rng);
    for n in &c.nodes {
        n.dcf.start(n.id, &c.json).expect("start");
    }
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    // (node, what it applied) of every node stopped by a power cut.
    let mut history: Vec<(u32, Vec<(u64, u64)>)> = Vec::new();
    let mut next = 1u64;
    let cycles: usize = std::env::var("POWER_LOSS_CLUSTER_CYCLES")
        .map(|s| {
            s.trim()
                .parse()
                .expect("POWER_LOSS_CLUSTER_CYCLES must be a number")
        })
        .unwrap_or(2);
    for victims in [1usize, 2, 3].repeat(cycles) {
        let leader = c.wait_leader(LONG);
        for _ in 0..rng.gen_range(20..300) {
            let _ = c.node(leader).dcf.write(1, &payload(next), next);
            next += 1;
            if rng.gen_ratio(1, 16) {
                std::thread::sleep(Duration::from_millis(rng.gen_range(0..4)));
            }
        }
        let mut ids = [1u32, 2, 3];
        for i in (1..ids.len()).rev() {
            ids.swap(i, rng.gen_range(0..=i));
        }
        let set = ids[..victims].to_vec();
        // What the victims applied and anyone acknowledged up to now: after the links are
        // cut a victim may still learn that its own sync finished, but that sync is past
        // the moment of the cut, so what it commits or applies on it does not count.
        for n in &c.nodes {
            acked.extend(n.acked_keys());
        }
        for &x in &set {
            history.push((x, c.node(x).applied()));
        }
        // The power goes: nothing a victim does from now on reaches anyone.
        for &x in &set {
            for y in 1..=3u32 {
                if y != x {
                    c.node(x).dcf.faults().cut(y);
                    c.node(y).dcf.faults().cut(x);
                }
            }
        }
        let at: Vec<usize> = set
            .iter()
            .map(|&x| recs[x as usize - 1].position())
            .collect();
        for &x in &set {
            c.node(x).dcf.stop().unwrap();
        }
        for (&x, &pos) in set.iter().zip(&at) {
            let k = x as usize - 1;
            recs[k].stop();
            eprintln!(
                "power_loss_cluster: power of node {x} cut after operation {pos} (it went on to {}), {} writes acknowledged",
                recs[k].position(),
                acked.len()
            );
            let img = recs[k].crash_image(pos, &mut rng);
            let dir = c.node(x).dir.clone();
            std::fs::remove_dir_all(&dir).unwrap();
            img.write_to(&dir).unwrap();
            recs[k] = Recorder::start(&dir).unwrap();
        }
        if set.len() == 1 {
            // The other two go on without it; it catches up after its restart.
            write_acked(&c, next..next + 30);
            next += 30;
        }
        for n in &c.nodes {
            n.dcf.faults().heal_all();
        }
        for &x in &set {
            c.restart(x);
        }
        slow(&c, &mut rng);
        // Writes go on after the restart.
        write_acked(&c, next..next + 20);
        next += 20;
    }
    for n in &c.nodes {
        acked.extend(n.acked_keys());
    }
    let acked: Vec<u64> = acked.into_iter().collect();
    for n in &c.nodes {
        wait_keys(n, &acked, LONG);
        check_in_order(n);
    }
    let mut key_at: HashMap<u64, (u64, u32)> = HashMap::new();
    let now: Vec<(u32, Vec<(u64, u64)>)> = c.nodes.iter().map(|n| (n.id, n.applied())).collect();
    for (id, applied) in history.iter().chain(&now) {
        for &(index, key) in applied {
            if let Some((k0, id0)) = key_at.insert(index, (key, *id)) {
                assert_eq!(
                    k0, key,
                    "index {index}: node {id0} applied key {k0}, node {id} key {key}"
                );
            }
        }
    }
    for r in &recs {
        r.stop();
    }
}

/// Writes `keys` through whichever node leads until each is acknowledged; a write lost with
/// a leadership is written again (same key, same bytes).
fn write_acked(c: &common::Cluster, keys: std::ops::Range<u64>) {
    let mut missing: Vec<u64> = keys.collect();
    common::wait_for(common::LONG, "writes acknowledged", || {
        let done: HashSet<u64> = c.nodes.iter().flat_map(|n| n.acked_keys()).collect();
        missing.retain(|k| !done.contains(k));
        if let Some(n) = c.nodes.iter().find(|n| n.is_writable_leader()) {
            for &k in &missing {
                let _ = n.dcf.write(1, &common::payload(k), k);
            }
        }
        missing.is_empty()
    });
}
