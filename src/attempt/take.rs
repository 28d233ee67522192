//! One try at taking a lock (docs/PROTOCOL.md, "Taking the lock"): the held-table check, the
//! atomic create, and when something is in the way, its observation (`observe`) and
//! race-free reclaim, and recording the new hold. The one driver of a try: a caller's first try
//! and the lock service's retries both run [`take`]; it never waits.

use crate::attempt::holder::{describe_holder, describe_occupant, is_ours};
use crate::attempt::observe::{observe, reclaim, FileObservation, Judge, Observed, Reclaim};
use crate::files::fs::{self, Created};
use crate::files::lock_dir::LockPlace;
use crate::held::holds::{owner_ended, Holds, NewLockFile};
use crate::held::table::{Hold, Ours, TableView};
use crate::rules::identity::ProcessIdentity;
use crate::rules::iso_time;
use crate::rules::payload::{clip_owner, WrittenPayload};
use crate::vocab::error::{Error, Holder};
use crate::vocab::options::Options;
use std::path::Path;
use std::time::{Instant, SystemTime};

/// Create → inspect → reclaim rounds before a try gives up as busy; only reached when other
/// processes keep replacing the file under us.
const MAX_ROUNDS: usize = 16;

/// What a try came to.
pub enum Taken {
    /// The lock is ours: nested into a hold of this process, or a new lock file recorded.
    /// `watchdog_at`: a max-hold deadline earlier than any the lock service has a timer for;
    /// the caller tells the service.
    Held {
        hold: Hold,
        watchdog_at: Option<Instant>,
    },
    /// Someone else holds it; who, for the eventual busy error. `seen` is the lock file
    /// judged busy, still open: the waiter that follows judges it again cheaply, without
    /// another try.
    Busy {
        holder: Box<Holder>,
        seen: Option<Box<FileObservation>>,
    },
}

/// One try, the hold recorded when it succeeds (see [`attempt`] for `behind_waiters`).
pub fn take(
    identity: &ProcessIdentity,
    holds: &Holds,
    lock_path: &Path,
    options: &Options,
    behind_waiters: bool,
) -> Result<Taken, Error> {
    match attempt(identity, holds, lock_path, options, behind_waiters)? {
        Attempt::Joined(hold) => Ok(Taken::Held {
            hold,
            watchdog_at: None,
        }),
        Attempt::Created(new) => {
            let (hold, watchdog_at) = holds.record(lock_path, new, options)?;
            Ok(Taken::Held { hold, watchdog_at })
        }
        Attempt::Busy { holder, seen } => Ok(Taken::Busy { holder, seen }),
    }
}

enum Attempt {
    /// Nested into a hold of this process (counted in the table already).
    Joined(Hold),
    /// Created the lock file: [`take`] records the hold ([`Holds::record`]).
    Created(NewLockFile),
    Busy {
        holder: Box<Holder>,
        seen: Option<Box<FileObservation>>,
    },
}

/// `behind_waiters`: waits for this path are queued in this process and this try is a fresh
/// caller's (not the head waiter's), so it queues behind them instead of overtaking them.
///
/// The table's mutex is held only for the table steps; the system calls run without it, so
/// the lock service's work on busy paths never delays a release or an acquire of another path.
/// Between two threads of this process `link()` decides, as between processes.
fn attempt(
    identity: &ProcessIdentity,
    holds: &Holds,
    lock_path: &Path,
    options: &Options,
    behind_waiters: bool,
) -> Result<Attempt, Error> {
    let mut holder = Holder {
        description: "owner=unknown".into(),
        ..Holder::default()
    };
    let mut busy_despite = None;
    // Opened once: every round works in the directory the path named when the try began.
    let mut place = None;
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
        let place = match &mut place {
            Some(place) => place,
            None => place.insert(LockPlace::open(lock_path)?),
        };
        let created = match fs::create_lock_file(place, &payload) {
            // On a read-only or full filesystem a live holder's lock is still worth waiting
            // for: look at it, and fail only once nothing is in the way.
            Err(e) if matches!(fs::id_at(place), Ok(Some(_))) => {
                busy_despite = Some(e);
                Created::Exists
            }
            other => other?,
        };
        if let Created::Held { file, id } = created {
            let nonce = ours.nonce;
            let place = place.clone();
            return Ok(Attempt::Created(NewLockFile {
                file,
                id,
                nonce,
                place,
            }));
        }
        match observe(identity, &ours, place, &Judge::acquire(options))? {
            Observed::Gone => match busy_despite.take() {
                Some(e) => return Err(e),
                None => continue,
            },
            Observed::NotAFile(occupant) => {
                return Ok(Attempt::Busy {
                    holder: Box::new(Holder {
                        description: describe_occupant(occupant),
                        ..Holder::default()
                    }),
                    seen: None,
                })
            }
            Observed::File(seen) => {
                holder = describe_holder(&seen, identity, &ours);
                match reclaim(place, &seen)? {
                    // Removed, or replaced between our open and our check: again.
                    Reclaim::Removed | Reclaim::Replaced => continue,
                    Reclaim::Kept => {}
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
                description: format!(
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
            description: "waiters queued in this process".into(),
            ..Holder::default()
        });
    }
    TableStep::Files(table.view(lock_path))
}

pub fn written_payload(me: &ProcessIdentity, nonce: &str, options: &Options) -> WrittenPayload {
    WrittenPayload {
        pid: me.pid,
        created_at: iso_time::format(SystemTime::now()),
        nonce: nonce.to_owned(),
        starttime: me.starttime,
        starttime_us: me.starttime_us,
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
