//! Threads, pools, compression, timeouts and flow control: DCF's tuning knobs, most
//! accepted for compatibility only (README, "Behaviour worth knowing").

use std::time::Duration;

use super::{ms, ParamDef, Setter, I32, U32};
use crate::config::params::{Compression, MB};

pub(super) static PARAMS: &[ParamDef] = &[
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
];
