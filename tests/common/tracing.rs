//! strace as a test instrument (holding a thread right after its flock) and /proc/locks.

use super::skip;
#[cfg(target_os = "linux")]
use super::until;
#[cfg(unix)]
use std::process::Child;
use std::process::{Command, Stdio};

/// Whether strace can be run; says SKIPPED (a failure under CI) when it cannot.
pub fn strace_or_skip(test: &str) -> bool {
    let there = Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !there {
        skip(
            test,
            "strace is not installed (scripts/test.sh installs it)",
        );
    }
    there
}

/// A thread whose first `flock(2)` strace holds for a while right after it returns
/// (`inject=flock:delay_exit`, that thread only, not its children): a test can act while the
/// library holds a flock it took to look at or reclaim a file. Needs strace (see
/// [`strace_or_skip`]).
#[cfg(unix)]
pub struct HeldAfterFlock<T> {
    thread: std::thread::JoinHandle<T>,
    strace: Child,
}

/// How long strace holds the thread: only a bound on how long the test may take to act.
#[cfg(target_os = "linux")]
const HELD_AFTER_FLOCK_US: u32 = 3_000_000;

#[cfg(target_os = "linux")]
#[cfg(unix)]
impl<T: Send + 'static> HeldAfterFlock<T> {
    /// Starts `work` on a new thread once strace has attached to it.
    pub fn run(work: impl FnOnce() -> T + Send + 'static) -> HeldAfterFlock<T> {
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            let _ = tid_tx.send(unsafe { libc::gettid() });
            let _ = go_rx.recv();
            work()
        });
        let tid = tid_rx.recv().unwrap();
        let strace = Command::new("strace")
            .args(["-qq", "-o", "/dev/null", "-e", "trace=flock", "-e"])
            .arg(format!(
                "inject=flock:delay_exit={HELD_AFTER_FLOCK_US}:when=1"
            ))
            .args(["-p", &tid.to_string()])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        until("strace attached to the thread", || traced(tid));
        go_tx.send(()).unwrap();
        HeldAfterFlock { thread, strace }
    }

    /// Waits for the thread's work and stops strace.
    pub fn join(mut self) -> T {
        let result = self.thread.join().unwrap();
        let _ = self.strace.kill();
        let _ = self.strace.wait();
        result
    }
}

/// Whether thread `tid` of this process is traced.
#[cfg(target_os = "linux")]
fn traced(tid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("TracerPid:") && l.split_whitespace().nth(1) != Some("0"))
    })
}

/// /proc/locks lists a FLOCK on the inode `ino` (its lines name it as `maj:min:ino`).
#[cfg(unix)]
pub fn flocked(ino: u64) -> bool {
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
