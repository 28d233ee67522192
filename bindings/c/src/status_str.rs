//! `swl_status_str`: the text of a status. Apart from `status.rs` so that the status enum and
//! its mapping sit below the panic boundary, and this exported function above it.

use super::boundary::boundary;
use super::status::{swl_status, StatusCode};
use std::ffi::c_char;

/// A static, NUL-terminated description of `status`, starting with its constant's name
/// (`"SWL_BUSY: the lock is busy"`). Unknown values give `"unknown swl_status"`. Never NULL;
/// never free it.
#[no_mangle]
pub extern "C" fn swl_status_str(status: StatusCode) -> *const c_char {
    boundary(c"unknown swl_status".as_ptr(), || {
        const OK: StatusCode = swl_status::SWL_OK as StatusCode;
        const BUSY: StatusCode = swl_status::SWL_BUSY as StatusCode;
        const INVALID: StatusCode = swl_status::SWL_INVALID_ARGUMENT as StatusCode;
        const NULL: StatusCode = swl_status::SWL_NULL_PARAMETER as StatusCode;
        const IO: StatusCode = swl_status::SWL_IO as StatusCode;
        const NOT_HELD: StatusCode = swl_status::SWL_NOT_HELD as StatusCode;
        const PANIC: StatusCode = swl_status::SWL_PANIC as StatusCode;
        const STALE: StatusCode = swl_status::SWL_STALE as StatusCode;
        let text = match status {
            OK => c"SWL_OK: success",
            BUSY => c"SWL_BUSY: the lock is busy",
            INVALID => c"SWL_INVALID_ARGUMENT: invalid argument",
            NULL => c"SWL_NULL_PARAMETER: a required pointer was NULL",
            IO => c"SWL_IO: I/O error",
            NOT_HELD => c"SWL_NOT_HELD: the lock was no longer held",
            PANIC => c"SWL_PANIC: internal error (panic caught)",
            STALE => c"SWL_STALE: the holder is alive but stale, or the hold was lost",
            _ => c"unknown swl_status",
        };
        text.as_ptr()
    })
}
