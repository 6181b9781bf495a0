//! The event thread (status_notify, election_notify, exception_report) and the message
//! thread (msg_proc). Both are long-lived and call thread_memctx_init first.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::Shared;
use crate::host::DcfRole;
use crate::types::{NodeId, StreamId};

/// Exceptions are reported again this often while they stand (as DCF).
const EXCEPTION_PERIOD: Duration = Duration::from_secs(1);

pub enum EventItem {
    Status(StreamId, DcfRole),
    Election(StreamId, NodeId),
    /// Report the standing exception now rather than at the next period.
    ExceptionRaised,
}

pub fn run_events(shared: Arc<Shared>, rx: Receiver<EventItem>) {
    shared.init_callback_thread();
    let mut next_report = Instant::now() + EXCEPTION_PERIOD;
    loop {
        let wait = next_report.saturating_duration_since(Instant::now());
        let item = match rx.recv_timeout(wait) {
            Ok(item) => Some(item),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if shared.stopping() {
            return;
        }
        let cbs = shared.callbacks.snapshot();
        match item {
            Some(EventItem::Status(stream, role)) => {
                if let Some(f) = cbs.status_notify {
                    f(stream, role);
                }
            }
            Some(EventItem::Election(stream, leader)) => {
                if let Some(f) = cbs.election_notify {
                    f(stream, leader);
                }
            }
            Some(EventItem::ExceptionRaised) => next_report = Instant::now(),
            None => {}
        }
        if Instant::now() >= next_report {
            next_report = Instant::now() + EXCEPTION_PERIOD;
            let standing = *shared.exception.lock();
            if let (Some((stream, e)), Some(f)) = (standing, cbs.exception_report) {
                f(stream, e);
            }
        }
    }
}

pub fn run_messages(shared: Arc<Shared>, rx: Receiver<(StreamId, NodeId, Bytes)>) {
    shared.init_callback_thread();
    while let Ok((stream, from, data)) = rx.recv() {
        if shared.stopping() {
            return;
        }
        if let Some(f) = shared.callbacks.snapshot().msg_proc {
            f(stream, from, &data);
        }
        shared
            .limits
            .user
            .give(data.len() + super::limits::ITEM_OVERHEAD);
    }
}
