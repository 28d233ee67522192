//! `acquire`: a held lock now, decided on the calling thread without a thread hop, or a promise
//! that the lock service settles when the wait ends. Nothing waits on a libuv pool thread.

use crate::args::Params;
use crate::errors::to_js;
use napi::bindgen_prelude::{Either, Object, Unknown};
use napi::{Env, Result};
use napi_derive::napi;
use session_write_lock::owner_argv::ArgvMatcher;
use session_write_lock::settings::Settings;
use session_write_lock::{
    begin_acquire_cancellable, end_owner, Acquisition, CancelToken, Error as LockError, HoldOwner,
    LockGuard, OptionName, Options, ReleaseOutcome, StaleReason,
};
use std::cell::Cell;
use std::path::Path;

/// One hold of a lock; the package wraps it in the handle callers see.
#[napi]
pub struct NativeLock {
    guard: Option<LockGuard>,
    lock_path: String,
    generation: f64,
}

#[napi]
impl NativeLock {
    /// The lock file.
    #[napi(getter)]
    pub fn lock_path(&self) -> String {
        self.lock_path.clone()
    }

    /// The hold's generation: nested handles share it; diagnostics key their stacks by it.
    #[napi(getter)]
    pub fn generation(&self) -> f64 {
        self.generation
    }

    /// Ends this hold and says how: `"released"`, `"still-held"` (nested holds remain),
    /// `"not-held"` (already ended: released, watchdog, release-all, takeover) or
    /// `"compromised"`. The core's guard only ever ends its own generation. A lock file that
    /// could not be removed throws an `Error` with `code` and `path` (the hold is over all the
    /// same: its flock is gone, so the file is reclaimable at once).
    #[napi]
    pub fn release(&mut self, env: &Env) -> Result<&'static str> {
        match self.guard.take().map(LockGuard::release) {
            Some(Ok(ReleaseOutcome::Released)) => Ok("released"),
            Some(Ok(ReleaseOutcome::StillHeld)) => Ok("still-held"),
            Some(Ok(ReleaseOutcome::Compromised)) => Ok("compromised"),
            Some(Ok(ReleaseOutcome::NotHeld)) | None => Ok("not-held"),
            Some(Err(e)) => Err(to_js(env, &e)),
        }
    }

    /// Throws the stale error with `lease-lost` when this hold is no longer in force.
    #[napi]
    pub fn assert_owned(&self, env: &Env) -> Result<()> {
        let Some(guard) = &self.guard else {
            return Err(to_js(env, &lease_lost(&self.lock_path)));
        };
        guard.assert_owned().map_err(|e| to_js(env, &e))
    }
}

/// `assert_owned` of a handle already released by its owner.
fn lease_lost(lock_path: &str) -> LockError {
    LockError::Stale {
        lock_path: lock_path.into(),
        holder: Box::new(session_write_lock::Holder {
            description: format!("pid={} alive=true", std::process::id()),
            pid: Some(std::process::id()),
            pid_alive: true,
            here: None,
        }),
        reasons: vec![StaleReason::LeaseLost],
    }
}

impl From<LockGuard> for NativeLock {
    fn from(guard: LockGuard) -> NativeLock {
        NativeLock {
            lock_path: guard.lock_path().to_string_lossy().into_owned(),
            generation: guard.generation() as f64,
            guard: Some(guard),
        }
    }
}

impl Drop for NativeLock {
    fn drop(&mut self) {
        // Garbage collection is not a release: as with the TypeScript module, a lock whose
        // handle was lost stays held until release-all, the watchdog or process exit, rather
        // than vanishing at a moment nobody chose while its writer may still be writing.
        if let Some(guard) = self.guard.take() {
            guard.keep_held();
        }
    }
}

/// Cancels a wait (the package's `AbortSignal` support): made before the acquire, cancelled
/// when the signal fires.
#[napi]
#[derive(Default)]
pub struct WaitCancel {
    token: CancelToken,
}

#[napi]
impl WaitCancel {
    /// A token not yet cancelled.
    #[napi(constructor)]
    pub fn new() -> WaitCancel {
        WaitCancel::default()
    }

    /// Gives up the wait: the acquire's promise rejects, and no lock is taken for it.
    #[napi]
    pub fn cancel(&self) {
        self.token.cancel();
    }
}

/// `acquire({ sessionFile, timeoutMs?, staleMs?, maxHoldMs?, allowReentrant?, reentrantOwner?,
/// owner? }, cancel?)`: a `NativeLock`, or a promise of one when the lock is busy and the
/// options allow waiting. Numbers are taken the gateway's lenient way, with the environment's
/// settings as defaults; live legacy holders are judged by the gateway's command-line rules.
#[napi]
pub fn acquire<'env>(
    env: &'env Env,
    params: Unknown<'env>,
    cancel: Option<&WaitCancel>,
) -> Result<Either<NativeLock, Object<'env>>> {
    let params = Params::new(env, params)?;
    let session_file = params.path(OptionName::SessionFile)?;
    let mut options = Settings::from_process_env().lenient_options(
        params.lenient_number(OptionName::TimeoutMs)?,
        params.lenient_number(OptionName::StaleMs)?,
        params.lenient_number(OptionName::MaxHoldMs)?,
    );
    options.allow_reentrant = params.boolean(OptionName::AllowReentrant)?.unwrap_or(false);
    options.reentrant_owner = params.string(OptionName::ReentrantOwner)?;
    options.owner = params.string(OptionName::Owner)?;
    options.owner_matcher = Some(ArgvMatcher::GATEWAY);
    options.hold_owner = owner_of(env)?;
    start(env, Path::new(&session_file), &options, cancel)
}

/// The lock of `path` now, or a promise the lock service settles when the wait ends.
pub fn start<'env>(
    env: &'env Env,
    path: &Path,
    options: &Options,
    cancel: Option<&WaitCancel>,
) -> Result<Either<NativeLock, Object<'env>>> {
    let token = cancel.map(|c| c.token.clone());
    let mut promise = None;
    let acquisition = begin_acquire_cancellable(path, options, token, || {
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
        Acquisition::Waiting => match promise {
            Some(created) => created.map(Either::B),
            None => Err(napi::Error::from_reason(
                "session-write-lock: the wait was not set up",
            )),
        },
    }
}

thread_local! {
    /// The owner of this thread's JavaScript environment (Node runs one per thread: the main
    /// thread's, or one worker's), made on its first acquire.
    // Clippy 1.96 asks for the `const` this already has when std keeps thread locals in OS
    // keys (windows-gnu): a false positive.
    #[allow(clippy::missing_const_for_thread_local)]
    static OWNER: Cell<Option<HoldOwner>> = const { Cell::new(None) };
}

/// The hold owner of `env`. The first time, an env cleanup hook is added that releases that
/// owner's holds (only those, without rotating the nonce) when the environment ends: a worker
/// thread that ends naturally, calls `process.exit()` or is terminated.
pub fn owner_of(env: &Env) -> Result<HoldOwner> {
    if let Some(owner) = OWNER.get() {
        return Ok(owner);
    }
    let owner = HoldOwner::unique();
    env.add_env_cleanup_hook(owner, |owner| {
        // A Cell without a destructor: never torn down before the thread's end.
        let _ = OWNER.try_with(|slot| slot.set(None));
        end_owner(owner);
    })?;
    OWNER.set(Some(owner));
    Ok(owner)
}
