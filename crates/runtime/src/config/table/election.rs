//! Elections: timeouts, priority and the run mode.

use std::time::Duration;

use super::{ms, ParamDef, Setter, U32};
use crate::config::error::ParamError;
use crate::config::params::RunMode;

pub(super) static PARAMS: &[ParamDef] = &[
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
];
