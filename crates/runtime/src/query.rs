//! The JSON documents of `dcf_query_stream_info`, `dcf_query_cluster_info` and
//! `dcf_query_statistics_info` (SPEC B5, Part C §4): compact, DCF's keys in DCF's order.
//! Plain data in, text out; the runtime fills the structs, ffi copies the text.
//!
//! Unlike DCF (cJSON, doubles), u64 values are printed exactly.

use std::fmt::Write as _;

use crate::types::{Index, NodeId, StreamId, Term};

/// The name of a `dcf_role_t` value; out-of-range values are "UNKNOWN".
pub fn role_name(dcf_role: u32) -> &'static str {
    crate::host::DcfRole::name_of(i64::from(dcf_role))
}

/// One stream as seen by the local node (DCF's `append_stream_info`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamInfo {
    pub stream_id: StreamId,
    pub local_node_id: NodeId,
    /// The local runtime role, including PRE_CANDIDATE / CANDIDATE / UNKNOWN.
    pub role: &'static str,
    pub term: Term,
    pub run_mode: u32,
    pub work_mode: u32,
    pub hb_interval_ms: u64,
    pub elc_timeout_ms: u64,
    pub auto_elc_pri_en: u32,
    pub elc_switch_thd: u32,
    pub group: u32,
    pub priority: u64,
    pub leader_group: u32,
    pub is_in_major: bool,
    pub applied_index: Index,
    pub commit_index: Index,
    pub first_index: Index,
    pub last_index: Index,
    /// Leader only.
    pub cluster_min_apply_idx: Option<u64>,
    /// The confirmed leader (id, ip, port); `None` prints nulls.
    pub leader: Option<(NodeId, String, u16)>,
    /// By node id.
    pub nodes: Vec<NodeInfo>,
}

/// One member in `nodes[]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeInfo {
    pub node_id: NodeId,
    pub ip: String,
    pub port: u16,
    /// "LEADER" for the confirmed leader, else the configured role (LEADER shown as FOLLOWER).
    pub role: &'static str,
    /// (next_index, match_index, apply_index); only when the local node is leader.
    pub progress: Option<(Index, Index, Index)>,
}

/// The 18 items of `dcf_query_statistics_info`, in DCF's order; `None` = no sample in the
/// window (printed as null). Sizes in MB, times in ms.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Statistics {
    pub dcf_write_count: Option<u64>,
    pub dcf_write_size_mb: Option<f64>,
    pub disk_write_ms: Option<f64>,
    pub send_pack_size_mb: Option<f64>,
    pub send_delay_ms: Option<f64>,
    pub send_wait_ms: Option<f64>,
    pub recv_delay_ms: Option<f64>,
    pub send_queue_low_count: Option<u64>,
    pub recv_queue_low_count: Option<u64>,
    pub send_queue_high_count: Option<u64>,
    pub recv_queue_high_count: Option<u64>,
    pub stg_mem_used_mb: Option<f64>,
    pub mec_send_mem_mb: Option<f64>,
    pub mec_recv_mem_mb: Option<f64>,
    pub hb_send_count: Option<u64>,
    pub hb_recv_count: Option<u64>,
    pub hb_rtt_ms: Option<f64>,
    pub mec_buddy_mem_mb: Option<f64>,
}

pub fn stream_info_json(s: &StreamInfo) -> String {
    let mut w = Writer::default();
    write_stream(&mut w, s);
    w.out
}

/// `{"local_node_id":N,"stream_list":[...]}`; pass the streams ordered by id.
pub fn cluster_info_json(local_node_id: NodeId, streams: &[StreamInfo]) -> String {
    let mut w = Writer::default();
    w.open('{');
    w.key("local_node_id");
    w.num(u64::from(local_node_id));
    w.key("stream_list");
    w.open('[');
    for s in streams {
        write_stream(&mut w, s);
    }
    w.close(']');
    w.close('}');
    w.out
}

