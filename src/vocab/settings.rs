//! Settings from the environment and the gateway's lenient number options (docs/PROTOCOL.md,
//! "Settings"). The gateway's module reads `OPENCLAW_SESSION_WRITE_LOCK_*_MS`; other users may
//! use the same names with the `SESSION_WRITE_LOCK_` prefix. Precedence: environment, then
//! configuration, then the built-in default. Nothing here ever fails: a value that does not
//! qualify is ignored.

use crate::vocab::option_name::OptionName;
use crate::vocab::options::{
    Options, DEFAULT_MAX_HOLD, DEFAULT_STALE, DEFAULT_TIMEOUT, MAX_HOLD_CLAMP_MS,
};
use std::ffi::CStr;
use std::time::Duration;

/// Largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// One of the three settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// How long an acquire waits; the only one that may be `Infinity`.
    AcquireTimeout,
    /// Age after which a legacy lock is `too-old`.
    Stale,
    /// Watchdog limit.
    MaxHold,
}

impl Setting {
    /// The option this setting is the default of; its environment variables are that
    /// option's [`OptionName::env_names`].
    pub fn option(self) -> OptionName {
        match self {
            Setting::AcquireTimeout => OptionName::TimeoutMs,
            Setting::Stale => OptionName::StaleMs,
            Setting::MaxHold => OptionName::MaxHoldMs,
        }
    }

    fn allows_infinity(self) -> bool {
        self == Setting::AcquireTimeout
    }
}

/// An environment value: trimmed ASCII digits giving a safe integer > 0, or exactly `Infinity`
/// where allowed. Anything else (`1e3`, `0x1000`, `-5`, `0`, `9007199254740993`) is ignored.
pub fn parse_env_ms(value: &str, setting: Setting) -> Option<f64> {
    let value = value.trim();
    if value == "Infinity" {
        return setting.allows_infinity().then_some(f64::INFINITY);
    }
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Digits only: exact as an integer up to u64, then checked against the safe range.
    let n: u64 = value.parse().ok()?;
    (n > 0 && n <= MAX_SAFE_INTEGER as u64).then_some(n as f64)
}

/// A configuration value: a safe integer > 0, or `Infinity` where allowed.
pub fn config_ms(value: f64, setting: Setting) -> Option<f64> {
    if value == f64::INFINITY {
        return setting.allows_infinity().then_some(value);
    }
    (value > 0.0 && value.fract() == 0.0 && value <= MAX_SAFE_INTEGER).then_some(value)
}

/// A per-call option, the gateway's way: `NaN`, 0 and negative values mean "the default";
/// `Infinity` only for the timeout; fractions are kept.
pub fn lenient_ms(value: Option<f64>, setting: Setting) -> Option<f64> {
    let value = value?;
    if value == f64::INFINITY {
        return setting.allows_infinity().then_some(value);
    }
    (value > 0.0 && value.is_finite()).then_some(value)
}

/// The three settings in milliseconds (`Infinity` for a timeout that waits forever).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Acquire timeout.
    pub timeout_ms: f64,
    /// Stale age.
    pub stale_ms: f64,
    /// Max-hold.
    pub max_hold_ms: f64,
}

/// Configuration values, as the caller found them (`config.session.writeLock.*`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ConfigMs {
    /// `acquireTimeoutMs`.
    pub acquire_timeout_ms: Option<f64>,
    /// `staleMs`.
    pub stale_ms: Option<f64>,
    /// `maxHoldMs`.
    pub max_hold_ms: Option<f64>,
}

impl Settings {
    /// Environment (through `env`, which looks a variable up), then configuration, then the
    /// defaults; `max_hold_fallback` (when valid) replaces the max-hold default.
    pub fn resolve(
        env: impl Fn(&CStr) -> Option<String>,
        config: ConfigMs,
        max_hold_fallback: Option<f64>,
    ) -> Settings {
        let pick = |setting: Setting, configured: Option<f64>, default: f64| {
            setting
                .option()
                .env_names()
                .iter()
                .find_map(|name| parse_env_ms(&env(name)?, setting))
                .or_else(|| configured.and_then(|v| config_ms(v, setting)))
                .unwrap_or(default)
        };
        let ms = |d: Duration| d.as_millis() as f64;
        let max_hold_default =
            lenient_ms(max_hold_fallback, Setting::MaxHold).unwrap_or(ms(DEFAULT_MAX_HOLD));
        Settings {
            timeout_ms: pick(
                Setting::AcquireTimeout,
                config.acquire_timeout_ms,
                ms(DEFAULT_TIMEOUT),
            ),
            stale_ms: pick(Setting::Stale, config.stale_ms, ms(DEFAULT_STALE)),
            max_hold_ms: pick(Setting::MaxHold, config.max_hold_ms, max_hold_default),
        }
    }

