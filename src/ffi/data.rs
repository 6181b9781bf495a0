//! Start/stop, the write and read path, indexes and messages.

use std::os::raw::{c_char, c_int, c_uint, c_ulonglong};

use super::types::{CommitIndexTypeArg, ExceptionArg};
use super::{c_buf, c_bytes, c_str, guard, guard_int, put, put_opt};
use crate::api::{self, CommitIndexKind, DcfException};
use crate::error::DcfError;

#[no_mangle]
pub extern "C" fn dcf_start(node_id: c_uint, cfg_str: *const c_char) -> c_int {
    guard_int(|| {
        let cfg = c_str(cfg_str, "cfg_str")?;
        crate::runtime::memory::set_trim(trim_heap);
        api::global().start(node_id, cfg)
    })
}

/// Returns free heap pages to the system (glibc keeps freed small blocks otherwise).
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers
    // and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[no_mangle]
pub extern "C" fn dcf_stop() -> c_int {
    guard_int(|| api::global().stop())
}

#[no_mangle]
pub extern "C" fn dcf_write(
    stream_id: c_uint,
    buffer: *const c_char,
    length: c_uint,
    key: c_ulonglong,
    index: *mut c_ulonglong,
) -> c_int {
    guard_int(|| {
        let data = c_bytes(buffer, length, "buffer")?;
        let i = api::global().write(stream_id, data, key)?;
        put_opt(index, i);
        Ok(())
    })
}

/// Writes through the leader from any node: 0 with the leader's index, 1 on timeout.
#[no_mangle]
pub extern "C" fn dcf_universal_write(
    stream_id: c_uint,
    buffer: *const c_char,
    length: c_uint,
    key: c_ulonglong,
    index: *mut c_ulonglong,
) -> c_int {
    guard(-1, || {
        if length == 0 {
            return Err(DcfError::invalid("length is 0"));
        }
        let data = c_bytes(buffer, length, "buffer")?;
        match api::global().universal_write(stream_id, data, key)? {
            Some(i) => {
                put_opt(index, i);
                Ok(0)
            }
            None => Ok(1),
        }
    })
}

/// Copies the payload of entry `index` into `buffer`; returns its size or -1.
#[no_mangle]
pub extern "C" fn dcf_read(
    stream_id: c_uint,
    index: c_ulonglong,
    buffer: *mut c_char,
    length: c_uint,
) -> c_int {
    guard(-1, || {
        let out = c_buf(buffer, length, "buffer")?;
        let n = api::global().read(stream_id, index, out)?;
        c_int::try_from(n).map_err(|_| DcfError::invalid("entry larger than INT_MAX"))
    })
}

#[no_mangle]
pub extern "C" fn dcf_truncate(stream_id: c_uint, first_index_kept: c_ulonglong) -> c_int {
    guard_int(|| api::global().truncate(stream_id, first_index_kept))
}

#[no_mangle]
pub extern "C" fn dcf_set_applied_index(stream_id: c_uint, index: c_ulonglong) -> c_int {
    guard_int(|| api::global().set_applied_index(stream_id, index))
}

#[no_mangle]
pub extern "C" fn dcf_get_cluster_min_applied_idx(
    stream_id: c_uint,
    index: *mut c_ulonglong,
) -> c_int {
    guard_int(|| {
        put(
            index,
            api::global().cluster_min_applied(stream_id)?,
            "index",
        )
    })
}

#[no_mangle]
pub extern "C" fn dcf_get_leader_last_index(stream_id: c_uint, index: *mut c_ulonglong) -> c_int {
    guard_int(|| put(index, api::global().leader_last_index(stream_id)?, "index"))
}

#[no_mangle]
pub extern "C" fn dcf_get_last_index(stream_id: c_uint, index: *mut c_ulonglong) -> c_int {
    guard_int(|| put(index, api::global().last_index(stream_id)?, "index"))
}

#[no_mangle]
pub extern "C" fn dcf_get_node_last_disk_index(
    stream_id: c_uint,
    node_id: c_uint,
    index: *mut c_ulonglong,
) -> c_int {
    guard_int(|| {
        let i = api::global().node_last_disk_index(stream_id, node_id)?;
        put(index, i, "index")
    })
}

/// 0 with the index, 1 when the leader did not answer in time, -1 on error.
#[no_mangle]
pub extern "C" fn dcf_get_data_commit_index(
    stream_id: c_uint,
    index_type: CommitIndexTypeArg,
    index: *mut c_ulonglong,
) -> c_int {
    guard(-1, || {
        let kind = CommitIndexKind::from_i32(index_type.0).ok_or_else(|| {
            DcfError::invalid(format!("unknown dcf_commit_index_type_t {}", index_type.0))
        })?;
        if index.is_null() {
            return put(index, 0, "index").map(|_| 0);
        }
        match api::global().data_commit_index(stream_id, kind)? {
            Some(i) => put(index, i, "index").map(|_| 0),
            None => Ok(1),
        }
    })
}

#[no_mangle]
pub extern "C" fn dcf_send_msg(
    stream_id: c_uint,
    dest_node_id: c_uint,
    msg: *const c_char,
    msg_size: c_uint,
) -> c_int {
    guard_int(|| {
        let data = c_bytes(msg, msg_size, "msg")?;
        api::global().send_msg(stream_id, dest_node_id, data)
    })
}

#[no_mangle]
pub extern "C" fn dcf_broadcast_msg(
    stream_id: c_uint,
    msg: *const c_char,
    msg_size: c_uint,
) -> c_int {
    guard_int(|| {
        let data = c_bytes(msg, msg_size, "msg")?;
        api::global().broadcast_msg(stream_id, data)
    })
}

/// Cheap and harmless before start (returns 0): the redo threads call it per record.
#[no_mangle]
pub extern "C" fn dcf_set_election_priority(stream_id: c_uint, priority: c_ulonglong) -> c_int {
    guard_int(|| api::global().set_election_priority(stream_id, priority))
}

/// Sets or clears the exception reported through exception_report.
#[no_mangle]
pub extern "C" fn dcf_set_exception(stream_id: c_uint, exception: ExceptionArg) {
    guard((), || {
        let e = DcfException::from_i32(exception.0)
            .ok_or_else(|| DcfError::invalid(format!("unknown dcf_exception_t {}", exception.0)))?;
        api::global().set_exception(stream_id, e);
        Ok(())
    })
}
