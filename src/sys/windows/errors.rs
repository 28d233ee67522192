//! Windows error codes: the errno each stands for (what bindings expose as `code`), the
//! transient refusals of antivirus and indexers, and the delete-pending name.

use std::io;
use std::time::{Duration, Instant};
use windows_sys::Win32::Foundation as F;

/// The errno a Windows error code stands for, so that `code` reads alike on every platform;
/// `0` (no errno: `UNKNOWN`) for the others.
pub fn errno_of(code: i32) -> i32 {
    match code as u32 {
        F::ERROR_FILE_NOT_FOUND | F::ERROR_PATH_NOT_FOUND | F::ERROR_INVALID_DRIVE => libc::ENOENT,
        F::ERROR_ACCESS_DENIED | F::ERROR_PRIVILEGE_NOT_HELD => libc::EACCES,
        F::ERROR_FILE_EXISTS | F::ERROR_ALREADY_EXISTS => libc::EEXIST,
        F::ERROR_SHARING_VIOLATION | F::ERROR_BUSY => libc::EBUSY,
        F::ERROR_LOCK_VIOLATION => libc::EAGAIN,
        F::ERROR_WRITE_PROTECT => libc::EROFS,
        F::ERROR_DISK_FULL | F::ERROR_HANDLE_DISK_FULL => libc::ENOSPC,
        F::ERROR_DIRECTORY => libc::ENOTDIR,
        F::ERROR_FILENAME_EXCED_RANGE => libc::ENAMETOOLONG,
        F::ERROR_TOO_MANY_OPEN_FILES => libc::EMFILE,
        F::ERROR_INVALID_PARAMETER | F::ERROR_INVALID_NAME => libc::EINVAL,
        F::ERROR_NOT_SAME_DEVICE => libc::EXDEV,
        F::ERROR_NOT_SUPPORTED | F::ERROR_INVALID_FUNCTION => libc::ENOTSUP,
        F::ERROR_NOT_ENOUGH_MEMORY | F::ERROR_OUTOFMEMORY => libc::ENOMEM,
        F::ERROR_INVALID_HANDLE => libc::EBADF,
        F::ERROR_TOO_MANY_LINKS => libc::EMLINK,
        F::ERROR_TIMEOUT => libc::ETIMEDOUT,
        _ => 0,
    }
}

/// How long a create, rename or delete refused by a transient handle (an antivirus scanner, the
/// search indexer) is tried again before the refusal is reported.
const TRANSIENT_FOR: Duration = Duration::from_millis(500);

/// Whether a refusal may come from another program's brief handle on the file.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().map(|c| c as u32),
        Some(F::ERROR_SHARING_VIOLATION | F::ERROR_ACCESS_DENIED)
    ) && !delete_pending(e)
}

/// Runs `call` again while it is refused by a transient handle, for up to [`TRANSIENT_FOR`];
/// a refusal that persists says so in its message.
pub fn retry_transient<T>(mut call: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match call() {
            Err(e) if transient(&e) && started.elapsed() < TRANSIENT_FOR => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) if transient(&e) => {
                let code = e.raw_os_error().unwrap_or(0);
                let kind = e.kind();
                return Err(io::Error::new(
                    kind,
                    format!(
                        "{e}; still refused after {} ms of retries (another program, such as an \
                         antivirus scanner or indexer, may be holding the file open; os error {code})",
                        TRANSIENT_FOR.as_millis()
                    ),
                ));
            }
            other => return other,
        }
    }
}

#[link(name = "ntdll", kind = "raw-dylib")]
extern "system" {
    /// The NTSTATUS behind this thread's last Win32 error.
    fn RtlGetLastNtStatus() -> i32;
}

/// Whether `e`, just returned by a call on a name, means that the name belongs to a file
/// deleted while another handle keeps it open (Windows maps `STATUS_DELETE_PENDING` to
/// `ERROR_ACCESS_DENIED`): the file is being released, not held, and the name comes free
/// when its last handle closes.
pub fn delete_pending(e: &io::Error) -> bool {
    // SAFETY: reads this thread's last status; no arguments.
    e.raw_os_error() == Some(F::ERROR_ACCESS_DENIED as i32)
        && unsafe { RtlGetLastNtStatus() } == F::STATUS_DELETE_PENDING
}

/// The error that stands for a delete-pending name: "exists" (the name is taken, for now).
pub fn being_released() -> io::Error {
    io::Error::from_raw_os_error(F::ERROR_FILE_EXISTS as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Windows codes read as the errnos a Unix caller would see; unknown codes as none.
    #[test]
    fn windows_codes_map_to_errnos() {
        assert_eq!(errno_of(F::ERROR_FILE_NOT_FOUND as i32), libc::ENOENT);
        assert_eq!(errno_of(F::ERROR_ALREADY_EXISTS as i32), libc::EEXIST);
        assert_eq!(errno_of(F::ERROR_SHARING_VIOLATION as i32), libc::EBUSY);
        assert_eq!(errno_of(F::ERROR_LOCK_VIOLATION as i32), libc::EAGAIN);
        assert_eq!(errno_of(999_999), 0);
    }

    /// A sharing violation that persists is retried for a while, then reported as such.
    #[test]
    fn a_persistent_sharing_violation_is_retried_then_named() {
        let mut calls = 0;
        let started = Instant::now();
        let e = retry_transient(|| -> io::Result<()> {
            calls += 1;
            Err(io::Error::from_raw_os_error(
                F::ERROR_SHARING_VIOLATION as i32,
            ))
        })
        .unwrap_err();
        assert!(calls > 3, "retried: {calls}");
        assert!(started.elapsed() >= TRANSIENT_FOR);
        assert!(e.to_string().contains("antivirus"), "{e}");
        let mut calls = 0;
        let ok = retry_transient(|| {
            calls += 1;
            if calls < 3 {
                Err(io::Error::from_raw_os_error(F::ERROR_ACCESS_DENIED as i32))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(ok.unwrap(), 3, "a brief refusal passes");
    }
}
