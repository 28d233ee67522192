//! The lock service's duties for held locks: max-hold watchdog with its log line, heartbeat
//! (mtime refresh) and compromise detection. One test binary so the log hook and the heartbeat
//! setting are this process's alone.

mod common;

use common::TempDir;
use session_write_lock::{acquire, set_log_hook, Options, ReleaseOutcome};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant, SystemTime};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());
static SETUP: Once = Once::new();

fn setup() {
    SETUP.call_once(|| {
        // Before the first acquire starts the lock service, which reads it once.
        std::env::set_var("SESSION_WRITE_LOCK_HEARTBEAT_MS", "100");
        set_log_hook(Some(Arc::new(|line: &str| {
            LINES.lock().unwrap().push(line.to_string())
        })));
    });
}

fn logged(needle: &str) -> Option<String> {
    LINES
        .lock()
        .unwrap()
        .iter()
        .find(|l| l.contains(needle))
        .cloned()
}

/// The watchdog's log line for `lock_path`, checked for its form and its `max=`; returns how
/// long it says the lock was held.
fn watchdog_release(lock_path: &std::path::Path, max_ms: u64) -> u64 {
    const PREFIX: &str = "[session-write-lock] releasing lock held for ";
    let line = logged(&lock_path.display().to_string()).expect("the watchdog logs");
    let suffix = format!("ms (max={max_ms}ms): {}", lock_path.display());
    let held = line
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(&suffix))
        .unwrap_or_else(|| panic!("{line}"));
    held.parse().unwrap_or_else(|_| panic!("{line}"))
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    started.elapsed()
}

#[test]
fn watchdog_releases_a_lock_held_too_long() {
    if cfg!(windows) {
        return common::skip("watchdog_releases_a_lock_held_too_long", "on Windows the watchdog's hold leaves the table before its file is removed (a slower removal there: move, then delete), and this test reads the file and the log as soon as the hold is gone");
    }
    setup();
    let dir = TempDir::new("watchdog");
    let file = dir.join("s.jsonl");
    let options = Options {
        max_hold: Some(Duration::from_millis(300)),
        ..Options::default()
    };
    let old = acquire(&file, &options).unwrap();
    let lock_path = old.lock_path().to_path_buf();
    let waited = wait_for("the watchdog", || !old.is_held());
    println!("watchdog released a 300 ms max-hold lock after {waited:?}");
    assert!(!lock_path.exists());
    let held_ms = watchdog_release(&lock_path, 300);
    assert!(held_ms >= 300, "held {held_ms} ms");

    let new = acquire(&file, &Options::default()).unwrap();
    assert_eq!(
        old.release().unwrap(),
        ReleaseOutcome::NotHeld,
        "an old handle cannot release the new lock"
    );
    assert!(new.is_held() && lock_path.exists());
}

#[test]
fn heartbeat_refreshes_the_mtime_of_held_locks() {
    setup();
    let dir = TempDir::new("heartbeat");
    let guard = acquire(dir.join("s.jsonl"), &Options::default()).unwrap();
    let past = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(guard.lock_path())
        .unwrap()
        .set_modified(past)
        .unwrap();
    wait_for("a heartbeat", || {
        std::fs::metadata(guard.lock_path())
            .unwrap()
            .modified()
            .unwrap()
            > past + Duration::from_secs(1800)
    });
}

#[test]
fn a_reentrant_acquire_with_a_longer_max_hold_extends_the_deadline() {
    if cfg!(windows) {
        return common::skip("a_reentrant_acquire_with_a_longer_max_hold_extends_the_deadline", "on Windows the watchdog's hold leaves the table before its file is removed (a slower removal there: move, then delete), and this test reads the file and the log as soon as the hold is gone");
    }
    setup();
    let dir = TempDir::new("extend");
    let file = dir.join("s.jsonl");
    let max_hold = |ms| Options {
        max_hold: Some(Duration::from_millis(ms)),
        ..Options::default()
    };
    let first = acquire(&file, &max_hold(200)).unwrap();
    let nested = Options {
        allow_reentrant: true,
        ..max_hold(1500)
    };
    let second = acquire(&file, &nested).unwrap();
    // Handshake instead of a sleep: a lock due at 300 ms released by the watchdog means it
    // has dealt with every deadline up to then, the first hold's 200 ms included.
    let sentinel = acquire(dir.join("sentinel.jsonl"), &max_hold(300)).unwrap();
    wait_for("the sentinel's deadline", || !sentinel.is_held());
    assert!(
        first.is_held() && second.is_held(),
        "the 200 ms deadline was extended to 1500 ms"
    );
    let waited = wait_for("the extended deadline", || !second.is_held());
    println!("extended hold released {waited:?} after the sentinel's");
    assert!(!first.is_held() && !first.lock_path().exists());
}

