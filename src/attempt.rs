//! One try at taking a lock (DESIGN §2 steps 1–4): the held-table check, atomic create,
//! inspection and race-free reclaim. Used alike by a caller's first try and by the lock
//! service's retries; it never waits.

use crate::error::Error;
use crate::fs::{self, Created, Existing, FileId, Occupant};
use crate::guard::LockGuard;
use crate::identity::{probe_pid, PidProbe, ProcessIdentity};
use crate::iso_time;
use crate::options::Options;
use crate::payload::{Payload, WrittenPayload, MAX_READ};
use crate::runtime::Runtime;
use crate::table::Table;
use crate::verdict::{decide, Observation, Observer, Verdict};
use std::fs::File;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Create → inspect → reclaim rounds before a try gives up as busy; only reached when other
/// processes keep replacing the file under us.
const MAX_ROUNDS: usize = 16;

pub enum Attempt {
    Acquired(LockGuard),
    /// Someone else holds it; `owner` says who, for the eventual busy error.
    Busy {
        owner: String,
    },
}

/// What was found at a lock path, with the verdict on it.
pub enum Observed {
    Gone,
    NotAFile(Occupant),
    File(Box<FileObservation>),
}

pub struct FileObservation {
    /// Holds the flock when `flock_free`; kept for its drop, which lets go.
    pub _file: File,
    pub id: FileId,
    pub flock_free: bool,
    pub payload: Payload,
    pub pid_probe: Option<PidProbe>,
    pub verdict: Verdict,
}

/// Opens, probes and judges the lock file at `lock_path`.
pub fn observe(
    identity: &ProcessIdentity,
    ours: &TableView,
    lock_path: &Path,
    stale: Duration,
    now: SystemTime,
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
    // Taking the flock is both the liveness probe (§3A) and the right to reclaim (§2.4).
    let flock_free =
        fs::try_flock(&file).map_err(|e| Error::io("flock lock file", lock_path, e))?;
    let payload = Payload::parse(&bytes);
    let pid_probe = payload.pid.map(probe_pid);
    let mtime_ms = iso_time::unix_ms(mtime);
    let verdict = decide(
        &Observation {
            payload: &payload,
            mtime_ms,
            flock_free,
            pid_probe,
            held_by_us: ours.held_by_us,
        },
        &Observer {
            identity,
            nonce: &ours.nonce,
            now_ms: iso_time::unix_ms(now),
            stale,
        },
    );
    Ok(Observed::File(Box::new(FileObservation {
        _file: file,
        id,
        flock_free,
        payload,
        pid_probe,
        verdict,
    })))
}

/// Removes an observed stale lock file if we may: only with its flock in hand and only if the
/// path still leads to the inode we judged.
pub fn reclaim(lock_path: &Path, seen: &FileObservation) -> Result<bool, Error> {
    if !(seen.verdict.reclaimable && seen.flock_free) {
        return Ok(false);
    }
    fs::unlink_if_same(lock_path, seen.id)
        .map_err(|e| Error::io("remove stale lock file", lock_path, e))
}

/// What this process's held table says about a lock path, copied so that the file work can
/// run without holding the table's mutex.
pub struct TableView {
    pub nonce: String,
    pub held_by_us: bool,
}

impl TableView {
    pub fn of(table: &Table, lock_path: &Path) -> TableView {
        TableView {
            nonce: table.nonce.clone(),
            held_by_us: table.entries.contains_key(lock_path),
        }
    }
}

