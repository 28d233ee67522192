//! The C ABI of session-write-lock (`libsession_write_lock.so` / `.a`), declared for C in
//! `include/session_write_lock.h`, which cbindgen generates from this crate
//! (`SWL_REGENERATE_HEADER=1 cargo test -p session-write-lock-c --test header_fresh`).
//! docs/C.md describes the API and how to build, install and link it.
//!
//! Thin bindings in the manner of rustls-ffi: every exported function is a short wrapper that
//! runs inside the one panic boundary of [`boundary`], converts its C arguments, calls the core
//! and maps the core's [`session_write_lock::Error`] to one [`swl_status`]. No lock logic lives here.
//!
//! One concept per file: [`status`] (the status enum and the error mapping), [`boundary`] (panic
//! boundary and the thread-local last error), [`strings`] (C strings in and out), [`options`],
//! [`lock`] (acquire, release, release-all, nonce), [`inspect`] (inspect, clean) and [`log`].

// No panic on a runtime path (docs/PROTOCOL.md): failures are errors. Tests may unwrap.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![deny(missing_docs)]

// The header lists items in the order of these modules (cbindgen.toml: sort_by = "None"),
// hence one group each, so that rustfmt keeps the order.
mod status;

mod status_str;

mod options;

mod lock;

mod inspect;

mod strings;

mod boundary;

mod log;

mod version;

pub use boundary::swl_last_error;
pub use inspect::{swl_clean_stale, swl_held_locks, swl_inspect, swl_string_free};
pub use lock::{
    swl_acquire, swl_assert_owned, swl_instance_nonce, swl_lock, swl_release, swl_release_all,
    swl_reset_instance_nonce,
};
pub use log::{swl_log_callback, swl_set_log_callback};
pub use options::{swl_options, swl_options_init_sized};
pub use status::swl_status;
pub use status_str::swl_status_str;
pub use version::{swl_version, SWL_VERSION_MAJOR, SWL_VERSION_MINOR, SWL_VERSION_PATCH};
