//! The lock service (see `docs/PROTOCOL.md`, "Waiting" and "Holding"): one background thread
//! per process that waits on behalf of callers — woken by the events that can change the
//! answer for a lock path, and by one timer per path for the rules only time changes — and
//! refreshes held locks' heartbeat, checks them for compromise and runs the max-hold watchdog.

mod event_loop;
mod holds;
mod settings;
mod timers;
mod waiting;

use crate::acquire::CancelToken;
use crate::error::{Error, Holder};
use crate::guard::LockGuard;
use crate::options::Options;
use crate::runtime::Runtime;
use crate::sys::{Poller, Waker};
use event_loop::Loop;
use settings::Settings;
use std::io;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

pub type Callback = Box<dyn FnOnce(Result<LockGuard, Error>) + Send>;

pub struct Waiter {
    pub lock_path: PathBuf,
    pub options: Options,
    pub deadline: Option<Instant>,
    pub callback: Callback,
    pub holder: Box<Holder>,
    /// Set by the caller to give up the wait (Node's `AbortSignal`).
    pub cancel: Option<CancelToken>,
}

enum Command {
    Wait(Box<Waiter>),
    /// Look at a path's waiters again (one of them was cancelled).
    Recheck(PathBuf),
    /// A hold with an earlier max-hold deadline than any timer armed so far.
    Watchdog(Instant),
}

/// What callers hand to the service thread, and how they wake it. Shared by the handle and
/// the loop, which owns everything else.
struct Inbox {
    commands: Mutex<Vec<Command>>,
    waker: Waker,
}

impl Inbox {
    fn take(&self) -> Vec<Command> {
        std::mem::take(&mut *self.commands.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The handle to the service thread.
pub struct Service {
    inbox: Arc<Inbox>,
    /// The poller's own descriptors, for a forked child to close.
    fds: Vec<RawFd>,
}

/// How often the thread start is tried again when it is interrupted.
const SPAWN_TRIES: usize = 8;

impl Service {
    /// Starts the service thread. Fails when it cannot wait at all (no descriptor for the
    /// poller, no thread); without file events (inotify refused or switched off) it runs and
    /// waiters poll with backoff, which is logged once.
    pub fn start(rt: &'static Runtime) -> io::Result<Service> {
        let settings = Settings::from_env();
        let (poller, no_events) = Poller::new(settings.sources)?;
        if let Some(why) = no_events {
            crate::log::emit(&format!(
                "[session-write-lock] {why}; waiters poll their lock files (every 10 to 250 ms)"
            ));
        }
        let inbox = Arc::new(Inbox {
            commands: Mutex::new(Vec::new()),
            waker: poller.waker(),
        });
        let fds = poller.fixed_fds();
        let mut event_loop = Some(Loop::new(rt, Arc::clone(&inbox), poller, settings));
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
                Ok(_) => return Ok(Service { inbox, fds }),
                Err(e) if e.kind() == io::ErrorKind::Interrupted && tries < SPAWN_TRIES => {
                    event_loop = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub fn wait(&self, waiter: Waiter) {
        self.send(Command::Wait(Box::new(waiter)));
    }

    /// Asks the service to look at the waiters of `lock_path` again.
    pub fn recheck(&self, lock_path: PathBuf) {
        self.send(Command::Recheck(lock_path));
    }

    pub fn watchdog_at(&self, at: Instant) {
        self.send(Command::Watchdog(at));
    }

    fn send(&self, command: Command) {
        self.inbox
            .commands
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(command);
        self.inbox.waker.wake();
    }

    /// In a forked child the thread is gone; its descriptors must not linger.
    pub fn close_fds_in_child(&self) {
        for &fd in &self.fds {
            // SAFETY: the child never uses this service again.
            unsafe { libc::close(fd) };
        }
    }
}
