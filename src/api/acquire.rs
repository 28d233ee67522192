//! The public way in: acquire (blocking or with a callback), release-all and the nonce.

use crate::api::guard::LockGuard;
use crate::api::runtime::runtime;
use crate::attempt::take::{take, Taken};
pub use crate::base::cancel::CancelToken;
use crate::files::fs::resolve_lock_path;
use crate::service::{self, Waiter};
use crate::vocab::error::{Error, Holder};
use crate::vocab::held_lock::HeldLock;
use crate::vocab::options::Options;
use crate::vocab::owner::HoldOwner;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// The result of [`begin_acquire`].
pub enum Acquisition {
    /// Decided at once, on the calling thread.
    Ready(Result<LockGuard, Error>),
    /// The lock was busy: the callback made by `on_wait` will receive the result on the lock
    /// service's thread.
    Waiting,
}

/// Takes the lock of `session_file`, waiting up to `options.timeout` (blocking this thread).
pub fn acquire(session_file: impl AsRef<Path>, options: &Options) -> Result<LockGuard, Error> {
    acquire_cancellable(session_file, options, None)
}

/// [`acquire`] whose wait `cancel` can end from another thread ([`Error::Cancelled`]).
pub fn acquire_cancellable(
    session_file: impl AsRef<Path>,
    options: &Options,
    cancel: Option<CancelToken>,
) -> Result<LockGuard, Error> {
    let mut receiver = None;
    let ready = begin_acquire_cancellable(session_file.as_ref(), options, cancel, || {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        receiver = Some(rx);
        move |result| {
            let _ = tx.send(result);
        }
    });
    match ready {
        Acquisition::Ready(result) => result,
        // `Waiting` comes only after `on_wait` ran, and the service answers every waiter; a
        // missing answer (a service gone) is an error, not a panic.
        Acquisition::Waiting => match receiver.map(|rx| rx.recv()) {
            Some(Ok(result)) => result,
            _ => Err(Error::io(
                "wait for the lock service",
                session_file.as_ref(),
                std::io::Error::other("the lock service ended without an answer"),
            )),
        },
    }
}

/// Tries once on the calling thread; if the lock is busy and the options allow waiting, calls
/// `on_wait` (on this thread) for a callback and hands the wait to the lock service, which
/// never blocks the caller's threads. This is what the Node binding builds its promises on.
pub fn begin_acquire<F, C>(session_file: &Path, options: &Options, on_wait: F) -> Acquisition
where
    F: FnOnce() -> C,
    C: FnOnce(Result<LockGuard, Error>) + Send + 'static,
{
    begin_acquire_cancellable(session_file, options, None, on_wait)
}

/// [`begin_acquire`] whose wait `cancel` can end.
pub fn begin_acquire_cancellable<F, C>(
    session_file: &Path,
    options: &Options,
    cancel: Option<CancelToken>,
    on_wait: F,
) -> Acquisition
where
    F: FnOnce() -> C,
    C: FnOnce(Result<LockGuard, Error>) + Send + 'static,
{
    let started = Instant::now();
    let lock_path = match lock_path_in(session_file, true) {
        Ok(path) => path,
        Err(e) => return Acquisition::Ready(Err(e)),
    };
    let rt = runtime();
    // Before any lock file exists: a service that cannot start leaves nothing behind.
    let service = match rt.service() {
        Ok(service) => service,
        Err(e) => {
            return Acquisition::Ready(Err(Error::io("start the lock service", &lock_path, e)))
        }
    };
    let behind_waiters = options.timeout != Some(Duration::ZERO) && service.has_waiters(&lock_path);
    let (holder, seen) = match take(&rt.identity, &rt.holds, &lock_path, options, behind_waiters) {
        Ok(Taken::Held { hold, watchdog_at }) => {
            if let Some(at) = watchdog_at {
                service.watchdog_at(at);
            }
            return Acquisition::Ready(Ok(LockGuard::new(hold)));
        }
        Ok(Taken::Busy { holder, seen }) => (holder, seen),
        Err(e) => return Acquisition::Ready(Err(e)),
    };
    if options.timeout == Some(Duration::ZERO) {
        return Acquisition::Ready(Err(busy(lock_path, holder, options)));
    }
    crate::base::stats::count_wait();
    let callback = on_wait();
    service.wait(Waiter {
        deadline: options.timeout.map(|t| started + t),
        lock_path,
        options: options.clone(),
        callback: Box::new(move |result| callback(result.map(LockGuard::new))),
        holder,
        seen,
        cancel,
    });
    Acquisition::Waiting
}

