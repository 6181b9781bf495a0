//! The cluster JSON of `dcf_start` and the document of `dcf_change_member`, generated from
//! valid documents and then changed a little: a key dropped, doubled in another case or
//! given a value of the wrong type or range, an element repeated, an unknown key added, one
//! character of the text deleted or inserted. Where the outcome is known the exact result or
//! error is asserted (element index and key); otherwise whatever parses must be a consistent
//! cluster. Seeds: proptest reads PROPTEST_CASES, PROPTEST_RNG_SEED, ... from the environment
//! and prints the seed and the minimal failing input on failure.

use dcf_runtime::config::{parse_change_member, parse_cluster, ClusterError, MemberConfig};
use dcf_runtime::consensus::ConfRole;
use proptest::prelude::*;
use proptest::sample::{select, subsequence, Index};
use serde_json::{json, Map, Value};

const ROLES: [(&str, ConfRole); 4] = [
    ("LEADER", ConfRole::Leader),
    ("FOLLOWER", ConfRole::Follower),
    ("LOGGER", ConfRole::Logger),
    ("PASSIVE", ConfRole::Passive),
];
const REQUIRED: [&str; 5] = ["stream_id", "node_id", "ip", "port", "role"];
const OPTIONAL: [&str; 3] = ["weight", "group", "priority"];

/// A valid member and how its element spells it.
#[derive(Clone, Debug)]
struct Spelled {
    member: MemberConfig,
    /// Which optional keys are written (the others take their defaults).
    written: [bool; 3],
    /// Keys and role names in lower case (they are case-insensitive).
    lower: bool,
}

impl Spelled {
    fn key(&self, k: &str) -> String {
        if self.lower {
            k.to_string()
        } else {
            k.to_uppercase()
        }
    }

    fn to_json(&self) -> Value {
        let m = &self.member;
        let role = ROLES.iter().find(|r| r.1 == m.role).unwrap().0;
        let role = if self.lower {
            role.to_lowercase()
        } else {
            role.to_string()
        };
        let mut o = Map::new();
        o.insert(self.key("stream_id"), json!(m.stream_id));
        o.insert(self.key("node_id"), json!(m.node_id));
        o.insert(self.key("ip"), json!(m.ip));
        o.insert(self.key("port"), json!(m.port));
        o.insert(self.key("role"), json!(role));
        let opt = [json!(m.weight), json!(m.group), json!(m.priority)];
        for (i, v) in opt.into_iter().enumerate() {
            if self.written[i] {
                o.insert(self.key(OPTIONAL[i]), v);
            }
        }
        Value::Object(o)
    }
}

/// A valid cluster: 1..=5 nodes at distinct addresses, each a member of 1..=3 streams.
fn cluster() -> impl Strategy<Value = Vec<Spelled>> {
    let ips = ["127.0.0.1", "10.1.2.3", "::1", "fe80::7", "192.168.0.254"];
    (
        subsequence((1u32..=255).collect::<Vec<_>>(), 1..=5),
        subsequence((1u32..=63).collect::<Vec<_>>(), 1..=3),
        1u16..=65000,
        select(ips.to_vec()),
    )
        .prop_flat_map(|(nodes, streams, base_port, ip)| {
            let n = nodes.len() * streams.len();
            (
                Just((nodes, streams, base_port, ip)),
                proptest::collection::vec(
                    (
                        0usize..4,
                        0u32..=255,
                        any::<u32>(),
                        any::<u64>(),
                        any::<[bool; 3]>(),
                        any::<bool>(),
                    ),
                    n,
                ),
            )
        })
        .prop_map(|((nodes, streams, base_port, ip), attrs)| {
            let mut out = Vec::new();
            let pairs = streams
                .iter()
                .flat_map(|s| nodes.iter().map(move |n| (*s, *n)));
            for ((stream_id, node_id), (role, weight, group, priority, written, lower)) in
                pairs.zip(attrs)
            {
                let member = MemberConfig {
                    stream_id,
                    node_id,
                    ip: ip.to_string(),
                    port: base_port + node_id as u16,
                    role: ROLES[role].1,
                    weight: if written[0] { weight } else { 1 },
                    group: if written[1] { group } else { 0 },
                    priority: if written[2] { priority } else { 0 },
                };
                out.push(Spelled {
                    member,
                    written,
                    lower,
                });
            }
            out
        })
        .prop_shuffle()
}

fn doc(c: &[Spelled]) -> Vec<Value> {
    c.iter().map(Spelled::to_json).collect()
}

fn members(c: &[Spelled]) -> Vec<MemberConfig> {
    c.iter().map(|s| s.member.clone()).collect()
}

