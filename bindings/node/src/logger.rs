//! `setSessionWriteLockLogger(fn | null)`: the core's log lines (watchdog releases, compromised
//! locks) go to a JavaScript function instead of stderr. They come from the lock service's
//! thread, so the function is called through a threadsafe function.

use crate::args::{required, Kind};
use napi::bindgen_prelude::{Function, Unknown};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{Env, Result};
use napi_derive::napi;
use session_write_lock::{set_log_hook, LogHook, OptionName};
use std::sync::Arc;

#[napi(js_name = "setSessionWriteLockLogger")]
pub fn set_logger(env: &Env, logger: Option<Unknown<'_>>) -> Result<()> {
    let hook: Option<LogHook> = match logger {
        None => None,
        Some(value) => {
            let function: Function<String, ()> =
                required(env, OptionName::Logger, Some(value), Kind::Function)?;
            // Weak: a logger must not keep the process alive on its own.
            let tsfn = function
                .build_threadsafe_function::<String>()
                .weak::<true>()
                .build()?;
            Some(Arc::new(move |line: &str| {
                tsfn.call(line.to_owned(), ThreadsafeFunctionCallMode::NonBlocking);
            }))
        }
    };
    set_log_hook(hook);
    Ok(())
}
