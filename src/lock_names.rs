//! The names of lock files, in one place: a session file's lock is its name plus `.lock`,
//! beside it; the cleaner sweeps the locks of session files (`*.jsonl.lock`); a lock file is
//! written under a hidden temp name (`.<lock name>.<random>.tmp`) before it is linked into
//! place, and a writer that died in between leaves that name behind for the cleaner.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// What a session file's name gets to name its lock.
const LOCK_SUFFIX: &str = ".lock";
/// The locks of session files (`<id>.jsonl`): what a directory sweep looks at.
const SESSION_LOCK_SUFFIX: &str = ".jsonl.lock";
const TEMP_PREFIX: &str = ".";
const TEMP_SUFFIX: &str = ".tmp";

/// The lock file's name for a session file's name.
pub fn lock_name(session_name: &OsStr) -> OsString {
    let mut name = session_name.to_os_string();
    name.push(LOCK_SUFFIX);
    name
}

/// Whether a directory entry is the lock of a session file.
pub fn is_session_lock(name: &OsStr) -> bool {
    name.as_bytes().ends_with(SESSION_LOCK_SUFFIX.as_bytes())
}

/// The hidden temp name a lock file named `lock_name` is written under (`unique`: random).
pub fn temp_name(lock_name: &OsStr, unique: u64) -> OsString {
    let mut temp = OsString::from(TEMP_PREFIX);
    temp.push(lock_name);
    temp.push(format!(".{unique:016x}{TEMP_SUFFIX}"));
    temp
}

/// Whether a directory entry is a temp file a writer of a session lock left behind.
pub fn is_temp(name: &OsStr) -> bool {
    let b = name.as_bytes();
    let inner = [SESSION_LOCK_SUFFIX.as_bytes(), b"."].concat();
    b.starts_with(TEMP_PREFIX.as_bytes())
        && b.ends_with(TEMP_SUFFIX.as_bytes())
        && b.windows(inner.len()).any(|w| w == inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    /// The names each part of the library makes are the ones the others recognise.
    #[test]
    fn names_round_trip() {
        let lock = lock_name(os("a.jsonl"));
        assert_eq!(lock, "a.jsonl.lock");
        assert!(is_session_lock(&lock));
        let temp = temp_name(&lock, 0xabc);
        assert_eq!(temp, ".a.jsonl.lock.0000000000000abc.tmp");
        assert!(is_temp(&temp) && !is_session_lock(&temp));
    }

    #[test]
    fn other_names_are_not_ours() {
        for name in ["a.json.lock", "a.jsonl", "a.lock", "x.jsonl.lock.tmp"] {
            assert!(!is_session_lock(os(name)), "{name}");
        }
        // A lock of another kind of file is named the same way but is not swept.
        assert!(!is_session_lock(&lock_name(os("notes.txt"))));
        for name in ["a.jsonl.lock.1.tmp", ".a.lock.1.tmp", ".a.jsonl.lock.1"] {
            assert!(!is_temp(os(name)), "{name}");
        }
    }
}
