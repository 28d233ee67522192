//! This process's holds: the held table behind its one mutex, and the file work of holds
//! (recording a new one, ending one, the heartbeat), which runs outside that mutex.
//!
//! Why outside is safe: a hold leaves the table under the mutex, so exactly one caller ends
//! it; that caller then unlinks the file (only if the path still leads to our inode) and
//! closes it. Until the close, the descriptor keeps the flock, so no other process, and no
//! other thread of ours, may reclaim the file: an acquire of the same path that runs meanwhile
//! finds no entry, meets our still-flocked file and waits for it like any contender; the unlink
//! and close that follow wake it.

use crate::files::fs::{self, FileId};
use crate::files::lock_dir::LockPlace;
use crate::held::table::{Held, Hold, NewHold, Overdue, Release, ReleaseOutcome, Table};
use crate::rules::payload::clip_owner;
use crate::vocab::error::Error;
use crate::vocab::option_name::OptionName;
use crate::vocab::options::Options;
use crate::vocab::owner::HoldOwner;
use std::fs::File;
use std::path::{Path, PathBuf};
#[cfg(unix)]
use std::sync::RwLockWriteGuard;
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};
use std::time::Instant;

pub struct Holds {
    table: Mutex<Table>,
    /// Held (read) while a hold's descriptor is outside the table (being ended, or shared with
    /// the heartbeat); a fork takes it (write) first, so that a forked child finds every lock
    /// descriptor it inherited in the table and closes it. Taken before the table's mutex.
    outside: RwLock<()>,
}

/// A lock file an attempt created and holds (its descriptor keeps the flock), not yet in the
/// table.
pub struct NewLockFile {
    pub file: File,
    pub id: FileId,
    /// The nonce written into it.
    pub nonce: String,
    /// Where it is: release removes it relative to the same directory.
    pub place: LockPlace,
}

/// How one hold ended: the outcome, or the I/O error that kept the lock file from being removed
/// (the hold is over either way: its descriptor, and with it the flock, is closed).
pub type Ended = Result<ReleaseOutcome, Error>;

pub fn owner_ended() -> Error {
    Error::invalid(
        OptionName::HoldOwner,
        "the owner of this request has ended (its Node environment is gone)",
    )
}

/// The watchdog's log line for each hold it ended.
pub fn log_overdue(overdue: &[Overdue]) {
    for (lock_path, held, max) in overdue {
        crate::base::log::emit(&format!(
            "[session-write-lock] releasing lock held for {}ms (max={}ms): {}",
            held.as_millis(),
            max.as_millis(),
            lock_path.display()
        ));
    }
}

/// Removes a hold's file and closes it. Unlink before closing: while our flock stands nobody
/// else may reclaim, so the inode check and the unlink cannot be split by another instance of
/// this library.
fn end(lock_path: &Path, held: Held) -> Ended {
    let removed = fs::unlink_if_same(held.place(), held.id());
    drop(held);
    match removed {
        Ok(true) => Ok(ReleaseOutcome::Released),
        Ok(false) => Ok(ReleaseOutcome::Compromised),
        Err(e) => Err(Error::io("remove lock file", lock_path, e)),
    }
}

/// Ends holds taken out of the table: how many, and the errors of those whose file could not
/// be removed.
fn end_all(taken: Vec<(PathBuf, Held)>) -> (usize, Vec<Error>) {
    let count = taken.len();
    let errors = (taken.into_iter())
        .filter_map(|(path, held)| end(&path, held).err())
        .collect();
    (count, errors)
}

impl Holds {
    pub fn new() -> Holds {
        Holds {
            table: Mutex::new(Table::new()),
            outside: RwLock::new(()),
        }
    }

