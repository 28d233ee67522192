//! One hold of this process as people see it: what `held_locks` lists and what a busy error
//! names when the holder is this process. A plain report, apart from the table it is copied
//! from, so that errors can carry it.

use crate::rules::iso_time;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// One hold of this process, as [`crate::held_locks`] and busy errors report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLock {
    /// The lock file.
    pub lock_path: PathBuf,
    /// The hold's label (`owner`, else `reentrant_owner`), when given.
    pub owner: Option<String>,
    /// When it was acquired.
    pub acquired_at: SystemTime,
    /// How long it has been held.
    pub age: Duration,
    /// Nested holds of it (1 when not nested).
    pub count: u32,
    /// The watchdog's limit (`None`: no watchdog); the deadline is `acquired_at + max_hold`.
    pub max_hold: Option<Duration>,
    /// The hold's generation (handles carry it).
    pub generation: u64,
}

impl HeldLock {
    /// When it was acquired, as the lock file's `createdAt` says such times (ISO 8601, UTC).
    pub fn acquired_at_iso(&self) -> String {
        iso_time::format(self.acquired_at)
    }
}
