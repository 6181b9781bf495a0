//! The C types of `dcf_interface.h`: the four enumerations and the nine callback typedefs.
//!
//! The enumerations are declared here for the header only. Values that arrive from C are taken
//! as the `*Arg` integer newtypes (rendered by cbindgen under the enum's C name) and checked
//! before use, because a C caller may pass any integer and an invalid Rust enum is undefined
//! behaviour.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_uint, c_ulonglong, c_void};

/// `dcf_role_t`
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum dcf_role_t {
    DCF_ROLE_UNKNOWN = 0,
    DCF_ROLE_LEADER = 1,
    DCF_ROLE_FOLLOWER = 2,
    DCF_ROLE_LOGGER = 3,
    DCF_ROLE_PASSIVE = 4,
    DCF_ROLE_PRE_CANDIDATE = 5,
    DCF_ROLE_CANDIDATE = 6,
    DCF_ROLE_CEIL = 7,
}

/// `dcf_exception_t`
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum dcf_exception_t {
    DCF_RUNNING_NORMAL = 0,
    DCF_EXCEPTION_MISSING_LOG = 1,
    DCF_EXCEPTION_CEIL = 2,
}

/// `dcf_commit_index_type_t`
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum dcf_commit_index_type_t {
    DCF_INDEX_UNKNOWN = 0,
    DCF_LOCAL_COMMIT_INDEX = 1,
    DCF_LEADER_COMMIT_INDEX = 2,
    DCF_CONSENSUS_COMMIT_INDEX = 3,
    DCF_INDEX_LEVEL_CEIL = 4,
}

/// `dcf_work_mode_t`
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum dcf_work_mode_t {
    WM_NORMAL = 0,
    WM_MINORITY = 1,
    WM_CEIL = 2,
}

/// A `dcf_role_t` as received from C: any integer, checked before use.
#[repr(transparent)]
#[derive(Clone, Copy, Debug)]
pub struct RoleArg(pub c_int);
/// A `dcf_exception_t` as received from C.
#[repr(transparent)]
#[derive(Clone, Copy, Debug)]
pub struct ExceptionArg(pub c_int);
/// A `dcf_commit_index_type_t` as received from C.
#[repr(transparent)]
#[derive(Clone, Copy, Debug)]
pub struct CommitIndexTypeArg(pub c_int);
/// A `dcf_work_mode_t` as received from C.
#[repr(transparent)]
#[derive(Clone, Copy, Debug)]
pub struct WorkModeArg(pub c_int);

pub type usr_cb_election_notify_t = Option<unsafe extern "C" fn(c_uint, c_uint) -> c_int>;
pub type usr_cb_msg_proc_t =
    Option<unsafe extern "C" fn(c_uint, c_uint, *const c_char, c_uint) -> c_int>;
pub type usr_cb_after_writer_t = Option<
    unsafe extern "C" fn(c_uint, c_ulonglong, *const c_char, c_uint, c_ulonglong, c_int) -> c_int,
>;
pub type usr_cb_consensus_notify_t =
    Option<unsafe extern "C" fn(c_uint, c_ulonglong, *const c_char, c_uint, c_ulonglong) -> c_int>;
pub type usr_cb_status_notify_t = Option<unsafe extern "C" fn(c_uint, RoleArg) -> c_int>;
pub type usr_cb_log_output_t = Option<
    unsafe extern "C" fn(c_int, c_int, *const c_char, c_uint, *const c_char, *const c_char, ...),
>;
pub type usr_cb_decrypt_pwd_t =
    Option<unsafe extern "C" fn(*const c_char, c_uint, *mut c_char, c_uint) -> c_int>;
pub type usr_cb_exception_notify_t = Option<unsafe extern "C" fn(c_uint, ExceptionArg) -> c_int>;
pub type usr_cb_thread_memctx_init_t = Option<unsafe extern "C" fn()>;

/// The host's timer structure for `dcf_set_timer` (opaque; accepted and ignored).
pub type TimerPtr = *mut c_void;
