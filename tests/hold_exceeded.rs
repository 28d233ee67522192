//! `hold-exceeded` for a live flock holder (docs/PROTOCOL.md, "Is the holder gone?"): a holder of
//! this library that is alive and keeps its flock, but whose `maxHoldMs` has passed since its
//! `createdAt` (its watchdog wedged), is reported to a contender and never removed; the sweep
//! never computes the rule.
// Unix-only: inode numbers through MetadataExt.
#![cfg(unix)]

mod common;

use common::{Holder, TempDir};
use session_write_lock::testing::iso_time;
use session_write_lock::{
    acquire, clean_stale, inspect, CleanOptions, Error, Options, StaleReason,
};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime};

#[test]
fn a_live_flock_holder_past_its_max_hold_is_reported_and_kept() {
    let dir = TempDir::new("hold-exceeded");
    let file = dir.join("s.jsonl");
    let lock = dir.join("s.jsonl.lock");
    let holder = Holder::start(&[], &file);
    // The holder's file as its watchdog should have ended it long ago: created 10 min ago,
    // with its max-hold of 5 min. Rewritten in place: the same inode, its flock still held.
    let mut payload: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&lock).unwrap()).unwrap();
    assert_eq!(payload["maxHoldMs"], 300_000, "{payload}");
    payload["createdAt"] = iso_time::format(SystemTime::now() - Duration::from_secs(600)).into();
    let ino = std::fs::metadata(&lock).unwrap().ino();
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&lock)
        .and_then(|mut f| std::io::Write::write_all(&mut f, payload.to_string().as_bytes()))
        .unwrap();

    let once = Options {
        timeout: Some(Duration::ZERO),
        ..Options::default()
    };
    match acquire(&file, &once) {
        Err(Error::Stale { reasons, .. }) => {
            assert_eq!(
                reasons,
                [StaleReason::HoldExceeded],
                "reported to the contender"
            )
        }
        other => panic!("a live holder past its max hold is reported: {other:?}"),
    }
    let stale = Duration::from_secs(1800);
    let seen = inspect(&file, stale).unwrap().unwrap();
    assert!(
        !seen.stale_reasons.contains(&StaleReason::HoldExceeded),
        "inspection, like the sweep, never computes it: {seen:?}"
    );
    clean_stale(&dir.0, &CleanOptions::default()).unwrap();
    assert_eq!(
        std::fs::metadata(&lock).map(|m| m.ino()).ok(),
        Some(ino),
        "never removed: the holder's own file is still there"
    );
    holder.release();
}
