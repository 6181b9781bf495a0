//! Public data of the consensus core: roles, membership, configuration, outputs, errors.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::types::{Entry, HardState, Index, NodeId, Term};

/// The role a node has in the cluster configuration (cluster JSON, CONF entries).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ConfRole {
    /// In AUTO mode only means "campaign at once on start"; otherwise a follower.
    Leader,
    Follower,
    /// Votes and stores the log, never leads, never applies.
    Logger,
    /// Non-voting learner: receives the log and applies it.
    Passive,
}

impl ConfRole {
    /// Votes and counts toward the commit quorum.
    pub fn is_voter(self) -> bool {
        !matches!(self, ConfRole::Passive)
    }

    /// May become leader.
    pub fn is_electable(self) -> bool {
        matches!(self, ConfRole::Leader | ConfRole::Follower)
    }
}

/// The role a replica has right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Leader,
    Follower,
    Logger,
    Passive,
    PreCandidate,
    Candidate,
}

/// One node of a stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: NodeId,
    pub role: ConfRole,
    pub weight: u32,
    pub group: u32,
    pub priority: u64,
    pub ip: String,
    pub port: u16,
}

impl Member {
    /// A member with DCF's defaults (weight 1, group 0, priority 0) and no address.
    pub fn new(id: NodeId, role: ConfRole) -> Member {
        Member {
            id,
            role,
            weight: 1,
            group: 0,
            priority: 0,
            ip: String::new(),
            port: 0,
        }
    }
}

/// The complete configuration of a stream. CONF entries carry it as JSON.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub members: Vec<Member>,
}

impl Membership {
    pub fn member(&self, id: NodeId) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    pub fn contains(&self, id: NodeId) -> bool {
        self.member(id).is_some()
    }

    pub fn is_voter(&self, id: NodeId) -> bool {
        self.member(id).is_some_and(|m| m.role.is_voter())
    }

    pub fn voters(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.role.is_voter())
    }

    /// Sum of voter weights (DCF's voter_num).
    pub fn voter_weight(&self) -> u64 {
        self.voters().map(|m| u64::from(m.weight)).sum()
    }

    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain owned data to a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_json(data: &[u8]) -> Result<Membership, ConsensusError> {
        let m: Membership = serde_json::from_slice(data)
            .map_err(|e| ConsensusError::InvalidMembership(format!("bad JSON: {e}")))?;
        m.validate()?;
        Ok(m)
    }

    /// Ids are 1..=255 (DCF's node range) and unique.
    pub fn validate(&self) -> Result<(), ConsensusError> {
        for (i, m) in self.members.iter().enumerate() {
            if m.id == 0 || m.id > 255 {
                return Err(ConsensusError::InvalidMembership(format!(
                    "node id {} out of range 1..=255",
                    m.id
                )));
            }
            if self.members[..i].iter().any(|o| o.id == m.id) {
                return Err(ConsensusError::InvalidMembership(format!(
                    "node id {} listed twice",
                    m.id
                )));
            }
        }
        Ok(())
    }
}

/// DCF's RUN_MODE parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunMode {
    /// Elections on timeout.
    Auto,
    /// No elections; leadership moves only by promotion.
    Manual,
    /// No elections at all.
    Disabled,
}

/// DCF's work mode (`dcf_set_work_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorkMode {
    Normal,
    /// `vote_num` votes (each node counts 1) suffice to elect and to commit.
    Minority {
        vote_num: u32,
    },
}

impl WorkMode {
    pub fn is_minority(self) -> bool {
        matches!(self, WorkMode::Minority { .. })
    }
}

/// Parameters of one replica. Durations are virtual to the core: it only compares instants.
#[derive(Clone, Debug)]
pub struct ReplicaConfig {
    pub id: NodeId,
    pub election_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub run_mode: RunMode,
    /// AUTO_ELC_PRIORITY_EN: on = the priority set by `set_priority` counts; off = the
    /// membership's priority.
    pub auto_priority: bool,
    /// ELECTION_SWITCH_THRESHOLD: a follower does not campaign sooner than this after it
    /// accepted the current leader.
    pub switch_threshold: Duration,
    /// MAJORITY_GROUPS: every listed group that has a voter must hold a commit.
    pub majority_groups: Vec<u32>,
    /// Per-peer window of entry bytes sent and not yet acknowledged (durable on the peer):
    /// 8 MiB covers a 10 ms round trip (plus the follower's fdatasync) at over 500 MB/s.
    /// (16 MiB carried no more in make bench's wide-area cases and raised the leader's peak
    /// memory under a flood.)
    pub max_inflight_bytes: usize,
    /// Payload bytes per AppendEntries (at least one entry is always sent).
    pub max_batch_bytes: usize,
    /// Per-peer AppendEntries in flight. Under load the driver sends an append each pass,
    /// often with a few entries only; at 64 a 10 ms round trip held 8 KiB x 16 writers to
    /// 60-75% of the loopback rate. 256 full batches are the byte window.
    pub max_inflight_msgs: usize,
}

