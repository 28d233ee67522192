//! The decision on a `<file>.lock` directory found in the way (docs/PROTOCOL.md,
//! "proper-lockfile's lock"), pure: ours are judged by the kernel lock, anyone else's by
//! proper-lockfile's own rule, its mtime against `stale`.

use std::time::Duration;

/// Who is behind a lock directory, as far as can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Ours (S_ISVTX) and its flock is held: a live holder of this library.
    Alive,
    /// Ours and its flock is free: its maker is gone (or still between its `mkdir` and its
    /// flock, and then it loses and tries again): remove it.
    Dead,
    /// Not ours, touched less than `stale` ago: a proper-lockfile holder, honoured this long
    /// still unless it touches it again.
    Fresh(Duration),
    /// Not ours and older than `stale`: proper-lockfile removes it, and so do we.
    Stale,
}

/// `marked`: the directory has S_ISVTX, which only our `mkdir` sets; `flock_free`: nobody
/// holds its flock (only asked of marked ones); `age`: since its mtime.
pub fn verdict(marked: bool, flock_free: bool, age: Duration, stale: Duration) -> Verdict {
    match (marked, flock_free) {
        (true, false) => Verdict::Alive,
        (true, true) => Verdict::Dead,
        // proper-lockfile: stale when `mtime < now - stale`, strictly.
        (false, _) if age > stale => Verdict::Stale,
        (false, _) => Verdict::Fresh(stale - age),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_table() {
        let ms = Duration::from_millis;
        let stale = ms(10_000);
        let cases = [
            ("ours, flocked, old", true, false, 3_600_000, Verdict::Alive),
            ("ours, flocked, new", true, false, 0, Verdict::Alive),
            ("ours, free, new", true, true, 0, Verdict::Dead),
            ("ours, free, old", true, true, 3_600_000, Verdict::Dead),
            ("theirs, new", false, true, 0, Verdict::Fresh(stale)),
            (
                "theirs, young",
                false,
                true,
                4_000,
                Verdict::Fresh(ms(6_000)),
            ),
            (
                "theirs, at stale",
                false,
                true,
                10_000,
                Verdict::Fresh(ms(0)),
            ),
            ("theirs, past stale", false, true, 10_001, Verdict::Stale),
            ("theirs, flocked, old", false, false, 60_000, Verdict::Stale),
        ];
        for (name, marked, free, age, expected) in cases {
            assert_eq!(verdict(marked, free, ms(age), stale), expected, "{name}");
        }
    }
}