    /// The table, for its bookkeeping only: no system call may run while this guard lives.
    pub fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn outside(&self) -> RwLockReadGuard<'_, ()> {
        self.outside.read().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(unix)]
    /// For a fork: no hold's descriptor outside the table, and the table itself (in this order,
    /// the order every thread takes them in).
    pub fn lock_for_fork(&self) -> (RwLockWriteGuard<'_, ()>, MutexGuard<'_, Table>) {
        let outside = self.outside.write().unwrap_or_else(PoisonError::into_inner);
        (outside, self.table())
    }

    /// Enters a lock file just created into the table, under the nonce it was written with.
    /// Returns the hold and, when its max-hold deadline is earlier than any the lock service
    /// has a timer for, that deadline: the caller tells the service. If the owner ended
    /// meanwhile, the file is removed again: nobody is left to release it.
    pub fn record(
        &self,
        lock_path: &Path,
        new: NewLockFile,
        options: &Options,
    ) -> Result<(Hold, Option<Instant>), Error> {
        let mut table = self.table();
        if table.has_ended(options.hold_owner) {
            drop(table);
            // Never in the table, and still flocked by us, so nobody else can have replaced
            // it; a failure leaves a file whose flock is dropped with `new.file` just below,
            // which anyone may reclaim.
            let _ = fs::unlink_if_same(&new.place, new.id);
            return Err(owner_ended());
        }
        let hold = NewHold {
            nonce: new.nonce,
            place: new.place,
            max_hold: options.max_hold,
            reentrant_owner: options.reentrant_owner.clone(),
            owner: options.label().map(clip_owner),
            hold_owner: options.hold_owner,
        };
        let (generation, arm) = table.insert(lock_path.to_path_buf(), new.file, new.id, hold);
        let hold = Hold {
            lock_path: lock_path.to_path_buf(),
            generation,
        };
        Ok((hold, arm))
    }

    /// Ends one nested hold of `generation`; the last one removes the lock file.
    pub fn release(&self, lock_path: &Path, generation: u64) -> Ended {
        let _outside = self.outside();
        let released = self.table().release(lock_path, generation);
        match released {
            Release::Done(outcome) => Ok(outcome),
            Release::Last(held) => end(lock_path, *held),
        }
    }

    /// Ends every nested hold of `generation` at once (a takeover); its handles become no-ops.
    pub fn force_release(&self, lock_path: &Path, generation: u64) -> Option<Ended> {
        let _outside = self.outside();
        let taken = self.table().take(lock_path, generation);
        taken.map(|held| end(lock_path, held))
    }

    /// Every hold of every owner (process exit, signals): the nonce stays. Returns how many
    /// locks were held, and the errors of those whose file could not be removed.
    pub fn release_every_hold(&self) -> (usize, Vec<Error>) {
        let _outside = self.outside();
        let taken = self.table().take_where(|_| true);
        end_all(taken)
    }

    /// The explicit, process-wide release-all: every hold, then a new nonce. An acquire that
    /// read the old nonce before this and records its hold after keeps that nonce, so the
    /// next acquire of the path takes it over (as with any hold of an older nonce).
    pub fn release_all(&self) -> (usize, Vec<Error>) {
        let _outside = self.outside();
        let taken = {
            let mut table = self.table();
            let taken = table.take_where(|_| true);
            table.rotate_nonce();
            taken
        };
        end_all(taken)
    }

    /// The holds of an owner that is gone; it never holds anything again. The nonce stays.
    pub fn end_owner(&self, owner: HoldOwner) -> (usize, Vec<Error>) {
        let _outside = self.outside();
        let taken = self.table().end_owner(owner);
        end_all(taken)
    }

    /// The watchdog: ends every hold past its max-hold deadline at `now` and logs it. Returns
    /// those holds and the next deadline to arm.
    pub fn expire_overdue(&self, now: Instant) -> (Vec<Overdue>, Option<Instant>) {
        let overdue = {
            let _outside = self.outside();
            let (taken, next) = self.table().take_overdue(now);
            let overdue = (taken.into_iter())
                .map(|(overdue, held)| {
                    // The hold ends either way (its flock is dropped, so a file left behind is
                    // reclaimable at once); the log line names the path.
                    let _ = end(&overdue.0, held);
                    overdue
                })
                .collect::<Vec<_>>();
            (overdue, next)
        };
        log_overdue(&overdue.0);
        overdue
    }

    /// Refreshes every held lock's mtime (the heartbeat other kernels judge us by) and checks
    /// that its path still leads to our file. Returns the paths newly found compromised.
    ///
    /// Works on clones of the descriptors taken under the mutex. A release that runs meanwhile
    /// unlinks its file first, so touching it is harmless and its flock, kept a moment longer
    /// by our clone, guards nothing anyone can reach; its path then looks compromised here,
    /// but it is marked only if the same generation is still in the table.
    pub fn heartbeat(&self) -> Vec<PathBuf> {
        let lost: Vec<(PathBuf, u64)> = {
            let _outside = self.outside();
            let beats = self.table().beats();
            (beats.into_iter())
                .filter_map(|beat| {
                    let _ = fs::touch(&beat.file);
                    let moved = !beat.compromised
                        && fs::path_id(&beat.lock_path).is_ok_and(|id| id != Some(beat.id));
                    // `beat.file` is dropped here, before the table is taken again below.
                    moved.then_some((beat.lock_path, beat.generation))
                })
                .collect()
        };
        let mut table = self.table();
        (lost.into_iter())
            .filter(|(path, generation)| table.mark_compromised(path, *generation))
            .map(|(path, _)| path)
            .collect()
    }
}
