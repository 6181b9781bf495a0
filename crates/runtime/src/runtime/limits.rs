//! Bounds on what peers can make this node hold in its queues (network events, user
//! messages waiting for msg_proc), and rate-limited reports of what was dropped at them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::dcf_warn;

/// Bytes of peers' requests and answers waiting for the network-events thread.
pub const NET_EVENT_BYTES: usize = 32 << 20;
/// Bytes of user messages waiting for msg_proc (64 messages of the largest size).
pub const USER_MESSAGE_BYTES: usize = 32 << 20;
/// Counted in each queued item on top of its bytes, so that empty items are bounded too.
pub const ITEM_OVERHEAD: usize = 256;
const REPORT_PERIOD: Duration = Duration::from_secs(1);

/// A node's queue bounds and drop counters, shared by the transport's handler and the
/// threads that consume the queues.
pub struct Limits {
    pub net: Budget,
    pub net_drops: Drops,
    pub user: Budget,
    pub user_drops: Drops,
    pub mailbox_drops: Drops,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            net: Budget::new(NET_EVENT_BYTES),
            net_drops: Drops::default(),
            user: Budget::new(USER_MESSAGE_BYTES),
            user_drops: Drops::default(),
            mailbox_drops: Drops::default(),
        }
    }
}

/// A byte budget shared by the producers and the consumer of one queue.
pub struct Budget {
    used: AtomicUsize,
    limit: usize,
}

impl Budget {
    pub const fn new(limit: usize) -> Budget {
        Budget {
            used: AtomicUsize::new(0),
            limit,
        }
    }

    /// Reserves `n` bytes; false (nothing reserved) when that would pass the limit. An
    /// empty queue always takes one item, whatever its size.
    pub fn take(&self, n: usize) -> bool {
        let before = self.used.fetch_add(n, Ordering::AcqRel);
        if before > 0 && before.saturating_add(n) > self.limit {
            self.used.fetch_sub(n, Ordering::AcqRel);
            return false;
        }
        true
    }

    pub fn give(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// Counts drops of one kind and logs them at most once a second, with the count since.
#[derive(Default)]
pub struct Drops {
    total: AtomicU64,
    report: Mutex<(Option<Instant>, u64)>,
}

impl Drops {
    pub fn note(&self, what: impl FnOnce() -> String) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let count = {
            let mut r = self.report.lock();
            r.1 += 1;
            if r.0.is_some_and(|t| now.duration_since(t) < REPORT_PERIOD) {
                return;
            }
            r.0 = Some(now);
            std::mem::take(&mut r.1)
        };
        dcf_warn!("dropped {count} {} (queue full)", what());
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_refuses_past_its_limit_but_takes_one_item_when_empty() {
        let b = Budget::new(100);
        assert!(b.take(1000), "an empty queue takes any one item");
        assert!(!b.take(1));
        b.give(1000);
        assert!(b.take(60));
        assert!(b.take(40));
        assert!(!b.take(1));
        b.give(40);
        assert!(b.take(1));
    }

    #[test]
    fn drops_are_counted() {
        let d = Drops::default();
        for _ in 0..5 {
            d.note(|| "things".into());
        }
        assert_eq!(d.total(), 5);
    }
}