#[derive(Clone, Copy)]
enum Stat {
    Count(Option<u64>),
    Value(Option<f64>, &'static str),
    Avg(Option<f64>, &'static str),
}

pub fn statistics_json(st: &Statistics) -> String {
    use Stat::*;
    let items: [(&str, Stat); 18] = [
        ("DCFWriteCount", Count(st.dcf_write_count)),
        ("DCFWriteSize", Value(st.dcf_write_size_mb, "MB")),
        ("DiskWrite", Avg(st.disk_write_ms, "ms")),
        ("SendPackSize", Value(st.send_pack_size_mb, "MB")),
        ("SendDelay", Avg(st.send_delay_ms, "ms")),
        ("SendWait", Avg(st.send_wait_ms, "ms")),
        ("RecvDelay", Avg(st.recv_delay_ms, "ms")),
        ("SendQueueLowCount", Count(st.send_queue_low_count)),
        ("RecvQueueLowCount", Count(st.recv_queue_low_count)),
        ("SendQueueHighCount", Count(st.send_queue_high_count)),
        ("RecvQueueHighCount", Count(st.recv_queue_high_count)),
        ("StgMemUsed", Value(st.stg_mem_used_mb, "MB")),
        ("MecSendMem", Value(st.mec_send_mem_mb, "MB")),
        ("MecRecvMem", Value(st.mec_recv_mem_mb, "MB")),
        ("HBSendCount", Count(st.hb_send_count)),
        ("HBRecvCount", Count(st.hb_recv_count)),
        ("HBRTT", Avg(st.hb_rtt_ms, "ms")),
        ("MecBuddyMem", Value(st.mec_buddy_mem_mb, "MB")),
    ];
    let mut w = Writer::default();
    w.open('{');
    w.key("statistics_info");
    w.open('[');
    for (name, stat) in items {
        w.open('{');
        w.key(name);
        let (key, value, unit) = match stat {
            Count(v) => ("value", v.map(|n| n as f64), "default"),
            Value(v, unit) => ("value", v, unit),
            Avg(v, unit) => ("avg value", v, unit),
        };
        // A NaN or infinite sample is as good as none.
        let value = value.filter(|v| v.is_finite());
        match (stat, value) {
            (_, None) => w.null(),
            (Count(Some(n)), _) => {
                w.open('{');
                w.key(key);
                w.num(n);
                w.key("unit");
                w.str(unit);
                w.close('}');
            }
            (_, Some(v)) => {
                w.open('{');
                w.key(key);
                w.float(v);
                w.key("unit");
                w.str(unit);
                w.close('}');
            }
        }
        w.close('}');
    }
    w.close(']');
    w.close('}');
    w.out
}

fn write_stream(w: &mut Writer, s: &StreamInfo) {
    w.open('{');
    w.key("stream_id");
    w.num(u64::from(s.stream_id));
    w.key("local_node_id");
    w.num(u64::from(s.local_node_id));
    w.key("role");
    w.str(s.role);
    let numbers: [(&str, u64); 15] = [
        ("term", s.term),
        ("run_mode", u64::from(s.run_mode)),
        ("work_mode", u64::from(s.work_mode)),
        ("hb_interval", s.hb_interval_ms),
        ("elc_timeout", s.elc_timeout_ms),
        ("auto_elc_pri_en", u64::from(s.auto_elc_pri_en)),
        ("elc_switch_thd", u64::from(s.elc_switch_thd)),
        ("group", u64::from(s.group)),
        ("priority", s.priority),
        ("leader_group", u64::from(s.leader_group)),
        ("is_in_major", u64::from(s.is_in_major)),
        ("applied_index", s.applied_index),
        ("commit_index", s.commit_index),
        ("first_index", s.first_index),
        ("last_index", s.last_index),
    ];
    for (key, value) in numbers {
        w.key(key);
        w.num(value);
    }
    if let Some(min) = s.cluster_min_apply_idx {
        w.key("cluster_min_apply_idx");
        w.num(min);
    }
    match &s.leader {
        Some((id, ip, port)) => {
            w.key("leader_id");
            w.num(u64::from(*id));
            w.key("leader_ip");
            w.str(ip);
            w.key("leader_port");
            w.num(u64::from(*port));
        }
        None => {
            for key in ["leader_id", "leader_ip", "leader_port"] {
                w.key(key);
                w.null();
            }
        }
    }
    w.key("nodes");
    w.open('[');
    for n in &s.nodes {
        w.open('{');
        w.key("node_id");
        w.num(u64::from(n.node_id));
        w.key("ip");
        w.str(&n.ip);
        w.key("port");
        w.num(u64::from(n.port));
        w.key("role");
        w.str(n.role);
        if let Some((next, matched, applied)) = n.progress {
            w.key("next_index");
            w.num(next);
            w.key("match_index");
            w.num(matched);
            w.key("apply_index");
            w.num(applied);
        }
        w.close('}');
    }
    w.close(']');
    w.close('}');
}

/// A compact JSON writer that tracks only whether a comma is due.
#[derive(Default)]
struct Writer {
    out: String,
    comma: bool,
}

impl Writer {
    fn sep(&mut self) {
        if self.comma {
            self.out.push(',');
        }
    }

    fn open(&mut self, c: char) {
        self.sep();
        self.out.push(c);
        self.comma = false;
    }

    fn close(&mut self, c: char) {
        self.out.push(c);
        self.comma = true;
    }

    fn key(&mut self, k: &str) {
        self.sep();
        push_string(&mut self.out, k);
        self.out.push(':');
        self.comma = false;
    }

    fn num(&mut self, v: u64) {
        self.sep();
        let _ = write!(self.out, "{v}");
        self.comma = true;
    }

    /// Integral values print as integers (as cJSON does); non-finite values as null.
    fn float(&mut self, v: f64) {
        self.sep();
        if !v.is_finite() {
            self.out.push_str("null");
        } else if v.fract() == 0.0 && v.abs() < 9.007_199_254_740_992e15 {
            let _ = write!(self.out, "{}", v as i64);
        } else {
            let _ = write!(self.out, "{v}");
        }
        self.comma = true;
    }

    fn str(&mut self, s: &str) {
        self.sep();
        push_string(&mut self.out, s);
        self.comma = true;
    }

    fn null(&mut self) {
        self.sep();
        self.out.push_str("null");
        self.comma = true;
    }
}

fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
