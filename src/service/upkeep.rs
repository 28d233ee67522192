//! What the service does for held locks: the max-hold watchdog and the heartbeat (with its
//! compromise check).

use super::event_loop::Loop;
use super::timers::Timer;
use std::time::Instant;

impl Loop {
    pub(super) fn watchdog(&mut self) {
        let (_, next) = self.holds.expire_overdue(Instant::now());
        if let Some(next) = next {
            self.timers.push(next, Timer::Watchdog);
        }
    }

    pub(super) fn heartbeat(&mut self) {
        for path in self.holds.heartbeat() {
            crate::log::emit(&format!(
                "[session-write-lock] lock compromised: the lock file was removed or replaced by someone else: {}",
                path.display()
            ));
        }
        self.timers
            .push(Instant::now() + self.settings.heartbeat, Timer::Heartbeat);
    }
}
