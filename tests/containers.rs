//! Pid-1 "containers": processes in separate pid namespaces (all of them pid 1) sharing one
//! session directory, as gateways in containers on a shared volume do (where pids restart at
//! 1, and a live pid-1 lock of another container must not look like our own).
//! `tests/multiprocess.rs` already shows that a live pid-1 lock is not stolen by another pid-1
//! process and that a dead one is reclaimed; here: an in-process restart *inside* a pid-1
//! namespace, and a storm of pid-1 processes with pid-1 holders SIGKILLed while holding.
//! Needs `unshare --pid` (root on Linux); every test says SKIPPED loudly without it.
// Unix-only: pid namespaces (`unshare --pid`); Windows has none.
#![cfg(unix)]

mod common;

use common::{
    finish_within, pid_namespace_prefix, prefixed_worker, skip, try_in_process, Holder,
    StormCounts, TempDir,
};
use session_write_lock::{acquire, inspect, Options};
use std::process::Stdio;
use std::time::{Duration, Instant};

const STALE: Duration = Duration::from_secs(30 * 60);

fn namespaces(test: &str) -> Option<Vec<&'static str>> {
    let prefix = pid_namespace_prefix();
    if prefix.is_none() {
        skip(
            test,
            "unshare unavailable (`unshare --pid` needs root on Linux)",
        );
    }
    prefix
}

#[test]
fn a_restart_inside_a_pid_one_container_takes_over_and_stays_live_for_others() {
    let Some(prefix) = namespaces("containers::restart") else {
        return;
    };
    let dir = TempDir::new("ns-restart");
    let file = dir.join("s.jsonl");

    // The worker acquires, rotates its nonce without releasing, and acquires again with
    // timeout 0; it only says "held" if that worked and the old handle became a no-op.
    let restarted = Holder::start_mode(&prefix, "restart", &file, &[]);
    assert_eq!(restarted.pid_seen_inside, 1, "{}", restarted.first_line);
    println!("pid-1 restart: {}", restarted.first_line);

    let seen = inspect(&file, STALE)
        .unwrap()
        .expect("the restarted lock is there");
    assert_eq!(
        (seen.format.as_str(), seen.pid, seen.pid_alive, seen.stale),
        ("flock", Some(1), true, false),
        "{seen:?}"
    );
    // Same pid (1), another nonce, another pid namespace: another container, alive.
    let err = try_in_process(&prefix, &file, 300)
        .expect_err("a pid-1 process of another namespace must not take the restarted lock");
    assert!(
        err.contains("busy")
            && err.contains("pid=1 alive=true")
            && err.contains("(another pid namespace)"),
        "{err}"
    );
    let host_once = Options {
        timeout: Some(Duration::ZERO),
        ..Options::default()
    };
    assert!(
        acquire(&file, &host_once).is_err(),
        "nor may the host namespace"
    );

    let killed_at = Instant::now();
    restarted.kill();
    try_in_process(&prefix, &file, 5_000)
        .expect("once the restarted container is SIGKILLed another pid-1 process gets the lock");
    println!(
        "dead pid-1 holder reclaimed from another namespace {:?} after SIGKILL (includes unshare)",
        killed_at.elapsed()
    );
    assert!(
        inspect(&file, STALE).unwrap().is_none(),
        "the taker released it"
    );
}

#[test]
fn a_storm_of_pid_one_processes_never_has_two_holders() {
    let Some(prefix) = namespaces("containers::storm") else {
        return;
    };
    let dir = TempDir::new("ns-storm");
    let file = dir.join("s.jsonl");
    let marker = dir.join("inside.marker");
    let (processes, iterations, victims) = (4, 250, 20);
    // No legacy files here: their pids mean nothing across namespaces (PROTOCOL.md, "What the
    // protocol cannot do"). The stale locks are those of pid-1 holders killed while holding.
    let no_legacy = (iterations + 1).to_string();
    let started = Instant::now();
    let workers: Vec<_> = (0..processes)
        .map(|_| {
            prefixed_worker(&prefix)
                .arg("storm")
                .arg(&file)
                .arg(iterations.to_string())
                .arg(&marker)
                .arg(&no_legacy)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut marker_lost = 0;
    for _ in 0..victims {
        let victim = Holder::start_mode(&prefix, "victim", &file, &[&marker]);
        assert_eq!(victim.pid_seen_inside, 1);
        // The victim is inside the critical section: the marker is its, nobody else's.
        if std::fs::remove_file(&marker).is_err() {
            marker_lost += 1;
        }
        victim.kill();
    }
    let mut counts = StormCounts::default();
    for worker in workers {
        counts.add_output(&finish_within(
            worker,
            Duration::from_secs(120),
            "a pid-1 storm worker",
        ));
    }
    println!(
        "pid-1 storm: {processes} pid-1 workers, {} acquisitions + {victims} pid-1 holders SIGKILLed while holding, {} double holders, {:?}",
        counts.acquired,
        counts.violations + marker_lost,
        started.elapsed()
    );
    assert_eq!(counts.acquired, processes * iterations, "lost acquisitions");
    assert_eq!(
        counts.violations, 0,
        "two pid-1 processes held the lock at once"
    );
    assert_eq!(
        marker_lost, 0,
        "someone removed a victim's marker while it held"
    );
}
