//! Stable error codes of the C interface and the error type of the safe API.
//!
//! Codes shared with DCF keep DCF's numbers (26, 107, 201, 515, 706, 800, 801) so that hosts
//! that test for them keep working; conditions DCF never reported get codes from 1000 up.

use std::fmt;

/// One table: code, name, description. `dcf_get_error` falls back to the description.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorCode {
    Ok = 0,
    NullPointer = 26,
    Value = 107,
    Parameter = 201,
    PortInUse = 506,
    MessageTooLarge = 515,
    PoolFull = 706,
    ParseConfig = 800,
    Query = 801,
    NotStarted = 1001,
    NotLeader = 1002,
    BufferTooSmall = 1003,
    NotAvailable = 1004,
    UnknownStream = 1005,
    UnknownNode = 1006,
    InvalidArgument = 1007,
    Storage = 1008,
    Transport = 1009,
    Timeout = 1010,
    Busy = 1011,
    Tls = 1012,
    Internal = 1099,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 22] = [
        ErrorCode::Ok,
        ErrorCode::NullPointer,
        ErrorCode::Value,
        ErrorCode::Parameter,
        ErrorCode::PortInUse,
        ErrorCode::MessageTooLarge,
        ErrorCode::PoolFull,
        ErrorCode::ParseConfig,
        ErrorCode::Query,
        ErrorCode::NotStarted,
        ErrorCode::NotLeader,
        ErrorCode::BufferTooSmall,
        ErrorCode::NotAvailable,
        ErrorCode::UnknownStream,
        ErrorCode::UnknownNode,
        ErrorCode::InvalidArgument,
        ErrorCode::Storage,
        ErrorCode::Transport,
        ErrorCode::Timeout,
        ErrorCode::Busy,
        ErrorCode::Tls,
        ErrorCode::Internal,
    ];

    pub fn from_i32(code: i32) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| *c as i32 == code)
    }

    /// A fixed, NUL-terminated description (static for the life of the process).
    pub fn describe(self) -> &'static str {
        match self {
            ErrorCode::Ok => "Normal, no error reported\0",
            ErrorCode::NullPointer => "Null pointer error\0",
            ErrorCode::Value => "Value error\0",
            ErrorCode::Parameter => "Parameter error\0",
            ErrorCode::PortInUse => "Port or address is in use\0",
            ErrorCode::MessageTooLarge => "Message is too large\0",
            ErrorCode::PoolFull => "Memory pool is full\0",
            ErrorCode::ParseConfig => "Failed to parse the cluster configuration\0",
            ErrorCode::Query => "Failed to query dcf info\0",
            ErrorCode::NotStarted => "DCF is not started\0",
            ErrorCode::NotLeader => "This node is not the leader or cannot accept writes yet\0",
            ErrorCode::BufferTooSmall => "The output buffer is too small\0",
            ErrorCode::NotAvailable => "This function is not available in this build\0",
            ErrorCode::UnknownStream => "Unknown stream id\0",
            ErrorCode::UnknownNode => "Unknown node id\0",
            ErrorCode::InvalidArgument => "Invalid argument\0",
            ErrorCode::Storage => "Storage error\0",
            ErrorCode::Transport => "Transport error\0",
            ErrorCode::Timeout => "Timed out\0",
            ErrorCode::Busy => "Another operation is in progress\0",
            ErrorCode::Tls => "TLS configuration error\0",
            ErrorCode::Internal => "Internal error\0",
        }
    }
}

/// The error of every fallible API call: a stable code and a message naming the thing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DcfError {
    pub code: ErrorCode,
    pub message: String,
}

impl DcfError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> DcfError {
        DcfError {
            code,
            message: message.into(),
        }
    }
    pub fn not_started() -> DcfError {
        DcfError::new(
            ErrorCode::NotStarted,
            "DCF is not started: call dcf_start first",
        )
    }
    pub fn invalid(message: impl Into<String>) -> DcfError {
        DcfError::new(ErrorCode::InvalidArgument, message)
    }
}

impl fmt::Display for DcfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (error {})", self.message, self.code as i32)
    }
}

impl std::error::Error for DcfError {}

pub type DcfResult<T> = Result<T, DcfError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_i32(c as i32), Some(c));
            assert!(c.describe().ends_with('\0'));
            assert_eq!(c.describe().matches('\0').count(), 1);
        }
        assert_eq!(ErrorCode::from_i32(12345), None);
    }
}
