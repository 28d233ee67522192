//! proper-lockfile's lock (`session-write-lock/proper-lockfile`): the core's `dir_lock` module
//! for the package's retry loop (`npm/proper-lockfile.js`), types converted and nothing else.

use crate::errors::to_js;
use napi::{Env, Result};
use napi_derive::napi;
use session_write_lock::dir_lock::{self, Attempt, DirLock, Seen, Verdict};
use std::path::Path;
use std::time::Duration;

/// Milliseconds from JavaScript as a duration (negative and NaN are zero).
fn ms(value: f64) -> Duration {
    Duration::try_from_secs_f64(value.max(0.0) / 1000.0).unwrap_or(Duration::MAX)
}

/// A held lock directory; its descriptor keeps the flock, a native thread its mtime.
#[napi]
pub struct NativeDirLock {
    lock: Option<DirLock>,
}

#[napi]
impl NativeDirLock {
    /// Whether the path stopped naming our directory (false once released).
    #[napi]
    pub fn compromised(&self) -> bool {
        self.lock.as_ref().is_some_and(DirLock::compromised)
    }

    /// Stops the refresher and removes the directory if the path still names it; true when
    /// removed. An I/O error throws (the flock is let go all the same).
    #[napi]
    pub fn release(&mut self, env: &Env) -> Result<bool> {
        match self.lock.take() {
            Some(lock) => lock.release().map_err(|e| to_js(env, &e)),
            None => Ok(false),
        }
    }
}

/// `dirLockAcquire(lockPath, staleMs, updateMs)`: the lock, or `null` when it is held.
#[napi(js_name = "dirLockAcquire")]
pub fn acquire(
    env: &Env,
    lock_path: String,
    stale_ms: f64,
    update_ms: f64,
) -> Result<Option<NativeDirLock>> {
    match dir_lock::acquire(Path::new(&lock_path), ms(stale_ms), ms(update_ms)) {
        Ok(Attempt::Held(lock)) => Ok(Some(NativeDirLock { lock: Some(lock) })),
        Ok(Attempt::Busy(_)) => Ok(None),
        Err(e) => Err(to_js(env, &e)),
    }
}

/// `dirLockLook(lockPath, staleMs)`: `"free"`, `"alive"` (a holder of ours), `"dead"` (ours,
/// its holder gone), `"fresh"` or `"stale"` (proper-lockfile's, by mtime), or `"not-dir"`.
#[napi(js_name = "dirLockLook")]
pub fn look(env: &Env, lock_path: String, stale_ms: f64) -> Result<&'static str> {
    Ok(
        match dir_lock::look(Path::new(&lock_path), ms(stale_ms)).map_err(|e| to_js(env, &e))? {
            Seen::Gone => "free",
            Seen::NotADirectory => "not-dir",
            Seen::Dir(occupant) => match occupant.verdict {
                Verdict::Alive => "alive",
                Verdict::Dead => "dead",
                Verdict::Fresh(_) => "fresh",
                Verdict::Stale => "stale",
            },
        },
    )
}
