//! What callers hand to the service thread, and how they wake it: shared by the handle (and
//! the cancel hooks it installs) with the loop, which owns everything else. It also counts
//! each path's waiters, from the send of a wait until the loop has answered it: a fresh
//! acquire queues behind them instead of overtaking them.

use super::waiter::Waiter;
use crate::base::maps::Map;
use crate::sys::Waker;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

pub enum Command {
    Wait(Box<Waiter>),
    /// Look at a path's waiters again (one of them was cancelled).
    Recheck(PathBuf),
    /// A hold with an earlier max-hold deadline than any timer armed so far.
    Watchdog(Instant),
}

pub struct Inbox {
    state: Mutex<State>,
    waker: Waker,
}

#[derive(Default)]
struct State {
    commands: Vec<Command>,
    waiting: Map<PathBuf, usize>,
}

impl Inbox {
    pub fn new(waker: Waker) -> Inbox {
        Inbox {
            state: Mutex::default(),
            waker,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn send(&self, command: Command) {
        {
            let mut state = self.state();
            if let Command::Wait(waiter) = &command {
                *state.waiting.entry(waiter.lock_path.clone()).or_default() += 1;
            }
            state.commands.push(command);
        }
        self.waker.wake();
    }

    pub fn take(&self) -> Vec<Command> {
        std::mem::take(&mut self.state().commands)
    }

    /// Whether waits for `lock_path` are queued or under way.
    pub fn has_waiters(&self, lock_path: &Path) -> bool {
        self.state().waiting.contains_key(lock_path)
    }

    /// The loop has answered one waiter of `lock_path`.
    pub fn answered(&self, lock_path: &Path) {
        let mut state = self.state();
        if let Some(n) = state.waiting.get_mut(lock_path) {
            *n -= 1;
            if *n == 0 {
                state.waiting.remove(lock_path);
            }
        }
    }
}
