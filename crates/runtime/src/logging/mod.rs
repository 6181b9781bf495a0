//! DCF's logging: LOG_LEVEL bits, files under LOG_PATH with size rotation and permissions,
//! and the `log_output` callback (a sink), which replaces the files when set.
//!
//! Files: `run/dcf.rlog` (RUN, ALARM), `debug/dcf.dlog` (DEBUG, MEC, TRACE), `oper/oper.log`
//! (OPER, AUDIT), `profile/dcf.plog` (PROFILE). Before `init`, with no sink set, messages are
//! dropped: a library never writes to its host's stderr (a failing call still reports itself
//! through `dcf_get_errorno` / `dcf_get_error`). Lines name their source file and line only
//! when DEBUG_WAR or DEBUG_INF is on, as a developer's aid.

mod bridge;
mod files;
mod level;
mod line;
mod macros;
mod rotate;
mod sink;

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use thiserror::Error;

pub use bridge::forward_log_crate;
pub use files::Logger;
pub use level::{bits, level_bit, LogLevel, LogType};
pub use sink::{set_sink, Sink};

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

static MASK: AtomicU32 = AtomicU32::new(bits::DEFAULT);
static LOGGER: RwLock<Option<Arc<Logger>>> = RwLock::new(None);

/// The cheap check the macros do before formatting anything.
#[inline]
pub fn enabled(ty: LogType, level: LogLevel) -> bool {
    let bit = level_bit(ty, level);
    bit == 0 || MASK.load(Ordering::Relaxed) & bit != 0
}

pub fn set_level_mask(mask: u32) {
    MASK.store(mask, Ordering::Relaxed);
    log::set_max_level(bridge::log_crate_max_level(mask));
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

/// MAX_LOG_FILE_SIZE / LOG_BACKUP_FILE_COUNT changed while running.
pub fn set_rotation(max_file_size: u64, backup_count: u32) {
    if let Some(logger) = LOGGER.read().as_ref() {
        logger.set_rotation(max_file_size, backup_count);
    }
}

/// Writes one message; the macros call this after `enabled`.
pub fn write(ty: LogType, level: LogLevel, file: &str, line: u32, args: fmt::Arguments<'_>) {
    // Cloned out of the locks: a sink may itself log or replace the sink.
    let sink = sink::current();
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
