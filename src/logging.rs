//! DCF's logging: LOG_LEVEL bits, files under LOG_PATH with size rotation and permissions,
//! and the `log_output` callback (a sink), which replaces the files when set.
//!
//! Files: `run/dcf.rlog` (RUN, ALARM), `debug/dcf.dlog` (DEBUG, MEC, TRACE), `oper/oper.log`
//! (OPER, AUDIT), `profile/dcf.plog` (PROFILE). Before `init`, with no sink set, messages are
//! dropped: a library never writes to its host's stderr (a failing call still reports itself
//! through `dcf_get_errorno` / `dcf_get_error`). Lines name their source file and line only
//! when DEBUG_WAR or DEBUG_INF is on, as a developer's aid.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::{Mutex, RwLock};
use thiserror::Error;

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
    fn name(self) -> &'static str {
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

/// What `init` needs (`config::Params::log_config` makes one from the parameters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// LOG_PATH, else DATA_PATH; `None` = no files.
    pub path: Option<PathBuf>,
    pub level_mask: u32,
    /// 0o600 or 0o640.
    pub file_permission: u32,
    /// 0o700 or 0o750.
    pub path_permission: u32,
    /// Bytes; a file is rotated before it would grow past this.
    pub max_file_size: u64,
    /// How many rotated files (`dcf.rlog.1` ...) are kept.
    pub backup_count: u32,
    pub instance_name: String,
}

#[derive(Debug, Error)]
pub enum LogError {
    #[error("no log directory: neither LOG_PATH nor DATA_PATH is set")]
    NoPath,
    #[error("cannot create log directory {path}: {source}")]
    CreateDir { path: PathBuf, source: io::Error },
    #[error("cannot set permissions {mode:o} on {path}: {source}")]
    Permission {
        path: PathBuf,
        mode: u32,
        source: io::Error,
    },
}

/// The `log_output` bridge: (type, level, source file, line, message).
pub type Sink = Arc<dyn Fn(LogType, LogLevel, &str, u32, &str) + Send + Sync>;

static MASK: AtomicU32 = AtomicU32::new(bits::DEFAULT);
static SINK: RwLock<Option<Sink>> = RwLock::new(None);
static LOGGER: RwLock<Option<Arc<Logger>>> = RwLock::new(None);

/// The cheap check the macros do before formatting anything.
#[inline]
pub fn enabled(ty: LogType, level: LogLevel) -> bool {
    let bit = level_bit(ty, level);
    bit == 0 || MASK.load(Ordering::Relaxed) & bit != 0
}

