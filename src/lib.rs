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

mod acquire;
mod attempt;
mod cancel;
mod error;
mod fs;
mod guard;
mod held_lock;
mod holder;
mod holds;
mod identity;
mod inspect;
// Internal modules, public (and hidden) only for the property tests and the fuzz target.
#[doc(hidden)]
pub mod iso_time;
mod lock_dir;
mod lock_names;
mod log;
mod maps;
mod observe;
mod option_name;
mod options;
mod owner;
pub mod owner_argv;
#[doc(hidden)]
pub mod payload;
mod printable;
mod random;
mod runtime;
mod service;
pub mod settings;
#[cfg(unix)]
pub mod sidecar;
mod start_time;
#[doc(hidden)]
pub mod stats;
mod sys;
mod table;
#[doc(hidden)]
pub mod verdict;
mod win_argv;

pub use acquire::{
    acquire, acquire_cancellable, begin_acquire, begin_acquire_cancellable, end_owner, held_locks,
    instance_nonce, lock_path_for, release_all, release_every_hold, reset_instance_nonce,
    run_watchdog_check, set_background_watchdog, Acquisition, CancelToken,
};
pub use error::{errno_name, Error, Holder};
pub use guard::LockGuard;
pub use held_lock::HeldLock;
// Internal types the verdict's property tests and the fuzz target need.
#[doc(hidden)]
pub use identity::{
    read_process_start_time, set_start_time_resolver, PidProbe, ProcessIdentity, StartTimeResolver,
};
pub use inspect::{
    clean_stale, clean_temp_files, inspect, inspect_lock_file, inspect_payload, inspect_with,
    lock_files_in, CleanReport, EntryError, Found, Inspection,
};
pub use log::{set_log_hook, LogHook};
pub use observe::OwnerArgs;
pub use option_name::OptionName;
pub use options::{CleanOptions, Options};
pub use owner::HoldOwner;
pub use printable::{printable, printable_path};
pub use settings::resolve_max_hold_from_timeout;
pub use table::ReleaseOutcome;
pub use verdict::{Format, Purpose, StaleReason};

/// The crate version, as the C ABI reports it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
