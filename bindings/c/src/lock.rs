//! Acquire and release, release-all and the instance nonce.

use super::boundary::{boundary, clear_out, status_boundary};
use super::options::{read_options, swl_options};
use super::status::{swl_status, Failure};
use super::strings::{copy_to_buffer, path_arg};
use session_write_lock::{LockGuard, OptionName, ReleaseOutcome};
use std::ffi::c_char;

/// A held lock (opaque). Made by `swl_acquire`; ended and freed by `swl_release`.
#[allow(non_camel_case_types)]
pub struct swl_lock {
    guard: LockGuard,
}

/// Takes the write lock of `session_file` (the lock file is `<session_file>.lock` in the
/// session file's real directory, which is created if missing), waiting up to
/// `opts->timeout_ms`. Blocks the calling thread while waiting; the wait itself runs on the
/// library's lock service thread and wakes as soon as the lock file is removed.
///
/// On `SWL_OK`, `*out` is a new handle that must be passed to `swl_release` exactly once. On
/// failure `*out` is set to NULL and `swl_last_error` says why: `SWL_BUSY` (timed out; the
/// message names the owner and the lock path, and the hold when this process holds it),
/// `SWL_STALE` (the holder is alive but only too old: reported at once, nothing removed),
/// `SWL_INVALID_ARGUMENT` (path empty or not UTF-8,
/// option out of range), `SWL_NULL_PARAMETER`, `SWL_IO` (errno name and path in the message).
///
/// Many threads may call this at once.
///
/// # Safety
///
/// `session_file` must be NULL or a NUL-terminated string; `opts` must be NULL or point to an
/// initialised `swl_options` whose `owner` is NULL or a NUL-terminated string; `out` must be NULL or point to writable memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn swl_acquire(
    session_file: *const c_char,
    opts: *const swl_options,
    out: *mut *mut swl_lock,
) -> swl_status {
    status_boundary(|| {
        // SAFETY: the caller's promise on `out`.
        unsafe { clear_out(out, "out") }?;
        // SAFETY: the caller's promise on `session_file`.
        let path = unsafe { path_arg(session_file, OptionName::SessionFile) }?;
        if opts.is_null() {
            return Err(Failure::null("opts"));
        }
        // SAFETY: non-NULL and initialised, `owner` NULL or a string (the caller's promise).
        let options = unsafe { read_options(opts)?.to_core() }?;
        let guard = session_write_lock::acquire(path, &options)?;
        let lock = Box::into_raw(Box::new(swl_lock { guard }));
        // SAFETY: as above.
        unsafe { out.write(lock) };
        Ok(())
    })
}

/// Ends the hold of `lock` and frees the handle, whatever the result: never use `lock` again.
/// The lock file is removed with the last reentrant hold. A handle never ends a newer hold of
/// the same file, so releasing after `swl_release_all` or the watchdog is harmless. Any thread
/// may release a handle, not only the one that acquired it.
///
/// Returns `SWL_OK` (released, or other reentrant holds remain), `SWL_NOT_HELD` (this hold had
/// already ended: `swl_release_all`, the max-hold watchdog, or a takeover after
/// `swl_reset_instance_nonce`), `SWL_IO` when the lock turned out to be compromised (someone
/// removed or replaced the lock file; their file was left alone) or when the lock file could
/// not be removed (the message starts with the errno name and names the path; the hold is over
/// all the same, and the file left behind is reclaimable at once), `SWL_NULL_PARAMETER`.
///
/// # Safety
///
/// `lock` must be NULL or a handle from `swl_acquire` that was not released yet.
#[no_mangle]
pub unsafe extern "C" fn swl_release(lock: *mut swl_lock) -> swl_status {
    status_boundary(|| {
        if lock.is_null() {
            return Err(Failure::null("lock"));
        }
        // SAFETY: made by Box::into_raw in swl_acquire, not released yet (the caller's promise).
        let lock = unsafe { Box::from_raw(lock) };
        let lock_path = lock.guard.lock_path().to_string_lossy().into_owned();
        match lock.guard.release()? {
            ReleaseOutcome::Released | ReleaseOutcome::StillHeld => Ok(()),
            ReleaseOutcome::NotHeld => Err(Failure::new(
                swl_status::SWL_NOT_HELD,
                format!(
                    "lock no longer held (ended by swl_release_all, the max-hold watchdog or a nonce takeover): {lock_path}"
                ),
            )),
            ReleaseOutcome::Compromised => Err(Failure::new(
                swl_status::SWL_IO,
                format!(
                    "lock was compromised (the lock file was removed or replaced by someone else; their file was left alone): {lock_path}"
                ),
            )),
        }
    })
}

/// Checks that `lock` still holds its lock: `SWL_OK` while the hold is in force and the lock
/// path still leads to its file; `SWL_STALE` (`lease-lost` in the message) when the hold was
/// ended by force (`swl_release_all`, the watchdog, a takeover) or the lock file was removed or
/// replaced by someone else; `SWL_NULL_PARAMETER`. The handle stays valid either way.
///
/// # Safety
///
/// `lock` must be NULL or a handle from `swl_acquire` that was not released yet.
#[no_mangle]
pub unsafe extern "C" fn swl_assert_owned(lock: *const swl_lock) -> swl_status {
    status_boundary(|| {
        // SAFETY: NULL or a live handle (the caller's promise).
        let Some(lock) = (unsafe { lock.as_ref() }) else {
            return Err(Failure::null("lock"));
        };
        Ok(lock.guard.assert_owned()?)
    })
}

/// Releases every lock this process holds (all reentrant holds at once), then rotates the
/// instance nonce. Returns how many lock files were released. Outstanding handles become
/// no-ops: `swl_release` on them returns `SWL_NOT_HELD` and frees them. Idempotent; safe to call
/// from `atexit` handlers and before an in-process restart.
#[no_mangle]
pub extern "C" fn swl_release_all() -> usize {
    boundary(0, session_write_lock::release_all)
}

/// Rotates the instance nonce (a new random 128-bit value). Locks still held keep the old nonce
/// on disk; the next `swl_acquire` of such a file in this process takes it over at once.
/// Returns `SWL_OK` (or `SWL_PANIC`).
#[no_mangle]
pub extern "C" fn swl_reset_instance_nonce() -> swl_status {
    status_boundary(|| {
        session_write_lock::reset_instance_nonce();
        Ok(())
    })
}

/// Copies the current instance nonce (32 lowercase hex digits) into `buf`, snprintf-style:
/// returns 32 (the length without the NUL), writes at most `len` bytes, NUL-terminated when
/// `len > 0`. Pass a buffer of at least 33 bytes for the whole nonce; `buf = NULL, len = 0`
/// only returns the length.
///
/// # Safety
///
/// `buf` must be NULL or point to at least `len` writable bytes. A NULL `buf` writes nothing.
#[no_mangle]
pub unsafe extern "C" fn swl_instance_nonce(buf: *mut c_char, len: usize) -> usize {
    boundary(0, || {
        // SAFETY: the caller's promise on (buf, len).
        unsafe { copy_to_buffer(&session_write_lock::instance_nonce(), buf, len) }
    })
}
