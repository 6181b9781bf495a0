//! The parameter table (SPEC Part C §2): name, set format and unit, get format, default,
//! range.
//!
//! Differences from DCF, on purpose:
//! - HEARTBEAT_INTERVAL can be set (ms, 10..=ELECTION_TIMEOUT/2); DCF refused it. Setting
//!   ELECTION_TIMEOUT still resets it to T/3, as openGauss relies on.
//! - SSL_PWD_PLAINTEXT cannot be read back (DCF returned cipher bytes).
//! - LOG_LEVEL also accepts the decimal mask that get returns.
//! - Numbers beyond u32 are OutOfRange errors; the C interface reports them with DCF's code
//!   for that case (107, see `ParamError::is_beyond_u32`).
//! - Changes are never refused while running (DCF never enforced is_dynamic either); which
//!   of them a running node notices is up to their readers (`config::apply_live`, the
//!   runtime), not recorded here.

use std::path::PathBuf;
use std::time::Duration;

use super::error::ParamError;
use super::params::{Compression, Params, RunMode, MB};

/// One parameter of `dcf_set_param` / `dcf_get_param`.
pub struct ParamDef {
    pub name: &'static str,
    /// What `set` takes: unit and accepted values.
    pub set_format: &'static str,
    /// What `get` returns (DCF's get units, which openGauss relies on).
    pub get_format: &'static str,
    /// What `get` returns before any set.
    pub default: &'static str,
    pub(crate) setter: Setter,
    /// `None` = write-only.
    pub(crate) render: fn(&Params) -> Option<String>,
}

pub(crate) enum Setter {
    Number {
        min: u64,
        max: u64,
        apply: fn(&mut Params, u64) -> Result<(), ParamError>,
    },
    OneOf {
        allowed: &'static [u32],
        text: &'static str,
        apply: fn(&mut Params, u32),
    },
    Text {
        max_len: usize,
        apply: fn(&mut Params, &str) -> Result<(), ParamError>,
    },
    LogLevel,
    Groups,
    Secret {
        max_len: usize,
    },
}

pub(crate) fn lookup(name: &str) -> Result<&'static ParamDef, ParamError> {
    PARAMS
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| ParamError::UnknownParam {
            name: name.to_string(),
        })
}

const U32: u64 = u32::MAX as u64;
const I32: u64 = i32::MAX as u64;

fn ms(d: Duration) -> Option<String> {
    Some(d.as_millis().to_string())
}

fn path(p: &std::path::Path) -> Option<String> {
    Some(p.to_string_lossy().into_owned())
}

