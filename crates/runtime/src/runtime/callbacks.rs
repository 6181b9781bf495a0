//! The event thread (status_notify, election_notify, exception_report) and the message
//! thread (msg_proc). Both are long-lived and call thread_memctx_init first.

use std::sync::mpsc::Receiver;
use std::sync::Arc;

use bytes::Bytes;

use super::Shared;
use crate::host::{DcfException, DcfRole};
use crate::types::{NodeId, StreamId};

pub enum EventItem {
    Status(StreamId, DcfRole),
    Election(StreamId, NodeId),
    /// An exception was raised (or set by the application): reported once. DCF reports the
    /// standing one every second; an application acts on each report (DCC starts a
    /// rebuild), so each event is one report.
    Exception(StreamId, DcfException),
}

pub fn run_events(shared: Arc<Shared>, rx: Receiver<EventItem>) {
    shared.init_callback_thread();
    while let Ok(item) = rx.recv() {
        if shared.closing() {
            return;
        }
        let cbs = shared.callbacks.snapshot();
        match item {
            EventItem::Status(stream, role) => {
                if let Some(f) = cbs.status_notify {
                    f(stream, role);
                }
            }
            EventItem::Election(stream, leader) => {
                if let Some(f) = cbs.election_notify {
                    f(stream, leader);
                }
            }
            EventItem::Exception(stream, e) => {
                if let Some(f) = cbs.exception_report {
                    f(stream, e);
                }
            }
        }
    }
}

pub fn run_messages(shared: Arc<Shared>, rx: Receiver<(StreamId, NodeId, Bytes)>) {
    shared.init_callback_thread();
    while let Ok((stream, from, data)) = rx.recv() {
        if shared.closing() {
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
