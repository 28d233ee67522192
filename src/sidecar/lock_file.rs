//! The lock file itself (docs/PROTOCOL.md, "fs-safe's file lock"): exclusive creation with the
//! flock taken before any byte is written, the no-follow snapshot of someone else's file, its
//! removal only while it is still exactly what was judged, and the release of our own file
//! only while its bytes are still exactly ours.

use super::rules::{holder_state, HolderState};
use super::token::{content, Token};
use crate::files::by_path::{lstat, lstat_id, open_no_follow};
use crate::files::fs::{self, FileId};
use crate::files::lock_dir::LockPlace;
use crate::sys::{retry, try_flock};
use crate::vocab::error::Error;
use std::fs::{File, Permissions};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// fs-safe's limit on a lock file, written or read.
pub const MAX_LOCK_BYTES: usize = 1024 * 1024;

/// A lock file we created and hold: its descriptor keeps the flock.
#[derive(Debug)]
pub struct SidecarLock {
    /// Open for as long as we hold the lock: it keeps the flock.
    _file: File,
    path: PathBuf,
    bytes: Vec<u8>,
}

/// What [`create`] did.
pub enum Created {
    /// The lock is ours.
    Held(SidecarLock),
    /// Something is at the lock path, or our new file was unlinked before we could hold it.
    Busy,
}

/// Creates `lock_path` with `json`, a newline, a fresh token of ours and a newline, the way the
/// session lock creates its files (`fs::create_lock_file`): written and flocked before it is
/// linked into place, so nobody ever sees it empty, half-written or unlocked, and a crash
/// leaves no half-made lock behind. Then mode 0600, as fs-safe's native writer sets it.
pub fn create(lock_path: &Path, json: &[u8]) -> Result<Created, Error> {
    let bytes = content(json, &Token::fresh());
    if bytes.len() > MAX_LOCK_BYTES {
        return Err(Error::io(
            "write lock file",
            lock_path,
            io::Error::new(io::ErrorKind::InvalidInput, "payload over 1 MiB"),
        ));
    }
    let file = match crate::files::fs::create_lock_file(&place_of(lock_path)?, &bytes)? {
        fs::Created::Held { file, .. } => file,
        fs::Created::Exists => return Ok(Created::Busy),
    };
    let mode = file.set_permissions(Permissions::from_mode(0o600));
    let lock = SidecarLock {
        _file: file,
        path: lock_path.to_path_buf(),
        bytes,
    };
    match mode {
        Ok(()) => Ok(Created::Held(lock)),
        Err(e) => {
            let _ = lock.remove_if_ours();
            Err(Error::io("set lock file mode", lock_path, e))
        }
    }
}

/// The lock path's directory, open (resolved first: an explicit `lockPath` may lead through a
/// symlink), and its name there.
fn place_of(lock_path: &Path) -> Result<LockPlace, Error> {
    LockPlace::open_given(lock_path)?.ok_or_else(|| {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        Error::io("create lock file", lock_path, e)
    })
}

impl SidecarLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file at our path is still a regular file with exactly our bytes.
    pub fn still_ours(&self) -> Result<bool, Error> {
        match read_at_path(&self.path, self.bytes.len())? {
            Some((_, raw)) => Ok(raw == self.bytes),
            None => Ok(false),
        }
    }

    /// Removes the file if its bytes are still exactly ours (our flock kept meanwhile, so no
    /// reclaimer of ours can act in between): `Ok(true)`. `Ok(false)`: it was changed,
    /// replaced or removed, and is left alone. An error leaves the hold in place for a retry.
    pub fn remove_if_ours(&self) -> Result<bool, Error> {
        if !self.still_ours()? {
            return Ok(false);
        }
        match retry(|| std::fs::remove_file(&self.path)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("remove lock file", &self.path, e)),
        }
    }
}

/// Someone else's lock file as seen once.
#[derive(Debug)]
pub struct Snapshot {
    /// The bytes read (at most 1 MiB).
    pub raw: Vec<u8>,
    /// Its modification time.
    pub mtime: SystemTime,
    /// Who holds it, as far as the kernel can tell.
    pub holder: HolderState,
    id: FileId,
    path: PathBuf,
}

/// What [`snapshot`] found.
pub enum Seen {
    /// Nothing there, or it changed while we looked: look again.
    Gone,
    /// A directory, symlink, FIFO, …: never judged or removed.
    NotAFile,
    /// Over 1 MiB.
    TooLarge,
    /// A regular file.
    File(Snapshot),
}

/// Looks at the lock file without following a symlink or blocking on a FIFO, reads at most
/// 1 MiB, and probes its flock (let go again at once).
pub fn snapshot(lock_path: &Path) -> Result<Seen, Error> {
    let Some(before) = lstat(lock_path)? else {
        return Ok(Seen::Gone);
    };
    if !before.file_type().is_file() {
        return Ok(Seen::NotAFile);
    }
    let Some((file, raw)) = read_at_path(lock_path, MAX_LOCK_BYTES)? else {
        return Ok(Seen::Gone);
    };
    let meta = retry(|| file.metadata()).map_err(|e| Error::io("stat lock file", lock_path, e))?;
    let id = (meta.dev(), meta.ino());
    if id != (before.dev(), before.ino()) || lstat_id(lock_path)? != Some(id) {
        return Ok(Seen::Gone);
    }
    if raw.len() > MAX_LOCK_BYTES {
        return Ok(Seen::TooLarge);
    }
    let flock_free = try_flock(&file).map_err(|e| Error::io("probe lock file", lock_path, e))?;
    let marked = Token::of(&raw).is_some_and(|t| t.is_ours());
    Ok(Seen::File(Snapshot {
        holder: holder_state(marked, flock_free),
        mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        raw,
        id,
        path: lock_path.to_path_buf(),
    }))
}

