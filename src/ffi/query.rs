//! Status queries: JSON documents, leader, role, health.

use std::os::raw::{c_char, c_int, c_uint, c_ulonglong};

use super::types::RoleArg;
use super::{c_buf, copy_c_string, guard, guard_int, put};
use crate::api;
use crate::error::DcfError;

/// JSON into `buffer`: strlen+1, or 0 on any failure (SPEC B5), reported with DCF's codes.
fn json_into(
    buffer: *mut c_char,
    length: c_uint,
    f: impl FnOnce() -> crate::error::DcfResult<String>,
) -> c_int {
    guard(0, || {
        let buf = c_buf(non_empty(buffer, length), length, "buffer")?;
        let written = f().and_then(|text| copy_c_string(buf, &text, "the JSON document"));
        let n = written.map_err(DcfError::into_query_failure)?;
        c_int::try_from(n).map_err(|_| DcfError::invalid("document larger than INT_MAX"))
    })
}

/// DCF reports an empty buffer as a NULL one (26).
fn non_empty(buffer: *mut c_char, length: c_uint) -> *mut c_char {
    if length == 0 {
        std::ptr::null_mut()
    } else {
        buffer
    }
}

#[no_mangle]
pub extern "C" fn dcf_query_cluster_info(buffer: *mut c_char, length: c_uint) -> c_int {
    json_into(buffer, length, || Ok(api::global().cluster_info()))
}

#[no_mangle]
pub extern "C" fn dcf_query_stream_info(
    stream_id: c_uint,
    buffer: *mut c_char,
    length: c_uint,
) -> c_int {
    json_into(buffer, length, || api::global().stream_info(stream_id))
}

/// Statistics JSON; NULL or empty buffer gives -1 (as DCF), other failures 0.
#[no_mangle]
pub extern "C" fn dcf_query_statistics_info(buffer: *mut c_char, length: c_uint) -> c_int {
    if buffer.is_null() || length == 0 {
        return guard(-1, || Err(DcfError::invalid("buffer is NULL or empty")));
    }
    json_into(buffer, length, || Ok(api::global().statistics_info()))
}

/// The current leader: 0 with ip/port/id, or 0 with ip "", port 0 and id 0 when there is none.
#[no_mangle]
pub extern "C" fn dcf_query_leader_info(
    stream_id: c_uint,
    ip: *mut c_char,
    len: c_uint,
    port: *mut c_uint,
    node_id: *mut c_uint,
) -> c_int {
    guard_int(|| {
        // As DCF: first whether the stream runs (801), then the pointers (26).
        let leader = api::global()
            .leader_info(stream_id)
            .map_err(DcfError::into_query_failure)?;
        let buf = c_buf(non_empty(ip, len), len, "ip")?;
        if port.is_null() || node_id.is_null() {
            return Err(DcfError::new(
                crate::error::ErrorCode::NullPointer,
                "port or node_id is NULL",
            ));
        }
        let (addr, p, id) = leader.unwrap_or((String::new(), 0, 0));
        copy_c_string(buf, &addr, "the leader's ip")?;
        put(port, p, "port")?;
        put(node_id, id, "node_id")
    })
}

/// 1 if the peer's byte order differs from ours, else 0; -1 on error.
#[no_mangle]
pub extern "C" fn dcf_is_diff_endian(stream_id: c_uint, dest_node_id: c_uint) -> c_int {
    guard(-1, || {
        api::global()
            .is_diff_endian(stream_id, dest_node_id)
            .map(c_int::from)
    })
}

#[no_mangle]
pub extern "C" fn dcf_get_current_term_and_role(
    stream_id: c_uint,
    term: *mut c_ulonglong,
    role: *mut RoleArg,
) -> c_int {
    guard_int(|| {
        let (t, r) = api::global().term_and_role(stream_id)?;
        put(term, t, "term")?;
        put(role, RoleArg(r as c_int), "role")
    })
}

#[no_mangle]
pub extern "C" fn dcf_node_is_healthy(
    stream_id: c_uint,
    role: *mut RoleArg,
    is_healthy: *mut c_uint,
) -> c_int {
    guard_int(|| {
        let (r, healthy) = api::global().node_is_healthy(stream_id)?;
        put(role, RoleArg(r as c_int), "role")?;
        put(is_healthy, c_uint::from(healthy), "is_healthy")
    })
}

/// Lock-light: openGauss calls it from a signal handler.
#[no_mangle]
pub extern "C" fn dcf_check_if_all_logs_applied(
    stream_id: c_uint,
    all_applied: *mut c_uint,
) -> c_int {
    guard_int(|| {
        let v = api::global().all_logs_applied(stream_id)?;
        put(all_applied, c_uint::from(v), "all_applied")
    })
}

/// 0 when the peer is connected (or is this node), -1 otherwise.
#[no_mangle]
pub extern "C" fn dcf_get_conn_status(stream_id: c_uint, dest_node_id: c_uint) -> c_int {
    guard_int(|| api::global().conn_status(stream_id, dest_node_id))
}
