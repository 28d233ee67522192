//! Core errors as JavaScript errors (docs/PROTOCOL.md): a bad path is a `TypeError`, a bad
//! number a `RangeError`, both naming the option; an I/O failure is an `Error` with `code` and
//! `path`; "busy", "stale" and "cancelled" are `Error`s with internal codes and their details,
//! which the package's JavaScript turns into its error classes.

use napi::bindgen_prelude::{Object, Unknown, ValueType};
use napi::{Env, JsError, JsRangeError, JsTypeError, JsValue, Result};
use session_write_lock::{Error as LockError, HeldLock, Holder, OptionName, StaleReason};
use std::time::UNIX_EPOCH;

/// Node's own codes for the two kinds of bad argument.
const INVALID_ARG_TYPE: &str = "ERR_INVALID_ARG_TYPE";
const INVALID_ARG_VALUE: &str = "ERR_INVALID_ARG_VALUE";
const OUT_OF_RANGE: &str = "ERR_OUT_OF_RANGE";
/// Codes of the internal errors; callers see the package's classes.
const BUSY: &str = "SESSION_BUSY";
const STALE: &str = "SESSION_STALE";
const CANCELLED: &str = "SESSION_WAIT_CANCELLED";

/// A reason as the gateway's module spells it (its `non-openclaw-owner` is the core's
/// `non-gateway-owner`).
pub fn gateway_reason(reason: StaleReason) -> &'static str {
    match reason {
        StaleReason::NonGatewayOwner => "non-openclaw-owner",
        other => other.as_str(),
    }
}

/// An option or argument as the package's users spell it; a name Node callers never pass (none
/// of the core's errors about one can reach them) keeps the core's spelling.
pub fn js_spelling(name: OptionName) -> &'static str {
    name.js_name().unwrap_or(name.as_str())
}

/// An argument of the wrong JavaScript type.
pub fn invalid_arg_type(
    env: &Env,
    name: OptionName,
    expected: &str,
    actual: ValueType,
) -> napi::Error {
    let message = format!(
        "invalid {}: must be {expected}, got {}",
        js_spelling(name),
        type_name(actual)
    );
    thrown(JsTypeError::from(napi::Error::new(INVALID_ARG_TYPE, message)).into_unknown(*env))
}

/// The JavaScript error for a core error, ready to be thrown or to reject a promise with.
pub fn to_js(env: &Env, error: &LockError) -> napi::Error {
    build(env, error).unwrap_or_else(|e| e)
}

fn build(env: &Env, error: &LockError) -> Result<napi::Error> {
    let message = match error {
        LockError::InvalidArgument { name, message } => {
            format!("invalid {}: {message}", js_spelling(*name))
        }
        _ => error.to_string(),
    };
    let value = match error {
        // Node reports unusable strings as TypeErrors (ERR_INVALID_ARG_VALUE).
        LockError::InvalidArgument { name, .. } if is_value_option(*name) => {
            JsTypeError::from(napi::Error::new(INVALID_ARG_VALUE, message)).into_unknown(*env)
        }
        LockError::InvalidArgument { .. } => {
            JsRangeError::from(napi::Error::new(OUT_OF_RANGE, message)).into_unknown(*env)
        }
        LockError::Io { path, .. } => {
            let code = error.code().unwrap_or("EIO");
            let value = JsError::from(napi::Error::new(code, message)).into_unknown(*env);
            let mut object = value.coerce_to_object()?;
            object.set("path", path.to_string_lossy().as_ref())?;
            object.to_unknown()
        }
        LockError::Busy {
            lock_path,
            holder,
            timeout,
        } => {
            let value = JsError::from(napi::Error::new(BUSY, message)).into_unknown(*env);
            let mut object: Object = value.coerce_to_object()?;
            set_holder(env, &mut object, lock_path, holder)?;
            object.set(
                "timeoutMs",
                timeout.map_or(f64::INFINITY, |t| t.as_micros() as f64 / 1000.0),
            )?;
            object.to_unknown()
        }
        LockError::Stale {
            lock_path,
            holder,
            reasons,
        } => {
            let value = JsError::from(napi::Error::new(STALE, message)).into_unknown(*env);
            let mut object: Object = value.coerce_to_object()?;
            set_holder(env, &mut object, lock_path, holder)?;
            let reasons: Vec<&str> = reasons.iter().copied().map(gateway_reason).collect();
            object.set("staleReasons", reasons)?;
            object.to_unknown()
        }
        LockError::Cancelled { lock_path } => {
            let value = JsError::from(napi::Error::new(CANCELLED, message)).into_unknown(*env);
            let mut object: Object = value.coerce_to_object()?;
            object.set("lockPath", lock_path.to_string_lossy().as_ref())?;
            object.to_unknown()
        }
    };
    Ok(thrown(value))
}

/// The fields every "busy" or "stale" error carries, and the blocking hold of this process.
fn set_holder(
    env: &Env,
    object: &mut Object<'_>,
    lock_path: &std::path::Path,
    holder: &Holder,
) -> Result<()> {
    object.set("lockPath", lock_path.to_string_lossy().as_ref())?;
    object.set("owner", holder.description.as_str())?;
    object.set("ownerPid", holder.pid)?;
    object.set("ownerPidAlive", holder.pid_alive)?;
    if let Some(here) = &holder.here {
        object.set("heldHere", held_object(env, here)?)?;
    }
    Ok(())
}

/// A hold of this process as a plain object (`listHeldSessionWriteLocks`, errors).
pub fn held_object<'env>(env: &'env Env, held: &HeldLock) -> Result<Object<'env>> {
    let mut object = Object::new(env)?;
    object.set("lockPath", held.lock_path.to_string_lossy().as_ref())?;
    object.set("owner", held.owner.as_deref())?;
    let acquired_ms = held
        .acquired_at
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64);
    object.set("acquiredAtMs", acquired_ms)?;
    object.set("ageMs", held.age.as_millis() as f64)?;
    object.set("count", held.count)?;
    object.set("maxHoldMs", held.max_hold.map(|d| d.as_millis() as f64))?;
    object.set("generation", held.generation as f64)?;
    Ok(object)
}

/// The options whose bad values are `TypeError`s, as Node's own: paths, and the name of a
/// rule; every other validated option is a number of milliseconds.
fn is_value_option(name: OptionName) -> bool {
    matches!(
        name,
        OptionName::SessionFile
            | OptionName::SessionsDir
            | OptionName::LockPath
            | OptionName::Path
            | OptionName::Foreign
    )
}

/// Wraps a JavaScript value so that napi throws (or rejects with) exactly that value.
fn thrown(value: Unknown<'_>) -> napi::Error {
    napi::Error::from(value)
}

fn type_name(value_type: ValueType) -> &'static str {
    match value_type {
        ValueType::Undefined => "undefined",
        ValueType::Null => "null",
        ValueType::Boolean => "boolean",
        ValueType::Number => "number",
        ValueType::String => "string",
        ValueType::Symbol => "symbol",
        ValueType::Object => "object",
        ValueType::Function => "function",
        _ => "another type",
    }
}
