//! Input from C and from files must never panic: arbitrary parameter values and JSON texts.
//! (config_cluster_props.rs generates cluster documents from valid ones.)

use dcf_runtime::config::{param_defs, parse_cluster, Params};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_value_for_any_parameter(idx in 0usize..64, value in ".{0,40}|[0-9|,A-Z_ ]{0,30}") {
        let defs = param_defs();
        let name = defs[idx % defs.len()].name;
        let mut p = Params::default();
        let before = p.clone();
        match p.set(name, &value) {
            // A failed set leaves everything as it was.
            Err(_) => prop_assert_eq!(&p, &before),
            // Whatever was accepted reads back (except the write-only password).
            Ok(()) if name != "SSL_PWD_PLAINTEXT" => prop_assert!(p.get(name).is_ok()),
            Ok(()) => {}
        }
    }

    #[test]
    fn structured_cluster_json(
        stream in -2i64..70, node in -2i64..300, port in -2i64..70000,
        role in "(?i)(leader|follower|logger|passive|other)",
        ip in "(10\\.0\\.0\\.[0-9]{1,3}|::[0-9a-f]{1,4}|[a-z.]{0,10})",
        weight in proptest::option::of(-1i64..300),
    ) {
        let weight = weight.map(|w| format!(",\"weight\":{w}")).unwrap_or_default();
        let json = format!(
            r#"[{{"stream_id":{stream},"node_id":{node},"ip":"{ip}","port":{port},"role":"{role}"{weight}}}]"#
        );
        if let Ok(members) = parse_cluster(&json) {
            let m = &members[0];
            prop_assert!((1..=63).contains(&m.stream_id) && (1..=255).contains(&m.node_id));
            prop_assert!(m.port > 0 && m.weight < 256);
            prop_assert!(m.ip.parse::<std::net::IpAddr>().is_ok());
        }
    }
}
