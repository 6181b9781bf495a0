//! Stable error codes of the C interface and the error type of the safe API.
//!
//! Where DCF reports a code for a failure, the failure has DCF's number (its `cm_error.h` and
//! `util_error.h` tables) so that hosts that test for it keep working; conditions DCF reports
//! no code for get codes from 1000 up. README ("Differences from DCF") lists every code and
//! when it is set; keep it in step with this table.

use std::fmt;

/// One table: code, name, description. `dcf_get_error` falls back to the description.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorCode {
    Ok = 0,
    NullPointer = 26,
    Value = 107,
    InitLogger = 200,
    Parameter = 201,
    PortInUse = 506,
    MessageTooLarge = 515,
    Tls = 529,
    NotLeader = 603,
    Storage = 705,
    PoolFull = 706,
    ParseConfig = 800,
    Query = 801,
    NotStarted = 1001,
    BufferTooSmall = 1003,
    UnknownStream = 1005,
    UnknownNode = 1006,
    InvalidArgument = 1007,
    Transport = 1009,
    Timeout = 1010,
    Busy = 1011,
    Internal = 1099,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 22] = [
        ErrorCode::Ok,
        ErrorCode::NullPointer,
        ErrorCode::Value,
        ErrorCode::InitLogger,
        ErrorCode::Parameter,
        ErrorCode::PortInUse,
        ErrorCode::MessageTooLarge,
        ErrorCode::Tls,
        ErrorCode::NotLeader,
        ErrorCode::Storage,
        ErrorCode::PoolFull,
        ErrorCode::ParseConfig,
        ErrorCode::Query,
        ErrorCode::NotStarted,
        ErrorCode::BufferTooSmall,
        ErrorCode::UnknownStream,
        ErrorCode::UnknownNode,
        ErrorCode::InvalidArgument,
        ErrorCode::Transport,
        ErrorCode::Timeout,
        ErrorCode::Busy,
        ErrorCode::Internal,
    ];

    pub fn from_i32(code: i32) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| *c as i32 == code)
    }

    /// A fixed, NUL-terminated description (static for the life of the process), used when a
    /// message cannot be kept; DCF's wording where DCF has the code.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorCode::Ok => "Normal, no error reported\0",
            ErrorCode::NullPointer => "Null pointer error\0",
            ErrorCode::Value => "Value error\0",
            ErrorCode::InitLogger => "Failed to init logger module\0",
            ErrorCode::Parameter => "Parameter error\0",
            ErrorCode::PortInUse => "Tcp port conflict\0",
            ErrorCode::MessageTooLarge => "Send packet has no more space to put data\0",
            ErrorCode::Tls => "SSL init error\0",
            ErrorCode::NotLeader => "Current node is not leader\0",
            ErrorCode::Storage => "Storage internal error\0",
            ErrorCode::PoolFull => "Storage memory pool is full\0",
            ErrorCode::ParseConfig => "Failed to parse dcf_config\0",
            ErrorCode::Query => "Failed to query dcf info\0",
            ErrorCode::NotStarted => "DCF is not started\0",
            ErrorCode::BufferTooSmall => "The output buffer is too small\0",
            ErrorCode::UnknownStream => "Unknown stream id\0",
            ErrorCode::UnknownNode => "Unknown node id\0",
            ErrorCode::InvalidArgument => "Invalid argument\0",
            ErrorCode::Transport => "Transport error\0",
            ErrorCode::Timeout => "Timed out\0",
            ErrorCode::Busy => "Another operation is in progress\0",
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

    /// The failure of a JSON query (`dcf_query_*_info`): DCF reports every failure there but a
    /// NULL buffer as 801, not started included, with this wording.
    pub fn into_query_failure(self) -> DcfError {
        match self.code {
            ErrorCode::NullPointer | ErrorCode::Query => self,
            ErrorCode::NotStarted | ErrorCode::UnknownStream => DcfError::new(
                ErrorCode::Query,
                "Failed to query dcf info, check_if_node_inited failed, errno=-1",
            ),
            _ => DcfError::new(
                ErrorCode::Query,
                format!("Failed to query dcf info, {}, errno=-1", self.message),
            ),
        }
    }
}

/// A rejected `dcf_set_param` / `dcf_get_param`: 201, except a number beyond 32 bits, which
/// DCF's number parser reports first as 107.
impl From<crate::config::ParamError> for DcfError {
    fn from(e: crate::config::ParamError) -> DcfError {
        let code = if e.is_beyond_u32() {
            ErrorCode::Value
        } else {
            ErrorCode::Parameter
        };
        DcfError::new(code, e.to_string())
    }
}

