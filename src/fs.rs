//! The system calls of the protocol (docs/PROTOCOL.md, "Taking the lock"): resolve the lock path,
//! create a lock file atomically with its content, open an existing one without following or
//! blocking, probe and take its flock, and unlink only the inode we mean. No decisions are made
//! here.

use crate::error::Error;
use crate::lock_names;
use crate::option_name::OptionName;
use crate::sys::{self, open_raw, Opened};
use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Turns a session file into its lock path: `realpath(dirname) + "/" + basename + ".lock"`.
/// With `create_dir` the directory is created first (`mkdir -p`); without it a missing
/// directory gives `Ok(None)`.
pub fn resolve_lock_path(session_file: &Path, create_dir: bool) -> Result<Option<PathBuf>, Error> {
    let bytes = session_file.as_os_str().as_bytes();
    if bytes.is_empty() {
        return Err(Error::invalid(OptionName::SessionFile, "must not be empty"));
    }
    if bytes.contains(&0) {
        return Err(Error::invalid(
            OptionName::SessionFile,
            "must not contain a NUL byte",
        ));
    }
    // Judged on the bytes as given: `absolute` would turn `dir/.` into `dir`, locking
    // `<parent>/dir.lock` for what names a directory.
    let last = bytes.rsplit(|&b| b == b'/').next().unwrap_or(bytes);
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

pub fn cstring(path: &Path) -> Result<CString, Error> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::invalid(OptionName::Path, "must not contain a NUL byte"))
}

/// `flock(LOCK_EX|LOCK_NB)`: true when we now hold it, false when someone else does.
pub use crate::sys::try_flock;

/// Lets go of a flock taken by [`try_flock`] (no inotify event: only a close raises one).
pub use crate::sys::unlock;

/// (dev, ino): the identity of a lock file, checked before every unlink.
pub type FileId = (u64, u64);

pub use crate::sys::{file_id, retry};

