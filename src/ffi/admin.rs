//! Membership, leadership and replication control. Waiting calls return 0 (done),
//! 1 (timed out; may still complete) or -1.

use std::os::raw::{c_char, c_int, c_uint};

use super::types::{RoleArg, WorkModeArg};
use super::{c_str, guard, guard_int};
use crate::api::{self, DcfRole, Waited};
use crate::error::{DcfError, DcfResult};

fn waited(f: impl FnOnce() -> DcfResult<Waited>) -> c_int {
    guard(-1, || {
        f().map(|w| match w {
            Waited::Done => 0,
            Waited::TimedOut => 1,
        })
    })
}

fn role_arg(role: RoleArg) -> DcfResult<DcfRole> {
    DcfRole::from_i32(role.0)
        .ok_or_else(|| DcfError::invalid(format!("unknown dcf_role_t {}", role.0)))
}

#[no_mangle]
pub extern "C" fn dcf_add_member(
    stream_id: c_uint,
    node_id: c_uint,
    ip: *const c_char,
    port: c_uint,
    role: RoleArg,
    wait_timeout_ms: c_uint,
) -> c_int {
    waited(|| {
        let ip = c_str(ip, "ip")?;
        let role = role_arg(role)?;
        api::global().add_member(stream_id, node_id, ip, port, role, wait_timeout_ms)
    })
}

#[no_mangle]
pub extern "C" fn dcf_remove_member(
    stream_id: c_uint,
    node_id: c_uint,
    wait_timeout_ms: c_uint,
) -> c_int {
    waited(|| api::global().remove_member(stream_id, node_id, wait_timeout_ms))
}

#[no_mangle]
pub extern "C" fn dcf_change_member_role(
    stream_id: c_uint,
    node_id: c_uint,
    new_role: RoleArg,
    wait_timeout_ms: c_uint,
) -> c_int {
    waited(|| {
        let role = role_arg(new_role)?;
        api::global().change_member_role(stream_id, node_id, role, wait_timeout_ms)
    })
}

#[no_mangle]
pub extern "C" fn dcf_change_member(change_str: *const c_char, wait_timeout_ms: c_uint) -> c_int {
    waited(|| {
        let json = c_str(change_str, "change_str")?;
        api::global().change_member(json, wait_timeout_ms)
    })
}

/// 0 once the promotion was initiated; -1 on failure or timeout (never 1, as DCF).
#[no_mangle]
pub extern "C" fn dcf_promote_leader(
    stream_id: c_uint,
    node_id: c_uint,
    wait_timeout_ms: c_uint,
) -> c_int {
    guard_int(|| api::global().promote_leader(stream_id, node_id, wait_timeout_ms))
}

#[no_mangle]
pub extern "C" fn dcf_timeout_notify(stream_id: c_uint) -> c_int {
    guard_int(|| api::global().timeout_notify(stream_id))
}

#[no_mangle]
pub extern "C" fn dcf_set_work_mode(
    stream_id: c_uint,
    work_mode: WorkModeArg,
    vote_num: c_uint,
) -> c_int {
    guard_int(|| {
        let minority = match work_mode.0 {
            0 => false,
            1 => true,
            v => return Err(DcfError::invalid(format!("unknown dcf_work_mode_t {v}"))),
        };
        api::global().set_work_mode(stream_id, minority, vote_num)
    })
}

#[no_mangle]
pub extern "C" fn dcf_pause_rep(stream_id: c_uint, node_id: c_uint, time_us: c_uint) -> c_int {
    guard_int(|| api::global().pause_rep(stream_id, node_id, time_us))
}

#[no_mangle]
pub extern "C" fn dcf_demote_follower(stream_id: c_uint) -> c_int {
    guard_int(|| api::global().demote_follower(stream_id))
}
