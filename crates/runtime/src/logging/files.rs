//! The log files of one directory: one per log type group, created on first use with
//! LOG_FILE_PERMISSION, rotated by size.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::SystemTime;

use parking_lot::Mutex;

use super::level::{LogLevel, LogType};
use super::line::{format_line, utc_timestamp};
use super::rotate::rotate;
use super::{with_location, LogConfig, LogError};

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
