//! The one error type of the crate: every binding maps it, none invents its own.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why an acquire, inspection or clean-up failed.
#[derive(Debug)]
pub enum Error {
    /// The lock stayed busy until the deadline.
    Busy {
        /// The lock file.
        lock_path: PathBuf,
        /// Who holds it, as people read it: `pid=12 host=a`, or what occupies the path.
        owner: String,
        /// `None` when the caller would have waited forever (only reported if the wait ends otherwise).
        timeout: Option<Duration>,
    },
    /// An option or path was rejected before any I/O happened.
    InvalidArgument {
        /// The option or argument, named as the Node API names it (`timeoutMs`, `sessionFile`).
        name: &'static str,
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

    pub(crate) fn invalid(name: &'static str, message: impl Into<String>) -> Error {
        Error::InvalidArgument {
            name,
            message: message.into(),
        }
    }

    /// The errno of an I/O error, for bindings that expose `code`.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Io { source, .. } => source.raw_os_error(),
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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Busy {
                lock_path,
                owner,
                timeout,
            } => write!(
                f,
                "session file locked (timeout {}): {} {}",
                format_timeout(*timeout),
                owner,
                lock_path.display()
            ),
            Error::InvalidArgument { name, message } => write!(f, "invalid {name}: {message}"),
            Error::Io { op, path, source } => {
                let code = source.raw_os_error().map_or("UNKNOWN", errno_name);
                write!(f, "{code}: {op} failed for {}: {source}", path.display())
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
        libc::EISDIR => "EISDIR",
        libc::EROFS => "EROFS",
        libc::ENOSPC => "ENOSPC",
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
