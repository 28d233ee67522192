//! Core errors as JavaScript errors (DESIGN §5): a bad path is a `TypeError`, a bad number a
//! `RangeError`, both naming the option; an I/O failure is an `Error` with `code` and `path`;
//! "busy" is an `Error` with `reason = "session_busy"` and its details, which the package's
//! JavaScript turns into a `SessionWriteLockError`.

use napi::bindgen_prelude::{Object, Unknown, ValueType};
use napi::{Env, JsError, JsRangeError, JsTypeError, JsValue, Result};
use session_write_lock::Error as LockError;

/// Node's own codes for the two kinds of bad argument.
const INVALID_ARG_TYPE: &str = "ERR_INVALID_ARG_TYPE";
const INVALID_ARG_VALUE: &str = "ERR_INVALID_ARG_VALUE";
const OUT_OF_RANGE: &str = "ERR_OUT_OF_RANGE";
/// The code of the internal "busy" error; callers only ever see `SessionWriteLockError`.
const BUSY: &str = "SESSION_BUSY";

/// An argument of the wrong JavaScript type.
pub fn invalid_arg_type(env: &Env, name: &str, expected: &str, actual: ValueType) -> napi::Error {
    let message = format!(
        "invalid {name}: must be {expected}, got {}",
        type_name(actual)
    );
    thrown(JsTypeError::from(napi::Error::new(INVALID_ARG_TYPE, message)).into_unknown(*env))
}

/// The JavaScript error for a core error, ready to be thrown or to reject a promise with.
pub fn to_js(env: &Env, error: &LockError) -> napi::Error {
    build(env, error).unwrap_or_else(|e| e)
}

fn build(env: &Env, error: &LockError) -> Result<napi::Error> {
    let message = error.to_string();
    let value = match error {
        // Node reports unusable path strings as TypeErrors (ERR_INVALID_ARG_VALUE).
        LockError::InvalidArgument { name, .. } if is_path_option(name) => {
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
            owner,
            timeout,
        } => {
            let value = JsError::from(napi::Error::new(BUSY, message)).into_unknown(*env);
            let mut object: Object = value.coerce_to_object()?;
            object.set("reason", "session_busy")?;
            object.set(
                "timeoutMs",
                timeout.map_or(f64::INFINITY, |t| t.as_micros() as f64 / 1000.0),
            )?;
            object.set("lockPath", lock_path.to_string_lossy().as_ref())?;
            object.set("owner", owner.as_str())?;
            object.to_unknown()
        }
    };
    Ok(thrown(value))
}

/// The options that are paths; every other validated option is a number of milliseconds.
fn is_path_option(name: &str) -> bool {
    matches!(name, "sessionFile" | "sessionsDir" | "path")
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
