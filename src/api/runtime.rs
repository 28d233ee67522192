//! The per-process state: identity, held table, lock service. One per process: a forked child
//! gets a fresh one and closes its inherited lock fds (docs/PROTOCOL.md, "Fork"), except the
//! one lock a child forked by [`forking_with`] is to pass on to the command it runs.

use crate::held::holds::Holds;
#[cfg(unix)]
use crate::held::table::{Held, Table};
use crate::rules::identity::ProcessIdentity;
use crate::service::Service;
#[cfg(unix)]
use std::cell::{Cell, RefCell};
#[cfg(unix)]
use std::os::fd::RawFd;
#[cfg(unix)]
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
#[cfg(unix)]
use std::sync::{MutexGuard, Once, RwLockWriteGuard};

pub struct Runtime {
    pub identity: ProcessIdentity,
    pub holds: Holds,
    service: OnceLock<Service>,
    /// One start at a time (per runtime, so a child forked mid-start can start its own).
    service_start: Mutex<()>,
}

static CURRENT: AtomicPtr<Runtime> = AtomicPtr::new(std::ptr::null_mut());
static INIT: Mutex<()> = Mutex::new(());
// Windows has no fork: nothing to prepare a child for.
#[cfg(unix)]
static AT_FORK: Once = Once::new();

/// The runtime of this process, created on first use.
pub fn runtime() -> &'static Runtime {
    let current = CURRENT.load(Ordering::Acquire);
    if !current.is_null() {
        // SAFETY: runtimes are leaked, never freed.
        return unsafe { &*current };
    }
    let _init = INIT.lock().unwrap_or_else(PoisonError::into_inner);
    let current = CURRENT.load(Ordering::Acquire);
    if !current.is_null() {
        // SAFETY: as above.
        return unsafe { &*current };
    }
    #[cfg(unix)]
    AT_FORK.call_once(|| {
        crate::sys::at_fork(before_fork, after_fork_in_parent, after_fork_in_child);
    });
    let fresh: &'static Runtime = Box::leak(Box::new(Runtime {
        identity: ProcessIdentity::current(),
        holds: Holds::new(),
        service: OnceLock::new(),
        service_start: Mutex::new(()),
    }));
    CURRENT.store(fresh as *const Runtime as *mut Runtime, Ordering::Release);
    fresh
}

impl Runtime {
    /// The lock service, started on first need. Fails (and can be tried again) when the
    /// system refuses what the service needs to run: a descriptor, a thread.
    pub fn service(&'static self) -> std::io::Result<&'static Service> {
        if let Some(service) = self.service.get() {
            return Ok(service);
        }
        let _starting = self
            .service_start
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(service) = self.service.get() {
            return Ok(service);
        }
        let service = Service::start(&self.identity, &self.holds)?;
        Ok(self.service.get_or_init(|| service))
    }

    pub fn service_if_started(&self) -> Option<&Service> {
        self.service.get()
    }
}

// Fork safety: the forking thread takes the init lock and the holds (no descriptor outside the
// table, then the table) before fork, so the child sees a consistent table it can empty, then
// a fresh runtime is made on its next call.
#[cfg(unix)]
type HoldsGuards = (RwLockWriteGuard<'static, ()>, MutexGuard<'static, Table>);
#[cfg(unix)]
type ForkGuards = (MutexGuard<'static, ()>, Option<HoldsGuards>);

#[cfg(unix)]
thread_local! {
    static FORK_GUARDS: RefCell<Option<ForkGuards>> = const { RefCell::new(None) };
    /// The hold (lock path, generation) whose descriptor this thread's fork leaves open in the
    /// child: set only while [`forking_with`] spawns.
    static HAND_OVER: Cell<Option<(PathBuf, u64)>> = const { Cell::new(None) };
    /// In a child forked by [`forking_with`]: that descriptor, if the hold was still ours.
    static HANDED: Cell<Option<RawFd>> = const { Cell::new(None) };
}

#[cfg(unix)]
/// Runs `spawn`, which forks once, so that the child keeps the descriptor of the hold
/// (`lock_path`, `generation`) open instead of closing it with the other lock descriptors.
pub fn forking_with<T>(lock_path: &Path, generation: u64, spawn: impl FnOnce() -> T) -> T {
    HAND_OVER.with(|h| h.set(Some((lock_path.to_path_buf(), generation))));
    let spawned = spawn();
    HAND_OVER.with(Cell::take);
    spawned
}

#[cfg(unix)]
/// In a child forked by [`forking_with`], before `exec`: lets the program inherit the kept
/// descriptor. `ENOLCK` if the hold had ended before the fork. Async-signal-safe.
pub fn pass_on_handed() -> std::io::Result<()> {
    match HANDED.with(Cell::get) {
        Some(fd) => crate::sys::inherit_across_exec(fd),
        None => Err(std::io::Error::from_raw_os_error(libc::ENOLCK)),
    }
}

#[cfg(unix)]
extern "C" fn before_fork() {
    let init = INIT.lock().unwrap_or_else(PoisonError::into_inner);
    let current = CURRENT.load(Ordering::Acquire);
    // SAFETY: runtimes are leaked, never freed.
    let holds = (!current.is_null()).then(|| unsafe { &*current }.holds.lock_for_fork());
    FORK_GUARDS.with(|g| *g.borrow_mut() = Some((init, holds)));
}

#[cfg(unix)]
extern "C" fn after_fork_in_parent() {
    FORK_GUARDS.with(|g| drop(g.borrow_mut().take()));
}

#[cfg(unix)]
extern "C" fn after_fork_in_child() {
    let Some((init, holds)) = FORK_GUARDS.with(|g| g.borrow_mut().take()) else {
        return;
    };
    let hand_over = HAND_OVER.with(Cell::take);
    if let Some((outside, mut table)) = holds {
        let handed = hand_over.and_then(|(path, generation)| table.take(&path, generation));
        HANDED.with(|h| h.set(handed.map(Held::into_raw_fd)));
        // Closing (not unlinking) our copies, after the mutex: the parent still holds these
        // locks.
        let copies = table.take_all();
        drop(table);
        drop(copies);
        drop(outside);
        let old = CURRENT.swap(std::ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: runtimes are leaked; the old one is never used again in this child.
        if let Some(service) = unsafe { &*old }.service_if_started() {
            service.close_fds_in_child();
        }
    }
    drop(init);
}
