//! Read-only views of lock files and the stale-lock cleaner (`inspect`, `clean_stale`; Node
//! `inspectSessionWriteLock`, `cleanStaleLockFiles`). Removal goes through the same race-free
//! reclaim as acquire. Formats and reasons stay the verdict's enums here; each edge spells them.

use crate::api::runtime::runtime;
use crate::attempt::holder::{describe_occupant, describe_owner, describe_seen};
use crate::attempt::observe::{observe, reclaim, Judge, Observed, OwnerArgs, Reclaim};
use crate::base::lock_names;
use crate::files::fs::{self, resolve_lock_path};
use crate::files::lock_dir::{LockDir, LockPlace};
use crate::files::sweep_names;
use crate::rules::iso_time;
use crate::rules::verdict::{malformed_grace, Format, Purpose, StaleReason};
use crate::vocab::error::Error;
use crate::vocab::option_name::OptionName;
use crate::vocab::options::CleanOptions;
use crate::vocab::path_rule::check_path;
use crate::vocab::select::Select;
use serde::{Serialize, Serializer};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// One lock file as the protocol sees it. Field names are the Node API's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Inspection {
    /// The lock file.
    pub lock_path: String,
    /// The holder's pid, as the file says (`None`: unreadable or not a lock file).
    pub pid: Option<u32>,
    /// The holder is alive: its flock is held (this library's files) or its pid answers
    /// (legacy files).
    pub pid_alive: bool,
    /// When the lock was taken (ISO 8601), as the file says.
    pub created_at: Option<String>,
    /// Age of the lock: from `created_at`, else from the file's modification time.
    pub age_ms: Option<u64>,
    /// At least one reason applies (see `removable` for whether it may go).
    pub stale: bool,
    /// Why it is stale: `dead-pid`, `too-old`, ….
    pub stale_reasons: Vec<StaleReason>,
    /// It may be removed now: stale, not merely old, a malformed file only past its grace.
    pub removable: bool,
    /// This inspection removed it (a clean-up with removal on).
    pub removed: bool,
    /// The holder's instance nonce (this library's files).
    pub nonce: Option<String>,
    /// The holder's host name (this library's files).
    pub hostname: Option<String>,
    /// Who wrote it, or [`Found::NotAFile`] when something else occupies the path.
    pub format: Found,
    /// Who holds it, as error messages say it (`pid=12 alive=true ageMs=5`), or what is in
    /// the way.
    #[serde(rename = "owner")]
    pub description: String,
    /// The holder's label from the payload.
    pub owner_label: Option<String>,
    /// The holder's max-hold from the payload.
    pub max_hold_ms: Option<u64>,
}

/// What an inspection found at a lock path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A lock file, written by this library or by the TypeScript module.
    Lock(Format),
    /// A directory, FIFO, socket, device or symlink: never judged, opened or removed.
    NotAFile,
}

impl Found {
    /// `"flock"`, `"legacy"` or `"not-a-file"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Found::Lock(format) => format.as_str(),
            Found::NotAFile => "not-a-file",
        }
    }
}

impl Serialize for Found {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// What [`clean_stale`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanReport {
    /// Every lock file of the directory the selection reports ([`CleanOptions::select`];
    /// by default every `*.jsonl.lock`), sorted by name.
    pub locks: Vec<Inspection>,
    /// The ones that were removed.
    pub cleaned: Vec<Inspection>,
    /// Temp files of crashed writers that were removed.
    #[serde(rename = "tempFilesRemoved")]
    pub temp_files_removed: Vec<String>,
    /// The lock files that could not be inspected or removed (unreadable, undeletable, …),
    /// each with why; the sweep went on with the others. Empty when all went well.
    pub errors: Vec<EntryError>,
}

/// A lock file a sweep could not inspect or remove, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryError {
    /// The lock file.
    pub lock_path: String,
    /// The errno's name (`EACCES`, `EPERM`, …), when a system call failed.
    pub code: Option<&'static str>,
    /// The error as the library words it.
    pub message: String,
}

impl EntryError {
    /// `error`, met on `lock_path`.
    pub fn new(lock_path: &Path, error: &Error) -> EntryError {
        EntryError {
            lock_path: fs::lossy(lock_path),
            code: error.code(),
            message: error.to_string(),
        }
    }
}

/// Inspects the lock of `session_file`; `None` when there is no lock file.
pub fn inspect(
    session_file: impl AsRef<Path>,
    stale: Duration,
) -> Result<Option<Inspection>, Error> {
    let options = CleanOptions {
        stale,
        remove: false,
        ..CleanOptions::default()
    };
    inspect_with(session_file, &options)
}

