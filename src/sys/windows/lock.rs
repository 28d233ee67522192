//! The proof of a live holder on Windows: an exclusive `LockFileEx` byte-range lock, taken
//! with `LOCKFILE_FAIL_IMMEDIATELY` on a synchronous handle and never waited for (overlapped
//! waits are broken under wine, and a blocking one cannot be cancelled). The kernel drops it
//! when its handle is closed or its process dies, as it drops a flock.
//!
//! Windows range locks are mandatory: the locked byte is far past the end of any lock file,
//! so that inspectors can still read the payload.

use std::fs::File;
use std::io;
use std::os::windows::io::AsRawHandle;
use windows_sys::Win32::Foundation::ERROR_LOCK_VIOLATION;
use windows_sys::Win32::Storage::FileSystem::{
    LockFileEx, UnlockFileEx, LOCKFILE_EXCLUSIVE_LOCK, LOCKFILE_FAIL_IMMEDIATELY,
};
use windows_sys::Win32::System::IO::OVERLAPPED;

/// The locked byte: the last offset a POSIX `off_t` reaches (wine maps these locks to `fcntl`),
/// where no lock file ever has data.
const LOCK_OFFSET: u64 = i64::MAX as u64 - 1;

fn at_lock_offset() -> OVERLAPPED {
    // SAFETY: OVERLAPPED is plain data; zeroes are its documented initial state.
    let mut overlapped: OVERLAPPED = unsafe { std::mem::zeroed() };
    overlapped.Anonymous.Anonymous.Offset = LOCK_OFFSET as u32;
    overlapped.Anonymous.Anonymous.OffsetHigh = (LOCK_OFFSET >> 32) as u32;
    overlapped
}

/// Tries the lock once: true when this handle now holds it, false when another handle does.
pub fn try_flock(file: &File) -> io::Result<bool> {
    let mut overlapped = at_lock_offset();
    let flags = LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY;
    // SAFETY: a synchronous handle we own and an OVERLAPPED that outlives the call (on a
    // synchronous handle the call completes before it returns).
    let ok = unsafe { LockFileEx(file.as_raw_handle(), flags, 0, 1, 0, &mut overlapped) };
    if ok != 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(ERROR_LOCK_VIOLATION as i32) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// Lets go of the lock taken by [`try_flock`] through this handle.
pub fn unlock(file: &File) -> io::Result<()> {
    let mut overlapped = at_lock_offset();
    // SAFETY: as in try_flock.
    let ok = unsafe { UnlockFileEx(file.as_raw_handle(), 0, 1, 0, &mut overlapped) };
    if ok != 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The error of a lock someone else holds.
pub fn lock_busy() -> io::Error {
    io::Error::from_raw_os_error(ERROR_LOCK_VIOLATION as i32)
}
