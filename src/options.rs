//! Acquire and clean options, validated once here for every binding.

use crate::error::Error;
use crate::foreign::Foreign;
use crate::option_name::OptionName;
use crate::owner::HoldOwner;
use crate::owner_argv::ArgvMatcher;
use crate::select::Select;
use std::time::{Duration, SystemTime};

/// Default of [`Options::timeout`]: 60 s in every binding.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(60_000);
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
    /// Nest into a hold this process already has, whoever took it ("the same owner as the
    /// current hold") — within one [`HoldOwner`]: a hold of another owner (another Node thread)
    /// is waited for like any other. Default false: a second acquire waits like any contender.
    pub allow_reentrant: bool,
    /// Nest only into a hold taken with the same owner identity.
    pub reentrant_owner: Option<String>,
    /// A label for people: written into the lock file (at most 200 characters) and shown by
    /// diagnostics. Defaults to `reentrant_owner`.
    pub owner: Option<String>,
    /// Judge live legacy holders by their command line (`non-gateway-owner`); `None`: off.
    pub owner_matcher: Option<ArgvMatcher>,
    /// The rule for lock files this library did not write; default [`Foreign::Gateway`] (the
    /// gateway's legacy rules). [`Foreign::Keep`] never removes them.
    pub foreign: Foreign,
    /// Who the hold will belong to; [`HoldOwner::PROCESS`] unless a binding says otherwise.
    pub hold_owner: HoldOwner,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Some(DEFAULT_TIMEOUT),
            stale: DEFAULT_STALE,
            max_hold: Some(DEFAULT_MAX_HOLD),
            allow_reentrant: false,
            reentrant_owner: None,
            owner: None,
            owner_matcher: None,
            foreign: Foreign::Gateway,
            hold_owner: HoldOwner::PROCESS,
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
                Some(ms) => millis(OptionName::TimeoutMs, ms, Limit::InfinityMeansNone, true)?,
            },
            stale: match stale_ms {
                None => defaults.stale,
                // Limit::Finite never answers "no limit"; the default stands in for it anyway.
                Some(ms) => {
                    millis(OptionName::StaleMs, ms, Limit::Finite, false)?.unwrap_or(defaults.stale)
                }
            },
            max_hold: match max_hold_ms {
                None => defaults.max_hold,
                Some(ms) => millis(OptionName::MaxHoldMs, ms, Limit::InfinityMeansNone, false)?,
            },
            allow_reentrant: allow_reentrant.unwrap_or(defaults.allow_reentrant),
            ..defaults
        })
    }

    /// The label of a hold taken with these options.
    pub fn label(&self) -> Option<&str> {
        self.owner.as_deref().or(self.reentrant_owner.as_deref())
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
    /// Judge live legacy holders by their command line; `None`: off.
    pub owner_matcher: Option<ArgvMatcher>,
    /// The rule for lock files this library did not write (as [`Options::foreign`]).
    pub foreign: Foreign,
    /// Which files of a directory [`crate::clean_stale`] looks at; default the session locks.
    pub select: Select,
}

impl Default for CleanOptions {
    fn default() -> Self {
        CleanOptions {
            stale: DEFAULT_STALE,
            remove: true,
            now: None,
            owner_matcher: None,
            foreign: Foreign::Gateway,
            select: Select::SessionLocks,
        }
    }
}

enum Limit {
    Finite,
    InfinityMeansNone,
}

/// Validates one millisecond option and names it in the error.
fn millis(
    name: OptionName,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_design() {
        let o = Options::from_millis(None, None, None, None).unwrap();
        assert_eq!(o, Options::default());
        assert_eq!(o.timeout, Some(Duration::from_secs(60)));
        assert_eq!(o.stale, Duration::from_secs(1800));
        assert_eq!(o.max_hold, Some(Duration::from_secs(300)));
        assert!(!o.allow_reentrant);
        assert_eq!(
            (o.reentrant_owner, o.owner, o.owner_matcher),
            (None, None, None)
        );
    }

    #[test]
    fn infinity_and_zero_timeouts() {
        let o = Options::from_millis(Some(f64::INFINITY), None, None, None).unwrap();
        assert_eq!(o.timeout, None);
        let o = Options::from_millis(Some(0.0), None, None, Some(true)).unwrap();
        assert_eq!(o.timeout, Some(Duration::ZERO));
        assert!(o.allow_reentrant);
    }

    /// (timeoutMs, staleMs, maxHoldMs, the option the error must name)
    type Row = (Option<f64>, Option<f64>, Option<f64>, OptionName);

    #[test]
    fn invalid_values_name_the_option() {
        let cases: [Row; 6] = [
            (Some(f64::NAN), None, None, OptionName::TimeoutMs),
            (Some(-1.0), None, None, OptionName::TimeoutMs),
            (None, Some(0.0), None, OptionName::StaleMs),
            (None, Some(f64::INFINITY), None, OptionName::StaleMs),
            (None, None, Some(-5.0), OptionName::MaxHoldMs),
            (None, None, Some(f64::NAN), OptionName::MaxHoldMs),
        ];
        for (t, s, m, expected) in cases {
            match Options::from_millis(t, s, m, None) {
                Err(Error::InvalidArgument { name, .. }) => assert_eq!(name, expected),
                other => panic!("{expected:?}: expected invalid argument, got {other:?}"),
            }
        }
    }
}
