//! A min-heap of deadlines. Timers are not cancelled; each one checks on firing whether what
//! it was for still exists (a path's check timer carries the sequence number it was armed
//! with, so only the latest one counts).

use crate::sys::Token;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::Instant;

pub enum Timer {
    /// Look at a waited-on path again: (its token, the arming's sequence number).
    Check(Token, u64),
    /// A waiter's timeout: (its path's token, waiter id).
    Deadline(Token, u64),
    /// The earliest max-hold deadline of the held locks.
    Watchdog,
    Heartbeat,
}

struct Entry {
    at: Instant,
    seq: u64,
    timer: Timer,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

impl Timers {
    pub fn push(&mut self, at: Instant, timer: Timer) {
        self.seq += 1;
        self.heap.push(Reverse(Entry {
            at,
            seq: self.seq,
            timer,
        }));
    }

    pub fn next_at(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    pub fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        if self.next_at()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse(e)| e.timer)
    }
}