/// `queued`: this try is made for a waiter at the head of the service's queue; a fresh caller
/// instead queues behind waiters already there (unless it only wants one try).
///
/// The table's mutex is held only for the table steps; the system calls run without it, so
/// the lock service's work on busy paths never delays a release or an acquire of another path.
/// Between two threads of this process `link()` decides, as between processes.
pub fn attempt(
    rt: &'static Runtime,
    lock_path: &Path,
    options: &Options,
    queued: bool,
) -> Result<Attempt, Error> {
    let mut owner = String::from("pid=unknown");
    let mut busy_despite = None;
    for _ in 0..MAX_ROUNDS {
        let ours = match check_table(rt, lock_path, options, queued) {
            Ok(ours) => ours,
            Err(decided) => return Ok(decided),
        };
        let payload = written_payload(&rt.identity, &ours.nonce).to_bytes();
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
            return Ok(Attempt::Acquired(hold(
                rt, lock_path, file, id, ours.nonce, options,
            )));
        }
        match observe(
            &rt.identity,
            &ours,
            lock_path,
            options.stale,
            SystemTime::now(),
        )? {
            Observed::Gone => match busy_despite.take() {
                Some(e) => return Err(e),
                None => continue,
            },
            Observed::NotAFile(occupant) => {
                return Ok(Attempt::Busy {
                    owner: format!(
                        "{} is in the way (never removed automatically)",
                        occupant.describe()
                    ),
                })
            }
            Observed::File(seen) => {
                owner = describe_owner(&seen.payload, &rt.identity);
                if reclaim(lock_path, &seen)? || (seen.verdict.reclaimable && seen.flock_free) {
                    continue; // reclaimed, or replaced between our open and our check: again
                }
                if options.allow_reentrant && is_ours(&seen, &rt.identity, &ours.nonce) {
                    // Another thread of ours has just linked it: join it once it is in the table.
                    std::thread::yield_now();
                    continue;
                }
                return Ok(Attempt::Busy { owner });
            }
        }
    }
    Ok(Attempt::Busy { owner })
}

/// DESIGN §2 step 1 and the in-process queue, under the table's mutex: either the answer, or
/// what the file work needs to know.
fn check_table(
    rt: &Runtime,
    lock_path: &Path,
    options: &Options,
    queued: bool,
) -> Result<TableView, Attempt> {
    let mut guard = rt.table();
    let table = &mut *guard;
    if let Some(held) = table.entries.get_mut(lock_path) {
        if held.nonce == table.nonce {
            if !options.allow_reentrant {
                return Err(Attempt::Busy {
                    owner: format!("pid={} (this process)", rt.identity.pid),
                });
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
            return Err(Attempt::Acquired(LockGuard::new(
                lock_path.to_path_buf(),
                held.generation,
            )));
        }
        // Held under an older nonce: an earlier iteration of this process never released it.
        table.force_release(lock_path);
    }
    if !queued && options.timeout != Some(Duration::ZERO) && table.waiting_on(lock_path) {
        return Err(Attempt::Busy {
            owner: "waiters queued in this process".into(),
        });
    }
    Ok(TableView::of(table, lock_path))
}

/// Enters a lock file we have just created into the table, under the nonce it was written with.
fn hold(
    rt: &'static Runtime,
    lock_path: &Path,
    file: File,
    id: FileId,
    nonce: String,
    options: &Options,
) -> LockGuard {
    let service = rt.service(); // started with the first lock: heartbeat and watchdog
    let mut table = rt.table();
    let generation = table.insert(lock_path.to_path_buf(), file, id, nonce, options.max_hold);
    let deadline = table.entries[lock_path].deadline();
    if let Some(deadline) = deadline.filter(|&d| table.arm_watchdog(d)) {
        service.watchdog_at(deadline);
    }
    LockGuard::new(lock_path.to_path_buf(), generation)
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

pub fn written_payload(me: &ProcessIdentity, nonce: &str) -> WrittenPayload {
    WrittenPayload {
        pid: me.pid,
        created_at: iso_time::format(SystemTime::now()),
        nonce: nonce.to_owned(),
        starttime: me.starttime,
        hostname: me.hostname.clone(),
        boot_id: me.boot_id.clone(),
        pid_ns: me.pid_ns,
        flock: true,
    }
}

/// `pid=N`, with the host when it is another one and a note when it is another container.
pub fn describe_owner(p: &Payload, me: &ProcessIdentity) -> String {
    let mut owner = match p.pid {
        Some(pid) => format!("pid={pid}"),
        None => "pid=unknown".to_string(),
    };
    match &p.hostname {
        Some(host) if *host != me.hostname => owner.push_str(&format!(" host={host}")),
        _ if p.flock && p.pid_ns.is_some() && p.pid_ns != me.pid_ns => {
            owner.push_str(" (another pid namespace)")
        }
        _ => {}
    }
    owner
}
