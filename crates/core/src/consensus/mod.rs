//! The replication protocol as a pure state machine, one `Replica` per stream (DESIGN.md,
//! module `consensus`). No I/O, clocks or threads: the driver passes instants in, feeds
//! messages and storage reports, and drains a `Ready` of work.
//!
//! Raft (terms, randomised timeouts, pre-vote, log matching, commit by counting entries of
//! the current term, a CONF entry opening every term) with DCF's rules: LOGGER and PASSIVE
//! roles, priorities and hand-off, weights and majority groups, minority work mode, manual
//! run mode, leadership transfer, check-quorum. Deliberate deviations from DCF (SPEC §11.6):
//! one vote per term, pre-vote persists nothing, membership changes are single-server steps
//! (voting weight moves by at most 1) effective when appended and rolled back on truncation,
//! and a follower's commit never passes the leader's. Also unlike DCF: a node answers vote
//! requests whatever its own configured role (only the candidate's membership decides whose
//! votes count; refusing can deadlock elections during a role change), and a node rebuilt
//! with an unknown base term (0) abstains from votes until a leader has sent it entries. A
//! leader that has not heard from a quorum for one election timeout steps down and sends
//! TIMEOUT_NOW to its most caught-up electable peer (see `stepdown`). A leader about to stop
//! hands over to its best peer first, and evidence that a leader's process is gone starts
//! a pre-vote at once, granted only by peers with evidence of their own (see `failover`).
//!
//! The commit index reported (`commit_index`, `Ready::commit_index`) is what may be applied:
//! held by a quorum and durable locally. A new leader accepts writes (`can_write`,
//! `Event::LeaderReady`) once the driver reports (`applied`) that everything before its
//! first entry of the term is applied.

mod admin;
pub mod codec;
mod conf;
mod election;
mod failover;
mod handoff;
mod log;
mod message;
mod plausible;
mod progress;
mod quorum;
mod replica;
mod replicate;
mod stepdown;
mod types;

pub use log::{LogSource, RecoveredLog};
pub use message::{
    AppendHeader, AppendResponse, Heartbeat, HeartbeatResponse, Message, TimeoutNow,
    TransferRequest, VoteRequest, VoteResponse,
};
pub use plausible::{Implausible, INDEX_REACH, MAX_INDEX, MAX_TERM, TERM_REACH};
pub use replica::Replica;
pub use replicate::COMMIT_NOTICE_DELAY;
pub use types::{
    AdminError, ConfChange, ConfRole, ConsensusError, Event, Exception, Member, Membership,
    PeerProgress, ProposeError, Ready, ReplicaConfig, Role, RunMode, WorkMode,
};
