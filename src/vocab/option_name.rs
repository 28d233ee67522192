//! The names of options and arguments, one enum for every binding: errors carry an
//! [`OptionName`], and each edge spells it the way its users do (`timeoutMs` in Node,
//! `timeout_ms` in C, `--timeout-ms` in the CLI).

use std::ffi::CStr;
use std::fmt;

/// Declares [`OptionName`] from one table, so that [`OptionName::ALL`] lists every variant.
macro_rules! option_names {
    ($($(#[doc = $doc:literal])* $variant:ident: $js:expr, $c:expr;)*) => {
        /// An option or argument of the API, as errors name it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum OptionName {
            $($(#[doc = $doc])* $variant,)*
        }

        impl OptionName {
            /// Every name, in the order of the table.
            pub const ALL: &'static [OptionName] = &[$(OptionName::$variant),*];

            /// The key or argument as the Node package spells it; `None` for C-only names.
            pub fn js_name(self) -> Option<&'static str> {
                match self {
                    $(OptionName::$variant => $js,)*
                }
            }

            /// The field or parameter as the C header spells it; `None` for Node-only names.
            pub fn c_name(self) -> Option<&'static str> {
                match self {
                    $(OptionName::$variant => $c,)*
                }
            }
        }
    };
}

option_names! {
    /// The session file whose lock is meant (C: the `session_file` parameter).
    SessionFile: Some("sessionFile"), Some("session_file");
    /// The directory a sweep looks at.
    SessionsDir: Some("sessionsDir"), Some("sessions_dir");
    /// A lock file given by its own path (the Node sweep's step).
    LockPath: Some("lockPath"), None;
    /// A path the system must take (no NUL byte).
    Path: Some("path"), None;
    /// The options object of a Node call.
    Params: Some("params"), None;
    /// How long an acquire waits.
    TimeoutMs: Some("timeoutMs"), Some("timeout_ms");
    /// Age after which a lock without a live flock holder is stale.
    StaleMs: Some("staleMs"), Some("stale_ms");
    /// The watchdog's limit.
    MaxHoldMs: Some("maxHoldMs"), Some("max_hold_ms");
    /// Nest into a hold of the same owner.
    AllowReentrant: Some("allowReentrant"), Some("allow_reentrant");
    /// Nest only into a hold taken with this identity.
    ReentrantOwner: Some("reentrantOwner"), None;
    /// The hold's label for people.
    Owner: Some("owner"), Some("owner");
    /// The glob that selects a sweep's files (the CLI's `--pattern`).
    Pattern: Some("pattern"), None;
    /// The rule for lock files this library did not write (`keep`, `dotlock`, `gateway`).
    Foreign: Some("foreign"), Some("foreign");
    /// Who a request belongs to (a Node environment that may have ended).
    HoldOwner: Some("holdOwner"), None;
    /// The size of the caller's `swl_options`.
    Size: None, Some("size");
    /// The clock of a sweep or inspection, Unix milliseconds.
    NowMs: Some("nowMs"), None;
    /// Whether the sweep's step removes what is removable.
    RemoveStale: Some("removeStale"), None;
    /// A live legacy holder's command line, as the caller read it.
    OwnerArgs: Some("ownerArgs"), None;
    /// A lock file's content, judged alone (a test hook).
    Payload: Some("payload"), None;
    /// Whether a payload is judged as an acquire would (`hold-exceeded`).
    RespectMaxHold: Some("respectMaxHold"), None;
    /// What max-hold adds to a timeout.
    GraceMs: Some("graceMs"), None;
    /// The smallest max-hold derived from a timeout.
    MinMs: Some("minMs"), None;
    /// The configured acquire timeout (`config.session.writeLock.acquireTimeoutMs`).
    AcquireTimeoutMs: Some("acquireTimeoutMs"), None;
    /// What replaces the max-hold default when settings are resolved.
    MaxHoldMsFallback: Some("maxHoldMsFallback"), None;
    /// The environment settings are read from.
    Env: Some("env"), None;
    /// Per-call values that override resolved settings.
    Call: Some("call"), None;
    /// The function log lines go to.
    Logger: Some("logger"), None;
    /// A pid whose start time a test pins.
    Pid: Some("pid"), None;
    /// The start time pinned for that pid.
    Starttime: Some("starttime"), None;
}

impl OptionName {
    /// The name in the core's own messages: the Node package's, else the C header's.
    pub fn as_str(self) -> &'static str {
        self.js_name().or(self.c_name()).unwrap_or("argument")
    }

    /// The flag of the `session-lock` CLI that sets this option, if any.
    pub fn cli_flag(self) -> Option<&'static str> {
        match self {
            OptionName::TimeoutMs => Some("--timeout-ms"),
            OptionName::StaleMs => Some("--stale-ms"),
            OptionName::MaxHoldMs => Some("--max-hold-ms"),
            OptionName::Pattern => Some("--pattern"),
            OptionName::Foreign => Some("--foreign"),
            _ => None,
        }
    }

    /// The environment variables that set this option's default, first match wins: the
    /// gateway's name, then the same with the `SESSION_WRITE_LOCK_` prefix (docs/PROTOCOL.md,
    /// "Settings"). Empty for options the environment does not set.
    pub fn env_names(self) -> &'static [&'static CStr] {
        match self {
            OptionName::TimeoutMs => &[
                c"OPENCLAW_SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS",
                c"SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS",
            ],
            OptionName::StaleMs => &[
                c"OPENCLAW_SESSION_WRITE_LOCK_STALE_MS",
                c"SESSION_WRITE_LOCK_STALE_MS",
            ],
            OptionName::MaxHoldMs => &[
                c"OPENCLAW_SESSION_WRITE_LOCK_MAX_HOLD_MS",
                c"SESSION_WRITE_LOCK_MAX_HOLD_MS",
            ],
            _ => &[],
        }
    }

    /// The name whose Node spelling is `name`.
    pub fn from_js_name(name: &str) -> Option<OptionName> {
        Self::ALL
            .iter()
            .copied()
            .find(|o| o.js_name() == Some(name))
    }

    /// The name whose C spelling is `name`.
    pub fn from_c_name(name: &str) -> Option<OptionName> {
        Self::ALL.iter().copied().find(|o| o.c_name() == Some(name))
    }
}

