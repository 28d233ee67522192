//! The lock service (see `docs/PROTOCOL.md`, "Waiting" and "Holding"): one background thread
//! per process that waits on behalf of callers — woken by the events that can change the
//! answer for a lock path, and by one timer per path for the rules only time changes — and
//! refreshes held locks' heartbeat, checks them for compromise and runs the max-hold watchdog.

mod cadence;
mod event_loop;
mod inbox;
mod queue;
mod timers;
mod upkeep;
mod waiter;
mod waiting;

use crate::held::holds::Holds;
use crate::rules::identity::ProcessIdentity;
use crate::sys::Poller;
use cadence::Cadence;
use event_loop::Loop;
use inbox::{Command, Inbox};
use std::io;
#[cfg(unix)]
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
pub use upkeep::set_background_watchdog;
pub use waiter::Waiter;

/// The handle to the service thread.
pub struct Service {
    inbox: Arc<Inbox>,
    /// The poller's own descriptors, for a forked child to close.
    #[cfg(unix)]
    fds: Vec<RawFd>,
}

/// How often the thread start is tried again when it is interrupted.
const SPAWN_TRIES: usize = 8;

impl Service {
    /// Starts the service thread. Fails when it cannot wait at all (no descriptor for the
    /// poller, no thread); without file events (inotify refused or switched off) it runs and
    /// waiters poll with backoff, which is logged once.
    pub fn start(identity: &'static ProcessIdentity, holds: &'static Holds) -> io::Result<Service> {
        let cadence = Cadence::from_env();
        let (poller, no_events) = Poller::new(cadence.sources)?;
        if let Some(why) = no_events {
            crate::base::log::emit(&format!(
                "[session-write-lock] {why}; waiters poll their lock files (every 10 to 250 ms)"
            ));
        }
        let inbox = Arc::new(Inbox::new(poller.waker()));
        #[cfg(unix)]
        let fds = poller.fixed_fds();
        let mut event_loop = Some(Loop::new(
            identity,
            holds,
            Arc::clone(&inbox),
            poller,
            cadence,
        ));
        let mut tries = 0;
        loop {
            tries += 1;
            let Some(body) = event_loop.take() else {
                return Err(io::Error::other("lock service state lost"));
            };
            // The closure is handed back on failure only through a shared slot.
            let slot = Arc::new(Mutex::new(Some(body)));
            let theirs = Arc::clone(&slot);
            let spawned = std::thread::Builder::new()
                .name("session-write-lock".into())
                .spawn(move || {
                    let body = theirs.lock().unwrap_or_else(PoisonError::into_inner).take();
                    if let Some(body) = body {
                        body.run();
                    }
                });
            match spawned {
                Ok(_) => {
                    return Ok(Service {
                        inbox,
                        #[cfg(unix)]
                        fds,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted && tries < SPAWN_TRIES => {
                    event_loop = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Hands a wait to the service; a cancel of its token wakes the service to look at it.
    pub fn wait(&self, waiter: Waiter) {
        if let Some(token) = &waiter.cancel {
            let (inbox, lock_path) = (Arc::clone(&self.inbox), waiter.lock_path.clone());
            token.on_cancel(move || inbox.send(Command::Recheck(lock_path)));
        }
        self.inbox.send(Command::Wait(Box::new(waiter)));
    }

    /// Whether waits for `lock_path` are queued in this process (a fresh acquire queues
    /// behind them).
    pub fn has_waiters(&self, lock_path: &Path) -> bool {
        self.inbox.has_waiters(lock_path)
    }

    /// Asks the service to look at the waiters of `lock_path` again.
    pub fn recheck(&self, lock_path: PathBuf) {
        self.inbox.send(Command::Recheck(lock_path));
    }

    pub fn watchdog_at(&self, at: Instant) {
        self.inbox.send(Command::Watchdog(at));
    }

    #[cfg(unix)]
    /// In a forked child the thread is gone; its descriptors must not linger.
    pub fn close_fds_in_child(&self) {
        for &fd in &self.fds {
            // The child never uses this service again.
            crate::sys::close(fd);
        }
    }
}