/// [`inspect`] with the sweep's options (`remove` is ignored: nothing is removed).
pub fn inspect_with(
    session_file: impl AsRef<Path>,
    options: &CleanOptions,
) -> Result<Option<Inspection>, Error> {
    let Some(lock_path) = resolve_lock_path(session_file.as_ref(), false)? else {
        return Ok(None);
    };
    let options = CleanOptions {
        remove: false,
        ..options.clone()
    };
    inspect_lock_file(&lock_path, &options, OwnerArgs::System)
}

/// Inspects a lock file by its own path with the sweep's rules; with `options.remove`,
/// deletes it if removable (race-free). `owner_args`: where a live legacy holder's command
/// line comes from, when `options.owner_matcher` is set.
pub fn inspect_lock_file(
    lock_path: &Path,
    options: &CleanOptions,
    owner_args: OwnerArgs,
) -> Result<Option<Inspection>, Error> {
    match LockPlace::open_given(lock_path)? {
        Some(place) => inspect_place(&place, options, owner_args),
        None => Ok(None),
    }
}

/// [`inspect_lock_file`] of a place whose directory is open.
fn inspect_place(
    place: &LockPlace,
    options: &CleanOptions,
    owner_args: OwnerArgs,
) -> Result<Option<Inspection>, Error> {
    let lock_path = place.path();
    let rt = runtime();
    let ours = rt.holds.table().view(lock_path);
    let lock_path_text = fs::lossy(lock_path);
    let now = options.now.unwrap_or_else(SystemTime::now);
    let judge = Judge {
        stale: options.stale,
        now,
        purpose: Purpose::CLEAN.with_foreign(options.foreign),
        malformed_grace: malformed_grace(None, options.stale),
        owner_matcher: options.owner_matcher,
        owner_args,
    };
    let seen = match observe(&rt.identity, &ours, place, &judge)? {
        Observed::Gone => return Ok(None),
        Observed::NotAFile(occupant) => {
            return Ok(Some(Inspection {
                lock_path: lock_path_text,
                pid: None,
                pid_alive: false,
                created_at: None,
                age_ms: None,
                stale: false,
                stale_reasons: Vec::new(),
                removable: false,
                removed: false,
                nonce: None,
                hostname: None,
                format: Found::NotAFile,
                description: describe_occupant(occupant),
                owner_label: None,
                max_hold_ms: None,
            }))
        }
        Observed::File(seen) => seen,
    };
    let removed = options.remove && reclaim(place, &seen)? == Reclaim::Removed;
    // Closing is not enough: a child another thread spawns meanwhile shares the descriptor,
    // and with it the flock, until it execs, and others would see a live holder.
    seen.let_go();
    let p = &seen.payload;
    let pid_alive = seen.holder_alive();
    let now_ms = iso_time::unix_ms(now);
    Ok(Some(Inspection {
        lock_path: lock_path_text,
        pid: p.pid,
        pid_alive,
        created_at: p.created_at.clone(),
        age_ms: p
            .created_at_ms
            .map(|c| now_ms.saturating_sub(c).max(0) as u64),
        stale: seen.verdict.stale(),
        stale_reasons: seen.verdict.reasons.clone(),
        removable: seen.verdict.removable,
        removed,
        nonce: p.nonce.clone(),
        hostname: p.hostname.clone(),
        format: Found::Lock(seen.verdict.format),
        description: describe_seen(&seen, &rt.identity, now),
        owner_label: p.owner.clone(),
        max_hold_ms: p.max_hold_ms,
    }))
}

/// The verdict on a payload alone, as the gateway's test hook `inspectLockPayloadForTest`
/// gives it: the pid is probed now, the file counts as written at `now`, not held by us.
pub fn inspect_payload(
    bytes: &[u8],
    stale: Duration,
    now: SystemTime,
    purpose: Purpose,
) -> Inspection {
    let rt = runtime();
    let nonce = rt.holds.table().nonce().to_owned();
    let payload = crate::rules::payload::Payload::parse(bytes).read_as(purpose.foreign);
    let pid_probe = payload.pid.map(crate::rules::identity::probe_pid);
    let now_ms = iso_time::unix_ms(now);
    let verdict = crate::rules::verdict::decide(
        &crate::rules::verdict::Observation {
            payload: &payload,
            mtime_ms: now_ms,
            flock_free: false,
            pid_probe,
            held_by_us: false,
            owner_is_gateway: None,
        },
        &crate::rules::verdict::Observer {
            identity: &rt.identity.for_verdict(),
            nonce: &nonce,
            now_ms,
            stale,
            purpose,
            malformed_grace: malformed_grace(None, stale),
        },
    );
    let pid_alive = matches!(
        pid_probe,
        Some(crate::rules::identity::PidProbe::Alive { .. })
    );
    Inspection {
        lock_path: String::new(),
        pid: payload.pid,
        pid_alive,
        created_at: payload.created_at.clone(),
        age_ms: payload
            .created_at_ms
            .map(|c| now_ms.saturating_sub(c).max(0) as u64),
        stale: verdict.stale(),
        stale_reasons: verdict.reasons.clone(),
        removable: verdict.removable,
        removed: false,
        nonce: payload.nonce.clone(),
        hostname: payload.hostname.clone(),
        format: Found::Lock(verdict.format),
        description: describe_owner(&payload, &rt.identity, pid_alive, now),
        owner_label: payload.owner.clone(),
        max_hold_ms: payload.max_hold_ms,
    }
}

