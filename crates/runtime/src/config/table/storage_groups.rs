//! The data file size, openGauss's flow-control targets and MAJORITY_GROUPS.

use super::{ParamDef, Setter, U32};
use crate::config::params::MB;

pub(super) static PARAMS: &[ParamDef] = &[
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
        set_format:
            "comma-separated group ids (u32), at most 1023 bytes, duplicates dropped; empty = none",
        get_format: "the distinct ids joined by ','",
        default: "",
        setter: Setter::Groups,
        render: |p| {
            let ids: Vec<String> = p.majority_groups.iter().map(u32::to_string).collect();
            Some(ids.join(","))
        },
    },
];
