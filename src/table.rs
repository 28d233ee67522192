//! The locks this process holds, with reentrant counts, generations and owners
//! (docs/PROTOCOL.md, "Holding and releasing"), and the instance nonce they were taken under.
//! Guarded by one mutex in the runtime.

use crate::error::Error;
use crate::fs::{self, FileId};
use crate::held_lock::HeldLock;
use crate::maps::{Map, Set};
use crate::owner::HoldOwner;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Generations are unique for the life of the program (across forks too), so a handle can
/// never match a newer hold of the same path.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

pub struct Held {
    /// Keeps the flock; closing it is what tells other processes we are gone.
    pub file: File,
    pub id: FileId,
    pub generation: u64,
    pub count: u32,
    /// The thread (Node environment) or process the hold belongs to.
    pub hold_owner: HoldOwner,
    pub nonce: String,
    pub acquired_at: Instant,
    /// The wall-clock time of the acquire, for people.
    pub acquired_wall: SystemTime,
    pub max_hold: Option<Duration>,
    /// Set once the path no longer leads to our inode; reported once.
    pub compromised: bool,
    /// Who took it: nesting with `reentrant_owner` needs the same identity.
    pub reentrant_owner: Option<String>,
    /// Its label, for diagnostics.
    pub owner: Option<String>,
}

impl Held {
    pub fn deadline(&self) -> Option<Instant> {
        self.max_hold.map(|d| self.acquired_at + d)
    }

    /// A copy for people (`held_locks`, diagnostics of busy errors).
    pub fn describe(&self, lock_path: &Path) -> HeldLock {
        HeldLock {
            lock_path: lock_path.to_path_buf(),
            owner: self.owner.clone(),
            acquired_at: self.acquired_wall,
            age: self.acquired_at.elapsed(),
            count: self.count,
            max_hold: self.max_hold,
            generation: self.generation,
        }
    }
}

/// A hold as its handle names it: only this generation of the path's hold is its to end.
pub struct Hold {
    pub lock_path: PathBuf,
    pub generation: u64,
}

/// What a new hold records besides its file.
pub struct NewHold {
    pub nonce: String,
    pub max_hold: Option<Duration>,
    pub reentrant_owner: Option<String>,
    pub owner: Option<String>,
    pub hold_owner: HoldOwner,
}

/// How a release ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// The lock file was removed and the flock dropped.
    Released,
    /// Other reentrant holds of the same generation remain.
    StillHeld,
    /// This handle's hold was already ended (released, watchdog, release-all, takeover).
    NotHeld,
    /// The path no longer led to our file: someone removed or replaced it. Their file was
    /// left alone; our flock was dropped.
    Compromised,
}

pub struct Table {
    pub nonce: String,
    pub entries: Map<PathBuf, Held>,
    /// The earliest max-hold deadline the lock service has a timer for: an acquire tells the
    /// service only about an earlier one, so most acquires cost the service nothing.
    pub watchdog_armed: Option<Instant>,
    /// Owners that are gone (a Node worker that ended): they never hold anything again.
    pub ended: Set<HoldOwner>,
}

/// How one hold ended: the outcome, or the I/O error that kept the lock file from being removed
/// (the hold is over either way: its descriptor, and with it the flock, is closed).
pub type Ended = Result<ReleaseOutcome, Error>;

/// A hold the watchdog ended: (lock path, held for, max hold).
pub type Overdue = (PathBuf, Duration, Duration);

/// The watchdog's log line for each hold it ended.
pub fn log_overdue(overdue: &[Overdue]) {
    for (lock_path, held, max) in overdue {
        crate::log::emit(&format!(
            "[session-write-lock] releasing lock held for {}ms (max={}ms): {}",
            held.as_millis(),
            max.as_millis(),
            lock_path.display()
        ));
    }
}

pub fn new_nonce() -> String {
    format!("{:032x}", crate::random::random_u128())
}

impl Table {
    pub fn new() -> Table {
        Table {
            nonce: new_nonce(),
            entries: Map::default(),
            watchdog_armed: None,
            ended: Set::default(),
        }
    }

