//! The Node binding of session-write-lock. It converts types and nothing else: every
//! lock decision is the core's. The npm package (`npm/`) wraps these functions into the public
//! API (promises, `SessionWriteLockError`, process cleanup).

// No panic on a runtime path (docs/PROTOCOL.md): failures are errors. Tests may unwrap.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod args;
// proper-lockfile's directory lock is Unix-only for now (npm/proper-lockfile.js says so).
#[cfg(unix)]
mod dir_lock;
mod errors;
mod general;
mod inspection;
mod lock;
mod logger;
// The core's fs-safe sidecar lock is Unix-only for now (npm/file-lock-attempts.js says so).
#[cfg(unix)]
mod sidecar;
mod start_time;

use args::Params;
use errors::held_object;
use napi::bindgen_prelude::{FromNapiValue, JsObjectValue, Object, Unknown, ValueType};
use napi::{Env, Result};
use napi_derive::napi;
use session_write_lock::settings::{process_env_var, ConfigMs, Settings};
use session_write_lock::testing::{run_watchdog_check, set_background_watchdog};
use session_write_lock::{
    held_locks, release_all, reset_instance_nonce, resolve_max_hold_from_timeout, OptionName,
};
use std::time::{Duration, SystemTime};

/// Releases every lock this process holds and rotates the instance nonce; returns how many
/// were released. Synchronous, so that exit and signal handlers can use it.
/// Runs when an environment (main thread or worker) loads the addon. napi-rs keeps its own
/// maps of borrowed native objects, seeded from std's per-thread random keys, which ask the
/// system on first use and panic if it refuses: drawing this thread's keys here moves that
/// first use from the middle of a lock's release to the addon's load, where no lock is held.
#[napi(module_exports)]
#[allow(clippy::disallowed_methods)] // the point: seed now, not during a release
pub fn init(_exports: Object, _env: Env) -> Result<()> {
    let _ = std::hash::RandomState::new();
    Ok(())
}

#[napi(js_name = "releaseAllSessionWriteLocksSync")]
pub fn release_all_sync() -> u32 {
    u32::try_from(release_all()).unwrap_or(u32::MAX)
}

/// Releases every hold of every JavaScript environment of this process (main thread and
/// workers) without rotating the nonce: what the package's exit and signal cleanup call.
#[napi(js_name = "releaseEveryHoldSync")]
pub fn release_every_hold_sync() -> u32 {
    u32::try_from(session_write_lock::release_every_hold()).unwrap_or(u32::MAX)
}

/// A new random instance nonce (returned); locks still held keep the old one on disk.
#[napi(js_name = "resetInstanceNonce")]
pub fn reset_nonce() -> String {
    reset_instance_nonce()
}

/// `printable(text)`: `text` with its control characters escaped (the core's `printable`), for
/// the package's error messages and log lines, which name files other users control.
#[napi(js_name = "printable")]
pub fn printable_text(text: String) -> String {
    session_write_lock::printable(text.as_bytes()).into_owned()
}

#[napi(js_name = "getInstanceNonce")]
pub fn instance_nonce() -> String {
    session_write_lock::instance_nonce()
}

/// `resolveSessionLockMaxHoldFromTimeout({ timeoutMs, graceMs?, minMs? })`.
#[napi(js_name = "resolveSessionLockMaxHoldFromTimeout")]
pub fn resolve_max_hold(env: &Env, params: Unknown<'_>) -> Result<f64> {
    let params = Params::new(env, params)?;
    Ok(resolve_max_hold_from_timeout(
        params.lenient_number(OptionName::TimeoutMs)?,
        params.lenient_number(OptionName::GraceMs)?,
        params.lenient_number(OptionName::MinMs)?,
    ))
}

