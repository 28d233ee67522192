//! Waiting on behalf of callers, one FIFO queue per lock path. A path is looked at again only
//! when something says its answer may have changed:
//! - an event of its sources: its name in the directory (created, deleted, renamed), the last
//!   close of the lock file judged busy (a holder dying or letting go, another process
//!   dropping its flock), the end of a legacy holder's pid — and where the poller sees no
//!   closes (macOS), the end of a flock holder's pid on this host in place of the close;
//! - its one timer, armed for the earliest of: the instant an age rule flips the verdict, the
//!   safety re-inspection against lost events (backing off), and polling with backoff where a
//!   source is missing.
//!
//! The lock file judged busy is kept open and judged again by re-reading it, which opens and
//! closes nothing: our own looks never raise the close events we wait for.

use super::cadence::{POLL_CAP, POLL_FIRST, SAFETY_GROWTH};
use super::event_loop::Loop;
use super::queue::Queue;
use super::timers::Timer;
use super::waiter::Waiter;
use crate::attempt::holder::describe_holder;
use crate::attempt::observe::{rejudge, FileObservation, Judge};
use crate::attempt::take::{take, Taken};
use crate::base::cancel::CancelToken;
use crate::files::fs::FileId;
use crate::held::table::Hold;
use crate::rules::identity::{PidProbe, ProcessIdentity};
use crate::rules::iso_time;
use crate::rules::verdict::{local_flock_pid, same_kernel, Format};
use crate::sys::{Token, WatchError};
use crate::vocab::error::Error;
use std::time::{Duration, Instant, SystemTime};

/// Looks in a row after adding sources (each new source warrants one more look, since what it
/// reports may have happened just before it was added); bounded against a path that keeps
/// changing hands.
const MAX_LOOKS: usize = 4;

/// The pid whose end is worth an event, other than ours: a live legacy holder's; and where
/// closes are not seen (`closes`: false), a flock holder's on this host, in place of the close
/// of its lock file.
fn holder_pid(seen: &FileObservation, me: &ProcessIdentity, closes: bool) -> Option<u32> {
    let pid = match seen.verdict.format {
        Format::Legacy | Format::Dotlock => {
            let alive = matches!(seen.pid_probe, Some(PidProbe::Alive { .. }));
            seen.payload.pid.filter(|_| alive)
        }
        Format::Flock if !closes && !seen.flock_free => local_flock_pid(&seen.payload, me),
        Format::Flock => None,
    };
    pid.filter(|&pid| pid != me.pid)
}

/// Whether a kept file lacks the source that reports its holder letting go: its close watch
/// where closes are seen; elsewhere its holder's pid watch (`pid`), except for a holder on
/// another host, which nothing here could report (its heartbeat's timer judges it).
fn kept_unwatched(
    kept: &FileObservation,
    watched: Option<FileId>,
    pid: Option<u32>,
    me: &ProcessIdentity,
    closes: bool,
) -> bool {
    if closes {
        return watched != Some(kept.id);
    }
    let remote = kept.verdict.format == Format::Flock && !same_kernel(&kept.payload, me);
    pid.is_none() && !remote
}

/// The monotonic instant of a wall-clock time (Unix ms), as seen now.
fn instant_of(unix_ms: i64) -> Instant {
    let ahead = unix_ms.saturating_sub(iso_time::unix_ms(SystemTime::now()));
    Instant::now() + Duration::from_millis(u64::try_from(ahead).unwrap_or(0))
}

impl Loop {
    pub(super) fn enqueue(&mut self, mut waiter: Waiter) {
        let id = self.next_waiter_id;
        self.next_waiter_id += 1;
        let token = match self.by_path.get(&waiter.lock_path) {
            Some(&token) => token,
            None => {
                let token = self.next_token;
                self.next_token += 1;
                self.by_path.insert(waiter.lock_path.clone(), token);
                let queue = Queue::new(waiter.lock_path.clone(), self.cadence.safety);
                self.queues.insert(token, queue);
                token
            }
        };
        if let Some(deadline) = waiter.deadline {
            self.timers.push(deadline, Timer::Deadline(token, id));
        }
        let Some(queue) = self.queues.get_mut(&token) else {
            return;
        };
        let first = queue.waiters.is_empty();
        let seen = waiter.seen.take();
        queue.waiters.push_back((id, waiter));
        if first {
            // The holder may have let go since the caller's try: look (judging the file that
            // try saw again, when it kept one, rather than trying anew), then watch.
            queue.kept = seen;
            self.settle(token);
        }
    }

