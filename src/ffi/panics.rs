//! A panic inside the library goes to the library's log, never to the host's stderr (where
//! Rust's default hook prints it). `guard` catches it at the C boundary; this only decides
//! where its report goes.
//!
//! Ours are panics on a thread of the library (all are named `dcf-*`) or on a host thread
//! while it is inside a `dcf_*` call. Any other panic in the process keeps the previous hook.

use std::cell::Cell;
use std::sync::Once;

use crate::logging::{LogLevel, LogType};

thread_local! {
    static IN_CALL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` as part of a `dcf_*` call on the calling thread (calls may nest: a callback on a
/// library thread calling back into the interface).
pub(crate) fn in_call<T>(f: impl FnOnce() -> T) -> T {
    install();
    let was = IN_CALL.with(|c| c.replace(true));
    let out = f();
    IN_CALL.with(|c| c.set(was));
    out
}

fn ours() -> bool {
    IN_CALL.with(|c| c.get())
        || std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("dcf-"))
}

fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ours() {
                crate::dcf_log!(LogType::Run, LogLevel::Error, "internal error: {info}");
            } else {
                previous(info);
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_calls_and_library_threads_are_ours() {
        assert!(!ours());
        assert!(in_call(ours));
        assert!(!ours(), "the flag is restored after the call");
        assert!(
            in_call(|| in_call(|| true) && ours()),
            "nested calls restore it"
        );
        let named = std::thread::Builder::new()
            .name("dcf-apply-1".into())
            .spawn(ours)
            .unwrap();
        assert!(named.join().unwrap());
    }
}
