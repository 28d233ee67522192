//! Acquire and clean options, validated once here for every binding.

use crate::error::Error;
use std::time::{Duration, SystemTime};

/// Default of [`Options::timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(10_000);
/// Default of [`Options::stale`] and [`CleanOptions::stale`].
pub const DEFAULT_STALE: Duration = Duration::from_millis(30 * 60 * 1000);
/// Default of [`Options::max_hold`].
pub const DEFAULT_MAX_HOLD: Duration = Duration::from_millis(5 * 60 * 1000);
/// Largest delay a JavaScript timer accepts; max-hold values are clamped to it.
pub const MAX_HOLD_CLAMP_MS: f64 = 2_147_000_000.0;

/// Options of [`crate::acquire`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// How long to wait for a busy lock; `None` waits forever, zero tries once.
    pub timeout: Option<Duration>,
    /// Age after which legacy locks (and cross-kernel locks without heartbeat) are stale.
    pub stale: Duration,
    /// Watchdog: a lock held longer than this is force-released. `None` disables it.
    pub max_hold: Option<Duration>,
    /// Whether a second acquire in this process joins a lock it already holds.
    pub allow_reentrant: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Some(DEFAULT_TIMEOUT),
            stale: DEFAULT_STALE,
            max_hold: Some(DEFAULT_MAX_HOLD),
            allow_reentrant: true,
        }
    }
}

impl Options {
    /// Builds options from the millisecond numbers bindings receive (JavaScript numbers, C
    /// integers). `None` means "use the default"; infinity means "no limit" where allowed.
    pub fn from_millis(
        timeout_ms: Option<f64>,
        stale_ms: Option<f64>,
        max_hold_ms: Option<f64>,
        allow_reentrant: Option<bool>,
    ) -> Result<Options, Error> {
        let defaults = Options::default();
        Ok(Options {
            timeout: match timeout_ms {
                None => defaults.timeout,
                Some(ms) => millis("timeoutMs", ms, Limit::InfinityMeansNone, true)?,
            },
            stale: match stale_ms {
                None => defaults.stale,
                Some(ms) => millis("staleMs", ms, Limit::Finite, false)?
                    .expect("finite milliseconds give a duration"),
            },
            max_hold: match max_hold_ms {
                None => defaults.max_hold,
                Some(ms) => millis("maxHoldMs", ms, Limit::InfinityMeansNone, false)?,
            },
            allow_reentrant: allow_reentrant.unwrap_or(defaults.allow_reentrant),
        })
    }
}

/// Options of [`crate::clean_stale`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanOptions {
    /// Age after which lock files without a live holder count as stale.
    pub stale: Duration,
    /// False reports what would be removed without removing it.
    pub remove: bool,
    /// Clock used for ages (tests and "what if" reports); `None` is the real clock.
    pub now: Option<SystemTime>,
}

impl Default for CleanOptions {
    fn default() -> Self {
        CleanOptions {
            stale: DEFAULT_STALE,
            remove: true,
            now: None,
        }
    }
}

enum Limit {
    Finite,
    InfinityMeansNone,
}

/// Validates one millisecond option and names it in the error.
fn millis(
    name: &'static str,
    ms: f64,
    limit: Limit,
    zero_ok: bool,
) -> Result<Option<Duration>, Error> {
    if ms.is_nan() {
        return Err(Error::invalid(name, "must be a number, got NaN"));
    }
    if ms < 0.0 {
        return Err(Error::invalid(
            name,
            format!("must not be negative, got {ms}"),
        ));
    }
    if ms == 0.0 && !zero_ok {
        return Err(Error::invalid(name, "must be greater than 0"));
    }
    if ms.is_infinite() {
        return match limit {
            Limit::InfinityMeansNone => Ok(None),
            Limit::Finite => Err(Error::invalid(name, "must be finite")),
        };
    }
    if ms > u64::MAX as f64 / 2.0 {
        return Err(Error::invalid(name, format!("is too large: {ms}")));
    }
    Ok(Some(Duration::from_micros((ms * 1000.0).round() as u64)))
}

