//! A child forked by another thread shares this process's open files until it execs or exits.
//! The flock an inspection takes only to look must not stay held by such a child: other
//! processes would see a live holder on a stale lock and wait (or report busy) for nothing
//! (docs/PROTOCOL.md, "Fork": a probe lets go with `flock(LOCK_UN)` before it closes the file).
//! Found under qemu-aarch64, where a child's way from fork to exec is long.
//!
//! Made deterministic: strace holds the inspecting thread for a while right after its flock
//! (`inject=flock:delay_exit`), the test sees that flock in /proc/locks and forks then, so the
//! child certainly has a copy of the descriptor while the flock is held.

// Linux only: strace, /proc/locks.
#![cfg(target_os = "linux")]

mod common;

use common::{dead_pid, flocked, strace_or_skip, try_in_process, until, HeldAfterFlock, TempDir};
use session_write_lock::inspect;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

const STALE: Duration = Duration::from_secs(30 * 60);

#[test]
fn a_child_forked_meanwhile_does_not_keep_an_inspections_flock() {
    if !strace_or_skip("fork_race::a_child_forked_meanwhile_does_not_keep_an_inspections_flock") {
        return;
    }
    let dir = TempDir::new("fork-race");
    let file = dir.join("s.jsonl");
    let lock = dir.join("s.jsonl.lock");
    // A TypeScript-format lock of a dead process: stale by its pid alone.
    let payload = format!(
        r#"{{"pid":{},"createdAt":"2099-01-01T00:00:00.000Z"}}"#,
        dead_pid()
    );
    std::fs::write(&lock, payload).unwrap();
    let ino = std::fs::metadata(&lock).unwrap().ino();

    let inspecting = HeldAfterFlock::run({
        let file = file.clone();
        move || inspect(&file, STALE)
    });
    until("the inspection holds the lock file's flock", || {
        flocked(ino)
    });
    // Forked from this thread while the inspection's descriptor is flocked: the child has a
    // copy of it, and keeps it until it exits (a slow way to exec).
    // SAFETY: the child only sleeps and exits.
    let child = unsafe { libc::fork() };
    if child == 0 {
        unsafe {
            libc::sleep(30);
            libc::_exit(0);
        }
    }
    assert!(child > 0, "fork failed");
    let seen = inspecting.join().unwrap().unwrap();
    assert!(seen.stale, "{seen:?}");

    // SAFETY: signal 0 only checks that the child (with its copy) is still there.
    assert_eq!(unsafe { libc::kill(child, 0) }, 0, "the child still runs");
    let other_process = try_in_process(&[], &file, 0);
    // SAFETY: the child is ours to stop and reap.
    unsafe {
        libc::kill(child, libc::SIGKILL);
        libc::waitpid(child, std::ptr::null_mut(), 0);
    }
    other_process.expect("another process's single try reclaims the stale lock at once");
}
