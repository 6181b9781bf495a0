//! A wake-up flag with a condition variable: many notifiers, one waiter.
//! (Spinning before sleeping was measured and made latency worse on 2 cores.)

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
