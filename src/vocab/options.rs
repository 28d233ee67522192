//! Acquire and clean options, validated once here for every binding.

use crate::rules::foreign::Foreign;
use crate::rules::owner_argv::ArgvMatcher;
use crate::vocab::error::Error;
use crate::vocab::option_name::OptionName;
use crate::vocab::owner::HoldOwner;
use crate::vocab::select::Select;
use std::time::{Duration, SystemTime};

/// Default of [`Options::timeout`]: 60 s in every binding.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(60_000);
/// Default of [`Options::stale`] and [`CleanOptions::stale`].
pub const DEFAULT_STALE: Duration = Duration::from_millis(30 * 60 * 1000);
/// Default of [`Options::max_hold`].
pub const DEFAULT_MAX_HOLD: Duration = Duration::from_millis(5 * 60 * 1000);
/// Largest delay a JavaScript timer accepts; max-hold values are clamped to it.
pub const MAX_HOLD_CLAMP_MS: f64 = 2_147_000_000.0;

/// Options of [`crate::api::acquire`].
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
    /// Sets [`Options::timeout`] from the milliseconds a binding received (a JavaScript number,
    /// a C integer): `0` tries once, infinity waits forever; NaN and negatives are refused.
    pub fn set_timeout_ms(&mut self, ms: f64) -> Result<(), Error> {
        self.timeout = millis(OptionName::TimeoutMs, ms, Limit::InfinityMeansNone, true)?;
        Ok(())
    }

    /// Sets [`Options::stale`] from milliseconds: finite and greater than 0.
    pub fn set_stale_ms(&mut self, ms: f64) -> Result<(), Error> {
        self.stale = stale_ms(ms)?;
        Ok(())
    }

    /// Sets [`Options::max_hold`] from milliseconds: greater than 0; infinity turns the
    /// watchdog off.
    pub fn set_max_hold_ms(&mut self, ms: f64) -> Result<(), Error> {
        self.max_hold = millis(OptionName::MaxHoldMs, ms, Limit::InfinityMeansNone, false)?;
        Ok(())
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

impl CleanOptions {
    /// Sets [`CleanOptions::stale`] from milliseconds: finite and greater than 0.
    pub fn set_stale_ms(&mut self, ms: f64) -> Result<(), Error> {
        self.stale = stale_ms(ms)?;
        Ok(())
    }
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

fn stale_ms(ms: f64) -> Result<Duration, Error> {
    // Limit::Finite never answers "no limit"; the default stands in for it anyway.
    Ok(millis(OptionName::StaleMs, ms, Limit::Finite, false)?.unwrap_or(DEFAULT_STALE))
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
        let o = Options::default();
        assert_eq!(o.timeout, Some(Duration::from_secs(60)));
        assert_eq!(o.stale, Duration::from_secs(1800));
        assert_eq!(o.max_hold, Some(Duration::from_secs(300)));
        assert!(!o.allow_reentrant);
        assert_eq!(
            (o.reentrant_owner, o.owner, o.owner_matcher),
            (None, None, None)
        );
        assert_eq!(CleanOptions::default().stale, o.stale);
    }

    #[test]
    fn infinity_and_zero() {
        let mut o = Options::default();
        o.set_timeout_ms(f64::INFINITY).unwrap();
        assert_eq!(o.timeout, None);
        o.set_timeout_ms(0.0).unwrap();
        assert_eq!(o.timeout, Some(Duration::ZERO));
        o.set_max_hold_ms(f64::INFINITY).unwrap();
        assert_eq!(o.max_hold, None);
        o.set_stale_ms(1.5).unwrap();
        assert_eq!(o.stale, Duration::from_micros(1500));
    }

    #[test]
    fn invalid_values_name_the_option_and_change_nothing() {
        type Setter = fn(&mut Options, f64) -> Result<(), Error>;
        let cases: [(Setter, f64, OptionName); 7] = [
            (Options::set_timeout_ms, f64::NAN, OptionName::TimeoutMs),
            (Options::set_timeout_ms, -1.0, OptionName::TimeoutMs),
            (Options::set_stale_ms, 0.0, OptionName::StaleMs),
            (Options::set_stale_ms, f64::INFINITY, OptionName::StaleMs),
            (Options::set_max_hold_ms, -5.0, OptionName::MaxHoldMs),
            (Options::set_max_hold_ms, 0.0, OptionName::MaxHoldMs),
            (Options::set_max_hold_ms, f64::NAN, OptionName::MaxHoldMs),
        ];
        for (set, ms, expected) in cases {
            let mut o = Options::default();
            match set(&mut o, ms) {
                Err(Error::InvalidArgument { name, .. }) => assert_eq!(name, expected),
                other => panic!("{expected:?} {ms}: expected invalid argument, got {other:?}"),
            }
            assert_eq!(o, Options::default(), "{expected:?} {ms}");
        }
        let mut c = CleanOptions::default();
        assert!(c.set_stale_ms(-1.0).is_err());
        assert_eq!(c, CleanOptions::default());
    }
}
