//! The locks this process holds, with reentrant counts, generations and owners
//! (docs/PROTOCOL.md, "Holding and releasing"), and the instance nonce they were taken under.
//! Plain data behind one mutex (`holds.rs`): nothing here makes a system call, so that the
//! mutex is never held across one. Ending a hold takes it out of the table; the caller then
//! removes its file and closes it.

use crate::base::maps::{Map, Set};
use crate::files::fs::FileId;
use crate::files::lock_dir::LockPlace;
use crate::vocab::held_lock::HeldLock;
use crate::vocab::options::Options;
use crate::vocab::owner::HoldOwner;
use std::fs::File;
#[cfg(unix)]
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// Generations are unique for the life of the program (across forks too), so a handle can
/// never match a newer hold of the same path.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

pub struct Held {
    /// Keeps the flock; closing it (its last clone dropped) is what tells other processes we
    /// are gone. Shared only with the heartbeat's snapshot, which drops it at once.
    file: Arc<File>,
    id: FileId,
    /// Its directory, open, and its name there: the release removes it relative to them.
    place: LockPlace,
    generation: u64,
    count: u32,
    /// The thread (Node environment) or process the hold belongs to.
    hold_owner: HoldOwner,
    nonce: String,
    acquired_at: Instant,
    /// The wall-clock time of the acquire, for people.
    acquired_wall: SystemTime,
    max_hold: Option<Duration>,
    /// Set once the path no longer leads to our inode; reported once.
    compromised: bool,
    /// Who took it: nesting with `reentrant_owner` needs the same identity.
    reentrant_owner: Option<String>,
    /// Its label, for diagnostics.
    owner: Option<String>,
}

impl Held {
    /// The inode the hold created: only this one is ever unlinked for it.
    pub fn id(&self) -> FileId {
        self.id
    }

    #[cfg(unix)]
    /// Gives up the descriptor without closing it: a child forked to `exec` a command that is
    /// to hold the lock keeps it (the memory is not freed, the child's image is replaced soon).
    pub fn into_raw_fd(self) -> RawFd {
        let fd = self.file.as_raw_fd();
        std::mem::forget(self.file);
        fd
    }

    pub fn place(&self) -> &LockPlace {
        &self.place
    }

    fn deadline(&self) -> Option<Instant> {
        self.max_hold.map(|d| self.acquired_at + d)
    }

