//! The `log_output` callback: when set, it receives every message instead of the files.

use std::sync::Arc;

use parking_lot::RwLock;

use super::level::{LogLevel, LogType};

/// The `log_output` bridge: (type, level, source file, line, message).
pub type Sink = Arc<dyn Fn(LogType, LogLevel, &str, u32, &str) + Send + Sync>;

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

/// Sends messages to `sink` instead of files (`None` goes back to files).
pub fn set_sink(sink: Option<Sink>) {
    *SINK.write() = sink;
}

/// The sink now set, cloned out of the lock: a sink may itself log or replace the sink.
pub(super) fn current() -> Option<Sink> {
    SINK.read().clone()
}
