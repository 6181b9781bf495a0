//! The `log` crate's lines (quinn's, rustls') forwarded to the DCF log.

use super::level::{level_bit, LogLevel, LogType};
use super::{enabled, level_mask, write};

/// Where lines of the `log` crate (quinn, rustls) go: errors and warnings to RUN, info to
/// DEBUG (DEBUG_INF), debug and trace to TRACE. Their libraries' chatter stays off unless
/// those bits are asked for.
fn log_crate_target(level: log::Level) -> (LogType, LogLevel) {
    match level {
        log::Level::Error => (LogType::Run, LogLevel::Error),
        log::Level::Warn => (LogType::Run, LogLevel::Warn),
        log::Level::Info => (LogType::Debug, LogLevel::Info),
        log::Level::Debug | log::Level::Trace => (LogType::Trace, LogLevel::Info),
    }
}

/// The `log` crate's own filter, so that disabled lines are not even dispatched.
pub(super) fn log_crate_max_level(mask: u32) -> log::LevelFilter {
    use log::{Level, LevelFilter};
    [Level::Trace, Level::Info, Level::Warn, Level::Error]
        .into_iter()
        .find(|&l| {
            let (ty, level) = log_crate_target(l);
            let bit = level_bit(ty, level);
            mask & bit != 0
        })
        .map_or(LevelFilter::Off, |l| l.to_level_filter())
}

struct LogCrateBridge;

impl log::Log for LogCrateBridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        let (ty, level) = log_crate_target(metadata.level());
        enabled(ty, level)
    }

    fn log(&self, record: &log::Record<'_>) {
        let (ty, level) = log_crate_target(record.level());
        if enabled(ty, level) {
            let file = record.file().unwrap_or(record.target());
            let line = record.line().unwrap_or(0);
            write(
                ty,
                level,
                file,
                line,
                format_args!("{}: {}", record.target(), record.args()),
            );
        }
    }

    fn flush(&self) {}
}

/// Sends the `log` crate's lines (quinn's, rustls') to this log. Once per process: a second
/// call, or a host that installed its own `log` logger in this library's copy of the crate,
/// leaves things as they are.
pub fn forward_log_crate() {
    static BRIDGE: LogCrateBridge = LogCrateBridge;
    if log::set_logger(&BRIDGE).is_ok() {
        log::set_max_level(log_crate_max_level(level_mask()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::bits;

    #[test]
    fn log_crate_levels_follow_the_mask() {
        use log::LevelFilter;
        assert_eq!(log_crate_max_level(0), LevelFilter::Off);
        assert_eq!(log_crate_max_level(bits::RUN_ERR), LevelFilter::Error);
        assert_eq!(log_crate_max_level(bits::DEFAULT), LevelFilter::Warn);
        assert_eq!(log_crate_max_level(bits::DEBUG_INF), LevelFilter::Info);
        assert_eq!(log_crate_max_level(bits::ALL), LevelFilter::Trace);
    }
}
