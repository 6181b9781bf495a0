//! Messages between replicas. Everything but the entry list is `Serialize` so the codec can
//! send headers with bincode and entry payloads raw.

use serde::{Deserialize, Serialize};

use crate::types::{Entry, Index, NodeId, Term};

/// AppendEntries without its entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendHeader {
    pub term: Term,
    pub leader: NodeId,
    pub prev_index: Index,
    pub prev_term: Term,
    /// The leader's commit; the follower clamps it to what it knows matches.
    pub commit: Index,
    pub leader_last_index: Index,
    pub leader_first_index: Index,
    pub cluster_min_applied: Index,
    pub minority: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendResponse {
    pub term: Term,
    pub reject: bool,
    /// Success: the last index known to match the leader's log. Reject: a hint where the
    /// follower's log may match (fast back-off).
    pub index: Index,
    /// Reject: the follower's term at `index`.
    pub hint_term: Term,
    /// Reject: the `prev_index` of the rejected request (detects stale rejections).
    pub reject_prev: Index,
    /// Durable and matching: what the leader may count toward the commit.
    pub durable: Index,
    pub last_index: Index,
    pub applied: Index,
    pub priority: u64,
    pub minority: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub term: Term,
    pub leader: NodeId,
    pub commit: Index,
    pub leader_last_index: Index,
    pub leader_first_index: Index,
    pub cluster_min_applied: Index,
    pub minority: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    pub term: Term,
    /// Last index known to match the leader's log.
    pub matched: Index,
    pub durable: Index,
    pub last_index: Index,
    pub applied: Index,
    pub priority: u64,
    pub minority: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteRequest {
    /// For a pre-vote: the term the candidate would campaign in.
    pub term: Term,
    pub candidate: NodeId,
    pub last_index: Index,
    pub last_term: Term,
    pub pre_vote: bool,
    /// Leadership transfer: bypasses the leader lease, not the term and log checks.
    pub force: bool,
    pub minority: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoteResponse {
    pub term: Term,
    pub granted: bool,
    pub pre_vote: bool,
    pub minority: bool,
}

/// DCF's PROMOTE_LEADER_REQ: campaign now, with a forced vote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeoutNow {
    pub term: Term,
    pub leader: NodeId,
}

/// A follower asks the leader to hand leadership to it (`dcf_promote_leader` on itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRequest {
    pub term: Term,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Append {
        header: AppendHeader,
        entries: Vec<Entry>,
    },
    AppendResponse(AppendResponse),
    Heartbeat(Heartbeat),
    HeartbeatResponse(HeartbeatResponse),
    Vote(VoteRequest),
    VoteResponse(VoteResponse),
    TimeoutNow(TimeoutNow),
    TransferRequest(TransferRequest),
}

impl Message {
    pub fn term(&self) -> Term {
        match self {
            Message::Append { header, .. } => header.term,
            Message::AppendResponse(m) => m.term,
            Message::Heartbeat(m) => m.term,
            Message::HeartbeatResponse(m) => m.term,
            Message::Vote(m) => m.term,
            Message::VoteResponse(m) => m.term,
            Message::TimeoutNow(m) => m.term,
            Message::TransferRequest(m) => m.term,
        }
    }
}
