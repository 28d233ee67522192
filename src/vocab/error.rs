//! The one error type of the crate: every binding maps it, none invents its own.

use crate::base::printable::{printable, printable_path};
use crate::rules::verdict::StaleReason;
use crate::vocab::held_lock::HeldLock;
use crate::vocab::option_name::OptionName;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Who holds a lock, as an acquire last saw it (docs/PROTOCOL.md, "Diagnostics").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holder {
    /// As people read it: `pid=12 alive=true ageMs=500`, `owner=unknown`, plus `host=…` for
    /// another host, or what occupies the path.
    pub description: String,
    /// The holder's pid, when the lock file names one.
    pub pid: Option<u32>,
    /// Whether that holder is alive.
    pub pid_alive: bool,
    /// The hold of this process that blocks, when the holder is this process.
    pub here: Option<HeldLock>,
}

/// Why an acquire, inspection or clean-up failed.
#[derive(Debug)]
pub enum Error {
    /// The lock stayed busy until the deadline.
    Busy {
        /// The lock file.
        lock_path: PathBuf,
        /// Who holds it.
        holder: Box<Holder>,
        /// `None` when the caller would have waited forever (only reported if the wait ends otherwise).
        timeout: Option<Duration>,
    },
    /// The holder is alive but too old to trust (`too-old`, `hold-exceeded`), or this hold
    /// was lost (`lease-lost`): reported at once, nothing was removed.
    Stale {
        /// The lock file.
        lock_path: PathBuf,
        /// Who holds it.
        holder: Box<Holder>,
        /// The reasons.
        reasons: Vec<StaleReason>,
    },
    /// The wait was cancelled by the caller (a Node `AbortSignal`).
    Cancelled {
        /// The lock file.
        lock_path: PathBuf,
    },
    /// An option or path was rejected before any I/O happened.
    InvalidArgument {
        /// The option or argument; each binding spells it its own way.
        name: OptionName,
        /// What is wrong with it.
        message: String,
    },
    /// A system call failed; `op` says which step, `path` on what.
    Io {
        /// The step that failed (`create temp lock file`, `read directory`, …).
        op: &'static str,
        /// The file or directory it failed on.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn io(op: &'static str, path: &Path, source: io::Error) -> Error {
        Error::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn invalid(name: OptionName, message: impl Into<String>) -> Error {
        Error::InvalidArgument {
            name,
            message: message.into(),
        }
    }

    /// The errno of an I/O error, for bindings that expose `code` (on Windows, the errno its
    /// system error code stands for).
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error().map(crate::sys::errno_of),
            _ => None,
        }
    }

    /// The symbolic errno name (`EACCES`, …) of an I/O error.
    pub fn code(&self) -> Option<&'static str> {
        self.raw_os_error().map(errno_name)
    }
}

pub(crate) fn format_timeout(timeout: Option<Duration>) -> String {
    match timeout {
        Some(t) => format!("{}ms", t.as_millis()),
        None => "Infinity".to_string(),
    }
}

/// ` (held by this process: owner=<label>, for <n>ms)` when the holder is this process.
fn held_here(f: &mut fmt::Formatter<'_>, holder: &Holder) -> fmt::Result {
    match &holder.here {
        Some(h) => write!(
            f,
            " (held by this process: owner={}, for {}ms)",
            printable(h.owner.as_deref().unwrap_or("unknown").as_bytes()),
            h.age.as_millis()
        ),
        None => Ok(()),
    }
}

/// Paths, labels and host names in messages are [`printable`]: they reach terminals and logs.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Busy {
                lock_path,
                holder,
                timeout,
            } => {
                write!(
                    f,
                    "session file locked (timeout {}): {} {}",
                    format_timeout(*timeout),
                    holder.description,
                    printable_path(lock_path)
                )?;
                held_here(f, holder)
            }
            Error::Stale {
                lock_path,
                holder,
                reasons,
            } => {
                let reasons: Vec<&str> = reasons.iter().map(|r| r.as_str()).collect();
                write!(
                    f,
                    "session file lock stale ({}): {} {}",
                    reasons.join(", "),
                    holder.description,
                    printable_path(lock_path)
                )?;
                held_here(f, holder)
            }
            Error::Cancelled { lock_path } => {
                write!(f, "request aborted: {}", printable_path(lock_path))
            }
            Error::InvalidArgument { name, message } => {
                write!(f, "invalid {name}: {}", printable(message.as_bytes()))
            }
            Error::Io { op, path, source } => {
                let code = (source.raw_os_error())
                    .map_or("UNKNOWN", |c| errno_name(crate::sys::errno_of(c)));
                write!(
                    f,
                    "{code}: {op} failed for {}: {source}",
                    printable_path(path)
                )
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The symbolic name of an errno a lock can meet, `UNKNOWN` for others.
pub fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EEXIST => "EEXIST",
        libc::ENOTDIR => "ENOTDIR",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::EISDIR => "EISDIR",
        libc::EROFS => "EROFS",
        libc::ENOSPC => "ENOSPC",
        #[cfg(unix)]
        libc::EDQUOT => "EDQUOT",
        libc::ELOOP => "ELOOP",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::EMFILE => "EMFILE",
        libc::ENFILE => "ENFILE",
        libc::EINVAL => "EINVAL",
        libc::EBUSY => "EBUSY",
        libc::EXDEV => "EXDEV",
        libc::ENOTSUP => "ENOTSUP",
        libc::EINTR => "EINTR",
        libc::EAGAIN => "EAGAIN",
        libc::ENXIO => "ENXIO",
        libc::ETXTBSY => "ETXTBSY",
        #[cfg(unix)]
        libc::ESTALE => "ESTALE",
        libc::EIO => "EIO",
        libc::EFBIG => "EFBIG",
        libc::EMLINK => "EMLINK",
        libc::ENOMEM => "ENOMEM",
        libc::EBADF => "EBADF",
        libc::ENODEV => "ENODEV",
        libc::ENOLCK => "ENOLCK",
        libc::ENOSYS => "ENOSYS",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::ESRCH => "ESRCH",
        libc::ETIMEDOUT => "ETIMEDOUT",
        // Node's name for an errno it does not know either.
        _ => "UNKNOWN",
    }
}
