//! Crash test: a child process (this test binary, re-executed in the `crash_child` role)
//! appends, truncates and saves hard state with fsync on, and is killed with SIGKILL at a
//! random moment, many times over the same directory. After each kill the parent reopens
//! the storage and checks that every entry reported durable is there byte for byte (index,
//! term, key, payload), that the log has no gap, and that the hard state is the last saved.
//!
//! The child prints what it does on stdout *before* doing it (`@@ A lo hi term`,
//! `@@ T from`, `@@ P first_kept`, `@@ H term`, `@@ M term`) and `@@ D index term` from
//! on_durable.

mod storage_support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use dcf_runtime::storage::{Storage, StorageOptions};
use dcf_runtime::types::{Entry, EntryKind, HardState, Index, Term};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DIR_ENV: &str = "DCF_STORAGE_CRASH_DIR";
const TERM_ENV: &str = "DCF_STORAGE_CRASH_TERM";

fn cycles() -> u64 {
    std::env::var("DCF_STORAGE_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
}

fn opts() -> StorageOptions {
    StorageOptions {
        segment_size: 256 << 10,
        cache_bytes: 256 << 10,
        sync: true,
        ..Default::default()
    }
}

/// The entry (index, term) always has the same key and payload, so any byte that differs
/// after recovery is caught.
fn entry(index: Index, term: Term) -> Entry {
    let h = index.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ term.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    let len = (h >> 7) as usize % 700 + if index.is_multiple_of(97) { 9000 } else { 0 };
    Entry {
        index,
        term,
        key: h,
        kind: if index.is_multiple_of(13) {
            EntryKind::Conf
        } else {
            EntryKind::Normal
        },
        data: Bytes::from(
            (0..len)
                .map(|i| (h >> (i % 56)) as u8 ^ i as u8)
                .collect::<Vec<_>>(),
        ),
    }
}

fn say(line: String) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}