fn busy(lock_path: PathBuf, holder: Box<Holder>, options: &Options) -> Error {
    Error::Busy {
        lock_path,
        holder,
        timeout: options.timeout,
    }
}

/// Runs the max-hold watchdog now as if the clock read `now` (a test hook of the gateway's
/// module: `runLockWatchdogCheck(nowMs)`): ends and logs every hold past its deadline at that
/// time; returns how many.
pub fn run_watchdog_check(now: SystemTime) -> usize {
    let shift = now
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    let at = Instant::now() + shift;
    let (overdue, _) = runtime().holds.expire_overdue(at);
    overdue.len()
}

/// A test hook (docs/PROTOCOL.md, "Test hooks"): `false` stops the lock service from ending
/// holds past their max-hold by itself, as the gateway's module runs no watchdog under its test
/// runner; [`run_watchdog_check`] still ends them. `true`, the default, ends at once what is
/// overdue by then.
#[doc(hidden)]
pub fn set_background_watchdog(on: bool) {
    let changed = service::set_background_watchdog(on);
    if let Some(service) = runtime().service_if_started().filter(|_| on && changed) {
        service.watchdog_at(Instant::now());
    }
}

/// Every hold of this process (docs/PROTOCOL.md, "Diagnostics"), oldest first.
pub fn held_locks() -> Vec<HeldLock> {
    let mut held = runtime().holds.table().describe_all();
    held.sort_by_key(|h| std::cmp::Reverse(h.age));
    held
}

/// Releases every lock this process holds, of every owner, then rotates the instance nonce:
/// the in-process restart (docs/PROTOCOL.md). Returns how many locks were released; a lock
/// file that could not be removed is logged (its flock is dropped all the same). Idempotent;
/// safe in exit handlers.
pub fn release_all() -> usize {
    let ended = runtime().holds.release_all();
    log_failures(ended)
}

/// Releases every hold of every owner without rotating the nonce: what process exit and the
/// signal cleanup do. Returns how many locks were released; failures are logged.
pub fn release_every_hold() -> usize {
    let ended = runtime().holds.release_every_hold();
    log_failures(ended)
}

/// Releases the holds of an owner that is gone (a Node worker that ended), and refuses its
/// later acquires (a wait still under way ends in an error). Other owners' holds and the nonce
/// stay. Returns how many locks were released; failures are logged.
pub fn end_owner(owner: HoldOwner) -> usize {
    let ended = runtime().holds.end_owner(owner);
    log_failures(ended)
}

/// Logs, outside the table's mutex, the lock files a release-all could not remove.
fn log_failures((released, errors): (usize, Vec<Error>)) -> usize {
    for e in errors {
        crate::base::log::emit(&format!("[session-write-lock] release failed: {e}"));
    }
    released
}

/// Rotates the instance nonce and returns the new one. Locks still held keep the old nonce on
/// disk; the next acquire of such a path in this process takes it over at once.
pub fn reset_instance_nonce() -> String {
    runtime().holds.table().rotate_nonce()
}

/// The current instance nonce (32 lowercase hex digits).
pub fn instance_nonce() -> String {
    runtime().holds.table().nonce().to_owned()
}

/// The lock path, its directory created first with `create_dir`; a missing one is `ENOENT`.
fn lock_path_in(file: &Path, create_dir: bool) -> Result<PathBuf, Error> {
    match resolve_lock_path(file, create_dir)? {
        Some(path) => Ok(path),
        None => Err(Error::io(
            "resolve directory",
            file,
            std::io::Error::from_raw_os_error(libc::ENOENT),
        )),
    }
}
