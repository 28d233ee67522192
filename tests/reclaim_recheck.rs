//! The reclaim's inode re-check (docs/PROTOCOL.md, "Cleaning up": removal goes through the same
//! flock + inode check as a reclaim): a stale file judged removable is unlinked only if the
//! path still names the inode that was judged. If another process replaced it meanwhile (a new
//! holder's file renamed into place), the new file stays.

// Linux only: strace, /proc/locks.
#![cfg(target_os = "linux")]

mod common;

use common::{flocked, strace_or_skip, until, HeldAfterFlock, TempDir};
use session_write_lock::testing::iso_time;
use session_write_lock::{clean_stale, CleanOptions};
use std::os::unix::fs::MetadataExt;
use std::time::SystemTime;

#[test]
fn a_file_replaced_after_it_was_judged_is_not_removed() {
    if !strace_or_skip("reclaim_recheck::a_file_replaced_after_it_was_judged_is_not_removed") {
        return;
    }
    let dir = TempDir::new("recheck");
    let lock = dir.join("s.jsonl.lock");
    let now = iso_time::format(SystemTime::now());
    // Stale: a legacy lock of a dead process.
    let dead = format!(r#"{{"pid":{},"createdAt":"{now}"}}"#, common::dead_pid());
    std::fs::write(&lock, dead).unwrap();
    let judged = std::fs::metadata(&lock).unwrap().ino();

    // The sweep looks at it and takes its flock (held there by strace for a while)…
    let cleaning = HeldAfterFlock::run({
        let dir = dir.0.clone();
        move || clean_stale(dir, &CleanOptions::default())
    });
    until("the sweep holds the stale file's flock", || flocked(judged));
    // …meanwhile a live holder's file replaces it (a legacy lock of our parent, alive).
    let replacement = dir.join("replacement");
    let live = format!(
        r#"{{"pid":{},"createdAt":"{now}"}}"#,
        std::os::unix::process::parent_id()
    );
    std::fs::write(&replacement, &live).unwrap();
    let new = std::fs::metadata(&replacement).unwrap().ino();
    std::fs::rename(&replacement, &lock).unwrap();

    let report = cleaning.join();
    assert_eq!(
        std::fs::metadata(&lock).map(|m| m.ino()).ok(),
        Some(new),
        "the replacement is still at the lock path ({report:?})"
    );
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), live);
}
