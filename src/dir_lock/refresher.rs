//! The native thread that keeps held lock directories' mtimes fresh (docs/PROTOCOL.md,
//! "proper-lockfile's lock"): proper-lockfile's waiters judge a directory by its mtime alone, so
//! each is touched every `update` whatever the JavaScript event loop is doing. Each round also
//! checks that the path still names our directory, and says so once it does not.
//!
//! One thread serves every hold of the process, started with the first: a release only takes
//! its hold off the list, and never waits for a thread to be scheduled (on a loaded machine, a
//! thread per hold made every release wait milliseconds for its thread's exit).

use crate::files::by_path::lstat_id;
use crate::files::fs::FileId;
use crate::sys::touch;
use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// One hold's place on the refresher's list; taken off by [`Refresher::stop`] or on drop.
#[derive(Debug)]
pub struct Refresher {
    hold: Arc<Hold>,
}

#[derive(Debug)]
struct Hold {
    dir: Arc<File>,
    path: PathBuf,
    id: FileId,
    every: Duration,
    lost: AtomicBool,
}

#[derive(Default)]
struct Service {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    /// Each hold with when it is due next.
    holds: Vec<(Arc<Hold>, Instant)>,
    started: bool,
}

fn service() -> &'static Service {
    static SERVICE: OnceLock<Service> = OnceLock::new();
    SERVICE.get_or_init(Service::default)
}

fn lock(service: &Service) -> MutexGuard<'_, State> {
    service.state.lock().unwrap_or_else(|e| e.into_inner())
}

impl Refresher {
    /// Touches `dir` every `every` from now on; `id` is its identity at `path`.
    pub fn start(
        dir: Arc<File>,
        path: PathBuf,
        id: FileId,
        every: Duration,
    ) -> io::Result<Refresher> {
        // Never a busy loop, whatever the caller asked.
        let every = every.max(Duration::from_millis(1));
        let hold = Arc::new(Hold {
            dir,
            path,
            id,
            every,
            lost: AtomicBool::new(false),
        });
        let service = service();
        let mut state = lock(service);
        if !state.started {
            std::thread::Builder::new()
                .name("swl-dir-lock-refresh".into())
                .spawn(move || run(service))?;
            state.started = true;
        }
        state
            .holds
            .push((Arc::clone(&hold), Instant::now() + every));
        service.wake.notify_all();
        Ok(Refresher { hold })
    }

    /// Whether the path stopped naming our directory (removed or replaced by someone).
    pub fn lost(&self) -> bool {
        self.hold.lost.load(Ordering::Acquire)
    }

    /// Takes the hold off the list: no touch happens after this returns (touches are made with
    /// the list locked).
    pub fn stop(&mut self) {
        lock(service())
            .holds
            .retain(|(hold, _)| !Arc::ptr_eq(hold, &self.hold));
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(service: &Service) {
    let mut state = lock(service);
    loop {
        let now = Instant::now();
        for (hold, due) in state.holds.iter_mut().filter(|(_, due)| *due <= now) {
            refresh(hold);
            *due = now + hold.every;
        }
        // A lost hold is no longer ours to touch.
        state
            .holds
            .retain(|(hold, _)| !hold.lost.load(Ordering::Acquire));
        let next = state.holds.iter().map(|(_, due)| *due).min();
        state = match next {
            Some(due) => {
                let left = due.saturating_duration_since(Instant::now());
                match service.wake.wait_timeout(state, left) {
                    Ok((guard, _)) => guard,
                    Err(e) => e.into_inner().0,
                }
            }
            None => service.wake.wait(state).unwrap_or_else(|e| e.into_inner()),
        };
    }
}

fn refresh(hold: &Hold) {
    // A failed look (permissions, …) is no proof of loss: only a different answer is.
    if matches!(lstat_id(&hold.path), Ok(seen) if seen != Some(hold.id)) {
        hold.lost.store(true, Ordering::Release);
        return;
    }
    // A failed touch is tried again next round; our own waiters go by the flock anyway.
    let _ = touch(&hold.dir);
}