impl fmt::Display for OptionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every variant has a name, and no spelling of one edge names two variants.
    #[test]
    fn every_name_is_distinct_within_its_edge() {
        let mut js = BTreeSet::new();
        let mut c = BTreeSet::new();
        let mut cli = BTreeSet::new();
        let mut env = BTreeSet::new();
        for &name in OptionName::ALL {
            assert!(
                name.js_name().is_some() || name.c_name().is_some(),
                "{name:?} has no name"
            );
            assert_ne!(name.as_str(), "argument", "{name:?}");
            for (seen, spelling) in [
                (&mut js, name.js_name()),
                (&mut c, name.c_name()),
                (&mut cli, name.cli_flag()),
            ] {
                if let Some(s) = spelling {
                    assert!(seen.insert(s), "{s} names two options");
                }
            }
            for var in name.env_names() {
                assert!(env.insert(*var), "{var:?} sets two options");
            }
        }
        for &name in OptionName::ALL {
            if let Some(s) = name.js_name() {
                assert_eq!(OptionName::from_js_name(s), Some(name));
                assert!(s.chars().all(|ch| ch.is_ascii_alphanumeric()), "{s}");
            }
            if let Some(s) = name.c_name() {
                assert_eq!(OptionName::from_c_name(s), Some(name));
                assert!(
                    s.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                    "{s}"
                );
            }
        }
        assert_eq!(OptionName::from_js_name("timeout_ms"), None);
        assert_eq!(OptionName::from_c_name("timeoutMs"), None);
    }

    /// Each setting the environment sets is read under both prefixes, and the three options
    /// with a CLI flag are those settings.
    #[test]
    fn settings_have_environment_names_and_flags() {
        let with_env: Vec<OptionName> = OptionName::ALL
            .iter()
            .copied()
            .filter(|o| !o.env_names().is_empty())
            .collect();
        assert_eq!(
            with_env,
            [
                OptionName::TimeoutMs,
                OptionName::StaleMs,
                OptionName::MaxHoldMs
            ]
        );
        for name in with_env {
            let [gateway, ours] = name.env_names() else {
                panic!("{name:?}: two names expected");
            };
            let gateway = gateway.to_str().unwrap();
            assert_eq!(
                gateway.strip_prefix("OPENCLAW_"),
                Some(ours.to_str().unwrap())
            );
            assert!(name.cli_flag().is_some(), "{name:?}");
        }
    }
}
