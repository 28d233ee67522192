//! The gateway's newest behaviours through the Rust API: nesting only when asked (by owner
//! identity or `allow_reentrant`), `assert_owned`, `held_locks` and busy errors that name the
//! blocking hold, the payload's `maxHoldMs`/`owner`, cancelled waits, settings from the
//! environment, and the owner label in `session-lock status`.
// Unix-only: the lock service's sleep read from /proc.
#![cfg(unix)]

mod common;

use common::{service_sleeps_in_poller, try_in_process, until, TempDir};
use session_write_lock::testing::stats::stats;
use session_write_lock::{
    acquire, begin_acquire_cancellable, held_locks, release_all, Acquisition, CancelToken, Error,
    Options, StaleReason,
};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// `release_all` and the environment are process-wide: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn quick() -> Options {
    Options {
        timeout: Some(Duration::from_millis(30)),
        ..Options::default()
    }
}

#[test]
fn no_nesting_by_default_only_with_the_same_owner_or_allow_reentrant() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("nesting");
    let file = dir.join("s.jsonl");
    let run = |owner: Option<&str>, allow: bool| Options {
        reentrant_owner: owner.map(str::to_owned),
        allow_reentrant: allow,
        ..quick()
    };
    let first = acquire(&file, &run(Some("run-1"), false)).unwrap();
    assert!(matches!(acquire(&file, &quick()), Err(Error::Busy { .. })));
    assert!(matches!(
        acquire(&file, &run(Some("run-2"), false)),
        Err(Error::Busy { .. })
    ));
    let nested = acquire(&file, &run(Some("run-1"), false)).unwrap();
    let joined = acquire(&file, &run(None, true)).unwrap();
    assert_eq!(nested.generation(), first.generation());
    assert_eq!(joined.generation(), first.generation());
    first.release().unwrap();
    nested.release().unwrap();
    assert!(
        joined.lock_path().exists(),
        "the last nested hold keeps the file"
    );
    joined.release().unwrap();
}

#[test]
fn busy_errors_name_the_blocking_hold_of_this_process() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("held-here");
    let file = dir.join("s.jsonl");
    let labelled = Options {
        owner: Some("turn-A".into()),
        ..Options::default()
    };
    let held = acquire(&file, &labelled).unwrap();
    let err = acquire(&file, &quick()).unwrap_err();
    let Error::Busy { holder, .. } = &err else {
        panic!("expected busy, got {err:?}");
    };
    let here = holder.here.as_ref().expect("the hold of this process");
    assert_eq!(here.owner.as_deref(), Some("turn-A"));
    assert_eq!(
        (holder.pid, holder.pid_alive),
        (Some(std::process::id()), true)
    );
    assert_eq!(
        err.to_string(),
        format!(
            "session file locked (timeout 30ms): pid={} alive=true ageMs={} {} (held by this process: owner=turn-A, for {}ms)",
            std::process::id(),
            here.age.as_millis(),
            held.lock_path().display(),
            here.age.as_millis()
        )
    );
    let listed = held_locks();
    let mine: Vec<_> = listed
        .iter()
        .filter(|h| h.lock_path == held.lock_path())
        .collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].owner.as_deref(), Some("turn-A"));
    assert_eq!(mine[0].count, 1);
    assert_eq!(mine[0].max_hold, Some(Duration::from_secs(300)));
    let payload: serde_json::Value =
        serde_json::from_slice(&std::fs::read(held.lock_path()).unwrap()).unwrap();
    assert_eq!(payload["owner"], "turn-A");
    assert_eq!(payload["maxHoldMs"], 300_000);
    held.release().unwrap();
    assert!(held_locks()
        .iter()
        .all(|h| !h.lock_path.starts_with(&dir.0)));
}

#[test]
fn assert_owned_until_the_hold_is_lost() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("owned");
    let lease_lost = |r: Result<(), Error>| match r {
        Err(Error::Stale { reasons, .. }) => reasons == [StaleReason::LeaseLost],
        _ => false,
    };
    let a = acquire(dir.join("a.jsonl"), &Options::default()).unwrap();
    a.assert_owned().unwrap();
    release_all();
    assert!(lease_lost(a.assert_owned()), "after release-all");

    let b = acquire(dir.join("b.jsonl"), &Options::default()).unwrap();
    let other = dir.join("other");
    std::fs::write(&other, "{}").unwrap();
    std::fs::rename(&other, b.lock_path()).unwrap();
    assert!(lease_lost(b.assert_owned()), "after the file was replaced");
    drop(b);

    let c = acquire(dir.join("c.jsonl"), &Options::default()).unwrap();
    std::fs::remove_file(c.lock_path()).unwrap();
    assert!(lease_lost(c.assert_owned()), "after the file was removed");
}