    /// The pidfds of these tokens fired: their holders ended (or became zombies).
    pub(super) fn pids_ended(&mut self, tokens: &[Token]) {
        for token in tokens {
            if let Some(queue) = self.queues.get_mut(token) {
                queue.pid_ended = queue.pid_watched.take();
            }
        }
    }

    /// The directories of these tokens' lock paths went away: their entries are watched anew.
    pub(super) fn entries_unwatched(&mut self, tokens: &[Token]) {
        for token in tokens {
            if let Some(queue) = self.queues.get_mut(token) {
                queue.entry_watched = false;
            }
        }
    }

    /// Looks at a path, serves its waiters while the lock can be had, watches what can change
    /// the answer (looking once more after adding a source), and arms its timer.
    pub(super) fn settle(&mut self, token: Token) {
        for _ in 0..MAX_LOOKS {
            if !self.look(token) {
                return; // no waiters left
            }
            if !self.watch_sources(token) {
                break;
            }
        }
        self.arm(token);
    }

    /// Judges the kept file again (cheap, no open or close) or, when there is none or it is
    /// no longer busy, tries for the head waiters. False once the queue is gone.
    fn look(&mut self, token: Token) -> bool {
        let Some(queue) = self.queues.get_mut(&token) else {
            return false;
        };
        let (Some(kept), Some((_, head))) = (queue.kept.take(), queue.waiters.front_mut()) else {
            return self.serve(token);
        };
        let ours = self.holds.table().view(&queue.lock_path);
        let judge = Judge::acquire(&head.options);
        let judged = rejudge(self.identity, &ours, &queue.lock_path, kept, &judge);
        match judged {
            // Still busy (a stale-but-kept verdict is the head's error: the full try says it).
            Ok(Some(seen)) if !seen.reclaimable_now() && !seen.verdict.report_only => {
                seen.let_go();
                *head.holder = describe_holder(&seen, self.identity, &ours);
                queue.kept = Some(Box::new(seen));
                true
            }
            // Gone, replaced, reclaimable or unreadable: a full try says what now (with the
            // file closed first, so that its flock is not in the try's way).
            other => {
                drop(other);
                self.serve(token)
            }
        }
    }

