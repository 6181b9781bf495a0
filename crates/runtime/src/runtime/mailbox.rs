//! A stream's mailbox: what other threads hand its driver (peers' messages, the durable
//! index, a storage failure) and the signal that wakes it. Mailboxes are made before
//! storage is opened, so storage reports into them directly: no router to streams that do
//! not exist yet, and no pointer from a stream back to the node.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::OnceLock;

use parking_lot::Mutex;

use super::signal::Signal;
use crate::consensus::Message;
use crate::error::DcfResult;
use crate::types::{Index, NodeId, Term};

/// A change to the log's ends the application asked for. The driver carries these out in
/// order with everything else, so that a truncation always sees a rewind asked before it
/// and a rewind is checked against the log as truncations left it.
pub enum Control {
    /// `dcf_truncate`: drop entries before this index (what is not applied stays).
    Truncate(Index, SyncSender<DcfResult<()>>),
    /// `dcf_set_applied_index` while running: deliver again from this index + 1.
    Rewind(Index, SyncSender<DcfResult<()>>),
}

#[derive(Default)]
pub struct Mailbox {
    /// Wakes the stream's driver.
    pub wake: Signal,
    /// Messages from peers, stepped by the driver in arrival order.
    inbox: Mutex<Vec<(NodeId, Message)>>,
    /// The durable position storage reported last (only the last matters).
    durable: Mutex<Option<(Index, Term)>>,
    /// The storage writer stopped; the driver stops the stream with this reason.
    storage_failure: OnceLock<String>,
    /// The stream stopped: peers' messages are dropped.
    closed: AtomicBool,
    /// Truncations and rewinds, in the order asked; `has_control` spares the driver the
    /// lock when there are none (nearly always).
    control: Mutex<Vec<Control>>,
    has_control: AtomicBool,
}

impl Mailbox {
    /// A message from a peer (on a network thread).
    pub fn post_message(&self, from: NodeId, msg: Message) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        self.inbox.lock().push((from, msg));
        self.wake.notify();
    }

    /// Storage made the log durable up to `index` (after a storage round). Storage rounds
    /// never overlap, so the last report is the current one: after a suffix was cut and
    /// rewritten it may be lower than a report still waiting here, which it replaces.
    pub fn post_durable(&self, index: Index, term: Term) {
        *self.durable.lock() = Some((index, term));
        self.wake.notify();
    }

    /// The storage writer failed (on its thread); the first report wins.
    pub fn post_storage_failure(&self, why: &str) {
        let _ = self.storage_failure.set(why.to_string());
        self.wake.notify();
    }

    /// The stream stopped: drop what peers send from now on.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Moves the queued messages into `into` (which the driver reuses, empty).
    pub fn take_messages(&self, into: &mut Vec<(NodeId, Message)>) {
        std::mem::swap(&mut *self.inbox.lock(), into);
    }

    /// A truncation or rewind for the driver (on the caller's thread).
    pub fn post_control(&self, c: Control) {
        self.control.lock().push(c);
        self.has_control.store(true, Ordering::Release);
        self.wake.notify();
    }

    /// The truncations and rewinds asked since the last call, oldest first.
    pub fn take_control(&self) -> Vec<Control> {
        // A load first: the driver asks every pass, and nearly always there is nothing.
        if !self.has_control.load(Ordering::Acquire)
            || !self.has_control.swap(false, Ordering::AcqRel)
        {
            return Vec::new();
        }
        std::mem::take(&mut *self.control.lock())
    }

    pub fn take_durable(&self) -> Option<(Index, Term)> {
        self.durable.lock().take()
    }

    pub fn storage_failure(&self) -> Option<&str> {
        self.storage_failure.get().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_durable_report_wins_even_when_lower() {
        // (10, term 1) was reported before its suffix was cut and rewritten as 8..9 of
        // term 2; keeping the higher stale report would leave the follower without an
        // acknowledgement for what it now holds.
        let m = Mailbox::default();
        m.post_durable(10, 1);
        m.post_durable(9, 2);
        assert_eq!(m.take_durable(), Some((9, 2)));
        assert_eq!(m.take_durable(), None);
    }
}
