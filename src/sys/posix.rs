//! The system calls every Unix makes the same way, so that the rest of the core makes none:
//! flock, fchmod, the `*at` calls relative to a lock's directory (open, stat, link, unlink,
//! list), the heartbeat's mtime, the host name, whether a pid exists, the environment, the fork
//! handlers, closing a descriptor and passing one on through `exec`.

use super::{check, clear_errno, open_raw, retry, retry_eintr, Occupant, Stat};
use std::ffi::{CStr, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;

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

/// How a lock's directory is opened: for `*at` calls only. Linux's `O_PATH` needs no read
/// permission on it (as a path lookup needs none); elsewhere it is opened for reading.
#[cfg(target_os = "linux")]
const DIR_ACCESS: libc::c_int = libc::O_PATH;
#[cfg(not(target_os = "linux"))]
const DIR_ACCESS: libc::c_int = libc::O_RDONLY;

/// Opens a directory whose path has no symlink in it, refusing a symlink as its last part
/// (`O_DIRECTORY|O_NOFOLLOW`): the descriptor every step on its lock files is relative to.
pub fn open_dir(path: &CStr) -> io::Result<File> {
    open_raw(path, DIR_ACCESS | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0)
}

/// `openat(2)` relative to `dir`, with `O_CLOEXEC`, retried on `EINTR`.
pub fn open_at(
    dir: &File,
    name: &CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<File> {
    let flags = flags | libc::O_CLOEXEC;
    // SAFETY: a directory fd the caller owns and a valid NUL-terminated name.
    let fd = retry(|| {
        check(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, mode as libc::c_uint) })
    })?;
    // SAFETY: a new fd, owned by the File from now on.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`: the entry itself, never a symlink's target.
pub fn stat_at(dir: &File, name: &CStr) -> io::Result<Stat> {
    // SAFETY: zeroes are a valid `stat` to be filled.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a directory fd the caller owns, a NUL-terminated name and a `stat` to fill.
    retry(|| {
        check(unsafe {
            libc::fstatat(
                dir.as_raw_fd(),
                name.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        })
    })?;
    Ok(Stat {
        id: (st.st_dev as u64, st.st_ino as u64),
        occupant: Occupant::of_mode(st.st_mode),
        mtime: st.st_mtime as i64,
    })
}

/// `linkat(dir, existing, dir, target, 0)`: `target` names `existing`'s inode too (`EEXIST` if
/// taken).
pub fn link_at(dir: &File, existing: &CStr, target: &CStr) -> io::Result<()> {
    let fd = dir.as_raw_fd();
    // SAFETY: a directory fd the caller owns and valid NUL-terminated names.
    retry(|| check(unsafe { libc::linkat(fd, existing.as_ptr(), fd, target.as_ptr(), 0) }))
        .map(drop)
}

/// `unlinkat(dir, name, 0)`: never a directory, never through a symlink. Not retried here:
/// after `EINTR` the name may be gone by this very call, which only the caller can weigh.
pub fn unlink_at(dir: &File, name: &CStr) -> io::Result<()> {
    // SAFETY: a directory fd the caller owns and a valid NUL-terminated name.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) }).map(drop)
}

/// The names in a directory (not `.` and `..`), read through its descriptor: the directory
/// judged is the one listed.
pub fn list_dir(dir: &File) -> io::Result<Vec<OsString>> {
    let readable = open_at(dir, c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    // SAFETY: fdopendir takes over the fd (closedir closes it).
    let stream = unsafe { libc::fdopendir(readable.into_raw_fd()) };
    if stream.is_null() {
        return Err(io::Error::last_os_error());
    }
    let mut names = Vec::new();
    let result = loop {
        // readdir returns NULL at the end and on failure alike; only a failure sets errno.
        clear_errno();
        // SAFETY: a stream from fdopendir, not yet closed.
        let entry = unsafe { libc::readdir(stream) };
        if entry.is_null() {
            let e = io::Error::last_os_error();
            break if e.raw_os_error() == Some(0) {
                Ok(())
            } else {
                Err(e)
            };
        }
        // SAFETY: d_name is NUL-terminated within the entry readdir returned.
        let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) }.to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_os_string());
        }
    };
    // SAFETY: the stream is closed once, here.
    unsafe { libc::closedir(stream) };
    result.map(|()| names)
}

/// `fnmatch(3)` of a file name, as a shell matches it: `*`, `?` and `[...]`, a leading `.`
/// only matched by a `.` (FNM_PERIOD). An invalid pattern matches nothing.
pub fn name_matches(pattern: &CStr, name: &CStr) -> bool {
    // SAFETY: two valid NUL-terminated strings; fnmatch only reads them.
    unsafe { libc::fnmatch(pattern.as_ptr(), name.as_ptr(), libc::FNM_PERIOD) == 0 }
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

/// A new file named `name` in `dir`, open for reading and writing, that only its owner (and
/// root) can open (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600): `AlreadyExists` if the name is taken.
pub fn create_new_at(dir: &File, name: &CStr) -> io::Result<File> {
    let flags = libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_RDWR;
    open_at(dir, name, flags, 0o600)
}

/// The (dev, ino) of an open file whose metadata was just read (no further system call here).
pub fn id_of(_file: &File, meta: &std::fs::Metadata) -> io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Ok((meta.dev(), meta.ino()))
}

/// The (dev, ino) of what `path` names, following a symlink at its end only with `follow`.
pub fn path_id(path: &std::path::Path, follow: bool) -> io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = if follow {
        retry(|| std::fs::metadata(path))?
    } else {
        retry(|| std::fs::symlink_metadata(path))?
    };
    Ok((meta.dev(), meta.ino()))
}

/// Whether a `link` failed because the filesystem has no hard links (vfat, some network
/// shares): the caller then creates the file in place.
pub fn link_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EPERM | libc::ENOTSUP | libc::EXDEV | libc::ENOSYS)
    )
}

/// The errno an OS error code stands for: here they are errnos already.
pub fn errno_of(code: i32) -> i32 {
    code
}

/// The error of a lock someone else holds (`EWOULDBLOCK`, as `flock` says it).
pub fn lock_busy() -> io::Error {
    io::Error::from_raw_os_error(libc::EWOULDBLOCK)
}

/// `pread(2)`: reads at `offset` without moving the file's position.
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}
