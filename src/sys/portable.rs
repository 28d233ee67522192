//! What every Unix can do, used where a platform has nothing better (and on Linux with the
//! `portable` feature):
//! - creation: no unnamed files, so the caller writes a hidden, uniquely named temp file and
//!   links it into place;
//! - inspection: `fstatat` first, then `openat(O_RDONLY|O_NOFOLLOW|O_NONBLOCK)` only for a regular
//!   file, checking that what was opened is the inode looked at;

use super::{open_at, retry, stat_at, Opened};
use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;

fn unsupported() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOTSUP)
}

/// No unnamed files here: always `ENOTSUP`.
pub fn open_anonymous(_dir: &File) -> io::Result<File> {
    Err(unsupported())
}

/// No unnamed files here: always `ENOTSUP`.
pub fn link_anonymous(_file: &File, _dir: &File, _target: &CStr) -> io::Result<()> {
    Err(unsupported())
}

/// `fstatat(AT_SYMLINK_NOFOLLOW)`, then a non-blocking open of a regular file, which must be
/// the inode looked at (otherwise the name was replaced meanwhile: `Changed`). If a FIFO took
/// the name in between, the non-blocking read-only open returns at once and the identity
/// check rejects it.
pub fn open_without_effects(dir: &File, name: &CStr) -> io::Result<Opened> {
    let seen = stat_at(dir, name)?;
    if let Some(occupant) = seen.occupant {
        return Ok(Opened::Other(occupant));
    }
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    let file = match open_at(dir, name, flags, 0) {
        Ok(file) => file,
        // Replaced by a symlink meanwhile (FreeBSD says EMLINK, the others ELOOP).
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::EMLINK)) => {
            return Ok(Opened::Changed)
        }
        Err(e) => return Err(e),
    };
    let meta = retry(|| file.metadata())?;
    if (meta.dev(), meta.ino()) != seen.id {
        return Ok(Opened::Changed);
    }
    Ok(Opened::Regular(file, Box::new(meta)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::open_dir;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    /// Regular files are opened, anything else only looked at; nothing unnamed is made.
    #[test]
    fn portable_inspection_opens_only_regular_files() {
        let dir = std::env::temp_dir().join(format!("swl-sys-unix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = |name: &str| CString::new(name).unwrap();
        let dir_fd = open_dir(&CString::new(dir.as_os_str().as_bytes()).unwrap()).unwrap();
        std::fs::write(dir.join("f"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.join("f"), dir.join("l")).unwrap();
        let fifo = CString::new(dir.join("p").as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        assert!(
            matches!(open_without_effects(&dir_fd, &c("f")), Ok(Opened::Regular(_, m)) if m.len() == 1)
        );
        for other in ["l", "p"] {
            assert!(
                matches!(
                    open_without_effects(&dir_fd, &c(other)),
                    Ok(Opened::Other(_))
                ),
                "{other}"
            );
        }
        let missing = open_without_effects(&dir_fd, &c("none")).err().unwrap();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        assert!(open_anonymous(&dir_fd).is_err());
        let file = File::open(dir.join("f")).unwrap();
        assert!(link_anonymous(&file, &dir_fd, &c("g")).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
