//! How waiters are woken (see `docs/PROTOCOL.md`, "Waiting"): by the events that change the
//! answer, not by a timer. Each waiter runs in its own worker process, whose counters then say
//! how it got the lock; the safety re-inspection is set to 60 s there, so only an event (or
//! the one timer armed for an age rule) can explain a prompt acquire. Latencies are printed,
//! never asserted beyond a generous bound.
//!
//! The portable build (`--cfg swl_portable`) has no event source: there each test checks that
//! the same change was found by polling instead, with no more looks than backoff allows.
// Unix-only: inotify, pidfds and /proc handshakes; Windows waiting is tested in tests/multiprocess.rs and tests/windows.rs.
#![cfg(unix)]

mod common;

use common::{
    dead_pid, fdinfos, has_open, polls_within, prefixed_worker, strace_or_skip, until,
    until_watching, waits_on_file, watches_inode, watches_pid, worker, Holder, TempDir,
    POLLING_BUILD,
};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

const NO_SAFETY_TICK: (&str, &str) = ("SESSION_WRITE_LOCK_SAFETY_MS", "60000");
const GENEROUS: Duration = Duration::from_secs(5);

fn monotonic_ns() -> u128 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u128 * 1_000_000_000 + now.tv_nsec as u128
}

fn lock_path(dir: &TempDir) -> PathBuf {
    std::fs::canonicalize(&dir.0).unwrap().join("s.jsonl.lock")
}

/// What a `wait` worker reported once it held the lock.
#[derive(Debug)]
struct Acquired {
    at_ns: u128,
    event_wakeups: u64,
    timer_reinspections: u64,
}

/// A worker process waiting for a lock (`swl-test-worker wait`), maybe run by a wrapper.
struct Waiting {
    child: Child,
    /// The worker's pid: the child's, or under a wrapper the wrapper's only child's.
    pid: u32,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Waiting {
    fn start(file: &Path, stale_ms: u64, env: &[(&str, &str)]) -> Waiting {
        Waiting::start_under(&[], file, stale_ms, env)
    }

    /// Starts `prefix… swl-test-worker wait …`, which must have to wait.
    fn start_under(prefix: &[&str], file: &Path, stale_ms: u64, env: &[(&str, &str)]) -> Waiting {
        let (waiting, first) = Waiting::spawn(prefix, file, stale_ms, env);
        assert_eq!(first, "waiting", "the worker must have to wait");
        waiting
    }

    /// Starts the worker; its first line says whether it had to wait ("waiting") or took the
    /// lock at once ("at-once").
    fn spawn(
        prefix: &[&str],
        file: &Path,
        stale_ms: u64,
        env: &[(&str, &str)],
    ) -> (Waiting, String) {
        let mut child = prefixed_worker(prefix)
            .arg("wait")
            .arg(file)
            .arg("10000")
            .arg(stale_ms.to_string())
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let pid = if prefix.is_empty() {
            child.id()
        } else {
            only_child(child.id())
        };
        let waiting = Waiting {
            child,
            pid,
            stdin,
            stdout,
        };
        (waiting, line.trim().to_owned())
    }

    fn pid(&self) -> u32 {
        self.pid
    }

    fn acquired(&mut self) -> Acquired {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let field = |name: &str| -> u128 {
            line.split_whitespace()
                .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))
                .unwrap_or_else(|| panic!("no {name} in the worker's answer: {line:?}"))
                .parse()
                .unwrap()
        };
        assert!(line.starts_with("acquired "), "{line:?}");
        Acquired {
            at_ns: field("at_ns"),
            event_wakeups: field("event_wakeups") as u64,
            timer_reinspections: field("timer_reinspections") as u64,
        }
    }

    fn finish(mut self) {
        self.stdin.write_all(b"release\n").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "released");
        self.child.wait().unwrap();
    }
}

/// The one child of `pid` (a wrapper such as strace and the worker it runs).
fn only_child(pid: u32) -> u32 {
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
    let pids: Vec<u32> = children
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 1, "{pid} has one child: {pids:?}");
    pids[0]
}

fn report(what: &str, from_ns: u128, got: &Acquired) {
    println!(
        "{what}: acquired {:.3} ms later (event wake-ups {}, timed re-inspections {})",
        (got.at_ns.saturating_sub(from_ns)) as f64 / 1e6,
        got.event_wakeups,
        got.timer_reinspections
    );
    assert!(
        got.at_ns.saturating_sub(from_ns) < GENEROUS.as_nanos(),
        "{what}: took longer than {GENEROUS:?}"
    );
}

