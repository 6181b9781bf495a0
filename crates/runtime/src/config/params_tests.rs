//! Every parameter: default via get, a valid set + get round trip, an invalid value.

use super::*;
use std::time::Duration;

/// (name, valid value, get after setting it, an invalid value)
const CASES: &[(&str, &str, &str, &str)] = &[
    ("ELECTION_TIMEOUT", "5", "5000", "601"),
    ("HEARTBEAT_INTERVAL", "500", "500", "9"),
    ("AUTO_ELC_PRIORITY_EN", "0", "0", "on"),
    ("ELECTION_SWITCH_THRESHOLD", "7", "7", "4294967296"),
    ("RUN_MODE", "2", "2", "3"),
    ("INSTANCE_NAME", "dn_6001", "dn_6001", LONG_64),
    ("DATA_PATH", "/data/dcf", "/data/dcf", LONG_184),
    ("LOG_PATH", "/data/log", "/data/log", LONG_164),
    ("LOG_LEVEL", "RUN_ERR|run_war|OPER", "259", "RUN_ERR|BOGUS"),
    ("LOG_FILENAME_FORMAT", "1", "1", "2"),
    ("LOG_BACKUP_FILE_COUNT", "100", "100", "0"),
    ("MAX_LOG_FILE_SIZE", "1", "1048576", "1001"),
    ("LOG_FILE_PERMISSION", "640", "640", "644"),
    ("LOG_PATH_PERMISSION", "750", "750", "755"),
    ("LOG_SUPPRESS_ENABLE", "1", "1", "2"),
    ("MEC_AGENT_THREAD_NUM", "1000", "1000", "1001"),
    ("MEC_REACTOR_THREAD_NUM", "100", "100", "0"),
    ("MEC_CHANNEL_NUM", "64", "64", "65"),
    ("MEC_POOL_MAX_SIZE", "200", "209715200", "31"),
    ("MEM_POOL_INIT_SIZE", "64", "67108864", "31"),
    ("MEM_POOL_MAX_SIZE", "2048", "2147483648", "2147483648"),
    ("STG_POOL_INIT_SIZE", "33", "34603008", "0"),
    ("STG_POOL_MAX_SIZE", "2048", "2147483648", "16"),
    ("COMPRESS_ALGORITHM", "2", "2", "3"),
    ("COMPRESS_LEVEL", "22", "22", "23"),
    ("SOCKET_TIMEOUT", "10", "10", "9"),
    ("CONNECT_TIMEOUT", "600000", "600000", "600001"),
    ("REP_APPEND_THREAD_NUM", "4", "4", "0"),
    ("MEC_FRAGMENT_SIZE", "32", "32768", "31"),
    ("MEC_BATCH_SIZE", "1024", "1024", "1025"),
    ("FLOW_CONTROL_CPU_THRESHOLD", "80", "80", "80%"),
    (
        "FLOW_CONTROL_NET_QUEUE_MESSAGE_NUM_THRESHOLD",
        "4096",
        "4096",
        "",
    ),
    (
        "FLOW_CONTROL_DISK_RAWAIT_THRESHOLD",
        "4294967295",
        "4294967295",
        "4294967296",
    ),
    ("SSL_CA", "/etc/ssl/ca.pem", "/etc/ssl/ca.pem", LONG_256),
    ("SSL_KEY", "/etc/ssl/key.pem", "/etc/ssl/key.pem", LONG_256),
    (
        "SSL_CERT",
        "/etc/ssl/cert.pem",
        "/etc/ssl/cert.pem",
        LONG_256,
    ),
    ("SSL_CRL", "/etc/ssl/crl.pem", "/etc/ssl/crl.pem", LONG_256),
    (
        "SSL_CIPHER",
        "ECDHE-RSA-AES128-GCM-SHA256:",
        "ECDHE-RSA-AES128-GCM-SHA256:",
        LONG_1024,
    ),
    ("SSL_PWD_CIPHERTEXT", "c2VjcmV0", "c2VjcmV0", LONG_512),
    ("SSL_CERT_NOTIFY_TIME", "180", "180", "6"),
    ("DATA_FILE_SIZE", "10", "10485760", "2049"),
    ("DN_FLOW_CONTROL_RTO", "60", "60", " 60"),
    ("DN_FLOW_CONTROL_RPO", "3600", "3600", "1.5"),
    ("MAJORITY_GROUPS", "1,2,2, 3", "1,2,3", "1,,2"),
];

