//! The safe Rust interface. `Dcf` is the process-wide instance behind the C functions; it
//! holds what must exist before `dcf_start` (callbacks, the applied-index seeds, priorities)
//! and the running node, if any.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwapOption;
use parking_lot::Mutex;

pub use crate::host::*;

use crate::config::Params;
use crate::error::{DcfError, DcfResult, ErrorCode};
use crate::logging::{LogLevel, LogType};
use crate::runtime::{ExceptionSlot, FaultSeam, Node, NodeConfig};
use crate::types::{Index, NodeId, StreamId, Term};

/// Valid stream ids are 1..=63 and node ids 1..=255 (SPEC Part C §0).
pub const MAX_STREAM_ID: u32 = 63;
pub const MAX_NODE_ID: u32 = 255;
/// Largest message for `dcf_send_msg` / `dcf_broadcast_msg` (SPEC B5).
pub const MAX_MSG_SIZE: usize = 512 * 1024;

/// The log_output bridge: (log type, level, file, line, message).
pub type LogSinkFn = dyn Fn(i32, i32, &str, u32, &str) + Send + Sync;

pub fn check_stream(stream: StreamId) -> DcfResult<()> {
    if stream == 0 || stream > MAX_STREAM_ID {
        return Err(DcfError::new(
            ErrorCode::UnknownStream,
            format!("stream id {stream} is outside 1..={MAX_STREAM_ID}"),
        ));
    }
    Ok(())
}

/// The largest index the library accepts from a caller: far beyond any real log, and low
/// enough that index arithmetic (index + 1, sums of lengths) never wraps.
pub const MAX_INDEX: u64 = i64::MAX as u64;

/// Indexes from the caller stay below `MAX_INDEX`, so that no arithmetic on them wraps.
pub fn check_index(index: Index) -> DcfResult<()> {
    if index > MAX_INDEX {
        return Err(DcfError::invalid(format!(
            "index {index} is out of range (at most {MAX_INDEX})"
        )));
    }
    Ok(())
}

pub fn check_node(node: NodeId) -> DcfResult<()> {
    if node == 0 || node > MAX_NODE_ID {
        return Err(DcfError::new(
            ErrorCode::UnknownNode,
            format!("node id {node} is outside 1..={MAX_NODE_ID}"),
        ));
    }
    Ok(())
}

pub fn set_param(name: &str, value: &str) -> DcfResult<()> {
    Ok(crate::config::set_param(name, value)?)
}

pub fn get_param(name: &str) -> DcfResult<String> {
    Ok(crate::config::get_param(name)?)
}

/// Routes the library's log lines to the host (`dcf_register_log_output`); None = files.
pub fn set_log_sink(sink: Option<Arc<LogSinkFn>>) {
    crate::logging::set_sink(sink.map(|f| {
        Arc::new(
            move |ty: LogType, level: LogLevel, file: &str, line: u32, msg: &str| {
                f(ty as i32, level as i32, file, line, msg)
            },
        ) as crate::logging::Sink
    }));
}

/// The process-wide instance used by the C interface.
pub fn global() -> &'static Dcf {
    static DCF: OnceLock<Dcf> = OnceLock::new();
    DCF.get_or_init(Dcf::default)
}

/// One DCF instance: callbacks, pre-start settings and the running node, if any. The C
/// interface uses `global()`; Rust programs and tests may create several (one node each).
pub struct Dcf {
    callbacks: Arc<CallbackRegistry>,
    /// `dcf_set_applied_index` before start: the apply cursor to start from.
    applied_seeds: Mutex<HashMap<StreamId, Index>>,
    trace_key: AtomicU64,
    exception: Arc<ExceptionSlot>,
    node: ArcSwapOption<Node>,
    /// Serialises start and stop.
    lifecycle: Mutex<()>,
    /// Parameters of this instance; `None` reads the process-wide table at start.
    params: Option<Params>,
    faults: Arc<FaultSeam>,
}

impl Default for Dcf {
    fn default() -> Dcf {
        Dcf {
            callbacks: Arc::default(),
            applied_seeds: Mutex::default(),
            trace_key: AtomicU64::new(0),
            exception: Arc::default(),
            node: ArcSwapOption::empty(),
            lifecycle: Mutex::new(()),
            params: None,
            faults: Arc::default(),
        }
    }
}

macro_rules! running {
    ($self:ident, $stream:expr) => {{
        check_stream($stream)?;
        $self.node()?
    }};
}

impl Dcf {
    /// An instance with its own parameters (the process-wide table is not used).
    pub fn with_params(params: Params) -> Dcf {
        Dcf {
            params: Some(params),
            ..Dcf::default()
        }
    }

    /// The seam through which tests make this node's disk fail or cut its links.
    pub fn faults(&self) -> &Arc<FaultSeam> {
        &self.faults
    }

    pub fn callbacks(&self) -> &Arc<CallbackRegistry> {
        &self.callbacks
    }

    fn node(&self) -> DcfResult<Arc<Node>> {
        self.node.load_full().ok_or_else(DcfError::not_started)
    }

