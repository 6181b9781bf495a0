//! `dcf_register_*`: wrap C function pointers as the safe closures of `api::Callbacks`.
//! NULL clears a callback. Registration works at any time (SPEC 1.1).

use std::os::raw::{c_char, c_int, c_uint};
use std::sync::Arc;

use super::types::*;
use crate::api::{self, Callbacks, DcfException, DcfRole};

fn register(f: impl FnOnce(&mut Callbacks)) -> c_int {
    super::guard_int(|| {
        api::global().callbacks().update(f);
        Ok(())
    })
}

/// Length of a callback payload as the C `unsigned int` (payloads are bounded far below 4 GiB).
fn c_len(d: &[u8]) -> c_uint {
    c_uint::try_from(d.len()).unwrap_or(c_uint::MAX)
}

#[no_mangle]
pub extern "C" fn dcf_register_after_writer(cb_func: usr_cb_after_writer_t) -> c_int {
    register(|c| {
        c.after_writer = cb_func.map(|f| {
            Arc::new(move |s: u32, i: u64, d: &[u8], k: u64, e: i32| {
                // SAFETY: f is the host's callback with the after_writer signature; d is valid
                // for the duration of the call, as the interface promises.
                unsafe { f(s, i, d.as_ptr() as *const c_char, c_len(d), k, e) }
            }) as Arc<_>
        })
    })
}

#[no_mangle]
pub extern "C" fn dcf_register_consensus_notify(cb_func: usr_cb_consensus_notify_t) -> c_int {
    register(|c| {
        c.consensus_notify = cb_func.map(|f| {
            Arc::new(move |s: u32, i: u64, d: &[u8], k: u64| {
                // SAFETY: host callback with the consensus_notify signature; d outlives the call.
                unsafe { f(s, i, d.as_ptr() as *const c_char, c_len(d), k) }
            }) as Arc<_>
        })
    })
}

#[no_mangle]
pub extern "C" fn dcf_register_status_notify(cb_func: usr_cb_status_notify_t) -> c_int {
    register(|c| {
        c.status_notify = cb_func.map(|f| {
            Arc::new(move |s: u32, r: DcfRole| {
                // SAFETY: host callback with the status_notify signature; plain values.
                unsafe { f(s, RoleArg(r as c_int)) }
            }) as Arc<_>
        })
    })
}

#[no_mangle]
pub extern "C" fn dcf_register_election_notify(cb_func: usr_cb_election_notify_t) -> c_int {
    register(|c| {
        c.election_notify = cb_func.map(|f| {
            Arc::new(move |s: u32, leader: u32| {
                // SAFETY: host callback with the election_notify signature; plain values.
                unsafe { f(s, leader) }
            }) as Arc<_>
        })
    })
}

#[no_mangle]
pub extern "C" fn dcf_register_msg_proc(cb_func: usr_cb_msg_proc_t) -> c_int {
    register(|c| {
        c.msg_proc = cb_func.map(|f| {
            Arc::new(move |s: u32, src: u32, d: &[u8]| {
                // SAFETY: host callback with the msg_proc signature; d outlives the call.
                unsafe { f(s, src, d.as_ptr() as *const c_char, c_len(d)) }
            }) as Arc<_>
        })
    })
}

#[no_mangle]
pub extern "C" fn dcf_register_exception_report(cb_func: usr_cb_exception_notify_t) -> c_int {
    register(|c| {
        c.exception_report = cb_func.map(|f| {
            Arc::new(move |s: u32, e: DcfException| {
                // SAFETY: host callback with the exception_notify signature; plain values.
                unsafe { f(s, ExceptionArg(e as c_int)) }
            }) as Arc<_>
        })
    })
}

#[no_mangle]
pub extern "C" fn dcf_register_thread_memctx_init(cb_func: usr_cb_thread_memctx_init_t) -> c_int {
    register(|c| {
        c.thread_memctx_init = cb_func.map(|f| {
            Arc::new(move || {
                // SAFETY: host callback taking no arguments.
                unsafe { f() }
            }) as Arc<_>
        })
    })
}

/// Size of the plaintext buffer handed to decrypt_pwd (DCF uses 64 bytes; we allow more).
const PWD_BUF: usize = 1024;

#[no_mangle]
pub extern "C" fn dcf_register_decrypt_pwd(cb_func: usr_cb_decrypt_pwd_t) -> c_int {
    register(|c| {
        c.decrypt_pwd = cb_func.map(|f| {
            Arc::new(move |cipher: &[u8]| {
                let mut out = vec![0u8; PWD_BUF];
                // SAFETY: host callback with the decrypt_pwd signature; both buffers are valid
                // for the call and their true lengths are passed.
                let rc = unsafe {
                    f(
                        cipher.as_ptr() as *const c_char,
                        c_len(cipher),
                        out.as_mut_ptr() as *mut c_char,
                        PWD_BUF as c_uint,
                    )
                };
                if rc != 0 {
                    return None;
                }
                let n = out.iter().position(|&b| b == 0).unwrap_or(PWD_BUF);
                out.truncate(n);
                Some(out)
            }) as Arc<_>
        })
    })
}

#[no_mangle]
pub extern "C" fn dcf_register_log_output(cb_func: usr_cb_log_output_t) -> c_int {
    super::guard_int(|| {
        api::set_log_sink(cb_func.map(|f| {
            Arc::new(
                move |log_type: i32, level: i32, file: &str, line: u32, msg: &str| {
                    let file = std::ffi::CString::new(file.replace('\0', " ")).unwrap_or_default();
                    let msg = std::ffi::CString::new(msg.replace('\0', " ")).unwrap_or_default();
                    // SAFETY: host's variadic printf-style callback; the format "%s" consumes
                    // exactly the one string argument passed; all strings are NUL-terminated and
                    // live for the call.
                    unsafe {
                        f(
                            log_type,
                            level,
                            file.as_ptr(),
                            line,
                            c"DCF".as_ptr(),
                            c"%s".as_ptr(),
                            msg.as_ptr(),
                        )
                    }
                },
            ) as Arc<api::LogSinkFn>
        }));
        Ok(())
    })
}
