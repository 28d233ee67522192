//! `inspectSessionWriteLock` and `cleanStaleLockFiles`: the core's inspections as plain objects.

use crate::args::{path, Params};
use crate::errors::to_js;
use napi::bindgen_prelude::Unknown;
use napi::{Env, Result};
use napi_derive::napi;
use session_write_lock::{
    clean_stale, inspect, CleanOptions, Error as LockError, Inspection, Options,
};
use std::time::{Duration, SystemTime};

/// One lock file as the protocol sees it (`null` where the payload says nothing).
#[napi(object, use_nullable = true)]
pub struct SessionLockInspection {
    pub lock_path: String,
    pub pid: Option<u32>,
    pub pid_alive: bool,
    pub created_at: Option<String>,
    /// A number, not the core's u64: ages of absurd `createdAt` values must still convert.
    pub age_ms: Option<f64>,
    pub stale: bool,
    pub stale_reasons: Vec<String>,
    pub removed: bool,
    pub nonce: Option<String>,
    pub hostname: Option<String>,
    pub format: String,
    pub owner: String,
}

impl From<Inspection> for SessionLockInspection {
    fn from(i: Inspection) -> SessionLockInspection {
        SessionLockInspection {
            lock_path: i.lock_path,
            pid: i.pid,
            pid_alive: i.pid_alive,
            created_at: i.created_at,
            age_ms: i.age_ms.map(|ms| ms as f64),
            stale: i.stale,
            stale_reasons: i.stale_reasons,
            removed: i.removed,
            nonce: i.nonce,
            hostname: i.hostname,
            format: i.format,
            owner: i.owner,
        }
    }
}

#[napi(object)]
pub struct CleanResult {
    pub locks: Vec<SessionLockInspection>,
    pub cleaned: Vec<SessionLockInspection>,
}

/// `inspectSessionWriteLock(sessionFile)`: `null` when there is no lock file.
#[napi(js_name = "inspectSessionWriteLock")]
pub fn inspect_lock(env: &Env, session_file: Unknown<'_>) -> Result<Option<SessionLockInspection>> {
    let session_file = path(env, "sessionFile", Some(session_file))?;
    inspect(session_file, Options::default().stale)
        .map(|found| found.map(SessionLockInspection::from))
        .map_err(|e| to_js(env, &e))
}

/// `cleanStaleLockFiles({ sessionsDir, staleMs?, removeStale?, nowMs? })`.
#[napi(js_name = "cleanStaleLockFiles")]
pub fn clean_stale_lock_files(env: &Env, params: Unknown<'_>) -> Result<CleanResult> {
    let params = Params::new(env, params)?;
    let sessions_dir = params.path("sessionsDir")?;
    let options = clean_options(env, &params)?;
    let report = clean_stale(sessions_dir, &options).map_err(|e| to_js(env, &e))?;
    Ok(CleanResult {
        locks: report.locks.into_iter().map(Into::into).collect(),
        cleaned: report.cleaned.into_iter().map(Into::into).collect(),
    })
}

fn clean_options(env: &Env, params: &Params<'_>) -> Result<CleanOptions> {
    let invalid = |e: LockError| to_js(env, &e);
    let defaults = CleanOptions::default();
    // staleMs is checked like acquire's, by the core's one validator of millisecond options.
    let stale = Options::from_millis(None, params.number("staleMs")?, None, None)
        .map_err(invalid)?
        .stale;
    let now = match params.number("nowMs")? {
        None => None,
        Some(ms) => Some(epoch_ms(ms).ok_or_else(|| {
            invalid(LockError::InvalidArgument {
                name: "nowMs",
                message: format!("must be a finite number of milliseconds since 1970, got {ms}"),
            })
        })?),
    };
    Ok(CleanOptions {
        stale,
        remove: params.boolean("removeStale")?.unwrap_or(defaults.remove),
        now,
    })
}

/// A JavaScript timestamp (`Date.now()`) as a `SystemTime`; `None` if it is not one.
fn epoch_ms(ms: f64) -> Option<SystemTime> {
    let since_epoch = Duration::try_from_secs_f64(ms / 1000.0).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(since_epoch)
}
