//! FreeBSD: identity from sysctl (`KERN_PROC_PID`: start time since the epoch, zombie state;
//! `kern.boottime` as the boot id; `KERN_PROC_ARGS`); no pid namespaces.
//! Creation and inspection are the portable ones of `unix.rs`; waiting is kqueue
//! (`kqueue.rs`), with the last close of a lock file seen as `NOTE_CLOSE`/`NOTE_CLOSE_WRITE`.

use super::bsd::{split_args, sysctl_bytes};
use super::kqueue::Closes;
pub use super::kqueue::{Poller, Waker};
pub use super::portable::{link_anonymous, open_anonymous, open_without_effects};
use super::{check, retry};
use crate::base::start_time::StartTime;
use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub const DIR_OPEN_FLAGS: libc::c_int = libc::O_RDONLY | libc::O_DIRECTORY;

/// A close of the file by anyone, read-only or not (FreeBSD 11 and later). Both are reported
/// when the last descriptor of an open file description goes, as inotify's close events.
pub static CLOSES: Option<Closes> = Some(Closes {
    notes: libc::NOTE_CLOSE | libc::NOTE_CLOSE_WRITE,
    reopen,
});

/// Opens the file `file` is open on anew (`openat(fd, "", O_EMPTY_PATH)`, FreeBSD 13 and
/// later; before that it fails and the path is polled): the same file whatever its path
/// leads to by now.
fn reopen(file: &File) -> io::Result<OwnedFd> {
    let flags = libc::O_EMPTY_PATH | libc::O_RDONLY | libc::O_CLOEXEC;
    // SAFETY: a descriptor we borrow and an empty NUL-terminated path.
    let fd = retry(|| check(unsafe { libc::openat(file.as_raw_fd(), c"".as_ptr(), flags) }))?;
    // SAFETY: a new descriptor, owned from now on.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn own_start_time() -> Option<StartTime> {
    start_time_and_zombie(std::process::id()).and_then(|(starttime, _)| starttime)
}

/// `None` also when the kernel's `kinfo_proc` is not the size this build knows.
pub fn start_time_and_zombie(pid: u32) -> Option<(Option<StartTime>, bool)> {
    let pid = libc::c_int::try_from(pid).ok()?;
    let mib = [libc::CTL_KERN, libc::KERN_PROC, libc::KERN_PROC_PID, pid];
    let info: libc::kinfo_proc = sysctl_struct(&mib)?;
    let start = info.ki_start;
    let starttime = StartTime::since_epoch(
        u64::try_from(start.tv_sec).ok()?,
        u64::try_from(start.tv_usec).ok()?,
    );
    Some((Some(starttime), info.ki_stat == libc::SZOMB))
}

/// `kern.boottime`, which moves only when the clock is stepped: then a lock of this boot looks
/// like another host's, which only makes it wait for its heartbeat to expire (never reclaims
/// a live one).
pub fn boot_id() -> Option<String> {
    let boot: libc::timeval = sysctl_struct(&[libc::CTL_KERN, libc::KERN_BOOTTIME])?;
    Some(format!("boottime-{}.{:06}", boot.tv_sec, boot.tv_usec))
}

pub fn pid_namespace() -> Option<u64> {
    None
}

pub fn cmdline(pid: u32) -> Option<Vec<String>> {
    let pid = libc::c_int::try_from(pid).ok()?;
    sysctl_bytes(&[libc::CTL_KERN, libc::KERN_PROC, libc::KERN_PROC_ARGS, pid])
        .map(|bytes| split_args(&bytes))
}

/// The value of the sysctl named `mib`, read into a `T` of exactly the kernel's size.
/// `None` when it cannot be read or has another size.
pub fn sysctl_struct<T: Copy>(mib: &[libc::c_int]) -> Option<T> {
    let mut value = MaybeUninit::<T>::zeroed();
    let mut len = std::mem::size_of::<T>();
    // SAFETY: the buffer is valid for `len` bytes; the kernel writes at most `len`.
    let rc = unsafe {
        libc::sysctl(
            mib.as_ptr().cast_mut(),
            mib.len() as libc::c_uint,
            value.as_mut_ptr().cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    // SAFETY: the kernel filled all of T (a plain C struct, valid for any bytes).
    (rc == 0 && len == std::mem::size_of::<T>()).then(|| unsafe { value.assume_init() })
}
