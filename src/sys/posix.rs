//! The system calls every Unix makes the same way, so that the rest of the core makes none:
//! flock, fchmod, link/unlink, the heartbeat's mtime, the host name, whether a pid exists, the
//! environment, the fork handlers, closing a descriptor and passing one on through `exec`.

use super::{check, retry, retry_eintr};
use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// `flock(LOCK_EX|LOCK_NB)`: true when we now hold it, false when someone else does.
pub fn try_flock(file: &File) -> io::Result<bool> {
    // SAFETY: flock on an fd the caller owns.
    match retry(|| check(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) })) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `fchmod(2)`: the file's permission bits, through its descriptor.
pub fn fchmod(file: &File, mode: libc::mode_t) -> io::Result<()> {
    // SAFETY: fchmod on an fd the caller owns.
    retry(|| check(unsafe { libc::fchmod(file.as_raw_fd(), mode) })).map(drop)
}

/// `flock(LOCK_UN)`.
pub fn unlock(file: &File) -> io::Result<()> {
    // SAFETY: flock on an fd the caller owns.
    retry_eintr(|| unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) }).map(drop)
}

/// `link(2)`: `target` names `existing`'s inode too, or the call fails (`EEXIST` if taken).
pub fn link(existing: &CStr, target: &CStr) -> io::Result<()> {
    // SAFETY: valid NUL-terminated paths.
    retry(|| check(unsafe { libc::link(existing.as_ptr(), target.as_ptr()) })).map(drop)
}

/// `unlink(2)`.
pub fn unlink(path: &CStr) -> io::Result<()> {
    // SAFETY: a valid NUL-terminated path.
    retry(|| check(unsafe { libc::unlink(path.as_ptr()) })).map(drop)
}

/// Sets the file's mtime (and atime) to now through its descriptor.
pub fn touch(file: &File) -> io::Result<()> {
    // SAFETY: a NULL times pointer means "now" for both timestamps.
    retry(|| check(unsafe { libc::futimens(file.as_raw_fd(), std::ptr::null()) })).map(drop)
}

/// The host name, empty if the system will not say.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it or truncates.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// `kill(pid, 0)`: the pid exists (also when it belongs to a user we may not signal).
pub fn pid_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks for existence and permission; nothing is delivered.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// A variable of this process's environment, through `getenv` (no allocation per name, unlike
/// `std::env::var`).
pub fn getenv(name: &CStr) -> Option<String> {
    // SAFETY: a NUL-terminated name; the value is copied at once. Changing the environment while
    // another thread reads it is the caller's to avoid (as for `std::env::set_var`).
    let value = unsafe { libc::getenv(name.as_ptr()) };
    // SAFETY: getenv returns NULL or a NUL-terminated string.
    (!value.is_null()).then(|| {
        unsafe { CStr::from_ptr(value) }
            .to_string_lossy()
            .into_owned()
    })
}

/// `pthread_atfork`: handlers run before a fork, and after it in the parent and the child.
pub fn at_fork(before: extern "C" fn(), parent: extern "C" fn(), child: extern "C" fn()) {
    // SAFETY: plain extern "C" functions, valid for the program's life. Registration fails
    // only with ENOMEM, which leaves forks as they were before this library.
    unsafe { libc::pthread_atfork(Some(before), Some(parent), Some(child)) };
}

/// Closes a descriptor this process no longer uses (a forked child's inherited copies).
pub fn close(fd: RawFd) {
    // SAFETY: the caller gives up `fd`; nothing uses it after this.
    unsafe { libc::close(fd) };
}

/// Clears `FD_CLOEXEC` on `fd`, so that the program this process `exec`s inherits it.
/// Async-signal-safe: called in a forked child before `exec`.
pub fn inherit_across_exec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor the caller names; it only reads and sets its flags.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) }).map(drop)
}
