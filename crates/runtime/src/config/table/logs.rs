//! The instance name, the data path and the log parameters.

use std::path::PathBuf;

use super::{path, ParamDef, Setter};
use crate::config::params::MB;

pub(super) static PARAMS: &[ParamDef] = &[
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
];
