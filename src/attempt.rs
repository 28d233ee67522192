//! One try at taking a lock (docs/PROTOCOL.md, "Taking the lock", steps 1–4): the held-table check,
//! atomic create, inspection and race-free reclaim. Used alike by a caller's first try and by the
//! lock service's retries; it never waits.

use crate::error::{Error, Holder};
use crate::fs::{self, Created, Existing, FileId, Occupant};
use crate::holds::{owner_ended, Holds, NewLockFile};
use crate::identity::{probe_pid, read_cmdline, PidProbe, ProcessIdentity};
use crate::iso_time;
use crate::options::Options;
use crate::owner_argv::ArgvMatcher;
use crate::payload::{clip_owner, Payload, WrittenPayload, MAX_READ};
use crate::table::{Hold, Ours, TableView};
use crate::verdict::{
    decide, malformed_grace, Format, Observation, Observer, Purpose, StaleReason, Verdict,
};
use std::fs::File;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Create → inspect → reclaim rounds before a try gives up as busy; only reached when other
/// processes keep replacing the file under us.
const MAX_ROUNDS: usize = 16;

pub enum Attempt {
    /// Nested into a hold of this process (counted in the table already).
    Joined(Hold),
    /// Created the lock file: the caller records the hold ([`Holds::record`]).
    Created(NewLockFile),
    /// Someone else holds it; who, for the eventual busy error. `seen` is the lock file
    /// judged busy, still open (a waiter keeps it to judge it again cheaply).
    Busy {
        holder: Box<Holder>,
        seen: Option<Box<FileObservation>>,
    },
}

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
            Format::Flock => !self
                .verdict
                .reasons
                .iter()
                .any(|r| matches!(r, StaleReason::HolderExited | StaleReason::HeartbeatExpired)),
            Format::Legacy => matches!(self.pid_probe, Some(PidProbe::Alive { .. })),
        }
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
            purpose: Purpose::Acquire,
            malformed_grace: malformed_grace(options.timeout, options.stale),
            owner_matcher: options.owner_matcher,
            owner_args: OwnerArgs::System,
        }
    }
}