/// How the portable build's waiter must have found the change: no event (there is no source),
/// at least one timed look, and no more of them than polling with backoff makes since
/// `started_ns` (taken before the waiter started), plus `timers` armed for age rules.
fn assert_polled(got: &Acquired, started_ns: u128, timers: u64) {
    assert_eq!(got.event_wakeups, 0, "no event source: {got:?}");
    let bound = polls_within(got.at_ns.saturating_sub(started_ns)) + timers;
    assert!(
        (1..=bound).contains(&got.timer_reinspections),
        "found by polling with backoff (at most {bound} timed looks): {got:?}"
    );
}

/// Woken by an event, not by a timer; in the portable build, found by polling instead.
fn assert_woken(got: &Acquired, started_ns: u128) {
    if POLLING_BUILD {
        return assert_polled(got, started_ns, 0);
    }
    assert!(got.event_wakeups >= 1, "woken by an event: {got:?}");
    assert_eq!(got.timer_reinspections, 0, "not by a timer: {got:?}");
}

/// A legacy (TypeScript) lock file of `pid`, created `age` ago.
fn write_legacy(lock: &Path, pid: u32, age: Duration) {
    let created = session_write_lock::testing::iso_time::format(SystemTime::now() - age);
    std::fs::write(lock, format!(r#"{{"pid":{pid},"createdAt":"{created}"}}"#)).unwrap();
}

#[test]
fn a_sigkilled_flock_holder_wakes_the_waiter_by_an_event() {
    let dir = TempDir::new("ev-flock");
    let file = dir.join("s.jsonl");
    let holder = Holder::start(&[], &file);
    let started = monotonic_ns();
    let mut waiter = Waiting::start(&file, 1_800_000, &[NO_SAFETY_TICK]);
    let lock = lock_path(&dir);
    until_watching("the waiter watches the lock file", waiter.pid(), || {
        waits_on_file(waiter.pid(), &lock)
    });
    assert!(
        !watches_pid(waiter.pid(), holder.child.id()),
        "the close answers for a flock holder: its pid is not watched"
    );
    let killed = monotonic_ns();
    holder.kill();
    let got = waiter.acquired();
    report("SIGKILLed flock holder", killed, &got);
    assert_woken(&got, started);
    waiter.finish();
}

/// Where the kernel reports no closes (macOS; switched off here), a flock holder's end on this
/// host is seen through its pid instead, and the path is not polled.
#[test]
fn without_close_events_a_flock_holders_end_is_seen_through_its_pid() {
    let dir = TempDir::new("ev-noclose");
    let file = dir.join("s.jsonl");
    let holder = Holder::start(&[], &file);
    let holder_pid = holder.child.id();
    let env = [NO_SAFETY_TICK, ("SESSION_WRITE_LOCK_NO_CLOSE_EVENTS", "1")];
    let started = monotonic_ns();
    let mut waiter = Waiting::start(&file, 1_800_000, &env);
    let lock = lock_path(&dir);
    until_watching("the waiter watches the holder's pid", waiter.pid(), || {
        if POLLING_BUILD {
            has_open(waiter.pid(), &lock)
        } else {
            watches_pid(waiter.pid(), holder_pid)
        }
    });
    let ino = std::fs::metadata(&lock).unwrap().ino();
    assert!(!watches_inode(waiter.pid(), ino), "no close watch");
    let killed = monotonic_ns();
    holder.kill();
    let got = waiter.acquired();
    report(
        "SIGKILLed flock holder, no close events (pid)",
        killed,
        &got,
    );
    assert_woken(&got, started);
    waiter.finish();
}

#[test]
fn a_legacy_holders_end_wakes_the_waiter_by_an_event() {
    let dir = TempDir::new("ev-legacy");
    let file = dir.join("s.jsonl");
    let lock = lock_path(&dir);
    let mut holder = Command::new("sleep").arg("60").spawn().unwrap();
    write_legacy(&lock, holder.id(), Duration::ZERO);
    let started = monotonic_ns();
    let mut waiter = Waiting::start(&file, 1_800_000, &[NO_SAFETY_TICK]);
    until_watching("the waiter watches the holder's pid", waiter.pid(), || {
        if POLLING_BUILD {
            has_open(waiter.pid(), &lock)
        } else {
            watches_pid(waiter.pid(), holder.id())
        }
    });
    let killed = monotonic_ns();
    holder.kill().unwrap();
    let got = waiter.acquired();
    holder.wait().unwrap();
    report("SIGKILLed legacy holder (pidfd)", killed, &got);
    assert_woken(&got, started);
    waiter.finish();
}

/// A stale lock file whose flock someone else holds for a while (another reclaimer, a child
/// that inherited an inspecting descriptor) is tried again when that flock is let go.
#[test]
fn a_stale_file_is_reclaimed_when_another_process_lets_go_of_its_flock() {
    let dir = TempDir::new("ev-flocked");
    let file = dir.join("s.jsonl");
    let lock = lock_path(&dir);
    write_legacy(&lock, dead_pid(), Duration::ZERO);
    let other = std::fs::File::open(&lock).unwrap();
    // SAFETY: flock on a descriptor we own.
    assert_eq!(
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&other), libc::LOCK_EX) },
        0
    );
    let started = monotonic_ns();
    let mut waiter = Waiting::start(&file, 1_800_000, &[NO_SAFETY_TICK]);
    until_watching("the waiter watches the lock file", waiter.pid(), || {
        waits_on_file(waiter.pid(), &lock)
    });
    let closed = monotonic_ns();
    drop(other);
    let got = waiter.acquired();
    report("flock of a stale file let go", closed, &got);
    assert_woken(&got, started);
    waiter.finish();
}

