//! The names of lock files, in one place: a session file's lock is its name plus `.lock`,
//! beside it; the cleaner sweeps the locks of session files (`*.jsonl.lock`); a lock file is
//! written under a hidden temp name (`.<lock name>.<random>.tmp`) before it is linked into
//! place, and a writer that died in between leaves that name behind for the cleaner. A temp name
//! never exceeds `NAME_MAX` (255 bytes) for a lock name that itself fits: a long lock name is
//! shortened in the middle, keeping what the cleaner recognises.

use std::ffi::{OsStr, OsString};

/// What a session file's name gets to name its lock.
const LOCK_SUFFIX: &str = ".lock";
/// The locks of session files (`<id>.jsonl`): what a directory sweep looks at.
const SESSION_LOCK_SUFFIX: &str = ".jsonl.lock";
const TEMP_PREFIX: &str = ".";
const TEMP_SUFFIX: &str = ".tmp";
/// The longest file name the filesystems we run on allow (Linux, macOS, FreeBSD: 255 bytes).
const NAME_MAX: usize = 255;
/// `.<random, 16 hex>` before [`TEMP_SUFFIX`].
const UNIQUE_LEN: usize = 17;

/// The lock file's name for a session file's name.
pub fn lock_name(session_name: &OsStr) -> OsString {
    let mut name = session_name.to_os_string();
    name.push(LOCK_SUFFIX);
    name
}

/// Whether a directory entry is the lock of a session file.
pub fn is_session_lock(name: &OsStr) -> bool {
    name.as_encoded_bytes()
        .ends_with(SESSION_LOCK_SUFFIX.as_bytes())
}

/// The hidden temp name a lock file named `lock_name` is written under (`unique`: random).
/// A lock name too long to fit is cut before its session-lock suffix (or `.lock`), at a
/// character boundary: the random part keeps the name unique, the suffix recognisable.
pub fn temp_name(lock_name: &OsStr, unique: u64) -> OsString {
    let room = NAME_MAX - TEMP_PREFIX.len() - UNIQUE_LEN - TEMP_SUFFIX.len();
    let name = lock_name.as_encoded_bytes();
    let mut temp = OsString::from(TEMP_PREFIX);
    if name.len() <= room {
        temp.push(lock_name);
    } else {
        let kept = [SESSION_LOCK_SUFFIX, LOCK_SUFFIX]
            .into_iter()
            .find(|suffix| name.ends_with(suffix.as_bytes()))
            .unwrap_or("");
        let mut cut = room - kept.len();
        // Never inside a UTF-8 sequence (macOS refuses names that are not UTF-8).
        while cut > 0 && name[cut] & 0xC0 == 0x80 {
            cut -= 1;
        }
        temp.push(head(name, cut));
        temp.push(kept);
    }
    temp.push(format!(".{unique:016x}{TEMP_SUFFIX}"));
    temp
}

/// The first `cut` bytes of a name's bytes, `cut` not inside a character.
#[cfg(unix)]
fn head(name: &[u8], cut: usize) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    OsStr::from_bytes(&name[..cut]).to_os_string()
}

/// The first `cut` bytes of a name's bytes (WTF-8), `cut` not inside a character. Names that
/// are not Unicode are refused by the Windows port before they get here: lossy is exact.
#[cfg(windows)]
fn head(name: &[u8], cut: usize) -> OsString {
    String::from_utf8_lossy(&name[..cut]).into_owned().into()
}

/// Whether a directory entry is a temp file a writer of a session lock left behind.
pub fn is_temp(name: &OsStr) -> bool {
    let b = name.as_encoded_bytes();
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

    /// Every lock name that fits NAME_MAX gets a temp name that fits too, which the cleaner
    /// recognises; multi-byte characters are never split.
    #[test]
    fn temp_names_fit_name_max() {
        for len in [1, 200, 229, 233, 234, 240, 250] {
            for unit in ["a", "é", "日"] {
                let stem = unit.repeat(len / unit.len());
                let lock = lock_name(OsStr::new(&format!("{stem}.jsonl")));
                if lock.len() > NAME_MAX {
                    continue;
                }
                let temp = temp_name(&lock, u64::MAX);
                assert!(temp.len() <= NAME_MAX, "{len} {unit}: {}", temp.len());
                assert!(is_temp(&temp), "{temp:?}");
                assert!(temp.to_str().is_some(), "cut inside a character: {temp:?}");
            }
        }
        let other = temp_name(&lock_name(OsStr::new(&"n".repeat(245))), 1);
        assert!(
            other.len() <= NAME_MAX
                && other
                    .as_encoded_bytes()
                    .ends_with(b".lock.0000000000000001.tmp")
        );
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