/// Values no key accepts where it stands (each key has its own range; these are out of all).
fn bad_value(key: &str) -> impl Strategy<Value = Value> {
    let out_of_range = match key {
        "stream_id" => vec![json!(0), json!(64)],
        "node_id" => vec![json!(0), json!(256)],
        "port" => vec![json!(0), json!(65536)],
        "weight" => vec![json!(256)],
        "group" => vec![json!(1u64 << 32)],
        "ip" => vec![
            json!("10.0.0.256"),
            json!(""),
            json!("localhost"),
            json!("1.2.3"),
        ],
        "role" => vec![json!("BOSS"), json!(""), json!("LEADERS")],
        _ => vec![],
    };
    let mut all = vec![
        json!(null),
        json!(true),
        json!(-1),
        json!(1.5),
        json!([1]),
        json!({"a": 1}),
    ];
    if key != "ip" && key != "role" {
        all.push(json!("5"));
    } else {
        all.push(json!(5));
    }
    all.extend(out_of_range);
    select(all)
}

/// Every member is within range and the cluster is consistent: no (stream, node) twice, one
/// address per node, no address shared by two nodes.
fn consistent(ms: &[MemberConfig]) -> Result<(), TestCaseError> {
    use std::collections::HashMap;
    let mut addr_of = HashMap::new();
    let mut node_at = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for m in ms {
        prop_assert!((1..=63).contains(&m.stream_id) && (1..=255).contains(&m.node_id));
        prop_assert!(m.port > 0 && m.weight <= 255);
        let ip: std::net::IpAddr = m.ip.parse().map_err(|_| TestCaseError::fail("bad ip"))?;
        prop_assert!(seen.insert((m.stream_id, m.node_id)));
        prop_assert_eq!(
            *addr_of.entry(m.node_id).or_insert((ip, m.port)),
            (ip, m.port)
        );
        prop_assert_eq!(*node_at.entry((ip, m.port)).or_insert(m.node_id), m.node_id);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_valid_cluster_parses_to_exactly_its_members(c in cluster(), unknown in any::<bool>()) {
        let mut d = doc(&c);
        if unknown {
            // CM's configs carry keys of their own; they are ignored.
            for e in &mut d {
                e.as_object_mut().unwrap().insert("cm_extra".into(), json!({"x": [1, 2]}));
            }
        }
        let text = serde_json::to_string_pretty(&Value::Array(d)).unwrap();
        prop_assert_eq!(parse_cluster(&text), Ok(members(&c)));
    }

    #[test]
    fn a_missing_required_key_names_its_element(c in cluster(), at in any::<Index>(), key in select(REQUIRED.to_vec())) {
        let mut d = doc(&c);
        let i = at.index(d.len());
        let k = c[i].key(key);
        d[i].as_object_mut().unwrap().remove(&k);
        let got = parse_cluster(&Value::Array(d).to_string());
        prop_assert_eq!(got, Err(ClusterError::Missing { index: i, key }));
    }

    #[test]
    fn a_missing_optional_key_takes_its_default(c in cluster(), at in any::<Index>(), which in 0usize..3) {
        let mut c = c;
        let i = at.index(c.len());
        c[i].written[which] = false;
        match which {
            0 => c[i].member.weight = 1,
            1 => c[i].member.group = 0,
            _ => c[i].member.priority = 0,
        }
        prop_assert_eq!(parse_cluster(&Value::Array(doc(&c)).to_string()), Ok(members(&c)));
    }

    #[test]
    fn a_bad_value_names_its_element_and_key(
        (c, key, v) in cluster().prop_flat_map(|c| {
            let keys: Vec<&'static str> = REQUIRED.iter().chain(OPTIONAL.iter()).copied().collect();
            (Just(c), select(keys)).prop_flat_map(|(c, key)| (Just(c), Just(key), bad_value(key)))
        }),
        at in any::<Index>(),
    ) {
        let mut d = doc(&c);
        let i = at.index(d.len());
        d[i].as_object_mut().unwrap().insert(c[i].key(key), v);
        match parse_cluster(&Value::Array(d).to_string()) {
            Err(ClusterError::BadValue { index, key: k, .. }) => {
                prop_assert_eq!((index, k), (i, key));
            }
            other => prop_assert!(false, "expected a bad value at element {i} key {key}, got {other:?}"),
        }
    }

    #[test]
    fn a_key_given_twice_in_two_cases_is_refused(c in cluster(), at in any::<Index>(),
                                                 key in select(REQUIRED.iter().chain(OPTIONAL.iter()).copied().collect::<Vec<_>>())) {
        let mut d = doc(&c);
        let i = at.index(d.len());
        // Upper case and mixed case: at least two spellings whatever the element had.
        let o = d[i].as_object_mut().unwrap();
        let v = o.get(&c[i].key(key)).cloned().unwrap_or(json!(1));
        o.insert(key.to_uppercase(), v.clone());
        o.insert(format!("{}{}", &key[..1], key[1..].to_uppercase()), v);
        let got = parse_cluster(&Value::Array(d).to_string());
        prop_assert_eq!(got, Err(ClusterError::DuplicateKey { index: i, key }));
    }

    #[test]
    fn a_repeated_element_is_refused(c in cluster(), at in any::<Index>()) {
        let mut d = doc(&c);
        let i = at.index(d.len());
        d.push(d[i].clone());
        let got = parse_cluster(&Value::Array(d).to_string());
        prop_assert_eq!(got, Err(ClusterError::DuplicateMember {
            index: c.len(),
            first: i,
            stream_id: c[i].member.stream_id,
            node_id: c[i].member.node_id,
        }));
    }

    #[test]
    fn a_node_moved_or_an_address_taken_is_refused(c in cluster(), at in any::<Index>(), port in 1u16..=65535) {
        let mut c = c;
        let i = at.index(c.len());
        let old = c[i].member.port;
        c[i].member.port = port;
        let got = parse_cluster(&Value::Array(doc(&c)).to_string());
        let same_node_elsewhere = c.iter().enumerate().any(|(j, s)| j != i && s.member.node_id == c[i].member.node_id);
        let taken = c.iter().any(|s| s.member.node_id != c[i].member.node_id && s.member.port == port);
        if port == old {
            prop_assert_eq!(got, Ok(members(&c)));
        } else if same_node_elsewhere || taken {
            prop_assert!(matches!(got, Err(ClusterError::AddressConflict { .. } | ClusterError::SharedAddress { .. })), "{got:?}");
        } else {
            prop_assert_eq!(got, Ok(members(&c)));
        }
    }

    /// One character deleted, or one of JSON's punctuation inserted, anywhere in the text.
    #[test]
    fn one_character_off(c in cluster(), at in any::<Index>(), insert in proptest::option::of(select(vec!['{', '}', '[', ']', ',', ':', '"', '-', '0', 'e', '.']))) {
        let mut text = Value::Array(doc(&c)).to_string();
        let i = at.index(text.len());
        match insert {
            Some(ch) => text.insert(i, ch),
            None => { text.remove(i); }
        }
        if let Ok(ms) = parse_cluster(&text) {
            consistent(&ms)?;
        }
        if let Ok(m) = parse_change_member(&text) {
            prop_assert!((1..=63).contains(&m.stream_id) && (1..=255).contains(&m.node_id));
        }
    }

    #[test]
    fn change_member_documents(c in cluster(), group in proptest::option::of(any::<u32>()),
                               priority in proptest::option::of(any::<u64>()),
                               role in proptest::option::of(0usize..4), extra in 0usize..3) {
        let m = &c[0].member;
        let mut o = Map::new();
        o.insert("STREAM_ID".into(), json!(m.stream_id));
        o.insert("node_id".into(), json!(m.node_id));
        if let Some(g) = group { o.insert("group".into(), json!(g)); }
        if let Some(p) = priority { o.insert("Priority".into(), json!(p)); }
        if let Some(r) = role { o.insert("role".into(), json!(ROLES[r].0)); }
        let mut d = vec![Value::Object(o)];
        for _ in 0..extra { d.push(d[0].clone()); }
        let got = parse_change_member(&Value::Array(d).to_string());
        if extra > 0 {
            prop_assert_eq!(got, Err(ClusterError::NotOne { count: extra + 1 }));
        } else if matches!(role, Some(0) | Some(2)) {
            // Only FOLLOWER or PASSIVE can be given to a member.
            prop_assert!(matches!(got, Err(ClusterError::BadValue { index: 0, key: "role", .. })), "{got:?}");
        } else {
            let got = got.unwrap();
            prop_assert_eq!((got.stream_id, got.node_id, got.group, got.priority), (m.stream_id, m.node_id, group, priority));
            prop_assert_eq!(got.role, role.map(|r| ROLES[r].1));
        }
    }
}

#[test]
fn not_an_array_or_empty() {
    assert!(matches!(
        parse_cluster(r#"{"stream_id":1}"#),
        Err(ClusterError::NotArray { .. })
    ));
    assert_eq!(parse_cluster("[]"), Err(ClusterError::Empty));
    assert_eq!(parse_change_member("[]"), Err(ClusterError::Empty));
    assert!(matches!(
        parse_cluster("[1]"),
        Err(ClusterError::NotObject { index: 0, .. })
    ));
}
