//! Plain data shared by the layers: ids, entries, hard state.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub type NodeId = u32;
pub type StreamId = u32;
pub type Index = u64;
pub type Term = u64;

/// What an entry carries: user data (`dcf_write`) or a membership change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum EntryKind {
    /// User data handed back through after_writer / consensus_notify.
    Normal = 0,
    /// A membership change (payload: the encoded new configuration). Also the new
    /// leader's first entry of its term, which plays Raft's no-op.
    Conf = 1,
}

impl EntryKind {
    pub fn from_u8(v: u8) -> Option<EntryKind> {
        match v {
            0 => Some(EntryKind::Normal),
            1 => Some(EntryKind::Conf),
            _ => None,
        }
    }
}

/// One log entry. `data` is shared, never copied on the replication path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub index: Index,
    pub term: Term,
    pub key: u64,
    pub kind: EntryKind,
    pub data: Bytes,
}

/// What must be durable before a vote or a term change is acted upon.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    pub term: Term,
    /// 0 = voted for nobody in `term`.
    pub vote: NodeId,
}
