//! Looking at what is at a lock path: open it without effects (never a FIFO or device, never
//! through a symlink), read its payload, probe its flock and, for legacy files, its pid, and
//! judge it (`verdict`). Used by an acquire's try, by waiters judging a kept file again, and
//! by inspections and the cleaner; the race-free removal of a stale file is here too.

use crate::base::start_time::same_start;
use crate::files::fs::{self, Existing, FileId, Occupant};
use crate::files::lock_dir::LockPlace;
use crate::held::table::TableView;
use crate::rules::identity::{probe_pid, read_cmdline, PidProbe, ProcessIdentity};
use crate::rules::iso_time;
use crate::rules::owner_argv::ArgvMatcher;
use crate::rules::payload::{Payload, MAX_READ};
use crate::rules::verdict::{
    decide, local_flock_pid, malformed_grace, Format, Observation, Observer, Purpose, StaleReason,
    Verdict,
};
use crate::vocab::error::Error;
use crate::vocab::options::Options;
use std::fs::File;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// What was found at a lock path, with the verdict on it.
pub enum Observed {
    Gone,
    NotAFile(Occupant),
    File(Box<FileObservation>),
}

pub struct FileObservation {
    /// Holds the flock when `flock_free`; its drop lets go.
    pub file: File,
    pub id: FileId,
    pub mtime: SystemTime,
    pub flock_free: bool,
    pub payload: Payload,
    pub pid_probe: Option<PidProbe>,
    pub verdict: Verdict,
}

impl FileObservation {
    /// Whether the holder lives, as error messages and inspections say it.
    pub fn holder_alive(&self) -> bool {
        match self.verdict.format {
            Format::Flock => {
                !self.squatted()
                    && !self.verdict.reasons.iter().any(|r| {
                        matches!(r, StaleReason::HolderExited | StaleReason::HeartbeatExpired)
                    })
            }
            Format::Legacy | Format::Dotlock => {
                matches!(self.pid_probe, Some(PidProbe::Alive { .. }))
            }
        }
    }

    /// A file of this library whose flock is held while the process that wrote it is gone
    /// (dead, or its pid now another process's): someone else took the flock. The lock is
    /// still busy (whoever holds the flock holds it), but its holder is not the one named.
    pub fn squatted(&self) -> bool {
        let gone = match self.pid_probe {
            Some(PidProbe::Dead) => true,
            Some(PidProbe::Alive {
                starttime,
                starttime_us,
            }) => {
                let written = (self.payload.starttime, self.payload.starttime_us);
                same_start(written, (starttime, starttime_us)) == Some(false)
            }
            _ => false,
        };
        self.payload.flock && !self.flock_free && gone
    }
}

/// Where the command line of a live legacy holder comes from.
pub enum OwnerArgs {
    /// Read from the system (`/proc/<pid>/cmdline`) when needed.
    System,
    /// Given by the caller (`None`: unknown).
    Given(Option<Vec<String>>),
}

/// How to judge what is observed: the rules' parameters besides who we are.
pub struct Judge {
    pub stale: Duration,
    pub now: SystemTime,
    pub purpose: Purpose,
    pub malformed_grace: Duration,
    pub owner_matcher: Option<ArgvMatcher>,
    pub owner_args: OwnerArgs,
}

impl Judge {
    /// The rules of an acquire with `options`, now.
    pub fn acquire(options: &Options) -> Judge {
        Judge {
            stale: options.stale,
            now: SystemTime::now(),
            purpose: Purpose::ACQUIRE.with_foreign(options.foreign),
            malformed_grace: malformed_grace(options.timeout, options.stale),
            owner_matcher: options.owner_matcher,
            owner_args: OwnerArgs::System,
        }
    }
}

/// Opens, probes and judges the lock file at `place`.
pub fn observe(
    identity: &ProcessIdentity,
    ours: &TableView,
    place: &LockPlace,
    judge: &Judge,
) -> Result<Observed, Error> {
    let lock_path = place.path();
    let (file, id, mtime, bytes) = match fs::open_existing(place, MAX_READ)? {
        Existing::Gone => return Ok(Observed::Gone),
        Existing::NotAFile(occupant) => return Ok(Observed::NotAFile(occupant)),
        Existing::File {
            file,
            id,
            mtime,
            bytes,
        } => (file, id, mtime, bytes),
    };
    let payload = Payload::parse(&bytes);
    let seen = judge_file(identity, ours, lock_path, (file, id, mtime), payload, judge)?;
    Ok(Observed::File(Box::new(seen)))
}

