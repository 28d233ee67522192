//! What the service does for held locks: the max-hold watchdog and the heartbeat (with its
//! compromise check).

use super::event_loop::Loop;
use super::timers::Timer;
use crate::fs;
use std::time::Instant;

impl Loop {
    pub(super) fn watchdog(&mut self) {
        let (overdue, next) = self.holds.table().expire_overdue(Instant::now());
        if let Some(next) = next {
            self.timers.push(next, Timer::Watchdog);
        }
        crate::table::log_overdue(&overdue);
    }

    pub(super) fn heartbeat(&mut self) {
        let mut compromised = Vec::new();
        {
            let mut table = self.holds.table();
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
        self.timers
            .push(Instant::now() + self.settings.heartbeat, Timer::Heartbeat);
    }
}
