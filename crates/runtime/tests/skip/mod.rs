//! A test that cannot run here (no root, a tool missing) says why where the run shows it.
//! libtest keeps what a passing test prints to itself, so the reason also goes straight to
//! the process's stderr, which `cargo test` and CI logs show. `.ci/run` installs the tools.

use std::io::Write;

/// Reports that the calling test is skipped, and why; the caller then returns.
pub fn skipped(why: &str) {
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("a test");
    eprintln!("skipped: {why}");
    let _ = writeln!(std::io::stderr().lock(), "test {name}: SKIPPED, {why}");
}