    pub fn insert(&mut self, lock_path: PathBuf, file: File, id: FileId, new: NewHold) -> u64 {
        let generation = NEXT_GENERATION.fetch_add(1, Ordering::Relaxed);
        let held = Held {
            file,
            id,
            generation,
            count: 1,
            hold_owner: new.hold_owner,
            nonce: new.nonce,
            acquired_at: Instant::now(),
            acquired_wall: SystemTime::now(),
            max_hold: new.max_hold,
            compromised: false,
            reentrant_owner: new.reentrant_owner,
            owner: new.owner,
        };
        self.entries.insert(lock_path, held);
        generation
    }

    /// Ends one hold of `generation`; the last one removes the lock file.
    pub fn release(&mut self, lock_path: &Path, generation: u64) -> Ended {
        match self.entries.get_mut(lock_path) {
            Some(held) if held.generation == generation => {
                held.count -= 1;
                if held.count > 0 {
                    return Ok(ReleaseOutcome::StillHeld);
                }
            }
            _ => return Ok(ReleaseOutcome::NotHeld),
        }
        self.force_release(lock_path)
            .unwrap_or(Ok(ReleaseOutcome::NotHeld))
    }

    /// Ends every hold of the path at once; its handles become no-ops. `None` if not held.
    pub fn force_release(&mut self, lock_path: &Path) -> Option<Ended> {
        let held = self.entries.remove(lock_path)?;
        // Unlink before closing: while our flock stands nobody else may reclaim, so the inode
        // check and the unlink cannot be split by another instance of this library.
        let removed = fs::unlink_if_same(lock_path, held.id);
        drop(held.file);
        Some(match removed {
            Ok(true) => Ok(ReleaseOutcome::Released),
            Ok(false) => Ok(ReleaseOutcome::Compromised),
            Err(e) => Err(Error::io("remove lock file", lock_path, e)),
        })
    }

    /// Ends every hold of the paths `which` picks, over a snapshot of the table. Returns how
    /// many locks were held, and the errors of those whose file could not be removed.
    fn release_where(&mut self, which: impl Fn(&Held) -> bool) -> (usize, Vec<Error>) {
        let paths: Vec<PathBuf> = (self.entries.iter())
            .filter(|(_, held)| which(held))
            .map(|(path, _)| path.clone())
            .collect();
        let errors = (paths.iter())
            .filter_map(|p| self.force_release(p)?.err())
            .collect();
        (paths.len(), errors)
    }

    /// Every hold of every owner (process exit, signals): the nonce stays.
    pub fn release_every_hold(&mut self) -> (usize, Vec<Error>) {
        self.release_where(|_| true)
    }

    /// The explicit, process-wide release-all: every hold, then a new nonce.
    pub fn release_all(&mut self) -> (usize, Vec<Error>) {
        let released = self.release_every_hold();
        self.nonce = new_nonce();
        released
    }

    /// The holds of an owner that is gone; it never holds anything again. The nonce stays.
    pub fn end_owner(&mut self, owner: HoldOwner) -> (usize, Vec<Error>) {
        if owner != HoldOwner::PROCESS {
            self.ended.insert(owner);
        }
        self.release_where(|held| held.hold_owner == owner)
    }

    /// Records `deadline` as armed if it is earlier than the armed one; true when the lock
    /// service must be told.
    pub fn arm_watchdog(&mut self, deadline: Instant) -> bool {
        if self.watchdog_armed.is_some_and(|armed| armed <= deadline) {
            return false;
        }
        self.watchdog_armed = Some(deadline);
        true
    }

    /// Force-releases every hold past its max-hold deadline, and arms the next deadline.
    pub fn expire_overdue(&mut self, now: Instant) -> (Vec<Overdue>, Option<Instant>) {
        let overdue: Vec<Overdue> = self
            .entries
            .iter()
            .filter_map(|(path, held)| {
                let (deadline, max_hold) = (held.deadline()?, held.max_hold?);
                (deadline <= now).then(|| (path.clone(), now - held.acquired_at, max_hold))
            })
            .collect();
        for (path, _, _) in &overdue {
            // The hold ends either way (its flock is dropped, so a file left behind is
            // reclaimable at once); the watchdog's log line names the path.
            let _ = self.force_release(path);
        }
        self.watchdog_armed = self.entries.values().filter_map(Held::deadline).min();
        (overdue, self.watchdog_armed)
    }
}
