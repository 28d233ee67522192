//! Someone's lock directory, looked at without following a symlink: its mark, its flock probed
//! (let go again at once) and its age judged by [`verdict`]; and its removal, with `rmdir` and
//! only while the path still names the very directory judged (docs/PROTOCOL.md,
//! "proper-lockfile's lock").

use super::rules::{verdict, Verdict};
use super::MARK_MODE;
use crate::files::by_path::{lstat_id, open_no_follow};
use crate::files::fs::FileId;
use crate::sys::{retry, try_flock};
use crate::vocab::error::Error;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// What [`look`] found at a lock path.
#[derive(Debug)]
pub enum Seen {
    /// Nothing (or it changed while we looked): free.
    Gone,
    /// A file, symlink, FIFO, …: held for all we know, and never removed.
    NotADirectory,
    /// A directory and its verdict.
    Dir(Occupant),
}

/// A lock directory as seen once; while its verdict is `Dead`, we hold its flock.
#[derive(Debug)]
pub struct Occupant {
    /// What to do about it.
    pub verdict: Verdict,
    dir: File,
    id: FileId,
    path: PathBuf,
}

/// Looks at the lock directory at `path`, judging one of unknown maker by `stale`.
pub fn look(path: &Path, stale: Duration) -> Result<Seen, Error> {
    let dir = match open_no_follow(path, libc::O_DIRECTORY) {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Seen::Gone),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTDIR | libc::ELOOP)) => {
            return Ok(Seen::NotADirectory)
        }
        Err(e) => return Err(Error::io("open lock directory", path, e)),
    };
    let meta = retry(|| dir.metadata()).map_err(|e| Error::io("stat lock directory", path, e))?;
    let marked = meta.mode() & MARK_MODE != 0;
    // Only ours are flocked by their holders; a probe of anyone else's would say nothing.
    let flock_free =
        marked && try_flock(&dir).map_err(|e| Error::io("probe lock directory", path, e))?;
    let id = (meta.dev(), meta.ino());
    if lstat_id(path)? != Some(id) {
        return Ok(Seen::Gone); // replaced meanwhile: look again
    }
    let age = SystemTime::now()
        .duration_since(meta.modified().unwrap_or(SystemTime::UNIX_EPOCH))
        .unwrap_or(Duration::ZERO);
    Ok(Seen::Dir(Occupant {
        verdict: verdict(marked, flock_free, age, stale),
        dir,
        id,
        path: path.to_path_buf(),
    }))
}

impl Occupant {
    /// Removes the directory if the path still names it (one of ours only while we hold its
    /// flock, so that no holder of ours can be behind it): `Ok(true)`. `rmdir` never removes a
    /// directory with anything in it: that fails with `ENOTEMPTY`, as proper-lockfile's does.
    pub fn remove(self) -> Result<bool, Error> {
        let removed = remove_if_still(&self.path, self.id, "remove stale lock directory");
        drop(self.dir); // our flock, if any, only now
        removed
    }
}

/// `rmdir path` if it still names the directory `id`: `Ok(true)` when removed, `Ok(false)` when
/// something else (or nothing) is there now.
pub(super) fn remove_if_still(path: &Path, id: FileId, op: &'static str) -> Result<bool, Error> {
    if lstat_id(path)? != Some(id) {
        return Ok(false);
    }
    match retry(|| std::fs::remove_dir(path)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(op, path, e)),
    }
}
