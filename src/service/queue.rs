//! One waited-on lock path: its waiters in arrival order and what is known and watched of
//! it (the service's `waiting` acts on it).

use super::waiter::Waiter;
use crate::attempt::observe::FileObservation;
use crate::files::fs::FileId;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct Queue {
    pub lock_path: PathBuf,
    pub waiters: VecDeque<(u64, Waiter)>,
    /// The lock file last judged busy, still open.
    pub kept: Option<Box<FileObservation>>,
    pub entry_watched: bool,
    pub file_watched: Option<FileId>,
    pub pid_watched: Option<u32>,
    /// A pid reported ended while `kill(pid, 0)` still finds it (a zombie not yet reaped).
    pub pid_ended: Option<u32>,
    /// Set while some source is missing: the path is polled, this often (backing off).
    pub polling: Option<Duration>,
    pub poll_at: Instant,
    pub safety: Duration,
    pub safety_at: Instant,
    /// The one armed check timer: (when, sequence number).
    pub armed: Option<(Instant, u64)>,
    pub seq: u64,
}

impl Queue {
    pub fn new(lock_path: PathBuf, safety: Duration) -> Queue {
        let now = Instant::now();
        Queue {
            lock_path,
            waiters: VecDeque::new(),
            kept: None,
            entry_watched: false,
            file_watched: None,
            pid_watched: None,
            pid_ended: None,
            polling: None,
            poll_at: now,
            safety,
            safety_at: now + safety,
            armed: None,
            seq: 0,
        }
    }
}
