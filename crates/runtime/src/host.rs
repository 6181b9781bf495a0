//! What the host application sees of a node: the roles and exceptions it is told about,
//! with DCF's numbers and spellings (the one table of role names), the outcome kinds of
//! its calls, and its callbacks as safe Rust closures. The C layer wraps the C function
//! pointers; Rust tests register closures directly. Callbacks may be replaced at any time
//! (SPEC 1.1): users take a snapshot and call it with no lock held. Lower layers (runtime,
//! config, query) and the API above them all take these from here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::consensus::{ConfRole, Role};
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

/// DCF's spelling of every role, indexed by its `dcf_role_t` value (SPEC B5): the JSON
/// documents, the cluster and change documents, and the log all use this table.
const ROLE_NAMES: [(DcfRole, &str); 7] = [
    (DcfRole::Unknown, "UNKNOWN"),
    (DcfRole::Leader, "LEADER"),
    (DcfRole::Follower, "FOLLOWER"),
    (DcfRole::Logger, "LOGGER"),
    (DcfRole::Passive, "PASSIVE"),
    (DcfRole::PreCandidate, "PRE_CANDIDATE"),
    (DcfRole::Candidate, "CANDIDATE"),
];

impl DcfRole {
    pub fn from_i32(v: i32) -> Option<DcfRole> {
        usize::try_from(v)
            .ok()
            .and_then(|i| ROLE_NAMES.get(i))
            .map(|r| r.0)
    }

    /// The exact names used in JSON documents (SPEC B5).
    pub fn name(self) -> &'static str {
        ROLE_NAMES[self as usize].1
    }

    /// The name of a `dcf_role_t` value; out-of-range values are "UNKNOWN".
    pub fn name_of(value: i64) -> &'static str {
        i32::try_from(value)
            .ok()
            .and_then(DcfRole::from_i32)
            .unwrap_or(DcfRole::Unknown)
            .name()
    }

    /// Case-insensitive, like DCF's cJSON readers.
    pub fn from_name(s: &str) -> Option<DcfRole> {
        ROLE_NAMES
            .iter()
            .find(|r| r.1.eq_ignore_ascii_case(s))
            .map(|r| r.0)
    }
}

impl From<Role> for DcfRole {
    fn from(r: Role) -> DcfRole {
        match r {
            Role::Leader => DcfRole::Leader,
            Role::Follower => DcfRole::Follower,
            Role::Logger => DcfRole::Logger,
            Role::Passive => DcfRole::Passive,
            Role::PreCandidate => DcfRole::PreCandidate,
            Role::Candidate => DcfRole::Candidate,
        }
    }
}

impl From<ConfRole> for DcfRole {
    fn from(r: ConfRole) -> DcfRole {
        match r {
            ConfRole::Leader => DcfRole::Leader,
            ConfRole::Follower => DcfRole::Follower,
            ConfRole::Logger => DcfRole::Logger,
            ConfRole::Passive => DcfRole::Passive,
        }
    }
}

impl TryFrom<DcfRole> for ConfRole {
    type Error = DcfRole;
    /// Only the four roles a member can be configured with.
    fn try_from(r: DcfRole) -> Result<ConfRole, DcfRole> {
        match r {
            DcfRole::Leader => Ok(ConfRole::Leader),
            DcfRole::Follower => Ok(ConfRole::Follower),
            DcfRole::Logger => Ok(ConfRole::Logger),
            DcfRole::Passive => Ok(ConfRole::Passive),
            other => Err(other),
        }
    }
}

/// A configured role by DCF's name (case-insensitive): LEADER, FOLLOWER, LOGGER, PASSIVE.
pub fn conf_role_named(s: &str) -> Option<ConfRole> {
    DcfRole::from_name(s).and_then(|r| ConfRole::try_from(r).ok())
}

/// Outcome of a call that waits with a timeout: C gets 0 or 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waited {
    Done,
    TimedOut,
}

/// `dcf_commit_index_type_t`, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitIndexKind {
    Local,
    Leader,
    Consensus,
}

impl CommitIndexKind {
    pub fn from_i32(v: i32) -> Option<CommitIndexKind> {
        match v {
            1 => Some(CommitIndexKind::Local),
            2 => Some(CommitIndexKind::Leader),
            3 => Some(CommitIndexKind::Consensus),
            _ => None,
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
    /// Registrations so far; a `CallbackCache` re-reads when it changed.
    version: AtomicU64,
}

/// One thread's copy of the callbacks for a use per entry: a snapshot clones eight Arcs
/// under a lock, which showed in profiles of small entries.
#[derive(Default)]
pub struct CallbackCache {
    version: Option<u64>,
    callbacks: Callbacks,
}

impl CallbackRegistry {
    pub fn snapshot(&self) -> Callbacks {
        self.inner.read().clone()
    }

    pub fn update(&self, f: impl FnOnce(&mut Callbacks)) {
        f(&mut self.inner.write());
        self.version.fetch_add(1, Ordering::Release);
    }

    /// The callbacks as registered now, re-read into `cache` only after a registration;
    /// a replaced callback takes effect at the next use, as with `snapshot`.
    pub fn current<'c>(&self, cache: &'c mut CallbackCache) -> &'c Callbacks {
        let v = self.version.load(Ordering::Acquire);
        if cache.version != Some(v) {
            cache.callbacks = self.snapshot();
            cache.version = Some(v);
        }
        &cache.callbacks
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
    fn a_cache_sees_a_replaced_callback_at_the_next_use() {
        let reg = CallbackRegistry::default();
        let mut cache = CallbackCache::default();
        assert!(reg.current(&mut cache).msg_proc.is_none());
        reg.update(|c| c.msg_proc = Some(Arc::new(|_, _, _: &[u8]| 1)));
        let f = reg.current(&mut cache).msg_proc.clone().unwrap();
        assert_eq!(f(1, 1, b""), 1);
        reg.update(|c| c.msg_proc = Some(Arc::new(|_, _, _: &[u8]| 2)));
        let f = reg.current(&mut cache).msg_proc.clone().unwrap();
        assert_eq!(f(1, 1, b""), 2);
        reg.update(|c| c.msg_proc = None);
        assert!(reg.current(&mut cache).msg_proc.is_none());
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
