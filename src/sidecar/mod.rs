//! `@openclaw/fs-safe`'s sidecar file lock, native (docs/PROTOCOL.md, "fs-safe's file lock"):
//! the file format with its ownership token, creation with the flock held before any byte is
//! written, exact-bytes release and removal, and the `<lock>.reclaim` guard that never wedges.
//! The acquire loop, with its JavaScript hooks, is the Node package's (`npm/file-lock.js`).

mod guard;
mod lock_file;
mod rules;
mod token;

pub use guard::{guard_path, reclaim_guard, GuardStep, ReclaimGuard};
pub use lock_file::{create, snapshot, Created, Seen, SidecarLock, Snapshot, MAX_LOCK_BYTES};
// The no-follow helpers, for the proper-lockfile directory lock too.
pub use rules::{HolderState, FOREIGN_GUARD_ABANDONED_AFTER};
pub use token::TOKEN_OVERHEAD;

/// A fresh scratch directory for one unit test.
#[cfg(test)]
fn scratch(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("swl-sidecar-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
