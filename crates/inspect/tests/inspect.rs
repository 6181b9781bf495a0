//! dcf-inspect on data directories written by the library: a clean one, one with a flipped
//! byte in the middle of a segment, one with a torn tail, and one in use.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use bytes::Bytes;
use dcf_runtime::storage::{Storage, StorageError, StorageOptions};
use dcf_runtime::types::{Entry, EntryKind, HardState};

const N: u64 = 200;
const PAYLOAD: usize = 100;
/// Header (48) + payload padded to 8.
const REC: u64 = 48 + 104;

fn opts() -> StorageOptions {
    StorageOptions {
        sync: false,
        ..StorageOptions::default()
    }
}

/// A stream 1 of N entries, one write each (so that only the last write can be torn).
fn write_dir(dir: &Path) {
    write_dir_with(dir, opts());
}

fn write_dir_with(dir: &Path, opts: StorageOptions) {
    let s = Storage::open(dir, opts, Box::new(|_, _, _| {})).unwrap();
    s.open_stream(1, None).unwrap();
    s.save_hard_state(1, HardState { term: 3, vote: 2 })
        .unwrap();
    s.save_membership(1, br#"[{"node_id":1},{"node_id":2}]"#)
        .unwrap();
    for i in 1..=N {
        let kind = if i == 1 {
            EntryKind::Conf
        } else {
            EntryKind::Normal
        };
        let data: Vec<u8> = format!("entry {i:05} ")
            .bytes()
            .cycle()
            .take(PAYLOAD)
            .collect();
        let e = Entry {
            index: i,
            term: 3,
            key: 1000 + i,
            kind,
            data: Bytes::from(data),
        };
        s.append(1, vec![e]).unwrap();
        s.flush(1).unwrap();
    }
    s.close().unwrap();
}

fn seg1(dir: &Path) -> PathBuf {
    dir.join("stream_01/seg_0000000001.log")
}

fn run(args: &[&str], stdin: &str) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dcf-inspect"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    c.wait_with_output().unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn flip(path: &Path, at: u64, f: impl Fn(u8) -> u8) {
    let mut b = std::fs::read(path).unwrap();
    b[at as usize] = f(b[at as usize]);
    std::fs::write(path, b).unwrap();
}

#[test]
fn clean_dir_info_verify_dump() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().to_str().unwrap();
    write_dir(d.path());

    let o = run(&["info", p], "");
    let text = out(&o);
    assert!(o.status.success(), "{text}");
    // Terms as the interface reports them: one above the stored term.
    assert!(text.contains("term 4, vote 2"), "{text}");
    assert!(text.contains(r#"[{"node_id":1},{"node_id":2}]"#), "{text}");
    assert!(text.contains(&format!("1..={N} ({N} entries)")), "{text}");
    assert!(text.contains("seg_0000000001.log"), "{text}");
    assert!(text.contains("free space"), "{text}");

    let o = run(&["verify", p], "");
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        out(&o).contains(&format!("ok, {N} records checked")),
        "{}",
        out(&o)
    );

    let o = run(&["dump", p, "--from", "3", "--to", "7"], "");
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(
        text.lines().next().unwrap().contains("entry 00003"),
        "{text}"
    );

    let o = run(&["dump", p, "--from", "1", "--to", "2", "--json"], "");
    let rows: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["index"], 1);
    assert_eq!(rows[0]["kind"], "conf");
    assert_eq!(rows[1]["key"], 1002);
    assert_eq!(rows[1]["size"], PAYLOAD);
    assert_eq!(rows[1]["term"], 4);
}

#[test]
fn flipped_byte_mid_segment_is_named_and_repair_refuses() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().to_str().unwrap();
    write_dir(d.path());
    let at = (N / 2) * REC + 60; // in the payload of entry N/2 + 1
    flip(&seg1(d.path()), at, |b| b ^ 0x10);

    let o = run(&["verify", p], "");
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("DAMAGED"), "{text}");
    assert!(text.contains("seg_0000000001.log"), "{text}");
    assert!(
        text.contains(&format!("at offset {}", (N / 2) * REC)),
        "{text}"
    );

    let before = std::fs::read(seg1(d.path())).unwrap();
    let o = run(&["repair", "--yes", p], "");
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert_eq!(std::fs::read(seg1(d.path())).unwrap(), before);

    // The library refuses it too, at the same place.
    let s = Storage::open(d.path(), opts(), Box::new(|_, _, _| {})).unwrap();
    match s.open_stream(1, None) {
        Err(StorageError::Corrupt { offset, .. }) => assert_eq!(offset, (N / 2) * REC),
        r => panic!("expected corruption, got {r:?}"),
    }
}

