//! How often the service looks (heartbeat, safety re-inspections, polling) and which event
//! sources it uses: read once from the environment when it starts.

use crate::sys::EventSources;
use std::time::Duration;

/// Held locks' mtime is refreshed (and their path checked) this often, unless
/// `SESSION_WRITE_LOCK_HEARTBEAT_MS` says otherwise.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(10);
/// First safety re-inspection of a waited-on path (against lost events), unless
/// `SESSION_WRITE_LOCK_SAFETY_MS` says otherwise; the interval then grows sixteenfold up to
/// [`SAFETY_CAP`] (or the setting, when that is longer): 1 s, 16 s, then every 60 s. One check
/// soon after a waiter starts, then rarely: lost events are rare (a queue overflow is
/// reported and makes every waiter look), and each check costs every idle waiter.
const DEFAULT_SAFETY: Duration = Duration::from_secs(1);
const SAFETY_CAP: Duration = Duration::from_secs(60);
pub const SAFETY_GROWTH: u32 = 16;
/// Polling, where a path has no event source: first interval and cap (doubling).
pub const POLL_FIRST: Duration = Duration::from_millis(10);
pub const POLL_CAP: Duration = Duration::from_millis(250);

pub struct Cadence {
    pub heartbeat: Duration,
    pub safety: Duration,
    /// `files` false with `SESSION_WRITE_LOCK_NO_INOTIFY=1`: waiters poll (to test that
    /// fallback); `closes` false with `SESSION_WRITE_LOCK_NO_CLOSE_EVENTS=1`: holders' pids
    /// stand in for lock files' closes, as on macOS (to test that way of waiting elsewhere).
    pub sources: EventSources,
}

/// An environment switch that is on when set to anything but empty or "0".
fn switched_on(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}

fn millis(name: &str) -> Option<Duration> {
    std::env::var(name)
        .ok()
        .and_then(|ms| ms.parse::<u64>().ok())
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis)
}

impl Cadence {
    pub fn from_env() -> Cadence {
        Cadence {
            heartbeat: millis("SESSION_WRITE_LOCK_HEARTBEAT_MS").unwrap_or(DEFAULT_HEARTBEAT),
            safety: millis("SESSION_WRITE_LOCK_SAFETY_MS").unwrap_or(DEFAULT_SAFETY),
            sources: EventSources {
                files: !switched_on("SESSION_WRITE_LOCK_NO_INOTIFY"),
                closes: !switched_on("SESSION_WRITE_LOCK_NO_CLOSE_EVENTS"),
            },
        }
    }

    pub fn safety_cap(&self) -> Duration {
        self.safety.max(SAFETY_CAP)
    }
}