/// Waiting costs nothing while nothing happens: a second of waiting on a live holder, then its
/// release, takes a handful of wake-ups (no re-inspection loop, no self-inflicted events).
/// Polling (the portable build) costs a look per interval, backing off to four a second.
#[test]
fn waiting_on_a_live_holder_costs_no_wakeups_until_it_lets_go() {
    let dir = TempDir::new("ev-idle");
    let file = dir.join("s.jsonl");
    let holder = Holder::start(&[], &file);
    let started = monotonic_ns();
    let mut waiter = Waiting::start(&file, 1_800_000, &[NO_SAFETY_TICK]);
    let lock = lock_path(&dir);
    until_watching("the waiter watches the lock file", waiter.pid(), || {
        waits_on_file(waiter.pid(), &lock)
    });
    std::thread::sleep(Duration::from_secs(1));
    let released = monotonic_ns();
    holder.release();
    let got = waiter.acquired();
    report("hand-off after 1 s of waiting", released, &got);
    if POLLING_BUILD {
        assert_polled(&got, started, 0);
    } else {
        assert!(
            (1..=4).contains(&got.event_wakeups),
            "a release is one or two events, idle waiting none: {got:?}"
        );
        assert_eq!(got.timer_reinspections, 0, "{got:?}");
    }
    waiter.finish();
}

