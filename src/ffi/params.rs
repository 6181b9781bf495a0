//! `dcf_set_param`, `dcf_get_param`, `dcf_set_trace_key`, `dcf_set_timer`.

use std::os::raw::{c_char, c_int, c_uint, c_ulonglong};

use super::types::TimerPtr;
use super::{c_buf, c_str, copy_c_string, guard_int};
use crate::api;
use crate::error::DcfError;

/// Sets a parameter by name (before or after start, from any thread). The value is copied.
#[no_mangle]
pub extern "C" fn dcf_set_param(param_name: *const c_char, param_value: *const c_char) -> c_int {
    guard_int(|| {
        let name = c_str(param_name, "param_name")?;
        let value = c_str(param_value, "param_value")?;
        api::set_param(name, value)
    })
}

/// Writes a parameter's value as a NUL-terminated string; a buffer too small is an error.
#[no_mangle]
pub extern "C" fn dcf_get_param(
    param_name: *const c_char,
    param_value: *mut c_char,
    size: c_uint,
) -> c_int {
    guard_int(|| {
        let name = c_str(param_name, "param_name")?;
        let value = api::get_param(name)?;
        let buf = c_buf(param_value, size, "param_value")?;
        copy_c_string(buf, &value, name).map(|_| ())
    })
}

/// Logs the life of one entry index at TRACE level; UINT64_MAX is refused (as DCF).
#[no_mangle]
pub extern "C" fn dcf_set_trace_key(trace_key: c_ulonglong) -> c_int {
    guard_int(|| {
        if trace_key == u64::MAX {
            return Err(DcfError::invalid("trace key UINT64_MAX is reserved"));
        }
        api::global().set_trace_key(trace_key);
        Ok(())
    })
}

/// Accepts the host's timer structure and ignores it: this library keeps its own monotonic
/// clock (SPEC Part A allows this).
#[no_mangle]
pub extern "C" fn dcf_set_timer(_timer: TimerPtr) {}
