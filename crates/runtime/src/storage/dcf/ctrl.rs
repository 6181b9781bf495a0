//! DCF's per-stream control files `dcf_ctrl_01` and `dcf_ctrl_02`: two copies of the hard
//! state, written alternately so that a crash mid-write leaves the other one intact.
//!
//! Each copy is 24 bytes, little-endian: version u64 (+1 per write), current term u64,
//! voted-for u32, CRC32C of the first 20 bytes u32. DCF's start takes the valid copy with
//! the higher version (the second on a tie), and when `dcf_ctrl_01` does not exist at all it
//! starts from term 1 and no vote whatever the second copy says; we read it the same way.

use crate::storage::crc::crc32c;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::storage::error::{IoContext, StorageError};

pub const CTRL_1: &str = "dcf_ctrl_01";
pub const CTRL_2: &str = "dcf_ctrl_02";
pub const CTRL_LEN: usize = 24;
const CRC_AT: usize = 20;

/// The hard state of a DCF stream, in DCF's numbering (terms start at 1; vote 0 = nobody).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ctrl {
    pub version: u64,
    pub term: u64,
    pub voted_for: u32,
    /// The copy it came from; None when neither exists (DCF's defaults).
    pub file: Option<PathBuf>,
}

/// One copy as read.
enum Copy {
    Missing,
    Bad,
    Good(Ctrl),
}

pub fn encode(version: u64, term: u64, voted_for: u32) -> [u8; CTRL_LEN] {
    let mut b = [0u8; CTRL_LEN];
    b[0..8].copy_from_slice(&version.to_le_bytes());
    b[8..16].copy_from_slice(&term.to_le_bytes());
    b[16..20].copy_from_slice(&voted_for.to_le_bytes());
    let crc = crc32c(&b[..CRC_AT]);
    b[CRC_AT..].copy_from_slice(&crc.to_le_bytes());
    b
}

fn read_copy(path: &Path) -> Result<Copy, StorageError> {
    let b = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Copy::Missing),
        Err(e) => return Err(StorageError::io("read", path, e)),
    };
    // DCF's start fails on a copy shorter than a record (it cannot read it).
    if b.len() < CTRL_LEN {
        return Err(StorageError::corrupt(
            path,
            b.len() as u64,
            format!("control file of {} bytes, {CTRL_LEN} expected", b.len()),
        ));
    }
    let word = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    let dword = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]));
    if crc32c(&b[..CRC_AT]) != word(CRC_AT) {
        return Ok(Copy::Bad);
    }
    Ok(Copy::Good(Ctrl {
        version: dword(0),
        term: dword(8),
        voted_for: word(16),
        file: Some(path.to_path_buf()),
    }))
}

/// The hard state DCF's start would load from `dir` (a `streamNN` directory).
pub fn read(dir: &Path) -> Result<Ctrl, StorageError> {
    let p1 = dir.join(CTRL_1);
    let c1 = read_copy(&p1)?;
    if matches!(c1, Copy::Missing) {
        return Ok(Ctrl {
            version: 0,
            term: 1,
            voted_for: 0,
            file: None,
        });
    }
    let c2 = read_copy(&dir.join(CTRL_2))?;
    match (c1, c2) {
        (Copy::Good(a), Copy::Good(b)) => Ok(if a.version > b.version { a } else { b }),
        (Copy::Good(a), _) => Ok(a),
        (_, Copy::Good(b)) => Ok(b),
        _ => Err(StorageError::corrupt(
            &p1,
            CRC_AT as u64,
            format!("checksum mismatch, and no valid copy in {CTRL_2} either"),
        )),
    }
}

/// Writes the state into both copies (versions 1 and 2), so no older copy can win.
pub fn write(dir: &Path, term: u64, voted_for: u32) -> Result<(), StorageError> {
    for (version, name) in [(1, CTRL_1), (2, CTRL_2)] {
        let path = dir.join(name);
        let mut f = fs::File::create(&path).ctx("create", &path)?;
        f.write_all(&encode(version, term, voted_for))
            .ctx("write", &path)?;
        f.sync_all().ctx("fsync", &path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(dir: &Path, name: &str, b: &[u8]) {
        fs::write(dir.join(name), b).unwrap();
    }

    #[test]
    fn newest_valid_copy_wins() {
        let d = tempfile::tempdir().unwrap();
        put(d.path(), CTRL_1, &encode(3, 5, 2));
        put(d.path(), CTRL_2, &encode(4, 6, 3));
        let c = read(d.path()).unwrap();
        assert_eq!((c.version, c.term, c.voted_for), (4, 6, 3));
        assert_eq!(c.file, Some(d.path().join(CTRL_2)));
        put(d.path(), CTRL_1, &encode(5, 7, 1));
        assert_eq!(read(d.path()).unwrap().term, 7);
    }

    #[test]
    fn a_damaged_copy_falls_back_to_the_other() {
        let d = tempfile::tempdir().unwrap();
        let mut bad = encode(9, 9, 9);
        bad[9] ^= 1;
        put(d.path(), CTRL_1, &encode(3, 5, 2));
        put(d.path(), CTRL_2, &bad);
        assert_eq!(read(d.path()).unwrap().term, 5);
        put(d.path(), CTRL_1, &bad);
        put(d.path(), CTRL_2, &encode(3, 4, 2));
        assert_eq!(read(d.path()).unwrap().term, 4);
    }

    #[test]
    fn both_damaged_is_an_error_naming_the_file() {
        let d = tempfile::tempdir().unwrap();
        let mut bad = encode(1, 2, 3);
        bad[0] ^= 1;
        put(d.path(), CTRL_1, &bad);
        let e = read(d.path()).unwrap_err().to_string();
        assert!(e.contains(CTRL_1) && e.contains("offset 20"), "{e}");
        put(d.path(), CTRL_1, &bad[..10]);
        let e = read(d.path()).unwrap_err().to_string();
        assert!(e.contains("offset 10"), "{e}");
    }

    #[test]
    fn no_first_copy_means_dcf_defaults() {
        let d = tempfile::tempdir().unwrap();
        put(d.path(), CTRL_2, &encode(8, 8, 8));
        let c = read(d.path()).unwrap();
        assert_eq!((c.term, c.voted_for, c.file), (1, 0, None));
        write(d.path(), 6, 2).unwrap();
        let c = read(d.path()).unwrap();
        assert_eq!((c.version, c.term, c.voted_for), (2, 6, 2));
    }
}
