//! The query documents: DCF's keys in DCF's order, exact integers, the 2048-byte budget.

use dcf_runtime::query::{
    cluster_info_json, role_name, statistics_json, stream_info_json, NodeInfo, Statistics,
    StreamInfo,
};
use serde_json::Value;

fn node(id: u32, role: &'static str, progress: Option<(u64, u64, u64)>) -> NodeInfo {
    NodeInfo {
        node_id: id,
        ip: format!("192.168.100.{id}"),
        port: 17001,
        role,
        progress,
    }
}

fn follower_stream() -> StreamInfo {
    StreamInfo {
        stream_id: 1,
        local_node_id: 2,
        role: "FOLLOWER",
        term: 7,
        hb_interval_ms: 1000,
        elc_timeout_ms: 3000,
        auto_elc_pri_en: 1,
        applied_index: 10,
        commit_index: 11,
        first_index: 1,
        last_index: 12,
        nodes: vec![
            node(1, "FOLLOWER", None),
            node(2, "FOLLOWER", None),
            node(3, "PASSIVE", None),
        ],
        ..StreamInfo::default()
    }
}

fn leader_stream(n: u32, big: u64) -> StreamInfo {
    StreamInfo {
        stream_id: 63,
        local_node_id: 255,
        role: "LEADER",
        term: big,
        run_mode: 2,
        work_mode: 1,
        hb_interval_ms: 200_000,
        elc_timeout_ms: 600_000,
        auto_elc_pri_en: u32::MAX,
        elc_switch_thd: u32::MAX,
        group: u32::MAX,
        priority: big,
        leader_group: u32::MAX,
        is_in_major: true,
        applied_index: big,
        commit_index: big,
        first_index: big,
        last_index: big,
        cluster_min_apply_idx: Some(big),
        leader: Some((255, "255.255.255.255".into(), 65535)),
        nodes: (0..n)
            .map(|i| NodeInfo {
                node_id: 251 + i,
                ip: "255.255.255.255".into(),
                port: 65535,
                role: if i == 4 { "LEADER" } else { "PRE_CANDIDATE" },
                progress: Some((big, big, big)),
            })
            .collect(),
    }
}

/// Keys in document order (the writer's order; serde_json's Map would sort them).
fn top_level_keys(json: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut de = serde_json::Deserializer::from_str(json);
    let v = serde::de::Deserializer::deserialize_map(&mut de, KeyOrder(&mut keys));
    v.unwrap();
    keys
}

struct KeyOrder<'a>(&'a mut Vec<String>);

impl<'de> serde::de::Visitor<'de> for KeyOrder<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(k) = map.next_key::<String>()? {
            map.next_value::<serde::de::IgnoredAny>()?;
            self.0.push(k);
        }
        Ok(())
    }
}

const STREAM_KEYS: [&str; 18] = [
    "stream_id",
    "local_node_id",
    "role",
    "term",
    "run_mode",
    "work_mode",
    "hb_interval",
    "elc_timeout",
    "auto_elc_pri_en",
    "elc_switch_thd",
    "group",
    "priority",
    "leader_group",
    "is_in_major",
    "applied_index",
    "commit_index",
    "first_index",
    "last_index",
];

#[test]
fn follower_document_without_leader() {
    let json = stream_info_json(&follower_stream());
    let mut want: Vec<&str> = STREAM_KEYS.to_vec();
    want.extend(["leader_id", "leader_ip", "leader_port", "nodes"]);
    assert_eq!(top_level_keys(&json), want);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["role"], "FOLLOWER");
    assert!(v["leader_id"].is_null() && v["leader_ip"].is_null() && v["leader_port"].is_null());
    assert_eq!(v["is_in_major"], 0);
    let nodes = v["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    assert_eq!(top_level_keys(&nodes[0].to_string()).len(), 4);
    assert_eq!(nodes[2]["role"], "PASSIVE");
    assert_eq!(nodes[0]["node_id"], 1);
    assert_eq!(nodes[0]["ip"], "192.168.100.1");
    assert_eq!(nodes[0]["port"], 17001);
    assert!(!json.contains(' ') && !json.contains('\n'), "compact");
    assert!(json.len() < 2048);
}

