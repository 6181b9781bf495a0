//! The C ABI: every `dcf_*` function of `dcf_interface.h`. Thin: check pointers and lengths,
//! catch panics, call `api`, translate results into DCF's return conventions and the
//! thread-local last error. All `unsafe` of the crate lives here.

pub mod types;

mod admin;
mod callbacks;
mod data;
mod errors;
mod panics;
mod params;
mod query;

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_uint};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{DcfError, DcfResult, ErrorCode};

pub use errors::{last_error_code, set_last_error};

/// Runs `f` for an exported function: clears the thread's error, converts a panic into an
/// error (reported in the log, not on stderr), and returns `fail` (after recording the
/// error) when `f` fails.
pub(crate) fn guard<T>(fail: T, f: impl FnOnce() -> DcfResult<T>) -> T {
    errors::clear_last_error();
    match panics::in_call(|| catch_unwind(AssertUnwindSafe(f))) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            set_last_error(&e);
            fail
        }
        Err(_) => {
            set_last_error(&DcfError::new(
                ErrorCode::Internal,
                "internal error: a panic was caught at the C boundary",
            ));
            fail
        }
    }
}

/// `guard` for the common `int` functions: 0 on success, -1 on failure.
pub(crate) fn guard_int(f: impl FnOnce() -> DcfResult<()>) -> c_int {
    guard(-1, || f().map(|()| 0))
}

fn null(name: &str) -> DcfError {
    DcfError::new(ErrorCode::NullPointer, format!("{name} is NULL"))
}

/// Borrows a C string argument as UTF-8.
pub(crate) fn c_str<'a>(p: *const c_char, name: &str) -> DcfResult<&'a str> {
    if p.is_null() {
        return Err(null(name));
    }
    // SAFETY: the caller passes a NUL-terminated string (the C contract of every char*
    // argument of the interface); we checked for NULL and only read up to the NUL.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map_err(|_| DcfError::invalid(format!("{name} is not valid UTF-8")))
}

/// Borrows `len` bytes at `p` (NULL is allowed only when `len` is 0).
pub(crate) fn c_bytes<'a>(p: *const c_char, len: c_uint, name: &str) -> DcfResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(null(name));
    }
    // SAFETY: the caller promises `len` readable bytes at `p` (interface contract), p is not
    // NULL, and the slice does not outlive this call.
    Ok(unsafe { std::slice::from_raw_parts(p as *const u8, len as usize) })
}

/// A writable buffer of `len` bytes at `p`.
pub(crate) fn c_buf<'a>(p: *mut c_char, len: c_uint, name: &str) -> DcfResult<&'a mut [u8]> {
    if p.is_null() {
        return Err(null(name));
    }
    // SAFETY: the caller promises `len` writable bytes at `p` (interface contract), p is not
    // NULL, and the slice does not outlive this call.
    Ok(unsafe { std::slice::from_raw_parts_mut(p as *mut u8, len as usize) })
}

/// Stores `v` through an output pointer.
pub(crate) fn put<T>(p: *mut T, v: T, name: &str) -> DcfResult<()> {
    if p.is_null() {
        return Err(null(name));
    }
    // SAFETY: p is non-NULL and points to a T the caller owns (interface contract).
    unsafe { p.write(v) };
    Ok(())
}

/// Stores `v` through an output pointer that may be NULL (then nothing is written).
pub(crate) fn put_opt<T>(p: *mut T, v: T) {
    if !p.is_null() {
        // SAFETY: p is non-NULL and points to a T the caller owns (interface contract).
        unsafe { p.write(v) };
    }
}

/// Copies `text` and a terminating NUL into `buf`; fails if it does not fit.
pub(crate) fn copy_c_string(buf: &mut [u8], text: &str, what: &str) -> DcfResult<usize> {
    let need = text.len() + 1;
    if buf.len() < need {
        return Err(DcfError::new(
            ErrorCode::BufferTooSmall,
            format!(
                "{what} needs {need} bytes with its NUL terminator, the buffer has {}",
                buf.len()
            ),
        ));
    }
    buf[..text.len()].copy_from_slice(text.as_bytes());
    buf[text.len()] = 0;
    Ok(need)
}
