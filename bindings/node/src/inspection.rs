//! `inspectSessionWriteLock`, the sweep's per-file step and the test hook on payloads: the
//! core's inspections as plain objects. The package's JavaScript walks the directory, yields to
//! the event loop and calls the owner-command-line reader; the file work runs on the libuv
//! pool (`inspectLockFile` is an async task), never on the JavaScript thread.

use crate::args::{path, Params};
use crate::errors::{gateway_reason, to_js};
use napi::bindgen_prelude::{AsyncTask, Buffer, Either, Unknown};
use napi::{Env, Result, Task};
use napi_derive::napi;
use session_write_lock::owner_argv::ArgvMatcher;
use session_write_lock::testing::inspect_payload;
use session_write_lock::{
    clean_temp_files, inspect_lock_file, inspect_with, lock_files_in, CleanOptions,
    Error as LockError, Inspection, OptionName, OwnerArgs, Purpose,
};
use std::path::PathBuf;
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
    pub removable: bool,
    pub removed: bool,
    pub nonce: Option<String>,
    pub hostname: Option<String>,
    pub format: String,
    pub owner: String,
    pub owner_label: Option<String>,
    pub max_hold_ms: Option<f64>,
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
            stale_reasons: i
                .stale_reasons
                .into_iter()
                .map(|r| gateway_reason(r).to_owned())
                .collect(),
            removable: i.removable,
            removed: i.removed,
            nonce: i.nonce,
            hostname: i.hostname,
            format: i.format.as_str().to_owned(),
            owner: i.description,
            owner_label: i.owner_label,
            max_hold_ms: i.max_hold_ms.map(|ms| ms as f64),
        }
    }
}

/// `inspectSessionWriteLock(sessionFile)`: `null` when there is no lock file.
#[napi(js_name = "inspectSessionWriteLock")]
pub fn inspect_lock(env: &Env, session_file: Unknown<'_>) -> Result<Option<SessionLockInspection>> {
    let session_file = path(env, OptionName::SessionFile, Some(session_file))?;
    let options = CleanOptions {
        owner_matcher: Some(ArgvMatcher::GATEWAY),
        ..CleanOptions::default()
    };
    inspect_with(session_file, &options)
        .map(|found| found.map(SessionLockInspection::from))
        .map_err(|e| to_js(env, &e))
}

/// The sweep's step for one lock file, run on the libuv pool.
pub struct InspectTask {
    lock_path: PathBuf,
    options: CleanOptions,
    owner_args: Option<Option<Vec<String>>>,
}

impl Task for InspectTask {
    /// The core's error is kept as it is, to become the JavaScript error on the main thread.
    type Output = std::result::Result<Option<Inspection>, LockError>;
    type JsValue = Option<SessionLockInspection>;

