//! What the service does for held locks: the max-hold watchdog and the heartbeat (with its
//! compromise check).

use super::event_loop::Loop;
use super::timers::Timer;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Whether the service ends holds past their max-hold by itself. Off (the gateway's test
/// environment), only an explicit check ends them; its timers then fire and do nothing.
static BACKGROUND_WATCHDOG: AtomicBool = AtomicBool::new(true);

/// Switches the background watchdog; true when that changed it.
pub fn set_background_watchdog(on: bool) -> bool {
    BACKGROUND_WATCHDOG.swap(on, Ordering::Relaxed) != on
}

impl Loop {
    pub(super) fn watchdog(&mut self) {
        if !BACKGROUND_WATCHDOG.load(Ordering::Relaxed) {
            return; // switched on again, it is woken to end what is overdue by then
        }
        let (_, next) = self.holds.expire_overdue(Instant::now());
        if let Some(next) = next {
            self.timers.push(next, Timer::Watchdog);
        }
    }

    pub(super) fn heartbeat(&mut self) {
        for path in self.holds.heartbeat() {
            crate::base::log::emit(&format!(
                "[session-write-lock] lock compromised: the lock file was removed or replaced by someone else: {}",
                path.display()
            ));
        }
        self.timers
            .push(Instant::now() + self.cadence.heartbeat, Timer::Heartbeat);
    }
}
