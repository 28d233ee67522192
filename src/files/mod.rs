//! File operations on a lock path: the lock directory's descriptor and the create / inspect /
//! remove steps. Imports `base`, `sys`, `rules` and `vocab`.

// The by-path steps of fs-safe's and proper-lockfile's locks, which are Unix-only so far.
#[cfg(unix)]
pub(crate) mod by_path;
pub(crate) mod fs;
pub(crate) mod lock_dir;
pub(crate) mod sweep_names;