/// Judges again a lock file a waiter kept open, opening and closing nothing (so no inotify
/// close event is raised for anyone). `None` when the path no longer leads to that file (a
/// look by path: it removes nothing, and a reclaim goes through a fresh try and its directory).
/// A payload of this library is written before its file is linked and never changes, so it
/// is not read again (nor, on this kernel, its mtime); a legacy file may be rewritten in place.
pub fn rejudge(
    identity: &ProcessIdentity,
    ours: &TableView,
    lock_path: &Path,
    kept: Box<FileObservation>,
    judge: &Judge,
) -> Result<Option<FileObservation>, Error> {
    let still_there =
        fs::path_id(lock_path).map_err(|e| Error::io("stat lock file", lock_path, e))?;
    if still_there != Some(kept.id) {
        return Ok(None);
    }
    let FileObservation {
        file,
        id,
        payload,
        mtime,
        verdict,
        ..
    } = *kept;
    let reread = |e| Error::io("read lock file", lock_path, e);
    // Only another kernel's lock is judged by its mtime (then the verdict has a recheck time).
    let (mtime, payload) = if payload.flock && verdict.recheck_at_ms.is_none() {
        (mtime, payload)
    } else if payload.flock {
        (fs::mtime(&file).map_err(reread)?, payload)
    } else {
        let (mtime, bytes) = fs::reread(&file, MAX_READ).map_err(reread)?;
        (mtime, Payload::parse(&bytes))
    };
    judge_file(identity, ours, lock_path, (file, id, mtime), payload, judge).map(Some)
}

fn judge_file(
    identity: &ProcessIdentity,
    ours: &TableView,
    lock_path: &Path,
    (file, id, mtime): (File, FileId, SystemTime),
    payload: Payload,
    judge: &Judge,
) -> Result<FileObservation, Error> {
    let payload = payload.read_as(judge.purpose.foreign);
    // Taking the flock is both the liveness probe (a free flock: `holder-exited`) and the right
    // to reclaim.
    let flock_free =
        fs::try_flock(&file).map_err(|e| Error::io("flock lock file", lock_path, e))?;
    // Only the legacy rules look at the pid (a flock answers for this library's files); a held
    // flock of a local writer is probed too, to tell people when someone else holds it.
    let pid_probe = match local_flock_pid(&payload, &identity.for_verdict()) {
        Some(pid) if !flock_free => Some(probe_pid(pid)),
        _ => payload.pid.filter(|_| !payload.flock).map(probe_pid),
    };
    let owner_is_gateway = match (judge.owner_matcher, payload.pid, pid_probe) {
        (Some(matcher), Some(pid), Some(PidProbe::Alive { .. })) if !payload.flock => {
            match &judge.owner_args {
                OwnerArgs::System => matcher.classify(read_cmdline(pid).as_deref()),
                OwnerArgs::Given(args) => matcher.classify(args.as_deref()),
            }
        }
        _ => None,
    };
    let verdict = decide(
        &Observation {
            payload: &payload,
            mtime_ms: iso_time::unix_ms(mtime),
            flock_free,
            pid_probe,
            held_by_us: ours.held.is_some(),
            owner_is_gateway,
        },
        &Observer {
            identity: &identity.for_verdict(),
            nonce: &ours.nonce,
            now_ms: iso_time::unix_ms(judge.now),
            stale: judge.stale,
            purpose: judge.purpose,
            malformed_grace: judge.malformed_grace,
        },
    );
    Ok(FileObservation {
        file,
        id,
        mtime,
        flock_free,
        payload,
        pid_probe,
        verdict,
    })
}

impl FileObservation {
    /// Whether the lock may be removed by us now (stale, and its flock is in our hand).
    pub fn reclaimable_now(&self) -> bool {
        self.verdict.removable && self.flock_free
    }

    /// Gives back a flock taken while judging a file that stays busy, so that keeping the
    /// descriptor open blocks nobody's probe or reclaim.
    pub fn let_go(&self) {
        if self.flock_free {
            let _ = fs::unlock(&self.file);
        }
    }
}

/// What [`reclaim`] did with an observed lock file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reclaim {
    /// It was stale and is gone: removed by us.
    Removed,
    /// It was stale, but the path no longer names it (replaced or removed by someone else).
    Replaced,
    /// Not ours to remove (not stale, or its flock is not in our hand): left alone.
    Kept,
}

/// Removes an observed stale lock file if we may: only with its flock in hand and only if its
/// place (observed relative to the same directory) still holds the inode we judged.
pub fn reclaim(place: &LockPlace, seen: &FileObservation) -> Result<Reclaim, Error> {
    if !seen.reclaimable_now() {
        return Ok(Reclaim::Kept);
    }
    match fs::unlink_if_same(place, seen.id) {
        Ok(true) => Ok(Reclaim::Removed),
        Ok(false) => Ok(Reclaim::Replaced),
        Err(e) => Err(Error::io("remove stale lock file", place.path(), e)),
    }
}
