//! A seam for tests: make the disk fail or slow down on demand (DESIGN.md "Failures").
//! Production code never sets a fault; each check is one relaxed atomic load.

use std::io;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

/// Which disk operation a fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultOp {
    /// pwritev of log records.
    Write,
    /// fdatasync of a segment.
    Sync,
    /// Reading records back (lagging followers, the apply loop, dcf_read).
    Read,
}

#[derive(Debug, Default)]
pub struct Faults {
    write_errno: AtomicI32,
    sync_errno: AtomicI32,
    read_errno: AtomicI32,
    sync_delay_us: AtomicU64,
}

impl Faults {
    fn slot(&self, op: FaultOp) -> &AtomicI32 {
        match op {
            FaultOp::Write => &self.write_errno,
            FaultOp::Sync => &self.sync_errno,
            FaultOp::Read => &self.read_errno,
        }
    }

    /// From now on `op` fails with `errno` (e.g. `libc::EIO`, `libc::ENOSPC`); 0 clears.
    pub fn fail(&self, op: FaultOp, errno: i32) {
        self.slot(op).store(errno, Ordering::Relaxed);
    }

    /// Every sync takes `d` longer.
    pub fn slow_sync(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sync_delay_us.store(us, Ordering::Relaxed);
    }

    pub fn clear(&self) {
        for op in [FaultOp::Write, FaultOp::Sync, FaultOp::Read] {
            self.fail(op, 0);
        }
        self.slow_sync(Duration::ZERO);
    }

    /// The injected error for `op`, if any (and the injected delay of a sync).
    pub(crate) fn check(&self, op: FaultOp) -> io::Result<()> {
        if op == FaultOp::Sync {
            let us = self.sync_delay_us.load(Ordering::Relaxed);
            if us > 0 {
                std::thread::sleep(Duration::from_micros(us));
            }
        }
        match self.slot(op).load(Ordering::Relaxed) {
            0 => Ok(()),
            errno => Err(io::Error::from_raw_os_error(errno)),
        }
    }
}
