//! Giving payload memory back to the system after a backlog drains. Payloads are many
//! small heap blocks; once freed, the C allocator keeps them for reuse, so a node that once
//! held MEM_POOL_MAX_SIZE of unapplied writes would keep that much resident for good. The C
//! layer installs a trim function (the C allocator is reached only there); the apply loop
//! calls it when a large backlog has drained.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Backlogs smaller than this are not worth a trim.
const TRIM_FROM: u64 = 32 << 20;

static TRIM: OnceLock<fn()> = OnceLock::new();

/// Installs the function that returns free heap memory to the system (once per process).
pub fn set_trim(f: fn()) {
    let _ = TRIM.set(f);
}

/// The largest backlog since the last trim.
#[derive(Default)]
pub struct TrimPolicy {
    peak: AtomicU64,
}

impl TrimPolicy {
    /// Notes the current backlog in bytes; trims once it fell to an eighth of a large peak.
    pub fn observe(&self, backlog: u64) {
        let peak = self.peak.fetch_max(backlog, Ordering::Relaxed).max(backlog);
        if peak >= TRIM_FROM && backlog <= peak / 8 {
            self.peak.store(backlog, Ordering::Relaxed);
            if let Some(trim) = TRIM.get() {
                trim();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_after_a_large_backlog_drains() {
        let p = TrimPolicy::default();
        for b in [1 << 20, 40 << 20, 100 << 20, 50 << 20, 20 << 20] {
            p.observe(b);
        }
        assert_eq!(p.peak.load(Ordering::Relaxed), 100 << 20);
        p.observe(10 << 20);
        // Trimmed: the peak starts again from the current backlog.
        assert_eq!(p.peak.load(Ordering::Relaxed), 10 << 20);
        p.observe(1 << 20);
        assert_eq!(p.peak.load(Ordering::Relaxed), 10 << 20);
    }
}