/// The lock files (`*.jsonl.lock`, sorted by name) and the temp files of writers in `dir`;
/// a missing directory has none.
pub fn lock_files_in(dir: impl AsRef<Path>) -> Result<(Vec<PathBuf>, Vec<PathBuf>), Error> {
    let dir = dir.as_ref();
    let listed = list(dir, &Select::SessionLocks)?;
    let paths = |names: Vec<OsString>| names.iter().map(|n| dir.join(n)).collect();
    Ok((paths(listed.locks), paths(listed.temps)))
}

/// A directory, open, and the names of lock files and temp files listed through it.
struct Listed {
    dir: Option<Arc<LockDir>>,
    /// Sorted by name.
    locks: Vec<OsString>,
    temps: Vec<OsString>,
}

fn list(dir: &Path, select: &Select) -> Result<Listed, Error> {
    check_path(OptionName::SessionsDir, dir.as_os_str())?;
    let mut listed = Listed {
        dir: LockDir::open_given(dir)?,
        locks: Vec::new(),
        temps: Vec::new(),
    };
    let Some(open) = &listed.dir else {
        return Ok(listed);
    };
    let names = crate::sys::list_dir(open.fd()).map_err(|e| Error::io("read directory", dir, e))?;
    for name in names {
        if sweep_names::admits(select, &name) {
            listed.locks.push(name);
        } else if lock_names::is_temp(&name) {
            listed.temps.push(name);
        }
    }
    listed.locks.sort();
    listed.temps.sort();
    Ok(listed)
}

/// Inspects every `*.jsonl.lock` in `dir` (sorted by name) and, with `options.remove`, removes
/// the removable ones and temp files of crashed writers older than `options.stale`. A file that
/// cannot be inspected or removed is reported in [`CleanReport::errors`]; only a directory that
/// cannot be listed fails the whole sweep. Every entry is opened and removed relative to the
/// directory it was listed in.
pub fn clean_stale(dir: impl AsRef<Path>, options: &CleanOptions) -> Result<CleanReport, Error> {
    let dir = dir.as_ref();
    let listed = list(dir, &options.select)?;
    let now = options.now.unwrap_or_else(SystemTime::now);
    let options_now = CleanOptions {
        now: Some(now),
        ..options.clone()
    };
    let mut report = CleanReport::default();
    let Some(open) = listed.dir else {
        return Ok(report);
    };
    for name in listed.locks {
        let lock_path = dir.join(&name);
        let file_options = CleanOptions {
            foreign: sweep_names::foreign_rule(&options.select, &name, options.foreign),
            ..options_now.clone()
        };
        // One file that cannot be read or removed must not hide the others from the sweep.
        let inspected = LockPlace::in_dir(Arc::clone(&open), &name, &lock_path)
            .and_then(|place| inspect_place(&place, &file_options, OwnerArgs::System));
        match inspected {
            Ok(Some(inspection)) => {
                let ours = inspection.format == Found::Lock(Format::Flock);
                if !sweep_names::reports(&options.select, &name, ours) {
                    continue;
                }
                if inspection.removed {
                    report.cleaned.push(inspection.clone());
                }
                report.locks.push(inspection);
            }
            Ok(None) => {}
            Err(e) => report.errors.push(EntryError::new(&lock_path, &e)),
        }
    }
    if options.remove {
        report.temp_files_removed = remove_old_temp_files(dir, &open, listed.temps, options, now);
    }
    Ok(report)
}

/// Removes the temp files of crashed writers in `dir` older than `options.stale` (the part of
/// [`clean_stale`] a caller that walks the lock files itself still needs).
pub fn clean_temp_files(
    dir: impl AsRef<Path>,
    options: &CleanOptions,
) -> Result<Vec<String>, Error> {
    let dir = dir.as_ref();
    let listed = list(dir, &Select::SessionLocks)?;
    let now = options.now.unwrap_or_else(SystemTime::now);
    Ok(match listed.dir {
        Some(open) => remove_old_temp_files(dir, &open, listed.temps, options, now),
        None => Vec::new(),
    })
}

fn remove_old_temp_files(
    dir: &Path,
    open: &LockDir,
    names: Vec<OsString>,
    options: &CleanOptions,
    now: SystemTime,
) -> Vec<String> {
    let before = iso_time::unix_ms(now) - options.stale.as_millis() as i64;
    (fs::remove_old_temp_files(open, names, before).iter())
        .map(|name| fs::lossy(&dir.join(name)))
        .collect()
}