/// The child role; does nothing in a normal test run.
#[test]
fn crash_child() {
    let (Ok(dir), Ok(term)) = (std::env::var(DIR_ENV), std::env::var(TERM_ENV)) else {
        return;
    };
    let term: Term = term.parse().unwrap();
    let s = Storage::open(
        Path::new(&dir),
        opts(),
        Box::new(|_, i, t| say(format!("@@ D {i} {t}\n"))),
    )
    .unwrap();
    let r = storage_support::with_entries(&s, s.open_stream(1, None).unwrap());
    let mut rng = ChaCha8Rng::seed_from_u64(term);
    say(format!("@@ H {term}\n"));
    s.save_hard_state(1, HardState { term, vote: 1 }).unwrap();
    say(format!("@@ M {term}\n"));
    s.save_membership(1, format!("members of term {term}").as_bytes())
        .unwrap();
    let first = r.first_index;
    let mut next = r.last_index + 1;
    if next - first > 1500 {
        let k = next - 500;
        say(format!("@@ P {k}\n"));
        s.truncate_prefix(1, k).unwrap();
    }
    // As in Raft, entries that replace truncated ones carry a newer term, so a durable
    // report for a replaced entry (index, term) cannot be mistaken for its replacement.
    let mut entry_term = term << 20;
    loop {
        let first = s.first_index(1);
        if next > first && rng.gen_ratio(1, 60) {
            // Conflicting entries from an old leader.
            let from = rng.gen_range(first.max(next.saturating_sub(40))..next);
            say(format!("@@ T {from}\n"));
            s.truncate_suffix(1, from).unwrap();
            next = from;
            entry_term += 1;
        }
        let n = rng.gen_range(1..=8);
        say(format!("@@ A {next} {} {entry_term}\n", next + n - 1));
        s.append(1, (next..next + n).map(|i| entry(i, entry_term)).collect())
            .unwrap();
        next += n;
        while s.last_index(1) > s.durable_index(1) + 400 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// What the parent knows from the child's lines.
#[derive(Default)]
struct Model {
    terms: HashMap<Index, Term>,
    last: Index,
    durable: Index,
    hard_term: Term,
    /// Term whose membership blob was saved last (0: none yet).
    member_term: Term,
}

impl Model {
    fn apply(&mut self, line: &str) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| f[i].parse::<u64>().unwrap();
        match f.get(1).copied() {
            Some("A") => {
                for i in num(2)..=num(3) {
                    self.terms.insert(i, num(4));
                }
                self.last = num(3);
            }
            Some("T") => {
                self.last = num(2) - 1;
                self.durable = self.durable.min(self.last);
            }
            // A report can race with a truncation queued after it (and be printed after
            // the replacing entries); only a report that matches the current log counts.
            Some("D") if num(2) <= self.last && self.terms.get(&num(2)) == Some(&num(3)) => {
                self.durable = self.durable.max(num(2));
            }
            Some("H") => self.hard_term = num(2),
            Some("M") => self.member_term = num(2),
            _ => {}
        }
    }
}

#[test]
fn sigkill_at_random_moments_loses_nothing_reported_durable() {
    let d = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(0x5eed);
    let mut model = Model::default();
    let mut total_durable_checked = 0u64;
    let mut truncs = 0u64;
    for cycle in 0..cycles() {
        let term = cycle + 1;
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(DIR_ENV, d.path())
            .env(TERM_ENV, term.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut out = String::new();
        if cycle % 2 == 1 {
            // Half the kills land while entries are being made durable: wait for the first
            // report, so that the test does not depend on how fast the machine is.
            let mut line = String::new();
            while stdout.read_line(&mut line).unwrap() > 0 {
                out.push_str(&line);
                if line.starts_with("@@ D") {
                    break;
                }
                line.clear();
            }
            std::thread::sleep(Duration::from_millis(rng.gen_range(0..30)));
        } else {
            // The others land anywhere, recovery included.
            std::thread::sleep(Duration::from_millis(rng.gen_range(2..60)));
        }
        child.kill().unwrap();
        stdout.read_to_string(&mut out).unwrap();
        let status = child.wait().unwrap();
        // The child never stops by itself; anything but our SIGKILL is a failure in it.
        assert_eq!(
            status.signal(),
            Some(9),
            "cycle {cycle}: child ended with {status}:\n{out}"
        );
        let hard_before = model.hard_term;
        let member_before = model.member_term;
        for line in out.lines().filter(|l| l.starts_with("@@ ")) {
            truncs += line.starts_with("@@ T") as u64;
            model.apply(line);
        }

        let s = Storage::open(d.path(), opts(), Box::new(|_, _, _| {})).unwrap();
        let r = storage_support::with_entries(&s, s.open_stream(1, None).unwrap());
        let ctx = format!(
            "cycle {cycle}, durable {}, recovered {}..={}",
            model.durable, r.first_index, r.last_index
        );
        assert!(r.last_index >= model.durable, "{ctx}: durable entries lost");
        assert_eq!(
            r.entries.len() as u64,
            r.last_index + 1 - r.first_index,
            "{ctx}"
        );
        for (i, e) in r.entries.iter().enumerate() {
            assert_eq!(e.index, r.first_index + i as u64, "{ctx}: gap in the log");
            assert_eq!(
                *e,
                entry(e.index, e.term),
                "{ctx}: entry {} differs",
                e.index
            );
            if e.index <= model.durable {
                assert_eq!(
                    Some(&e.term),
                    model.terms.get(&e.index),
                    "{ctx}: entry {} has another term",
                    e.index
                );
                total_durable_checked += 1;
            }
        }
        let ht = r.hard_state.term;
        assert!(
            ht == model.hard_term || ht == hard_before || ht == term,
            "{ctx}: hard state term {ht}"
        );
        let blob = |t: Term| (t > 0).then(|| format!("members of term {t}").into_bytes());
        let m = r.membership.clone();
        assert!(
            m == blob(model.member_term) || m == blob(member_before),
            "{ctx}: membership {m:?}"
        );
        s.close().unwrap();
        // The next child starts from what is on disk now.
        model.terms = r.entries.iter().map(|e| (e.index, e.term)).collect();
        model.last = r.last_index;
        model.durable = model.durable.min(r.last_index);
        model.hard_term = ht;
        if m != blob(model.member_term) {
            model.member_term = member_before;
        }
    }
    eprintln!(
        "checked {total_durable_checked} durable entries; {truncs} truncations seen; last index {}",
        model.last
    );
    assert!(
        total_durable_checked > 0,
        "no child ever reported an entry durable"
    );
}