pub fn set_level_mask(mask: u32) {
    MASK.store(mask, Ordering::Relaxed);
    log::set_max_level(log_crate_max_level(mask));
}

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
fn log_crate_max_level(mask: u32) -> log::LevelFilter {
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

pub fn level_mask() -> u32 {
    MASK.load(Ordering::Relaxed)
}

/// Opens (or reopens) the log files. Replaces any earlier logger.
pub fn init(cfg: LogConfig) -> Result<(), LogError> {
    set_level_mask(cfg.level_mask);
    let logger = match &cfg.path {
        Some(_) => Some(Arc::new(Logger::open(&cfg)?)),
        None => None,
    };
    *LOGGER.write() = logger;
    Ok(())
}

/// Closes the log files; later messages go to the sink or are dropped.
pub fn shutdown() {
    *LOGGER.write() = None;
}

/// Sends messages to `sink` instead of files (`None` goes back to files).
pub fn set_sink(sink: Option<Sink>) {
    *SINK.write() = sink;
}

/// MAX_LOG_FILE_SIZE / LOG_BACKUP_FILE_COUNT changed while running.
pub fn set_rotation(max_file_size: u64, backup_count: u32) {
    if let Some(logger) = LOGGER.read().as_ref() {
        logger.set_rotation(max_file_size, backup_count);
    }
}

/// Writes one message; the macros call this after `enabled`.
pub fn write(ty: LogType, level: LogLevel, file: &str, line: u32, args: fmt::Arguments<'_>) {
    // Clone out of the locks: a sink may itself log or replace the sink.
    let sink = SINK.read().clone();
    if let Some(sink) = sink {
        sink(ty, level, file, line, &args.to_string());
        return;
    }
    let logger = LOGGER.read().clone();
    if let Some(logger) = logger {
        logger.write(ty, level, file, line, &args.to_string());
    }
}

/// Whether log lines carry their source location: only at the verbose debug levels.
fn with_location() -> bool {
    MASK.load(Ordering::Relaxed) & (bits::DEBUG_WAR | bits::DEBUG_INF) != 0
}

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

const KINDS: [(&str, &str); 4] = [
    ("run", "dcf.rlog"),
    ("debug", "dcf.dlog"),
    ("oper", "oper.log"),
    ("profile", "dcf.plog"),
];

fn kind_of(ty: LogType) -> usize {
    match ty {
        LogType::Run | LogType::Alarm => 0,
        LogType::Debug | LogType::Mec | LogType::Trace => 1,
        LogType::Oper | LogType::Audit => 2,
        LogType::Profile => 3,
    }
}

/// The log files of one directory. Usable on its own (tests), or through `init`.
pub struct Logger {
    files: [Mutex<LogFile>; 4],
    max_size: AtomicU64,
    backups: AtomicU32,
    file_mode: u32,
    prefix: String,
}

struct LogFile {
    path: PathBuf,
    file: Option<File>,
    size: u64,
}

impl Logger {
    /// Creates the directories with LOG_PATH_PERMISSION. Files are created on first use.
    pub fn open(cfg: &LogConfig) -> Result<Logger, LogError> {
        let root = cfg.path.clone().ok_or(LogError::NoPath)?;
        let mut dirs = Vec::with_capacity(KINDS.len());
        for (dir, name) in KINDS {
            let dir = root.join(dir);
            fs::DirBuilder::new()
                .recursive(true)
                .mode(cfg.path_permission)
                .create(&dir)
                .map_err(|source| LogError::CreateDir {
                    path: dir.clone(),
                    source,
                })?;
            // The umask may have narrowed the mode; DCF's setting wins.
            fs::set_permissions(&dir, fs::Permissions::from_mode(cfg.path_permission)).map_err(
                |source| LogError::Permission {
                    path: dir.clone(),
                    mode: cfg.path_permission,
                    source,
                },
            )?;
            dirs.push(dir.join(name));
        }
        let file = |i: usize| {
            Mutex::new(LogFile {
                path: dirs[i].clone(),
                file: None,
                size: 0,
            })
        };
        let prefix = if cfg.instance_name.is_empty() {
            format!("DCF|{}", std::process::id())
        } else {
            format!("DCF|{}|{}", cfg.instance_name, std::process::id())
        };
        Ok(Logger {
            files: [file(0), file(1), file(2), file(3)],
            max_size: AtomicU64::new(cfg.max_file_size.max(1)),
            backups: AtomicU32::new(cfg.backup_count),
            file_mode: cfg.file_permission,
            prefix,
        })
    }

    pub fn set_rotation(&self, max_file_size: u64, backup_count: u32) {
        self.max_size.store(max_file_size.max(1), Ordering::Relaxed);
        self.backups.store(backup_count, Ordering::Relaxed);
    }

    /// The file a log type goes to.
    pub fn path_of(&self, ty: LogType) -> PathBuf {
        self.files[kind_of(ty)].lock().path.clone()
    }

    /// Appends one line. I/O errors are dropped: there is nowhere left to report them.
    pub fn write(&self, ty: LogType, level: LogLevel, file: &str, line: u32, msg: &str) {
        let text = format_line(
            &utc_timestamp(SystemTime::now()),
            &self.prefix,
            level,
            with_location().then_some((file, line)),
            msg,
        );
        let mut f = self.files[kind_of(ty)].lock();
        let _ = self.append(&mut f, text.as_bytes());
    }

    fn append(&self, f: &mut LogFile, bytes: &[u8]) -> io::Result<()> {
        let len = bytes.len() as u64;
        if f.file.is_none() {
            self.open_file(f)?;
        }
        if f.size > 0 && f.size + len > self.max_size.load(Ordering::Relaxed) {
            f.file = None;
            rotate(&f.path, self.backups.load(Ordering::Relaxed))?;
            self.open_file(f)?;
        }
        if let Some(file) = f.file.as_mut() {
            file.write_all(bytes)?;
            f.size += len;
        }
        Ok(())
    }

    fn open_file(&self, f: &mut LogFile) -> io::Result<()> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(self.file_mode)
            .open(&f.path)?;
        file.set_permissions(fs::Permissions::from_mode(self.file_mode))?;
        f.size = file.metadata()?.len();
        f.file = Some(file);
        Ok(())
    }
}