/// A binding's handle collected by its garbage collector is no release: the hold stays until
/// release-all (dropping a guard, by contrast, releases).
#[test]
fn a_guard_kept_held_stays_held_until_release_all() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("kept");
    let kept = acquire(dir.join("kept.jsonl"), &Options::default()).unwrap();
    let lock_path = kept.lock_path().to_path_buf();
    kept.keep_held();
    assert!(lock_path.exists());
    assert!(held_locks().iter().any(|h| h.lock_path == lock_path));
    assert!(matches!(
        acquire(dir.join("kept.jsonl"), &quick()),
        Err(Error::Busy { .. })
    ));
    release_all();
    assert!(!lock_path.exists());
    assert!(held_locks().iter().all(|h| h.lock_path != lock_path));
}

#[test]
fn a_cancelled_wait_ends_with_cancelled_and_takes_no_lock() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("cancel");
    let file = dir.join("s.jsonl");
    let held = acquire(&file, &Options::default()).unwrap();
    let token = CancelToken::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let forever = Options {
        timeout: None,
        ..Options::default()
    };
    let started = begin_acquire_cancellable(&file, &forever, Some(token.clone()), || {
        move |result| {
            let _ = tx.send(result);
        }
    });
    assert!(matches!(started, Acquisition::Waiting));
    // Handshake: the wait was handed to the lock service before begin_acquire returned; once
    // the service sleeps again it has taken the waiter in, and the cancel finds it waiting.
    let me = std::process::id();
    until("the lock service has taken the waiter in", || {
        service_sleeps_in_poller(me)
    });
    let before = stats();
    token.cancel();
    let result = rx.recv_timeout(Duration::from_secs(5)).expect("answered");
    assert!(matches!(result, Err(Error::Cancelled { .. })), "{result:?}");
    let after = stats();
    assert_eq!(
        after.timer_reinspections, before.timer_reinspections,
        "answered because of the cancel, not found by a timed look: {before:?} -> {after:?}"
    );
    held.release().unwrap();
    // Once the service has handled the release, the cancelled waiter must not have taken it:
    // no file, no hold here, and another process gets it with a single try.
    until("the lock service has handled the release", || {
        service_sleeps_in_poller(me)
    });
    assert!(!file.with_extension("jsonl.lock").exists());
    assert!(held_locks().is_empty(), "{:?}", held_locks());
    try_in_process(&[], &file, 0).expect("nobody holds it");
}

#[test]
fn settings_come_from_the_environment() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: these tests do not read the environment concurrently (SERIAL).
    unsafe {
        std::env::set_var("OPENCLAW_SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS", "1e3");
        std::env::set_var("SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS", "4500");
        std::env::set_var("SESSION_WRITE_LOCK_MAX_HOLD_MS", "Infinity");
    }
    let o = Options::from_env();
    unsafe {
        std::env::remove_var("OPENCLAW_SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS");
        std::env::remove_var("SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS");
        std::env::remove_var("SESSION_WRITE_LOCK_MAX_HOLD_MS");
    }
    assert_eq!(o.timeout, Some(Duration::from_millis(4500)));
    assert_eq!(
        o.max_hold,
        Some(Duration::from_secs(300)),
        "Infinity only for the timeout"
    );
    assert_eq!(Options::from_env(), Options::default());
    assert_eq!(Options::default().timeout, Some(Duration::from_secs(60)));
}

#[test]
fn status_shows_the_owner_label() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("status-owner");
    let labelled = Options {
        owner: Some("turn-42".into()),
        ..Options::default()
    };
    let held = acquire(dir.join("s.jsonl"), &labelled).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_session-lock"))
        .args(["status", dir.0.to_str().unwrap()])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.lines().next().unwrap().contains("OWNER"), "{table}");
    let row = table.lines().find(|l| l.contains("s.jsonl.lock")).unwrap();
    assert!(row.contains("turn-42") && row.contains("alive"), "{table}");
    let json = Command::new(env!("CARGO_BIN_EXE_session-lock"))
        .args(["status", "--json", dir.0.to_str().unwrap()])
        .output()
        .unwrap();
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(parsed[0]["ownerLabel"], "turn-42");
    held.release().unwrap();
}
