//! The cluster JSON of dcf_start and the change document of dcf_change_member.

use dcf_runtime::config::{parse_change_member, parse_cluster, ClusterError, MemberChange};
use dcf_runtime::consensus::ConfRole;

const THREE: &str = r#"[
  {"stream_id":1,"node_id":1,"ip":"10.0.0.1","port":17001,"role":"LEADER"},
  {"stream_id":1,"node_id":2,"ip":"10.0.0.2","port":17001,"role":"FOLLOWER","group":1,"priority":10},
  {"stream_id":1,"node_id":3,"ip":"10.0.0.3","port":17001,"role":"follower","weight":2}
]"#;

fn err(json: &str) -> String {
    parse_cluster(json).unwrap_err().to_string()
}

#[test]
fn three_node_cluster() {
    let m = parse_cluster(THREE).unwrap();
    assert_eq!(m.len(), 3);
    assert_eq!(m[0].role, ConfRole::Leader);
    assert_eq!((m[0].weight, m[0].group, m[0].priority), (1, 0, 0));
    assert_eq!((m[1].group, m[1].priority), (1, 10));
    assert_eq!(m[2].role, ConfRole::Follower);
    assert_eq!(m[2].weight, 2);
    assert_eq!(m[2].ip, "10.0.0.3");
    assert_eq!(m[2].port, 17001);
}

#[test]
fn keys_are_case_insensitive_and_unknown_keys_ignored() {
    let json = r#"[{"STREAM_ID":1,"Node_Id":4,"IP":"::1","Port":9,"Role":"Logger","Weight":3,"comment":"x"}]"#;
    let m = parse_cluster(json).unwrap();
    assert_eq!(m[0].node_id, 4);
    assert_eq!(m[0].ip, "::1");
    assert_eq!(m[0].role, ConfRole::Logger);
    assert_eq!(m[0].weight, 3);
}

#[test]
fn several_streams_share_node_addresses() {
    let json = r#"[
      {"stream_id":1,"node_id":1,"ip":"127.0.0.1","port":5001,"role":"LEADER"},
      {"stream_id":2,"node_id":1,"ip":"127.0.0.1","port":5001,"role":"PASSIVE"},
      {"stream_id":2,"node_id":2,"ip":"127.0.0.1","port":5002,"role":"LEADER"}
    ]"#;
    let m = parse_cluster(json).unwrap();
    assert_eq!(m[1].role, ConfRole::Passive);
}

#[test]
fn malformed_json() {
    assert!(matches!(
        parse_cluster("[{\"stream_id\":1,"),
        Err(ClusterError::Json { .. })
    ));
    assert!(matches!(parse_cluster(""), Err(ClusterError::Json { .. })));
    assert!(matches!(
        parse_cluster("{\"stream_id\":1}"),
        Err(ClusterError::NotArray { .. })
    ));
    assert_eq!(parse_cluster("[]"), Err(ClusterError::Empty));
    assert_eq!(err("[1]"), "element 0: expected an object, got 1");
    // Deep nesting is refused by serde_json's recursion limit, not a stack overflow.
    let deep = "[".repeat(100_000);
    assert!(parse_cluster(&deep).is_err());
}