const LONG_64: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const LONG_164: &str = concat!(
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
);
const LONG_184: &str = concat!(
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
);
const LONG_256: &str = concat!(
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
);
const LONG_512: &str = concat!(
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
);
const LONG_1024: &str = concat!(
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
);

#[test]
fn long_constants_have_the_intended_lengths() {
    let lens = [
        LONG_64.len(),
        LONG_164.len(),
        LONG_184.len(),
        LONG_256.len(),
        LONG_512.len(),
        LONG_1024.len(),
    ];
    assert_eq!(lens, [64, 164, 184, 256, 512, 1024]);
}

#[test]
fn every_parameter_default_set_get_and_invalid() {
    for &(name, valid, expected, invalid) in CASES {
        let mut p = Params::default();
        let def = param_def(name).unwrap_or_else(|| panic!("{name} missing from the table"));
        assert_eq!(p.get(name).as_deref(), Ok(def.default), "{name}: default");
        p.set(name, valid)
            .unwrap_or_else(|e| panic!("{name}={valid:?} rejected: {e}"));
        assert_eq!(p.get(name).as_deref(), Ok(expected), "{name}: round trip");
        let before = p.clone();
        let err = p.set(name, invalid).expect_err(name);
        assert!(err.to_string().contains(name), "{name}: message {err}");
        assert_eq!(p, before, "{name}: a failed set changed something");
    }
}

#[test]
fn the_cases_cover_the_whole_table() {
    for def in param_defs() {
        let covered = CASES.iter().any(|c| c.0 == def.name) || def.name == "SSL_PWD_PLAINTEXT";
        assert!(covered, "{} has no test case", def.name);
    }
    // SPEC B2 names openGauss sends.
    for name in [
        "DATA_PATH",
        "LOG_PATH",
        "LOG_LEVEL",
        "MAJORITY_GROUPS",
        "LOG_FILENAME_FORMAT",
        "ELECTION_TIMEOUT",
        "AUTO_ELC_PRIORITY_EN",
        "ELECTION_SWITCH_THRESHOLD",
        "RUN_MODE",
        "MAX_LOG_FILE_SIZE",
        "FLOW_CONTROL_CPU_THRESHOLD",
        "FLOW_CONTROL_NET_QUEUE_MESSAGE_NUM_THRESHOLD",
        "FLOW_CONTROL_DISK_RAWAIT_THRESHOLD",
        "LOG_BACKUP_FILE_COUNT",
        "LOG_FILE_PERMISSION",
        "LOG_PATH_PERMISSION",
        "MEC_AGENT_THREAD_NUM",
        "MEC_REACTOR_THREAD_NUM",
        "MEC_CHANNEL_NUM",
        "MEM_POOL_INIT_SIZE",
        "MEM_POOL_MAX_SIZE",
        "COMPRESS_ALGORITHM",
        "COMPRESS_LEVEL",
        "SOCKET_TIMEOUT",
        "CONNECT_TIMEOUT",
        "REP_APPEND_THREAD_NUM",
        "MEC_FRAGMENT_SIZE",
        "STG_POOL_INIT_SIZE",
        "STG_POOL_MAX_SIZE",
        "MEC_POOL_MAX_SIZE",
        "MEC_BATCH_SIZE",
        "DN_FLOW_CONTROL_RTO",
        "DN_FLOW_CONTROL_RPO",
        "SSL_PWD_PLAINTEXT",
        "SSL_CA",
        "SSL_KEY",
        "SSL_CRL",
        "SSL_CERT",
        "SSL_CERT_NOTIFY_TIME",
        "SSL_CIPHER",
    ] {
        assert!(param_def(name).is_some(), "{name}");
    }
}

#[test]
fn unknown_and_case_mismatched_names_are_errors() {
    let mut p = Params::default();
    for name in ["NO_SUCH", "election_timeout", "", "MAX_AUDIT_FILE_SIZE"] {
        let want = ParamError::UnknownParam {
            name: name.to_string(),
        };
        assert_eq!(p.set(name, "1"), Err(want.clone()));
        assert_eq!(p.get(name), Err(want));
    }
}

