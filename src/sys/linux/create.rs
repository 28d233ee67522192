//! Linux `O_TMPFILE`: a lock file with no name until it is linked, so there is no temp file
//! to unlink and none a crash could leave behind.

use crate::sys::{check, open_at};
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicBool, Ordering};

/// An unnamed regular file in the directory `dir`, open for writing.
pub fn open_anonymous(dir: &File) -> io::Result<File> {
    open_at(dir, c".", libc::O_TMPFILE | libc::O_RDWR, 0o644)
}

/// Whether `linkat(fd, "", AT_EMPTY_PATH)` is refused here (kernels before 6.10 allow it only
/// with CAP_DAC_READ_SEARCH); then the file is linked through its `/proc/self/fd` entry.
static EMPTY_PATH_REFUSED: AtomicBool = AtomicBool::new(false);

/// Gives the file from [`open_anonymous`] the name `target` in `dir` (`EEXIST` if taken).
pub fn link_anonymous(file: &File, dir: &File, target: &CStr) -> io::Result<()> {
    if !EMPTY_PATH_REFUSED.load(Ordering::Relaxed) {
        // SAFETY: valid fds, an empty path with AT_EMPTY_PATH, and a NUL-terminated target.
        let linked = check(unsafe {
            libc::linkat(
                file.as_raw_fd(),
                c"".as_ptr(),
                dir.as_raw_fd(),
                target.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        });
        match linked {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && dir_exists(dir) => {
                EMPTY_PATH_REFUSED.store(true, Ordering::Relaxed)
            }
            other => return other.map(drop),
        }
    }
    let fd_path = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
    // SAFETY: valid NUL-terminated paths; AT_SYMLINK_FOLLOW links the file the fd refers to.
    check(unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            fd_path.as_ptr(),
            dir.as_raw_fd(),
            target.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    })
    .map(drop)
}

/// ENOENT from linkat means "not allowed" only if the directory is really there (not removed).
fn dir_exists(dir: &File) -> bool {
    dir.metadata().is_ok_and(|m| m.nlink() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::ffi::OsStrExt;

    /// Both ways of linking an O_TMPFILE file give the file its name with its content.
    #[test]
    fn anonymous_files_link_with_and_without_at_empty_path() {
        let dir = std::env::temp_dir().join(format!("swl-sys-link-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dir_c = CString::new(dir.as_os_str().as_bytes()).unwrap();
        let dir_fd = crate::sys::open_dir(&dir_c).unwrap();
        for refused in [false, true] {
            // Only ever set to true: other tests then use the /proc way, which works too.
            if refused {
                EMPTY_PATH_REFUSED.store(true, Ordering::Relaxed);
            }
            let name = format!("s{refused}.jsonl.lock");
            let target_c = CString::new(name.as_str()).unwrap();
            let mut file = open_anonymous(&dir_fd).expect("O_TMPFILE is supported here");
            file.write_all(b"{\"pid\":1}").unwrap();
            link_anonymous(&file, &dir_fd, &target_c).unwrap();
            assert_eq!(std::fs::read(dir.join(&name)).unwrap(), b"{\"pid\":1}");
            let taken = link_anonymous(&open_anonymous(&dir_fd).unwrap(), &dir_fd, &target_c);
            assert_eq!(taken.unwrap_err().raw_os_error(), Some(libc::EEXIST));
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
