//! Hooks for tests, benchmarks, the fuzz target and the gateway's test API (docs/PROTOCOL.md,
//! "Test hooks"): the pure rules' internals, counters and clock and start-time overrides. Hidden,
//! and not part of the supported API: they may change in any release.

pub use crate::api::acquire::{run_watchdog_check, set_background_watchdog};
pub use crate::api::inspect::inspect_payload;
pub use crate::base::stats;
pub use crate::rules::identity::{
    read_process_start_time, set_start_time_resolver, PidProbe, ProcessIdentity, StartTimeResolver,
};
pub use crate::rules::{iso_time, payload, verdict};
