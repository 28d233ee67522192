//! Steps by path, for the locks whose protocols name their files by path (fs-safe's lock file and
//! proper-lockfile's directory) rather than relative to a directory's descriptor: no-follow opens
//! and the identity of what a path names.

use crate::files::fs::FileId;
use crate::sys::retry;
use crate::vocab::error::Error;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Opens `path` for reading with `O_NOFOLLOW` and `flags`.
pub fn open_no_follow(path: &Path, flags: libc::c_int) -> io::Result<File> {
    retry(|| {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | flags)
            .open(path)
    })
}

pub fn lstat(path: &Path) -> Result<Option<std::fs::Metadata>, Error> {
    match retry(|| std::fs::symlink_metadata(path)) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("stat lock file", path, e)),
    }
}

pub fn lstat_id(path: &Path) -> Result<Option<FileId>, Error> {
    Ok(lstat(path)?.map(|m| (m.dev(), m.ino())))
}
