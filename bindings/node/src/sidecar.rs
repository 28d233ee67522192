//! fs-safe's file lock (`session-write-lock/file-lock`): the core's `sidecar` module for the
//! package's acquire loop (`npm/file-lock.js`), types converted and nothing else.

use crate::errors::to_js;
use napi::bindgen_prelude::Buffer;
use napi::{Env, Result};
use napi_derive::napi;
use session_write_lock::sidecar::{
    self, Created, GuardStep, HolderState, ReclaimGuard, Seen, SidecarLock, Snapshot,
};
use std::path::Path;
use std::time::UNIX_EPOCH;

/// A held fs-safe lock file; its descriptor keeps the flock.
#[napi]
pub struct NativeSidecarLock {
    lock: Option<SidecarLock>,
}

#[napi]
impl NativeSidecarLock {
    /// Whether the file still holds exactly our bytes (false once released).
    #[napi]
    pub fn still_held(&self, env: &Env) -> Result<bool> {
        match &self.lock {
            Some(lock) => lock.still_ours().map_err(|e| to_js(env, &e)),
            None => Ok(false),
        }
    }

    /// Removes the file if its bytes are still exactly ours, then lets the flock go; true when
    /// removed. On an I/O error it throws and stays held, so that a release can be retried.
    #[napi]
    pub fn release(&mut self, env: &Env) -> Result<bool> {
        let removed = match &self.lock {
            Some(lock) => lock.remove_if_ours().map_err(|e| to_js(env, &e))?,
            None => false,
        };
        self.lock = None;
        Ok(removed)
    }

    /// Lets the flock go and leaves the file (a file no longer ours).
    #[napi]
    pub fn close(&mut self) {
        self.lock = None;
    }
}

/// `sidecarCreate(lockPath, json)`: the lock, or `null` when something is in the way.
#[napi(js_name = "sidecarCreate")]
pub fn create(env: &Env, lock_path: String, json: String) -> Result<Option<NativeSidecarLock>> {
    match sidecar::create(Path::new(&lock_path), json.as_bytes()) {
        Ok(Created::Held(lock)) => Ok(Some(NativeSidecarLock { lock: Some(lock) })),
        Ok(Created::Busy) => Ok(None),
        Err(e) => Err(to_js(env, &e)),
    }
}

/// Someone else's lock file, seen once.
#[napi]
pub struct NativeSidecarSnapshot {
    kind: &'static str,
    seen: Option<Snapshot>,
}

#[napi]
impl NativeSidecarSnapshot {
    /// `"gone"` (look again), `"not-file"`, `"too-large"` or `"file"`.
    #[napi(getter)]
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// `"alive"`, `"gone"` or `"foreign"` (a file only).
    #[napi(getter)]
    pub fn holder(&self) -> Option<&'static str> {
        self.seen.as_ref().map(|s| match s.holder {
            HolderState::Alive => "alive",
            HolderState::Gone => "gone",
            HolderState::Foreign => "foreign",
        })
    }

    /// The bytes read.
    #[napi(getter)]
    pub fn raw(&self) -> Option<Buffer> {
        self.seen.as_ref().map(|s| s.raw.clone().into())
    }

    /// Its mtime in milliseconds since the epoch.
    #[napi(getter)]
    pub fn mtime_ms(&self) -> Option<f64> {
        self.seen.as_ref().map(|s| {
            s.mtime
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        })
    }

    /// Whether the path still names this file with these bytes.
    #[napi]
    pub fn unchanged(&self, env: &Env) -> Result<bool> {
        match &self.seen {
            Some(s) => s.unchanged().map_err(|e| to_js(env, &e)),
            None => Ok(false),
        }
    }

    /// Removes it if it is still this file with these bytes and unheld; true when removed.
    #[napi]
    pub fn remove_if_unchanged(&self, env: &Env) -> Result<bool> {
        match &self.seen {
            Some(s) => s.remove_if_unchanged().map_err(|e| to_js(env, &e)),
            None => Ok(false),
        }
    }
}

/// `sidecarSnapshot(lockPath)`.
#[napi(js_name = "sidecarSnapshot")]
pub fn snapshot(env: &Env, lock_path: String) -> Result<NativeSidecarSnapshot> {
    let (kind, seen) = match sidecar::snapshot(Path::new(&lock_path)) {
        Ok(Seen::Gone) => ("gone", None),
        Ok(Seen::NotAFile) => ("not-file", None),
        Ok(Seen::TooLarge) => ("too-large", None),
        Ok(Seen::File(s)) => ("file", Some(s)),
        Err(e) => return Err(to_js(env, &e)),
    };
    Ok(NativeSidecarSnapshot { kind, seen })
}

/// The `<lock>.reclaim` guard as one look found it; holds it when taken or adopted.
#[napi]
pub struct NativeReclaimGuard {
    state: &'static str,
    wait_ms: f64,
    guard: Option<ReclaimGuard>,
}

#[napi]
impl NativeReclaimGuard {
    /// `"free"`, `"taken"`, `"adopted"`, `"held"` or `"young"`.
    #[napi(getter)]
    pub fn state(&self) -> &'static str {
        self.state
    }

    /// For `"young"`: how long it is honoured still.
    #[napi(getter)]
    pub fn wait_ms(&self) -> f64 {
        self.wait_ms
    }

    /// Removes the guard if it is ours and still there; true when removed.
    #[napi]
    pub fn remove(&mut self, env: &Env) -> Result<bool> {
        match self.guard.take() {
            Some(guard) => guard.remove().map_err(|e| to_js(env, &e)),
            None => Ok(false),
        }
    }
}

/// `sidecarGuard(lockPath, make)`: looks at the guard (taking over an abandoned one), and with
/// `make` makes it when nothing is there.
#[napi(js_name = "sidecarGuard")]
pub fn guard(env: &Env, lock_path: String, make: bool) -> Result<NativeReclaimGuard> {
    let step = sidecar::reclaim_guard(Path::new(&lock_path), make).map_err(|e| to_js(env, &e))?;
    let (state, wait_ms, guard) = match step {
        GuardStep::Free => ("free", 0.0, None),
        GuardStep::Taken(g) => ("taken", 0.0, Some(g)),
        GuardStep::Adopted(g) => ("adopted", 0.0, Some(g)),
        GuardStep::Held => ("held", 0.0, None),
        GuardStep::Young(left) => ("young", left.as_secs_f64() * 1000.0, None),
    };
    Ok(NativeReclaimGuard {
        state,
        wait_ms,
        guard,
    })
}