/// Opens, probes and judges the lock file at `lock_path`.
pub fn observe(
    identity: &ProcessIdentity,
    ours: &TableView,
    lock_path: &Path,
    judge: &Judge,
) -> Result<Observed, Error> {
    let (file, id, mtime, bytes) = match fs::open_existing(lock_path, MAX_READ)? {
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
/// close event is raised for anyone). `None` when the path no longer leads to that file.
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
    // Taking the flock is both the liveness probe (a free flock: `holder-exited`) and the right
    // to reclaim.
    let flock_free =
        fs::try_flock(&file).map_err(|e| Error::io("flock lock file", lock_path, e))?;
    // Only the legacy rules look at the pid (a flock answers for this library's files).
    let pid_probe = payload.pid.filter(|_| !payload.flock).map(probe_pid);
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

/// Removes an observed stale lock file if we may: only with its flock in hand and only if the
/// path still leads to the inode we judged.
pub fn reclaim(lock_path: &Path, seen: &FileObservation) -> Result<bool, Error> {
    if !seen.reclaimable_now() {
        return Ok(false);
    }
    fs::unlink_if_same(lock_path, seen.id)
        .map_err(|e| Error::io("remove stale lock file", lock_path, e))
}

/// `behind_waiters`: waits for this path are queued in this process and this try is a fresh
/// caller's (not the head waiter's), so it queues behind them instead of overtaking them.
///
/// The table's mutex is held only for the table steps; the system calls run without it, so
/// the lock service's work on busy paths never delays a release or an acquire of another path.
/// Between two threads of this process `link()` decides, as between processes.
pub fn attempt(
    identity: &ProcessIdentity,
    holds: &Holds,
    lock_path: &Path,
    options: &Options,
    behind_waiters: bool,
) -> Result<Attempt, Error> {
    let mut holder = Holder {
        owner: "owner=unknown".into(),
        ..Holder::default()
    };
    let mut busy_despite = None;
    for _ in 0..MAX_ROUNDS {
        let ours = match check_table(identity, holds, lock_path, options, behind_waiters) {
            TableStep::Files(ours) => ours,
            TableStep::Decided(decided) => return decided,
            TableStep::TakeOver(generation) => {
                let _ = holds.force_release(lock_path, generation);
                continue;
            }
        };
        let payload = written_payload(identity, &ours.nonce, options)
            .to_bytes()
            .map_err(|e| Error::io("write lock file", lock_path, e))?;
        let created = match fs::create_lock_file(lock_path, &payload) {
            // On a read-only or full filesystem a live holder's lock is still worth waiting
            // for: look at it, and fail only once nothing is in the way.
            Err(e) if matches!(fs::path_id(lock_path), Ok(Some(_))) => {
                busy_despite = Some(e);
                Created::Exists
            }
            other => other?,
        };
        if let Created::Held { file, id } = created {
            let nonce = ours.nonce;
            return Ok(Attempt::Created(NewLockFile { file, id, nonce }));
        }
        match observe(identity, &ours, lock_path, &Judge::acquire(options))? {
            Observed::Gone => match busy_despite.take() {
                Some(e) => return Err(e),
                None => continue,
            },
            Observed::NotAFile(occupant) => {
                return Ok(Attempt::Busy {
                    holder: Box::new(Holder {
                        owner: format!(
                            "{} is in the way (never removed automatically)",
                            occupant.describe()
                        ),
                        ..Holder::default()
                    }),
                    seen: None,
                })
            }
            Observed::File(seen) => {
                holder = describe_holder(&seen, identity, &ours);
                if reclaim(lock_path, &seen)? || seen.reclaimable_now() {
                    continue; // reclaimed, or replaced between our open and our check: again
                }
                if seen.verdict.report_only {
                    return Err(Error::Stale {
                        lock_path: lock_path.to_path_buf(),
                        holder: Box::new(holder),
                        reasons: seen.verdict.reasons.clone(),
                    });
                }
                if options.allow_reentrant && is_ours(&seen, identity, &ours.nonce) {
                    // Another thread of ours has just linked it: join it once it is in the table.
                    std::thread::yield_now();
                    continue;
                }
                seen.let_go();
                return Ok(Attempt::Busy {
                    holder: Box::new(holder),
                    seen: Some(seen),
                });
            }
        }
    }
    Ok(Attempt::Busy {
        holder: Box::new(holder),
        seen: None,
    })
}

/// What the table step of an attempt decided.
enum TableStep {
    Decided(Result<Attempt, Error>),
    /// A hold of ours under an older nonce is in the way: end it, then look again.
    TakeOver(u64),
    /// Go on to the files, knowing this of our holds.
    Files(TableView),
}

/// Step 1 of taking the lock (docs/PROTOCOL.md) and the in-process queue, under the table's
/// mutex (and no system call under it): either the answer, or what the file work needs.
fn check_table(
    identity: &ProcessIdentity,
    holds: &Holds,
    lock_path: &Path,
    options: &Options,
    behind_waiters: bool,
) -> TableStep {
    let mut table = holds.table();
    if table.has_ended(options.hold_owner) {
        return TableStep::Decided(Err(owner_ended()));
    }
    let busy = |holder| {
        TableStep::Decided(Ok(Attempt::Busy {
            holder: Box::new(holder),
            seen: None,
        }))
    };
    match table.join(lock_path, options) {
        Ours::Joined(generation) => {
            let lock_path = lock_path.to_path_buf();
            return TableStep::Decided(Ok(Attempt::Joined(Hold {
                lock_path,
                generation,
            })));
        }
        Ours::Blocked(here) => {
            return busy(Holder {
                owner: format!(
                    "pid={} alive=true ageMs={}",
                    identity.pid,
                    here.age.as_millis()
                ),
                pid: Some(identity.pid),
                pid_alive: true,
                here: Some(here),
            })
        }
        // An earlier iteration of this process never released it. Its flock goes with it, so
        // a file it could not remove is reclaimed by the create that follows.
        Ours::Abandoned(generation) => return TableStep::TakeOver(generation),
        Ours::Nothing => {}
    }
    if behind_waiters {
        return busy(Holder {
            owner: "waiters queued in this process".into(),
            ..Holder::default()
        });
    }
    TableStep::Files(table.view(lock_path))
}

/// A live lock file of this very process instance (flock held, our pid, pid namespace, nonce).
fn is_ours(seen: &FileObservation, me: &ProcessIdentity, nonce: &str) -> bool {
    let p = &seen.payload;
    p.flock
        && !seen.flock_free
        && p.pid == Some(me.pid)
        && p.pid_ns == me.pid_ns
        && p.nonce.as_deref() == Some(nonce)
}

pub fn written_payload(me: &ProcessIdentity, nonce: &str, options: &Options) -> WrittenPayload {
    WrittenPayload {
        pid: me.pid,
        created_at: iso_time::format(SystemTime::now()),
        nonce: nonce.to_owned(),
        starttime: me.starttime,
        hostname: me.hostname.clone(),
        boot_id: me.boot_id.clone(),
        pid_ns: me.pid_ns,
        flock: true,
        max_hold_ms: options
            .max_hold
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)),
        owner: options.label().map(clip_owner),
    }
}

/// Who holds an observed lock file, with our own hold when it is this process's.
pub fn describe_holder(seen: &FileObservation, me: &ProcessIdentity, ours: &TableView) -> Holder {
    let alive = seen.holder_alive();
    let here = ours
        .held
        .as_ref()
        .filter(|_| is_ours(seen, me, &ours.nonce))
        .cloned();
    Holder {
        owner: describe_owner(&seen.payload, me, alive, SystemTime::now()),
        pid: seen.payload.pid,
        pid_alive: alive,
        here,
    }
}

/// `pid=N alive=B ageMs=A` (the gateway's format; `owner=unknown` without a pid), with the
/// host when it is another one and a note when it is another container.
pub fn describe_owner(p: &Payload, me: &ProcessIdentity, alive: bool, now: SystemTime) -> String {
    let mut owner = match p.pid {
        Some(pid) => format!("pid={pid} alive={alive}"),
        None => "owner=unknown".to_string(),
    };
    if let Some(created) = p.created_at_ms {
        let age = iso_time::unix_ms(now).saturating_sub(created).max(0);
        owner.push_str(&format!(" ageMs={age}"));
    }
    match &p.hostname {
        Some(host) if *host != me.hostname => owner.push_str(&format!(" host={host}")),
        _ if p.flock && p.pid_ns.is_some() && p.pid_ns != me.pid_ns => {
            owner.push_str(" (another pid namespace)")
        }
        _ => {}
    }
    owner
}
