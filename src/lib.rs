//! Cross-process session-file lock.
//!
//! A session file `<dir>/<id>.jsonl` is guarded by `<dir>/<id>.jsonl.lock`. The holder keeps an
//! exclusive `flock(2)` on that file, so the kernel itself says when a holder is gone; legacy
//! lock files of the TypeScript implementation are judged by its pid/age rules. See
//! `docs/PROTOCOL.md` for the protocol and `verdict` for the staleness rules.
//!
//! ```no_run
//! let guard = session_write_lock::acquire("/var/sessions/a.jsonl", &Default::default())?;
//! // … write the session file …
//! guard.release()?;
//! # Ok::<(), session_write_lock::Error>(())
//! ```

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
pub mod sidecar;
mod start_time;
#[doc(hidden)]
pub mod stats;
mod sys;
mod table;
#[doc(hidden)]
pub mod verdict;

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