impl Snapshot {
    /// Whether the path still names this very file with these very bytes.
    pub fn unchanged(&self) -> Result<bool, Error> {
        Ok(self.open_if_unchanged()?.is_some())
    }

    /// Removes the file if it is still this very file with these very bytes and no holder of
    /// ours has its flock; the flock is ours until after the unlink. `Ok(false)`: left alone.
    pub fn remove_if_unchanged(&self) -> Result<bool, Error> {
        let Some(file) = self.open_if_unchanged()? else {
            return Ok(false);
        };
        if !try_flock(&file).map_err(|e| Error::io("lock stale file", &self.path, e))? {
            return Ok(false);
        }
        if lstat_id(&self.path)? != Some(self.id) {
            return Ok(false);
        }
        match retry(|| std::fs::remove_file(&self.path)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("remove stale lock file", &self.path, e)),
        }
    }

    fn open_if_unchanged(&self) -> Result<Option<File>, Error> {
        match read_at_path(&self.path, self.raw.len())? {
            Some((file, raw))
                if raw == self.raw && crate::files::fs::file_id(&file).ok() == Some(self.id) =>
            {
                Ok(Some(file))
            }
            _ => Ok(None),
        }
    }
}

/// Opens a regular file without following a symlink or blocking, and reads up to `limit + 1`
/// bytes. `None` when nothing (or no regular file) is there.
fn read_at_path(path: &Path, limit: usize) -> Result<Option<(File, Vec<u8>)>, Error> {
    let file = match open_no_follow(path, libc::O_NONBLOCK) {
        Ok(file) => file,
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOENT | libc::ELOOP | libc::ENXIO)
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(Error::io("open lock file", path, e)),
    };
    let meta = retry(|| file.metadata()).map_err(|e| Error::io("stat lock file", path, e))?;
    if !meta.file_type().is_file() {
        return Ok(None);
    }
    let mut raw = Vec::with_capacity(512);
    (&file)
        .take(limit as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| Error::io("read lock file", path, e))?;
    Ok(Some((file, raw)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sidecar::scratch;

    fn held(created: Created) -> SidecarLock {
        match created {
            Created::Held(lock) => lock,
            Created::Busy => panic!("expected to hold the lock"),
        }
    }

    fn file_seen(path: &Path) -> Snapshot {
        match snapshot(path).unwrap() {
            Seen::File(seen) => seen,
            _ => panic!("expected a file"),
        }
    }

    #[test]
    fn create_writes_the_format_with_mode_0600_and_excludes() {
        let dir = scratch("create");
        let path = dir.join("t.lock");
        let lock = held(create(&path, b"{}").unwrap());
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
        let raw = std::fs::read(&path).unwrap();
        assert_eq!(raw.len(), 140);
        assert!(Token::of(&raw).unwrap().is_ours());
        assert!(matches!(create(&path, b"{}").unwrap(), Created::Busy));
        assert_eq!(file_seen(&path).holder, HolderState::Alive);
        assert!(lock.remove_if_ours().unwrap());
        assert!(!path.exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A holder of ours that is gone (its descriptor closed) is proven gone by the free flock.
    #[test]
    fn a_closed_holder_of_ours_is_gone_and_removable() {
        let dir = scratch("gone");
        let path = dir.join("t.lock");
        drop(held(create(&path, b"{\"pid\": 1}").unwrap()));
        let seen = file_seen(&path);
        assert_eq!(seen.holder, HolderState::Gone);
        assert!(seen.remove_if_unchanged().unwrap());
        assert!(!path.exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Release and stale removal leave a file alone once its bytes differ.
    #[test]
    fn changed_bytes_are_never_removed() {
        let dir = scratch("changed");
        let path = dir.join("t.lock");
        let lock = held(create(&path, b"{}").unwrap());
        let mut raw = std::fs::read(&path).unwrap();
        raw[0] = b' ';
        std::fs::write(&path, &raw).unwrap();
        assert!(!lock.still_ours().unwrap());
        assert!(!lock.remove_if_ours().unwrap());
        assert!(path.exists());
        drop(lock);
        std::fs::write(&path, b"{\"pid\": 2}\n").unwrap();
        let seen = file_seen(&path);
        assert_eq!(seen.holder, HolderState::Foreign);
        std::fs::write(&path, b"{\"pid\": 3}\n").unwrap();
        assert!(!seen.remove_if_unchanged().unwrap());
        assert!(path.exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn non_files_and_oversize_files_are_never_judged() {
        let dir = scratch("odd");
        let path = dir.join("t.lock");
        std::fs::create_dir(&path).unwrap();
        assert!(matches!(snapshot(&path).unwrap(), Seen::NotAFile));
        std::fs::remove_dir(&path).unwrap();
        std::os::unix::fs::symlink(dir.join("elsewhere"), &path).unwrap();
        assert!(matches!(snapshot(&path).unwrap(), Seen::NotAFile));
        assert!(matches!(create(&path, b"{}").unwrap(), Created::Busy));
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, vec![b' '; MAX_LOCK_BYTES + 1]).unwrap();
        assert!(matches!(snapshot(&path).unwrap(), Seen::TooLarge));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
