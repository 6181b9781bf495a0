//! Randomised simulation of `dcf_core::consensus` clusters. Seeds from `DCF_SIM_SEEDS=a..b`
//! (default 0..1000), steps per seed from `DCF_SIM_STEPS` (default 4000). A failure prints
//! the seed and the command that replays it exactly (`DCF_SIM_TRACE=1` traces it).

use dcf_sim as sim;

use std::ops::Range;
use std::time::Duration;

use dcf_core::consensus::{ConfRole, Event, Member, ReplicaConfig, Role, RunMode};
use dcf_core::types::NodeId;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::{member, Sim, MS};

fn seeds() -> Range<u64> {
    let Ok(s) = std::env::var("DCF_SIM_SEEDS") else {
        return 0..1000;
    };
    let (a, b) = s
        .split_once("..")
        .expect("DCF_SIM_SEEDS must look like a..b");
    a.trim().parse().expect("seed range start")..b.trim().parse().expect("seed range end")
}

fn steps() -> u64 {
    std::env::var("DCF_SIM_STEPS")
        .map(|s| s.parse().expect("DCF_SIM_STEPS must be a number"))
        .unwrap_or(4000)
}

/// The cluster shapes: 3 and 5 nodes, with LOGGER and PASSIVE members, weights, groups.
fn cluster(variant: u64) -> (Vec<Member>, Vec<u32>) {
    use ConfRole::*;
    match variant % 5 {
        0 => (
            vec![member(1, Leader), member(2, Follower), member(3, Follower)],
            vec![],
        ),
        1 => (
            vec![member(1, Follower), member(2, Follower), member(3, Logger)],
            vec![],
        ),
        2 => (
            vec![member(1, Follower), member(2, Follower), member(3, Passive)],
            vec![],
        ),
        3 => (
            vec![
                member(1, Follower),
                member(2, Follower),
                member(3, Follower),
                member(4, Logger),
                member(5, Passive),
            ],
            vec![],
        ),
        _ => {
            let mut m = vec![
                member(1, Follower),
                member(2, Follower),
                member(3, Follower),
                member(4, Logger),
                member(5, Passive),
            ];
            m[0].weight = 2;
            m[0].group = 1;
            m[1].group = 1;
            m[2].group = 2;
            m[3].group = 2;
            m[1].priority = 1;
            (m, vec![1, 2])
        }
    }
}

fn run_seed(seed: u64, steps: u64) -> Result<(), String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_5eed);
    let (members, groups) = cluster(seed);
    let t = Duration::from_millis(rng.gen_range(50..150));
    let hb = t / rng.gen_range(3..6);
    let threshold = if rng.gen_bool(0.2) { t } else { Duration::ZERO };
    let window = rng.gen_range(256..16384);
    let batch = rng.gen_range(16..2048);
    let msgs = rng.gen_range(1..8);
    let groups = if rng.gen_bool(0.5) { groups } else { vec![] };
    let mk = |id: NodeId| ReplicaConfig {
        election_timeout: t,
        heartbeat_interval: hb,
        run_mode: RunMode::Auto,
        switch_threshold: threshold,
        majority_groups: groups.clone(),
        max_inflight_bytes: window,
        max_batch_bytes: batch,
        max_inflight_msgs: msgs,
        ..ReplicaConfig::new(id)
    };
    let mut sim = Sim::new(seed, members, mk);
    sim.net.drop = 0.02;
    sim.net.duplicate = 0.02;
    sim.net.long_delay = 0.05;
    sim.net.max_long_delay_us = 50 * MS;
    sim.rebuild_on_missing_log = true;
    sim.start_faults();
    sim.start_client();
    while sim.steps < steps {
        if !sim.step()? {
            break;
        }
        if sim.steps.is_multiple_of(50) {
            raise_standby_priorities(&mut sim)?;
        }
    }
    // Liveness: once faults stop, a leader appears and new proposals commit everywhere.
    sim.heal_all()?;
    let t_us = t.as_micros() as u64;
    if !sim.run_until(80 * t_us, |s| s.leader().is_some())? {
        return Err(format!(
            "liveness: no writable leader {} ms after faults stopped",
            80 * t_us / MS
        ));
    }
    sim.client = false;
    // A stale leader may still accept proposals until it learns of its successor; those
    // may be lost (as in Raft), so propose again until one batch commits everywhere.
    let deadline = sim.now_us + 60 * t_us;
    loop {
        if sim.now_us > deadline {
            let state: Vec<String> = sim
                .nodes
                .values()
                .filter_map(|n| n.replica.as_ref())
                .map(|r| {
                    format!(
                        "{}:{:?} t{} c{} l{}",
                        r.id(),
                        r.role(),
                        r.term(),
                        r.commit_index(),
                        r.last_index()
                    )
                })
                .collect();
            return Err(format!(
                "liveness: no proposal committed everywhere within {} ms: {state:?}",
                60 * t_us / MS
            ));
        }
        let Some((_, _, hi)) = sim.propose(5)? else {
            sim.run_until(t_us, |_| false)?;
            continue;
        };
        let key = sim.next_key - 1;
        // Every member (as the leader sees the membership) commits it.
        let all = |s: &Sim| {
            let Some(m) = s
                .leader()
                .and_then(|l| s.replica(l))
                .map(|r| r.membership().clone())
            else {
                return false;
            };
            s.check.key_at(hi) == Some(key)
                && m.members
                    .iter()
                    .all(|x| s.replica(x.id).is_some_and(|r| r.commit_index() >= hi))
        };
        if sim.run_until(10 * t_us, all)? {
            break;
        }
    }
    for n in sim.nodes.values() {
        if let Some(r) = n.replica.as_ref() {
            sim.check.final_check(n.id, r)?;
        }
    }
    if std::env::var_os("DCF_SIM_VERBOSE").is_some() {
        eprintln!(
            "seed {seed}: {} steps, {} ms virtual, {} elections, {} committed, {} acknowledged",
            sim.steps,
            sim.now_us / MS,
            sim.check.elections,
            sim.check.history_len(),
            sim.check.acked.len()
        );
    }
    Ok(())
}

