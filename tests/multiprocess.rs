//! Several processes on one lock: exclusion under a stale-lock storm, a SIGKILLed holder,
//! hand-off latency, and pid-1 "containers" in separate pid namespaces.

mod common;

use common::{
    counters_to_myself, wait_until_waiting, worker, Holder, StormCounts, TempDir, POLLING_BUILD,
};
#[cfg(unix)]
use common::{pid_namespace_prefix, try_in_process, until_watching, waits_on_file};
use session_write_lock::testing::stats::{stats, Stats};
use session_write_lock::{acquire, Options};
use std::time::{Duration, Instant};

fn waiting(timeout: Duration) -> Options {
    Options {
        timeout: Some(timeout),
        allow_reentrant: false,
        ..Options::default()
    }
}

/// The handshake before changing the lock of `dir` this process waits for: its lock service
/// watches the file and sleeps. Returns the counters then.
#[cfg(unix)]
fn until_the_service_watches(dir: &TempDir) -> Stats {
    let lock = std::fs::canonicalize(&dir.0).unwrap().join("s.jsonl.lock");
    let me = std::process::id();
    until_watching("the lock service watches the lock file", me, || {
        waits_on_file(me, &lock)
    });
    stats()
}

/// The handshake on Windows, which shows no thread's state: the lock service's poller sleeps
/// waiting on the lock's directory and its holder's process. Returns the counters then.
#[cfg(windows)]
fn until_the_service_watches(_dir: &TempDir) -> Stats {
    let watching = || session_write_lock::testing::stats::poller_asleep_with_sources() >= Some(2);
    common::until(
        "the lock service sleeps watching the directory and the holder",
        watching,
    );
    stats()
}

/// Since `before`, this process's waiter was woken by an event (`what`) and not by a timed
/// look; in the portable build, which has no event source, found by polling instead.
fn assert_found_by_event(before: Stats, what: &str) {
    let after = stats();
    if POLLING_BUILD {
        assert_eq!(
            after.event_wakeups, before.event_wakeups,
            "{before:?} -> {after:?}"
        );
        assert!(
            after.timer_reinspections > before.timer_reinspections,
            "{what} found by polling: {before:?} -> {after:?}"
        );
    } else {
        assert!(
            after.event_wakeups > before.event_wakeups,
            "woken by an event, {what}: {before:?} -> {after:?}"
        );
        assert_eq!(
            after.timer_reinspections, before.timer_reinspections,
            "{what} not found by a timed look: {before:?} -> {after:?}"
        );
    }
}

#[test]
fn storm_of_six_processes_never_has_two_holders() {
    let dir = TempDir::new("storm");
    let file = dir.join("s.jsonl");
    let marker = dir.join("inside.marker");
    let (processes, iterations) = (6, 500);
    let started = Instant::now();
    let children: Vec<_> = (0..processes)
        .map(|_| {
            worker()
                .arg("storm")
                .arg(&file)
                .arg(iterations.to_string())
                .arg(&marker)
                .arg("5")
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut counts = StormCounts::default();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "worker failed: {out:?}");
        counts.add_output(&String::from_utf8(out.stdout).unwrap());
    }
    println!(
        "storm: {processes} processes, {} acquisitions, {} stale legacy locks left behind, {} double holders, {:?}",
        counts.acquired,
        counts.stale_left,
        counts.violations,
        started.elapsed()
    );
    assert_eq!(
        counts.acquired,
        processes * iterations,
        "every acquisition completed"
    );
    assert!(
        counts.stale_left > 0,
        "the workers left stale legacy locks to reclaim: {counts:?}"
    );
    assert_eq!(counts.violations, 0, "two processes held the lock at once");
}

#[test]
fn a_sigkilled_holder_is_detected_by_a_waiter() {
    let dir = TempDir::new("sigkill");
    let file = dir.join("s.jsonl");
    let holder = Holder::start(&[], &file);
    let _counters = counters_to_myself();
    let before = stats().waits;
    let waiter = std::thread::spawn({
        let file = file.clone();
        move || acquire(&file, &waiting(Duration::from_secs(10))).map(|_| Instant::now())
    });
    wait_until_waiting(before);
    let before = until_the_service_watches(&dir);
    let killed_at = Instant::now();
    holder.kill();
    let acquired_at = waiter
        .join()
        .unwrap()
        .expect("waiter gets the lock of a dead holder");
    // The kernel dropped the dead holder's flock as its descriptor closed, and that close is
    // an event (the stale time is 30 min: no age rule can explain it).
    assert_found_by_event(before, "the close of the dead holder's file");
    println!(
        "dead holder detected after {:?}",
        acquired_at.duration_since(killed_at)
    );
}

#[test]
fn a_release_in_another_process_wakes_the_waiter() {
    let dir = TempDir::new("handoff");
    let file = dir.join("s.jsonl");
    let holder = Holder::start(&[], &file);
    let err = acquire(&file, &waiting(Duration::ZERO))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("pid={}", holder.child.id())),
        "owner named: {err}"
    );
    let _counters = counters_to_myself();
    let before = stats().waits;
    let waiter = std::thread::spawn({
        let file = file.clone();
        move || acquire(&file, &waiting(Duration::from_secs(10))).map(|_| Instant::now())
    });
    // The waiter found the lock busy and waits: the release below is what it must notice.
    wait_until_waiting(before);
    let before = until_the_service_watches(&dir);
    let released_at = Instant::now();
    holder.release();
    let acquired_at = waiter
        .join()
        .unwrap()
        .expect("waiter gets the released lock");
    assert_found_by_event(before, "the release");
    println!(
        "hand-off after {:?} (includes the holder's pipe round trip)",
        acquired_at.duration_since(released_at)
    );
}

#[cfg(unix)]
#[test]
fn pid_one_containers_never_steal_a_live_lock() {
    let Some(prefix) = pid_namespace_prefix() else {
        common::skip(
            "pid_one_containers_never_steal_a_live_lock",
            "`unshare --pid` is not available (needs root on Linux)",
        );
        return;
    };
    let dir = TempDir::new("pidns");
    let file = dir.join("s.jsonl");
    let first = Holder::start(&prefix, &file);
    assert_eq!(
        first.pid_seen_inside, 1,
        "the holder runs as pid 1 in its namespace"
    );
    let err = try_in_process(&prefix, &file, 300)
        .expect_err("a second pid-1 container must not take a live lock");
    assert!(err.contains("busy") && err.contains("pid=1"), "{err}");
    assert!(
        acquire(&file, &waiting(Duration::ZERO)).is_err(),
        "the host namespace must not take it either"
    );
    first.kill();
    try_in_process(&prefix, &file, 2_000)
        .expect("once the first container is gone the second gets the lock");
}