#[test]
fn numbers_are_plain_decimal_digits() {
    let mut p = Params::default();
    for bad in ["", " 5", "5 ", "+5", "-5", "0x10", "5s", "1e3"] {
        assert!(
            matches!(
                p.set("ELECTION_TIMEOUT", bad),
                Err(ParamError::NotANumber { .. })
            ),
            "{bad:?}"
        );
    }
    assert_eq!(p.set("ELECTION_TIMEOUT", "007"), Ok(()));
    assert_eq!(p.election_timeout, Duration::from_secs(7));
    // Beyond u64 is out of range, not a crash.
    let huge = "99999999999999999999999999";
    assert!(matches!(
        p.set("ELECTION_TIMEOUT", huge),
        Err(ParamError::OutOfRange { .. })
    ));
}

#[test]
fn out_of_range_message_names_parameter_value_and_range() {
    let mut p = Params::default();
    let err = p.set("ELECTION_TIMEOUT", "601").unwrap_err();
    assert_eq!(
        err,
        ParamError::OutOfRange {
            name: "ELECTION_TIMEOUT",
            value: "601".into(),
            min: 1,
            max: 600
        }
    );
    assert_eq!(
        err.to_string(),
        "parameter ELECTION_TIMEOUT: value \"601\" is out of range 1..=600"
    );
}

#[test]
fn election_timeout_sets_heartbeat_to_a_third() {
    let mut p = Params::default();
    p.set("ELECTION_TIMEOUT", "1").unwrap();
    assert_eq!(p.get("ELECTION_TIMEOUT").unwrap(), "1000");
    assert_eq!(p.get("HEARTBEAT_INTERVAL").unwrap(), "333");
    // Heartbeat may be tuned afterwards, up to half the election timeout.
    p.set("HEARTBEAT_INTERVAL", "500").unwrap();
    let err = p.set("HEARTBEAT_INTERVAL", "501").unwrap_err();
    assert!(
        matches!(err, ParamError::OutOfRange { max: 500, .. }),
        "{err}"
    );
    p.set("ELECTION_TIMEOUT", "6").unwrap();
    assert_eq!(p.heartbeat_interval, Duration::from_millis(2000));
}

#[test]
fn plaintext_password_is_copied_masked_and_write_only() {
    let mut p = Params::default();
    let mut buf = String::from("s3cret-pass");
    p.set("SSL_PWD_PLAINTEXT", &buf).unwrap();
    // openGauss wipes its buffer right after the call.
    buf.clear();
    buf.push_str("xxxxxxxxxxx");
    assert_eq!(
        p.ssl_pwd_plaintext.as_ref().map(Secret::expose),
        Some(&b"s3cret-pass"[..])
    );
    assert_eq!(
        p.get("SSL_PWD_PLAINTEXT"),
        Err(ParamError::WriteOnly {
            name: "SSL_PWD_PLAINTEXT"
        })
    );
    assert!(!format!("{p:?}").contains("s3cret"));
    p.set("SSL_PWD_PLAINTEXT", "other").unwrap();
    assert_eq!(
        p.ssl_pwd_plaintext.as_ref().map(Secret::expose),
        Some(&b"other"[..])
    );
    let too_long = "p".repeat(65);
    let err = p.set("SSL_PWD_PLAINTEXT", &too_long).unwrap_err();
    assert!(!err.to_string().contains("ppp"), "{err}");
}

#[test]
fn plaintext_and_ciphertext_exclude_each_other() {
    let mut p = Params::default();
    p.set("SSL_PWD_PLAINTEXT", "pw").unwrap();
    assert!(matches!(
        p.set("SSL_PWD_CIPHERTEXT", "abc"),
        Err(ParamError::Conflict { .. })
    ));
    let mut p = Params::default();
    p.set("SSL_PWD_CIPHERTEXT", "abc").unwrap();
    assert!(matches!(
        p.set("SSL_PWD_PLAINTEXT", "pw"),
        Err(ParamError::Conflict { .. })
    ));
    assert!(p.ssl_pwd_plaintext.is_none());
}

