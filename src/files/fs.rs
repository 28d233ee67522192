//! The system calls of the protocol (docs/PROTOCOL.md, "Taking the lock"): resolve the lock path,
//! create a lock file atomically with its content, open an existing one without following or
//! blocking, probe and take its flock, and unlink only the inode we mean. Every step that can
//! change a lock file is relative to its open directory (`lock_dir.rs`). No decisions are made
//! here.

use crate::base::lock_names;
use crate::files::lock_dir::{cstring, LockDir, LockPlace};
use crate::sys::{self, Opened};
use crate::vocab::error::Error;
use crate::vocab::option_name::OptionName;
use crate::vocab::path_rule::check_path;
use std::ffi::{CStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Turns a session file into its lock path: `realpath(dirname) + "/" + basename + ".lock"`.
/// With `create_dir` the directory is created first (`mkdir -p`); without it a missing
/// directory gives `Ok(None)`.
pub fn resolve_lock_path(session_file: &Path, create_dir: bool) -> Result<Option<PathBuf>, Error> {
    check_path(OptionName::SessionFile, session_file.as_os_str())?;
    let bytes = session_file.as_os_str().as_encoded_bytes();
    // Judged on the bytes as given: `absolute` would turn `dir/.` into `dir`, locking
    // `<parent>/dir.lock` for what names a directory.
    let last = (bytes.rsplit(|&b| std::path::is_separator(b as char)).next()).unwrap_or(bytes);
    if matches!(last, b"" | b"." | b"..") {
        return Err(Error::invalid(
            OptionName::SessionFile,
            format!(
                "must name a file, not a directory (it ends in `/`, `.` or `..`): {}",
                session_file.display()
            ),
        ));
    }
    let absolute =
        std::path::absolute(session_file).map_err(|e| Error::io("resolve", session_file, e))?;
    let (Some(dir), Some(name)) = (absolute.parent(), absolute.file_name()) else {
        return Err(Error::invalid(
            OptionName::SessionFile,
            format!("must name a file: {}", session_file.display()),
        ));
    };
    let real_dir = match retry(|| std::fs::canonicalize(dir)) {
        Ok(real) => real,
        Err(e) if e.kind() == io::ErrorKind::NotFound && create_dir => {
            retry(|| std::fs::create_dir_all(dir))
                .map_err(|e| Error::io("create directory", dir, e))?;
            retry(|| std::fs::canonicalize(dir))
                .map_err(|e| Error::io("resolve directory", dir, e))?
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("resolve directory", dir, e)),
    };
    Ok(Some(real_dir.join(lock_names::lock_name(name))))
}

/// `flock(LOCK_EX|LOCK_NB)`: true when we now hold it, false when someone else does.
pub use crate::sys::try_flock;

/// Lets go of a flock taken by [`try_flock`] (no inotify event: only a close raises one).
pub use crate::sys::unlock;

/// (dev, ino): the identity of a lock file, checked before every unlink.
pub use crate::files::lock_dir::FileId;

pub use crate::sys::{file_id, retry};

/// The identity of whatever is at `path` now (not following a symlink), `None` when nothing is:
/// a look by path, for checks that remove nothing (is the hold still ours?).
pub fn path_id(path: &Path) -> io::Result<Option<FileId>> {
    match sys::path_id(path, false) {
        Ok(id) => Ok(Some(id)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The identity of what is at the place now, relative to its directory (not following a
/// symlink), `None` when nothing is.
pub fn id_at(place: &LockPlace) -> io::Result<Option<FileId>> {
    match sys::stat_at(place.dir().fd(), place.name()) {
        Ok(stat) => Ok(Some(stat.id)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Unlinks the place's file only if it is still the inode `id` and its directory is still the
/// one its path names. Returns whether it was; `false` means the lock path provably names
/// another file or nothing. Callers hold the flock on `id`, so no other instance of this
/// library can swap the file between the check and the unlink, and the unlink is relative to
/// the directory checked, so no renamed ancestor can send it elsewhere.
pub fn unlink_if_same(place: &LockPlace, id: FileId) -> io::Result<bool> {
    if id_at(place)? != Some(id) || !place.dir().still_at_path()? {
        return Ok(false);
    }
    remove(place.dir().fd(), place.name())
}

/// Removes a name from a directory: whether it was there for us to remove.
fn remove(dir: &File, name: &CStr) -> io::Result<bool> {
    let mut interrupted = false;
    loop {
        match sys::unlink_at(dir, name) {
            Ok(()) => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => interrupted = true,
            // After an interrupted unlink, "gone" may be our own unlink's doing: not proof.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(interrupted),
            Err(e) => return Err(e),
        }
    }
}

/// Removes the crashed writers' temp files `names` in `dir` last modified before `before`
/// (Unix ms): only regular files, only while `dir` is still the directory of its path.
/// Returns the names removed.
pub fn remove_old_temp_files(dir: &LockDir, names: Vec<OsString>, before: i64) -> Vec<OsString> {
    (names.into_iter())
        .filter(|name| {
            let Ok(c) = cstring(Path::new(name)) else {
                return false;
            };
            sys::stat_at(dir.fd(), &c)
                .is_ok_and(|s| s.occupant.is_none() && s.mtime.saturating_mul(1000) < before)
                && dir.still_at_path().is_ok_and(|here| here)
                && remove(dir.fd(), &c).is_ok_and(|removed| removed)
        })
        .collect()
}

pub enum Created {
    /// We hold the new lock file: the fd keeps its flock.
    Held { file: File, id: FileId },
    /// Something is already at the lock path.
    Exists,
}

/// Writes the payload to a file nobody can see yet, flocks it and `link()`s it into place, so
/// that nobody ever sees an empty, half-written or unlocked lock file. Falls back to `O_EXCL`
/// create on filesystems without hard links. Every step is relative to the place's directory.
pub fn create_lock_file(place: &LockPlace, payload: &[u8]) -> Result<Created, Error> {
    match create_anonymous(place, payload) {
        Some(created) => Ok(created),
        None => create_via_temp_name(place, payload),
    }
}

/// A file with no name until it is linked (Linux `O_TMPFILE`), so there is no temp file to
/// unlink (one directory operation fewer) and none a crash could leave behind. `None` where
/// the platform, kernel or filesystem lacks it, or on any failure: the named temp file then
/// runs and reports errors with their paths.
fn create_anonymous(place: &LockPlace, payload: &[u8]) -> Option<Created> {
    let dir = place.dir().fd();
    let mut file = sys::open_anonymous(dir).ok()?;
    // Nobody else can open a file without a name: its flock is free.
    try_flock(&file).ok().filter(|&held| held)?;
    file.write_all(payload).ok()?;
    match retry(|| sys::link_anonymous(&file, dir, place.name())) {
        Ok(()) => Some(Created::Held {
            id: file_id(&file).ok()?,
            file,
        }),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Some(Created::Exists),
        Err(_) => None,
    }
}

/// Fresh temp names tried when someone else holds the flock of each (only root or our own user
/// can open one: it is created 0600) before creating gives up with `EWOULDBLOCK`.
const TEMP_NAMES: usize = 4;

/// The portable way: a hidden, uniquely named temp file beside the lock, linked into place.
fn create_via_temp_name(place: &LockPlace, payload: &[u8]) -> Result<Created, Error> {
    let (dir, lock_path) = (place.dir().fd(), place.path());
    let mut squatted = 0;
    let (file, temp_c) = loop {
        let temp_c = cstring(Path::new(&temp_name_for(place)))?;
        // The temp name is ours to know; the error is about the lock.
        let file =
            open_new(dir, &temp_c).map_err(|e| Error::io("create lock file", lock_path, e))?;
        let flocked = try_flock(&file);
        if !matches!(flocked, Ok(true)) {
            // The name is ours alone (O_EXCL, random): drop it.
            let _ = remove(dir, &temp_c);
        }
        match flocked {
            Ok(true) => break (file, temp_c),
            // Someone else holds its flock: a fresh name.
            Ok(false) if squatted + 1 < TEMP_NAMES => squatted += 1,
            Ok(false) => {
                let busy = sys::lock_busy();
                return Err(Error::io("flock lock file", lock_path, busy));
            }
            Err(e) => return Err(Error::io("flock lock file", lock_path, e)),
        }
    };
    publish(&file);
    let written = (&file).write_all(payload);
    let linked = written.map(|()| sys::link_at(dir, &temp_c, place.name()));
    // Should this fail, `clean_stale` removes the temp file later.
    let _ = remove(dir, &temp_c);
    match linked.map_err(|e| Error::io("write lock file", lock_path, e))? {
        Ok(()) => Ok(Created::Held {
            id: file_id(&file).map_err(|e| Error::io("stat lock file", lock_path, e))?,
            file,
        }),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(Created::Exists),
        Err(e) if sys::link_unsupported(&e) => create_in_place(place, payload),
        Err(e) => Err(Error::io("link lock file", lock_path, e)),
    }
}

/// A new file only its owner (and root) can open, so that no other user can take its flock
/// first; [`publish`] opens it to readers once the flock is ours.
fn open_new(dir: &File, name: &CStr) -> io::Result<File> {
    sys::create_new_at(dir, name)
}

/// Mode 0644: every user may read a lock file (to inspect it), once its flock is ours. Where
/// the mount decides every file's mode (vfat, exfat, SMB without unix extensions) the change
/// is refused and the file already has the mode others read it with: not an error.
fn publish(file: &File) {
    let _ = sys::fchmod(file, 0o644);
}

/// How long the in-place create tries for the flock of the file it has just made, at most:
/// only an inspector of our own user or root can hold it, judging it for microseconds.
const IN_PLACE_FLOCK_WAIT: Duration = Duration::from_millis(20);

/// Fallback for filesystems without `link()`: readers may briefly see an empty file, which the
/// verdict keeps (malformed and fresh) rather than reclaims.
fn create_in_place(place: &LockPlace, payload: &[u8]) -> Result<Created, Error> {
    let lock_path = place.path();
    let file = match open_new(place.dir().fd(), place.name()) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(Created::Exists),
        Err(e) => return Err(Error::io("create lock file", lock_path, e)),
    };
    let id = file_id(&file).map_err(|e| Error::io("stat lock file", lock_path, e))?;
    match flock_soon(&file) {
        Ok(true) => {}
        // Held by another for longer than judging takes: without the flock the file is not
        // ours to remove; empty, it is kept while fresh and reclaimed after. A busy try.
        Ok(false) => return Ok(Created::Exists),
        Err(e) => return Err(Error::io("flock lock file", lock_path, e)),
    }
    // Until our flock the file was there, empty and free: a reader that judged it stale (its
    // clock ahead, or we stalled) may have removed it, and then our flock is on a file nobody
    // else can see. Only the path still naming our inode makes it ours; otherwise look again.
    match id_at(place) {
        Ok(now) if now == Some(id) => {}
        Ok(_) => return Ok(Created::Exists),
        Err(e) => return Err(Error::io("stat lock file", lock_path, e)),
    }
    publish(&file);
    if let Err(e) = (&file).write_all(payload) {
        let _ = unlink_if_same(place, id);
        return Err(Error::io("write lock file", lock_path, e));
    }
    Ok(Created::Held { file, id })
}

/// Tries the flock until [`IN_PLACE_FLOCK_WAIT`] has passed; never waits inside `flock`.
fn flock_soon(file: &File) -> io::Result<bool> {
    let started = Instant::now();
    let mut pause = Duration::from_micros(50);
    loop {
        if try_flock(file)? {
            return Ok(true);
        }
        if started.elapsed() >= IN_PLACE_FLOCK_WAIT {
            return Ok(false);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// A hidden temp name beside the lock, unique (random), recognisable by `clean_stale`.
fn temp_name_for(place: &LockPlace) -> OsString {
    lock_names::temp_name(place.os_name(), crate::base::random::random_u64())
}

/// What is at the lock path when it is not a regular file.
pub use crate::sys::Occupant;

pub enum Existing {
    /// Nothing there (any more): try to create again.
    Gone,
    /// Not a regular file: never ours to judge or delete.
    NotAFile(Occupant),
    File {
        file: File,
        id: FileId,
        mtime: SystemTime,
        bytes: Vec<u8>,
    },
}

/// Looks at what is at the lock place without following a symlink, and opens it for real only if
/// it is a regular file (a FIFO or device node is never opened: opening one has effects). Reads
/// at most `max_read + 1` bytes, so oversize files are recognised cheaply.
pub fn open_existing(place: &LockPlace, max_read: usize) -> Result<Existing, Error> {
    let lock_path = place.path();
    let (file, meta) = match sys::open_without_effects(place.dir().fd(), place.name()) {
        Ok(Opened::Regular(file, meta)) => (file, meta),
        Ok(Opened::Other(occupant)) => return Ok(Existing::NotAFile(occupant)),
        Ok(Opened::Changed) => return Ok(Existing::Gone), // replaced meanwhile: look again
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Existing::Gone),
        Err(e) => return Err(Error::io("open lock file", lock_path, e)),
    };
    let mut bytes = Vec::with_capacity(512);
    (&file)
        .take(max_read as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read lock file", lock_path, e))?;
    Ok(Existing::File {
        id: sys::id_of(&file, &meta).map_err(|e| Error::io("stat lock file", lock_path, e))?,
        mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        file,
        bytes,
    })
}

/// Reads a lock file again through a descriptor kept open (from offset 0, at most
/// `max_read + 1` bytes) with its current mtime: a re-inspection that opens and closes
/// nothing, so it raises no close event for anyone watching the file.
pub fn reread(file: &File, max_read: usize) -> io::Result<(SystemTime, Vec<u8>)> {
    let mtime = file
        .metadata()?
        .modified()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut bytes = Vec::with_capacity(512);
    let mut chunk = [0u8; 4096];
    while bytes.len() <= max_read {
        match sys::read_at(file, &mut chunk, bytes.len() as u64) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    bytes.truncate(max_read + 1);
    Ok((mtime, bytes))
}

pub fn mtime(file: &File) -> io::Result<SystemTime> {
    Ok(file
        .metadata()?
        .modified()
        .unwrap_or(SystemTime::UNIX_EPOCH))
}

/// Sets the file's mtime to now through its fd: the heartbeat other kernels judge us by.
pub fn touch(file: &File) -> io::Result<()> {
    sys::touch(file)
}

pub fn lossy(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("swl-fs-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Paths naming a directory are invalid arguments, judged before any I/O.
    #[test]
    fn directory_paths_are_invalid() {
        for bad in [
            "", "a\0b", ".", "..", "/", "d/", "d/.", "d/..", "/x/./", "d//",
        ] {
            match resolve_lock_path(Path::new(bad), false) {
                Err(Error::InvalidArgument { name, .. }) => {
                    assert_eq!(name, OptionName::SessionFile, "{bad:?}")
                }
                other => panic!("{bad:?}: expected an invalid argument, got {other:?}"),
            }
        }
        let dir = scratch("paths");
        let file = dir.join("s.jsonl");
        let lock = resolve_lock_path(&file, false).unwrap().unwrap();
        assert_eq!(lock.file_name().unwrap(), "s.jsonl.lock");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
