//! The one logging hook: watchdog releases and compromised locks are reported here. Default: a line
//! on stderr.

use std::sync::{Arc, PoisonError, RwLock};

/// Receives each log line (no trailing newline), on whichever thread logs.
pub type LogHook = Arc<dyn Fn(&str) + Send + Sync>;

static HOOK: RwLock<Option<LogHook>> = RwLock::new(None);

/// Replaces the log hook; `None` restores the default (stderr).
pub fn set_log_hook(hook: Option<LogHook>) {
    *HOOK.write().unwrap_or_else(PoisonError::into_inner) = hook;
}

/// Logs `line` with its control characters escaped: it names files whose names other users
/// choose.
pub(crate) fn emit(line: &str) {
    let line = &*crate::base::printable::printable(line.as_bytes());
    let hook = HOOK.read().unwrap_or_else(PoisonError::into_inner).clone();
    match hook {
        // A panicking hook must not take the lock service down with it.
        Some(hook) => {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(line)));
        }
        None => eprintln!("{line}"),
    }
}
