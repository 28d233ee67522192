//! The one status enum of the C ABI, and how core errors map to it.

use session_write_lock::{Error, OptionName};

/// The result of every fallible `swl_` function. On anything but `SWL_OK`, `swl_last_error`
/// returns a message saying what failed, on the thread that called.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum swl_status {
    /// Success.
    SWL_OK = 0,
    /// The lock stayed busy until the timeout. The message names the owner (`pid=N alive=B
    /// ageMs=A`, `owner=unknown` without a pid, plus `host=H` for another host, or what
    /// occupies the lock path), the lock path, and the blocking hold when this process is the
    /// holder (`(held by this process: owner=LABEL, for Nms)`).
    SWL_BUSY = 1,
    /// A path was empty or not UTF-8, or an option was out of range. The message names it.
    SWL_INVALID_ARGUMENT = 2,
    /// A required pointer argument was NULL. The message names the parameter.
    SWL_NULL_PARAMETER = 3,
    /// A system call failed, or a released lock turned out to be compromised (removed or
    /// replaced by someone else). The message starts with the errno name (`EACCES: …`) and
    /// names the path.
    SWL_IO = 4,
    /// `swl_release` of a handle whose hold had already ended: released by `swl_release_all`,
    /// by the max-hold watchdog, or taken over after `swl_reset_instance_nonce`.
    SWL_NOT_HELD = 5,
    /// A bug inside the library: a Rust panic was caught at the boundary. The message starts
    /// with `panic: `.
    SWL_PANIC = 6,
    /// The holder is alive but only too old to trust (`too-old`, `hold-exceeded`): reported at
    /// once instead of waiting, nothing removed; or `swl_assert_owned` found the hold lost
    /// (`lease-lost`). The message is `session file lock stale (<reasons>): <owner> <path>`.
    SWL_STALE = 7,
}

/// What a C caller may pass where a `swl_status` is expected. It is read as a plain integer so
/// that an out-of-range value is "unknown" rather than undefined behaviour; the header declares
/// it as `swl_status` (cbindgen.toml renames it and leaves the alias itself out).
pub type StatusCode = std::ffi::c_int;

/// A failed call: the status to return and the message for `swl_last_error`.
#[derive(Debug)]
pub struct Failure {
    pub status: swl_status,
    pub message: String,
}

impl Failure {
    pub fn new(status: swl_status, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
        }
    }

    pub fn null(parameter: &str) -> Failure {
        Failure::new(
            swl_status::SWL_NULL_PARAMETER,
            format!("null parameter: {parameter} must not be NULL"),
        )
    }

    /// An option or argument out of range, named as the header names it.
    pub fn invalid(name: OptionName, message: impl std::fmt::Display) -> Failure {
        Failure::new(
            swl_status::SWL_INVALID_ARGUMENT,
            format!("invalid {}: {message}", c_spelling(name)),
        )
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        match error {
            Error::Busy { .. } | Error::Cancelled { .. } => {
                Failure::new(swl_status::SWL_BUSY, error.to_string())
            }
            Error::Stale { .. } => Failure::new(swl_status::SWL_STALE, error.to_string()),
            Error::InvalidArgument { name, message } => Failure::invalid(name, message),
            Error::Io { .. } => Failure::new(swl_status::SWL_IO, error.to_string()),
        }
    }
}

/// The header's name of an option or argument; a name C callers never pass (none of the core's
/// errors about one can reach them) keeps the core's spelling.
pub fn c_spelling(name: OptionName) -> &'static str {
    name.c_name().unwrap_or(name.as_str())
}
