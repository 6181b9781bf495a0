//! `dcf_get_errorno`, `dcf_get_error`, `dcf_get_version` and the thread-local last error.

use std::cell::Cell;
use std::collections::HashMap;
use std::os::raw::{c_char, c_int};
use std::sync::OnceLock;

use parking_lot::Mutex;

use crate::error::{DcfError, ErrorCode};

thread_local! {
    // A Cell, not a RefCell: openGauss calls into the library from a signal handler, which
    // may interrupt this thread in the middle of an update; a Cell has no borrow to collide.
    static LAST: Cell<(ErrorCode, &'static str)> = const { Cell::new((ErrorCode::Ok, "\0")) };
}

/// Messages handed to C must stay valid for the life of the process (SPEC Part A), so each
/// distinct message is stored once and kept. The store is bounded: past its limit the
/// code's fixed description is kept instead.
const MAX_INTERNED: usize = 4096;

fn intern(message: &str) -> Option<&'static str> {
    static STORE: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut store = STORE.get_or_init(Default::default).lock();
    if let Some(s) = store.get(message) {
        return Some(s);
    }
    if store.len() >= MAX_INTERNED {
        return None;
    }
    let mut bytes = message.replace('\0', " ").into_bytes();
    bytes.push(0);
    let leaked: &'static str = std::str::from_utf8(Box::leak(bytes.into_boxed_slice())).ok()?;
    store.insert(message.to_string(), leaked);
    Some(leaked)
}

pub fn set_last_error(e: &DcfError) {
    let msg = intern(&e.message).unwrap_or_else(|| e.code.describe());
    LAST.with(|l| l.set((e.code, msg)));
}

pub(crate) fn clear_last_error() {
    LAST.with(|l| l.set((ErrorCode::Ok, "\0")));
}

pub fn last_error_code() -> ErrorCode {
    LAST.with(|l| l.get().0)
}

/// The calling thread's last error code (0 after a successful call).
#[no_mangle]
pub extern "C" fn dcf_get_errorno() -> c_int {
    last_error_code() as c_int
}

/// The calling thread's last message, whatever `code` is (as DCF): "" after a successful
/// call. Hosts pass `dcf_get_errorno()`, so this is the text of that code.
#[no_mangle]
pub extern "C" fn dcf_get_error(code: c_int) -> *const c_char {
    let _ = code;
    let (_, msg) = LAST.with(|l| l.get());
    msg.as_ptr() as *const c_char
}

/// `"DCF <Release|Debug> <version> compiled with libdcf-rs"`, static.
#[no_mangle]
pub extern "C" fn dcf_get_version() -> *const c_char {
    version_cstr().as_ptr() as *const c_char
}

pub(crate) fn version_cstr() -> &'static str {
    if cfg!(debug_assertions) {
        concat!("DCF Debug libdcf-rs ", env!("CARGO_PKG_VERSION"), "\0")
    } else {
        concat!("DCF Release libdcf-rs ", env!("CARGO_PKG_VERSION"), "\0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn text(p: *const c_char) -> String {
        // SAFETY: test-only; p comes from dcf_get_error, a static NUL-terminated string.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }

    #[test]
    fn last_error_is_per_thread_and_ignores_the_code_asked() {
        set_last_error(&DcfError::new(ErrorCode::Parameter, "bad FOO"));
        assert_eq!(dcf_get_errorno(), 201);
        assert_eq!(text(dcf_get_error(201)), "bad FOO");
        // DCF answers with the thread's last message whatever code is asked about.
        assert_eq!(text(dcf_get_error(26)), "bad FOO");
        assert_eq!(text(dcf_get_error(-77)), "bad FOO");
        std::thread::spawn(|| {
            assert_eq!(dcf_get_errorno(), 0);
            assert_eq!(text(dcf_get_error(201)), "");
        })
        .join()
        .unwrap();
        clear_last_error();
        assert_eq!(dcf_get_errorno(), 0);
        assert_eq!(text(dcf_get_error(201)), "");
    }

    #[test]
    fn interned_messages_are_stable() {
        let a = intern("same message").unwrap();
        let b = intern("same message").unwrap();
        assert_eq!(a.as_ptr(), b.as_ptr());
        assert!(a.ends_with('\0'));
    }
}
