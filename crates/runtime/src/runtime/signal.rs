//! A wake-up flag with a condition variable: many notifiers, one waiter. A notify costs an
//! atomic swap unless the waiter is asleep; only then does it take the lock and a futex call.
//! The waiter yields the CPU for a moment before it goes to sleep.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// How long a waiter yields before it sleeps. Measured with `make bench` (same build,
/// 0 against 100 us): single-writer p50 0.325 -> 0.277 ms, 64 B x16 517k -> 698k
/// entries/s with less CPU per entry (3.2 -> 2.4 s per M), 8 KiB x16 500 -> 538 MB/s; one
/// writer of 64 B entries spends about a fifth more CPU per entry. 300 us was no better.
const YIELD_BEFORE_SLEEP: Duration = Duration::from_micros(100);

#[derive(Default)]
pub struct Signal {
    pending: AtomicBool,
    /// Set by the waiter, under `lock`, before it sleeps.
    sleeping: AtomicBool,
    /// The waiter's last wait ended by a notify (only the waiter uses it): it yields
    /// before sleeping only then, so an idle thread woken by its timer does not.
    notified_last: AtomicBool,
    lock: Mutex<()>,
    cond: Condvar,
}

impl Signal {
    pub fn notify(&self) {
        // SeqCst on both flags, both sides: either the waiter sees `pending` before it
        // sleeps, or this sees `sleeping` and wakes it under the lock.
        if self.pending.swap(true, Ordering::SeqCst) {
            return;
        }
        if self.sleeping.load(Ordering::SeqCst) {
            let _g = self.lock.lock();
            self.cond.notify_one();
        }
    }

    /// The waiter sleeps (it is not running, nor yielding before it sleeps).
    pub fn is_asleep(&self) -> bool {
        self.sleeping.load(Ordering::SeqCst)
    }

    /// Waits until notified or `deadline`; clears the flag.
    pub fn wait_until(&self, deadline: Instant) {
        // Yield for a moment before sleeping: work usually follows work, and a wake-up
        // from a futex sleep costs the waker a syscall and this thread 20-40 us more on a
        // virtual machine. Yielding gives the CPU to any other runnable thread.
        if self.notified_last.load(Ordering::Relaxed) {
            let spin_end = (Instant::now() + YIELD_BEFORE_SLEEP).min(deadline);
            while Instant::now() < spin_end {
                if self.pending.swap(false, Ordering::SeqCst) {
                    return;
                }
                std::thread::yield_now();
            }
        }
        let notified = self.pending.swap(false, Ordering::SeqCst) || {
            let mut g = self.lock.lock();
            self.sleeping.store(true, Ordering::SeqCst);
            while !self.pending.load(Ordering::SeqCst) {
                if self.cond.wait_until(&mut g, deadline).timed_out() {
                    break;
                }
            }
            self.sleeping.store(false, Ordering::SeqCst);
            self.pending.swap(false, Ordering::SeqCst)
        };
        self.notified_last.store(notified, Ordering::Relaxed);
    }

    pub fn wait_for(&self, d: Duration) {
        self.wait_until(Instant::now() + d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_notify_before_the_wait_is_not_lost() {
        let s = Signal::default();
        s.notify();
        let t = Instant::now();
        s.wait_for(Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(4));
    }

    #[test]
    fn a_notify_from_another_thread_wakes_the_sleeper() {
        let s = Arc::new(Signal::default());
        let s2 = s.clone();
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            s2.notify();
        });
        let t = Instant::now();
        s.wait_for(Duration::from_secs(5));
        assert!(t.elapsed() < Duration::from_secs(4));
        h.join().unwrap();
    }
}
