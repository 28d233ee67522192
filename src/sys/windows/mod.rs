//! Windows (docs/PROTOCOL.md, "Windows"): lock files are opened with read, write and delete
//! sharing; the proof of a live holder is a `LockFileEx` byte-range lock far past the end of
//! the file (`lock.rs`); identity is (pid, creation time) from a process handle (`process.rs`);
//! waiting uses process handles and `ReadDirectoryChangesW` (`poller.rs`).
//!
//! The `*at` calls of the Unix ports become paths built from the directory handle's current
//! path (`GetFinalPathNameByHandleW`): the directory meant is the one opened, wherever it is now.

mod cmdline;
mod errors;
mod files;
mod glob;
mod lock;
mod names;
mod poller;
mod process;

pub use cmdline::cmdline;
pub use errors::errno_of;
pub use files::{
    create_new_at, fchmod, file_id, id_of, link_anonymous, link_at, link_unsupported, list_dir,
    open_anonymous, open_dir, open_without_effects, path_id, read_at, stat_at, touch, unlink_at,
};
pub use glob::name_matches;
pub use lock::{lock_busy, try_flock, unlock};
pub use poller::{Poller, Waker};
pub use process::{
    boot_id, getenv, hostname, own_start_time, pid_exists, pid_namespace, start_time_and_zombie,
};
