//! A cross-process lock per file: one process at a time holds the lock of a path, and when the
//! holder dies, even SIGKILLed, the next acquirer takes over at once.
//!
//! The lock of `<path>` is the file `<path>.lock` in the same directory. Its holder keeps an
//! exclusive `flock(2)` on it, so the kernel itself says when a holder is gone; releasing removes
//! the file. Lock files of the chat gateway's older TypeScript module are read and judged by that
//! module's pid and age rules. How and why: `docs/PROTOCOL.md` in the repository.
//!
//! ```no_run
//! let guard = session_write_lock::acquire("/var/sessions/a.jsonl", &Default::default())?;
//! // … write the file …
//! guard.release()?; // dropping the guard releases it too
//! # Ok::<(), session_write_lock::Error>(())
//! ```
//!
//! # Defaults ([`Options::default`])
//!
//! - **wait**: a busy lock is waited for up to 60 s ([`Options::timeout`]; `None` waits
//!   forever, zero tries once).
//! - **watchdog**: a hold older than 5 min is force-released and logged
//!   ([`Options::max_hold`]; `None` turns it off).
//! - **stale**: the older module's lock files count as stale after 30 min ([`Options::stale`]);
//!   files this library wrote are stale once their holder is gone (seen from another host
//!   sharing the directory: once their holder stopped refreshing them for that long).
//! - **no nesting**: a second acquire of a path this process holds waits like any other
//!   contender ([`Options::allow_reentrant`], [`Options::reentrant_owner`] to nest).
//! - **files of other programs** (no flock payload of this library) are judged by the
//!   gateway's legacy rules ([`Options::foreign`]: [`Foreign::Keep`] never removes them,
//!   [`Foreign::Dotlock`] takes over only a dotlock whose pid is dead).
//!
//! # Errors ([`Error`])
//!
//! - [`Error::Busy`]: the lock stayed held until the wait ended; it names the holder.
//! - [`Error::Stale`]: the holder is alive but past its age limits, or a hold was lost
//!   ([`LockGuard::assert_owned`]); reported at once, nothing removed.
//! - [`Error::Cancelled`]: the caller cancelled the wait ([`acquire_cancellable`]).
//! - [`Error::InvalidArgument`]: a bad option or path, before any I/O.
//! - [`Error::Io`]: a system call failed, with the step, the path and the OS error.
//!
//! A lock file is removed only when it is provably stale, never a live holder's. Also:
//! [`release_all`] (every hold of the process), [`inspect`] (who holds a lock) and
//! [`clean_stale`] (remove a directory's stale lock files).

#![deny(missing_docs)]
// No panic on a runtime path (docs/PROTOCOL.md): failures are errors. Tests may unwrap.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

// README.md's Rust blocks (its quickstart among them) run as doctests, so they cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

// The layers, bottom to top: base, sys, rules, vocab, files, held, attempt, service, api, with
// sidecar (the fs-safe lock) and dir_lock (proper-lockfile's) beside api. A folder imports
// only folders below it (`tests/module_graph.rs` checks it); each folder's `mod.rs` says what
// it holds.
mod api;
mod attempt;
mod base;
#[cfg(unix)]
pub mod dir_lock;
mod files;
mod held;
mod rules;
mod service;
#[cfg(unix)]
pub mod sidecar;
mod sys;
mod vocab;

#[doc(hidden)]
pub use api::testing;
pub use rules::owner_argv;
pub use vocab::settings;

pub use api::acquire::{
    acquire, acquire_cancellable, begin_acquire, begin_acquire_cancellable, end_owner, held_locks,
    instance_nonce, release_all, release_every_hold, reset_instance_nonce, Acquisition,
    CancelToken,
};
pub use api::guard::LockGuard;
pub use api::inspect::{
    clean_stale, clean_temp_files, inspect, inspect_lock_file, inspect_with, lock_files_in,
    CleanReport, EntryError, Found, Inspection,
};
pub use attempt::observe::OwnerArgs;
pub use base::log::{set_log_hook, LogHook};
pub use base::printable::{printable, printable_path};
pub use held::table::ReleaseOutcome;
pub use rules::foreign::Foreign;
pub use rules::verdict::{Format, Purpose, StaleReason};
pub use vocab::error::{errno_name, Error, Holder};
pub use vocab::held_lock::HeldLock;
pub use vocab::option_name::OptionName;
pub use vocab::options::{CleanOptions, Options};
pub use vocab::owner::HoldOwner;
pub use vocab::path_rule::check_path;
pub use vocab::select::Select;
pub use vocab::settings::resolve_max_hold_from_timeout;

/// The crate version, as the C ABI reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
