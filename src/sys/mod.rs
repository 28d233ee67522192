//! The platform layer: the only place with system calls (see `docs/PROTOCOL.md`, "Platforms").
//! `posix.rs` has those every Unix makes the same way; one module per platform provides the
//! same names for the rest:
//! - creation: `open_anonymous(dir)` + `link_anonymous(file, dir, name)`, a file with no name
//!   linked into place (`Unsupported` where there is none: the caller names a hidden temp file);
//! - inspection: [`open_without_effects`], what is at a name in a directory, opened only if a
//!   regular file;
//! - identity: `own_start_time`, `start_time_and_zombie(pid)` (a `StartTime`: the gateway's unit
//!   for the platform, and microseconds where the platform reads them), `boot_id`,
//!   `pid_namespace`, `cmdline(pid)`; start times are compared only on the same host;
//! - waiting: the events that can change the answer for a waited-on lock path (see
//!   `docs/PROTOCOL.md`, "Waiting").
//!
//! `linux/` is Linux; `apple.rs` and `freebsd.rs` are macOS and FreeBSD, which share `bsd.rs`
//! (sysctl) and `kqueue.rs` (waiting, its bookkeeping in `watches.rs`); `unix.rs` is the
//! portable creation and inspection (macOS, FreeBSD, and Linux with the `portable` feature),
//! `poll.rs` the portable poller (Linux with the `portable` feature).
//!
//! A [`Poller`] sleeps until it is woken ([`Waker`]), a watched source fires, or a timeout
//! passes. Sources belong to a [`Token`] (one per waited-on lock path):
//! - `watch_entry(token, dir, name)`: `name` in `dir` was created, deleted or renamed, or the
//!   directory itself went away;
//! - `watch_file(token, file)`: the last descriptor of that open file was closed somewhere
//!   (a holder died or let go, or another process dropped its flock); only on platforms that
//!   report closes, `sees_closes()` (not macOS: there the service watches the holder's pid);
//! - `watch_pid(token, pid)`: the process ended (reported once, then forgotten).
//!
//! Where a source is unavailable (another platform, disabled, or the kernel's limits are
//! exhausted) `watch_*` says so and the service polls that path with backoff instead.

#[cfg(unix)]
use std::ffi::CStr;
use std::fs::{File, Metadata};
use std::io;
#[cfg(unix)]
use std::os::fd::FromRawFd;
#[cfg(unix)]
use std::os::unix::fs::MetadataExt;

/// Names the owner of a set of sources (the service uses one per waited-on lock path).
pub type Token = u64;

/// Which event sources the lock service allows (its settings; tests switch them off).
// The portable poller has none to switch off; Windows sees no closes.
#[cfg_attr(any(swl_portable, windows), allow(dead_code))]
#[derive(Debug, Clone, Copy)]
pub struct EventSources {
    /// Directory entries and file closes (inotify, kqueue `EVFILT_VNODE`).
    pub files: bool,
    /// File closes in particular: without them a holder's pid stands in (as on macOS).
    pub closes: bool,
}

#[cfg(test)]
impl EventSources {
    pub const ALL: EventSources = EventSources {
        files: true,
        closes: true,
    };
}

/// Why a source could not be watched.
// The portable poller's sources fail only as `Unsupported`.
#[cfg_attr(swl_portable, allow(dead_code))]
#[derive(Debug)]
pub enum WatchError {
    /// No such event source here, or it is switched off.
    Unsupported,
    /// The kernel's limit on watches, instances or descriptors is reached.
    Exhausted(io::Error),
    /// Anything else (the file or process is gone, permissions, …).
    Failed,
}

#[cfg(unix)]
#[cfg_attr(swl_portable, allow(dead_code))]
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
    /// Tokens whose directory watch ended with the directory (deleted, renamed, unmounted;
    /// also in `tokens`): their entry must be watched again.
    pub unwatched: Vec<Token>,
}

#[cfg(unix)]
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

/// Makes a system call again for as long as a signal interrupts it (`EINTR`): an interruption
/// is never an answer.
pub fn retry<T>(mut call: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match call() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A system call's `-1` as the `errno` it set.
#[cfg(unix)]
pub fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// `open(2)` with `O_CLOEXEC`, retried on `EINTR`.
#[cfg(unix)]
pub fn open_raw(path: &CStr, flags: libc::c_int, mode: libc::mode_t) -> io::Result<File> {
    // SAFETY: a valid NUL-terminated path.
    let fd = retry(|| {
        check(unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) })
    })?;
    // SAFETY: a new fd, owned by the File from now on.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// (dev, ino): the identity of a file or directory.