/// An age rule flips at a known instant: one timer, armed for it, and no look before. Here a
/// malformed legacy file (no pid: a writer may still be filling it) becomes removable once its
/// mtime is past the grace, min(5 s, staleMs) for a short acquire timeout. Polling (the
/// portable build) looks before the instant too, but the file is reclaimed only after it.
#[test]
fn an_age_rule_is_waited_for_by_one_timer_at_its_instant() {
    let dir = TempDir::new("ev-age");
    let file = dir.join("s.jsonl");
    let lock = lock_path(&dir);
    const STALE: Duration = Duration::from_secs(5);
    // Stale after 5 s (so the grace is 5 s); written 5 s - lead ago: removable `lead` after the
    // worker starts, before which the worker must have looked and handed its wait to the lock
    // service. Where starting a worker takes longer (under emulation on a loaded machine), it
    // takes the lock at once or as the service first looks, never before the flip; the test
    // then runs again with a longer lead.
    for lead in [400, 1_600, 4_000].map(Duration::from_millis) {
        let created = session_write_lock::testing::iso_time::format(SystemTime::now());
        std::fs::write(&lock, format!(r#"{{"createdAt":"{created}"}}"#)).unwrap();
        let started = monotonic_ns();
        let f = std::fs::File::options().write(true).open(&lock).unwrap();
        f.set_modified(SystemTime::now() - (STALE - lead)).unwrap();
        drop(f);
        let flips_ns = started + lead.as_nanos(); // the flip is no earlier
        let (mut waiter, first) =
            Waiting::spawn(&[], &file, STALE.as_millis() as u64, &[NO_SAFETY_TICK]);
        let got = waiter.acquired();
        waiter.finish();
        assert!(
            got.at_ns + 5_000_000 >= flips_ns,
            "reclaimed {} ms before the rule allows ({first})",
            (flips_ns - got.at_ns) / 1_000_000
        );
        if first == "at-once" || got.timer_reinspections + got.event_wakeups == 0 {
            println!("the worker looked only after the flip ({lead:?} lead); again, longer");
            continue;
        }
        assert_eq!(first, "waiting");
        report("malformed legacy lock past its grace", started, &got);
        if POLLING_BUILD {
            // Looks before the flip found it not yet removable; the flip's own timer is one more.
            assert_polled(&got, started, 1);
        } else {
            assert!(
                (1..=2).contains(&got.timer_reinspections),
                "one timer at the flip: {got:?}"
            );
        }
        return;
    }
    panic!("the worker never waited for the flip, even 4 s after its start");
}

#[test]
fn without_inotify_waiters_poll_and_still_acquire() {
    let dir = TempDir::new("ev-noinotify");
    let file = dir.join("s.jsonl");
    let lock = lock_path(&dir);
    let holder = Holder::start(&[], &file);
    let env = [NO_SAFETY_TICK, ("SESSION_WRITE_LOCK_NO_INOTIFY", "1")];
    let mut waiter = Waiting::start(&file, 1_800_000, &env);
    until_watching("the waiter keeps the lock file open", waiter.pid(), || {
        has_open(waiter.pid(), &lock)
    });
    assert!(
        fdinfos(waiter.pid(), "anon_inode:inotify").is_empty(),
        "inotify is switched off"
    );
    let killed = monotonic_ns();
    holder.kill();
    let got = waiter.acquired();
    report("SIGKILLed holder, polling", killed, &got);
    assert_eq!(got.event_wakeups, 0, "{got:?}");
    assert!(got.timer_reinspections >= 1, "found by polling: {got:?}");
    waiter.finish();
}

/// Waiters of one process on one path get it in the order they asked.
#[test]
fn waiters_on_one_path_are_served_in_arrival_order() {
    use session_write_lock::{begin_acquire, Acquisition, Options};
    let dir = TempDir::new("ev-fifo");
    let file = dir.join("s.jsonl");
    let holder = Holder::start(&[], &file);
    let served = Arc::new(Mutex::new(Vec::new()));
    let options = Options {
        timeout: Some(Duration::from_secs(10)),
        allow_reentrant: false,
        ..Options::default()
    };
    for i in 0..8 {
        let served = Arc::clone(&served);
        let on_wait = move || {
            move |result: Result<session_write_lock::LockGuard, session_write_lock::Error>| {
                // The guard is dropped at once: the next waiter's turn.
                served.lock().unwrap().push((i, result.is_ok()));
            }
        };
        let acquisition = begin_acquire(&file, &options, on_wait);
        assert!(
            matches!(acquisition, Acquisition::Waiting),
            "waiter {i} waits"
        );
    }
    holder.release();
    until("every waiter was served", || {
        served.lock().unwrap().len() == 8
    });
    let served = served.lock().unwrap().clone();
    assert_eq!(served, (0..8).map(|i| (i, true)).collect::<Vec<_>>());
}

/// A lock service that cannot start (no descriptor left) is a clear error naming the lock
/// path, and no lock file is left; once descriptors are free again, acquiring works.
#[test]
fn a_service_that_cannot_start_is_an_error_and_leaves_no_file() {
    let dir = TempDir::new("ev-nofds");
    let file = dir.join("s.jsonl");
    let mut child = worker()
        .arg("no-fds")
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let lock = lock_path(&dir);
    assert!(
        line.starts_with("error EMFILE ") && line.contains(&lock.display().to_string()),
        "a clear error with the path: {line:?}"
    );
    let left: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "nothing left behind: {left:?}");
    stdin.write_all(b"go\n").unwrap();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim(),
        "acquired",
        "with descriptors back, acquiring works"
    );
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `strace -f` failing every `call` of the worker with `errno`: an event source the lock
/// service needs is not to be had (watches or descriptors exhausted, no `pidfd_open`).
fn failing(call: &str, errno: &str) -> Vec<String> {
    ["strace", "-f", "-qq", "-o", "/dev/null", "-e"]
        .map(String::from)
        .into_iter()
        .chain([
            format!("trace={call}"),
            "-e".into(),
            format!("inject={call}:error={errno}"),
        ])
        .collect()
}

/// Found by polling: no event, at least one timed look (docs/PROTOCOL.md: polling where an
/// event source is missing). Its latency is not judged: only how it was found.
fn assert_found_by_polling(what: &str, got: &Acquired) {
    println!("{what}: {got:?}");
    assert_eq!(got.event_wakeups, 0, "no event could say it: {got:?}");
    assert!(got.timer_reinspections >= 1, "found by polling: {got:?}");
}

#[test]
fn when_inotify_watches_run_out_waiters_poll_and_still_acquire() {
    if !strace_or_skip("waiting::when_inotify_watches_run_out") {
        return;
    }
    let dir = TempDir::new("ev-nowatches");
    let file = dir.join("s.jsonl");
    let lock = lock_path(&dir);
    let holder = Holder::start(&[], &file);
    let strace = failing("inotify_add_watch", "ENOSPC");
    let prefix: Vec<&str> = strace.iter().map(String::as_str).collect();
    let mut waiter = Waiting::start_under(&prefix, &file, 1_800_000, &[NO_SAFETY_TICK]);
    until_watching("the waiter keeps the lock file open", waiter.pid(), || {
        has_open(waiter.pid(), &lock)
    });
    holder.kill();
    let got = waiter.acquired();
    assert_found_by_polling("SIGKILLed holder, no inotify watch to be had", &got);
    waiter.finish();
}

/// A legacy holder's end is seen through a pidfd; without one (`pidfd_open` missing, or no
/// descriptor left for it) it is found by polling.
fn legacy_holders_end_found_by_polling_when_pidfd_open_fails(errno: &str) {
    let dir = TempDir::new(&format!("ev-nopidfd-{errno}"));
    let file = dir.join("s.jsonl");
    let lock = lock_path(&dir);
    let mut holder = Command::new("sleep").arg("60").spawn().unwrap();
    write_legacy(&lock, holder.id(), Duration::ZERO);
    let strace = failing("pidfd_open", errno);
    let prefix: Vec<&str> = strace.iter().map(String::as_str).collect();
    let mut waiter = Waiting::start_under(&prefix, &file, 1_800_000, &[NO_SAFETY_TICK]);
    until_watching("the waiter keeps the lock file open", waiter.pid(), || {
        has_open(waiter.pid(), &lock)
    });
    assert!(
        !watches_pid(waiter.pid(), holder.id()),
        "no pidfd ({errno})"
    );
    holder.kill().unwrap();
    let got = waiter.acquired();
    holder.wait().unwrap();
    assert_found_by_polling(
        &format!("SIGKILLed legacy holder, pidfd_open {errno}"),
        &got,
    );
    waiter.finish();
}

#[test]
fn without_pidfd_open_a_legacy_holders_end_is_found_by_polling() {
    if strace_or_skip("waiting::without_pidfd_open") {
        legacy_holders_end_found_by_polling_when_pidfd_open_fails("ENOSYS");
    }
}

#[test]
fn when_descriptors_run_out_a_legacy_holders_end_is_found_by_polling() {
    if strace_or_skip("waiting::when_descriptors_run_out") {
        legacy_holders_end_found_by_polling_when_pidfd_open_fails("EMFILE");
    }
}

/// The caller's try hands the lock file it found busy to the lock service, which judges that
/// file again instead of trying anew: a waiter that times out behind a live holder creates a
/// lock file (its `linkat`) exactly once, whatever the build (docs/PROTOCOL.md, "Waiting").
#[test]
fn a_busy_first_try_is_not_repeated_by_the_service() {
    if !strace_or_skip("a_busy_first_try_is_not_repeated_by_the_service") {
        return;
    }
    let dir = TempDir::new("handover");
    let file = dir.join("s.jsonl");
    let holder = Holder::start(&[], &file);
    let trace = dir.join("trace");
    let trace_arg = trace.to_str().unwrap();
    let out = prefixed_worker(&["strace", "-f", "-qq", "-e", "trace=linkat", "-o", trace_arg])
        .env(NO_SAFETY_TICK.0, NO_SAFETY_TICK.1)
        .arg("try")
        .arg(&file)
        .arg("300")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("busy "), "{stdout}");
    let trace = std::fs::read_to_string(&trace).unwrap();
    let links: Vec<&str> = trace
        .lines()
        .filter(|l| l.contains("linkat(") && l.contains("s.jsonl.lock\""))
        .collect();
    assert_eq!(links.len(), 1, "one try, judged again after: {links:#?}");
    assert!(links[0].contains("EEXIST"), "{links:?}");
    holder.release();
}