/// The identity of whatever is at `path` now (not following a symlink), `None` when nothing is.
pub fn path_id(path: &Path) -> io::Result<Option<FileId>> {
    match retry(|| std::fs::symlink_metadata(path)) {
        Ok(m) => Ok(Some((m.dev(), m.ino()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Unlinks `path` only if it is still the inode `id`. Returns whether it was; `false` means
/// the path provably names another file or nothing. Callers hold the flock on `id`, so no other
/// instance of this library can swap the file between the check and the unlink.
pub fn unlink_if_same(path: &Path, id: FileId) -> io::Result<bool> {
    if path_id(path)? != Some(id) {
        return Ok(false);
    }
    let mut interrupted = false;
    loop {
        match std::fs::remove_file(path) {
            Ok(()) => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => interrupted = true,
            // After an interrupted unlink, "gone" may be our own unlink's doing: not proof.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(interrupted),
            Err(e) => return Err(e),
        }
    }
}

pub enum Created {
    /// We hold the new lock file: the fd keeps its flock.
    Held { file: File, id: FileId },
    /// Something is already at the lock path.
    Exists,
}

/// Writes the payload to a file nobody can see yet, flocks it and `link()`s it into place, so
/// that nobody ever sees an empty, half-written or unlocked lock file. Falls back to `O_EXCL`
/// create on filesystems without hard links.
pub fn create_lock_file(lock_path: &Path, payload: &[u8]) -> Result<Created, Error> {
    let lock_c = cstring(lock_path)?;
    match create_anonymous(lock_path, &lock_c, payload) {
        Some(created) => Ok(created),
        None => create_via_temp_name(lock_path, &lock_c, payload),
    }
}

/// A file with no name until it is linked (Linux `O_TMPFILE`), so there is no temp file to
/// unlink (one directory operation fewer) and none a crash could leave behind. `None` where
/// the platform, kernel or filesystem lacks it, or on any failure: the named temp file then
/// runs and reports errors with their paths.
fn create_anonymous(lock_path: &Path, lock_c: &CString, payload: &[u8]) -> Option<Created> {
    let dir = cstring(lock_path.parent()?).ok()?;
    let mut file = sys::open_anonymous(&dir).ok()?;
    // Nobody else can open a file without a name: its flock is free.
    try_flock(&file).ok().filter(|&held| held)?;
    file.write_all(payload).ok()?;
    match retry(|| sys::link_anonymous(&file, lock_c)) {
        Ok(()) => Some(Created::Held {
            id: file_id(&file).ok()?,
            file,
        }),
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Some(Created::Exists),
        Err(_) => None,
    }
}

/// Fresh temp names tried when someone else holds the flock of each (only root or our own user
/// can open one: it is created 0600) before creating gives up with `EWOULDBLOCK`.
const TEMP_NAMES: usize = 4;

/// The portable way: a hidden, uniquely named temp file beside the lock, linked into place.
fn create_via_temp_name(
    lock_path: &Path,
    lock_c: &CString,
    payload: &[u8],
) -> Result<Created, Error> {
    let mut squatted = 0;
    let (file, temp_c) = loop {
        let temp_c = cstring(&temp_path_for(lock_path))?;
        let file = open_new(&temp_c).map_err(|e| match e.raw_os_error() {
            // realpath accepts a regular file as the "directory"; say so about the directory.
            Some(libc::ENOTDIR) => Error::io(
                "open session directory",
                lock_path.parent().unwrap_or(lock_path),
                e,
            ),
            // The temp name is ours to know; the error is about the lock.
            _ => Error::io("create lock file", lock_path, e),
        })?;
        let flocked = try_flock(&file);
        if !matches!(flocked, Ok(true)) {
            // The name is ours alone (O_EXCL, random): drop it.
            let _ = sys::unlink(&temp_c);
        }
        match flocked {
            Ok(true) => break (file, temp_c),
            // Someone else holds its flock: a fresh name.
            Ok(false) if squatted + 1 < TEMP_NAMES => squatted += 1,
            Ok(false) => {
                let busy = io::Error::from_raw_os_error(libc::EWOULDBLOCK);
                return Err(Error::io("flock lock file", lock_path, busy));
            }
            Err(e) => return Err(Error::io("flock lock file", lock_path, e)),
        }
    };
    publish(&file);
    let written = (&file).write_all(payload);
    let linked = written.map(|()| sys::link(&temp_c, lock_c));
    // Should this fail, `clean_stale` removes the temp file later.
    let _ = sys::unlink(&temp_c);
    match linked.map_err(|e| Error::io("write lock file", lock_path, e))? {
        Ok(()) => Ok(Created::Held {
            id: file_id(&file).map_err(|e| Error::io("stat lock file", lock_path, e))?,
            file,
        }),
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(Created::Exists),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EPERM | libc::ENOTSUP | libc::EXDEV | libc::ENOSYS)
            ) =>
        {
            create_in_place(lock_path, lock_c, payload)
        }
        Err(e) => Err(Error::io("link lock file", lock_path, e)),
    }
}

/// A new file only its owner (and root) can open, so that no other user can take its flock
/// first; [`publish`] opens it to readers once the flock is ours.
fn open_new(path: &CStr) -> io::Result<File> {
    let flags = libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_RDWR;
    open_raw(path, flags, 0o600)
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
fn create_in_place(lock_path: &Path, lock_c: &CString, payload: &[u8]) -> Result<Created, Error> {
    let file = match open_new(lock_c) {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => return Ok(Created::Exists),
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
    publish(&file);
    if let Err(e) = (&file).write_all(payload) {
        let _ = unlink_if_same(lock_path, id);
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
fn temp_path_for(lock_path: &Path) -> PathBuf {
    let name = lock_path.file_name().unwrap_or(OsStr::new("lock"));
    lock_path.with_file_name(lock_names::temp_name(name, crate::random::random_u64()))
}

/// What is at the lock path when it is not a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occupant {
    Directory,
    Fifo,
    Socket,
    Symlink,
    Device,
}

impl Occupant {
    pub fn describe(self) -> &'static str {
        match self {
            Occupant::Directory => "a directory",
            Occupant::Fifo => "a FIFO",
            Occupant::Socket => "a socket",
            Occupant::Symlink => "a symbolic link",
            Occupant::Device => "a device node",
        }
    }
}

fn occupant_of(kind: std::fs::FileType) -> Option<Occupant> {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some(Occupant::Directory)
    } else if kind.is_fifo() {
        Some(Occupant::Fifo)
    } else if kind.is_socket() {
        Some(Occupant::Socket)
    } else if kind.is_symlink() {
        Some(Occupant::Symlink)
    } else {
        Some(Occupant::Device)
    }
}

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

/// Looks at what is at the lock path without following a symlink, and opens it for real only if
/// it is a regular file (a FIFO or device node is never opened: opening one has effects). Reads
/// at most `max_read + 1` bytes, so oversize files are recognised cheaply.
pub fn open_existing(lock_path: &Path, max_read: usize) -> Result<Existing, Error> {
    let c = cstring(lock_path)?;
    let (file, meta) = match sys::open_without_effects(&c) {
        Ok(Opened::Regular(file, meta)) => (file, meta),
        Ok(Opened::Other(meta)) => {
            return Ok(occupant_of(meta.file_type()).map_or(Existing::Gone, Existing::NotAFile))
        }
        Ok(Opened::Changed) => return Ok(Existing::Gone), // replaced meanwhile: look again
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(Existing::Gone),
        Err(e) => return Err(Error::io("open lock file", lock_path, e)),
    };
    let mut bytes = Vec::with_capacity(512);
    (&file)
        .take(max_read as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read lock file", lock_path, e))?;
    Ok(Existing::File {
        id: (meta.dev(), meta.ino()),
        mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        file,
        bytes,
    })
}

/// Reads a lock file again through a descriptor kept open (from offset 0, at most
/// `max_read + 1` bytes) with its current mtime: a re-inspection that opens and closes
/// nothing, so it raises no close event for anyone watching the file.
pub fn reread(file: &File, max_read: usize) -> io::Result<(SystemTime, Vec<u8>)> {
    use std::os::unix::fs::FileExt;
    let mtime = file
        .metadata()?
        .modified()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut bytes = Vec::with_capacity(512);
    let mut chunk = [0u8; 4096];
    while bytes.len() <= max_read {
        match file.read_at(&mut chunk, bytes.len() as u64) {
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
    String::from_utf8_lossy(path.as_os_str().as_bytes()).into_owned()
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