pub type FileId = (u64, u64);

/// (dev, ino) of an open file.
#[cfg(unix)]
pub fn file_id(file: &File) -> io::Result<FileId> {
    let m = retry(|| file.metadata())?;
    Ok((m.dev(), m.ino()))
}

/// Sets this thread's `errno` to 0, for the calls that report failure only through it.
#[cfg(unix)]
fn clear_errno() {
    // SAFETY: the location of this thread's errno, valid for the thread's life.
    #[cfg(target_os = "linux")]
    unsafe {
        *libc::__errno_location() = 0
    };
    // SAFETY: as above.
    #[cfg(any(target_os = "macos", target_os = "freebsd"))]
    unsafe {
        *libc::__error() = 0
    };
}

/// What is at a lock path when it is not a regular file.
// Windows knows directories and reparse points only.
#[cfg_attr(windows, allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occupant {
    Directory,
    Fifo,
    Socket,
    Symlink,
    Device,
}

impl Occupant {
    /// From `st_mode`: `None` for a regular file.
    #[cfg(unix)]
    pub fn of_mode(mode: libc::mode_t) -> Option<Occupant> {
        match mode & libc::S_IFMT {
            libc::S_IFREG => None,
            libc::S_IFDIR => Some(Occupant::Directory),
            libc::S_IFIFO => Some(Occupant::Fifo),
            libc::S_IFSOCK => Some(Occupant::Socket),
            libc::S_IFLNK => Some(Occupant::Symlink),
            _ => Some(Occupant::Device),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Occupant::Directory => "a directory",
            Occupant::Fifo => "a FIFO",
            Occupant::Socket => "a socket",
            Occupant::Symlink => "a symbolic link",
            Occupant::Device => "a device node",
        }
    }
}

/// What `stat_at(dir, name)` says of a directory entry (never a symlink's target).
pub struct Stat {
    pub id: FileId,
    /// Set when it is not a regular file.
    pub occupant: Option<Occupant>,
    /// Seconds since the epoch.
    pub mtime: i64,
}

/// What [`open_without_effects`] found at a name in a directory.
pub enum Opened {
    /// Not a regular file (never opened for real).
    Other(Occupant),
    /// A regular file, opened for reading, and its metadata (boxed: FreeBSD's is large).
    Regular(File, Box<Metadata>),
    /// The name was replaced between looking and opening: look again.
    Changed,
}

#[cfg(unix)]
mod posix;
#[cfg(unix)]
pub use posix::{
    at_fork, close, create_new_at, errno_of, fchmod, getenv, hostname, id_of, inherit_across_exec,
    link_at, link_unsupported, list_dir, lock_busy, name_matches, open_at, open_dir, path_id,
    pid_exists, read_at, stat_at, touch, try_flock, unlink_at, unlock,
};

// Windows: handles, LockFileEx, process handles and ReadDirectoryChangesW (`windows/`).
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;
#[cfg(windows)]
pub use windows::{
    create_new_at, errno_of, fchmod, file_id, getenv, hostname, id_of, link_at, link_unsupported,
    list_dir, lock_busy, name_matches, open_dir, path_id, pid_exists, read_at, stat_at, touch,
    try_flock, unlink_at, unlock,
};

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as platform;

#[cfg(any(target_os = "macos", target_os = "freebsd"))]
mod bsd;
#[cfg(any(target_os = "macos", target_os = "freebsd"))]
mod kqueue;
#[cfg(any(target_os = "macos", target_os = "freebsd", test))]
mod watches;

#[cfg(target_os = "macos")]
mod apple;
#[cfg(target_os = "macos")]
use apple as platform;

#[cfg(target_os = "freebsd")]
mod freebsd;
#[cfg(target_os = "freebsd")]
use freebsd as platform;

#[cfg(all(target_os = "linux", any(swl_portable, test)))]
mod poll;
#[cfg(all(unix, any(not(target_os = "linux"), swl_portable, test)))]
mod portable;

pub use platform::{
    boot_id, cmdline, link_anonymous, open_anonymous, open_without_effects, own_start_time,
    pid_namespace, start_time_and_zombie, Poller, Waker,
};
