//! Owners of holds inside one process (docs/PROTOCOL.md, "Owners inside a process"): the
//! process itself for C and Rust callers, or one Node environment (the main thread or one worker
//! thread). An owner's holds can be ended without touching anyone else's, and holds of two
//! owners never join.

use std::sync::atomic::{AtomicU64, Ordering};

/// Who a hold belongs to inside this process. Set it in [`crate::Options::hold_owner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HoldOwner(u64);

/// Owner numbers are never reused, so a new owner can never inherit a gone owner's state.
static NEXT_OWNER: AtomicU64 = AtomicU64::new(1);

impl HoldOwner {
    /// The whole process: the owner of every C and Rust hold unless told otherwise.
    pub const PROCESS: HoldOwner = HoldOwner(0);

    /// A new owner, distinct from every other one of this program's life (the Node binding makes
    /// one per JavaScript environment).
    pub fn unique() -> HoldOwner {
        HoldOwner(NEXT_OWNER.fetch_add(1, Ordering::Relaxed))
    }
}

impl Default for HoldOwner {
    fn default() -> HoldOwner {
        HoldOwner::PROCESS
    }
}
