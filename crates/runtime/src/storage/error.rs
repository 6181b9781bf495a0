//! Errors of the storage layer; each names the file (and offset) it is about.

use std::path::PathBuf;

use crate::types::{Index, StreamId};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("corrupt data in {file} at offset {offset}: {reason}")]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("data path {0} is already open (lock held by another Storage or process)")]
    Locked(PathBuf),
    #[error("stream {0} is not open")]
    UnknownStream(StreamId),
    #[error("stream {0} is already open")]
    StreamAlreadyOpen(StreamId),
    #[error("stream {stream}: entry index {got} does not follow last index {last}")]
    NotContiguous {
        stream: StreamId,
        last: Index,
        got: Index,
    },
    #[error("stream {stream}: index {index} outside the log [{first}, {last}]")]
    OutOfRange {
        stream: StreamId,
        index: Index,
        first: Index,
        last: Index,
    },
    #[error("stream {stream}: entry {index} of {len} bytes exceeds the limit of {max} bytes")]
    EntryTooLarge {
        stream: StreamId,
        index: Index,
        len: usize,
        max: usize,
    },
    #[error("invalid storage option {name}={value}: {reason}")]
    BadOption {
        name: &'static str,
        value: u64,
        reason: &'static str,
    },
    /// The writer thread met an I/O error earlier; nothing can be made durable any more
    /// (a failed fdatasync cannot be retried safely).
    #[error("storage writer failed: {0}")]
    Failed(String),
    #[error("storage is closed")]
    Closed,
}

impl StorageError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StorageError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(
        file: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        StorageError::Corrupt {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }
}

/// Attach a path and an operation name to an io::Result.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T, StorageError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T, StorageError> {
        self.map_err(|e| StorageError::io(op, path, e))
    }
}

impl<T> IoContext<T> for rustix::io::Result<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T, StorageError> {
        self.map_err(|e| StorageError::io(op, path, e.into()))
    }
}
