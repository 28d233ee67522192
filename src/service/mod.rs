//! The lock service (DESIGN §4): one background thread per process that waits on behalf of
//! callers (woken by inotify, re-inspecting every tick), refreshes held locks' heartbeat,
//! checks them for compromise and runs the max-hold watchdog at per-lock deadlines.

mod inotify;
mod timers;

use crate::acquire::CancelToken;
use crate::attempt::{attempt, Attempt};
use crate::error::{Error, Holder};
use crate::fs;
use crate::guard::LockGuard;
use crate::maps::{Map, Set};
use crate::options::Options;
use crate::runtime::Runtime;
use inotify::{Event, Inotify};
use std::collections::VecDeque;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use timers::{Timer, Timers};

/// Waiters re-inspect at least this often, so a dead holder is noticed within two ticks.
pub const TICK: Duration = Duration::from_millis(20);
/// Held locks' mtime is refreshed (and their path checked) this often, unless the
/// `SESSION_WRITE_LOCK_HEARTBEAT_MS` environment variable says otherwise when the service starts.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(10);

fn heartbeat_interval() -> Duration {
    std::env::var("SESSION_WRITE_LOCK_HEARTBEAT_MS")
        .ok()
        .and_then(|ms| ms.parse::<u64>().ok())
        .filter(|&ms| ms > 0)
        .map_or(DEFAULT_HEARTBEAT, Duration::from_millis)
}

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

pub struct Service {
    inbox: Mutex<Vec<Command>>,
    wake_fd: RawFd,
    inotify_fd: RawFd,
}

