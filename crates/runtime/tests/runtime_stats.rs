//! dcf_query_statistics_info: DCF's 18 items in order; writes counted per 3-second window.

mod common;

use std::time::Duration;

use common::*;

fn item<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["statistics_info"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|i| i.get(name))
        .unwrap_or_else(|| panic!("{name} missing"))
}

#[test]
fn writes_are_counted_per_window() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let dcf = &c.node(leader).dcf;
    let first: serde_json::Value = serde_json::from_str(&dcf.statistics_info()).unwrap();
    assert_eq!(first["statistics_info"].as_array().unwrap().len(), 18);
    assert!(
        item(&first, "DCFWriteCount").is_null(),
        "no complete window yet"
    );
    assert!(!item(&first, "StgMemUsed").is_null());
    write_keys(c.node(leader), 1..11);
    std::thread::sleep(Duration::from_millis(3100));
    let doc: serde_json::Value = serde_json::from_str(&dcf.statistics_info()).unwrap();
    assert_eq!(item(&doc, "DCFWriteCount")["value"], 10, "{doc}");
    assert!(item(&doc, "DCFWriteSize")["value"].as_f64().unwrap() > 0.0);
    // Measured by the runtime: data and heartbeats went out and came back in the window.
    assert!(item(&doc, "SendPackSize")["value"].as_f64().unwrap() > 0.0);
    assert!(item(&doc, "DiskWrite")["avg value"].as_f64().unwrap() > 0.0);
    assert!(item(&doc, "SendWait")["avg value"].as_f64().is_some());
    assert!(item(&doc, "RecvDelay")["avg value"].as_f64().is_some());
    assert!(item(&doc, "HBSendCount")["value"].as_u64().unwrap() > 0);
    assert!(item(&doc, "HBRTT")["avg value"].as_f64().unwrap() > 0.0);
    c.stop_all();
}

/// Each node counts its own traffic (three nodes share this process): only the leader sends
/// heartbeats and times their answers, a follower cut off from the leader receives none,
/// and heartbeats that could not be sent are not counted as sent.
#[test]
fn each_node_counts_its_own_heartbeats() {
    let c = Cluster::start(3);
    let leader = c.wait_leader(LONG);
    let others: Vec<u32> = (1..=3).filter(|&i| i != leader).collect();
    let (f1, f2) = (others[0], others[1]);
    // The leader drops every frame to and from f2.
    c.node(leader).dcf.faults().cut(f2);
    // A heartbeat already handed to the network before the cut still arrives: let it, before
    // the windows open (one did, a few milliseconds after the cut, in a run of CI).
    std::thread::sleep(Duration::from_millis(300));
    let doc = |id: u32| -> serde_json::Value {
        serde_json::from_str(&c.node(id).dcf.statistics_info()).unwrap()
    };
    // Open the windows of the three nodes together, then read the complete ones.
    for id in 1..=3 {
        doc(id);
    }
    std::thread::sleep(Duration::from_millis(3100));
    let (l, a, b) = (doc(leader), doc(f1), doc(f2));
    let sent = item(&l, "HBSendCount")["value"].as_u64().unwrap_or(0);
    let got = item(&a, "HBRecvCount")["value"].as_u64().unwrap_or(0);
    assert!(sent > 0, "leader: {l}");
    assert!(got > 0, "follower {f1}: {a}");
    assert!(
        item(&b, "HBRecvCount").is_null(),
        "follower {f2} received no heartbeat: {b}"
    );
    for (id, d) in [(f1, &a), (f2, &b)] {
        assert!(item(d, "HBSendCount").is_null(), "follower {id}: {d}");
        assert!(item(d, "HBRTT").is_null(), "follower {id}: {d}");
    }
    // Only those to f1 went out (the windows of the two nodes differ by a few ms).
    assert!(
        sent <= got + got / 4 + 2,
        "leader counted {sent} heartbeats sent, follower {f1} received {got}"
    );
    assert!(item(&l, "HBRTT")["avg value"].as_f64().unwrap() > 0.0);
    c.node(leader).dcf.faults().heal_all();
    c.stop_all();
}