#[test]
fn simulated_clusters_stay_safe_and_live() {
    let range = seeds();
    let steps = steps();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, 2) as u64;
    let handles: Vec<_> = (0..threads)
        .map(|k| {
            let range = range.clone();
            std::thread::spawn(move || {
                let mut fails = Vec::new();
                for seed in range.filter(|s| s % threads == k) {
                    let res = std::panic::catch_unwind(|| run_seed(seed, steps))
                        .unwrap_or_else(|_| Err("panicked".into()));
                    if let Err(e) = res {
                        fails.push((seed, e));
                        if fails.len() >= 3 {
                            break;
                        }
                    }
                }
                fails
            })
        })
        .collect();
    let mut fails: Vec<(u64, String)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    fails.sort();
    if let Some((seed, e)) = fails.first() {
        for (s, e) in &fails {
            eprintln!("seed {s}: {e}");
        }
        panic!(
            "seed {seed} failed: {e}\nreplay: DCF_SIM_SEEDS={seed}..{} DCF_SIM_STEPS={steps} cargo test -p dcf-core --test consensus_sim",
            seed + 1
        );
    }
}

/// As openGauss: every standby keeps setting its replay position (here its commit index)
/// as its election priority; a leader stops.
fn raise_standby_priorities(sim: &mut Sim) -> Result<(), String> {
    let ids: Vec<NodeId> = sim.nodes.keys().copied().collect();
    for id in ids {
        let Some(r) = sim.replica(id) else { continue };
        if r.role() == Role::Leader {
            continue;
        }
        let p = r.commit_index() * 10 + u64::from(id);
        sim.with(id, |r, _| r.set_priority(p))?;
    }
    Ok(())
}

/// Follows `sim.events` from `from`: a node that announced leadership (LeaderReady) must
/// not leave it while no fault happens. Returns the new offset.
fn check_announced_leaders_stay(
    sim: &Sim,
    from: usize,
    announced: &mut std::collections::BTreeSet<NodeId>,
) -> Result<usize, String> {
    for (id, ev) in &sim.events[from..] {
        match ev {
            Event::LeaderReady { .. } => {
                announced.insert(*id);
            }
            Event::RoleChanged { role, term } if *role != Role::Leader && announced.remove(id) => {
                return Err(format!(
                    "node {id} announced leadership, then became {role:?} in term {term} without a fault"
                ));
            }
            _ => {}
        }
    }
    Ok(sim.events.len())
}

#[test]
fn standbys_raising_priority_move_leadership_only_when_a_leader_is_chosen() {
    let t = 100 * MS;
    let members = vec![
        member(1, ConfRole::Leader),
        member(2, ConfRole::Follower),
        member(3, ConfRole::Follower),
    ];
    let mut sim = Sim::new(11, members, |id| ReplicaConfig {
        election_timeout: Duration::from_micros(t),
        heartbeat_interval: Duration::from_micros(t / 3),
        ..ReplicaConfig::new(id)
    });
    let mut announced = std::collections::BTreeSet::new();
    let mut seen = 0;
    let mut leader_terms = 0;
    for failover in 0..6 {
        assert!(sim.run_until(40 * t, |s| s.leader().is_some()).unwrap());
        // A quiet period: writes, standbys raising their priority, no fault.
        for _ in 0..60 {
            raise_standby_priorities(&mut sim).unwrap();
            sim.propose(2).unwrap();
            sim.run_for(t / 4).unwrap();
            seen = check_announced_leaders_stay(&sim, seen, &mut announced)
                .unwrap_or_else(|e| panic!("failover {failover}: {e}"));
        }
        let l = sim.leader().expect("leader");
        // SIGKILL of the primary; it restarts after the others elected.
        sim.crash(l);
        announced.remove(&l);
        assert!(sim.run_until(40 * t, |s| s.leader().is_some()).unwrap());
        sim.restart(l).unwrap();
        leader_terms += 1;
    }
    // Each failover elects once and may hand off once (before announcing).
    let became_leader = sim
        .events
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                Event::RoleChanged {
                    role: Role::Leader,
                    ..
                }
            )
        })
        .count();
    assert!(
        became_leader <= 2 * (leader_terms + 1),
        "{became_leader} leaderships for {leader_terms} failovers"
    );
}