impl Service {
    // Made fallible by the event-driven service rewrite (issue 10); until then allowed here.
    #[allow(clippy::expect_used)]
    pub fn start(rt: &'static Runtime) -> Service {
        // SAFETY: plain syscall; the fd lives as long as the process's service.
        let wake_fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        assert!(
            wake_fd >= 0,
            "eventfd failed: {}",
            std::io::Error::last_os_error()
        );
        let inotify = match Inotify::new() {
            Ok(i) => Some(i),
            Err(e) => {
                crate::log::emit(&format!(
                    "[session-write-lock] inotify unavailable ({e}); waiters poll every {}ms",
                    TICK.as_millis()
                ));
                None
            }
        };
        let inotify_fd = inotify.as_ref().map_or(-1, Inotify::fd);
        std::thread::Builder::new()
            .name("session-write-lock".into())
            .spawn(move || Loop::new(rt, wake_fd, inotify).run())
            .expect("spawn the lock service thread");
        Service {
            inbox: Mutex::new(Vec::new()),
            wake_fd,
            inotify_fd,
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
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(command);
        let one: u64 = 1;
        // SAFETY: writing 8 bytes to our eventfd; a full counter (EAGAIN) still means "wake".
        unsafe { libc::write(self.wake_fd, (&one as *const u64).cast(), 8) };
    }

    fn take_inbox(&self) -> Vec<Command> {
        std::mem::take(&mut *self.inbox.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// In a forked child the thread is gone; its descriptors must not linger.
    pub fn close_fds_in_child(&self) {
        // SAFETY: the child never uses this service again.
        unsafe {
            libc::close(self.wake_fd);
            if self.inotify_fd >= 0 {
                libc::close(self.inotify_fd);
            }
        }
    }
}

struct Queue {
    dir: PathBuf,
    waiters: VecDeque<(u64, Waiter)>,
    next_tick: Instant,
}

struct Loop {
    rt: &'static Runtime,
    wake_fd: RawFd,
    inotify: Option<Inotify>,
    queues: Map<PathBuf, Queue>,
    timers: Timers,
    heartbeat: Duration,
    next_waiter_id: u64,
}

impl Loop {
    fn new(rt: &'static Runtime, wake_fd: RawFd, inotify: Option<Inotify>) -> Loop {
        let heartbeat = heartbeat_interval();
        let mut timers = Timers::default();
        timers.push(Instant::now() + heartbeat, Timer::Heartbeat);
        Loop {
            rt,
            wake_fd,
            inotify,
            queues: Map::default(),
            timers,
            heartbeat,
            next_waiter_id: 0,
        }
    }

    fn run(mut self) {
        loop {
            let (woken, changed) = self.poll();
            if woken {
                let mut drained = 0u64;
                // SAFETY: reading the 8-byte counter of our eventfd.
                unsafe { libc::read(self.wake_fd, (&mut drained as *mut u64).cast(), 8) };
                for command in self.rt.service().take_inbox() {
                    self.handle(command);
                }
            }
            if changed {
                self.handle_fs_events();
            }
            while let Some(timer) = self.timers.pop_due(Instant::now()) {
                self.fire(timer);
            }
        }
    }

    /// Sleeps until a command, a filesystem event or the next timer. Returns (woken, changed).
    fn poll(&self) -> (bool, bool) {
        let mut fds = [
            libc::pollfd {
                fd: self.wake_fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.inotify.as_ref().map_or(-1, Inotify::fd),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let timeout = self.timers.next_at().map(|at| {
            let d = at.saturating_duration_since(Instant::now());
            libc::timespec {
                tv_sec: d.as_secs() as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            }
        });
        let timeout_ptr = timeout
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: two valid pollfds (a negative fd is ignored by the kernel) and an optional timeout.
        let n = unsafe { libc::ppoll(fds.as_mut_ptr(), 2, timeout_ptr, std::ptr::null()) };
        if n <= 0 {
            return (false, false);
        }
        (fds[0].revents != 0, fds[1].revents != 0)
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Wait(waiter) => {
                let waiter = *waiter;
                let id = self.next_waiter_id;
                self.next_waiter_id += 1;
                let lock_path = waiter.lock_path.clone();
                if let Some(deadline) = waiter.deadline {
                    self.timers
                        .push(deadline, Timer::Deadline(lock_path.clone(), id));
                }
                let now = Instant::now();
                let dir = lock_path.parent().unwrap_or(Path::new("/")).to_path_buf();
                if !self.queues.contains_key(&lock_path) {
                    if let Some(inotify) = &mut self.inotify {
                        inotify.watch(&dir);
                    }
                    self.timers.push(now + TICK, Timer::Tick(lock_path.clone()));
                }
                let queue = self
                    .queues
                    .entry(lock_path.clone())
                    .or_insert_with(|| Queue {
                        dir,
                        waiters: VecDeque::new(),
                        next_tick: now + TICK,
                    });
                queue.waiters.push_back((id, waiter));
                // The holder may have let go between the caller's try and the watch: look now.
                self.serve(&lock_path);
            }
            Command::Recheck(lock_path) => self.serve(&lock_path),
            Command::Watchdog(at) => self.timers.push(at, Timer::Watchdog),
        }
    }

    fn handle_fs_events(&mut self) {
        let Some(inotify) = &mut self.inotify else {
            return;
        };
        let mut to_serve = Set::default();
        for event in inotify.read_events() {
            match event {
                Event::Removed { dir, name } => {
                    let path = dir.join(name);
                    if self.queues.contains_key(&path) {
                        to_serve.insert(path);
                    }
                }
                Event::DirGone(dir) => to_serve.extend(
                    self.queues
                        .iter()
                        .filter(|(_, q)| q.dir == dir)
                        .map(|(p, _)| p.clone()),
                ),
                Event::Overflow => to_serve.extend(self.queues.keys().cloned()),
            }
        }
        for path in to_serve {
            crate::stats::count_event_wakeup();
            self.serve(&path);
        }
    }

    fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::Tick(path) => {
                let Some(queue) = self.queues.get(&path) else {
                    return;
                };
                if queue.next_tick > Instant::now() {
                    return;
                }
                crate::stats::count_timer_reinspection();
                self.serve(&path);
                if let Some(queue) = self.queues.get_mut(&path) {
                    queue.next_tick = Instant::now() + TICK;
                    self.timers.push(queue.next_tick, Timer::Tick(path));
                }
            }
            Timer::Deadline(path, id) => self.expire(&path, id),
            Timer::Watchdog => self.watchdog(),
            Timer::Heartbeat => {
                self.heartbeat();
                self.timers
                    .push(Instant::now() + self.heartbeat, Timer::Heartbeat);
            }
        }
    }

    /// Tries the waiters of one lock path in arrival order until one finds it busy.
    fn serve(&mut self, lock_path: &Path) {
        loop {
            let Some(queue) = self.queues.get_mut(lock_path) else {
                return;
            };
            let Some((_, head)) = queue.waiters.front_mut() else {
                break;
            };
            if head.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
                let lock_path_buf = lock_path.to_path_buf();
                self.finish_head(
                    lock_path,
                    Err(Error::Cancelled {
                        lock_path: lock_path_buf,
                    }),
                );
                continue;
            }
            match attempt(self.rt, lock_path, &head.options, true) {
                Ok(Attempt::Busy { holder }) => {
                    head.holder = holder;
                    break;
                }
                Ok(Attempt::Acquired(guard)) => self.finish_head(lock_path, Ok(guard)),
                Err(e) => self.finish_head(lock_path, Err(e)),
            }
        }
        self.drop_queue_if_empty(lock_path);
    }

    fn finish_head(&mut self, lock_path: &Path, result: Result<LockGuard, Error>) {
        if let Some((_, waiter)) = self
            .queues
            .get_mut(lock_path)
            .and_then(|q| q.waiters.pop_front())
        {
            self.finish(waiter, result);
        }
    }

    fn finish(&mut self, waiter: Waiter, result: Result<LockGuard, Error>) {
        self.rt.table().remove_waiter(&waiter.lock_path);
        let callback = waiter.callback;
        // A panicking callback must not stop the service for everyone else.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || callback(result))).is_err()
        {
            crate::log::emit(
                "[session-write-lock] a lock callback panicked; the lock service carries on",
            );
        }
    }

    fn expire(&mut self, lock_path: &Path, id: u64) {
        let is_waiting = |q: &Queue| q.waiters.iter().any(|(i, _)| *i == id);
        if !self.queues.get(lock_path).is_some_and(is_waiting) {
            return;
        }
        self.serve(lock_path); // one last look before giving up
        let Some(queue) = self.queues.get_mut(lock_path) else {
            return;
        };
        let Some(pos) = queue.waiters.iter().position(|(i, _)| *i == id) else {
            return;
        };
        let Some((_, waiter)) = queue.waiters.remove(pos) else {
            return;
        };
        let error = Error::Busy {
            lock_path: lock_path.to_path_buf(),
            holder: waiter.holder.clone(),
            timeout: waiter.options.timeout,
        };
        self.finish(waiter, Err(error));
        if pos == 0 {
            self.serve(lock_path); // the next waiter may have other options
        }
        self.drop_queue_if_empty(lock_path);
    }

    fn drop_queue_if_empty(&mut self, lock_path: &Path) {
        let Some(queue) = self.queues.get(lock_path) else {
            return;
        };
        if !queue.waiters.is_empty() {
            return;
        }
        let dir = queue.dir.clone();
        self.queues.remove(lock_path);
        if !self.queues.values().any(|q| q.dir == dir) {
            if let Some(inotify) = &mut self.inotify {
                inotify.unwatch(&dir);
            }
        }
    }

    fn watchdog(&mut self) {
        let (overdue, next) = self.rt.table().expire_overdue(Instant::now());
        if let Some(next) = next {
            self.timers.push(next, Timer::Watchdog);
        }
        crate::table::log_overdue(&overdue);
    }

    fn heartbeat(&mut self) {
        let mut compromised = Vec::new();
        {
            let mut table = self.rt.table();
            for (path, held) in table.entries.iter_mut() {
                let _ = fs::touch(&held.file);
                if !held.compromised && fs::path_id(path).is_ok_and(|id| id != Some(held.id)) {
                    held.compromised = true;
                    compromised.push(path.clone());
                }
            }
        }
        for path in compromised {
            crate::log::emit(&format!(
                "[session-write-lock] lock compromised: the lock file was removed or replaced by someone else: {}",
                path.display()
            ));
        }
    }
}