    pub fn is_started(&self) -> bool {
        self.node.load().is_some()
    }

    /// Starts the node and returns without waiting for an election. Already started: Ok.
    pub fn start(&self, node_id: NodeId, cfg: &str) -> DcfResult<()> {
        let _guard = self.lifecycle.lock();
        if self.is_started() {
            return Ok(());
        }
        let members = parse_cluster(cfg)?;
        check_node(node_id)?;
        if !members.iter().any(|m| m.node_id == node_id) {
            return Err(DcfError::new(
                ErrorCode::ParseConfig,
                format!("node {node_id} does not appear in the cluster configuration"),
            ));
        }
        let params = match &self.params {
            Some(p) => p.clone(),
            None => {
                let p = crate::config::snapshot();
                crate::logging::init(p.log_config()).map_err(|e| {
                    DcfError::new(
                        ErrorCode::InitLogger,
                        format!("Failed to init logger module: {e}"),
                    )
                })?;
                p
            }
        };
        let node = Node::start(NodeConfig {
            node_id,
            members,
            params,
            callbacks: self.callbacks.clone(),
            applied_seeds: self.applied_seeds.lock().clone(),
            exception: self.exception.clone(),
            faults: self.faults.clone(),
        });
        // Used once (or the start failed): the next dcf_start needs it set again.
        if self.params.is_none() {
            crate::config::forget_key_password();
        }
        let node = node?;
        self.node.store(Some(Arc::new(node)));
        Ok(())
    }

    /// Stops and joins everything. Idempotent: Ok when not started.
    pub fn stop(&self) -> DcfResult<()> {
        let _guard = self.lifecycle.lock();
        let Some(node) = self.node.load_full() else {
            return Ok(());
        };
        node.stop()?;
        self.node.store(None);
        self.applied_seeds.lock().clear();
        Ok(())
    }

    pub fn write(&self, stream: StreamId, data: &[u8], key: u64) -> DcfResult<Index> {
        running!(self, stream).write(stream, data, key)
    }

    pub fn universal_write(
        &self,
        stream: StreamId,
        data: &[u8],
        key: u64,
    ) -> DcfResult<Option<Index>> {
        running!(self, stream).universal_write(stream, data, key)
    }

    pub fn read(&self, stream: StreamId, index: Index, out: &mut [u8]) -> DcfResult<usize> {
        running!(self, stream).read(stream, index, out)
    }

    pub fn truncate(&self, stream: StreamId, first_kept: Index) -> DcfResult<()> {
        check_index(first_kept)?;
        running!(self, stream).truncate(stream, first_kept)
    }

    /// Before start: remembered as the apply cursor (and the base of an empty log).
    /// While running: entries after `index` are delivered again.
    pub fn set_applied_index(&self, stream: StreamId, index: Index) -> DcfResult<()> {
        check_stream(stream)?;
        check_index(index)?;
        match self.node.load_full() {
            Some(node) => node.set_applied_index(stream, index),
            None => {
                self.applied_seeds.lock().insert(stream, index);
                Ok(())
            }
        }
    }

    pub fn cluster_min_applied(&self, stream: StreamId) -> DcfResult<Index> {
        running!(self, stream).cluster_min_applied(stream)
    }

    pub fn leader_last_index(&self, stream: StreamId) -> DcfResult<Index> {
        running!(self, stream).leader_last_index(stream)
    }

    pub fn last_index(&self, stream: StreamId) -> DcfResult<Index> {
        running!(self, stream).last_index(stream)
    }

    pub fn node_last_disk_index(&self, stream: StreamId, node: NodeId) -> DcfResult<Index> {
        check_node(node)?;
        running!(self, stream).node_last_disk_index(stream, node)
    }

    pub fn data_commit_index(
        &self,
        stream: StreamId,
        kind: CommitIndexKind,
    ) -> DcfResult<Option<Index>> {
        running!(self, stream).data_commit_index(stream, kind)
    }

    pub fn send_msg(&self, stream: StreamId, dest: NodeId, data: &[u8]) -> DcfResult<()> {
        check_node(dest)?;
        check_msg(data)?;
        running!(self, stream).send_msg(stream, dest, data)
    }

    pub fn broadcast_msg(&self, stream: StreamId, data: &[u8]) -> DcfResult<()> {
        check_msg(data)?;
        running!(self, stream).broadcast_msg(stream, data)
    }

    /// Harmless before start: the redo threads call it for every record.
    pub fn set_election_priority(&self, stream: StreamId, priority: u64) -> DcfResult<()> {
        check_stream(stream)?;
        match self.node.load_full() {
            Some(node) => node.set_election_priority(stream, priority),
            None => Ok(()),
        }
    }

    /// Sets (or with RUNNING_NORMAL clears) the exception slot. Setting one while running
    /// reports it once, as a raised one is (DCC re-arms a failed rebuild this way).
    pub fn set_exception(&self, stream: StreamId, exception: DcfException) {
        match (exception, self.node.load_full()) {
            (DcfException::RunningNormal, _) => *self.exception.lock() = None,
            (e, Some(node)) => node.raise_exception(stream, e),
            (e, None) => *self.exception.lock() = Some((stream, e)),
        }
    }