#[test]
fn wrong_types_and_ranges_say_where() {
    let base = |port: &str| {
        format!(
            r#"[{{"stream_id":1,"node_id":1,"ip":"10.0.0.1","port":1,"role":"LEADER"}},
                {{"stream_id":1,"node_id":2,"ip":"10.0.0.2","port":1,"role":"LEADER"}},
                {{"stream_id":1,"node_id":3,"ip":"10.0.0.3","port":{port},"role":"LEADER"}}]"#
        )
    };
    assert_eq!(
        err(&base("\"abc\"")),
        "element 2: key \"port\": expected a number 1..65535, got \"abc\""
    );
    assert!(err(&base("0")).contains("element 2: key \"port\""));
    assert!(err(&base("65536")).contains("got 65536"));
    assert!(err(&base("1.5")).contains("got 1.5"));
    assert!(err(&base("-1")).contains("got -1"));

    let one = |kv: &str| {
        format!(r#"[{{"stream_id":1,"node_id":1,"ip":"10.0.0.1","port":1,"role":"LEADER",{kv}}}]"#)
    };
    assert!(err(&one(r#""weight":256"#)).contains("key \"weight\""));
    assert!(err(&one(r#""group":-1"#)).contains("key \"group\""));
    assert!(err(&one(r#""priority":"high""#)).contains("key \"priority\""));
    assert!(err(&one(r#""PORT":2"#)).contains("given more than once"));

    let ids = |s: &str, n: &str| {
        format!(r#"[{{"stream_id":{s},"node_id":{n},"ip":"10.0.0.1","port":1,"role":"LEADER"}}]"#)
    };
    assert!(err(&ids("0", "1")).contains("key \"stream_id\": expected a number 1..63, got 0"));
    assert!(err(&ids("64", "1")).contains("stream_id"));
    assert!(err(&ids("1", "0")).contains("key \"node_id\": expected a number 1..255, got 0"));
    assert!(err(&ids("1", "256")).contains("node_id"));
    assert!(err(&ids("\"1\"", "1")).contains("stream_id"));
}

#[test]
fn ip_must_be_an_address_literal() {
    for ip in [
        "localhost",
        "10.0.0",
        "10.0.0.256",
        "[::1]",
        "",
        "1.2.3.4:5",
    ] {
        let json =
            format!(r#"[{{"stream_id":1,"node_id":1,"ip":"{ip}","port":1,"role":"LEADER"}}]"#);
        let e = err(&json);
        assert!(
            e.contains("key \"ip\": expected an IPv4 or IPv6 address"),
            "{ip}: {e}"
        );
    }
    let json = r#"[{"stream_id":1,"node_id":1,"ip":7,"port":1,"role":"LEADER"}]"#;
    assert!(err(json).contains("key \"ip\""));
}

#[test]
fn missing_keys() {
    for key in ["stream_id", "node_id", "ip", "port", "role"] {
        let all = [
            ("stream_id", "1"),
            ("node_id", "1"),
            ("ip", "\"10.0.0.1\""),
            ("port", "1"),
            ("role", "\"LEADER\""),
        ];
        let fields: Vec<String> = all
            .iter()
            .filter(|(k, _)| *k != key)
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect();
        let json = format!("[{{{}}}]", fields.join(","));
        assert_eq!(err(&json), format!("element 0: missing key \"{key}\""));
    }
}

#[test]
fn bad_roles() {
    for role in ["\"CANDIDATE\"", "\"\"", "1", "null", "\"LEADERS\""] {
        let json =
            format!(r#"[{{"stream_id":1,"node_id":1,"ip":"10.0.0.1","port":1,"role":{role}}}]"#);
        assert!(
            err(&json).contains("key \"role\": expected LEADER, FOLLOWER, LOGGER or PASSIVE"),
            "{role}"
        );
    }
}

#[test]
fn duplicates_and_address_conflicts() {
    let dup = r#"[{"stream_id":1,"node_id":1,"ip":"10.0.0.1","port":1,"role":"LEADER"},
                  {"stream_id":1,"node_id":1,"ip":"10.0.0.1","port":1,"role":"FOLLOWER"}]"#;
    assert_eq!(
        parse_cluster(dup),
        Err(ClusterError::DuplicateMember {
            index: 1,
            first: 0,
            stream_id: 1,
            node_id: 1
        })
    );
    let moved = r#"[{"stream_id":1,"node_id":1,"ip":"10.0.0.1","port":1,"role":"LEADER"},
                    {"stream_id":2,"node_id":1,"ip":"10.0.0.1","port":2,"role":"LEADER"}]"#;
    assert!(err(moved).contains("node 1 is at 10.0.0.1:2, but element 0 puts it at 10.0.0.1:1"));
    let shared = r#"[{"stream_id":1,"node_id":1,"ip":"10.0.0.1","port":1,"role":"LEADER"},
                     {"stream_id":1,"node_id":2,"ip":"10.0.0.1","port":1,"role":"FOLLOWER"}]"#;
    assert!(err(shared).contains("which element 0 gives to node 1"));
}

#[test]
fn change_member_with_whitespace() {
    let c =
        parse_change_member("[{\"stream_id\":1, \"node_id\":2, \"role\":\"PASSIVE\"}]").unwrap();
    assert_eq!(
        c,
        MemberChange {
            stream_id: 1,
            node_id: 2,
            group: None,
            priority: None,
            role: Some(ConfRole::Passive)
        }
    );
    let c =
        parse_change_member(r#"[{"stream_id":1,"node_id":3,"group":2,"priority":99}]"#).unwrap();
    assert_eq!((c.group, c.priority, c.role), (Some(2), Some(99), None));
    let c = parse_change_member(r#"[{"Stream_Id":1,"NODE_ID":3,"role":"follower"}]"#).unwrap();
    assert_eq!(c.role, Some(ConfRole::Follower));
}

#[test]
fn change_member_errors() {
    let e = |s: &str| parse_change_member(s).unwrap_err();
    assert_eq!(e("[]"), ClusterError::Empty);
    assert_eq!(
        e(r#"[{"stream_id":1,"node_id":2},{"stream_id":1,"node_id":3}]"#),
        ClusterError::NotOne { count: 2 }
    );
    for role in ["LEADER", "LOGGER", "nobody"] {
        let json = format!(r#"[{{"stream_id":1,"node_id":2,"role":"{role}"}}]"#);
        assert!(
            e(&json)
                .to_string()
                .contains("expected FOLLOWER or PASSIVE"),
            "{role}"
        );
    }
    assert!(matches!(
        e(r#"[{"node_id":2}]"#),
        ClusterError::Missing {
            key: "stream_id",
            ..
        }
    ));
    assert!(matches!(
        e(r#"[{"stream_id":1}]"#),
        ClusterError::Missing { key: "node_id", .. }
    ));
    assert!(matches!(e("[{\"stream_id\":1,"), ClusterError::Json { .. }));
    assert!(matches!(e("\"x\""), ClusterError::NotArray { .. }));
}