pub(crate) static PARAMS: &[ParamDef] = &[
    ParamDef {
        name: "ELECTION_TIMEOUT",
        set_format: "seconds, 1..=600; also sets HEARTBEAT_INTERVAL to a third of it",
        get_format: "milliseconds",
        default: "3000",
        setter: Setter::Number {
            min: 1,
            max: 600,
            apply: |p, n| {
                p.election_timeout = Duration::from_secs(n);
                p.heartbeat_interval = Duration::from_millis(n * 1000 / 3);
                Ok(())
            },
        },
        render: |p| ms(p.election_timeout),
    },
    ParamDef {
        name: "HEARTBEAT_INTERVAL",
        set_format: "milliseconds, 10..=ELECTION_TIMEOUT/2 (not settable in DCF)",
        get_format: "milliseconds",
        default: "1000",
        setter: Setter::Number {
            min: 10,
            max: 300_000,
            apply: |p, n| {
                let max = (p.election_timeout.as_millis() / 2) as u64;
                if n > max {
                    return Err(ParamError::OutOfRange {
                        name: "HEARTBEAT_INTERVAL",
                        value: n.to_string(),
                        min: 10,
                        max,
                    });
                }
                p.heartbeat_interval = Duration::from_millis(n);
                Ok(())
            },
        },
        render: |p| ms(p.heartbeat_interval),
    },
    ParamDef {
        name: "AUTO_ELC_PRIORITY_EN",
        set_format: "0 = off, any other u32 = on",
        get_format: "0 or 1",
        default: "1",
        setter: Setter::Number {
            min: 0,
            max: U32,
            apply: |p, n| {
                p.auto_elc_priority_en = n != 0;
                Ok(())
            },
        },
        render: |p| Some(u8::from(p.auto_elc_priority_en).to_string()),
    },
    ParamDef {
        name: "ELECTION_SWITCH_THRESHOLD",
        set_format: "seconds, any u32",
        get_format: "seconds",
        default: "0",
        setter: Setter::Number {
            min: 0,
            max: U32,
            apply: |p, n| {
                p.election_switch_threshold = Duration::from_secs(n);
                Ok(())
            },
        },
        render: |p| Some(p.election_switch_threshold.as_secs().to_string()),
    },
    ParamDef {
        name: "RUN_MODE",
        set_format: "0 auto, 1 manual, 2 disable",
        get_format: "0, 1 or 2",
        default: "0",
        setter: Setter::OneOf {
            allowed: &[0, 1, 2],
            text: "0 (auto), 1 (manual), 2 (disable)",
            apply: |p, n| {
                p.run_mode = match n {
                    1 => RunMode::Manual,
                    2 => RunMode::Disable,
                    _ => RunMode::Auto,
                }
            },
        },
        render: |p| Some((p.run_mode as u32).to_string()),
    },
    ParamDef {
        name: "INSTANCE_NAME",
        set_format: "string, at most 63 bytes",
        get_format: "string",
        default: "",
        setter: Setter::Text {
            max_len: 63,
            apply: |p, v| {
                p.instance_name = v.to_string();
                Ok(())
            },
        },
        render: |p| Some(p.instance_name.clone()),
    },
    ParamDef {
        name: "DATA_PATH",
        set_format: "path, at most 183 bytes",
        get_format: "path",
        default: "",
        setter: Setter::Text {
            max_len: 183,
            apply: |p, v| {
                p.data_path = PathBuf::from(v);
                Ok(())
            },
        },
        render: |p| path(&p.data_path),
    },
    ParamDef {
        name: "LOG_PATH",
        set_format: "path, at most 163 bytes; empty = DATA_PATH",
        get_format: "path",
        default: "",
        setter: Setter::Text {
            max_len: 163,
            apply: |p, v| {
                p.log_path = PathBuf::from(v);
                Ok(())
            },
        },
        render: |p| path(&p.log_path),
    },
    ParamDef {
        name: "LOG_LEVEL",
        set_format: "tokens joined by '|' (RUN_ERR RUN_WAR RUN_INF DEBUG_ERR DEBUG_WAR DEBUG_INF MEC OPER TRACE PROFILE, any case), NONE, a decimal mask, or empty for the default",
        get_format: "decimal bit mask",
        default: "1303",
        setter: Setter::LogLevel,
        render: |p| Some(p.log_level.to_string()),
    },
    ParamDef {
        name: "LOG_FILENAME_FORMAT",
        set_format: "0 or 1",
        get_format: "0 or 1",
        default: "0",
        setter: Setter::Number {
            min: 0,
            max: 1,
            apply: |p, n| {
                p.log_filename_format = n as u32;
                Ok(())
            },
        },
        render: |p| Some(p.log_filename_format.to_string()),
    },
    ParamDef {
        name: "LOG_BACKUP_FILE_COUNT",
        set_format: "count, 1..=100",
        get_format: "count",
        default: "10",
        setter: Setter::Number {
            min: 1,
            max: 100,
            apply: |p, n| {
                p.log_backup_file_count = n as u32;
                Ok(())
            },
        },
        render: |p| Some(p.log_backup_file_count.to_string()),
    },
    ParamDef {
        name: "MAX_LOG_FILE_SIZE",
        set_format: "MB, 1..=1000",
        get_format: "bytes",
        default: "10485760",
        setter: Setter::Number {
            min: 1,
            max: 1000,
            apply: |p, n| {
                p.max_log_file_size = n * MB;
                Ok(())
            },
        },
        render: |p| Some(p.max_log_file_size.to_string()),
    },
    ParamDef {
        name: "LOG_FILE_PERMISSION",
        set_format: "600 or 640",
        get_format: "600 or 640",
        default: "600",
        setter: Setter::OneOf {
            allowed: &[600, 640],
            text: "600 or 640",
            apply: |p, n| p.log_file_permission = if n == 640 { 0o640 } else { 0o600 },
        },
        render: |p| Some(format!("{:o}", p.log_file_permission)),
    },
    ParamDef {
        name: "LOG_PATH_PERMISSION",
        set_format: "700 or 750",
        get_format: "700 or 750",
        default: "700",
        setter: Setter::OneOf {
            allowed: &[700, 750],
            text: "700 or 750",
            apply: |p, n| p.log_path_permission = if n == 750 { 0o750 } else { 0o700 },
        },
        render: |p| Some(format!("{:o}", p.log_path_permission)),
    },
    ParamDef {
        name: "LOG_SUPPRESS_ENABLE",
        set_format: "0 or 1",
        get_format: "0 or 1",
        default: "0",
        setter: Setter::Number {
            min: 0,
            max: 1,
            apply: |p, n| {
                p.log_suppress_enable = n == 1;
                Ok(())
            },
        },
        render: |p| Some(u8::from(p.log_suppress_enable).to_string()),
    },
    ParamDef {
        name: "MEC_AGENT_THREAD_NUM",
        set_format: "count, 1..=1000",
        get_format: "count",
        default: "10",
        setter: Setter::Number {
            min: 1,
            max: 1000,
            apply: |p, n| {
                p.mec_agent_thread_num = n as u32;
                Ok(())
            },
        },
        render: |p| Some(p.mec_agent_thread_num.to_string()),
    },
    ParamDef {
        name: "MEC_REACTOR_THREAD_NUM",
        set_format: "count, 1..=100",
        get_format: "count",
        default: "1",
        setter: Setter::Number {
            min: 1,
            max: 100,
            apply: |p, n| {
                p.mec_reactor_thread_num = n as u32;
                Ok(())
            },
        },
        render: |p| Some(p.mec_reactor_thread_num.to_string()),
    },
    ParamDef {
        name: "MEC_CHANNEL_NUM",
        set_format: "count, 1..=64",
        get_format: "count",
        default: "1",
        setter: Setter::Number {
            min: 1,
            max: 64,
            apply: |p, n| {
                p.mec_channel_num = n as u32;
                Ok(())
            },
        },
        render: |p| Some(p.mec_channel_num.to_string()),
    },
    ParamDef {
        name: "MEC_POOL_MAX_SIZE",
        set_format: "MB, 32..=2147483647",
        get_format: "bytes",
        default: "104857600",
        setter: Setter::Number {
            min: 32,
            max: I32,
            apply: |p, n| {
                p.mec_pool_max_size = n * MB;
                Ok(())
            },
        },
        render: |p| Some(p.mec_pool_max_size.to_string()),
    },
    ParamDef {
        name: "MEM_POOL_INIT_SIZE",
        set_format: "MB, 32..=2147483647",
        get_format: "bytes",
        default: "33554432",
        setter: Setter::Number {
            min: 32,
            max: I32,
            apply: |p, n| {
                p.mem_pool_init_size = n * MB;
                Ok(())
            },
        },
        render: |p| Some(p.mem_pool_init_size.to_string()),
    },
    ParamDef {
        name: "MEM_POOL_MAX_SIZE",
        set_format: "MB, 32..=2147483647; a quarter of it is the largest dcf_write",
        get_format: "bytes",
        default: "268435456",
        setter: Setter::Number {
            min: 32,
            max: I32,
            apply: |p, n| {
                p.mem_pool_max_size = n * MB;
                Ok(())
            },
        },
        render: |p| Some(p.mem_pool_max_size.to_string()),
    },
    ParamDef {
        name: "STG_POOL_INIT_SIZE",
        set_format: "MB, 32..=2147483647",
        get_format: "bytes",
        default: "33554432",
        setter: Setter::Number {
            min: 32,
            max: I32,
            apply: |p, n| {
                p.stg_pool_init_size = n * MB;
                Ok(())
            },
        },
        render: |p| Some(p.stg_pool_init_size.to_string()),
    },
    ParamDef {
        name: "STG_POOL_MAX_SIZE",
        set_format: "MB, 32..=2147483647",
        get_format: "bytes",
        default: "209715200",
        setter: Setter::Number {
            min: 32,
            max: I32,
            apply: |p, n| {
                p.stg_pool_max_size = n * MB;
                Ok(())
            },
        },
        render: |p| Some(p.stg_pool_max_size.to_string()),
    },
    ParamDef {
        name: "COMPRESS_ALGORITHM",
        set_format: "0 none, 1 zstd, 2 lz4",
        get_format: "0, 1 or 2",
        default: "0",
        setter: Setter::OneOf {
            allowed: &[0, 1, 2],
            text: "0 (none), 1 (zstd), 2 (lz4)",
            apply: |p, n| {
                p.compress_algorithm = match n {
                    1 => Compression::Zstd,
                    2 => Compression::Lz4,
                    _ => Compression::None,
                }
            },
        },
        render: |p| Some((p.compress_algorithm as u32).to_string()),
    },
    ParamDef {
        name: "COMPRESS_LEVEL",
        set_format: "1..=22 (lz4 uses at most 9)",
        get_format: "level as set",
        default: "1",
        setter: Setter::Number {
            min: 1,
            max: 22,
            apply: |p, n| {
                p.compress_level = n as u32;
                Ok(())
            },
        },
        render: |p| Some(p.compress_level.to_string()),
    },
    ParamDef {
        name: "SOCKET_TIMEOUT",
        set_format: "milliseconds, 10..=600000",
        get_format: "milliseconds",
        default: "5000",
        setter: Setter::Number {
            min: 10,
            max: 600_000,
            apply: |p, n| {
                p.socket_timeout = Duration::from_millis(n);
                Ok(())
            },
        },
        render: |p| ms(p.socket_timeout),
    },
    ParamDef {
        name: "CONNECT_TIMEOUT",
        set_format: "milliseconds, 10..=600000",
        get_format: "milliseconds",
        default: "60000",
        setter: Setter::Number {
            min: 10,
            max: 600_000,
            apply: |p, n| {
                p.connect_timeout = Duration::from_millis(n);
                Ok(())
            },
        },
        render: |p| ms(p.connect_timeout),
    },
    ParamDef {
        name: "REP_APPEND_THREAD_NUM",
        set_format: "count, 1..=1000",
        get_format: "count",
        default: "2",
        setter: Setter::Number {
            min: 1,
            max: 1000,
            apply: |p, n| {
                p.rep_append_thread_num = n as u32;
                Ok(())
            },
        },
        render: |p| Some(p.rep_append_thread_num.to_string()),
    },
    ParamDef {
        name: "MEC_FRAGMENT_SIZE",
        set_format: "KB, 32..=10240",
        get_format: "bytes",
        default: "65536",
        setter: Setter::Number {
            min: 32,
            max: 10240,
            apply: |p, n| {
                p.mec_fragment_size = n * 1024;
                Ok(())
            },
        },
        render: |p| Some(p.mec_fragment_size.to_string()),
    },
    ParamDef {
        name: "MEC_BATCH_SIZE",
        set_format: "messages per packet, 0..=1024",
        get_format: "count",
        default: "0",
        setter: Setter::Number {
            min: 0,
            max: 1024,
            apply: |p, n| {
                p.mec_batch_size = n as u32;
                Ok(())
            },
        },
        render: |p| Some(p.mec_batch_size.to_string()),
    },
    ParamDef {
        name: "FLOW_CONTROL_CPU_THRESHOLD",
        set_format: "percent, any u32",
        get_format: "percent",
        default: "100",
        setter: Setter::Number {
            min: 0,
            max: U32,
            apply: |p, n| {
                p.flow_control_cpu_threshold = n as u32;
                Ok(())
            },
        },
        render: |p| Some(p.flow_control_cpu_threshold.to_string()),
    },
    ParamDef {
        name: "FLOW_CONTROL_NET_QUEUE_MESSAGE_NUM_THRESHOLD",
        set_format: "messages, any u32",
        get_format: "messages",
        default: "1024",
        setter: Setter::Number {
            min: 0,
            max: U32,
            apply: |p, n| {
                p.flow_control_net_queue_message_num_threshold = n as u32;
                Ok(())
            },
        },
        render: |p| Some(p.flow_control_net_queue_message_num_threshold.to_string()),
    },
    ParamDef {
        name: "FLOW_CONTROL_DISK_RAWAIT_THRESHOLD",
        set_format: "microseconds, any u32",
        get_format: "microseconds",
        default: "100000",
        setter: Setter::Number {
            min: 0,
            max: U32,
            apply: |p, n| {
                p.flow_control_disk_rawait_threshold = Duration::from_micros(n);
                Ok(())
            },
        },
        render: |p| Some(p.flow_control_disk_rawait_threshold.as_micros().to_string()),
    },
    ParamDef {
        name: "SSL_CA",
        set_format: "path, at most 255 bytes",
        get_format: "path",
        default: "",
        setter: Setter::Text {
            max_len: 255,
            apply: |p, v| {
                p.ssl_ca = PathBuf::from(v);
                Ok(())
            },
        },
        render: |p| path(&p.ssl_ca),
    },
    ParamDef {
        name: "SSL_KEY",
        set_format: "path, at most 255 bytes",
        get_format: "path",
        default: "",
        setter: Setter::Text {
            max_len: 255,
            apply: |p, v| {
                p.ssl_key = PathBuf::from(v);
                Ok(())
            },
        },
        render: |p| path(&p.ssl_key),
    },
    ParamDef {
        name: "SSL_CERT",
        set_format: "path, at most 255 bytes",
        get_format: "path",
        default: "",
        setter: Setter::Text {
            max_len: 255,
            apply: |p, v| {
                p.ssl_cert = PathBuf::from(v);
                Ok(())
            },
        },
        render: |p| path(&p.ssl_cert),
    },
    ParamDef {
        name: "SSL_CRL",
        set_format: "path, at most 255 bytes",
        get_format: "path",
        default: "",
        setter: Setter::Text {
            max_len: 255,
            apply: |p, v| {
                p.ssl_crl = PathBuf::from(v);
                Ok(())
            },
        },
        render: |p| path(&p.ssl_crl),
    },
    ParamDef {
        name: "SSL_CIPHER",
        set_format: "':'-separated cipher list, at most 1023 bytes (names checked at start)",
        get_format: "string",
        default: "",
        setter: Setter::Text {
            max_len: 1023,
            apply: |p, v| {
                p.ssl_cipher = v.to_string();
                Ok(())
            },
        },
        render: |p| Some(p.ssl_cipher.clone()),
    },
    ParamDef {
        name: "SSL_PWD_PLAINTEXT",
        set_format: "key passphrase, at most 64 bytes; refused while SSL_PWD_CIPHERTEXT is set",
        get_format: "write-only (get fails)",
        default: "",
        setter: Setter::Secret { max_len: 64 },
        render: |_| None,
    },
    ParamDef {
        name: "SSL_PWD_CIPHERTEXT",
        set_format: "ciphertext, at most 511 bytes; refused while SSL_PWD_PLAINTEXT is set",
        get_format: "string",
        default: "",
        setter: Setter::Text {
            max_len: 511,
            apply: |p, v| {
                if p.ssl_pwd_plaintext.is_some() {
                    return Err(ParamError::Conflict {
                        name: "SSL_PWD_CIPHERTEXT",
                        other: "SSL_PWD_PLAINTEXT",
                    });
                }
                p.ssl_pwd_ciphertext = v.to_string();
                Ok(())
            },
        },
        render: |p| Some(p.ssl_pwd_ciphertext.clone()),
    },
    ParamDef {
        name: "SSL_CERT_NOTIFY_TIME",
        set_format: "days, 7..=180",
        get_format: "days",
        default: "30",
        setter: Setter::Number {
            min: 7,
            max: 180,
            apply: |p, n| {
                p.ssl_cert_notify_time = n as u32;
                Ok(())
            },
        },
        render: |p| Some(p.ssl_cert_notify_time.to_string()),
    },
    ParamDef {
        name: "DATA_FILE_SIZE",
        set_format: "MB, 10..=2048",
        get_format: "bytes",
        default: "524288000",
        setter: Setter::Number {
            min: 10,
            max: 2048,
            apply: |p, n| {
                p.data_file_size = n * MB;
                Ok(())
            },
        },
        render: |p| Some(p.data_file_size.to_string()),
    },
    ParamDef {
        name: "DN_FLOW_CONTROL_RTO",
        set_format: "seconds, any u32 (stored for openGauss, unused by DCF)",
        get_format: "seconds",
        default: "0",
        setter: Setter::Number {
            min: 0,
            max: U32,
            apply: |p, n| {
                p.dn_flow_control_rto = n as u32;
                Ok(())
            },
        },
        render: |p| Some(p.dn_flow_control_rto.to_string()),
    },
    ParamDef {
        name: "DN_FLOW_CONTROL_RPO",
        set_format: "seconds, any u32 (stored for openGauss, unused by DCF)",
        get_format: "seconds",
        default: "0",
        setter: Setter::Number {
            min: 0,
            max: U32,
            apply: |p, n| {
                p.dn_flow_control_rpo = n as u32;
                Ok(())
            },
        },
        render: |p| Some(p.dn_flow_control_rpo.to_string()),
    },
    ParamDef {
        name: "MAJORITY_GROUPS",
        set_format: "comma-separated group ids (u32), at most 1023 bytes, duplicates dropped; empty = none",
        get_format: "the distinct ids joined by ','",
        default: "",
        setter: Setter::Groups,
        render: |p| {
            let ids: Vec<String> = p.majority_groups.iter().map(u32::to_string).collect();
            Some(ids.join(","))
        },
    },
];
