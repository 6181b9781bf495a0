//! dcf-inspect on DCF's layout (the C library's data directory, before adoption): `info`,
//! `verify` and `dump` read it with the library's reader (`storage::dcf`), which applies
//! the rules a start of this library adopts it by; and `export-dcf`, the way back.
//! Terms here are DCF's own numbers, which are what the interface reports.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use dcf_runtime::storage::dcf::log::{self, KIND_CONF};
use dcf_runtime::storage::dcf::{ctrl, export, metadata, stream_dirs};
use dcf_runtime::storage::StorageError;

use super::{preview, EXIT_FOUND};

fn name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn info(dir: &Path) -> Result<ExitCode, StorageError> {
    println!("data dir   {}", dir.display());
    println!("layout     DCF's (the C library's); this library adopts it on its first start");
    match metadata::read(dir)? {
        None => println!("membership none stored"),
        Some(m) => {
            println!("membership (from {})", m.file.display());
            for x in &m.members {
                println!(
                    "  stream {} node {} {} {}:{} weight {} group {} priority {}",
                    x.stream,
                    x.member.id,
                    metadata::role_name(x.member.role),
                    x.member.ip,
                    x.member.port,
                    x.member.weight,
                    x.member.group,
                    x.member.priority
                );
            }
        }
    }
    let streams = stream_dirs(dir)?;
    if streams.is_empty() {
        println!("no streams");
    }
    for (id, sdir) in streams {
        println!("stream {id} ({})", sdir.display());
        let c = ctrl::read(&sdir)?;
        let from = c
            .file
            .as_deref()
            .map_or("none: DCF's defaults".into(), name);
        println!(
            "  hard state term {}, vote {} (version {}, from {from})",
            c.term, c.voted_for, c.version
        );
        let lay = log::layout(&sdir)?;
        println!(
            "  first index {}{}",
            lay.first_index,
            if lay.has_ctrl {
                ""
            } else {
                " (no log_ctrl: an empty log)"
            }
        );
        let sum = log::read(&sdir, |_| Ok(()))?;
        if sum.entries == 0 {
            println!("  log        empty");
        } else {
            println!(
                "  log        {}..={} ({} entries, {} bytes of data, last term {})",
                sum.first_index, sum.last_index, sum.entries, sum.data_bytes, sum.last_term
            );
        }
        println!("  segments   {}", sum.segment_ranges.len());
        for (p, r) in &sum.segment_ranges {
            let len = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            let r = r.map_or("no entries at or above the first index".into(), |(a, b)| {
                format!("entries {a}..={b}")
            });
            println!("    {}  {len} bytes  {r}", name(p));
        }
        for p in &lay.ignored {
            println!("    {}  ignored (DCF's start deletes it)", name(p));
        }
        if let Some(t) = &sum.torn {
            println!(
                "  torn tail  {} from offset {} ({} bytes): {}",
                name(&t.file),
                t.offset,
                t.len,
                t.reason
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads everything; exit 1 on damage (file and offset) or a torn tail.
pub fn verify(dir: &Path) -> Result<ExitCode, StorageError> {
    let mut bad = false;
    if let Err(e) = metadata::read(dir) {
        println!("metadata: DAMAGED: {e}");
        bad = true;
    }
    for (id, sdir) in stream_dirs(dir)? {
        if let Err(e) = ctrl::read(&sdir) {
            println!("stream {id}: DAMAGED: {e}");
            bad = true;
        }
        match log::read(&sdir, |_| Ok(())) {
            Err(e) => {
                println!("stream {id}: DAMAGED: {e} (a start refuses to adopt this)");
                bad = true;
            }
            Ok(s) => {
                let range = if s.entries == 0 {
                    "empty log".to_string()
                } else {
                    format!("entries {}..={}", s.first_index, s.last_index)
                };
                match &s.torn {
                    Some(t) => {
                        println!(
                            "stream {id}: TORN TAIL: {} from offset {} ({} bytes): {}; {range} intact before it; adoption cuts it (DCF's files stay as they are)",
                            t.file.display(), t.offset, t.len, t.reason
                        );
                        bad = true;
                    }
                    None => println!("stream {id}: ok, {} entries checked, {range}", s.entries),
                }
            }
        }
    }
    Ok(if bad {
        ExitCode::from(EXIT_FOUND)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn dump(
    dir: &Path,
    stream: u32,
    from: u64,
    to: u64,
    json: bool,
) -> Result<ExitCode, StorageError> {
    let sdir = dir.join(format!("stream{stream:02}"));
    if !sdir.is_dir() {
        return Err(StorageError::UnknownStream(stream));
    }
    let out = std::io::stdout();
    let mut out = out.lock();
    let mut n = 0u64;
    log::read(&sdir, |e| {
        if e.index < from || e.index > to {
            return Ok(());
        }
        n += 1;
        let kind = if e.kind == KIND_CONF {
            "conf"
        } else {
            "normal"
        };
        // A closed pipe (`| head`) is not an error worth reporting.
        let _ = if json {
            let v = serde_json::json!({
                "index": e.index, "term": e.term, "key": e.key, "kind": kind,
                "size": e.data.len(), "preview": preview(&e.data),
            });
            writeln!(out, "{v}")
        } else {
            writeln!(
                out,
                "{:>10} term {:<4} key {:<20} {kind:<6} {:>8} B  {}",
                e.index,
                e.term,
                e.key,
                e.data.len(),
                preview(&e.data)
            )
        };
        Ok(())
    })?;
    if n == 0 {
        eprintln!("dcf-inspect: no entries of stream {stream} in {from}..={to}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `export-dcf DIR OUT`: DCF's layout in OUT from our DIR.
pub fn export_dcf(dir: &Path, out: &Path) -> Result<ExitCode, StorageError> {
    let version = concat!("DCF Release libdcf-rs ", env!("CARGO_PKG_VERSION"));
    for s in export::export(dir, out, version)? {
        println!(
            "stream {}: exported {} entries, index {}..={}, term {} into {}",
            s.id,
            s.entries,
            s.first_index,
            s.last_index,
            s.term,
            out.join(format!("stream{:02}", s.id)).display()
        );
    }
    println!(
        "the original library starts with DATA_PATH {}",
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