/// `resolveSettings({ env?, acquireTimeoutMs?, staleMs?, maxHoldMs?, maxHoldMsFallback?,
/// call? })`: `{ timeoutMs, staleMs, maxHoldMs }` from the environment object (default: this
/// process's environment), then the configuration values, then the defaults; `call`
/// (`{ timeoutMs?, staleMs?, maxHoldMs? }`) overrides them the lenient way. Never throws on values.
#[napi(js_name = "resolveSettings")]
pub fn resolve_settings(env: &Env, params: Unknown<'_>) -> Result<ResolvedSettings> {
    let params = Params::new(env, params)?;
    let env_object: Option<Object> = params.object(OptionName::Env)?;
    let config = ConfigMs {
        acquire_timeout_ms: params.lenient_number(OptionName::AcquireTimeoutMs)?,
        stale_ms: params.lenient_number(OptionName::StaleMs)?,
        max_hold_ms: params.lenient_number(OptionName::MaxHoldMs)?,
    };
    let fallback = params.lenient_number(OptionName::MaxHoldMsFallback)?;
    let settings = match env_object {
        None => Settings::resolve(process_env_var, config, fallback),
        Some(object) => Settings::resolve(
            |name| {
                let value: Unknown = object.get_named_property(name.to_str().ok()?).ok()?;
                if value.get_type().ok()? != ValueType::String {
                    return None;
                }
                String::from_unknown(value).ok()
            },
            config,
            fallback,
        ),
    };
    let settings = match params.object(OptionName::Call)? {
        None => settings,
        Some(call) => {
            let call = Params::from_object(env, call);
            settings.with_call_values(
                call.lenient_number(OptionName::TimeoutMs)?,
                call.lenient_number(OptionName::StaleMs)?,
                call.lenient_number(OptionName::MaxHoldMs)?,
            )
        }
    };
    Ok(ResolvedSettings {
        timeout_ms: settings.timeout_ms,
        stale_ms: settings.stale_ms,
        max_hold_ms: settings.max_hold_ms,
    })
}

/// The settings in milliseconds.
#[napi(object)]
pub struct ResolvedSettings {
    pub timeout_ms: f64,
    pub stale_ms: f64,
    pub max_hold_ms: f64,
}

/// `heldLocks()`: every hold of this process, oldest first (the package adds the stacks).
#[napi(js_name = "heldLocks")]
pub fn held(env: &Env) -> Result<Vec<Object<'_>>> {
    held_locks().iter().map(|h| held_object(env, h)).collect()
}

/// `runWatchdogCheck(nowMs)`: the watchdog as if the clock read `nowMs`; how many holds it ended.
#[napi(js_name = "runWatchdogCheck")]
pub fn watchdog_check(now_ms: f64) -> u32 {
    let now = Duration::try_from_secs_f64(now_ms / 1000.0)
        .ok()
        .and_then(|d| SystemTime::UNIX_EPOCH.checked_add(d))
        .unwrap_or_else(SystemTime::now);
    u32::try_from(run_watchdog_check(now)).unwrap_or(u32::MAX)
}

/// `setBackgroundWatchdog(on)`: whether the lock service ends holds past their max-hold by
/// itself (the package switches it off under the gateway's test runner).
#[napi(js_name = "setBackgroundWatchdog")]
pub fn background_watchdog(on: bool) {
    set_background_watchdog(on)
}

/// The core's counters (`{ waits, eventWakeups, timerReinspections }`), for tests and
/// benchmarks: how waiters got their locks. Not part of the public API.
#[napi(js_name = "__stats")]
pub fn stats() -> Stats {
    let s = session_write_lock::testing::stats::stats();
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

/// The names the binding may read (`{ keys, env }`): every option's JavaScript spelling and every
/// environment variable of a setting. For the test that every key read is a named option. Not
/// part of the public API.
#[napi(js_name = "__optionNames")]
pub fn option_names() -> OptionNames {
    let all = OptionName::ALL.iter();
    OptionNames {
        keys: all
            .clone()
            .filter_map(|o| o.js_name())
            .map(String::from)
            .collect(),
        env: all
            .flat_map(|o| o.env_names())
            .map(|name| name.to_string_lossy().into_owned())
            .collect(),
    }
}

#[napi(object)]
pub struct OptionNames {
    pub keys: Vec<String>,
    pub env: Vec<String>,
}
