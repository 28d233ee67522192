//! The rules: the lock file's payload, ISO time, process identity, the gateway's owner argv and the
//! pure stale verdict (`docs/PROTOCOL.md`, "Staleness"). Imports `base` and `sys` only.

pub(crate) mod foreign;
pub(crate) mod identity;
#[doc(hidden)]
pub mod iso_time;
pub mod owner_argv;
#[doc(hidden)]
pub mod payload;
#[doc(hidden)]
pub mod verdict;