/// `time|prefix|LEVEL>message`, with `[file:line] ` before the message when given.
fn format_line(
    time: &str,
    prefix: &str,
    level: LogLevel,
    location: Option<(&str, u32)>,
    msg: &str,
) -> String {
    match location {
        Some((file, line)) => format!("{time}|{prefix}|{}>[{file}:{line}] {msg}\n", level.name()),
        None => format!("{time}|{prefix}|{}>{msg}\n", level.name()),
    }
}

fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// dcf.rlog -> dcf.rlog.1 -> ... -> dcf.rlog.<backups>; the oldest is overwritten.
fn rotate(path: &Path, backups: u32) -> io::Result<()> {
    if backups == 0 {
        return fs::remove_file(path);
    }
    for n in (1..backups).rev() {
        match fs::rename(numbered(path, n), numbered(path, n + 1)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    fs::rename(path, numbered(path, 1))
}

/// "YYYY-MM-DD HH:MM:SS.mmm" in UTC.
fn utc_timestamp(t: SystemTime) -> String {
    let t = time::OffsetDateTime::from(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn utc_timestamps() {
        let day = |d: u64| UNIX_EPOCH + std::time::Duration::from_secs(d * 86_400);
        assert_eq!(utc_timestamp(day(0)), "1970-01-01 00:00:00.000");
        assert_eq!(utc_timestamp(day(19_723)), "2024-01-01 00:00:00.000");
        assert_eq!(utc_timestamp(day(11_016)), "2000-02-29 00:00:00.000");
        let t = UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
        assert_eq!(utc_timestamp(t), "2023-11-14 22:13:20.123");
    }

    #[test]
    fn lines_carry_a_location_only_when_asked() {
        let plain = format_line("T", "DCF|1", LogLevel::Error, None, "set parameter failed");
        assert_eq!(plain, "T|DCF|1|ERROR>set parameter failed\n");
        let located = format_line("T", "DCF|1", LogLevel::Info, Some(("src/x.rs", 7)), "m");
        assert_eq!(located, "T|DCF|1|INFO>[src/x.rs:7] m\n");
    }

    #[test]
    fn log_crate_levels_follow_the_mask() {
        use log::LevelFilter;
        assert_eq!(log_crate_max_level(0), LevelFilter::Off);
        assert_eq!(log_crate_max_level(bits::RUN_ERR), LevelFilter::Error);
        assert_eq!(log_crate_max_level(bits::DEFAULT), LevelFilter::Warn);
        assert_eq!(log_crate_max_level(bits::DEBUG_INF), LevelFilter::Info);
        assert_eq!(log_crate_max_level(bits::ALL), LevelFilter::Trace);
    }

    #[test]
    fn bits_match_spec() {
        assert_eq!(bits::DEFAULT, 0x517);
        assert_eq!(bits::DEFAULT, 1303);
        assert_eq!(level_bit(LogType::Debug, LogLevel::Warn), 0x20);
        assert_eq!(level_bit(LogType::Alarm, LogLevel::Info), 0);
    }
}
