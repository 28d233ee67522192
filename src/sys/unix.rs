//! What every Unix can do, used where a platform has nothing better (and on Linux with the
//! `portable` feature):
//! - creation: no unnamed files, so the caller writes a hidden, uniquely named temp file and
//!   links it into place;
//! - inspection: `lstat` first, then `open(O_RDONLY|O_NOFOLLOW|O_NONBLOCK)` only for a regular
//!   file, checking that what was opened is the inode looked at;

use super::{file_id, open_raw, retry, Opened};
use std::ffi::{CStr, OsStr};
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

fn unsupported() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOTSUP)
}

/// No unnamed files here: always `ENOTSUP`.
pub fn open_anonymous(_dir: &CStr) -> io::Result<File> {
    Err(unsupported())
}

/// No unnamed files here: always `ENOTSUP`.
pub fn link_anonymous(_file: &File, _target: &CStr) -> io::Result<()> {
    Err(unsupported())
}

/// `lstat`, then a non-blocking open of a regular file, which must be the inode looked at
/// (otherwise the name was replaced meanwhile: `Changed`). If a FIFO took the name in
/// between, the non-blocking read-only open returns at once and the identity check rejects it.
pub fn open_without_effects(path: &CStr) -> io::Result<Opened> {
    let name = Path::new(OsStr::from_bytes(path.to_bytes()));
    let meta = retry(|| std::fs::symlink_metadata(name))?;
    if !meta.file_type().is_file() {
        return Ok(Opened::Other(meta));
    }
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    let file = match open_raw(path, flags, 0) {
        Ok(file) => file,
        // Replaced by a symlink meanwhile (FreeBSD says EMLINK, the others ELOOP).
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::EMLINK)) => {
            return Ok(Opened::Changed)
        }
        Err(e) => return Err(e),
    };
    if file_id(&file)? != (meta.dev(), meta.ino()) {
        return Ok(Opened::Changed);
    }
    Ok(Opened::Regular(file, meta))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    /// Regular files are opened, anything else only looked at; nothing unnamed is made.
    #[test]
    fn portable_inspection_opens_only_regular_files() {
        let dir = std::env::temp_dir().join(format!("swl-sys-unix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let c = |name: &str| CString::new(dir.join(name).as_os_str().as_bytes()).unwrap();
        std::fs::write(dir.join("f"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.join("f"), dir.join("l")).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c("p").as_ptr(), 0o600) }, 0);
        assert!(matches!(open_without_effects(&c("f")), Ok(Opened::Regular(_, m)) if m.len() == 1));
        for other in ["l", "p"] {
            assert!(
                matches!(open_without_effects(&c(other)), Ok(Opened::Other(_))),
                "{other}"
            );
        }
        let missing = open_without_effects(&c("none")).err().unwrap();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
        let dir_c = CString::new(dir.as_os_str().as_bytes()).unwrap();
        assert!(open_anonymous(&dir_c).is_err());
        let file = File::open(dir.join("f")).unwrap();
        assert!(link_anonymous(&file, &c("g")).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
