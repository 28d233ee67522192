//! Platform system calls for waiting: the lock service's one interface to the events that can
//! change the answer for a waited-on lock path (see `docs/PROTOCOL.md`, "Waiting").
//!
//! A [`Poller`] sleeps until it is woken ([`Waker`]), a watched source fires, or a timeout
//! passes. Sources belong to a [`Token`] (one per waited-on lock path):
//! - `watch_entry(token, dir, name)`: `name` in `dir` was created, deleted or renamed, or the
//!   directory itself went away;
//! - `watch_file(token, file)`: the last descriptor of that open file was closed somewhere
//!   (a holder died or let go, or another process dropped its flock);
//! - `watch_pid(token, pid)`: the process ended (reported once, then forgotten).
//!
//! Where a source is unavailable (another platform, disabled, or the kernel's limits are
//! exhausted) `watch_*` says so and the service polls that path with backoff instead.

use std::io;

/// Names the owner of a set of sources (the service uses one per waited-on lock path).
pub type Token = u64;

/// Why a source could not be watched.
#[derive(Debug)]
pub enum WatchError {
    /// No such event source here, or it is switched off.
    Unsupported,
    /// The kernel's limit on watches, instances or descriptors is reached.
    Exhausted(io::Error),
    /// Anything else (the file or process is gone, permissions, …).
    Failed,
}

impl WatchError {
    /// Sorts an errno: resource exhaustion or another failure.
    pub fn from_io(e: io::Error) -> WatchError {
        match e.raw_os_error() {
            Some(libc::ENOSPC | libc::EMFILE | libc::ENFILE | libc::ENOMEM) => {
                WatchError::Exhausted(e)
            }
            Some(libc::ENOSYS | libc::EPERM | libc::EOPNOTSUPP) => WatchError::Unsupported,
            _ => WatchError::Failed,
        }
    }
}

/// What one [`Poller::wait`] saw.
#[derive(Debug, Default)]
pub struct Ready {
    /// The [`Waker`] was used since the last wait.
    pub woken: bool,
    /// Tokens whose sources fired (each at most once).
    pub tokens: Vec<Token>,
    /// Events were lost (queue overflow): every token must look again.
    pub lost: bool,
    /// Tokens whose watched process ended (also in `tokens`); their pid watch is gone.
    pub ended: Vec<Token>,
}

/// Retries a system call that returns -1 with `errno` set, as long as it fails with `EINTR`.
pub fn retry_eintr<T: PartialOrd + From<i8>>(mut call: impl FnMut() -> T) -> io::Result<T> {
    loop {
        let rc = call();
        if rc >= T::from(0) {
            return Ok(rc);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::{Poller, Waker};

#[cfg(any(not(target_os = "linux"), test))]
mod unix;
#[cfg(not(target_os = "linux"))]
pub use unix::{Poller, Waker};
