//! Which files of a directory a sweep looks at (`CleanOptions::select`; the CLI's `status` and
//! `clean` with `--pattern`, docs/PROTOCOL.md "Cleaning up"): the gateway's session locks,
//! every lock file this library wrote (known by its content), or the names a glob matches.

use crate::error::Error;
use crate::foreign::Foreign;
use crate::lock_names;
use crate::option_name::OptionName;
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;

/// The files of a sweep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Select {
    /// `*.jsonl.lock`: the gateway's session locks, whoever wrote them (the gateway's sweep).
    #[default]
    SessionLocks,
    /// The session locks, and every other `*.lock` whose content says this library wrote it;
    /// other programs' `*.lock` files are neither reported nor touched.
    Ours,
    /// The names a shell glob matches (`fnmatch(3)`: `*`, `?`, `[...]`; a leading `.` only
    /// by a `.`), judged under `CleanOptions::foreign`.
    Glob(CString),
}

impl Select {
    /// The names `pattern` matches; a pattern with a NUL byte is an invalid argument.
    pub fn glob(pattern: &OsStr) -> Result<Select, Error> {
        CString::new(pattern.as_bytes())
            .map(Select::Glob)
            .map_err(|_| Error::invalid(OptionName::Pattern, "must not contain a NUL byte"))
    }

    /// Whether a directory entry is looked at. Temp files of writers never are (the sweep
    /// removes old ones by their own rule).
    pub fn admits(&self, name: &OsStr) -> bool {
        if lock_names::is_temp(name) {
            return false;
        }
        match self {
            Select::SessionLocks => lock_names::is_session_lock(name),
            Select::Ours => name.as_bytes().ends_with(b".lock"),
            Select::Glob(pattern) => CString::new(name.as_bytes())
                .is_ok_and(|name| crate::sys::name_matches(pattern, &name)),
        }
    }

    /// The rule for a file of another program named `name`: `Ours` never touches one that is
    /// not a session lock, whatever `foreign` says.
    pub fn foreign_rule(&self, name: &OsStr, foreign: Foreign) -> Foreign {
        match self {
            Select::Ours if !lock_names::is_session_lock(name) => Foreign::Keep,
            _ => foreign,
        }
    }

    /// Whether an inspected file is reported: under `Ours`, only session locks and files this
    /// library wrote (`written_by_us`).
    pub fn reports(&self, name: &OsStr, written_by_us: bool) -> bool {
        !matches!(self, Select::Ours) || written_by_us || lock_names::is_session_lock(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> &OsStr {
        OsStr::new(s)
    }

    #[test]
    fn each_selection_admits_its_names() {
        let glob = |p: &str| Select::glob(os(p)).unwrap();
        // (name, session locks, ours, `*.lock`, `mail*`, `[ab].pid.lock`)
        let rows = [
            ("a.jsonl.lock", true, true, true, false, false),
            ("mailbox.lock", false, true, true, true, false),
            ("a.pid.lock", false, true, true, false, true),
            ("c.pid.lock", false, true, true, false, false),
            ("mailbox", false, false, false, true, false),
            (".hidden.lock", false, true, false, false, false),
            (
                ".a.jsonl.lock.0123456789abcdef.tmp",
                false,
                false,
                false,
                false,
                false,
            ),
        ];
        for (name, session, ours, star, mail, class) in rows {
            let n = os(name);
            assert_eq!(Select::SessionLocks.admits(n), session, "{name}");
            assert_eq!(Select::Ours.admits(n), ours, "{name}");
            assert_eq!(glob("*.lock").admits(n), star, "{name}");
            assert_eq!(glob("mail*").admits(n), mail, "{name}");
            assert_eq!(glob("[ab].pid.lock").admits(n), class, "{name}");
        }
        assert!(Select::glob(OsStr::from_bytes(b"a\0b")).is_err());
    }

    #[test]
    fn ours_never_touches_other_programs_files() {
        let mail = os("mailbox.lock");
        let session = os("a.jsonl.lock");
        assert_eq!(
            Select::Ours.foreign_rule(mail, Foreign::Gateway),
            Foreign::Keep
        );
        assert_eq!(
            Select::Ours.foreign_rule(session, Foreign::Gateway),
            Foreign::Gateway
        );
        let glob = Select::glob(os("*")).unwrap();
        assert_eq!(glob.foreign_rule(mail, Foreign::Dotlock), Foreign::Dotlock);
        assert!(!Select::Ours.reports(mail, false));
        assert!(Select::Ours.reports(mail, true));
        assert!(Select::Ours.reports(session, false));
        assert!(glob.reports(mail, false));
    }
}
