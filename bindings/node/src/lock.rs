//! `acquire`: a held lock now, decided on the calling thread without a thread hop, or a promise
//! that the lock service settles when the wait ends. Nothing waits on a libuv pool thread.

use crate::args::Params;
use crate::errors::to_js;
use napi::bindgen_prelude::{Either, Object, Unknown};
use napi::{Env, Result};
use napi_derive::napi;
use session_write_lock::{begin_acquire, Acquisition, Error as LockError, LockGuard, Options};
use std::path::Path;

/// One hold of a lock; the package wraps it in the handle callers see.
#[napi]
pub struct NativeLock {
    guard: Option<LockGuard>,
    lock_path: String,
}

#[napi]
impl NativeLock {
    #[napi(getter)]
    pub fn lock_path(&self) -> String {
        self.lock_path.clone()
    }

    /// Ends this hold. Later calls, and calls after a force-release (watchdog, release-all,
    /// nonce takeover), do nothing: the core's guard only ever ends its own generation.
    #[napi]
    pub fn release(&mut self) {
        if let Some(guard) = self.guard.take() {
            // A compromised lock is reported through the log hook by the core.
            let _ = guard.release();
        }
    }
}

impl From<LockGuard> for NativeLock {
    fn from(guard: LockGuard) -> NativeLock {
        NativeLock {
            lock_path: guard.lock_path().to_string_lossy().into_owned(),
            guard: Some(guard),
        }
    }
}

impl Drop for NativeLock {
    fn drop(&mut self) {
        // Garbage collection is not a release: as with the TypeScript module, a lock whose
        // handle was lost stays held until release-all, the watchdog or process exit, rather
        // than vanishing at a moment nobody chose while its writer may still be writing.
        std::mem::forget(self.guard.take());
    }
}

/// `acquire({ sessionFile, timeoutMs?, staleMs?, maxHoldMs?, allowReentrant? })`: a
/// `NativeLock`, or a promise of one when the lock is busy and the options allow waiting.
#[napi]
pub fn acquire<'env>(
    env: &'env Env,
    params: Unknown<'env>,
) -> Result<Either<NativeLock, Object<'env>>> {
    let params = Params::new(env, params)?;
    let session_file = params.path("sessionFile")?;
    let options = Options::from_millis(
        params.number("timeoutMs")?,
        params.number("staleMs")?,
        params.number("maxHoldMs")?,
        params.boolean("allowReentrant")?,
    )
    .map_err(|e| to_js(env, &e))?;
    let mut promise = None;
    let acquisition = begin_acquire(Path::new(&session_file), &options, || {
        // Only a wait gets a promise: a lock taken at once is returned as it is.
        let deferred = match env.create_deferred() {
            Ok((deferred, created)) => {
                promise = Some(Ok(created));
                Some(deferred)
            }
            Err(e) => {
                promise = Some(Err(e));
                None
            }
        };
        // Runs on the lock service's thread; the deferred hands the result to the JS thread.
        // Without a deferred the guard is dropped here, which releases the lock again.
        move |result: std::result::Result<LockGuard, LockError>| {
            if let Some(deferred) = deferred {
                deferred.resolve(move |env: Env| {
                    result.map(NativeLock::from).map_err(|e| to_js(&env, &e))
                });
            }
        }
    });
    match acquisition {
        Acquisition::Ready(result) => result
            .map(|guard| Either::A(NativeLock::from(guard)))
            .map_err(|e| to_js(env, &e)),
        Acquisition::Waiting => promise
            .expect("begin_acquire calls on_wait before it answers Waiting")
            .map(Either::B),
    }
}
