//! dcf_truncate and DCF_EXCEPTION_MISSING_LOG (SPEC B4 exception_report, B7.10).

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::*;
use dcf_runtime::api::DcfException;
use parking_lot::Mutex;

fn first_index(n: &TestNode) -> u64 {
    let v: serde_json::Value = serde_json::from_str(&n.dcf.stream_info(1).unwrap()).unwrap();
    v["first_index"].as_u64().unwrap()
}

#[test]
fn truncate_keeps_the_given_index_and_survives_a_restart() {
    let mut c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let idx = write_keys(c.node(leader), 1..21);
    for n in &c.nodes {
        wait_keys(n, &(1..21).collect::<Vec<_>>(), LONG);
    }
    let f = leader % 3 + 1;
    let n = c.node(f);
    n.dcf.truncate(1, idx[9]).expect("truncate on a follower");
    assert_eq!(first_index(n), idx[9]);
    let mut buf = vec![0u8; 4096];
    assert_eq!(
        n.dcf.read(1, idx[9], &mut buf).unwrap(),
        payload(10).len(),
        "the first kept entry is still readable"
    );
    assert!(n.dcf.read(1, idx[9] - 1, &mut buf).is_err());
    // A rewind below the kept range is refused; at its edge it re-delivers.
    assert!(n.dcf.set_applied_index(1, idx[9] - 2).is_err());
    n.dcf.stop().unwrap();
    c.restart(f);
    let n = c.node(f);
    assert_eq!(first_index(n), idx[9], "first index after restart");
    // Without a seed the restarted node re-delivers what it kept, from key 10 on.
    wait_keys(n, &(10..21).collect::<Vec<_>>(), LONG);
    assert_eq!(n.applied_keys(), (10..21).collect::<Vec<u64>>());
    write_keys(c.node(leader), 21..26);
    wait_keys(n, &(21..26).collect::<Vec<_>>(), LONG);
    // Past the applied index: accepted (as DCF), but what is not applied here stays.
    *n.apply_delay.lock() = std::time::Duration::from_millis(300);
    let more = write_keys(c.node(leader), 26..31);
    n.dcf
        .truncate(1, more[4] + 10)
        .expect("truncating past what was applied succeeds");
    assert!(first_index(n) <= more[4], "an unapplied entry was dropped");
    *n.apply_delay.lock() = std::time::Duration::ZERO;
    wait_keys(n, &(26..31).collect::<Vec<_>>(), LONG);
    check_in_order(n);
}

#[test]
fn truncation_past_a_stopped_follower_raises_missing_log_once() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let f = c.node(leader % 3 + 1);
    write_keys(c.node(leader), 1..11);
    wait_keys(f, &(1..11).collect::<Vec<_>>(), LONG);
    f.dcf.stop().unwrap();
    // 20 MB while the follower is down: more than the leader keeps in flight to one peer
    // (8 MB), so the follower cannot have received everything before the truncation point.
    let big = vec![0x5au8; 100_000];
    let l = c.node(leader);
    let idx: Vec<u64> = (11..211)
        .map(|k| l.dcf.write(1, &big, k).unwrap())
        .collect();
    let other = (1..=3).find(|i| *i != leader && *i != f.id).unwrap();
    for id in [leader, other] {
        wait_for(LONG, "the two running nodes to apply everything", || {
            c.node(id).applied_keys().contains(&210)
        });
        c.node(id).dcf.truncate(1, idx[180]).expect("truncate");
    }
    let reports: Arc<Mutex<Vec<(Instant, DcfException)>>> = Arc::default();
    let r = reports.clone();
    f.dcf.callbacks().update(move |cb| {
        cb.exception_report = Some(Arc::new(move |_, e| {
            r.lock().push((Instant::now(), e));
            0
        }));
    });
    let mark = f.events.lock().len();
    f.dcf.start(f.id, &c.json).expect("restart the follower");
    wait_for(LONG, "a MISSING_LOG report", || !reports.lock().is_empty());
    // One event, one report: not one a second (or several) while it stands.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    let r = reports.lock().clone();
    assert_eq!(r.len(), 1, "reports of one event: {r:?}");
    assert_eq!(r[0].1, DcfException::MissingLog);
    assert_eq!(
        f.dcf.exception(),
        Some((1, DcfException::MissingLog)),
        "the standing exception"
    );
    // The application re-arms it (DCC after a failed rebuild): reported once more.
    f.dcf.set_exception(1, DcfException::MissingLog);
    wait_for(LONG, "the re-armed exception's report", || {
        reports.lock().len() == 2
    });
    // dcf_set_exception(RUNNING_NORMAL) clears it; nothing more is reported.
    f.dcf.set_exception(1, DcfException::RunningNormal);
    assert_eq!(f.dcf.exception(), None);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(reports.lock().len(), 2, "reported after RUNNING_NORMAL");
    // Nothing past the hole was applied.
    let keys = f.applied_keys();
    assert!(!keys.contains(&191), "applied across the hole: {keys:?}");
    check_indexes_since(f, mark);
}
