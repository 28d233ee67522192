//! Ending a hold removes its file without holding the process's table lock: the hold leaves the
//! table first, and the unlink (then the close) runs after. Shown by slowing the unlink of the
//! lock file down (strace delay injection, this test binary running itself): while it is
//! delayed, another thread already finds the table without the hold, and the file still on
//! disk. Were the unlink made under the table's lock, that thread would see the table only
//! once the file was gone.
//! Needs strace (scripts/test.sh installs it); without it each test says SKIPPED loudly.
#![cfg(target_os = "linux")]

mod common;

use common::{strace_or_skip, TempDir};
use session_write_lock::{acquire, held_locks, Options, ReleaseOutcome};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Set in the copy of this binary that runs under strace: the directory of its lock.
const SCENARIO_DIR: &str = "SWL_OUTSIDE_LOCK_DIR";
/// How long each unlink of the lock file is held up (µs): far longer than the other thread
/// needs to look at the table and the disk.
const DELAY_US: &str = "1500000";

/// Waits until the table no longer has the hold of `lock`; says whether its file was still on
/// disk at that moment.
fn on_disk_once_out_of_the_table(lock: &Path) -> bool {
    until(|| !held_locks().iter().any(|h| h.lock_path == lock));
    lock.exists()
}

fn until(mut done: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < give_up, "gave up waiting");
        std::thread::sleep(Duration::from_millis(1));
    }
}

const OUTSIDE: &str =
    "the table let go of the hold only once its file was gone: the unlink ran under the table's lock";

/// Runs the named test of this binary again, under strace delaying the unlink of its lock file.
fn run_under_strace(test: &str) {
    if !strace_or_skip(test) {
        return;
    }
    let dir = TempDir::new("outside-lock");
    let log = dir.join("strace.log");
    let output = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(&log)
        // The directory: the library unlinks relative to its descriptor (`unlinkat(fd, name)`),
        // which strace matches by that descriptor, not by the lock file's path.
        .arg("-P")
        .arg(&dir.0)
        .args(["-e", "trace=?unlink,unlinkat"])
        .args([
            "-e",
            &format!("inject=?unlink,unlinkat:delay_enter={DELAY_US}"),
        ])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(SCENARIO_DIR, &dir.0)
        .output()
        .unwrap();
    let traced = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        output.status.success(),
        "{test} under strace failed:\n{}\n{}\nstrace:\n{traced}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // The delay ran, on the lock file: otherwise the run above proved nothing.
    assert!(
        traced
            .lines()
            .any(|l| l.contains("unlink") && l.contains("DELAYED")),
        "no delayed unlink of the lock file:\n{traced}"
    );
}

/// The scenario's directory when this is the copy under strace.
fn scenario_dir() -> Option<std::path::PathBuf> {
    std::env::var_os(SCENARIO_DIR).map(Into::into)
}

#[test]
fn a_release_removes_the_file_outside_the_table_lock() {
    let Some(dir) = scenario_dir() else {
        return run_under_strace("a_release_removes_the_file_outside_the_table_lock");
    };
    let lock = dir.join("s.jsonl.lock");
    let guard = acquire(dir.join("s.jsonl"), &Options::default()).unwrap();
    let releaser = std::thread::spawn(move || guard.release().unwrap());
    let on_disk_meanwhile = on_disk_once_out_of_the_table(&lock);
    assert_eq!(releaser.join().unwrap(), ReleaseOutcome::Released);
    assert!(on_disk_meanwhile, "{OUTSIDE}");
    assert!(!lock.exists(), "the lock file was not removed");
}

#[test]
fn the_watchdog_removes_the_file_outside_the_table_lock() {
    let Some(dir) = scenario_dir() else {
        return run_under_strace("the_watchdog_removes_the_file_outside_the_table_lock");
    };
    let lock = dir.join("s.jsonl.lock");
    let options = Options {
        max_hold: Some(Duration::from_millis(100)),
        ..Options::default()
    };
    // Kept, not released: the lock service's watchdog ends the hold.
    let guard = acquire(dir.join("s.jsonl"), &options).unwrap();
    let on_disk_meanwhile = on_disk_once_out_of_the_table(&lock);
    until(|| !lock.exists());
    assert_eq!(guard.release().unwrap(), ReleaseOutcome::NotHeld);
    assert!(on_disk_meanwhile, "{OUTSIDE}");
}