#[test]
fn log_level_forms() {
    let mut p = Params::default();
    p.set("LOG_LEVEL", "NONE").unwrap();
    assert_eq!(p.log_level, 0);
    p.set("LOG_LEVEL", "").unwrap();
    assert_eq!(p.log_level, 1303);
    p.set(
        "LOG_LEVEL",
        "RUN_ERR|RUN_WAR|DEBUG_ERR|OPER|RUN_INF|PROFILE",
    )
    .unwrap();
    assert_eq!(p.get("LOG_LEVEL").unwrap(), "1303");
    p.set("LOG_LEVEL", " trace | mec ").unwrap();
    assert_eq!(p.log_level, 0x280);
    // What get returns can be set again.
    p.set("LOG_LEVEL", "2039").unwrap();
    assert_eq!(p.log_level, 0x7F7);
    assert!(p.set("LOG_LEVEL", "8").is_err());
    assert!(p.set("LOG_LEVEL", "RUN_ERR||OPER").is_err());
}

#[test]
fn majority_groups_parse_and_dedup() {
    let mut p = Params::default();
    p.set("MAJORITY_GROUPS", "3,1,3").unwrap();
    assert_eq!(p.majority_groups, vec![3, 1]);
    p.set("MAJORITY_GROUPS", "").unwrap();
    assert!(p.majority_groups.is_empty());
    // Far more items than DCF's fixed arrays held.
    let many: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    p.set("MAJORITY_GROUPS", &many.join(",")).unwrap();
    assert_eq!(p.majority_groups.len(), 200);
    for bad in ["1,a", "4294967296", "1;2", ",1"] {
        assert!(p.set("MAJORITY_GROUPS", bad).is_err(), "{bad}");
    }
    assert!(p.set("MAJORITY_GROUPS", &"1,".repeat(512)).is_err());
}

#[test]
fn derived_values() {
    let mut p = Params::default();
    assert_eq!(p.effective_log_path(), None);
    p.set("DATA_PATH", "/d").unwrap();
    assert_eq!(p.effective_log_path(), Some("/d".into()));
    p.set("LOG_PATH", "/l").unwrap();
    assert_eq!(p.effective_log_path(), Some("/l".into()));
    p.set("COMPRESS_LEVEL", "15").unwrap();
    p.set("COMPRESS_ALGORITHM", "2").unwrap();
    assert_eq!(p.effective_compress_level(), 9);
    assert_eq!(p.max_write_size(), 64 * 1024 * 1024);
    assert!(!p.ssl_enabled());
    for n in ["SSL_CA", "SSL_KEY", "SSL_CERT"] {
        p.set(n, "/x").unwrap();
    }
    assert!(p.ssl_enabled());
}

#[test]
fn global_store_is_shared_and_thread_safe() {
    // Only this test touches the global store in this binary.
    reset();
    set_param("DN_FLOW_CONTROL_RTO", "60").unwrap();
    assert_eq!(get_param("DN_FLOW_CONTROL_RTO").unwrap(), "60");
    let handles: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..200u32 {
                    let v = (t * 1000 + i).to_string();
                    set_param("DN_FLOW_CONTROL_RPO", &v).unwrap();
                    let got: u32 = get_param("DN_FLOW_CONTROL_RPO").unwrap().parse().unwrap();
                    assert!(got < 4000);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(snapshot().dn_flow_control_rto, 60);
    assert!(set_param("DN_FLOW_CONTROL_RTO", "x").is_err());
    assert_eq!(get_param("DN_FLOW_CONTROL_RTO").unwrap(), "60");
    reset();
    assert_eq!(get_param("DN_FLOW_CONTROL_RTO").unwrap(), "0");
}

#[test]
fn log_config_from_params() {
    let mut p = Params::default();
    let c = p.log_config();
    assert_eq!(c.path, None);
    assert_eq!((c.file_permission, c.path_permission), (0o600, 0o700));
    assert_eq!((c.max_file_size, c.backup_count), (10 << 20, 10));
    assert!(matches!(
        crate::logging::Logger::open(&c),
        Err(crate::logging::LogError::NoPath)
    ));
    p.set("DATA_PATH", "/data").unwrap();
    p.set("LOG_FILE_PERMISSION", "640").unwrap();
    p.set("LOG_LEVEL", "NONE").unwrap();
    let c = p.log_config();
    assert_eq!(c.path, Some(std::path::PathBuf::from("/data")));
    assert_eq!((c.file_permission, c.level_mask), (0o640, 0));
}
