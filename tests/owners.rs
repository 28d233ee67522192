//! Owners of holds inside one process (docs/PROTOCOL.md, "Owners inside a process"): ending one
//! owner releases its holds only and keeps the nonce; an ended owner never holds again;
//! reentrant joins never cross owners; exit cleanup releases every owner's holds.

mod common;

use common::TempDir;
use session_write_lock::{
    acquire, end_owner, instance_nonce, release_every_hold, Error, HoldOwner, OptionName, Options,
    ReleaseOutcome,
};
use std::time::Duration;

fn as_owner(owner: HoldOwner) -> Options {
    Options {
        timeout: Some(Duration::ZERO),
        allow_reentrant: true,
        hold_owner: owner,
        ..Options::default()
    }
}

// One test: the owners share the process's table with nothing else running in this binary.
#[test]
fn owners_end_alone_never_join_and_exit_cleanup_ends_them_all() {
    let dir = TempDir::new("owners");
    let (a, b) = (HoldOwner::unique(), HoldOwner::unique());
    let file_a = dir.join("a.jsonl");
    let file_b = dir.join("b.jsonl");
    let held_a = acquire(&file_a, &as_owner(a)).unwrap();
    let held_b = acquire(&file_b, &as_owner(b)).unwrap();
    let nested_a = acquire(&file_a, &as_owner(a)).unwrap();

    // Reentrancy within an owner, never across owners, even when both allow it.
    match acquire(&file_a, &as_owner(b)) {
        Err(Error::Busy { holder, .. }) => {
            assert_eq!(holder.pid, Some(std::process::id()));
            assert!(
                holder.here.is_some(),
                "the blocking hold is this process's: {holder:?}"
            );
        }
        other => panic!("another owner must find it busy: {other:?}"),
    }
    assert!(acquire(&file_a, &as_owner(HoldOwner::PROCESS)).is_err());

    let nonce = instance_nonce();
    assert_eq!(end_owner(b), 1, "b held one lock");
    assert!(!held_b.is_held());
    assert!(!held_b.lock_path().exists(), "b's lock file is removed");
    assert!(
        held_a.is_held() && held_a.lock_path().exists(),
        "a's lock is untouched"
    );
    assert_eq!(instance_nonce(), nonce, "ending an owner keeps the nonce");
    assert_eq!(held_b.release().unwrap(), ReleaseOutcome::NotHeld);

    match acquire(&file_b, &as_owner(b)) {
        Err(Error::InvalidArgument { name, .. }) => assert_eq!(name, OptionName::HoldOwner),
        other => panic!("an ended owner never holds again: {other:?}"),
    }

    assert_eq!(nested_a.release().unwrap(), ReleaseOutcome::StillHeld);
    let process_hold = acquire(&file_b, &as_owner(HoldOwner::PROCESS)).unwrap();
    assert_eq!(release_every_hold(), 2, "a's lock and the process's");
    assert!(!held_a.lock_path().exists() && !process_hold.lock_path().exists());
    assert_eq!(instance_nonce(), nonce, "exit cleanup keeps the nonce too");
    assert_eq!(held_a.release().unwrap(), ReleaseOutcome::NotHeld);
    assert_eq!(process_hold.release().unwrap(), ReleaseOutcome::NotHeld);
}
