//! The one panic boundary every exported function runs in, and the thread-local message of the
//! last failure that `swl_last_error` reads.

use super::status::{swl_status, Failure};
use super::strings::copy_to_buffer;
use std::any::Any;
use std::cell::RefCell;
use std::ffi::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    // Clippy 1.96 asks for the `const` this already has when std keeps thread locals in OS
    // keys (windows-gnu): a false positive.
    #[allow(clippy::missing_const_for_thread_local)]
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Records `message` as this thread's last error (NUL bytes, which C could not see past, are
/// written as `\0`).
pub fn set_last_error(message: &str) {
    let message = message.replace('\0', "\\0");
    // During thread teardown the slot may be gone; the message is then dropped.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = message);
}

/// Runs `body`; a panic becomes `on_panic` with the last error `panic: <message>`. No panic
/// ever unwinds into C.
pub fn boundary<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            set_last_error(&format!("panic: {}", panic_message(payload.as_ref())));
            on_panic
        }
    }
}

/// [`boundary`] for functions that return a status: a failure's message becomes the last error.
pub fn status_boundary(body: impl FnOnce() -> Result<(), Failure>) -> swl_status {
    boundary(swl_status::SWL_PANIC, || match body() {
        Ok(()) => swl_status::SWL_OK,
        Err(failure) => {
            set_last_error(&failure.message);
            failure.status
        }
    })
}

/// Checks an out-parameter and sets it to NULL, so that it is NULL on every failure.
///
/// # Safety
///
/// `out` must be NULL or point to writable memory for one pointer.
pub unsafe fn clear_out<T>(out: *mut *mut T, name: &'static str) -> Result<(), Failure> {
    if out.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: non-NULL and writable (the caller's promise).
    unsafe { out.write(std::ptr::null_mut()) };
    Ok(())
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "(no message)"
    }
}

/// Copies the message of the last failure on the calling thread into `buf` and returns its
/// length in bytes without the terminating NUL, like `snprintf`: at most `len` bytes are
/// written, always NUL-terminated when `len > 0`, and the message is cut short when the return
/// value is `>= len`. Returns 0 (and writes `""`) when no call on this thread has failed.
///
/// The message stays until the next failure on the same thread; successful calls do not clear
/// it. Call with `buf = NULL, len = 0` to learn the size needed.
///
/// # Safety
///
/// `buf` must be NULL or point to at least `len` writable bytes. A NULL `buf` writes nothing.
#[no_mangle]
pub unsafe extern "C" fn swl_last_error(buf: *mut c_char, len: usize) -> usize {
    boundary(0, || {
        LAST_ERROR
            .try_with(|slot| {
                // SAFETY: the caller's promise on (buf, len).
                unsafe { copy_to_buffer(&slot.borrow(), buf, len) }
            })
            .unwrap_or(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        let mut buf = [0 as c_char; 256];
        // SAFETY: a 256-byte buffer.
        let n = unsafe { swl_last_error(buf.as_mut_ptr(), buf.len()) };
        // SAFETY: NUL-terminated by swl_last_error.
        let text = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
        assert_eq!(n, text.to_bytes().len());
        text.to_str().unwrap().to_owned()
    }

    #[test]
    fn a_panic_becomes_swl_panic_with_its_message() {
        let status = status_boundary(|| panic!("boom {}", 42));
        assert_eq!(status, swl_status::SWL_PANIC);
        assert_eq!(last_error(), "panic: boom 42");
        assert_eq!(boundary(7usize, || panic!("static")), 7);
        assert_eq!(last_error(), "panic: static");
    }

    #[test]
    fn failures_set_the_last_error_and_successes_keep_it() {
        let status = status_boundary(|| Err(Failure::null("out")));
        assert_eq!(status, swl_status::SWL_NULL_PARAMETER);
        assert_eq!(last_error(), "null parameter: out must not be NULL");
        assert_eq!(status_boundary(|| Ok(())), swl_status::SWL_OK);
        assert_eq!(last_error(), "null parameter: out must not be NULL");
        set_last_error("a\0b");
        assert_eq!(last_error(), "a\\0b");
    }
}
