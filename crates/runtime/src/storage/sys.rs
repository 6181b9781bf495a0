//! Every file system operation that changes what storage leaves on disk goes through here:
//! creating, writing, syncing, resizing, renaming and removing files, creating and syncing
//! directories. Each is the plain system call. Built with the `power-loss` feature (tests
//! only), each is also reported to the power-loss recorder (`storage::power`), which then
//! decides what a power cut would have left behind; the syncs of a recorded directory are
//! simulated there instead of made.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use rustix::fs::FallocateFlags;

#[cfg(feature = "power-loss")]
use super::power::{self, Op};

/// Reports `op` to the recorder covering `path`, if any; true if one did (then a sync is
/// simulated rather than made).
#[cfg(feature = "power-loss")]
fn noted(path: &Path, op: impl FnOnce(&dyn Fn(&Path) -> std::path::PathBuf) -> Op) -> bool {
    power::record(path, op)
}

/// A new, empty file (fails if it exists), open for reading and writing.
pub fn create_new(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)?;
    #[cfg(feature = "power-loss")]
    noted(path, |r| Op::Create { path: r(path) });
    Ok(f)
}

/// `path` created, or emptied if it exists, open for writing.
pub fn create(path: &Path) -> io::Result<File> {
    let f = File::create(path)?;
    #[cfg(feature = "power-loss")]
    noted(path, |r| Op::Create { path: r(path) });
    Ok(f)
}

/// Writes all of `b` at `off`.
#[cfg_attr(not(feature = "power-loss"), allow(unused_variables))]
pub fn write_all_at(file: &File, path: &Path, b: &[u8], off: u64) -> io::Result<()> {
    file.write_all_at(b, off)?;
    #[cfg(feature = "power-loss")]
    noted(path, |r| Op::Write {
        path: r(path),
        off,
        data: b.into(),
    });
    Ok(())
}

/// `len` bytes were just written at `off` of `file` (open for reading too) by pwritev.
#[cfg_attr(not(feature = "power-loss"), allow(unused_variables))]
pub fn wrote(file: &File, path: &Path, off: u64, len: u64) {
    #[cfg(feature = "power-loss")]
    noted(path, |r| {
        let mut data = vec![0u8; len as usize];
        // Read back: the bytes the write left in the file.
        if let Err(e) = file.read_exact_at(&mut data, off) {
            panic!("power-loss recorder: reading back {}: {e}", path.display());
        }
        Op::Write {
            path: r(path),
            off,
            data: data.into(),
        }
    });
}

/// fdatasync.
#[cfg_attr(not(feature = "power-loss"), allow(unused_variables))]
pub fn sync_data(file: &File, path: &Path) -> io::Result<()> {
    #[cfg(feature = "power-loss")]
    if noted(path, |r| Op::SyncFile { path: r(path) }) {
        return Ok(());
    }
    file.sync_data()
}

/// fsync.
#[cfg_attr(not(feature = "power-loss"), allow(unused_variables))]
pub fn sync_all(file: &File, path: &Path) -> io::Result<()> {
    #[cfg(feature = "power-loss")]
    if noted(path, |r| Op::SyncFile { path: r(path) }) {
        return Ok(());
    }
    file.sync_all()
}

/// ftruncate.
#[cfg_attr(not(feature = "power-loss"), allow(unused_variables))]
pub fn set_len(file: &File, path: &Path, len: u64) -> io::Result<()> {
    file.set_len(len)?;
    #[cfg(feature = "power-loss")]
    noted(path, |r| Op::SetLen { path: r(path), len });
    Ok(())
}

/// Allocated, zero-reading space up to `size` bytes (the file grows to it if shorter):
/// fallocate, or a sparse extension where the file system has no fallocate.
#[cfg_attr(not(feature = "power-loss"), allow(unused_variables))]
pub fn allocate(file: &File, path: &Path, size: u64) -> io::Result<()> {
    match rustix::fs::fallocate(file, FallocateFlags::empty(), 0, size) {
        Ok(()) => {}
        Err(rustix::io::Errno::OPNOTSUPP) => {
            if file.metadata()?.len() < size {
                file.set_len(size)?;
            }
        }
        Err(e) => return Err(e.into()),
    }
    #[cfg(feature = "power-loss")]
    noted(path, |r| Op::Allocate {
        path: r(path),
        len: size,
    });
    Ok(())
}

pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)?;
    #[cfg(feature = "power-loss")]
    noted(from, |r| Op::Rename {
        from: r(from),
        to: r(to),
    });
    Ok(())
}

/// Removes a file; one that is not there counts as removed.
pub fn remove_file(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => {
            #[cfg(feature = "power-loss")]
            noted(path, |r| Op::Remove { path: r(path) });
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates `dir` (and missing parents) if it does not exist.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir)?;
    #[cfg(feature = "power-loss")]
    noted(dir, |r| Op::Mkdir { path: r(dir) });
    Ok(())
}

/// fsync of a directory: its entries (files created, renamed or removed in it) are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(feature = "power-loss")]
    if noted(dir, |r| Op::SyncDir { path: r(dir) }) {
        return Ok(());
    }
    File::open(dir).and_then(|d| d.sync_all())
}
