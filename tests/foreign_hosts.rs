//! Holders this machine cannot see as its own (docs/PROTOCOL.md, "Is the holder gone?", files
//! written by this library): one on "another host" (another boot id and hostname, as on a shared
//! network volume), judged by its heartbeat; and one without `/proc` (no boot id, start time or pid
//! namespace), judged by hostname and flock. Workers run in mount (and UTS) namespaces: a bind
//! mount over `/proc/sys/kernel/random/boot_id`, or an empty tmpfs over `/proc`. Needs root for
//! `unshare -m`; without it each test says SKIPPED loudly.
// Unix-only: root and setpriv for unprivileged holders.
#![cfg(unix)]

mod common;

use common::{is_root, skip, try_in_process, Holder, TempDir};
use session_write_lock::{acquire, inspect, Error, Options, StaleReason};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// Staleness for the other host's heartbeat: ten of its heartbeats (100 ms).
const STALE: Duration = Duration::from_millis(1500);

/// Whether this process may make mount and UTS namespaces (root, and not forbidden here).
fn namespaces_or_skip(test: &str) -> bool {
    let works = is_root()
        && Command::new("unshare")
            .args(["-m", "-u", "true"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !works {
        skip(test, "`unshare -m -u` is not allowed (needs root on Linux)");
    }
    works
}

fn options(timeout: Duration) -> Options {
    Options {
        timeout: Some(timeout),
        stale: STALE,
        ..Options::default()
    }
}

fn payload(lock: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(lock).unwrap()).unwrap()
}

fn mtime_age(lock: &Path) -> Duration {
    let mtime = std::fs::metadata(lock).unwrap().modified().unwrap();
    SystemTime::now().duration_since(mtime).unwrap_or_default()
}

#[test]
fn another_hosts_holder_is_judged_by_its_heartbeat() {
    if !namespaces_or_skip("foreign_hosts::another_host") {
        return;
    }
    let dir = TempDir::new("other-host");
    let boot_id = dir.join("boot_id");
    std::fs::write(&boot_id, "00000000-0000-4000-8000-0000000000aa\n").unwrap();
    let script = format!(
        "mount --bind '{}' /proc/sys/kernel/random/boot_id && hostname other-host && \
         SESSION_WRITE_LOCK_HEARTBEAT_MS=100 exec \"$0\" \"$@\"",
        boot_id.display()
    );
    let file = dir.join("s.jsonl");
    let lock = dir.join("s.jsonl.lock");
    let holder = Holder::start(&["unshare", "-m", "-u", "sh", "-c", &script], &file);
    let written = payload(&lock);
    assert_eq!(
        (written["bootId"].as_str(), written["hostname"].as_str()),
        (
            Some("00000000-0000-4000-8000-0000000000aa"),
            Some("other-host")
        ),
        "{written}"
    );

    // Alive: its heartbeat keeps the file fresh although we wait longer than STALE.
    let waited = 2 * STALE;
    let started = Instant::now();
    match acquire(&file, &options(waited)) {
        Err(e @ Error::Busy { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains(&format!("pid={} alive=true ageMs=", holder.pid_seen_inside))
                    && message.contains(" host=other-host "),
                "{message}"
            );
        }
        other => panic!("a live holder on another host must be kept: {other:?}"),
    }
    assert!(started.elapsed() >= waited);
    let seen = inspect(&file, STALE).unwrap().unwrap();
    assert!(!seen.stale, "the heartbeat keeps it fresh: {seen:?}");

    // Gone: once its heartbeat is older than the stale time the file is reclaimed, not before.
    // Not before: judged with a stale time far longer than the heartbeat's age can be by then
    // (however loaded the machine), a dead holder's file is still busy.
    holder.kill();
    let patient = Options {
        stale: Duration::from_secs(600),
        ..options(Duration::ZERO)
    };
    assert!(mtime_age(&lock) < patient.stale);
    match acquire(&file, &patient) {
        Err(Error::Busy { .. }) => {}
        other => panic!("reclaimed before the heartbeat expired: {other:?}"),
    }
    let guard = acquire(&file, &options(Duration::from_secs(10)))
        .expect("an expired heartbeat is reclaimed within the deadline");
    assert!(mtime_age(guard.lock_path()) < STALE);
    assert_eq!(payload(&lock)["pid"], std::process::id());
}

#[test]
fn without_proc_the_hostname_and_the_flock_decide() {
    if !namespaces_or_skip("foreign_hosts::no_proc") {
        return;
    }
    let dir = TempDir::new("no-proc");
    let no_proc: &[&str] = &[
        "unshare",
        "-m",
        "sh",
        "-c",
        "mount -t tmpfs none /proc && exec \"$0\" \"$@\"",
    ];
    let file = dir.join("s.jsonl");
    let lock = dir.join("s.jsonl.lock");

    let holder = Holder::start(no_proc, &file);
    let written = payload(&lock);
    let hostname = session_write_lock::testing::ProcessIdentity::current().hostname;
    assert_eq!(written["hostname"].as_str(), Some(hostname.as_str()));
    for absent in ["bootId", "starttime", "pidNs"] {
        assert!(
            written.get(absent).is_none(),
            "{absent} without /proc: {written}"
        );
    }
    // Same hostname, no boot id: the same kernel, so the held flock says "alive".
    let err = acquire(&file, &options(Duration::ZERO)).expect_err("held");
    assert!(
        err.to_string()
            .contains(&format!("pid={} ", holder.pid_seen_inside))
            && !err.to_string().contains("host="),
        "{err}"
    );
    try_in_process(no_proc, &file, 300).expect_err("held, also seen without /proc");
    holder.kill();
    let seen = inspect(&file, STALE).unwrap().unwrap();
    assert_eq!(seen.stale_reasons, [StaleReason::HolderExited], "{seen:?}");
    let guard = acquire(&file, &options(Duration::from_secs(5))).expect("the flock was dropped");

    // And the other way round: a process without /proc waits for us, then takes it.
    let err = try_in_process(no_proc, &file, 300).expect_err("we hold it");
    assert!(
        err.contains(&format!("pid={}", std::process::id())),
        "{err}"
    );
    drop(guard);
    try_in_process(no_proc, &file, 0).expect("free again");
}
