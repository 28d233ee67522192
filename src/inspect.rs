//! Read-only views of lock files and the stale-lock cleaner (DESIGN §5 `inspect`,
//! `cleanStaleLockFiles`). Removal goes through the same race-free reclaim as acquire.

use crate::attempt::{describe_owner, observe, reclaim, Observed, TableView};
use crate::error::Error;
use crate::fs::{self, resolve_lock_path};
use crate::identity::PidProbe;
use crate::iso_time;
use crate::options::CleanOptions;
use crate::runtime::runtime;
use crate::verdict::Format;
use serde::Serialize;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
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
    /// May be reclaimed now (see `stale_reasons` for why).
    pub stale: bool,
    /// Why it is (or would be, if it were old enough) stale: `dead-pid`, `too-old`, ….
    pub stale_reasons: Vec<String>,
    /// This inspection removed it (a clean-up with removal on).
    pub removed: bool,
    /// The holder's instance nonce (this library's files).
    pub nonce: Option<String>,
    /// The holder's host name (this library's files).
    pub hostname: Option<String>,
    /// `"flock"`, `"legacy"`, or `"not-a-file"` when something else occupies the path.
    pub format: String,
    /// Who holds it, as error messages say it (`pid=12 host=b`), or what is in the way.
    pub owner: String,
}

/// What [`clean_stale`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanReport {
    /// Every `*.jsonl.lock` of the directory, sorted by name.
    pub locks: Vec<Inspection>,
    /// The ones that were removed.
    pub cleaned: Vec<Inspection>,
    /// Temp files of crashed writers that were removed.
    #[serde(rename = "tempFilesRemoved")]
    pub temp_files_removed: Vec<String>,
}

/// Inspects the lock of `session_file`; `None` when there is no lock file.
pub fn inspect(
    session_file: impl AsRef<Path>,
    stale: Duration,
) -> Result<Option<Inspection>, Error> {
    let Some(lock_path) = resolve_lock_path(session_file.as_ref(), false)? else {
        return Ok(None);
    };
    inspect_lock_file(&lock_path, stale, SystemTime::now(), false)
}

/// Inspects a lock file by its own path; with `remove`, deletes it if stale (race-free).
pub fn inspect_lock_file(
    lock_path: &Path,
    stale: Duration,
    now: SystemTime,
    remove: bool,
) -> Result<Option<Inspection>, Error> {
    let rt = runtime();
    let ours = TableView::of(&rt.table(), lock_path);
    let lock_path_text = fs::lossy(lock_path);
    let seen = match observe(&rt.identity, &ours, lock_path, stale, now)? {
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
                removed: false,
                nonce: None,
                hostname: None,
                format: "not-a-file".into(),
                owner: format!(
                    "{} is in the way (never removed automatically)",
                    occupant.describe()
                ),
            }))
        }
        Observed::File(seen) => seen,
    };
    let removed = remove && reclaim(lock_path, &seen)?;
    let p = &seen.payload;
    let pid_alive = match seen.verdict.format {
        Format::Flock => !seen.verdict.reclaimable,
        Format::Legacy => matches!(seen.pid_probe, Some(PidProbe::Alive { .. })),
    };
    let now_ms = iso_time::unix_ms(now);
    Ok(Some(Inspection {
        lock_path: lock_path_text,
        pid: p.pid,
        pid_alive,
        created_at: p.created_at.clone(),
        age_ms: p
            .created_at_ms
            .map(|c| now_ms.saturating_sub(c).max(0) as u64),
        stale: seen.verdict.reclaimable,
        stale_reasons: seen
            .verdict
            .reasons
            .iter()
            .map(|r| r.as_str().to_string())
            .collect(),
        removed,
        nonce: p.nonce.clone(),
        hostname: p.hostname.clone(),
        format: seen.verdict.format.as_str().into(),
        owner: describe_owner(p, &rt.identity),
    }))
}

/// Inspects every `*.jsonl.lock` in `dir` (sorted by name) and, with `options.remove`, removes
/// the stale ones and temp files of crashed writers older than `options.stale`.
pub fn clean_stale(dir: impl AsRef<Path>, options: &CleanOptions) -> Result<CleanReport, Error> {
    let dir = dir.as_ref();
    let bytes = dir.as_os_str().as_bytes();
    if bytes.is_empty() || bytes.contains(&0) {
        return Err(Error::invalid(
            "sessionsDir",
            "must be a non-empty path without NUL bytes",
        ));
    }
    let now = options.now.unwrap_or_else(SystemTime::now);
    let mut lock_files = Vec::new();
    let mut temp_files = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(CleanReport::default()),
        Err(e) => return Err(Error::io("read directory", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read directory", dir, e))?;
        let name = entry.file_name();
        if name.as_bytes().ends_with(b".jsonl.lock") {
            lock_files.push(entry.path());
        } else if fs::is_temp_file_name(&name) {
            temp_files.push(entry.path());
        }
    }
    lock_files.sort();
    let mut report = CleanReport::default();
    for lock_path in lock_files {
        if let Some(inspection) = inspect_lock_file(&lock_path, options.stale, now, options.remove)?
        {
            if inspection.removed {
                report.cleaned.push(inspection.clone());
            }
            report.locks.push(inspection);
        }
    }
    if options.remove {
        report.temp_files_removed = remove_old_temp_files(temp_files, options.stale, now);
    }
    Ok(report)
}

fn remove_old_temp_files(
    mut candidates: Vec<PathBuf>,
    stale: Duration,
    now: SystemTime,
) -> Vec<String> {
    candidates.sort();
    let now_ms = iso_time::unix_ms(now);
    candidates
        .into_iter()
        .filter(|path| {
            std::fs::symlink_metadata(path).is_ok_and(|m| {
                m.file_type().is_file() && now_ms - m.mtime() * 1000 > stale.as_millis() as i64
            }) && std::fs::remove_file(path).is_ok()
        })
        .map(|p| fs::lossy(&p))
        .collect()
}
