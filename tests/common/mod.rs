//! Shared by the integration tests: temp directories and worker processes.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

#[path = "../worker/src/pids.rs"]
mod pids;
#[allow(unused_imports)] // each test binary uses its own subset
pub use pids::dead_pid;

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "swl-{tag}-{}-{:08x}",
            std::process::id(),
            rand_u32()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_u32() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

/// The test worker binary (the non-published workspace member `tests/worker`): `SWL_TEST_WORKER`
/// when set, else `swl-test-worker` in the target directory these tests were built into.
/// `cargo test --workspace` builds it (its own crate has a test that runs it).
pub fn worker_path() -> PathBuf {
    if let Some(path) = std::env::var_os("SWL_TEST_WORKER") {
        return PathBuf::from(path);
    }
    // This test binary is <target>/<profile>/deps/<name>-<hash>.
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join(format!("swl-test-worker{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p swl-test-worker` (or run `cargo test --workspace`)",
        path.display()
    );
    path
}

pub fn worker() -> Command {
    Command::new(worker_path())
}

/// `prefix… swl-test-worker`: the worker run under a wrapper such as `unshare …` or
/// `setpriv …` (no wrapper when `prefix` is empty).
pub fn prefixed_worker(prefix: &[&str]) -> Command {
    let worker_path = worker_path();
    match prefix.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(worker_path);
            c
        }
        None => Command::new(worker_path),
    }
}

#[cfg(unix)]
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// How to run a command without root's powers over files: as root, `setpriv` to nobody
/// (65534); as anyone else, as is (`[]`). `None` (after a loud skip) when root has no setpriv.
#[cfg(unix)]
pub fn unprivileged_prefix(test: &str) -> Option<&'static [&'static str]> {
    if !is_root() {
        return Some(&[]);
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        skip(test, "running as root and setpriv is missing");
        return None;
    }
    Some(&[
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ])
}

/// A loud skip. Under CI (`CI=true`) or `SWL_REQUIRE_ALL=1` a skip is a failure: it panics.
/// Elsewhere it prints to stderr directly (the harness captures `eprintln!` of passing tests)
/// and moves the test from "passed" to "skipped" in the test command's summary (the harness
/// still reports it "ok").
pub fn skip(test: &str, why: &str) {
    let required = std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("SWL_REQUIRE_ALL").is_ok_and(|v| v == "1");
    if required {
        panic!("SKIPPED {test}: {why} (a skip is a failure under CI=true or SWL_REQUIRE_ALL=1)");
    }
    let _ = writeln!(std::io::stderr(), "!!! SKIPPED {test}: {why} !!!");
    if let Some(summary) = std::env::var_os("SWL_SUMMARY") {
        // The format of scripts/lib.sh's swl_record; one short O_APPEND write is atomic.
        let line = format!("Rust skip {test}\t-1\t0\t1\n");
        let _ = std::fs::OpenOptions::new()
            .append(true)
            .open(summary)
            .and_then(|mut f| f.write_all(line.as_bytes()));
    }
}

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

/// A worker process holding the lock of `file` until `release()` or kill.
pub struct Holder {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    pub pid_seen_inside: u32,
    /// The worker's `held …` line, with whatever figures the mode adds.
    pub first_line: String,
}

impl Holder {
    /// Starts `prefix… swl-test-worker hold FILE` and waits until it holds the lock.
    pub fn start(prefix: &[&str], file: &Path) -> Holder {
        Holder::start_mode(prefix, "hold", file, &[])
    }

