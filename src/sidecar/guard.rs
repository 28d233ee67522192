//! The `<lock>.reclaim` guard (docs/PROTOCOL.md, "fs-safe's file lock"): a directory made with
//! `mkdir` before a stale lock is removed, as fs-safe makes it. Ours carries S_ISVTX from its
//! `mkdir` on (so it is recognisable from its first instant) and its flock while its maker
//! lives, so a guard of ours whose maker died is taken over at once; one of unknown maker after
//! [`FOREIGN_GUARD_ABANDONED_AFTER`](super::rules::FOREIGN_GUARD_ABANDONED_AFTER).

use super::rules::{guard_verdict, GuardVerdict};
use crate::files::by_path::{lstat_id, open_no_follow};
use crate::files::fs::FileId;
use crate::sys::{retry, try_flock};
use crate::vocab::error::Error;
use std::ffi::OsString;
use std::fs::{DirBuilder, File};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Our mark on a guard directory: no fs-safe `mkdir` sets it.
const MARK_MODE: u32 = 0o1000;

/// A guard we hold: its directory's flock is held through `dir`.
#[derive(Debug)]
pub struct ReclaimGuard {
    dir: File,
    path: PathBuf,
    id: FileId,
}

/// What [`reclaim_guard`] found or did.
pub enum GuardStep {
    /// Nothing there (only when not asked to make one).
    Free,
    /// We made it.
    Taken(ReclaimGuard),
    /// Its maker was gone; it is ours now.
    Adopted(ReclaimGuard),
    /// A live reclaimer holds it, or something not a directory is there: wait.
    Held,
    /// A guard of unknown maker, honoured for this long still.
    Young(Duration),
}

/// `<lock>.reclaim`.
pub fn guard_path(lock_path: &Path) -> PathBuf {
    let mut name = OsString::from(lock_path.as_os_str());
    name.push(".reclaim");
    PathBuf::from(name)
}

/// Looks at the guard of `lock_path`, taking it over when its maker is gone; with `make`, also
/// makes it when nothing is there.
pub fn reclaim_guard(lock_path: &Path, make: bool) -> Result<GuardStep, Error> {
    let path = guard_path(lock_path);
    // Bounded: only a guard removed or replaced under us each round comes back here.
    for _ in 0..8 {
        if make {
            match retry(|| DirBuilder::new().mode(0o700 | MARK_MODE).create(&path)) {
                Ok(()) => match probe(&path)? {
                    Probe::Ours(guard, _) => return Ok(GuardStep::Taken(guard)),
                    Probe::Gone => continue,
                    // A peer took our fresh guard over: it reclaims, we wait.
                    Probe::Flocked | Probe::NotADirectory => return Ok(GuardStep::Held),
                },
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::io("create reclaim guard", &path, e)),
            }
        }
        let (guard, meta) = match probe(&path)? {
            Probe::Gone if make => continue,
            Probe::Gone => return Ok(GuardStep::Free),
            Probe::Flocked | Probe::NotADirectory => return Ok(GuardStep::Held),
            Probe::Ours(guard, meta) => (guard, meta),
        };
        let age = SystemTime::now()
            .duration_since(meta.modified().unwrap_or(SystemTime::UNIX_EPOCH))
            .unwrap_or(Duration::ZERO);
        let verdict = guard_verdict(meta.mode() & MARK_MODE != 0, true, age);
        // Dropping `guard` lets its flock go again.
        return Ok(match verdict {
            GuardVerdict::Abandoned => GuardStep::Adopted(guard),
            GuardVerdict::Young(left) => GuardStep::Young(left),
            GuardVerdict::Held => GuardStep::Held,
        });
    }
    Ok(GuardStep::Held)
}

enum Probe {
    Gone,
    NotADirectory,
    /// Someone holds its flock: a live reclaimer of ours.
    Flocked,
    /// We hold its flock now.
    Ours(ReclaimGuard, Box<std::fs::Metadata>),
}

/// Opens the guard directory without following a symlink and tries its flock.
fn probe(path: &Path) -> Result<Probe, Error> {
    let dir = match open_no_follow(path, libc::O_DIRECTORY) {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Probe::Gone),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTDIR | libc::ELOOP)) => {
            return Ok(Probe::NotADirectory)
        }
        Err(e) => return Err(Error::io("open reclaim guard", path, e)),
    };
    let meta = retry(|| dir.metadata()).map_err(|e| Error::io("stat reclaim guard", path, e))?;
    if !try_flock(&dir).map_err(|e| Error::io("lock reclaim guard", path, e))? {
        return Ok(Probe::Flocked);
    }
    let id = (meta.dev(), meta.ino());
    if lstat_id(path)? != Some(id) {
        return Ok(Probe::Gone); // replaced meanwhile: look again
    }
    let path = path.to_path_buf();
    Ok(Probe::Ours(ReclaimGuard { dir, path, id }, Box::new(meta)))
}

impl ReclaimGuard {
    /// Removes the guard if the path still names it: `Ok(true)`. Our flock is kept until after
    /// the `rmdir`, so no peer of ours takes it over meanwhile.
    pub fn remove(self) -> Result<bool, Error> {
        if lstat_id(&self.path)? != Some(self.id) {
            return Ok(false);
        }
        let removed = match retry(|| std::fs::remove_dir(&self.path)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io("remove reclaim guard", &self.path, e)),
        };
        drop(self.dir);
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sidecar::scratch;

    #[test]
    fn a_live_guard_of_ours_is_held_a_dead_one_adopted_at_once() {
        let dir = scratch("ours");
        let lock = dir.join("t.lock");
        assert!(matches!(
            reclaim_guard(&lock, false).unwrap(),
            GuardStep::Free
        ));
        let GuardStep::Taken(guard) = reclaim_guard(&lock, true).unwrap() else {
            panic!("expected to make the guard")
        };
        let mode = std::fs::metadata(guard_path(&lock)).unwrap().mode();
        assert_ne!(mode & MARK_MODE, 0, "the guard carries our mark");
        assert!(matches!(
            reclaim_guard(&lock, true).unwrap(),
            GuardStep::Held
        ));
        // Its maker gone (the descriptor closed, as at death): taken over.
        drop(guard);
        let GuardStep::Adopted(adopted) = reclaim_guard(&lock, false).unwrap() else {
            panic!("expected to take over a dead maker's guard")
        };
        assert!(adopted.remove().unwrap());
        assert!(!guard_path(&lock).exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// fs-safe's plain guard is honoured while young; anything not a directory always.
    #[test]
    fn an_unknown_guard_is_young_then_abandoned_other_things_held() {
        let dir = scratch("foreign");
        let lock = dir.join("t.lock");
        std::fs::create_dir(guard_path(&lock)).unwrap();
        match reclaim_guard(&lock, true).unwrap() {
            GuardStep::Young(left) => assert!(left > Duration::ZERO),
            _ => panic!("a fresh fs-safe guard must be honoured"),
        }
        let old = SystemTime::now() - Duration::from_secs(60);
        File::open(guard_path(&lock))
            .unwrap()
            .set_modified(old)
            .unwrap();
        let GuardStep::Adopted(adopted) = reclaim_guard(&lock, true).unwrap() else {
            panic!("expected an old unknown guard to be taken over")
        };
        assert!(adopted.remove().unwrap());
        std::fs::write(guard_path(&lock), b"").unwrap();
        assert!(matches!(
            reclaim_guard(&lock, true).unwrap(),
            GuardStep::Held
        ));
        assert!(guard_path(&lock).exists());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