/// The one place errors of the layers below become DCF's numbers (as rustls-ffi maps its
/// errors once): the runtime and the API use `?` or `DcfError::from`.
impl From<crate::storage::StorageError> for DcfError {
    fn from(e: crate::storage::StorageError) -> DcfError {
        DcfError::new(ErrorCode::Storage, e.to_string())
    }
}

impl From<crate::config::ClusterError> for DcfError {
    fn from(e: crate::config::ClusterError) -> DcfError {
        DcfError::new(ErrorCode::ParseConfig, e.to_string())
    }
}

impl From<crate::transport::TransportError> for DcfError {
    fn from(e: crate::transport::TransportError) -> DcfError {
        DcfError::new(ErrorCode::Transport, e.to_string())
    }
}

/// A replica that cannot start from what was recovered or configured.
impl From<crate::consensus::ConsensusError> for DcfError {
    fn from(e: crate::consensus::ConsensusError) -> DcfError {
        use crate::consensus::ConsensusError as C;
        let code = match e {
            C::BadLog(_) => ErrorCode::Storage,
            C::NotAMember(_) | C::InvalidMembership(_) => ErrorCode::ParseConfig,
        };
        DcfError::new(code, e.to_string())
    }
}

impl From<crate::consensus::ProposeError> for DcfError {
    fn from(e: crate::consensus::ProposeError) -> DcfError {
        use crate::consensus::ProposeError as P;
        let code = match e {
            P::NotLeader { .. } | P::NotWritable => ErrorCode::NotLeader,
            P::Transferring | P::ConfChangePending => ErrorCode::Busy,
            P::InvalidConfChange(_) => ErrorCode::InvalidArgument,
        };
        DcfError::new(code, e.to_string())
    }
}

impl From<crate::consensus::AdminError> for DcfError {
    fn from(e: crate::consensus::AdminError) -> DcfError {
        use crate::consensus::AdminError as A;
        let code = match e {
            A::NotLeader | A::NoLeader => ErrorCode::NotLeader,
            A::UnknownNode(_) => ErrorCode::UnknownNode,
            _ => ErrorCode::InvalidArgument,
        };
        DcfError::new(code, e.to_string())
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

    #[test]
    fn dcf_numbers_where_dcf_has_them() {
        assert_eq!(ErrorCode::NotLeader as i32, 603);
        assert_eq!(ErrorCode::Storage as i32, 705);
        assert_eq!(ErrorCode::Tls as i32, 529);
        assert_eq!(ErrorCode::InitLogger as i32, 200);
    }

    #[test]
    fn query_failures_are_801_but_a_null_buffer() {
        let q = DcfError::not_started().into_query_failure();
        assert_eq!(q.code, ErrorCode::Query);
        assert_eq!(
            q.message,
            "Failed to query dcf info, check_if_node_inited failed, errno=-1"
        );
        let small = DcfError::new(ErrorCode::BufferTooSmall, "needs 300 bytes");
        let q = small.into_query_failure();
        assert_eq!(q.code, ErrorCode::Query);
        assert!(q.message.contains("needs 300 bytes"), "{}", q.message);
        let null = DcfError::new(ErrorCode::NullPointer, "buffer is NULL");
        assert_eq!(null.clone().into_query_failure(), null);
    }

    #[test]
    fn numbers_beyond_32_bits_are_value_errors() {
        let mut p = crate::config::Params::default();
        let code = |r: Result<(), crate::config::ParamError>| DcfError::from(r.unwrap_err()).code;
        assert_eq!(
            code(p.set("ELECTION_TIMEOUT", "4294967296")),
            ErrorCode::Value
        );
        assert_eq!(
            code(p.set("ELECTION_TIMEOUT", "99999999999999999999999")),
            ErrorCode::Value
        );
        assert_eq!(
            code(p.set("ELECTION_TIMEOUT", "4294967295")),
            ErrorCode::Parameter
        );
        assert_eq!(code(p.set("ELECTION_TIMEOUT", "601")), ErrorCode::Parameter);
        assert_eq!(code(p.set("ELECTION_TIMEOUT", "-1")), ErrorCode::Parameter);
        assert_eq!(code(p.set("NO_SUCH", "1")), ErrorCode::Parameter);
    }
}