#[test]
fn damage_in_a_sealed_indexed_segment_is_found() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().to_str().unwrap();
    // 4 KiB segments: the log spans several, the older ones sealed with an index.
    write_dir_with(
        d.path(),
        StorageOptions {
            segment_size: 4096,
            ..opts()
        },
    );
    let seg2 = d.path().join("stream_01/seg_0000000002.log");
    assert!(d.path().join("stream_01/seg_0000000002.idx").exists());
    assert!(run(&["info", p], "").status.success());
    assert!(out(&run(&["info", p], "")).contains("indexed"));
    assert_eq!(run(&["verify", p], "").status.code(), Some(0));
    flip(&seg2, REC + 60, |b| b ^ 1);

    let o = run(&["verify", p], "");
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("{} at offset {REC}: CRC mismatch", seg2.display())),
        "{text}"
    );
    assert!(
        text.contains("a start trusts the segment's index"),
        "{text}"
    );

    // As said: the stream opens, and reading the damaged entry fails.
    let s = Storage::open(d.path(), opts(), Box::new(|_, _, _| {})).unwrap();
    s.open_stream(1, None).unwrap();
    assert!(matches!(s.read_all(1), Err(StorageError::Corrupt { .. })));
}

#[test]
fn torn_tail_is_reported_and_repair_cuts_it() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().to_str().unwrap();
    write_dir(d.path());
    // Half of the last write reached the disk.
    let last = (N - 1) * REC;
    let mut b = std::fs::read(seg1(d.path())).unwrap();
    b[(last + 80) as usize..(last + REC) as usize].fill(0);
    std::fs::write(seg1(d.path()), b).unwrap();

    let o = run(&["verify", p], "");
    let text = out(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("TORN TAIL: {}", seg1(d.path()).display())),
        "{text}"
    );
    assert!(text.contains(&format!("from offset {last}")), "{text}");

    let o = run(&["repair", p], "n\n");
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(out(&o).contains(&format!(
        "will cut {} from offset {last}",
        seg1(d.path()).display()
    )));
    assert!(out(&o).contains("nothing changed"));
    assert_eq!(run(&["verify", p], "").status.code(), Some(1));

    let o = run(&["repair", "--yes", p], "");
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert_eq!(run(&["verify", p], "").status.code(), Some(0));
    let o = run(&["repair", "--yes", p], "");
    assert!(out(&o).contains("nothing to cut"), "{}", out(&o));

    let s = Storage::open(d.path(), opts(), Box::new(|_, _, _| {})).unwrap();
    let r = s.open_stream(1, None).unwrap();
    assert_eq!((r.first_index, r.last_index), (1, N - 1));
    assert_eq!(s.read_all(1).unwrap().len() as u64, N - 1);
}

#[test]
fn refuses_a_dir_in_use_unless_read_only() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().to_str().unwrap();
    write_dir(d.path());
    let s = Storage::open(d.path(), opts(), Box::new(|_, _, _| {})).unwrap();
    s.open_stream(1, None).unwrap();
    for cmd in [
        &["info", p][..],
        &["verify", p],
        &["repair", "--yes", p],
        &["repair", "--yes", "--read-only", p],
    ] {
        let o = run(cmd, "");
        assert_eq!(o.status.code(), Some(3), "{cmd:?}: {}", out(&o));
        assert!(out(&o).contains("is in use"), "{}", out(&o));
    }
    let o = run(&["info", "--read-only", p], "");
    assert!(o.status.success(), "{}", out(&o));
    s.close().unwrap();
    assert!(run(&["info", p], "").status.success());
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["info"], "").status.code(), Some(2));
    assert_eq!(run(&["frobnicate", "/tmp"], "").status.code(), Some(2));
    let o = run(&["--help"], "");
    assert!(o.status.success() && out(&o).contains("verify"));
}
