//! The general face's acquire (`session-write-lock/lock`, docs/PROTOCOL.md, "The general Node
//! face"): any path, numbers taken strictly, no environment settings, the gateway's
//! command-line rule only with `foreign: "gateway"`; the package passes its own defaults (no
//! watchdog, foreign files kept).

use crate::args::Params;
use crate::errors::to_js;
use crate::lock::{owner_of, start, NativeLock, WaitCancel};
use napi::bindgen_prelude::{Either, Object, Unknown};
use napi::{Env, Result};
use napi_derive::napi;
use session_write_lock::owner_argv::ArgvMatcher;
use session_write_lock::{acquire, Error as LockError, Foreign, OptionName, Options};
use std::path::PathBuf;

/// `{ path, timeoutMs?, staleMs?, maxHoldMs?, foreign?, owner? }` as core options; a missing
/// value is the core's default.
fn options_of(env: &Env, params: Unknown<'_>) -> Result<(PathBuf, Options)> {
    let params = Params::new(env, params)?;
    let path = params.path_bytes(OptionName::Path)?;
    let invalid = |e: LockError| to_js(env, &e);
    let mut options = Options::default();
    if let Some(ms) = params.number(OptionName::TimeoutMs)? {
        options.set_timeout_ms(ms).map_err(invalid)?;
    }
    if let Some(ms) = params.number(OptionName::StaleMs)? {
        options.set_stale_ms(ms).map_err(invalid)?;
    }
    if let Some(ms) = params.number(OptionName::MaxHoldMs)? {
        options.set_max_hold_ms(ms).map_err(invalid)?;
    }
    if let Some(name) = params.string(OptionName::Foreign)? {
        options.foreign = Foreign::from_name(&name).ok_or_else(|| {
            let message = format!("{}, got {name:?}", Foreign::expected());
            invalid(LockError::InvalidArgument {
                name: OptionName::Foreign,
                message,
            })
        })?;
    }
    // Opted into, the gateway's rules are applied as its own API applies them.
    if options.foreign == Foreign::Gateway {
        options.owner_matcher = Some(ArgvMatcher::GATEWAY);
    }
    options.owner = params.string(OptionName::Owner)?;
    options.hold_owner = owner_of(env)?;
    Ok((path, options))
}

/// `lock(params, cancel?)`: a `NativeLock` now, or a promise of one when the lock is busy and
/// `timeoutMs` allows waiting.
#[napi(js_name = "lock")]
pub fn lock<'env>(
    env: &'env Env,
    params: Unknown<'env>,
    cancel: Option<&WaitCancel>,
) -> Result<Either<NativeLock, Object<'env>>> {
    let (path, options) = options_of(env, params)?;
    start(env, &path, &options, cancel)
}

/// `lockSync(params)`: the lock, waiting on this thread (up to `timeoutMs`) while it is busy.
#[napi(js_name = "lockSync")]
pub fn lock_sync(env: &Env, params: Unknown<'_>) -> Result<NativeLock> {
    let (path, options) = options_of(env, params)?;
    acquire(&path, &options)
        .map(NativeLock::from)
        .map_err(|e| to_js(env, &e))
}