    /// These settings overridden by per-call values taken the gateway's lenient way.
    pub fn with_call_values(
        self,
        timeout_ms: Option<f64>,
        stale_ms: Option<f64>,
        max_hold_ms: Option<f64>,
    ) -> Settings {
        Settings {
            timeout_ms: lenient_ms(timeout_ms, Setting::AcquireTimeout).unwrap_or(self.timeout_ms),
            stale_ms: lenient_ms(stale_ms, Setting::Stale).unwrap_or(self.stale_ms),
            max_hold_ms: lenient_ms(max_hold_ms, Setting::MaxHold).unwrap_or(self.max_hold_ms),
        }
    }

    /// [`Settings::resolve`] over this process's environment, without configuration.
    pub fn from_process_env() -> Settings {
        Settings::resolve(process_env_var, ConfigMs::default(), None)
    }

    /// Options with these settings as defaults, overridden by per-call values taken the
    /// gateway's lenient way ([`lenient_ms`]).
    pub fn lenient_options(
        &self,
        timeout_ms: Option<f64>,
        stale_ms: Option<f64>,
        max_hold_ms: Option<f64>,
    ) -> Options {
        let s = self.with_call_values(timeout_ms, stale_ms, max_hold_ms);
        Options {
            timeout: duration(s.timeout_ms),
            stale: duration(s.stale_ms).unwrap_or(DEFAULT_STALE),
            max_hold: duration(s.max_hold_ms),
            ..Options::default()
        }
    }

    /// Options with exactly these settings.
    pub fn options(&self) -> Options {
        self.lenient_options(None, None, None)
    }
}

/// A variable of this process's environment. Read at every acquire of the Node package, so it
/// uses `getenv` directly: no allocation per name, unlike `std::env::var` (measured: several
/// microseconds per acquire for the six names).
pub fn process_env_var(name: &CStr) -> Option<String> {
    crate::sys::getenv(name)
}

/// Milliseconds (> 0, or infinity for "no limit") as a duration, saturating.
fn duration(ms: f64) -> Option<Duration> {
    if ms.is_infinite() {
        return None;
    }
    Some(Duration::try_from_secs_f64(ms / 1000.0).unwrap_or(Duration::MAX))
}

// Here rather than in options.rs: settings build on the options, not the other way round.
impl Options {
    /// The defaults with the environment's settings applied
    /// (`OPENCLAW_SESSION_WRITE_LOCK_*_MS`, `SESSION_WRITE_LOCK_*_MS`).
    pub fn from_env() -> Options {
        crate::vocab::settings::Settings::from_process_env().options()
    }
}

