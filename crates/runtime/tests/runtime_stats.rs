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
