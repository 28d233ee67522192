//! A child forked by another thread shares this process's open files until it execs or exits.
//! The flock an inspection takes only to look must not stay held by such a child: other
//! processes would see a live holder on a stale lock and wait (or report busy) for nothing
//! (docs/PROTOCOL.md, "Fork": a probe lets go with `flock(LOCK_UN)` before it closes the file).
//! Found under qemu-aarch64, where a child's way from fork to exec is long.
//!
//! Made deterministic: strace holds the inspecting thread for a while right after its flock
//! (`inject=flock:delay_exit`), the test sees that flock in /proc/locks and forks then, so the
//! child certainly has a copy of the descriptor while the flock is held.

mod common;

use common::{dead_pid, strace_or_skip, try_in_process, until, TempDir};
use session_write_lock::inspect;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::Duration;

const STALE: Duration = Duration::from_secs(30 * 60);
/// How long strace holds the inspecting thread after its first flock: the test only has to
/// notice the flock in /proc/locks and fork meanwhile (a bound, not a measurement).
const HELD_FOR_US: u32 = 3_000_000;

/// /proc/locks lists a FLOCK on the inode `ino` (its lines end in `maj:min:ino start end`).
fn flocked(ino: u64) -> bool {
    let suffix = format!(":{ino}");
    std::fs::read_to_string("/proc/locks").is_ok_and(|locks| {
        locks.lines().any(|l| {
            l.contains("FLOCK")
                && l.split_whitespace()
                    .nth(5)
                    .is_some_and(|f| f.ends_with(&suffix))
        })
    })
}

/// The kernel id of the calling thread.
fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

/// Whether thread `tid` of this process is traced (strace has attached).
fn traced(tid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("TracerPid:") && l.split_whitespace().nth(1) != Some("0"))
    })
}

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

    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let inspecting = std::thread::spawn({
        let file = file.clone();
        move || {
            tid_tx.send(gettid()).unwrap();
            go_rx.recv().unwrap();
            inspect(&file, STALE)
        }
    });
    let tid = tid_rx.recv().unwrap();
    // Without -f: only the inspecting thread is traced, not the child forked below.
    let mut strace = Command::new("strace")
        .args(["-qq", "-o", "/dev/null", "-e", "trace=flock", "-e"])
        .arg(format!("inject=flock:delay_exit={HELD_FOR_US}:when=1"))
        .args(["-p", &tid.to_string()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    until("strace attached to the inspecting thread", || traced(tid));
    go_tx.send(()).unwrap();
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
    let seen = inspecting.join().unwrap().unwrap().unwrap();
    let _ = strace.kill();
    let _ = strace.wait();
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
