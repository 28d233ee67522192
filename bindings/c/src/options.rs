//! `swl_options`: the acquire options as C integers, validated by the core.

use super::status::Failure;
use crate::options::Options;
use std::time::Duration;

/// Options of `swl_acquire`. Always start from `swl_options_init`, then change fields.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct swl_options {
    /// How long to wait for a busy lock, in milliseconds: `-1` waits forever, `0` tries once.
    /// Other negative values are invalid. Default 10000.
    pub timeout_ms: i64,
    /// Age after which a lock file without a live `flock` holder (legacy lock files, lock files
    /// of another kernel without heartbeat, garbage) counts as stale, in milliseconds; must be
    /// `> 0`. Default 1800000 (30 minutes).
    pub stale_ms: i64,
    /// Watchdog: a lock held longer than this many milliseconds is force-released (and a line
    /// is logged; see `swl_set_log_callback`). `-1` disables the watchdog; `0` and other
    /// negative values are invalid. Default 300000 (5 minutes).
    pub max_hold_ms: i64,
    /// Whether another acquire of a lock this process already holds joins it (counted; the file
    /// goes with the last release). Reentrancy is per process, not per thread: threads that must
    /// exclude each other pass `false`, and then wait like any other contender. Default true.
    pub allow_reentrant: bool,
}

fn millis(d: Option<Duration>) -> i64 {
    d.map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl swl_options {
    pub fn defaults() -> swl_options {
        let core = Options::default();
        swl_options {
            timeout_ms: millis(core.timeout),
            stale_ms: millis(Some(core.stale)),
            max_hold_ms: millis(core.max_hold),
            allow_reentrant: core.allow_reentrant,
        }
    }

    /// Validates the C values and builds the core's options.
    pub fn to_core(&self) -> Result<Options, Failure> {
        let timeout = match self.timeout_ms {
            -1 => f64::INFINITY,
            ms if ms < 0 => {
                return Err(Failure::invalid(
                    "timeout_ms",
                    format!("must be >= 0, or -1 to wait forever, got {ms}"),
                ))
            }
            ms => ms as f64,
        };
        if self.stale_ms <= 0 {
            return Err(Failure::invalid(
                "stale_ms",
                format!("must be greater than 0, got {}", self.stale_ms),
            ));
        }
        let max_hold = match self.max_hold_ms {
            -1 => f64::INFINITY,
            ms if ms <= 0 => {
                return Err(Failure::invalid(
                    "max_hold_ms",
                    format!("must be greater than 0, or -1 for no limit, got {ms}"),
                ))
            }
            ms => ms as f64,
        };
        Ok(Options::from_millis(
            Some(timeout),
            Some(self.stale_ms as f64),
            Some(max_hold),
            Some(self.allow_reentrant),
        )?)
    }
}

/// Fills `opts` with the defaults: `timeout_ms = 10000`, `stale_ms = 1800000`,
/// `max_hold_ms = 300000`, `allow_reentrant = true`. A NULL `opts` is ignored.
///
/// # Safety
///
/// `opts` must be NULL or point to writable memory for one `swl_options`.
#[no_mangle]
pub unsafe extern "C" fn swl_options_init(opts: *mut swl_options) {
    super::boundary::boundary((), || {
        if !opts.is_null() {
            // SAFETY: the caller's promise; `write` does not read the old (maybe uninitialised)
            // contents.
            unsafe { opts.write(swl_options::defaults()) };
        }
    })
}

/// Reads options from C without trusting `allow_reentrant` to be a well-formed `bool`
/// (any non-zero byte is true).
///
/// # Safety
///
/// `opts` must be non-NULL and point to a readable, initialised `swl_options`.
pub unsafe fn read_options(opts: *const swl_options) -> swl_options {
    // SAFETY: the caller's promise; fields are read one by one through raw pointers.
    unsafe {
        let reentrant_byte = std::ptr::addr_of!((*opts).allow_reentrant).cast::<u8>();
        swl_options {
            timeout_ms: std::ptr::addr_of!((*opts).timeout_ms).read_unaligned(),
            stale_ms: std::ptr::addr_of!((*opts).stale_ms).read_unaligned(),
            max_hold_ms: std::ptr::addr_of!((*opts).max_hold_ms).read_unaligned(),
            allow_reentrant: reentrant_byte.read() != 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::status::swl_status;

    #[test]
    fn defaults_are_the_core_defaults() {
        let o = swl_options::defaults();
        assert_eq!(
            o,
            swl_options {
                timeout_ms: 10_000,
                stale_ms: 1_800_000,
                max_hold_ms: 300_000,
                allow_reentrant: true
            }
        );
        assert_eq!(o.to_core().unwrap(), Options::default());
    }

    #[test]
    fn minus_one_means_no_limit_and_zero_timeout_one_try() {
        let mut o = swl_options::defaults();
        o.timeout_ms = -1;
        o.max_hold_ms = -1;
        let core = o.to_core().unwrap();
        assert_eq!(core.timeout, None);
        assert_eq!(core.max_hold, None);
        o.timeout_ms = 0;
        assert_eq!(o.to_core().unwrap().timeout, Some(Duration::ZERO));
    }

    #[test]
    fn out_of_range_values_name_the_field() {
        let base = swl_options::defaults();
        let cases = [
            (
                swl_options {
                    timeout_ms: -2,
                    ..base
                },
                "timeout_ms",
            ),
            (
                swl_options {
                    stale_ms: 0,
                    ..base
                },
                "stale_ms",
            ),
            (
                swl_options {
                    stale_ms: -1,
                    ..base
                },
                "stale_ms",
            ),
            (
                swl_options {
                    max_hold_ms: 0,
                    ..base
                },
                "max_hold_ms",
            ),
            (
                swl_options {
                    max_hold_ms: -7,
                    ..base
                },
                "max_hold_ms",
            ),
        ];
        for (o, field) in cases {
            let failure = o.to_core().unwrap_err();
            assert_eq!(failure.status, swl_status::SWL_INVALID_ARGUMENT);
            assert!(
                failure.message.starts_with(&format!("invalid {field}: ")),
                "{}",
                failure.message
            );
        }
    }
}
