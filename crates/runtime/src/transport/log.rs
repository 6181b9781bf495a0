//! Where the transport's log lines go, in one place: a transport hands each line to its
//! handler's `FrameHandler::on_log`, whose default is [`emit`], the library's RUN log at the
//! line's level. (quinn's and rustls' own lines come through the `log` crate, which
//! `logging::forward_log_crate` routes.) Never the host's stderr.

use crate::logging::{enabled, write, LogLevel, LogType};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
}

impl Level {
    fn log_level(self) -> LogLevel {
        match self {
            Level::Error => LogLevel::Error,
            Level::Warn => LogLevel::Warn,
            Level::Info => LogLevel::Info,
        }
    }
}

/// Writes a transport line to the RUN log, if its level is enabled.
pub fn emit(level: Level, msg: &str) {
    let level = level.log_level();
    if enabled(LogType::Run, level) {
        write(LogType::Run, level, "transport", 0, format_args!("{msg}"));
    }
}
