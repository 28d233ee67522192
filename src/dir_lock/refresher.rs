//! The native thread that keeps a held lock directory's mtime fresh (docs/PROTOCOL.md,
//! "proper-lockfile's lock"): proper-lockfile's waiters judge a directory by its mtime alone,
//! so it is touched every `update` whatever the JavaScript event loop is doing. Each round also
//! checks that the path still names our directory, and says so once it does not.

use crate::fs::FileId;
use crate::sidecar::lstat_id;
use crate::sys::touch;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The thread of one hold; stopped (and joined) by [`Refresher::stop`] or on drop.
#[derive(Debug)]
pub struct Refresher {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug, Default)]
struct Shared {
    stopped: Mutex<bool>,
    wake: Condvar,
    lost: AtomicBool,
}

impl Refresher {
    /// Starts touching `dir` every `every`; `id` is its identity at `path`.
    pub fn start(
        dir: Arc<File>,
        path: PathBuf,
        id: FileId,
        every: Duration,
    ) -> std::io::Result<Refresher> {
        let shared = Arc::new(Shared::default());
        let mine = Arc::clone(&shared);
        // Never a busy loop, whatever the caller asked.
        let every = every.max(Duration::from_millis(1));
        let thread = std::thread::Builder::new()
            .name("swl-dir-lock-refresh".into())
            .spawn(move || run(&mine, &dir, &path, id, every))?;
        Ok(Refresher {
            shared,
            thread: Some(thread),
        })
    }

    /// Whether the path stopped naming our directory (removed or replaced by someone).
    pub fn lost(&self) -> bool {
        self.shared.lost.load(Ordering::Acquire)
    }

    /// Stops the thread and waits for it: no touch happens after this returns.
    pub fn stop(&mut self) {
        *self
            .shared
            .stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(shared: &Shared, dir: &File, path: &std::path::Path, id: FileId, every: Duration) {
    let mut stopped = shared.stopped.lock().unwrap_or_else(|e| e.into_inner());
    // The flag is checked before each wait too: a stop may come before this thread first runs.
    while !*stopped {
        stopped = match shared.wake.wait_timeout(stopped, every) {
            Ok((guard, _)) => guard,
            Err(e) => e.into_inner().0,
        };
        if *stopped {
            return;
        }
        // A failed look (permissions, …) is no proof of loss: only a different answer is.
        if matches!(lstat_id(path), Ok(seen) if seen != Some(id)) {
            shared.lost.store(true, Ordering::Release);
            return;
        }
        // A failed touch is tried again next round; our own waiters go by the flock anyway.
        let _ = touch(dir);
    }
}
