//! The logging macros: each checks `enabled` before formatting anything.

/// Logs at (type, level) if enabled: `dcf_log!(LogType::Oper, LogLevel::Info, "...", ..)`.
#[macro_export]
macro_rules! dcf_log {
    ($ty:expr, $level:expr, $($arg:tt)+) => {{
        let (ty, level) = ($ty, $level);
        if $crate::logging::enabled(ty, level) {
            $crate::logging::write(ty, level, file!(), line!(), format_args!($($arg)+));
        }
    }};
}

/// RUN log, ERROR level.
#[macro_export]
macro_rules! dcf_error {
    ($($arg:tt)+) => { $crate::dcf_log!($crate::logging::LogType::Run, $crate::logging::LogLevel::Error, $($arg)+) };
}

/// RUN log, WARN level.
#[macro_export]
macro_rules! dcf_warn {
    ($($arg:tt)+) => { $crate::dcf_log!($crate::logging::LogType::Run, $crate::logging::LogLevel::Warn, $($arg)+) };
}

/// RUN log, INFO level.
#[macro_export]
macro_rules! dcf_info {
    ($($arg:tt)+) => { $crate::dcf_log!($crate::logging::LogType::Run, $crate::logging::LogLevel::Info, $($arg)+) };
}

/// DEBUG log, INFO level (LOG_LEVEL bit DEBUG_INF, off by default).
#[macro_export]
macro_rules! dcf_debug {
    ($($arg:tt)+) => { $crate::dcf_log!($crate::logging::LogType::Debug, $crate::logging::LogLevel::Info, $($arg)+) };
}