    /// Starts `prefix… swl-test-worker MODE FILE EXTRA…` for a mode that prints `held <pid> …`
    /// once it holds the lock (`hold`, `restart`, `victim`) and waits for that line.
    pub fn start_mode(prefix: &[&str], mode: &str, file: &Path, extra: &[&Path]) -> Holder {
        let mut child = prefixed_worker(prefix)
            .arg(mode)
            .arg(file)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let pid_seen_inside = line
            .strip_prefix("held ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|pid| pid.parse().ok())
            .unwrap_or_else(|| panic!("{mode} worker did not hold: {line:?}"));
        Holder {
            child,
            stdin,
            stdout,
            pid_seen_inside,
            first_line: line.trim().to_string(),
        }
    }

    /// Asks the holder to release and waits until it says it did.
    pub fn release(mut self) {
        let mut stdin = self.stdin.take().unwrap();
        stdin.write_all(b"release\n").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "released");
        self.child.wait().unwrap();
    }

    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// Runs `prefix… swl-test-worker try FILE TIMEOUT_MS`; Ok on acquisition, Err(message) if busy.
pub fn try_in_process(prefix: &[&str], file: &Path, timeout_ms: u64) -> Result<(), String> {
    let mut command = prefixed_worker(prefix);
    let out = command
        .arg("try")
        .arg(file)
        .arg(timeout_ms.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && text == "acquired" {
        Ok(())
    } else {
        Err(format!("{text} {}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// `unshare --pid --fork --kill-child --mount-proc`, when this machine lets us (root, Linux).
pub fn pid_namespace_prefix() -> Option<Vec<&'static str>> {
    let prefix = vec!["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"];
    let ok = Command::new(prefix[0])
        .args(&prefix[1..])
        .arg("true")
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(prefix)
}

/// The figures a `storm` worker prints (`acquired=N violations=V stale_left=S`), summed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StormCounts {
    pub acquired: usize,
    pub violations: usize,
    pub stale_left: usize,
}

impl StormCounts {
    pub fn add_output(&mut self, stdout: &str) {
        for field in stdout.split_whitespace() {
            let slot = match field.split_once('=') {
                Some(("acquired", n)) => (&mut self.acquired, n),
                Some(("violations", n)) => (&mut self.violations, n),
                Some(("stale_left", n)) => (&mut self.stale_left, n),
                _ => continue,
            };
            *slot.0 += slot.1.parse::<usize>().expect("a count");
        }
    }
}

/// Waits for `child` to exit, killing it and failing the test if it takes longer than
/// `limit`: a hang becomes a failure instead of a stuck test run. Returns its stdout.
pub fn finish_within(mut child: Child, limit: std::time::Duration, what: &str) -> String {
    let status = finish_status_within(&mut child, limit, what);
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        std::io::Read::read_to_string(&mut out, &mut stdout).unwrap();
    }
    assert!(status.success(), "{what} failed: {status} {stdout}");
    stdout
}

/// Waits for `child` to exit and returns how it did; kills it and fails the test after `limit`.
pub fn finish_status_within(
    child: &mut Child,
    limit: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Serialises the tests of one binary that read the process-wide counters
/// (`session_write_lock::stats`) while they wait, so that another test's wait cannot pass
/// for theirs. A failed test poisons nothing here: the guard is taken through the poison.
pub fn counters_to_myself() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The handshake "the waiter is waiting": returns once more acquires than `before` (a
/// `stats().waits` taken before starting the waiter) have found the lock busy and been handed
/// to the lock service. Fails the test after 10 s instead of hanging.
pub fn wait_until_waiting(before: u64) {
    let started = std::time::Instant::now();
    while session_write_lock::stats::stats().waits <= before {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the waiter never started waiting"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

// Handshakes with the lock service of a process, read from /proc (Linux).

/// Polls `ready` until it holds (failing the test after a generous bound).
pub fn until(what: &str, mut ready: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "timed out waiting until {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The handshake before a test changes a waited-on lock: `watching` holds (the lock service
/// of `pid` has set up what it waits with), and then that service sleeps in its poller. The
/// look that follows a new watch is then over, so whatever the test does next can only be
/// found by an event or a timer, never by that look.
#[cfg(unix)]
pub fn until_watching(what: &str, pid: u32, watching: impl FnMut() -> bool) {
    until(what, watching);
    until("the lock service sleeps in its poller", || {
        service_sleeps_in_poller(pid)
    });
}

/// `pid`'s lock service thread (named `session-write-lock`) is asleep in epoll_wait or poll:
/// by the number of the system call it is blocked in, or, under qemu-user, where that number
/// is the host's, by the kernel function it sleeps in (ep_poll, do_sys_poll, …).
#[cfg(unix)]
pub fn service_sleeps_in_poller(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    let read = |task: &std::path::Path, name: &str| std::fs::read_to_string(task.join(name));
    tasks.flatten().map(|t| t.path()).any(|task| {
        read(&task, "comm").is_ok_and(|c| c.trim() == SERVICE_COMM)
            && (read(&task, "syscall").is_ok_and(|s| {
                s.split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<libc::c_long>().ok())
                    .is_some_and(|n| POLLERS.contains(&n))
            }) || read(&task, "wchan").is_ok_and(|w| w.contains("poll")))
    })
}

/// The service thread's name as /proc shows it: cut to 15 bytes.
#[cfg(unix)]
const SERVICE_COMM: &str = "session-write-l";

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
const POLLERS: &[libc::c_long] = &[
    libc::SYS_epoll_wait,
    libc::SYS_epoll_pwait,
    libc::SYS_poll,
    libc::SYS_ppoll,
];
#[cfg(all(target_os = "linux", not(target_arch = "x86_64")))]
const POLLERS: &[libc::c_long] = &[libc::SYS_epoll_pwait, libc::SYS_ppoll]; // all arm64 has
#[cfg(not(target_os = "linux"))]
const POLLERS: &[libc::c_long] = &[]; // /proc's syscall file is Linux's

/// The `/proc/<pid>/fdinfo` texts of `pid`'s descriptors whose link reads `kind`.
#[cfg(unix)]
pub fn fdinfos(pid: u32, kind: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy() == kind))
        .filter_map(|e| {
            std::fs::read_to_string(format!(
                "/proc/{pid}/fdinfo/{}",
                e.file_name().to_string_lossy()
            ))
            .ok()
        })
        .collect()
}

/// `pid`'s inotify instance watches the inode `ino`.
#[cfg(unix)]
pub fn watches_inode(pid: u32, ino: u64) -> bool {
    let needle = format!(" ino:{ino:x} ");
    fdinfos(pid, "anon_inode:inotify")
        .iter()
        .any(|info| info.contains(&needle))
}

/// Built with the `portable` feature: no file event sources (as on macOS and FreeBSD without
/// kqueue), so the lock service polls every waited-on path, 10 ms doubling to 250 ms
/// (docs/PROTOCOL.md, "Platforms").
pub const POLLING_BUILD: bool = cfg!(feature = "portable");

/// `pid`'s lock service waits on the lock file at `lock`: its inotify instance watches the
/// file's inode; in the portable build, which has nothing to watch with, it keeps the file it
/// inspected open and polls.
#[cfg(unix)]
pub fn waits_on_file(pid: u32, lock: &Path) -> bool {
    if POLLING_BUILD {
        return has_open(pid, lock);
    }
    std::fs::metadata(lock)
        .is_ok_and(|m| watches_inode(pid, std::os::unix::fs::MetadataExt::ino(&m)))
}

/// The most timed looks polling can make in `ns` nanoseconds from the moment a path is first
/// polled: timers fire no earlier than due, 10 ms after the first look, then doubling up to
/// one every 250 ms.
pub fn polls_within(ns: u128) -> u64 {
    let (mut due, mut interval, mut polls) = (0u128, 10_000_000u128, 0);
    loop {
        due += interval;
        if due > ns {
            return polls;
        }
        polls += 1;
        interval = (interval * 2).min(250_000_000);
    }
}

/// `pid` holds a pidfd of `target`.
#[cfg(unix)]
pub fn watches_pid(pid: u32, target: u32) -> bool {
    let needle = format!("Pid:\t{target}\n");
    fdinfos(pid, "anon_inode:[pidfd]")
        .iter()
        .any(|info| info.contains(&needle))
}

/// `pid` has `path` open.
#[cfg(unix)]
pub fn has_open(pid: u32, path: &Path) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l == path))
    })
}
