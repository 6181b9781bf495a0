//! The transport's logging hook: [`set_log_sink`] routes its lines (the runtime does so at
//! start); by default they go to the library's log, never to the host's stderr.

use parking_lot::RwLock;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
}

pub type LogSink = Arc<dyn Fn(Level, &str) + Send + Sync>;

static SINK: RwLock<Option<LogSink>> = RwLock::new(None);

/// Routes every transport log line (of every node in the process) to `sink`.
pub fn set_log_sink(sink: Option<LogSink>) {
    *SINK.write() = sink;
}

pub fn emit(level: Level, msg: &str) {
    let sink = SINK.read().clone();
    match sink {
        Some(sink) => sink(level, msg),
        None => {
            use crate::logging::{enabled, write, LogLevel, LogType};
            let level = match level {
                Level::Error => LogLevel::Error,
                Level::Warn => LogLevel::Warn,
                Level::Info => LogLevel::Info,
            };
            if enabled(LogType::Run, level) {
                write(LogType::Run, level, file!(), line!(), format_args!("{msg}"));
            }
        }
    }
}

pub fn log_warn(msg: &str) {
    emit(Level::Warn, msg);
}