impl ReplicaConfig {
    /// DCF's defaults: T = 3 s, heartbeat T/3, AUTO, 64 KiB batches.
    pub fn new(id: NodeId) -> ReplicaConfig {
        ReplicaConfig {
            id,
            election_timeout: Duration::from_secs(3),
            heartbeat_interval: Duration::from_secs(1),
            run_mode: RunMode::Auto,
            auto_priority: true,
            switch_threshold: Duration::ZERO,
            majority_groups: Vec::new(),
            max_inflight_bytes: 8 << 20,
            max_batch_bytes: 64 << 10,
            max_inflight_msgs: 256,
        }
    }
}

/// What the leader knows of one peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerProgress {
    pub next: Index,
    pub matched: Index,
    pub applied: Index,
    pub paused: bool,
}

/// A membership change. Entry key is DCF's `(node << 32) | op`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfChange {
    AddNode(Member),
    RemoveNode(NodeId),
    /// Any of role, group, priority (DCF's `dcf_change_member`).
    Update {
        id: NodeId,
        role: Option<ConfRole>,
        group: Option<u32>,
        priority: Option<u64>,
    },
}

/// Exceptions a follower reports (DCF's exception_notify).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exception {
    /// The leader no longer holds entries this node needs (SPEC §6.7).
    MissingLog,
}

/// Things that happened, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    RoleChanged {
        role: Role,
        term: Term,
    },
    LeaderChanged {
        leader: Option<NodeId>,
    },
    /// This leader applied everything before its term and now accepts writes.
    LeaderReady {
        term: Term,
    },
    Exception(Exception),
    MembershipChanged(Membership),
    /// An evicted payload could not be read back from the log source.
    LogReadFailed {
        index: Index,
        error: String,
    },
    /// Messages refused as implausible (`count` of them since the last such event; the
    /// reason is the latest one's). At most one per second.
    Refused {
        from: NodeId,
        reason: String,
        count: u64,
    },
}

/// Work for the driver. Persist `hard_state`, then apply `truncate_from` and append
/// `entries` (asynchronously; report with `persisted`), then send `messages`.
#[derive(Clone, Debug, Default)]
pub struct Ready {
    pub hard_state: Option<HardState>,
    pub truncate_from: Option<Index>,
    pub entries: Vec<Entry>,
    pub messages: Vec<(NodeId, crate::consensus::Message)>,
    /// New commit index (committed by a quorum and durable locally) if it advanced.
    pub commit_index: Option<Index>,
    pub events: Vec<Event>,
}

impl Ready {
    pub fn is_empty(&self) -> bool {
        self.hard_state.is_none()
            && self.truncate_from.is_none()
            && self.entries.is_empty()
            && self.messages.is_empty()
            && self.commit_index.is_none()
            && self.events.is_empty()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConsensusError {
    #[error("node {0} is not a member of the stream")]
    NotAMember(NodeId),
    #[error("invalid membership: {0}")]
    InvalidMembership(String),
    #[error("recovered log: {0}")]
    BadLog(String),
}

/// Where to write instead, for error texts.
fn leader_hint(leader: Option<NodeId>) -> String {
    match leader {
        Some(l) => format!("the leader is node {l}"),
        None => "no leader is known".to_string(),
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProposeError {
    #[error("not the leader; {}", leader_hint(*.leader))]
    NotLeader { leader: Option<NodeId> },
    #[error("leader has not applied its earlier entries yet; writes not enabled")]
    NotWritable,
    #[error("leadership transfer in progress")]
    Transferring,
    #[error("a membership change is still uncommitted")]
    ConfChangePending,
    #[error("invalid membership change: {0}")]
    InvalidConfChange(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AdminError {
    #[error("not the leader")]
    NotLeader,
    #[error("no leader known")]
    NoLeader,
    #[error("node {0} is not a member of the stream")]
    UnknownNode(NodeId),
    #[error("node {node} cannot be the target: {reason}")]
    InvalidTarget { node: NodeId, reason: &'static str },
    #[error("vote_num {vote_num} out of range 1..={voters}")]
    InvalidVoteNum { vote_num: u32, voters: u32 },
}