/// Max-hold derived from a caller's lock timeout: long enough that the watchdog never fires
/// on a holder that is still within its own budget. The gateway's rule, lenient like its
/// options (a value that is not a positive number means its default: `min_ms` 300 000,
/// `grace_ms` 120 000, `timeout_ms` = `min_ms`):
/// `min(2 147 000 000, max(min_ms, timeout_ms + grace_ms))`; an infinite timeout gives the clamp.
pub fn resolve_max_hold_from_timeout(
    timeout_ms: Option<f64>,
    grace_ms: Option<f64>,
    min_ms: Option<f64>,
) -> f64 {
    let min_ms =
        lenient_ms(min_ms, Setting::MaxHold).unwrap_or(DEFAULT_MAX_HOLD.as_millis() as f64);
    let timeout_ms = lenient_ms(timeout_ms, Setting::AcquireTimeout).unwrap_or(min_ms);
    if timeout_ms.is_infinite() {
        return MAX_HOLD_CLAMP_MS;
    }
    let grace_ms = lenient_ms(grace_ms, Setting::MaxHold).unwrap_or(120_000.0);
    (timeout_ms + grace_ms).max(min_ms).min(MAX_HOLD_CLAMP_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Setting::*;

    #[test]
    fn environment_values() {
        let rows: [(&str, Setting, Option<f64>); 16] = [
            ("1000", Stale, Some(1000.0)),
            (" 2500 ", MaxHold, Some(2500.0)),
            ("1e3", Stale, None),
            ("0x1000", Stale, None),
            ("0", AcquireTimeout, None),
            ("-5", AcquireTimeout, None),
            ("+5", AcquireTimeout, None),
            ("1.5", AcquireTimeout, None),
            ("1 000", AcquireTimeout, None),
            ("", AcquireTimeout, None),
            ("9007199254740991", Stale, Some(9_007_199_254_740_991.0)),
            ("9007199254740993", Stale, None),
            ("99999999999999999999999", Stale, None),
            ("Infinity", AcquireTimeout, Some(f64::INFINITY)),
            ("Infinity", Stale, None),
            ("Infinity", MaxHold, None),
        ];
        for (value, setting, expected) in rows {
            assert_eq!(
                parse_env_ms(value, setting),
                expected,
                "{value:?} {setting:?}"
            );
        }
    }

    #[test]
    fn lenient_and_config_values() {
        assert_eq!(lenient_ms(Some(f64::NAN), Stale), None);
        assert_eq!(lenient_ms(Some(0.0), Stale), None);
        assert_eq!(lenient_ms(Some(-1.0), AcquireTimeout), None);
        assert_eq!(lenient_ms(Some(f64::NEG_INFINITY), AcquireTimeout), None);
        assert_eq!(lenient_ms(Some(f64::INFINITY), MaxHold), None);
        assert_eq!(
            lenient_ms(Some(f64::INFINITY), AcquireTimeout),
            Some(f64::INFINITY)
        );
        assert_eq!(lenient_ms(Some(1.5), Stale), Some(1.5));
        assert_eq!(config_ms(1.5, Stale), None);
        assert_eq!(config_ms(30_000.0, Stale), Some(30_000.0));
        assert_eq!(
            config_ms(f64::INFINITY, AcquireTimeout),
            Some(f64::INFINITY)
        );
        assert_eq!(config_ms(f64::INFINITY, Stale), None);
    }

    #[test]
    fn precedence_environment_config_default() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &CStr| {
                pairs
                    .iter()
                    .find(|(k, _)| k.as_bytes() == name.to_bytes())
                    .map(|(_, v)| v.to_string())
            }
        };
        let none = Settings::resolve(env(&[]), ConfigMs::default(), None);
        assert_eq!(
            none,
            Settings {
                timeout_ms: 60_000.0,
                stale_ms: 1_800_000.0,
                max_hold_ms: 300_000.0
            }
        );
        let config = ConfigMs {
            acquire_timeout_ms: Some(5_000.0),
            stale_ms: Some(30_000.0),
            max_hold_ms: Some(0.0),
        };
        let s = Settings::resolve(
            env(&[
                ("OPENCLAW_SESSION_WRITE_LOCK_STALE_MS", "60000"),
                ("SESSION_WRITE_LOCK_STALE_MS", "70000"),
                ("SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS", "1e3"),
            ]),
            config,
            Some(900_000.0),
        );
        assert_eq!(
            s,
            Settings {
                timeout_ms: 5_000.0,
                stale_ms: 60_000.0,
                max_hold_ms: 900_000.0
            }
        );
        let s = Settings::resolve(
            env(&[("SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS", "Infinity")]),
            ConfigMs::default(),
            Some(-1.0),
        );
        assert_eq!((s.timeout_ms, s.max_hold_ms), (f64::INFINITY, 300_000.0));
        let o = s.lenient_options(Some(f64::NAN), Some(-3.0), Some(f64::INFINITY));
        assert_eq!(o.timeout, None);
        assert_eq!(o.stale, DEFAULT_STALE);
        assert_eq!(o.max_hold, Some(DEFAULT_MAX_HOLD));
        let o = s.lenient_options(Some(250.0), Some(1_000.0), Some(2_000.0));
        assert_eq!(
            (o.timeout, o.stale, o.max_hold),
            (
                Some(Duration::from_millis(250)),
                Duration::from_secs(1),
                Some(Duration::from_secs(2))
            )
        );
    }

    #[test]
    fn max_hold_from_timeout() {
        type Row = (Option<f64>, Option<f64>, Option<f64>, f64);
        let rows: [Row; 9] = [
            (Some(1_000.0), None, None, 300_000.0),
            (Some(600_000.0), None, None, 720_000.0),
            (Some(1_000.0), None, Some(5_000.0), 121_000.0),
            (Some(600_000.0), Some(1.0), Some(1.0), 600_001.0),
            (Some(600_000.0), Some(0.0), Some(-1.0), 720_000.0),
            (Some(f64::INFINITY), None, None, MAX_HOLD_CLAMP_MS),
            (Some(MAX_HOLD_CLAMP_MS), None, None, MAX_HOLD_CLAMP_MS),
            (Some(f64::NAN), None, Some(400_000.0), 520_000.0),
            (None, None, None, 420_000.0),
        ];
        for (t, g, m, expected) in rows {
            assert_eq!(
                resolve_max_hold_from_timeout(t, g, m),
                expected,
                "{t:?} {g:?} {m:?}"
            );
        }
    }
}
