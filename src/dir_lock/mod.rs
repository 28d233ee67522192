//! proper-lockfile's lock (docs/PROTOCOL.md, "proper-lockfile's lock"), native: the lock of a
//! file is the directory `<file>.lock`, made with `mkdir` and kept fresh by touching its mtime.
//! Ours is made with S_ISVTX and flocked through its own descriptor while held, so our waiters
//! see a dead holder of ours at once, and a native thread keeps its mtime fresh for
//! proper-lockfile's waiters, which judge by mtime alone. The retry loop, with its options, is
//! the Node package's (`npm/proper-lockfile.js`).

mod hold;
mod look;
mod refresher;
mod rules;

pub use hold::{acquire, Attempt, Busy, DirLock};
pub use look::{look, Occupant, Seen};
pub use rules::Verdict;

/// Our mark on a lock directory: proper-lockfile's `mkdir` never sets it.
const MARK_MODE: u32 = 0o1000;