#[test]
fn leader_document_has_progress_and_exact_u64() {
    let big = u64::MAX - 1;
    let json = stream_info_json(&leader_stream(5, big));
    let mut want: Vec<&str> = STREAM_KEYS.to_vec();
    want.extend([
        "cluster_min_apply_idx",
        "leader_id",
        "leader_ip",
        "leader_port",
        "nodes",
    ]);
    assert_eq!(top_level_keys(&json), want);
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["last_index"].as_u64(), Some(big));
    assert_eq!(v["cluster_min_apply_idx"].as_u64(), Some(big));
    assert_eq!(v["leader_id"], 255);
    assert_eq!(v["leader_port"], 65535);
    let n4 = &v["nodes"][4];
    let keys = top_level_keys(&n4.to_string());
    // serde_json's Value re-sorts; check presence here and order on the raw text below.
    assert_eq!(keys.len(), 7);
    assert!(json.contains(&format!(
        r#"{{"node_id":255,"ip":"255.255.255.255","port":65535,"role":"LEADER","next_index":{big},"match_index":{big},"apply_index":{big}}}"#
    )));
    // openGauss passes a 2048-byte buffer: the largest 5-node leader document fits.
    let max = stream_info_json(&leader_stream(5, u64::MAX));
    assert!(max.len() + 1 < 2048, "{} bytes", max.len());
    println!("5-node leader document, all u64::MAX: {} bytes", max.len());
}

#[test]
fn cluster_info_wraps_streams() {
    assert_eq!(
        cluster_info_json(0, &[]),
        r#"{"local_node_id":0,"stream_list":[]}"#
    );
    let s = follower_stream();
    let json = cluster_info_json(2, &[s.clone(), s.clone()]);
    assert_eq!(top_level_keys(&json), ["local_node_id", "stream_list"]);
    let one = stream_info_json(&s);
    assert_eq!(
        json,
        format!(r#"{{"local_node_id":2,"stream_list":[{one},{one}]}}"#)
    );
    serde_json::from_str::<Value>(&json).unwrap();
}

#[test]
fn strings_are_escaped() {
    let mut s = follower_stream();
    s.nodes[0].ip = "a\"b\\c\n\u{1}é".into();
    let v: Value = serde_json::from_str(&stream_info_json(&s)).unwrap();
    assert_eq!(v["nodes"][0]["ip"], "a\"b\\c\n\u{1}é");
}

#[test]
fn statistics_has_18_items_in_order() {
    let empty = statistics_json(&Statistics::default());
    let v: Value = serde_json::from_str(&empty).unwrap();
    let items = v["statistics_info"].as_array().unwrap();
    let names: Vec<String> = items
        .iter()
        .map(|i| top_level_keys(&i.to_string()).remove(0))
        .collect();
    assert_eq!(
        names,
        [
            "DCFWriteCount",
            "DCFWriteSize",
            "DiskWrite",
            "SendPackSize",
            "SendDelay",
            "SendWait",
            "RecvDelay",
            "SendQueueLowCount",
            "RecvQueueLowCount",
            "SendQueueHighCount",
            "RecvQueueHighCount",
            "StgMemUsed",
            "MecSendMem",
            "MecRecvMem",
            "HBSendCount",
            "HBRecvCount",
            "HBRTT",
            "MecBuddyMem"
        ]
    );
    assert!(items
        .iter()
        .all(|i| i.as_object().unwrap().values().all(Value::is_null)));

    let st = Statistics {
        dcf_write_count: Some(u64::MAX),
        dcf_write_size_mb: Some(1.5),
        disk_write_ms: Some(2.0),
        hb_rtt_ms: Some(f64::NAN),
        ..Statistics::default()
    };
    let json = statistics_json(&st);
    assert!(json.starts_with(&format!(
        r#"{{"statistics_info":[{{"DCFWriteCount":{{"value":{},"unit":"default"}}}},{{"DCFWriteSize":{{"value":1.5,"unit":"MB"}}}},{{"DiskWrite":{{"avg value":2,"unit":"ms"}}}},{{"SendPackSize":null}}"#,
        u64::MAX
    )));
    assert!(json.contains(r#"{"HBRTT":null}"#));
    serde_json::from_str::<Value>(&json).unwrap();
}

#[test]
fn role_names() {
    assert_eq!(role_name(0), "UNKNOWN");
    assert_eq!(role_name(5), "PRE_CANDIDATE");
    assert_eq!(role_name(6), "CANDIDATE");
    assert_eq!(role_name(7), "UNKNOWN");
}
