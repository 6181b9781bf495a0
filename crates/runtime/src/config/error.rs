//! Errors of `dcf_set_param` / `dcf_get_param`. Every message names the parameter, the value
//! (never for secrets) and what would have been accepted.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParamError {
    #[error("unknown parameter {name:?}")]
    UnknownParam { name: String },
    #[error("parameter {name}: value {value:?} is not a plain decimal number")]
    NotANumber { name: &'static str, value: String },
    #[error("parameter {name}: value {value:?} is out of range {min}..={max}")]
    OutOfRange {
        name: &'static str,
        value: String,
        min: u64,
        max: u64,
    },
    #[error("parameter {name}: value {value:?} is not one of {allowed}")]
    NotAllowed {
        name: &'static str,
        value: String,
        allowed: &'static str,
    },
    #[error("parameter {name}: value is {len} bytes long, at most {max} are allowed")]
    TooLong {
        name: &'static str,
        len: usize,
        max: usize,
    },
    #[error("parameter {name}: value {value:?} is invalid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error("parameter {name} cannot be set while {other} is set")]
    Conflict {
        name: &'static str,
        other: &'static str,
    },
    #[error("parameter {name} is write-only and cannot be read back")]
    WriteOnly { name: &'static str },
}

impl ParamError {
    /// A plain decimal number that does not fit in 32 bits, given where at most 32 bits fit.
    /// DCF's parser rejects it before the range check, with its own error code.
    pub fn is_beyond_u32(&self) -> bool {
        match self {
            ParamError::OutOfRange { value, max, .. } => {
                *max <= u64::from(u32::MAX)
                    && value.parse::<u64>().map_or(
                        !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()),
                        |n| n > u64::from(u32::MAX),
                    )
            }
            _ => false,
        }
    }
}
