//! dcf-inspect: look into a stopped node's DATA_PATH, ours or DCF's (dcf.rs). Only `repair`
//! writes into it, and only through the library's own recovery; `export-dcf` writes a new
//! directory in DCF's layout.
//!
//! Exit status: 0 success (verify: every record intact), 1 damage or a torn tail found or
//! an operation failed, 2 bad usage, 3 the data dir is in use by a running node.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use dcf_runtime::storage::inspect::{self, StreamInfo};
use dcf_runtime::storage::inspect_verify::{self, StreamVerdict};
use dcf_runtime::storage::StorageError;
use dcf_runtime::types::EntryKind;

mod cli;
mod dcf;

use cli::{Cli, Cmd};

const EXIT_FOUND: u8 = 1;
const EXIT_IN_USE: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let dir = match &cli.cmd {
        Cmd::Info { dir }
        | Cmd::Verify { dir }
        | Cmd::Dump { dir, .. }
        | Cmd::ExportDcf { dir, .. }
        | Cmd::Repair { dir, .. } => dir.clone(),
    };
    if !dir.is_dir() {
        eprintln!("dcf-inspect: {} is not a directory", dir.display());
        return ExitCode::from(EXIT_FOUND);
    }
    let lock = match inspect::lock_shared(&dir) {
        Ok(l) => l,
        Err(StorageError::Locked(_)) if cli.read_only && !matches!(cli.cmd, Cmd::Repair { .. }) => {
            None
        }
        Err(StorageError::Locked(_)) => {
            eprintln!(
                "dcf-inspect: {} is in use: a running node holds its LOCK. Stop the node first{}.",
                dir.display(),
                if matches!(cli.cmd, Cmd::Repair { .. }) {
                    ""
                } else {
                    ", or pass --read-only to read it anyway"
                }
            );
            return ExitCode::from(EXIT_IN_USE);
        }
        Err(e) => return fail(e),
    };
    let dcf_layout = cli.dcf || only_dcf_layout(&dir);
    let r = match cli.cmd {
        Cmd::Info { .. } if dcf_layout => dcf::info(&dir),
        Cmd::Verify { .. } if dcf_layout => dcf::verify(&dir),
        Cmd::Dump {
            stream,
            from,
            to,
            json,
            ..
        } if dcf_layout => dcf::dump(&dir, stream, from, to, json),
        Cmd::Repair { .. } if dcf_layout => {
            eprintln!(
                "dcf-inspect: {} is in DCF's layout, which repair leaves alone: a start of this library adopts it, cutting a torn tail in its own copy",
                dir.display()
            );
            Ok(ExitCode::from(EXIT_FOUND))
        }
        Cmd::ExportDcf { out, .. } => dcf::export_dcf(&dir, &out),
        Cmd::Info { .. } => info(&dir),
        Cmd::Verify { .. } => verify(&dir),
        Cmd::Dump {
            stream,
            from,
            to,
            json,
            ..
        } => dump(&dir, stream, from, to, json),
        Cmd::Repair { yes, .. } => {
            drop(lock);
            repair(&dir, yes)
        }
    };
    r.unwrap_or_else(fail)
}

/// DIR holds DCF's layout and no stream of ours.
fn only_dcf_layout(dir: &Path) -> bool {
    dcf_runtime::storage::dcf::is_dcf_layout(dir).unwrap_or(false)
        && inspect::streams(dir).is_ok_and(|s| s.is_empty())
}

fn fail(e: StorageError) -> ExitCode {
    eprintln!("dcf-inspect: {e}");
    ExitCode::from(EXIT_FOUND)
}

/// Terms are shown as the interface reports them (dcf_get_current_term_and_role, the
/// status documents): DCF's count starts one above the stored one.
fn dcf_term(t: u64) -> u64 {
    t.saturating_add(1)
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
}

