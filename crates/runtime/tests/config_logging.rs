//! Logging: files, rotation, permissions, level mask, the log_output sink.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use dcf_runtime::logging::{self, bits, LogConfig, LogLevel, LogType, Logger};
use dcf_runtime::{dcf_debug, dcf_error, dcf_info, dcf_log, dcf_warn};
use parking_lot::Mutex;

/// Tests that touch the process-global logger, mask or sink take this.
static GLOBAL: Mutex<()> = Mutex::new(());

fn cfg(dir: &Path) -> LogConfig {
    LogConfig {
        path: Some(dir.to_path_buf()),
        level_mask: bits::DEFAULT,
        file_permission: 0o600,
        path_permission: 0o700,
        max_file_size: 10 * 1024 * 1024,
        backup_count: 10,
        instance_name: "dn_6001".into(),
    }
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn rotation_keeps_backup_count_files() {
    let _g = GLOBAL.lock(); // the level mask decides the line format
    let tmp = tempfile::tempdir().unwrap();
    let mut c = cfg(tmp.path());
    c.max_file_size = 300;
    c.backup_count = 2;
    let log = Logger::open(&c).unwrap();
    for i in 0..30 {
        log.write(
            LogType::Run,
            LogLevel::Info,
            "x.rs",
            1,
            &format!("message {i:03} {}", "p".repeat(40)),
        );
    }
    let base = tmp.path().join("run/dcf.rlog");
    let one = tmp.path().join("run/dcf.rlog.1");
    let two = tmp.path().join("run/dcf.rlog.2");
    for p in [&base, &one, &two] {
        let len = fs::metadata(p).unwrap().len();
        assert!(len > 0 && len <= 300, "{}: {len}", p.display());
    }
    assert!(!tmp.path().join("run/dcf.rlog.3").exists());
    let newest = fs::read_to_string(&base).unwrap();
    assert!(newest.contains("message 029"), "{newest}");
    let older = fs::read_to_string(&one).unwrap();
    assert!(!older.contains("message 029"));
    assert!(newest
        .lines()
        .all(|l| l.contains("|DCF|dn_6001|") && l.contains("|INFO>message")));

    // Live change (MAX_LOG_FILE_SIZE / LOG_BACKUP_FILE_COUNT): more backups are kept.
    log.set_rotation(300, 4);
    for i in 0..30 {
        log.write(
            LogType::Run,
            LogLevel::Info,
            "x.rs",
            1,
            &format!("again {i:03} {}", "p".repeat(40)),
        );
    }
    assert!(tmp.path().join("run/dcf.rlog.4").exists());
    assert!(!tmp.path().join("run/dcf.rlog.5").exists());
}

#[test]
fn permissions_are_applied() {
    for (file_mode, dir_mode) in [(0o600, 0o700), (0o640, 0o750)] {
        let tmp = tempfile::tempdir().unwrap();
        let mut c = cfg(tmp.path());
        c.file_permission = file_mode;
        c.path_permission = dir_mode;
        let log = Logger::open(&c).unwrap();
        for ty in [
            LogType::Run,
            LogType::Debug,
            LogType::Oper,
            LogType::Profile,
        ] {
            log.write(ty, LogLevel::Error, "y.rs", 2, "hello");
            let path = log.path_of(ty);
            assert_eq!(mode(&path), file_mode, "{}", path.display());
            assert_eq!(mode(path.parent().unwrap()), dir_mode);
        }
        // Rotated-into files keep the mode too.
        c.max_file_size = 1;
        let log = Logger::open(&c).unwrap();
        log.write(LogType::Run, LogLevel::Error, "y.rs", 2, "again");
        assert_eq!(mode(&tmp.path().join("run/dcf.rlog")), file_mode);
        assert_eq!(mode(&tmp.path().join("run/dcf.rlog.1")), file_mode);
    }
}

#[test]
fn types_go_to_their_files() {
    let _g = GLOBAL.lock(); // the level mask decides the line format
    let tmp = tempfile::tempdir().unwrap();
    let log = Logger::open(&cfg(tmp.path())).unwrap();
    let cases = [
        (LogType::Run, "run/dcf.rlog"),
        (LogType::Alarm, "run/dcf.rlog"),
        (LogType::Debug, "debug/dcf.dlog"),
        (LogType::Mec, "debug/dcf.dlog"),
        (LogType::Trace, "debug/dcf.dlog"),
        (LogType::Oper, "oper/oper.log"),
        (LogType::Audit, "oper/oper.log"),
        (LogType::Profile, "profile/dcf.plog"),
    ];
    for (ty, file) in cases {
        assert_eq!(log.path_of(ty), tmp.path().join(file));
        log.write(ty, LogLevel::Warn, "z.rs", 3, &format!("{ty:?} line"));
        let text = fs::read_to_string(tmp.path().join(file)).unwrap();
        assert!(text.contains(&format!("|WARN>{ty:?} line")), "{text}");
    }
}

#[test]
fn unwritable_path_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plain-file");
    fs::write(&file, b"x").unwrap();
    let err = Logger::open(&cfg(&file))
        .err()
        .expect("a file is not a directory");
    assert!(err.to_string().contains("plain-file"), "{err}");
}

type Seen = Arc<Mutex<Vec<(LogType, LogLevel, String, u32, String)>>>;

fn collecting_sink() -> Seen {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    logging::set_sink(Some(Arc::new(
        move |ty, level, file: &str, line, msg: &str| {
            s.lock()
                .push((ty, level, file.to_string(), line, msg.to_string()));
        },
    )));
    seen
}