    fn compute(&mut self) -> Result<Self::Output> {
        let owner_args = match self.owner_args.take() {
            None => OwnerArgs::System,
            Some(given) => OwnerArgs::Given(given),
        };
        Ok(inspect_lock_file(
            &self.lock_path,
            &self.options,
            owner_args,
        ))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Self::JsValue> {
        output
            .map(|found| found.map(SessionLockInspection::from))
            .map_err(|e| to_js(&env, &e))
    }
}

/// `inspectLockFile({ lockPath, staleMs, nowMs?, removeStale?, ownerArgs? })`: a promise of
/// the inspection (`null`: no file), removing the file when `removeStale` and removable.
/// `ownerArgs`: the holder's command line as the caller's reader gave it (`null`: unknown);
/// missing: read from the system.
#[napi(js_name = "inspectLockFile")]
pub fn inspect_lock_file_task(env: &Env, params: Unknown<'_>) -> Result<AsyncTask<InspectTask>> {
    let params = Params::new(env, params)?;
    let lock_path = params.path_bytes(OptionName::LockPath)?;
    let options = clean_options(env, &params)?;
    let owner_args = match params.has(OptionName::OwnerArgs)? {
        false => None,
        true => Some(params.strings(OptionName::OwnerArgs)?),
    };
    Ok(AsyncTask::new(InspectTask {
        lock_path,
        options,
        owner_args,
    }))
}

/// `cleanTempFiles({ sessionsDir, staleMs, nowMs? })`: removes temp files of crashed writers
/// older than `staleMs`; returns their paths.
#[napi(js_name = "cleanTempFiles")]
pub fn clean_temp(env: &Env, params: Unknown<'_>) -> Result<Vec<String>> {
    let params = Params::new(env, params)?;
    let dir = params.path(OptionName::SessionsDir)?;
    clean_temp_files(dir, &clean_options(env, &params)?).map_err(|e| to_js(env, &e))
}

/// Lists the lock files of a directory on the libuv pool.
pub struct ListTask {
    dir: String,
}

impl Task for ListTask {
    type Output = std::result::Result<Vec<PathBuf>, LockError>;
    type JsValue = Vec<Either<String, Buffer>>;

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(lock_files_in(&self.dir).map(|(locks, _)| locks))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<Self::JsValue> {
        let paths = output.map_err(|e| to_js(&env, &e))?;
        Ok(paths
            .into_iter()
            .map(|p| match p.into_os_string().into_string() {
                Ok(text) => Either::A(text),
                // Unix: the name's bytes; Windows: its WTF-8 bytes (unpaired surrogates).
                Err(name) => Either::B(Buffer::from(name.into_encoded_bytes())),
            })
            .collect())
    }
}

/// `listLockFiles(sessionsDir)`: a promise of the `*.jsonl.lock` paths, sorted by name
/// (`[]` for a missing directory); a path that is not UTF-8 comes as a `Buffer` of its bytes,
/// which `inspectLockFile` takes as it is.
#[napi(js_name = "listLockFiles")]
pub fn list_lock_files(env: &Env, sessions_dir: Unknown<'_>) -> Result<AsyncTask<ListTask>> {
    let dir = path(env, OptionName::SessionsDir, Some(sessions_dir))?;
    Ok(AsyncTask::new(ListTask { dir }))
}

/// `inspectLockPayload({ payload, staleMs, nowMs?, respectMaxHold? })`: the pure verdict on a
/// payload (the gateway's `inspectLockPayloadForTest`).
#[napi(js_name = "inspectLockPayload")]
pub fn inspect_lock_payload(env: &Env, params: Unknown<'_>) -> Result<SessionLockInspection> {
    let params = Params::new(env, params)?;
    let payload: String = params.string(OptionName::Payload)?.unwrap_or_default();
    let options = clean_options(env, &params)?;
    // The gateway's hook: not held by us, no orphan without a starttime; `hold-exceeded` only
    // when asked for.
    let purpose = Purpose {
        respect_max_hold: params.boolean(OptionName::RespectMaxHold)? == Some(true),
        ..Purpose::CLEAN
    };
    let now = options.now.unwrap_or_else(SystemTime::now);
    Ok(inspect_payload(payload.as_bytes(), options.stale, now, purpose).into())
}

fn clean_options(env: &Env, params: &Params<'_>) -> Result<CleanOptions> {
    let invalid = |e: LockError| to_js(env, &e);
    let now = match params.number(OptionName::NowMs)? {
        None => None,
        Some(ms) => Some(epoch_ms(ms).ok_or_else(|| {
            invalid(LockError::InvalidArgument {
                name: OptionName::NowMs,
                message: format!("must be a finite number of milliseconds since 1970, got {ms}"),
            })
        })?),
    };
    let defaults = CleanOptions::default();
    let mut options = CleanOptions {
        remove: params
            .boolean(OptionName::RemoveStale)?
            .unwrap_or(defaults.remove),
        now,
        owner_matcher: Some(ArgvMatcher::GATEWAY),
        ..defaults
    };
    if let Some(ms) = params.number(OptionName::StaleMs)? {
        options.set_stale_ms(ms).map_err(invalid)?;
    }
    Ok(options)
}

/// A JavaScript timestamp (`Date.now()`) as a `SystemTime`; `None` if it is not one.
fn epoch_ms(ms: f64) -> Option<SystemTime> {
    let since_epoch = Duration::try_from_secs_f64(ms / 1000.0).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(since_epoch)
}
