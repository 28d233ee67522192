//! The handle a caller gets for a held lock: `(lock path, generation)`. Releasing it ends only
//! its own generation, so a handle outlived by a force-release can never free a newer lock.

use crate::api::runtime::runtime;
use crate::held::table::{Hold, ReleaseOutcome};
use crate::rules::verdict::StaleReason;
use crate::service::Service;
use crate::vocab::error::{Error, Holder};
#[cfg(unix)]
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
#[cfg(unix)]
use std::process::{Child, Command};

/// A held lock. Dropping it releases the lock, as [`LockGuard::release`] does.
#[derive(Debug)]
#[must_use = "the lock is released when the guard is dropped"]
pub struct LockGuard {
    lock_path: PathBuf,
    generation: u64,
    released: bool,
}

impl LockGuard {
    pub(crate) fn new(hold: Hold) -> LockGuard {
        let Hold {
            lock_path,
            generation,
        } = hold;
        LockGuard {
            lock_path,
            generation,
            released: false,
        }
    }

    /// The lock file (`<real dir of the session file>/<name>.lock`).
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    /// Which hold of this process this handle ends: each acquisition that creates or takes
    /// over the lock file starts a new generation; reentrant joins share it.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether this hold is still in force (not released, force-released or taken over).
    pub fn is_held(&self) -> bool {
        !self.released
            && (runtime().holds.table())
                .id_of(&self.lock_path, self.generation)
                .is_some()
    }

    /// `Ok` while this hold is in force and the lock path still leads to its file; otherwise
    /// [`Error::Stale`] with `lease-lost`: the hold was ended by force (watchdog, release-all,
    /// takeover) or released, or the file was removed or replaced by someone else.
    pub fn assert_owned(&self) -> Result<(), Error> {
        let rt = runtime();
        let id = if self.released {
            None
        } else {
            rt.holds.table().id_of(&self.lock_path, self.generation)
        };
        // The stat runs without the table's mutex: it is a system call.
        if id
            .is_some_and(|id| crate::files::fs::path_id(&self.lock_path).ok().flatten() == Some(id))
        {
            return Ok(());
        }
        Err(Error::Stale {
            lock_path: self.lock_path.clone(),
            holder: Box::new(Holder {
                description: format!("pid={} alive=true", rt.identity.pid),
                pid: Some(rt.identity.pid),
                pid_alive: true,
                here: None,
            }),
            reasons: vec![StaleReason::LeaseLost],
        })
    }

    #[cfg(unix)]
    /// Starts `command` holding this lock too, as util-linux `flock(1)` hands its lock to its
    /// command: the child inherits the lock file's descriptor, and with it the flock, so the
    /// lock stays held while the child (or a process it passes the descriptor on to) runs, even
    /// if this process is killed. No other child gets it (docs/PROTOCOL.md, "Fork").
    ///
    /// Releasing this guard still removes the lock file, and the lock is free at once for
    /// everyone: the child's copy then locks a file nobody looks at. The command is started
    /// with `fork` and `exec` (a `pre_exec` hook is added); the error is `spawn`'s, or
    /// `ENOLCK` if the hold ended (the watchdog) before the fork.
    pub fn spawn_holding(&self, mut command: Command) -> std::io::Result<Child> {
        // SAFETY: the hook only makes fcntl calls, which are async-signal-safe.
        unsafe { command.pre_exec(crate::api::runtime::pass_on_handed) };
        crate::api::runtime::forking_with(&self.lock_path, self.generation, || command.spawn())
    }

    /// Ends this hold now and says how (dropping the guard does the same, logging failures).
    ///
    /// An `Err` is the I/O error that kept the lock file from being removed (with its errno and
    /// path); the hold is over all the same: its flock is dropped, so the file left behind is
    /// reclaimed by the next acquire anywhere. `Compromised` is reported only when the path
    /// provably names another file or nothing.
    pub fn release(mut self) -> Result<ReleaseOutcome, Error> {
        self.release_once()
    }

    /// Ends the guard without releasing: the lock stays held until [`crate::release_all`], the
    /// max-hold watchdog or process exit. For bindings whose handles a garbage collector may
    /// drop at a moment nobody chose, while their writer may still be writing.
    pub fn keep_held(mut self) {
        self.released = true;
    }

    fn release_once(&mut self) -> Result<ReleaseOutcome, Error> {
        if std::mem::replace(&mut self.released, true) {
            return Ok(ReleaseOutcome::NotHeld);
        }
        let rt = runtime();
        let ended = rt.holds.release(&self.lock_path, self.generation);
        // This process's own waiters on the path look at once: where there are no file events
        // (the portable code, exhausted sources) they would otherwise wait for their next poll.
        let ended_now = !matches!(
            ended,
            Ok(ReleaseOutcome::StillHeld | ReleaseOutcome::NotHeld)
        );
        let waited_on = |service: &&Service| service.has_waiters(&self.lock_path);
        if let Some(service) = rt
            .service_if_started()
            .filter(|s| ended_now && waited_on(s))
        {
            service.recheck(self.lock_path.clone());
        }
        if let Ok(ReleaseOutcome::Compromised) = ended {
            crate::base::log::emit(&format!(
                "[session-write-lock] lock was compromised (removed or replaced by someone else); left their file alone: {}",
                self.lock_path.display()
            ));
        }
        ended
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Err(e) = self.release_once() {
            crate::base::log::emit(&format!("[session-write-lock] release failed: {e}"));
        }
    }
}
