//! The per-stream metadata file, replaced atomically: write `meta.tmp`, fsync it, rename it
//! over `meta`, fsync the directory. A crash leaves either the old or the new file.
//!
//! Format: `DCFM` | u32 version | u32 body length | u32 CRC32C(body) | body. Version 1's
//! body is in the project's one encoding (`crate::encoding`, bincode 1 with fixed-width
//! little-endian integers): term u64, vote u32, membership
//! (u8 0 = none, or 1, u64 length, bytes), first_index u64, base_term u64.

use crate::storage::crc::crc32c;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{IoContext, StorageError};
use super::sys;
use crate::encoding;
use crate::types::{HardState, Index, Term};

const MAGIC: &[u8; 4] = b"DCFM";
const VERSION: u32 = 1;
const PREFIX: usize = 16;
pub const META_FILE: &str = "meta";
const TMP_FILE: &str = "meta.tmp";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub hard_state: HardState,
    pub membership: Option<Vec<u8>>,
    /// The log's first index; entries below it are gone (prefix truncation or applied base).
    pub first_index: Index,
    /// Term of `first_index - 1` when known, else 0.
    pub base_term: Term,
}

impl Default for Meta {
    fn default() -> Self {
        Meta {
            hard_state: HardState::default(),
            membership: None,
            first_index: 1,
            base_term: 0,
        }
    }
}

pub fn fsync_dir(dir: &Path) -> Result<(), StorageError> {
    super::sys::sync_dir(dir).ctx("fsync directory", dir)
}

pub fn encode(meta: &Meta) -> Vec<u8> {
    let body = encoding::encode(meta);
    let mut out = Vec::with_capacity(PREFIX + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

pub fn decode(b: &[u8], path: &Path) -> Result<Meta, StorageError> {
    let bad = |offset: u64, why: &str| StorageError::corrupt(path, offset, why);
    if b.len() < PREFIX || &b[..4] != MAGIC {
        return Err(bad(0, "not a metadata file (bad magic or too short)"));
    }
    let word = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    if word(4) != VERSION {
        return Err(bad(4, "unknown metadata version"));
    }
    let len = word(8) as usize;
    if b.len() != PREFIX + len {
        return Err(bad(8, "length does not match the file size"));
    }
    let body = &b[PREFIX..];
    if crc32c(body) != word(12) {
        return Err(bad(12, "CRC mismatch"));
    }
    encoding::decode(body, body.len() as u64)
        .map_err(|e| bad(PREFIX as u64, &format!("undecodable: {e}")))
}

/// Read `dir/meta`; None if the stream has none yet.
pub fn load(dir: &Path) -> Result<Option<Meta>, StorageError> {
    let path = dir.join(META_FILE);
    match fs::read(&path) {
        Ok(b) => decode(&b, &path).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StorageError::io("read", path, e)),
    }
}

/// Durably replace `dir/meta` with `meta`.
pub fn store(dir: &Path, meta: &Meta) -> Result<(), StorageError> {
    let tmp: PathBuf = dir.join(TMP_FILE);
    let f = sys::create(&tmp).ctx("create", &tmp)?;
    sys::write_all_at(&f, &tmp, &encode(meta), 0).ctx("write", &tmp)?;
    sys::sync_all(&f, &tmp).ctx("fsync", &tmp)?;
    drop(f);
    let path = dir.join(META_FILE);
    sys::rename(&tmp, &path).ctx("rename to meta", &tmp)?;
    fsync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Meta {
        Meta {
            hard_state: HardState { term: 7, vote: 2 },
            membership: Some(b"{\"nodes\":[1,2,3]}".to_vec()),
            first_index: 100,
            base_term: 6,
        }
    }

    #[test]
    fn store_and_load() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(load(d.path()).unwrap(), None);
        store(d.path(), &sample()).unwrap();
        assert_eq!(load(d.path()).unwrap(), Some(sample()));
        let mut m = sample();
        m.hard_state.term = 8;
        store(d.path(), &m).unwrap();
        assert_eq!(load(d.path()).unwrap(), Some(m));
        assert!(!d.path().join(TMP_FILE).exists());
    }

    /// `encode(&sample())` as version 1 writes it: the bytes of existing `meta` files, which
    /// must stay readable whatever encoder a later version uses.
    const VERSION_1_SAMPLE: &str = "4443464d0100000036000000e13aa1e1\
        07000000000000000200000001110000000000000\
        07b226e6f646573223a5b312c322c335d7d64000000000000000600000000000000";

    #[test]
    fn version_1_files_stay_readable() {
        let text: String = VERSION_1_SAMPLE.split_whitespace().collect();
        let bytes: Vec<u8> = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(decode(&bytes, Path::new("meta")).unwrap(), sample());
        assert_eq!(encode(&sample()), bytes);
    }

    #[test]
    fn any_bit_flip_or_truncation_is_an_error() {
        let p = Path::new("meta");
        let b = encode(&sample());
        for bit in 0..b.len() * 8 {
            let mut c = b.clone();
            c[bit / 8] ^= 1 << (bit % 8);
            assert!(decode(&c, p).is_err(), "bit {bit}");
        }
        for len in 0..b.len() {
            assert!(decode(&b[..len], p).is_err(), "len {len}");
        }
    }
}
