//! The C types of `dcf_interface.h`: the four enumerations and the nine callback typedefs.
//!
//! The enumerations are declared here for the header only, under DCF's tags (`enum en_dcf_role`
//! and so on) so that C code naming a tag compiles. Values that arrive from C are taken as the
//! `*Arg` integer newtypes and checked before use, because a C caller may pass any integer and
//! an invalid Rust enum is undefined behaviour. cbindgen renders each newtype as the typedef
//! `dcf_role_t` (etc.) of its `*Repr` integer, which in turn is rendered as the enum tag, so
//! the header reads `typedef enum en_dcf_role dcf_role_t;` as DCF's does.
#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_uint, c_ulonglong, c_void};

/// `enum en_dcf_role`, whose typedef is `dcf_role_t`
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum en_dcf_role {
    DCF_ROLE_UNKNOWN = 0,
    DCF_ROLE_LEADER = 1,
    DCF_ROLE_FOLLOWER = 2,
    DCF_ROLE_LOGGER = 3,
    DCF_ROLE_PASSIVE = 4,
    DCF_ROLE_PRE_CANDIDATE = 5,
    DCF_ROLE_CANDIDATE = 6,
    DCF_ROLE_CEIL = 7,
}

/// `enum en_dcf_exception`, whose typedef is `dcf_exception_t`
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum en_dcf_exception {
    DCF_RUNNING_NORMAL = 0,
    DCF_EXCEPTION_MISSING_LOG = 1,
    DCF_EXCEPTION_CEIL = 2,
}

/// `enum en_dcf_commit_index_type`, whose typedef is `dcf_commit_index_type_t`
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum en_dcf_commit_index_type {
    DCF_INDEX_UNKNOWN = 0,
    DCF_LOCAL_COMMIT_INDEX = 1,
    DCF_LEADER_COMMIT_INDEX = 2,
    DCF_CONSENSUS_COMMIT_INDEX = 3,
    DCF_INDEX_LEVEL_CEIL = 4,
}

/// `enum e_dcf_work_mode`, whose typedef is `dcf_work_mode_t`
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum e_dcf_work_mode {
    WM_NORMAL = 0,
    WM_MINORITY = 1,
    WM_CEIL = 2,
}

/// `dcf_role_t`: `enum en_dcf_role`; an integer, checked before use.
#[repr(transparent)]
#[derive(Clone, Copy, Debug)]
pub struct RoleArg(pub RoleRepr);
/// The integer behind `RoleArg` (the header names it `enum en_dcf_role`).
pub type RoleRepr = c_int;
/// `dcf_exception_t`: `enum en_dcf_exception`; an integer, checked before use.
#[repr(transparent)]
#[derive(Clone, Copy, Debug)]
pub struct ExceptionArg(pub ExceptionRepr);
/// The integer behind `ExceptionArg` (the header names it `enum en_dcf_exception`).
pub type ExceptionRepr = c_int;
/// `dcf_commit_index_type_t`: `enum en_dcf_commit_index_type`; an integer, checked before use.
#[repr(transparent)]
#[derive(Clone, Copy, Debug)]
pub struct CommitIndexTypeArg(pub CommitIndexTypeRepr);
/// The integer behind `CommitIndexTypeArg` (the header names it `enum en_dcf_commit_index_type`).
pub type CommitIndexTypeRepr = c_int;
/// `dcf_work_mode_t`: `enum e_dcf_work_mode`; an integer, checked before use.
#[repr(transparent)]
#[derive(Clone, Copy, Debug)]
pub struct WorkModeArg(pub WorkModeRepr);
/// The integer behind `WorkModeArg` (the header names it `enum e_dcf_work_mode`).
pub type WorkModeRepr = c_int;

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
