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

use std::time::Duration;

use super::error::ParamError;
use super::params::Params;

mod election;
mod logs;
mod storage_groups;
mod tls;
mod tuning;

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

/// The groups, in the order of SPEC Part C §2.
const GROUPS: [&[ParamDef]; 5] = [
    election::PARAMS,
    logs::PARAMS,
    tuning::PARAMS,
    tls::PARAMS,
    storage_groups::PARAMS,
];

/// Every parameter, in the order of SPEC Part C §2.
pub(crate) fn all() -> impl Iterator<Item = &'static ParamDef> {
    GROUPS.into_iter().flatten()
}

pub(crate) fn lookup(name: &str) -> Result<&'static ParamDef, ParamError> {
    all()
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
