//! The log hook for C: watchdog releases and compromised locks are reported through it.

use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;

/// Receives one log line (NUL-terminated, no trailing newline, valid only during the call) and
/// the `user` pointer given to `swl_set_log_callback`.
#[allow(non_camel_case_types)]
pub type swl_log_callback = Option<unsafe extern "C" fn(user: *mut c_void, line: *const c_char)>;

/// The caller's `user` pointer, carried to whichever thread logs. The caller promised (see
/// `swl_set_log_callback`) that it may be used from any thread.
struct User(*mut c_void);
// SAFETY: see above; the library never dereferences the pointer.
unsafe impl Send for User {}
// SAFETY: as above.
unsafe impl Sync for User {}

impl User {
    fn get(&self) -> *mut c_void {
        self.0
    }
}

/// Sends the library's log lines (e.g. `[session-write-lock] releasing lock held for 1012ms
/// (max=200ms): /s/a.jsonl.lock` from the watchdog) to `cb(user, line)` instead of stderr.
/// A NULL `cb` restores the default (a line on stderr).
///
/// The callback may run on any thread, in particular on the library's lock service thread
/// (watchdog, heartbeat checks) and on a thread inside `swl_release`, and possibly on two
/// threads at once. It must be thread-safe, return promptly, and must not call `swl_acquire`,
/// `swl_release` or `swl_release_all` (the service thread would wait for itself). After this
/// function returns, a call to the previous callback that had already started may still be
/// running.
///
/// # Safety
///
/// `cb` must be NULL or a function that stays valid, with `user`, until another callback is set
/// (or for the life of the process); `user` must be usable from any thread.
#[no_mangle]
pub unsafe extern "C" fn swl_set_log_callback(cb: swl_log_callback, user: *mut c_void) {
    super::boundary::boundary((), || {
        let hook: Option<session_write_lock::LogHook> = cb.map(|cb| {
            let user = User(user);
            Arc::new(move |line: &str| {
                // NUL bytes are escaped, so the conversion cannot fail.
                let line = CString::new(line.replace('\0', "\\0")).unwrap_or_default();
                // SAFETY: the caller's promise that cb and user stay valid.
                unsafe { cb(user.get(), line.as_ptr()) }
            }) as session_write_lock::LogHook
        });
        session_write_lock::set_log_hook(hook);
    })
}