#[test]
fn sink_receives_messages_filtered_by_mask() {
    let _g = GLOBAL.lock();
    let seen = collecting_sink();
    logging::set_level_mask(bits::RUN_ERR | bits::OPER);
    let evaluated = AtomicU32::new(0);
    let count = || evaluated.fetch_add(1, Ordering::Relaxed);
    dcf_error!("boom {}", count());
    dcf_warn!("warn {}", count());
    dcf_info!("info {}", count());
    dcf_debug!("debug {}", count());
    dcf_log!(LogType::Oper, LogLevel::Info, "oper {}", count());
    dcf_log!(LogType::Alarm, LogLevel::Warn, "alarm {}", count());
    // Arguments of disabled messages are not even evaluated.
    assert_eq!(evaluated.load(Ordering::Relaxed), 3);
    let got = seen.lock().clone();
    let msgs: Vec<&str> = got.iter().map(|m| m.4.as_str()).collect();
    assert_eq!(msgs, ["boom 0", "oper 1", "alarm 2"]);
    assert_eq!((got[0].0, got[0].1), (LogType::Run, LogLevel::Error));
    assert!(got[0].2.ends_with("config_logging.rs"), "{}", got[0].2);
    assert!(got[0].3 > 0);
    assert_eq!((got[1].0, got[1].1), (LogType::Oper, LogLevel::Info));

    // LOG_LEVEL through the parameter store takes effect at once.
    dcf_runtime::config::set_param("LOG_LEVEL", "RUN_INF").unwrap();
    assert_eq!(logging::level_mask(), bits::RUN_INF);
    dcf_info!("now on");
    dcf_error!("now off");
    assert_eq!(seen.lock().last().unwrap().4, "now on");
    dcf_runtime::config::reset();
    logging::set_level_mask(bits::DEFAULT);
    logging::set_sink(None);
}

/// The transport's lines (every transport whose handler keeps the default `on_log`) reach
/// the RUN log at their own level, and the mask filters them like any other line.
#[test]
fn transport_lines_go_to_the_run_log() {
    use dcf_runtime::transport::{log_emit, Level};
    let _g = GLOBAL.lock();
    let seen = collecting_sink();
    logging::set_level_mask(bits::RUN_ERR | bits::RUN_WAR);
    log_emit(Level::Error, "e");
    log_emit(Level::Warn, "w");
    log_emit(Level::Info, "i");
    let got: Vec<(LogType, LogLevel, String)> = seen
        .lock()
        .iter()
        .map(|m| (m.0, m.1, m.4.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (LogType::Run, LogLevel::Error, "e".to_string()),
            (LogType::Run, LogLevel::Warn, "w".to_string()),
        ]
    );
    logging::set_level_mask(bits::RUN_INF);
    log_emit(Level::Info, "i");
    assert_eq!(seen.lock().last().unwrap().1, LogLevel::Info);
    logging::set_level_mask(bits::DEFAULT);
    logging::set_sink(None);
}

#[test]
fn init_writes_files_and_sink_replaces_them() {
    let _g = GLOBAL.lock();
    let tmp = tempfile::tempdir().unwrap();
    logging::init(cfg(tmp.path())).unwrap();
    dcf_error!("to the file {}", 42);
    dcf_log!(LogType::Oper, LogLevel::Info, "an operation");
    let run = fs::read_to_string(tmp.path().join("run/dcf.rlog")).unwrap();
    // No source location at the default levels ...
    assert!(run.contains("|ERROR>to the file 42\n"), "{run}");
    assert!(!run.contains(".rs:"), "{run}");
    // ... but at the verbose debug levels.
    logging::set_level_mask(bits::DEFAULT | bits::DEBUG_INF);
    dcf_error!("located {}", 43);
    logging::set_level_mask(bits::DEFAULT);
    let run = fs::read_to_string(tmp.path().join("run/dcf.rlog")).unwrap();
    assert!(
        run.contains("|ERROR>[crates/runtime/tests/config_logging.rs:")
            && run.contains("] located 43\n"),
        "{run}"
    );
    let oper = fs::read_to_string(tmp.path().join("oper/oper.log")).unwrap();
    assert!(oper.contains("an operation"));

    let seen = collecting_sink();
    dcf_error!("to the sink");
    logging::set_sink(None);
    assert_eq!(seen.lock().len(), 1);
    let run = fs::read_to_string(tmp.path().join("run/dcf.rlog")).unwrap();
    assert!(!run.contains("to the sink"));

    logging::shutdown();
    dcf_info!("dropped after shutdown");
    let run = fs::read_to_string(tmp.path().join("run/dcf.rlog")).unwrap();
    assert!(!run.contains("dropped"));

    // No path (neither LOG_PATH nor DATA_PATH): init succeeds and writes nothing.
    let mut c = cfg(tmp.path());
    c.path = None;
    logging::init(c).unwrap();
    logging::shutdown();
}

#[test]
fn log_crate_lines_reach_the_dcf_log() {
    let _g = GLOBAL.lock();
    let seen = collecting_sink();
    logging::forward_log_crate();
    logging::set_level_mask(bits::DEFAULT);
    log::warn!(target: "quinn_proto", "path lost");
    log::info!(target: "rustls", "not wanted by default");
    logging::set_level_mask(bits::DEFAULT | bits::TRACE);
    log::trace!(target: "rustls", "handshake step");
    let got = seen.lock().clone();
    let msgs: Vec<(LogType, LogLevel, &str)> =
        got.iter().map(|m| (m.0, m.1, m.4.as_str())).collect();
    assert_eq!(
        msgs,
        [
            (LogType::Run, LogLevel::Warn, "quinn_proto: path lost"),
            (LogType::Trace, LogLevel::Info, "rustls: handshake step"),
        ]
    );
    logging::set_level_mask(bits::DEFAULT);
    logging::set_sink(None);
}
