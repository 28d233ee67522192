//! The Node binding of session-write-lock (DESIGN §5). It converts types and nothing else: every
//! lock decision is the core's. The npm package (`npm/`) wraps these functions into the public
//! API (promises, `SessionWriteLockError`, process cleanup).

mod args;
mod errors;
mod inspection;
mod lock;
mod logger;

use args::Params;
use errors::to_js;
use napi::bindgen_prelude::Unknown;
use napi::{Env, Result};
use napi_derive::napi;
use session_write_lock::{release_all, reset_instance_nonce, resolve_max_hold_from_timeout};

/// Releases every lock this process holds and rotates the instance nonce; returns how many
/// were released. Synchronous, so that exit and signal handlers can use it.
#[napi(js_name = "releaseAllSessionWriteLocksSync")]
pub fn release_all_sync() -> u32 {
    u32::try_from(release_all()).unwrap_or(u32::MAX)
}

/// A new random instance nonce (returned); locks still held keep the old one on disk.
#[napi(js_name = "resetInstanceNonce")]
pub fn reset_nonce() -> String {
    reset_instance_nonce()
}

#[napi(js_name = "getInstanceNonce")]
pub fn instance_nonce() -> String {
    session_write_lock::instance_nonce()
}

/// `resolveSessionLockMaxHoldFromTimeout({ timeoutMs, graceMs?, minMs? })`.
#[napi(js_name = "resolveSessionLockMaxHoldFromTimeout")]
pub fn resolve_max_hold(env: &Env, params: Unknown<'_>) -> Result<f64> {
    let params = Params::new(env, params)?;
    let timeout_ms = params.required_number("timeoutMs")?;
    resolve_max_hold_from_timeout(
        timeout_ms,
        params.number("graceMs")?,
        params.number("minMs")?,
    )
    .map_err(|e| to_js(env, &e))
}

/// The core's counters (`{ waits, eventWakeups, timerReinspections }`), for tests and
/// benchmarks: how waiters got their locks. Not part of the public API.
#[napi(js_name = "__stats")]
pub fn stats() -> Stats {
    let s = session_write_lock::stats::stats();
    Stats {
        waits: s.waits as f64,
        event_wakeups: s.event_wakeups as f64,
        timer_reinspections: s.timer_reinspections as f64,
    }
}

#[napi(object)]
pub struct Stats {
    pub waits: f64,
    pub event_wakeups: f64,
    pub timer_reinspections: f64,
}