    pub fn exception(&self) -> Option<(StreamId, DcfException)> {
        *self.exception.lock()
    }

    pub fn set_trace_key(&self, key: u64) {
        self.trace_key.store(key, Ordering::Relaxed);
    }

    pub fn cluster_info(&self) -> String {
        match self.node.load_full() {
            Some(node) => node.cluster_info(),
            None => r#"{"local_node_id":0,"stream_list":[]}"#.to_string(),
        }
    }

    pub fn stream_info(&self, stream: StreamId) -> DcfResult<String> {
        running!(self, stream).stream_info(stream)
    }

    pub fn statistics_info(&self) -> String {
        let st = match self.node.load_full() {
            Some(node) => node.statistics(),
            None => crate::query::Statistics::default(),
        };
        crate::query::statistics_json(&st)
    }

    /// `Some((ip, port, node_id))` of the current leader, `None` when there is none.
    pub fn leader_info(&self, stream: StreamId) -> DcfResult<Option<(String, u32, NodeId)>> {
        running!(self, stream).leader_info(stream)
    }

    pub fn is_diff_endian(&self, stream: StreamId, dest: NodeId) -> DcfResult<bool> {
        check_node(dest)?;
        running!(self, stream).is_diff_endian(stream, dest)
    }

    pub fn term_and_role(&self, stream: StreamId) -> DcfResult<(Term, DcfRole)> {
        running!(self, stream).term_and_role(stream)
    }

    pub fn node_is_healthy(&self, stream: StreamId) -> DcfResult<(DcfRole, bool)> {
        running!(self, stream).node_is_healthy(stream)
    }

    pub fn all_logs_applied(&self, stream: StreamId) -> DcfResult<bool> {
        running!(self, stream).all_logs_applied(stream)
    }

    pub fn conn_status(&self, stream: StreamId, dest: NodeId) -> DcfResult<()> {
        check_node(dest)?;
        running!(self, stream).conn_status(stream, dest)
    }

    pub fn add_member(
        &self,
        stream: StreamId,
        node: NodeId,
        ip: &str,
        port: u32,
        role: DcfRole,
        wait_ms: u32,
    ) -> DcfResult<Waited> {
        check_node(node)?;
        running!(self, stream).add_member(stream, node, ip, port, role, wait_ms)
    }

    pub fn remove_member(&self, stream: StreamId, node: NodeId, wait_ms: u32) -> DcfResult<Waited> {
        check_node(node)?;
        running!(self, stream).remove_member(stream, node, wait_ms)
    }

    pub fn change_member_role(
        &self,
        stream: StreamId,
        node: NodeId,
        role: DcfRole,
        wait_ms: u32,
    ) -> DcfResult<Waited> {
        check_node(node)?;
        running!(self, stream).change_member_role(stream, node, role, wait_ms)
    }

    pub fn change_member(&self, json: &str, wait_ms: u32) -> DcfResult<Waited> {
        self.node()?.change_member(json, wait_ms)
    }

    pub fn promote_leader(&self, stream: StreamId, node: NodeId, wait_ms: u32) -> DcfResult<()> {
        check_node(node)?;
        running!(self, stream).promote_leader(stream, node, wait_ms)
    }

    pub fn timeout_notify(&self, stream: StreamId) -> DcfResult<()> {
        running!(self, stream).timeout_notify(stream)
    }

    pub fn set_work_mode(&self, stream: StreamId, minority: bool, vote_num: u32) -> DcfResult<()> {
        running!(self, stream).set_work_mode(stream, minority, vote_num)
    }

    pub fn pause_rep(&self, stream: StreamId, node: NodeId, time_us: u32) -> DcfResult<()> {
        check_node(node)?;
        if time_us > 1_000_000 && time_us != u32::MAX {
            return Err(DcfError::invalid(format!(
                "pause time {time_us} us is above 1000000 (0xFFFFFFFF means indefinite)"
            )));
        }
        running!(self, stream).pause_rep(stream, node, time_us)
    }

    pub fn demote_follower(&self, stream: StreamId) -> DcfResult<()> {
        running!(self, stream).demote_follower(stream)
    }
}

/// The cluster JSON of `dcf_start`, with DCF's error code for a bad document.
pub fn parse_cluster(cfg: &str) -> DcfResult<Vec<crate::config::MemberConfig>> {
    crate::config::parse_cluster(cfg).map_err(|e| {
        DcfError::new(
            ErrorCode::ParseConfig,
            format!("bad cluster configuration: {e}"),
        )
    })
}

fn check_msg(data: &[u8]) -> DcfResult<()> {
    if data.is_empty() {
        return Err(DcfError::invalid("message is empty"));
    }
    if data.len() > MAX_MSG_SIZE {
        return Err(DcfError::new(
            ErrorCode::MessageTooLarge,
            format!(
                "message of {} bytes exceeds the limit of {MAX_MSG_SIZE}",
                data.len()
            ),
        ));
    }
    Ok(())
}
