//! The decisions of the fs-safe file lock (docs/PROTOCOL.md, "fs-safe's file lock"), pure: who
//! a lock file's holder is, and whether a `<lock>.reclaim` guard may be taken over.

use std::time::Duration;

/// How long a guard whose maker cannot be known (fs-safe's plain empty directory) is honoured
/// before it counts as abandoned. fs-safe's reclaimer keeps its guard for a few system calls
/// plus the caller's `shouldRemoveStaleLock` and `payload()` (the gateway's take at most about
/// a second); ten times that is still short enough that a gateway restart loop gets through.
pub const FOREIGN_GUARD_ABANDONED_AFTER: Duration = Duration::from_secs(10);

/// Who holds a lock file, as far as the kernel can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HolderState {
    /// Someone of this library has the file's flock: a live holder (or a peer probing it).
    Alive,
    /// Our mark and a free flock: the holder of ours that wrote it is gone (proven).
    Gone,
    /// No mark of ours: an fs-safe holder (or a partly written file); the caller's hooks judge.
    Foreign,
}

/// `marked`: the file ends with a token of ours; `flock_free`: nobody holds its flock.
pub fn holder_state(marked: bool, flock_free: bool) -> HolderState {
    match (flock_free, marked) {
        (false, _) => HolderState::Alive,
        (true, true) => HolderState::Gone,
        (true, false) => HolderState::Foreign,
    }
}

/// What to do about a guard directory found at `<lock>.reclaim`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardVerdict {
    /// A live reclaimer of ours holds it (its flock): wait.
    Held,
    /// A guard of unknown maker, not yet old enough to call abandoned: wait this long at most.
    Young(Duration),
    /// Its maker is gone: take it over (keep its flock) and remove it when done.
    Abandoned,
}

/// `marked`: made by this library (S_ISVTX); `flock_free`: nobody holds its flock; `age`: since
/// its last change.
pub fn guard_verdict(marked: bool, flock_free: bool, age: Duration) -> GuardVerdict {
    match (flock_free, marked) {
        (false, _) => GuardVerdict::Held,
        (true, true) => GuardVerdict::Abandoned,
        (true, false) if age >= FOREIGN_GUARD_ABANDONED_AFTER => GuardVerdict::Abandoned,
        (true, false) => GuardVerdict::Young(FOREIGN_GUARD_ABANDONED_AFTER - age),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_table() {
        for (marked, free, expected) in [
            (true, false, HolderState::Alive),
            (false, false, HolderState::Alive),
            (true, true, HolderState::Gone),
            (false, true, HolderState::Foreign),
        ] {
            assert_eq!(holder_state(marked, free), expected, "{marked} {free}");
        }
    }

    #[test]
    fn guard_table() {
        let secs = Duration::from_secs;
        let cases = [
            ("our live reclaimer", true, false, 3600, GuardVerdict::Held),
            ("flocked, unmarked", false, false, 3600, GuardVerdict::Held),
            (
                "our dead reclaimer, young",
                true,
                true,
                0,
                GuardVerdict::Abandoned,
            ),
            (
                "fs-safe, young",
                false,
                true,
                4,
                GuardVerdict::Young(secs(6)),
            ),
            (
                "fs-safe, at the bound",
                false,
                true,
                10,
                GuardVerdict::Abandoned,
            ),
            ("fs-safe, old", false, true, 3600, GuardVerdict::Abandoned),
        ];
        for (name, marked, free, age, expected) in cases {
            assert_eq!(guard_verdict(marked, free, secs(age)), expected, "{name}");
        }
    }
}
