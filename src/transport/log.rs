//! A tiny logging hook until the crate's `logging` module exists: the lead can rewire it with
//! [`set_log_sink`]; by default lines go to stderr.

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
        None => eprintln!("[dcf transport] {level:?}: {msg}"),
    }
}

pub fn log_warn(msg: &str) {
    emit(Level::Warn, msg);
}
