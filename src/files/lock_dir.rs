//! A lock path as an open directory and a name in it (docs/PROTOCOL.md, "Hostile neighbours").
//! Every step that can change a lock file — creating it, opening it to judge it, the
//! same-inode check and the unlink — works relative to the descriptor of its directory,
//! opened once, so that an ancestor renamed or swapped for a symlink between two steps cannot
//! send the second one into another directory.

use crate::sys;
use crate::vocab::error::Error;
use crate::vocab::option_name::OptionName;
use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::sys::FileId;

/// A path as the system calls take it.
pub fn cstring(path: &Path) -> Result<CString, Error> {
    CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::invalid(OptionName::Path, "must not contain a NUL byte"))
}

/// A lock directory, open.
pub struct LockDir {
    fd: File,
    /// The path it was opened by, with no symlink in it.
    real: PathBuf,
    id: FileId,
}

impl LockDir {
    /// Opens `real`, a directory path with no symlink in it (resolved), refusing a symlink
    /// that replaced its last part since.
    pub fn open(real: &Path) -> io::Result<LockDir> {
        let c = CString::new(real.as_os_str().as_encoded_bytes())?;
        let fd = sys::open_dir(&c)?;
        let id = sys::file_id(&fd)?;
        Ok(LockDir {
            fd,
            real: real.to_path_buf(),
            id,
        })
    }

    /// Opens a directory given by a caller (its path may lead through symlinks): resolved
    /// first, so that the path checked before an unlink has no symlink to swap. `None` when it
    /// does not exist.
    pub fn open_given(dir: &Path) -> Result<Option<Arc<LockDir>>, Error> {
        let real = match sys::retry(|| std::fs::canonicalize(dir)) {
            Ok(real) => real,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("resolve directory", dir, e)),
        };
        match LockDir::open(&real) {
            Ok(open) => Ok(Some(Arc::new(open))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("open directory", dir, e)),
        }
    }

    pub fn fd(&self) -> &File {
        &self.fd
    }

    /// Whether its path still leads to it: false once an ancestor was renamed, or swapped for
    /// a symlink, since it was opened. Checked before anything in it is removed, so that
    /// nothing is removed on behalf of a path that now names another directory.
    pub fn still_at_path(&self) -> io::Result<bool> {
        match sys::path_id(&self.real, true) {
            Ok(id) => Ok(id == self.id),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// Where a lock file is: its directory, open, and its name there.
#[derive(Clone)]
pub struct LockPlace {
    dir: Arc<LockDir>,
    name: CString,
    /// `name` as the OS string it was made from.
    os_name: OsString,
    /// The lock path, for messages and the table.
    path: PathBuf,
}

impl LockPlace {
    /// Opens the directory of a resolved lock path (see [`LockDir::open`]).
    pub fn open(lock_path: &Path) -> Result<LockPlace, Error> {
        let (Some(dir), Some(name)) = (lock_path.parent(), lock_path.file_name()) else {
            return Err(Error::io(
                "open session directory",
                lock_path,
                io::Error::from_raw_os_error(libc::EINVAL),
            ));
        };
        let dir = LockDir::open(dir).map_err(|e| Error::io("open session directory", dir, e))?;
        LockPlace::in_dir(Arc::new(dir), name, lock_path)
    }

    /// The place of a lock path given by a caller, its directory resolved first (see
    /// [`LockDir::open_given`]); `None` when there is no such directory or name.
    pub fn open_given(lock_path: &Path) -> Result<Option<LockPlace>, Error> {
        let (Some(dir), Some(name)) = (lock_path.parent(), lock_path.file_name()) else {
            return Ok(None);
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        match LockDir::open_given(dir)? {
            Some(open) => LockPlace::in_dir(open, name, lock_path).map(Some),
            None => Ok(None),
        }
    }

    /// `name` in a directory already open; `path` names it in messages.
    pub fn in_dir(dir: Arc<LockDir>, name: &OsStr, path: &Path) -> Result<LockPlace, Error> {
        Ok(LockPlace {
            dir,
            name: cstring(Path::new(name))?,
            os_name: name.to_os_string(),
            path: path.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &LockDir {
        &self.dir
    }

    pub fn name(&self) -> &CStr {
        &self.name
    }

    pub fn os_name(&self) -> &OsStr {
        &self.os_name
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
