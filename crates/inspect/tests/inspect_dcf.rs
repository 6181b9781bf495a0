//! dcf-inspect on DCF's layout (the fixtures the original library left, see
//! crates/runtime/tests/fixtures/dcf) and `export-dcf` back to it.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bytes::Bytes;
use dcf_runtime::storage::dcf::{adopt, log};
use dcf_runtime::storage::{Storage, StorageOptions};
use dcf_runtime::types::{Entry, EntryKind};

fn fixture(n: u32) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../runtime/tests/fixtures/dcf/node{n}"))
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn run(args: &[&str]) -> (i32, String) {
    let o: Output = Command::new(env!("CARGO_BIN_EXE_dcf-inspect"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.code().unwrap_or(-1), text)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn info_verify_and_dump_read_dcf_layout() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("n2");
    copy_dir(&fixture(2), &dir);
    let (rc, out) = run(&["info", s(&dir)]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("121..=304 (184 entries"), "{out}");
    assert!(out.contains("term 4, vote 1"), "{out}");
    assert!(out.contains("node 4 PASSIVE"), "{out}");
    assert!(out.contains(".tmp  ignored"), "{out}");
    let (rc, out) = run(&["verify", s(&dir)]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("ok, 184 entries checked"), "{out}");
    let (rc, out) = run(&["dump", s(&dir), "--from", "203", "--to", "204"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("conf") && out.contains("key 201"), "{out}");
    assert_eq!(out.lines().count(), 2, "{out}");
    let (rc, out) = run(&["repair", s(&dir), "--yes"]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("DCF's layout"), "{out}");
}

#[test]
fn verify_names_damage_and_a_torn_tail() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("n1");
    copy_dir(&fixture(1), &dir);
    let seg = dir.join("stream01/log_00000000000000000102_00000000000000000184");
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&seg)
        .unwrap();
    f.write_all_at(b"\xff\xff", 70_000).unwrap();
    let (rc, out) = run(&["verify", s(&dir)]);
    assert_eq!(rc, 1, "{out}");
    assert!(
        out.contains("DAMAGED") && out.contains(s(&seg)) && out.contains("offset"),
        "{out}"
    );

    let dir = d.path().join("n3");
    copy_dir(&fixture(3), &dir);
    let open = dir.join("stream01/log_inprogress_00000000000000000254");
    let len = fs::metadata(&open).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&open)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let (rc, out) = run(&["verify", s(&dir)]);
    assert_eq!(rc, 1, "{out}");
    assert!(
        out.contains("TORN TAIL") && out.contains("121..=303"),
        "{out}"
    );
}

#[test]
fn export_dcf_writes_what_the_reader_reads_back() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("n1");
    copy_dir(&fixture(1), &dir);
    let opts = StorageOptions::default();
    assert!(matches!(
        adopt::adopt_if_needed(&dir, &opts).unwrap(),
        adopt::Outcome::Adopted(_)
    ));
    // Entries written after the upgrade.
    let st = Storage::open(&dir, opts, Box::new(|_, _, _| {})).unwrap();
    st.open_stream(1, None).unwrap();
    let new: Vec<Entry> = (305..=314)
        .map(|i| Entry {
            index: i,
            term: 4,
            key: 9000 + i,
            kind: EntryKind::Normal,
            data: Bytes::from(vec![i as u8; 300 + i as usize]),
        })
        .collect();
    st.append(1, new.clone()).unwrap();
    st.close().unwrap();
    // Our layout is read by default, DCF's beside it on request.
    let (_, out) = run(&["info", s(&dir)]);
    assert!(out.contains("121..=314"), "{out}");
    assert!(
        out.contains("adopted DCF's data directory: stream 1: 184 entries"),
        "{out}"
    );
    let (_, out) = run(&["info", "--dcf", s(&dir)]);
    assert!(out.contains("121..=304"), "{out}");

    let out_dir = d.path().join("back");
    let (rc, out) = run(&["export-dcf", s(&dir), s(&out_dir)]);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("exported 194 entries, index 121..=314"),
        "{out}"
    );
    let (rc, out) = run(&["verify", s(&out_dir)]);
    assert_eq!(rc, 0, "{out}");
    let mut back = Vec::new();
    log::read(&out_dir.join("stream01"), |e| {
        back.push(e);
        Ok(())
    })
    .unwrap();
    assert_eq!(back.len(), 194);
    for (b, n) in back[184..].iter().zip(&new) {
        assert_eq!(
            (b.index, b.term, b.key, &b.data[..]),
            (n.index, 5, n.key, &n.data[..])
        );
    }
    let (rc, out) = run(&["export-dcf", s(&dir), s(&out_dir)]);
    assert_eq!(
        rc, 1,
        "an export never writes into a directory with files: {out}"
    );
}