    /// Tries for the waiters in arrival order until one finds the lock busy.
    fn serve(&mut self, token: Token) -> bool {
        loop {
            let Some(queue) = self.queues.get_mut(&token) else {
                return false;
            };
            let Some((_, head)) = queue.waiters.front_mut() else {
                break;
            };
            if head.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
                let lock_path = queue.lock_path.clone();
                self.finish_head(token, Err(Error::Cancelled { lock_path }));
                continue;
            }
            // The head is the queue's turn: no `behind_waiters`, it is the waiter in front.
            let tried = take(
                self.identity,
                self.holds,
                &queue.lock_path,
                &head.options,
                false,
            );
            let result = match tried {
                Ok(Taken::Busy { holder, seen }) => {
                    head.holder = holder;
                    queue.kept = seen;
                    return true;
                }
                Ok(Taken::Held { hold, watchdog_at }) => {
                    if let Some(at) = watchdog_at {
                        self.timers.push(at, Timer::Watchdog);
                    }
                    Ok(hold)
                }
                Err(e) => Err(e),
            };
            self.finish_head(token, result);
        }
        self.drop_queue(token);
        false
    }

    /// Adds the sources the path lacks. True when one was added (look once more), and puts the
    /// path on polling while one is missing.
    fn watch_sources(&mut self, token: Token) -> bool {
        let Some(queue) = self.queues.get_mut(&token) else {
            return false;
        };
        let mut added = false;
        let mut exhausted = None;
        let mut note = |result: Result<(), WatchError>| match result {
            Ok(()) => {
                added = true;
                true
            }
            Err(WatchError::Exhausted(e)) => {
                exhausted = Some(e);
                false
            }
            Err(_) => false,
        };
        if !queue.entry_watched {
            if let (Some(dir), Some(name)) = (queue.lock_path.parent(), queue.lock_path.file_name())
            {
                queue.entry_watched = note(self.poller.watch_entry(token, dir, name));
            }
        }
        let kept = queue.kept.as_deref();
        let closes = self.poller.sees_closes();
        let file_missing = kept.is_some_and(|k| queue.file_watched != Some(k.id));
        if let Some(kept) = kept.filter(|_| closes && file_missing) {
            if note(self.poller.watch_file(token, &kept.file)) {
                queue.file_watched = Some(kept.id);
            }
        }
        let me = self.identity;
        let pid = kept.and_then(|k| holder_pid(k, me, closes));
        if let Some(pid) =
            pid.filter(|&p| queue.pid_watched != Some(p) && queue.pid_ended != Some(p))
        {
            if note(self.poller.watch_pid(token, pid)) {
                queue.pid_watched = Some(pid);
            }
        }
        let missing = !queue.entry_watched
            || kept.is_some_and(|k| kept_unwatched(k, queue.file_watched, pid, me, closes))
            || pid.is_some_and(|p| queue.pid_watched != Some(p));
        queue.polling = match (missing, queue.polling) {
            (false, _) => None,
            (true, Some(interval)) => Some(interval),
            (true, None) => {
                queue.poll_at = Instant::now() + POLL_FIRST;
                Some(POLL_FIRST)
            }
        };
        if let Some(e) = exhausted.filter(|_| !self.exhaustion_logged) {
            self.exhaustion_logged = true;
            crate::base::log::emit(&format!(
                "[session-write-lock] event sources exhausted ({e}); the paths concerned are polled (every 10 to 250 ms)"
            ));
        }
        added
    }

    /// Arms the path's one timer for the earliest of its time rules, safety check and poll.
    fn arm(&mut self, token: Token) {
        let Some(queue) = self.queues.get_mut(&token) else {
            return;
        };
        let flip = queue
            .kept
            .as_ref()
            .and_then(|k| k.verdict.recheck_at_ms)
            .map(instant_of);
        let poll = queue.polling.map(|_| queue.poll_at);
        let at = [Some(queue.safety_at), flip, poll]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(queue.safety_at);
        if queue.armed.is_some_and(|(armed, _)| armed == at) {
            return;
        }
        queue.seq += 1;
        queue.armed = Some((at, queue.seq));
        self.timers.push(at, Timer::Check(token, queue.seq));
    }

    /// The path's timer fired: back off what was due, look again.
    pub(super) fn timed_check(&mut self, token: Token, seq: u64) {
        let cap = self.cadence.safety_cap();
        let Some(queue) = self.queues.get_mut(&token) else {
            return;
        };
        if queue.armed.map(|(_, s)| s) != Some(seq) {
            return; // superseded
        }
        queue.armed = None;
        let now = Instant::now();
        if queue.safety_at <= now {
            queue.safety = (queue.safety * SAFETY_GROWTH).min(cap);
            queue.safety_at = now + queue.safety;
        }
        if let Some(interval) = queue.polling.filter(|_| queue.poll_at <= now) {
            let next = (interval * 2).min(POLL_CAP);
            queue.polling = Some(next);
            queue.poll_at = now + next;
        }
        crate::base::stats::count_timer_reinspection();
        self.settle(token);
    }

    /// A waiter's deadline: one last look, then the busy error.
    pub(super) fn expire(&mut self, token: Token, id: u64) {
        let waiting = |q: &Queue| q.waiters.iter().any(|(i, _)| *i == id);
        if !self.queues.get(&token).is_some_and(waiting) {
            return;
        }
        self.settle(token);
        let Some(queue) = self.queues.get_mut(&token) else {
            return;
        };
        let Some(pos) = queue.waiters.iter().position(|(i, _)| *i == id) else {
            return;
        };
        let Some((_, waiter)) = queue.waiters.remove(pos) else {
            return;
        };
        let error = Error::Busy {
            lock_path: queue.lock_path.clone(),
            holder: waiter.holder.clone(),
            timeout: waiter.options.timeout,
        };
        self.finish(waiter, Err(error));
        if pos == 0 {
            self.settle(token); // the next waiter may have other options, or none is left
        }
    }

    /// Answers the cancelled waiters of a path at once, wherever they are in its queue: a
    /// caller that gave up must not stay blocked until the lock frees.
    pub(super) fn drop_cancelled(&mut self, token: Token) {
        let Some(queue) = self.queues.get_mut(&token) else {
            return;
        };
        let lock_path = queue.lock_path.clone();
        let (cancelled, waiting) = std::mem::take(&mut queue.waiters)
            .into_iter()
            .partition(|(_, w)| w.cancel.as_ref().is_some_and(CancelToken::is_cancelled));
        queue.waiters = waiting;
        for (_, waiter) in cancelled {
            let lock_path = lock_path.clone();
            self.finish(waiter, Err(Error::Cancelled { lock_path }));
        }
    }

    fn finish_head(&mut self, token: Token, result: Result<Hold, Error>) {
        let head = self
            .queues
            .get_mut(&token)
            .and_then(|q| q.waiters.pop_front());
        if let Some((_, waiter)) = head {
            self.finish(waiter, result);
        }
    }

    fn finish(&mut self, waiter: Waiter, result: Result<Hold, Error>) {
        self.inbox.answered(&waiter.lock_path);
        let callback = waiter.callback;
        // A panicking callback must not stop the service for everyone else.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || callback(result))).is_err()
        {
            crate::base::log::emit(
                "[session-write-lock] a lock callback panicked; the lock service carries on",
            );
        }
    }

    fn drop_queue(&mut self, token: Token) {
        if let Some(queue) = self.queues.remove(&token) {
            self.by_path.remove(&queue.lock_path);
        }
        self.poller.forget(token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::payload::Payload;
    use crate::rules::verdict::Verdict;
    use std::fs::File;

    fn me() -> ProcessIdentity {
        ProcessIdentity {
            pid: 1,
            starttime: None,
            starttime_us: None,
            hostname: "mac-a".into(),
            boot_id: Some("boot-1".into()),
            pid_ns: None,
        }
    }

    fn kept(format: Format, pid: u32, boot: &str, probe: Option<PidProbe>) -> FileObservation {
        FileObservation {
            file: File::open("/dev/null").unwrap(),
            id: (1, 2),
            mtime: SystemTime::now(),
            flock_free: false,
            payload: Payload {
                pid: Some(pid),
                boot_id: Some(boot.into()),
                flock: format == Format::Flock,
                ..Payload::default()
            },
            pid_probe: probe,
            verdict: Verdict {
                format,
                reasons: Vec::new(),
                removable: false,
                report_only: false,
                recheck_at_ms: None,
            },
        }
    }

    const ALIVE: Option<PidProbe> = Some(PidProbe::Alive {
        starttime: None,
        starttime_us: None,
    });

    /// Where closes are seen a flock holder's file is watched, not its pid; where they are
    /// not, a local holder's pid stands in, and a remote holder is left to its timer.
    #[test]
    fn a_holders_pid_stands_in_for_closes_only_where_there_are_none() {
        let me = me();
        let local = kept(Format::Flock, 42, "boot-1", None);
        let remote = kept(Format::Flock, 42, "boot-2", None);
        let legacy = kept(Format::Legacy, 43, "boot-1", ALIVE);
        let dead_legacy = kept(Format::Legacy, 43, "boot-1", Some(PidProbe::Dead));
        let ours = kept(Format::Flock, 1, "boot-1", None);

        assert_eq!(holder_pid(&local, &me, true), None);
        assert_eq!(holder_pid(&local, &me, false), Some(42));
        assert_eq!(holder_pid(&remote, &me, false), None);
        assert_eq!(holder_pid(&legacy, &me, true), Some(43));
        assert_eq!(holder_pid(&legacy, &me, false), Some(43));
        assert_eq!(holder_pid(&dead_legacy, &me, false), None);
        assert_eq!(holder_pid(&ours, &me, false), None);

        // With closes: watched once the file is.
        assert!(kept_unwatched(&local, None, None, &me, true));
        assert!(!kept_unwatched(&local, Some((1, 2)), None, &me, true));
        assert!(kept_unwatched(&local, Some((1, 3)), None, &me, true));
        // Without: the pid answers; a remote holder needs nothing; anything else is polled.
        assert!(!kept_unwatched(&local, None, Some(42), &me, false));
        assert!(!kept_unwatched(&remote, None, None, &me, false));
        assert!(kept_unwatched(&dead_legacy, None, None, &me, false));
        assert!(kept_unwatched(&ours, None, None, &me, false));
    }
}
