//! The service thread's loop: sleep in the poller until a command, an event or the next
//! timer, then do only the work those name.

use super::cadence::Cadence;
use super::inbox::{Command, Inbox};
use super::queue::Queue;
use super::timers::{Timer, Timers};
use crate::base::maps::Map;
use crate::held::holds::Holds;
use crate::rules::identity::ProcessIdentity;
use crate::sys::{Poller, Token};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(super) struct Loop {
    pub(super) identity: &'static ProcessIdentity,
    pub(super) holds: &'static Holds,
    pub(super) inbox: Arc<Inbox>,
    pub(super) poller: Poller,
    pub(super) cadence: Cadence,
    pub(super) timers: Timers,
    /// One queue per waited-on lock path, by the token its event sources carry.
    pub(super) queues: Map<Token, Queue>,
    pub(super) by_path: Map<PathBuf, Token>,
    pub(super) next_token: Token,
    pub(super) next_waiter_id: u64,
    /// Event sources ran out (inotify watches, descriptors): said once per process.
    pub(super) exhaustion_logged: bool,
    /// Commands taken from the inbox, not yet handled.
    pending: VecDeque<Command>,
}

/// Commands and due timers handled between two looks at the event sources: a burst of new
/// waiters or of safety checks (thousands at once) must not hold up an event that hands a
/// lock over.
const BATCH: usize = 64;

impl Loop {
    pub(super) fn new(
        identity: &'static ProcessIdentity,
        holds: &'static Holds,
        inbox: Arc<Inbox>,
        poller: Poller,
        cadence: Cadence,
    ) -> Loop {
        let mut timers = Timers::default();
        timers.push(Instant::now() + cadence.heartbeat, Timer::Heartbeat);
        Loop {
            identity,
            holds,
            inbox,
            poller,
            cadence,
            timers,
            queues: Map::default(),
            by_path: Map::default(),
            next_token: 0,
            next_waiter_id: 0,
            exhaustion_logged: false,
            pending: VecDeque::new(),
        }
    }

    pub(super) fn run(mut self) {
        loop {
            let timeout = if self.pending.is_empty() {
                self.timers
                    .next_at()
                    .map(|at| at.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            let ready = self.poller.wait(timeout);
            if ready.woken {
                self.pending.extend(self.inbox.take());
            }
            self.pids_ended(&ready.ended);
            self.entries_unwatched(&ready.unwatched);
            let tokens = if ready.lost {
                self.queues.keys().copied().collect()
            } else {
                ready.tokens
            };
            for token in tokens {
                if self.queues.contains_key(&token) {
                    crate::base::stats::count_event_wakeup();
                    self.settle(token);
                }
            }
            for _ in 0..BATCH {
                let Some(command) = self.pending.pop_front() else {
                    break;
                };
                self.handle(command);
            }
            for _ in 0..BATCH {
                let Some(timer) = self.timers.pop_due(Instant::now()) else {
                    break;
                };
                self.fire(timer);
            }
        }
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Wait(waiter) => self.enqueue(*waiter),
            Command::Recheck(lock_path) => {
                if let Some(&token) = self.by_path.get(&lock_path) {
                    self.drop_cancelled(token);
                    self.settle(token);
                }
            }
            Command::Watchdog(at) => self.timers.push(at, Timer::Watchdog),
        }
    }

    fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::Check(token, seq) => self.timed_check(token, seq),
            Timer::Deadline(token, id) => self.expire(token, id),
            Timer::Watchdog => self.watchdog(),
            Timer::Heartbeat => self.heartbeat(),
        }
    }
}