    /// A copy for people (`held_locks`, diagnostics of busy errors).
    fn describe(&self, lock_path: &Path) -> HeldLock {
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

    /// Whether an acquire with `options` nests into this hold (docs/PROTOCOL.md, "Nesting").
    /// A hold joins only a hold of the same owner: a Node worker's acquire never nests in the
    /// main thread's hold (or another worker's), it waits for it like any contender.
    fn nests(&self, options: &Options) -> bool {
        let same_identity = options
            .reentrant_owner
            .as_ref()
            .is_some_and(|o| self.reentrant_owner.as_ref() == Some(o));
        (options.allow_reentrant || same_identity) && self.hold_owner == options.hold_owner
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
    pub place: LockPlace,
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

/// What a handle's release did to the table.
pub enum Release {
    /// Not the last of its nested holds, or no longer in force: nothing to do on disk.
    Done(ReleaseOutcome),
    /// The last one: the hold is out of the table; its file is the caller's to end.
    Last(Box<Held>),
}

/// What this process holds of a path, as an acquire finds it.
pub enum Ours {
    /// Nothing (of the current nonce).
    Nothing,
    /// The acquire nested into our hold of this generation (counted).
    Joined(u64),
    /// Our hold, which this acquire may not join.
    Blocked(HeldLock),
    /// A hold under an older nonce that an earlier iteration of this process never released;
    /// the acquire takes it over (ends this generation, then tries again).
    Abandoned(u64),
}

/// What this process's table says about a lock path, copied so that the file work can run
/// without holding the table's mutex.
pub struct TableView {
    pub nonce: String,
    /// Our hold of this path, if any.
    pub held: Option<HeldLock>,
}

/// A held lock's file, shared with the heartbeat for the time of one beat.
pub struct Beat {
    pub lock_path: PathBuf,
    pub generation: u64,
    pub id: FileId,
    pub file: Arc<File>,
    /// Already reported as compromised: its path is not checked again.
    pub compromised: bool,
}

/// A hold the watchdog ended: (lock path, held for, max hold).
pub type Overdue = (PathBuf, Duration, Duration);

pub struct Table {
    nonce: String,
    entries: Map<PathBuf, Held>,
    /// The earliest max-hold deadline the lock service has a timer for: an acquire tells the
    /// service only about an earlier one, so most acquires cost the service nothing.
    watchdog_armed: Option<Instant>,
    /// Owners that are gone (a Node worker that ended): they never hold anything again.
    ended: Set<HoldOwner>,
}

pub fn new_nonce() -> String {
    format!("{:032x}", crate::base::random::random_u128())
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

    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// A new instance nonce; holds keep the one they were taken under.
    pub fn rotate_nonce(&mut self) -> String {
        self.nonce = new_nonce();
        self.nonce.clone()
    }

    pub fn view(&self, lock_path: &Path) -> TableView {
        TableView {
            nonce: self.nonce.clone(),
            held: self.entries.get(lock_path).map(|h| h.describe(lock_path)),
        }
    }

    /// Every hold, for people.
    pub fn describe_all(&self) -> Vec<HeldLock> {
        (self.entries.iter())
            .map(|(path, held)| held.describe(path))
            .collect()
    }

    /// The inode of the hold of `generation`, while it is in force.
    pub fn id_of(&self, lock_path: &Path, generation: u64) -> Option<FileId> {
        (self.entries.get(lock_path))
            .filter(|h| h.generation == generation)
            .map(|h| h.id)
    }

    pub fn has_ended(&self, owner: HoldOwner) -> bool {
        self.ended.contains(&owner)
    }

    /// Step 1 of taking the lock (docs/PROTOCOL.md): our own hold of the path, joined when the
    /// options allow it. A later max-hold of the joining acquire extends the hold's.
    pub fn join(&mut self, lock_path: &Path, options: &Options) -> Ours {
        let Some(held) = self.entries.get_mut(lock_path) else {
            return Ours::Nothing;
        };
        if held.nonce != self.nonce {
            return Ours::Abandoned(held.generation);
        }
        if !held.nests(options) {
            return Ours::Blocked(held.describe(lock_path));
        }
        held.count += 1;
        let longer = match (options.max_hold, held.max_hold) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(wanted), Some(current)) => wanted > current,
        };
        if longer {
            // A later deadline: the armed watchdog timer fires first and re-arms for it.
            held.max_hold = options.max_hold;
        }
        Ours::Joined(held.generation)
    }

    /// Records a hold of a lock file just created; returns its generation and, when its
    /// max-hold deadline is earlier than any the lock service has a timer for, that deadline.
    pub fn insert(
        &mut self,
        lock_path: PathBuf,
        file: File,
        id: FileId,
        new: NewHold,
    ) -> (u64, Option<Instant>) {
        let generation = NEXT_GENERATION.fetch_add(1, Ordering::Relaxed);
        let held = Held {
            file: Arc::new(file),
            id,
            place: new.place,
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
        let arm = held.deadline().filter(|&d| self.arm_watchdog(d));
        self.entries.insert(lock_path, held);
        (generation, arm)
    }

    /// Ends one nested hold of `generation`.
    pub fn release(&mut self, lock_path: &Path, generation: u64) -> Release {
        match self.entries.get_mut(lock_path) {
            Some(held) if held.generation == generation => {
                held.count -= 1;
                if held.count > 0 {
                    return Release::Done(ReleaseOutcome::StillHeld);
                }
            }
            _ => return Release::Done(ReleaseOutcome::NotHeld),
        }
        match self.entries.remove(lock_path) {
            Some(held) => Release::Last(Box::new(held)),
            None => Release::Done(ReleaseOutcome::NotHeld),
        }
    }

    /// Takes out every nested hold of `generation` at once; its handles become no-ops.
    pub fn take(&mut self, lock_path: &Path, generation: u64) -> Option<Held> {
        self.id_of(lock_path, generation)?;
        self.entries.remove(lock_path)
    }

    /// Takes out the holds `which` picks.
    pub fn take_where(&mut self, which: impl Fn(&Held) -> bool) -> Vec<(PathBuf, Held)> {
        let paths: Vec<PathBuf> = (self.entries.iter())
            .filter(|(_, held)| which(held))
            .map(|(path, _)| path.clone())
            .collect();
        (paths.into_iter())
            .filter_map(|path| Some((path.clone(), self.entries.remove(&path)?)))
            .collect()
    }

    /// Takes out the holds of an owner that is gone; it never holds anything again.
    pub fn end_owner(&mut self, owner: HoldOwner) -> Vec<(PathBuf, Held)> {
        if owner != HoldOwner::PROCESS {
            self.ended.insert(owner);
        }
        self.take_where(|held| held.hold_owner == owner)
    }

    /// Records `deadline` as armed if it is earlier than the armed one; true when the lock
    /// service must be told.
    fn arm_watchdog(&mut self, deadline: Instant) -> bool {
        if self.watchdog_armed.is_some_and(|armed| armed <= deadline) {
            return false;
        }
        self.watchdog_armed = Some(deadline);
        true
    }

    /// Takes out every hold past its max-hold deadline at `now`, and arms the next deadline.
    pub fn take_overdue(&mut self, now: Instant) -> (Vec<(Overdue, Held)>, Option<Instant>) {
        let overdue: Vec<Overdue> = (self.entries.iter())
            .filter_map(|(path, held)| {
                let (deadline, max_hold) = (held.deadline()?, held.max_hold?);
                (deadline <= now).then(|| (path.clone(), now - held.acquired_at, max_hold))
            })
            .collect();
        let taken = (overdue.into_iter())
            .filter_map(|o| {
                let held = self.entries.remove(&o.0)?;
                Some((o, held))
            })
            .collect();
        self.watchdog_armed = self.entries.values().filter_map(Held::deadline).min();
        (taken, self.watchdog_armed)
    }

    /// The files of every hold, for one heartbeat.
    pub fn beats(&self) -> Vec<Beat> {
        (self.entries.iter())
            .map(|(path, held)| Beat {
                lock_path: path.clone(),
                generation: held.generation,
                id: held.id,
                file: Arc::clone(&held.file),
                compromised: held.compromised,
            })
            .collect()
    }

    /// Marks the hold of `generation` compromised; true the first time (report it once).
    pub fn mark_compromised(&mut self, lock_path: &Path, generation: u64) -> bool {
        match self.entries.get_mut(lock_path) {
            Some(held) if held.generation == generation && !held.compromised => {
                held.compromised = true;
                true
            }
            _ => false,
        }
    }

    #[cfg(unix)]
    /// Every hold, out of the table (a forked child closes its copies).
    pub fn take_all(&mut self) -> Vec<Held> {
        self.entries.drain().map(|(_, held)| held).collect()
    }
}