/// Max-hold derived from a caller's lock timeout: long enough that the watchdog never fires
/// on a holder that is still within its own budget.
/// `max(min_ms, timeout_ms + grace_ms)`, clamped to 2 147 000 000 ms; infinity gives the clamp.
pub fn resolve_max_hold_from_timeout(
    timeout_ms: f64,
    grace_ms: Option<f64>,
    min_ms: Option<f64>,
) -> Result<f64, Error> {
    let grace_ms = grace_ms.unwrap_or(2.0 * 60.0 * 1000.0);
    let min_ms = min_ms.unwrap_or(DEFAULT_MAX_HOLD.as_millis() as f64);
    for (name, value) in [("graceMs", grace_ms), ("minMs", min_ms)] {
        if !value.is_finite() || value < 0.0 {
            return Err(Error::invalid(
                name,
                format!("must be a finite number ≥ 0, got {value}"),
            ));
        }
    }
    if timeout_ms.is_nan() || timeout_ms < 0.0 {
        return Err(Error::invalid(
            "timeoutMs",
            format!("must be a number ≥ 0, got {timeout_ms}"),
        ));
    }
    let wanted = (timeout_ms + grace_ms).max(min_ms);
    Ok(wanted.min(MAX_HOLD_CLAMP_MS).floor())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_design() {
        let o = Options::from_millis(None, None, None, None).unwrap();
        assert_eq!(o, Options::default());
        assert_eq!(o.timeout, Some(Duration::from_secs(10)));
        assert_eq!(o.stale, Duration::from_secs(1800));
        assert_eq!(o.max_hold, Some(Duration::from_secs(300)));
        assert!(o.allow_reentrant);
    }

    #[test]
    fn infinity_and_zero_timeouts() {
        let o = Options::from_millis(Some(f64::INFINITY), None, None, None).unwrap();
        assert_eq!(o.timeout, None);
        let o = Options::from_millis(Some(0.0), None, None, Some(false)).unwrap();
        assert_eq!(o.timeout, Some(Duration::ZERO));
        assert!(!o.allow_reentrant);
    }

    /// (timeoutMs, staleMs, maxHoldMs, the option the error must name)
    type Row = (Option<f64>, Option<f64>, Option<f64>, &'static str);

    #[test]
    fn invalid_values_name_the_option() {
        let cases: [Row; 6] = [
            (Some(f64::NAN), None, None, "timeoutMs"),
            (Some(-1.0), None, None, "timeoutMs"),
            (None, Some(0.0), None, "staleMs"),
            (None, Some(f64::INFINITY), None, "staleMs"),
            (None, None, Some(-5.0), "maxHoldMs"),
            (None, None, Some(f64::NAN), "maxHoldMs"),
        ];
        for (t, s, m, expected) in cases {
            match Options::from_millis(t, s, m, None) {
                Err(Error::InvalidArgument { name, .. }) => assert_eq!(name, expected),
                other => panic!("{expected}: expected invalid argument, got {other:?}"),
            }
        }
    }

    #[test]
    fn max_hold_from_timeout() {
        assert_eq!(
            resolve_max_hold_from_timeout(1_000.0, None, None).unwrap(),
            300_000.0
        );
        assert_eq!(
            resolve_max_hold_from_timeout(600_000.0, None, None).unwrap(),
            720_000.0
        );
        assert_eq!(
            resolve_max_hold_from_timeout(600_000.0, Some(0.0), Some(1.0)).unwrap(),
            600_000.0
        );
        assert_eq!(
            resolve_max_hold_from_timeout(f64::INFINITY, None, None).unwrap(),
            MAX_HOLD_CLAMP_MS
        );
        assert!(resolve_max_hold_from_timeout(f64::NAN, None, None).is_err());
        assert!(resolve_max_hold_from_timeout(1.0, Some(-1.0), None).is_err());
    }
}
