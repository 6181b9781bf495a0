//! A wake-up flag with a condition variable: many notifiers, one waiter.

use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

#[derive(Default)]
pub struct Signal {
    pending: Mutex<bool>,
    cond: Condvar,
}

impl Signal {
    pub fn notify(&self) {
        let mut p = self.pending.lock();
        if !*p {
            *p = true;
            self.cond.notify_one();
        }
    }

    /// Waits until notified or `deadline`; clears the flag.
    pub fn wait_until(&self, deadline: Instant) {
        let mut p = self.pending.lock();
        if !*p {
            let _ = self.cond.wait_until(&mut p, deadline);
        }
        *p = false;
    }

    pub fn wait_for(&self, d: Duration) {
        self.wait_until(Instant::now() + d);
    }
}
