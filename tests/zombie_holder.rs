//! A zombie holder is dead (docs/PROTOCOL.md): a legacy holder whose process has ended but is
//! not yet reaped still answers `kill(pid, 0)`, yet it will never write again, and /proc shows
//! it as a zombie (`Z`): its lock is reclaimed at once.

// Linux only: /proc.
#![cfg(target_os = "linux")]

mod common;

use common::{until, TempDir};
use session_write_lock::testing::iso_time;
use session_write_lock::{acquire, inspect, Options, StaleReason};
use std::process::Command;
use std::time::{Duration, SystemTime};

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'))
    })
}

#[test]
fn a_zombie_legacy_holder_counts_as_dead() {
    let dir = TempDir::new("zombie");
    let file = dir.join("s.jsonl");
    let lock = dir.join("s.jsonl.lock");
    // Not waited for until the end: it stays a zombie meanwhile.
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    until("the child is a zombie", || is_zombie(pid));
    // SAFETY: signal 0 only checks existence; a zombie still answers.
    assert_eq!(
        unsafe { libc::kill(pid as i32, 0) },
        0,
        "kill(pid, 0) still finds it"
    );
    let created = iso_time::format(SystemTime::now());
    std::fs::write(&lock, format!(r#"{{"pid":{pid},"createdAt":"{created}"}}"#)).unwrap();

    let seen = inspect(&file, Duration::from_secs(1800)).unwrap().unwrap();
    assert_eq!(seen.stale_reasons, [StaleReason::DeadPid], "{seen:?}");
    let once = Options {
        timeout: Some(Duration::ZERO),
        ..Options::default()
    };
    let taken = acquire(&file, &once);
    child.wait().unwrap();
    let _guard = taken.expect("a zombie holder's lock is reclaimed at once");
}
