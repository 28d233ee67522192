//! Read-only views of lock files and the stale-lock cleaner, as JSON for C.

use super::boundary::{boundary, clear_out, status_boundary};
use super::status::{swl_status, Failure};
use super::strings::{into_c_string, path_arg};
use session_write_lock::{CleanOptions, OptionName, Options};
use std::ffi::{c_char, CString};

/// Serialises `value` into a string for `*out`.
fn json<T: serde::Serialize>(value: &T) -> Result<*mut c_char, Failure> {
    serde_json::to_string(value)
        .map(into_c_string)
        .map_err(|e| {
            Failure::new(
                swl_status::SWL_PANIC,
                format!("panic: JSON encoding failed: {e}"),
            )
        })
}

/// Describes the lock of `session_file` without changing it.
///
/// `SWL_OK` with `*json_out = NULL`: there is no lock file. `SWL_OK` with a string: a JSON object
/// `{"lockPath", "pid", "pidAlive", "createdAt", "ageMs", "stale", "staleReasons", "removable",
/// "removed", "nonce", "hostname", "format", "owner", "ownerLabel", "maxHoldMs"}` (`format` is
/// `"flock"`, `"legacy"` or `"not-a-file"`; `stale`: at least one reason; `removable`: it may
/// be removed now; `ownerLabel`: the holder's label; staleness is judged with the default
/// `stale_ms`), to be freed with `swl_string_free`. On failure `*json_out` is NULL.
///
/// # Safety
///
/// `session_file` must be NULL or a NUL-terminated string; `json_out` must be NULL or point to
/// writable memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn swl_inspect(
    session_file: *const c_char,
    json_out: *mut *mut c_char,
) -> swl_status {
    status_boundary(|| {
        // SAFETY: the caller's promise on `json_out`.
        unsafe { clear_out(json_out, "json_out") }?;
        // SAFETY: the caller's promise on `session_file`.
        let path = unsafe { path_arg(session_file, OptionName::SessionFile) }?;
        if let Some(inspection) = session_write_lock::inspect(path, Options::default().stale)? {
            let text = json(&inspection)?;
            // SAFETY: as above.
            unsafe { json_out.write(text) };
        }
        Ok(())
    })
}

/// Inspects every `*.jsonl.lock` in `sessions_dir` (sorted by name) and, when `remove` is true,
/// removes the stale ones (race-free: never a lock someone holds or has just re-created) and
/// temp files of crashed writers older than `stale_ms`. `stale_ms` must be `> 0` (1800000 is the
/// default elsewhere).
///
/// On `SWL_OK`, `*json_out` is a JSON object `{"locks": [...], "cleaned": [...],
/// "tempFilesRemoved": [...]}` (entries as in `swl_inspect`), to be freed with
/// `swl_string_free`. A missing directory gives empty lists. On failure `*json_out` is NULL.
///
/// # Safety
///
/// `sessions_dir` must be NULL or a NUL-terminated string; `json_out` must be NULL or point to
/// writable memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn swl_clean_stale(
    sessions_dir: *const c_char,
    stale_ms: i64,
    remove: bool,
    json_out: *mut *mut c_char,
) -> swl_status {
    status_boundary(|| {
        // SAFETY: the caller's promise on `json_out`.
        unsafe { clear_out(json_out, "json_out") }?;
        // SAFETY: the caller's promise on `sessions_dir`.
        let dir = unsafe { path_arg(sessions_dir, OptionName::SessionsDir) }?;
        if stale_ms <= 0 {
            return Err(Failure::invalid(
                OptionName::StaleMs,
                format!("must be greater than 0, got {stale_ms}"),
            ));
        }
        let mut options = CleanOptions {
            remove,
            ..CleanOptions::default()
        };
        options.set_stale_ms(stale_ms as f64)?;
        let report = session_write_lock::clean_stale(dir, &options)?;
        let text = json(&report)?;
        // SAFETY: as above.
        unsafe { json_out.write(text) };
        Ok(())
    })
}

/// One hold as `swl_held_locks` reports it.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct HeldJson {
    lock_path: String,
    owner: Option<String>,
    acquired_at: String,
    age_ms: u128,
    count: u32,
    max_hold_ms: Option<u128>,
}

/// Every hold of this process, oldest first, as a JSON array of `{"lockPath", "owner",
/// "acquiredAt", "ageMs", "count", "maxHoldMs"}` (`owner` is the label given in `swl_options`,
/// or null; `maxHoldMs` null without watchdog) in `*json_out`, to be freed with
/// `swl_string_free`. For finding a lock that this process holds too long.
///
/// # Safety
///
/// `json_out` must be NULL or point to writable memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn swl_held_locks(json_out: *mut *mut c_char) -> swl_status {
    status_boundary(|| {
        // SAFETY: the caller's promise on `json_out`.
        unsafe { clear_out(json_out, "json_out") }?;
        let held: Vec<HeldJson> = session_write_lock::held_locks()
            .into_iter()
            .map(|h| HeldJson {
                lock_path: h.lock_path.to_string_lossy().into_owned(),
                acquired_at: h.acquired_at_iso(),
                owner: h.owner,
                age_ms: h.age.as_millis(),
                count: h.count,
                max_hold_ms: h.max_hold.map(|d| d.as_millis()),
            })
            .collect();
        let text = json(&held)?;
        // SAFETY: as above.
        unsafe { json_out.write(text) };
        Ok(())
    })
}

/// Frees a string returned by `swl_inspect` or `swl_clean_stale`. NULL is ignored.
///
/// # Safety
///
/// `s` must be NULL or a string from `swl_inspect` / `swl_clean_stale` that was not freed yet.
/// Do not pass strings from any other allocator (`malloc`, `strdup`, …).
#[no_mangle]
pub unsafe extern "C" fn swl_string_free(s: *mut c_char) {
    boundary((), || {
        if !s.is_null() {
            // SAFETY: the caller's promise: made by `into_c_string`, not freed yet.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}
