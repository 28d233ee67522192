//! Taking the lock (docs/PROTOCOL.md, "proper-lockfile's lock"): `mkdir <file>.lock` with
//! S_ISVTX, then the directory's own flock, then a check that the path still names it; the
//! directory is ours from then on, kept fresh by a [`Refresher`], and removed on release only
//! while the path still names it.

use super::look::{look, remove_if_still, Seen};
use super::refresher::Refresher;
use super::rules::Verdict;
use super::MARK_MODE;
use crate::files::by_path::{lstat_id, open_no_follow};
use crate::files::fs::FileId;
use crate::sys::{fchmod, retry, try_flock};
use crate::vocab::error::Error;
use std::fs::{DirBuilder, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// A lock directory we hold: `dir` keeps its flock.
#[derive(Debug)]
pub struct DirLock {
    /// Open for as long as we hold the lock: it keeps the flock (shared with the refresher).
    _dir: Arc<File>,
    path: PathBuf,
    id: FileId,
    refresher: Refresher,
}

/// Why [`acquire`] did not take the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// A live holder of ours.
    Alive,
    /// A proper-lockfile holder, not stale for this long yet (unless it touches it again).
    Fresh(Duration),
    /// Something not a directory is at the lock path.
    NotADirectory,
    /// The path kept changing under us (peers creating and removing): try again.
    Contended,
}

/// What [`acquire`] did.
#[derive(Debug)]
pub enum Attempt {
    /// The lock is ours.
    Held(DirLock),
    /// Someone else has it.
    Busy(Busy),
}

/// One attempt at the lock directory `path`: made when nothing is there, or after removing a
/// dead holder's of ours or one of proper-lockfile's older than `stale`. Held, it is touched
/// every `update`.
pub fn acquire(path: &Path, stale: Duration, update: Duration) -> Result<Attempt, Error> {
    // Bounded: only a path created or removed under us each round comes back here.
    for _ in 0..8 {
        match retry(|| DirBuilder::new().mode(0o777 | MARK_MODE).create(path)) {
            Ok(()) => match claim(path, update)? {
                Some(lock) => return Ok(Attempt::Held(lock)),
                None => continue,
            },
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io("create lock directory", path, e)),
        }
        match look(path, stale)? {
            Seen::Gone => {}
            Seen::NotADirectory => return Ok(Attempt::Busy(Busy::NotADirectory)),
            Seen::Dir(occupant) => match occupant.verdict {
                Verdict::Alive => return Ok(Attempt::Busy(Busy::Alive)),
                Verdict::Fresh(left) => return Ok(Attempt::Busy(Busy::Fresh(left))),
                Verdict::Dead | Verdict::Stale => {
                    occupant.remove()?;
                }
            },
        }
    }
    Ok(Attempt::Busy(Busy::Contended))
}