fn info(dir: &Path) -> Result<ExitCode, StorageError> {
    let (avail, total) = inspect::free_space(dir)?;
    println!("data dir   {}", dir.display());
    println!("free space {} available of {}", mib(avail), mib(total));
    let marker = dir.join(dcf_runtime::storage::dcf::adopt::MARKER);
    if let Ok(line) = std::fs::read_to_string(&marker) {
        println!("{}; DCF's files beside it: `--dcf`", line.trim());
    }
    let streams = inspect::info(dir)?;
    if streams.is_empty() {
        println!("no streams");
    }
    for s in &streams {
        print_stream(s);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_stream(s: &StreamInfo) {
    println!("stream {} ({})", s.id, s.dir.display());
    match &s.meta {
        None => println!("  meta       none (never started, or removed)"),
        Some(m) => {
            println!(
                "  hard state term {}, vote {}",
                dcf_term(m.hard_state.term),
                m.hard_state.vote
            );
            let members = m.membership.as_deref().map_or("none".into(), text_or_hex);
            println!("  membership {members}");
            let before = match m.base_term {
                0 => "unknown".to_string(),
                t => dcf_term(t).to_string(),
            };
            println!(
                "  first index {} (applied base {}, term before it {before})",
                m.first_index,
                m.first_index.saturating_sub(1),
            );
        }
    }
    match s.range() {
        Some((a, b)) => println!("  log        {a}..={b} ({} entries)", b - a + 1),
        None => println!("  log        empty"),
    }
    println!("  segments   {}", s.segments.len());
    for g in &s.segments {
        let name = g
            .path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let range = g
            .range
            .map_or("no records".into(), |(a, b)| format!("entries {a}..={b}"));
        println!(
            "    {name}  {} bytes ({} allocated, records end at {})  {range}{}",
            g.len,
            g.allocated,
            g.data_end,
            if g.indexed { "  indexed" } else { "" }
        );
    }
}

fn verify(dir: &Path) -> Result<ExitCode, StorageError> {
    let verdicts = inspect_verify::verify(dir)?;
    let mut bad = false;
    for v in &verdicts {
        bad |= report(v);
    }
    if verdicts.is_empty() {
        println!("no streams");
    }
    Ok(if bad {
        ExitCode::from(EXIT_FOUND)
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints a stream's verdict; true if it is not clean.
fn report(v: &StreamVerdict) -> bool {
    let range = v
        .range
        .map_or("empty log".into(), |(a, b)| format!("entries {a}..={b}"));
    for p in &v.stale_indexes {
        println!(
            "stream {}: note: {} does not match its segment; a start rescans the segment",
            v.id,
            p.display()
        );
    }
    if let Some(d) = &v.damage {
        println!(
            "stream {}: DAMAGED: {} at offset {}: {} ({})",
            v.id,
            d.file.display(),
            d.offset,
            d.reason,
            if d.refused_at_start {
                "a node refuses to start on this"
            } else {
                "a start trusts the segment's index; reading these entries stops the stream"
            }
        );
        return true;
    }
    if let Some(t) = &v.torn {
        println!(
            "stream {}: TORN TAIL: {} from offset {} to {}: {} ({} intact records of the torn write after it); {range} intact before it; `dcf-inspect repair` or the next start cuts it",
            v.id,
            t.file.display(),
            t.offset,
            t.end,
            t.reason,
            t.records_dropped
        );
        return true;
    }
    println!(
        "stream {}: ok, {} records checked, {range}",
        v.id, v.records
    );
    false
}

fn text_or_hex(b: &[u8]) -> String {
    if b.iter().all(|&c| (0x20..0x7f).contains(&c)) {
        String::from_utf8_lossy(b).into_owned()
    } else {
        b.iter().map(|c| format!("{c:02x}")).collect()
    }
}

/// The start of a payload, as text or hex, for `dump`.
fn preview(data: &[u8]) -> String {
    const MAX: usize = 32;
    let p = text_or_hex(&data[..data.len().min(MAX)]);
    if data.len() > MAX {
        format!("{p}...")
    } else {
        p
    }
}

fn dump(dir: &Path, stream: u32, from: u64, to: u64, json: bool) -> Result<ExitCode, StorageError> {
    let out = std::io::stdout();
    let mut out = out.lock();
    let mut n = 0u64;
    let r = inspect::dump(dir, stream, from, to, |e| {
        n += 1;
        let kind = match e.kind {
            EntryKind::Normal => "normal",
            EntryKind::Conf => "conf",
        };
        // A closed pipe (`| head`) is not an error worth reporting.
        let _ = if json {
            let v = serde_json::json!({
                "index": e.index, "term": dcf_term(e.term), "key": e.key, "kind": kind,
                "size": e.data.len(), "preview": preview(&e.data),
            });
            writeln!(out, "{v}")
        } else {
            writeln!(
                out,
                "{:>10} term {:<4} key {:<20} {kind:<6} {:>8} B  {}",
                e.index,
                dcf_term(e.term),
                e.key,
                e.data.len(),
                preview(&e.data)
            )
        };
    });
    r?;
    if n == 0 {
        eprintln!("dcf-inspect: no entries of stream {stream} in {from}..={to}");
    }
    Ok(ExitCode::SUCCESS)
}

fn repair(dir: &Path, yes: bool) -> Result<ExitCode, StorageError> {
    let verdicts = inspect_verify::verify(dir)?;
    if let Some(v) = verdicts.iter().find(|v| v.damage.is_some()) {
        report(v);
        println!(
            "nothing changed: this is damage, not a torn tail; restore the node from a healthy one"
        );
        return Ok(ExitCode::from(EXIT_FOUND));
    }
    let torn: Vec<_> = verdicts.iter().filter(|v| v.torn.is_some()).collect();
    if torn.is_empty() {
        println!("nothing to cut: every stream ends cleanly");
        return Ok(ExitCode::SUCCESS);
    }
    for v in &torn {
        if let Some(t) = &v.torn {
            println!(
                "stream {}: will cut {} from offset {} ({} bytes of a torn write: {})",
                v.id,
                t.file.display(),
                t.offset,
                t.end.saturating_sub(t.offset),
                t.reason
            );
        }
    }
    if !yes && !confirm()? {
        println!("nothing changed");
        return Ok(ExitCode::from(EXIT_FOUND));
    }
    let ids: Vec<u32> = torn.iter().map(|v| v.id).collect();
    inspect::repair(dir, &ids)?;
    println!("repaired stream(s) {ids:?}");
    Ok(ExitCode::SUCCESS)
}

fn confirm() -> Result<bool, StorageError> {
    print!("cut? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| StorageError::Failed(format!("reading the answer: {e}")))?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}
