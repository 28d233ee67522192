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
    let line = logged(&lock_path.display().to_string()).expect("the watchdog logs");
    let pattern = format!("(max=300ms): {}", lock_path.display());
    assert!(
        line.starts_with("[session-write-lock] releasing lock held for ")
            && line.ends_with(&pattern),
        "{line}"
    );
    let held_ms: u64 = line["[session-write-lock] releasing lock held for ".len()..]
        .split("ms")
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(held_ms >= 300, "{line}");

    let new = acquire(&file, &Options::default()).unwrap();
    assert_eq!(
        old.release(),
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
fn a_replaced_lock_file_is_reported_and_left_alone() {
    setup();
    let dir = TempDir::new("compromise");
    let guard = acquire(dir.join("s.jsonl"), &Options::default()).unwrap();
    let lock_path = guard.lock_path().to_path_buf();
    std::fs::remove_file(&lock_path).unwrap();
    std::fs::write(&lock_path, "someone else's lock").unwrap();
    wait_for("the compromise report", || {
        logged(&format!(
            "compromised: the lock file was removed or replaced by someone else: {}",
            lock_path.display()
        ))
        .is_some()
    });
    assert_eq!(guard.release(), ReleaseOutcome::Compromised);
    assert_eq!(
        std::fs::read_to_string(&lock_path).unwrap(),
        "someone else's lock",
        "their file is not deleted"
    );
}

#[test]
fn a_reentrant_acquire_with_a_longer_max_hold_extends_the_deadline() {
    setup();
    let dir = TempDir::new("extend");
    let file = dir.join("s.jsonl");
    let short = Options {
        max_hold: Some(Duration::from_millis(200)),
        ..Options::default()
    };
    let long = Options {
        max_hold: Some(Duration::from_millis(1200)),
        ..Options::default()
    };
    let first = acquire(&file, &short).unwrap();
    let second = acquire(&file, &long).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert!(
        first.is_held() && second.is_held(),
        "the 200 ms deadline was extended to 1200 ms"
    );
    let waited = wait_for("the extended deadline", || !second.is_held());
    println!("extended hold released {waited:?} after the 600 ms check");
    assert!(!first.lock_path().exists());
}
