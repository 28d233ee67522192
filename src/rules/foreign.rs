//! Which rule judges a lock file this library did not write (docs/PROTOCOL.md, "Files of
//! other programs"): the gateway's legacy rules, none (kept), or liblockfile's dotlock rule.
//! A switch of the verdict's `Purpose`, chosen by the caller's options.

use std::fmt;

/// The rule for lock files without `flock: true` (not written by this library).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Foreign {
    /// The gateway's legacy rules (pid, age, command line; an unreadable file after a grace):
    /// what the gateway's API, Rust's and C's defaults and the CLI apply.
    #[default]
    Gateway,
    /// Never removed, never reported stale: whoever wrote it holds the lock until it goes.
    Keep,
    /// A dotlock (a decimal pid, as liblockfile, dotlockfile(1) and UUCP write) whose pid
    /// does not exist on this host is stale; every other foreign file is kept.
    Dotlock,
}

impl Foreign {
    /// Every rule, for the bindings' lists of accepted values.
    pub const ALL: [Foreign; 3] = [Foreign::Gateway, Foreign::Keep, Foreign::Dotlock];

    /// `"gateway"`, `"keep"` or `"dotlock"`: the spelling of every binding.
    pub fn as_str(self) -> &'static str {
        match self {
            Foreign::Gateway => "gateway",
            Foreign::Keep => "keep",
            Foreign::Dotlock => "dotlock",
        }
    }

    /// The rule spelled `name`.
    pub fn from_name(name: &str) -> Option<Foreign> {
        Foreign::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// `"gateway", "keep" or "dotlock"`, for error messages.
    pub fn expected() -> String {
        let names: Vec<String> = Foreign::ALL
            .iter()
            .map(|f| format!("\"{}\"", f.as_str()))
            .collect();
        format!("must be one of {}", names.join(", "))
    }
}

impl fmt::Display for Foreign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_default_is_the_gateways() {
        for rule in Foreign::ALL {
            assert_eq!(Foreign::from_name(rule.as_str()), Some(rule));
            assert!(Foreign::expected().contains(rule.as_str()));
        }
        assert_eq!(Foreign::from_name("Keep"), None);
        assert_eq!(Foreign::from_name(""), None);
        assert_eq!(Foreign::default(), Foreign::Gateway);
    }
}
