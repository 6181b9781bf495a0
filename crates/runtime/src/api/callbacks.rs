//! The application's callbacks, as safe Rust closures. The C layer wraps the C function
//! pointers; Rust tests register closures directly. Callbacks may be replaced at any time
//! (SPEC 1.1): users take a snapshot and call it with no lock held.

use std::sync::Arc;

use parking_lot::RwLock;

use crate::types::{Index, NodeId, StreamId};

/// Role values exactly as `dcf_role_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum DcfRole {
    Unknown = 0,
    Leader = 1,
    Follower = 2,
    Logger = 3,
    Passive = 4,
    PreCandidate = 5,
    Candidate = 6,
}

impl DcfRole {
    pub fn from_i32(v: i32) -> Option<DcfRole> {
        Some(match v {
            0 => DcfRole::Unknown,
            1 => DcfRole::Leader,
            2 => DcfRole::Follower,
            3 => DcfRole::Logger,
            4 => DcfRole::Passive,
            5 => DcfRole::PreCandidate,
            6 => DcfRole::Candidate,
            _ => return None,
        })
    }

    /// The exact names used in JSON documents (SPEC B5).
    pub fn name(self) -> &'static str {
        match self {
            DcfRole::Unknown => "UNKNOWN",
            DcfRole::Leader => "LEADER",
            DcfRole::Follower => "FOLLOWER",
            DcfRole::Logger => "LOGGER",
            DcfRole::Passive => "PASSIVE",
            DcfRole::PreCandidate => "PRE_CANDIDATE",
            DcfRole::Candidate => "CANDIDATE",
        }
    }
}

/// Exception values exactly as `dcf_exception_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum DcfException {
    RunningNormal = 0,
    MissingLog = 1,
}

impl DcfException {
    pub fn from_i32(v: i32) -> Option<DcfException> {
        match v {
            0 => Some(DcfException::RunningNormal),
            1 => Some(DcfException::MissingLog),
            _ => None,
        }
    }
}

pub type AfterWriterFn = dyn Fn(StreamId, Index, &[u8], u64, i32) -> i32 + Send + Sync;
pub type ConsensusNotifyFn = dyn Fn(StreamId, Index, &[u8], u64) -> i32 + Send + Sync;
pub type StatusNotifyFn = dyn Fn(StreamId, DcfRole) -> i32 + Send + Sync;
pub type ElectionNotifyFn = dyn Fn(StreamId, NodeId) -> i32 + Send + Sync;
pub type MsgProcFn = dyn Fn(StreamId, NodeId, &[u8]) -> i32 + Send + Sync;
pub type ExceptionFn = dyn Fn(StreamId, DcfException) -> i32 + Send + Sync;
pub type ThreadInitFn = dyn Fn() + Send + Sync;
/// Decrypts SSL_PWD_CIPHERTEXT into the key password.
pub type DecryptPwdFn = dyn Fn(&[u8]) -> Option<Vec<u8>> + Send + Sync;

/// The set of registered callbacks. Cloning is cheap (Arcs).
#[derive(Clone, Default)]
pub struct Callbacks {
    pub after_writer: Option<Arc<AfterWriterFn>>,
    pub consensus_notify: Option<Arc<ConsensusNotifyFn>>,
    pub status_notify: Option<Arc<StatusNotifyFn>>,
    pub election_notify: Option<Arc<ElectionNotifyFn>>,
    pub msg_proc: Option<Arc<MsgProcFn>>,
    pub exception_report: Option<Arc<ExceptionFn>>,
    pub thread_memctx_init: Option<Arc<ThreadInitFn>>,
    pub decrypt_pwd: Option<Arc<DecryptPwdFn>>,
}

/// Shared, replaceable callbacks: registration writes, every use reads a snapshot.
#[derive(Default)]
pub struct CallbackRegistry {
    inner: RwLock<Callbacks>,
}

impl CallbackRegistry {
    pub fn snapshot(&self) -> Callbacks {
        self.inner.read().clone()
    }

    pub fn update(&self, f: impl FnOnce(&mut Callbacks)) {
        f(&mut self.inner.write());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_values_match_the_c_enum() {
        for v in 0..7 {
            assert_eq!(DcfRole::from_i32(v).unwrap() as i32, v);
        }
        assert_eq!(DcfRole::from_i32(7), None);
        assert_eq!(DcfRole::from_i32(-1), None);
        assert_eq!(DcfRole::PreCandidate.name(), "PRE_CANDIDATE");
    }

    #[test]
    fn registry_replaces_and_snapshots() {
        let reg = CallbackRegistry::default();
        assert!(reg.snapshot().msg_proc.is_none());
        reg.update(|c| c.msg_proc = Some(Arc::new(|_, _, d: &[u8]| d.len() as i32)));
        let snap = reg.snapshot();
        assert_eq!((snap.msg_proc.unwrap())(1, 2, b"abc"), 3);
        reg.update(|c| c.msg_proc = None);
        assert!(reg.snapshot().msg_proc.is_none());
    }
}
