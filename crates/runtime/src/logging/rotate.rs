//! Size rotation: the full file becomes `.1`, older ones move up, the oldest goes.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

fn numbered(path: &Path, n: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// dcf.rlog -> dcf.rlog.1 -> ... -> dcf.rlog.<backups>; the oldest is overwritten.
pub(super) fn rotate(path: &Path, backups: u32) -> io::Result<()> {
    if backups == 0 {
        return fs::remove_file(path);
    }
    for n in (1..backups).rev() {
        match fs::rename(numbered(path, n), numbered(path, n + 1)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    fs::rename(path, numbered(path, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_shifts_backups_and_drops_the_oldest() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("dcf.rlog");
        for gen in 0..4 {
            fs::write(&p, format!("{gen}")).unwrap();
            rotate(&p, 2).unwrap();
        }
        assert!(!p.exists());
        assert_eq!(fs::read_to_string(numbered(&p, 1)).unwrap(), "3");
        assert_eq!(fs::read_to_string(numbered(&p, 2)).unwrap(), "2");
        assert!(!numbered(&p, 3).exists());
    }
}
