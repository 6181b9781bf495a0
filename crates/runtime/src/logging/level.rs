//! LOG_LEVEL bits, the log types and levels of `log_output`, and which bit enables what.

/// LOG_LEVEL bits (SPEC Part C §2).
pub mod bits {
    pub const RUN_ERR: u32 = 0x1;
    pub const RUN_WAR: u32 = 0x2;
    pub const RUN_INF: u32 = 0x4;
    pub const DEBUG_ERR: u32 = 0x10;
    pub const DEBUG_WAR: u32 = 0x20;
    pub const DEBUG_INF: u32 = 0x40;
    pub const MEC: u32 = 0x80;
    pub const OPER: u32 = 0x100;
    pub const TRACE: u32 = 0x200;
    pub const PROFILE: u32 = 0x400;
    /// RUN_ERR|RUN_WAR|RUN_INF|DEBUG_ERR|OPER|PROFILE = 1303.
    pub const DEFAULT: u32 = RUN_ERR | RUN_WAR | RUN_INF | DEBUG_ERR | OPER | PROFILE;
    pub const ALL: u32 = RUN_ERR
        | RUN_WAR
        | RUN_INF
        | DEBUG_ERR
        | DEBUG_WAR
        | DEBUG_INF
        | MEC
        | OPER
        | TRACE
        | PROFILE;
    /// The LOG_LEVEL tokens, matched case-insensitively.
    pub const TOKENS: [(&str, u32); 10] = [
        ("RUN_ERR", RUN_ERR),
        ("RUN_WAR", RUN_WAR),
        ("RUN_INF", RUN_INF),
        ("DEBUG_ERR", DEBUG_ERR),
        ("DEBUG_WAR", DEBUG_WAR),
        ("DEBUG_INF", DEBUG_INF),
        ("MEC", MEC),
        ("OPER", OPER),
        ("TRACE", TRACE),
        ("PROFILE", PROFILE),
    ];
}

/// The log type passed to `log_output` (values are DCF's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum LogType {
    Run = 0,
    Debug = 1,
    Alarm = 2,
    Audit = 3,
    Oper = 4,
    Mec = 5,
    Trace = 6,
    Profile = 7,
}

/// The level passed to `log_output` (values are DCF's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum LogLevel {
    Error = 0,
    Warn = 1,
    Info = 2,
}

impl LogLevel {
    pub(crate) fn name(self) -> &'static str {
        match self {
            LogLevel::Error => "ERROR",
            LogLevel::Warn => "WARN",
            LogLevel::Info => "INFO",
        }
    }
}

/// The LOG_LEVEL bit that enables a message; 0 = always on (ALARM and AUDIT have no bit).
pub fn level_bit(ty: LogType, level: LogLevel) -> u32 {
    use LogLevel::*;
    match (ty, level) {
        (LogType::Run, Error) => bits::RUN_ERR,
        (LogType::Run, Warn) => bits::RUN_WAR,
        (LogType::Run, Info) => bits::RUN_INF,
        (LogType::Debug, Error) => bits::DEBUG_ERR,
        (LogType::Debug, Warn) => bits::DEBUG_WAR,
        (LogType::Debug, Info) => bits::DEBUG_INF,
        (LogType::Mec, _) => bits::MEC,
        (LogType::Oper, _) => bits::OPER,
        (LogType::Trace, _) => bits::TRACE,
        (LogType::Profile, _) => bits::PROFILE,
        (LogType::Alarm | LogType::Audit, _) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_match_spec() {
        assert_eq!(bits::DEFAULT, 0x517);
        assert_eq!(bits::DEFAULT, 1303);
        assert_eq!(level_bit(LogType::Debug, LogLevel::Warn), 0x20);
        assert_eq!(level_bit(LogType::Alarm, LogLevel::Info), 0);
    }
}