/// Several holds with their own deadlines, acquired out of order: each is released once its
/// own deadline has passed (never before: the log says how long it was held), and a hold with
/// no max-hold is left alone.
#[test]
fn the_watchdog_keeps_each_locks_own_deadline() {
    if cfg!(windows) {
        return common::skip("the_watchdog_keeps_each_locks_own_deadline", "on Windows the watchdog's hold leaves the table before its file is removed (a slower removal there: move, then delete), and this test reads the file and the log as soon as the hold is gone");
    }
    setup();
    let dir = TempDir::new("deadlines");
    let max_holds = [400u64, 100, 300, 200];
    let guards: Vec<_> = max_holds
        .iter()
        .enumerate()
        .map(|(i, &ms)| {
            let options = Options {
                max_hold: Some(Duration::from_millis(ms)),
                ..Options::default()
            };
            acquire(dir.join(&format!("s{i}.jsonl")), &options).unwrap()
        })
        .collect();
    let unbounded = Options {
        max_hold: None,
        ..Options::default()
    };
    let forever = acquire(dir.join("forever.jsonl"), &unbounded).unwrap();
    wait_for("every bounded hold's release", || {
        guards.iter().all(|g| !g.is_held())
    });
    for (guard, ms) in guards.iter().zip(max_holds) {
        let held_ms = watchdog_release(guard.lock_path(), ms);
        assert!(
            held_ms >= ms,
            "released after {held_ms} ms, before its own deadline"
        );
        assert!(!guard.lock_path().exists());
    }
    assert!(forever.is_held() && forever.lock_path().exists());
    assert!(logged(&forever.lock_path().display().to_string()).is_none());
}

/// The lock file removed, or replaced, by someone else: the heartbeat reports it, and the
/// release neither deletes their file nor leaves anything at the path.
#[test]
fn a_removed_or_replaced_lock_file_is_reported_and_left_alone() {
    if cfg!(windows) {
        return common::skip(
            "a_removed_or_replaced_lock_file_is_reported_and_left_alone",
            "without POSIX delete (wine, older Windows) a file removed by someone else keeps its name while we hold it open, so the heartbeat cannot see it go",
        );
    }
    setup();
    for (tag, theirs) in [("removed", None), ("replaced", Some("someone else's lock"))] {
        let dir = TempDir::new(tag);
        let guard = acquire(dir.join("s.jsonl"), &Options::default()).unwrap();
        let lock_path = guard.lock_path().to_path_buf();
        std::fs::remove_file(&lock_path).unwrap();
        if let Some(content) = theirs {
            std::fs::write(&lock_path, content).unwrap();
        }
        wait_for("the compromise report", || {
            logged(&format!(
                "compromised: the lock file was removed or replaced by someone else: {}",
                lock_path.display()
            ))
            .is_some()
        });
        assert_eq!(
            guard.release().unwrap(),
            ReleaseOutcome::Compromised,
            "{tag}"
        );
        match theirs {
            Some(content) => assert_eq!(
                std::fs::read_to_string(&lock_path).unwrap(),
                content,
                "their file is not deleted"
            ),
            None => {
                assert!(!lock_path.exists(), "nothing appears at the path");
                let again = acquire(dir.join("s.jsonl"), &Options::default()).unwrap();
                assert_eq!(again.release().unwrap(), ReleaseOutcome::Released);
            }
        }
    }
}
