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
    #[cfg(feature = "power-loss")]
    rounds: parking_lot::Mutex<Rounds>,
    #[cfg(feature = "power-loss")]
    rounds_cv: parking_lot::Condvar,
}

/// Which operations the writer's next round takes, when a test holds its rounds.
#[cfg(feature = "power-loss")]
#[derive(Debug, Default)]
struct Rounds {
    held: bool,
    /// The next round takes this many queued operations.
    permit: Option<usize>,
    /// The writer finished its last round and waits for work.
    idle: bool,
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

    /// From now on the writer's rounds go only as `next_round` allows, so that the same
    /// calls give the same rounds, and the same operations on disk, on every run.
    #[cfg(feature = "power-loss")]
    pub fn hold_rounds(&self) {
        self.rounds.lock().held = true;
    }

    /// Waits until the writer has finished its round and waits for work; its next round
    /// takes the next `n` operations queued, once all are there.
    #[cfg(feature = "power-loss")]
    pub fn next_round(&self, n: usize) {
        let mut r = self.rounds.lock();
        while !(r.idle && r.permit.is_none()) {
            self.rounds_cv.wait(&mut r);
        }
        r.permit = Some(n);
    }

    /// The writer waits for work.
    #[cfg(feature = "power-loss")]
    pub(crate) fn writer_idle(&self) {
        self.rounds.lock().idle = true;
        self.rounds_cv.notify_all();
    }

    /// Whether the writer may take the `queued` operations as a round.
    #[cfg(feature = "power-loss")]
    pub(crate) fn may_take(&self, queued: usize) -> bool {
        let mut r = self.rounds.lock();
        if r.held {
            match r.permit {
                Some(n) if queued >= n => r.permit = None,
                _ => return false,
            }
        }
        r.idle = false;
        true
    }

    /// Whether a round may run on a thread other than the writer's (`Storage::append_here`):
    /// not while a test holds the rounds, which it counts on the writer thread.
    pub(crate) fn rounds_may_run_anywhere(&self) -> bool {
        #[cfg(feature = "power-loss")]
        return !self.rounds.lock().held;
        #[cfg(not(feature = "power-loss"))]
        true
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
