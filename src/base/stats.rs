//! Counters for tests and benchmarks: what the lock service did, so a test can assert *how* a
//! waiter got its lock (at once, woken by an event, or by a timed re-inspection) instead of
//! timing it. Relaxed atomics: cheap, and exact once the work they count has finished.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the process's counters since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Acquires that found the lock busy and were handed to the lock service to wait.
    pub waits: u64,
    /// Times the lock service looked at a waited-on path because an event said it changed.
    pub event_wakeups: u64,
    /// Times it looked because a timer (safety re-inspection, polling) said so.
    pub timer_reinspections: u64,
}

static WAITS: AtomicU64 = AtomicU64::new(0);
static EVENT_WAKEUPS: AtomicU64 = AtomicU64::new(0);
static TIMER_REINSPECTIONS: AtomicU64 = AtomicU64::new(0);

/// The counters now.
pub fn stats() -> Stats {
    Stats {
        waits: WAITS.load(Ordering::Relaxed),
        event_wakeups: EVENT_WAKEUPS.load(Ordering::Relaxed),
        timer_reinspections: TIMER_REINSPECTIONS.load(Ordering::Relaxed),
    }
}

pub(crate) fn count_wait() {
    WAITS.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn count_event_wakeup() {
    EVENT_WAKEUPS.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn count_timer_reinspection() {
    TIMER_REINSPECTIONS.fetch_add(1, Ordering::Relaxed);
}

/// How many sources (directories, processes) the lock service's poller waits on while it
/// sleeps, and `None` while it is awake: a test's handshake before it changes a waited-on lock
/// where the system does not show a thread's state (Windows; Linux tests read `/proc`).
#[doc(hidden)]
pub fn poller_asleep_with_sources() -> Option<u64> {
    match POLLER_SLEEPING_WITH.load(Ordering::SeqCst) {
        0 => None,
        n => Some(n - 1),
    }
}

/// 0 while the poller is awake, else 1 + the number of sources it waits on.
static POLLER_SLEEPING_WITH: AtomicU64 = AtomicU64::new(0);

/// The poller goes to sleep waiting on `sources` (`Some`) or is awake again (`None`).
#[cfg_attr(not(windows), allow(dead_code))]
pub(crate) fn poller_sleeps(sources: Option<usize>) {
    let value = sources.map_or(0, |n| n as u64 + 1);
    POLLER_SLEEPING_WITH.store(value, Ordering::SeqCst);
}