/// Takes the flock of the directory we just made. `None`: a peer of ours removed it first
/// (it found it flock-free between our `mkdir` and our flock), so we look again.
fn claim(path: &Path, update: Duration) -> Result<Option<DirLock>, Error> {
    let dir = match open_no_follow(path, libc::O_DIRECTORY) {
        Ok(dir) => dir,
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOENT | libc::ENOTDIR | libc::ELOOP)
            ) =>
        {
            return Ok(None)
        }
        Err(e) => return Err(Error::io("open lock directory", path, e)),
    };
    // Only a peer probing or removing it holds it, and briefly: wait that out.
    let mut flocked = false;
    for _ in 0..200 {
        flocked = try_flock(&dir).map_err(|e| Error::io("lock lock directory", path, e))?;
        if flocked {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let meta = retry(|| dir.metadata()).map_err(|e| Error::io("stat lock directory", path, e))?;
    let id = (meta.dev(), meta.ino());
    if !flocked || lstat_id(path)? != Some(id) {
        return Ok(None);
    }
    // A umask never clears S_ISVTX, but a file system may: mark it ourselves then.
    if meta.mode() & MARK_MODE == 0 {
        let mode = (meta.mode() & 0o7777) | MARK_MODE;
        if let Err(e) = fchmod(&dir, mode as libc::mode_t) {
            let _ = std::fs::remove_dir(path);
            return Err(Error::io("mark lock directory", path, e));
        }
    }
    let dir = Arc::new(dir);
    let refresher = match Refresher::start(Arc::clone(&dir), path.to_path_buf(), id, update) {
        Ok(refresher) => refresher,
        Err(e) => {
            let _ = std::fs::remove_dir(path);
            return Err(Error::io("start lock refresher", path, e));
        }
    };
    Ok(Some(DirLock {
        _dir: dir,
        path: path.to_path_buf(),
        id,
        refresher,
    }))
}

impl DirLock {
    /// The lock directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the path still names our directory, as the refresher last saw it.
    pub fn compromised(&self) -> bool {
        self.refresher.lost()
    }

    /// Stops the refresher and removes the directory if the path still names it (our flock
    /// kept until after the `rmdir`): `Ok(true)`. `Ok(false)`: it was removed or replaced by
    /// someone and is left alone. An error leaves the directory and the flock (drop lets go).
    pub fn release(mut self) -> Result<bool, Error> {
        self.refresher.stop();
        remove_if_still(&self.path, self.id, "remove lock directory")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::time::SystemTime;

    const STALE: Duration = Duration::from_secs(10);
    const UPDATE: Duration = Duration::from_secs(5);

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("swl-dir-lock-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn held(attempt: Attempt) -> DirLock {
        match attempt {
            Attempt::Held(lock) => lock,
            Attempt::Busy(busy) => panic!("expected to hold the lock, was {busy:?}"),
        }
    }

    fn busy(attempt: Attempt) -> Busy {
        match attempt {
            Attempt::Held(_) => panic!("expected the lock to be busy"),
            Attempt::Busy(busy) => busy,
        }
    }

    fn backdate(path: &Path, by: Duration) {
        let then = SystemTime::now() - by;
        File::open(path).unwrap().set_modified(then).unwrap();
    }

    #[test]
    fn ours_is_marked_excludes_and_is_taken_at_once_when_its_holder_is_gone() {
        let dir = scratch("ours");
        let path = dir.join("f.lock");
        let lock = held(acquire(&path, STALE, UPDATE).unwrap());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_ne!(mode & MARK_MODE, 0, "our directory carries the mark");
        assert_eq!(busy(acquire(&path, STALE, UPDATE).unwrap()), Busy::Alive);
        // Even with an mtime far past `stale`, a flocked one of ours is alive.
        backdate(&path, Duration::from_secs(3600));
        assert_eq!(busy(acquire(&path, STALE, UPDATE).unwrap()), Busy::Alive);
        // Its holder gone (the descriptor closed, as at death), without releasing.
        drop(lock);
        assert!(path.exists(), "a dropped hold leaves its directory");
        let again = held(acquire(&path, STALE, UPDATE).unwrap());
        assert!(again.release().unwrap());
        assert!(!path.exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A plain directory, as proper-lockfile makes it, is judged by its mtime alone.
    #[test]
    fn theirs_is_honoured_until_stale_then_taken() {
        let dir = scratch("theirs");
        let path = dir.join("f.lock");
        std::fs::create_dir(&path).unwrap();
        backdate(&path, Duration::from_secs(4));
        match busy(acquire(&path, STALE, UPDATE).unwrap()) {
            Busy::Fresh(left) => {
                assert!(left <= Duration::from_secs(6) && left > Duration::from_secs(5))
            }
            other => panic!("expected fresh, was {other:?}"),
        }
        backdate(&path, STALE + Duration::from_secs(1));
        let lock = held(acquire(&path, STALE, UPDATE).unwrap());
        assert!(lock.release().unwrap());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Nothing is ever deleted but an empty directory: a stale one with contents is an error
    /// that removes nothing, and a file at the lock path is busy.
    #[test]
    fn contents_and_non_directories_are_never_removed() {
        let dir = scratch("odd");
        let path = dir.join("f.lock");
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("keep"), b"x").unwrap();
        backdate(&path, Duration::from_secs(60));
        let error = acquire(&path, STALE, UPDATE).unwrap_err();
        assert_eq!(error.code(), Some("ENOTEMPTY"), "{error}");
        assert!(path.join("keep").exists());
        std::fs::remove_dir_all(&path).unwrap();
        std::fs::write(&path, b"").unwrap();
        backdate(&path, Duration::from_secs(60));
        assert_eq!(
            busy(acquire(&path, STALE, UPDATE).unwrap()),
            Busy::NotADirectory
        );
        assert!(path.exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// One thread serves every hold, each at its own pace; a release leaves the others served.
    #[test]
    fn holds_are_refreshed_independently() {
        let dir = scratch("two");
        let (fast, slow) = (dir.join("fast.lock"), dir.join("slow.lock"));
        let age = |path: &Path| {
            SystemTime::now()
                .duration_since(std::fs::metadata(path).unwrap().modified().unwrap())
                .unwrap_or(Duration::ZERO)
        };
        let slow_lock = held(acquire(&slow, STALE, Duration::from_secs(3600)).unwrap());
        let fast_lock = held(acquire(&fast, STALE, Duration::from_millis(20)).unwrap());
        backdate(&fast, Duration::from_secs(3600));
        backdate(&slow, Duration::from_secs(3600));
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            age(&fast) < Duration::from_secs(60),
            "the fast one is touched"
        );
        assert!(
            age(&slow) > Duration::from_secs(3000),
            "the slow one is not due yet"
        );
        // Releasing the slow one leaves the fast one served.
        assert!(slow_lock.release().unwrap());
        backdate(&fast, Duration::from_secs(3600));
        std::thread::sleep(Duration::from_millis(200));
        assert!(age(&fast) < Duration::from_secs(60), "still touched");
        assert!(fast_lock.release().unwrap());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_refresher_keeps_the_mtime_fresh_and_notices_a_replacement() {
        let dir = scratch("refresh");
        let path = dir.join("f.lock");
        let lock = held(acquire(&path, STALE, Duration::from_millis(20)).unwrap());
        backdate(&path, Duration::from_secs(3600));
        std::thread::sleep(Duration::from_millis(200));
        let age = SystemTime::now()
            .duration_since(std::fs::metadata(&path).unwrap().modified().unwrap())
            .unwrap_or(Duration::ZERO);
        assert!(age < Duration::from_secs(60), "touched again: {age:?} old");
        assert!(!lock.compromised());
        // Removed and made again by someone else: lost, and the release leaves theirs alone.
        std::fs::remove_dir(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        assert!(lock.compromised());
        assert!(!lock.release().unwrap());
        assert!(path.exists(), "someone else's directory stays");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
