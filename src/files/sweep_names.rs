//! What each [`Select`] admits of a directory's entries, and how it judges them
//! (docs/PROTOCOL.md, "Cleaning up"): the file-name side of a sweep's choice.

use crate::base::lock_names;
use crate::rules::foreign::Foreign;
use crate::vocab::select::Select;
use std::ffi::{CString, OsStr};

/// Whether a directory entry is looked at. Temp files of writers never are (the sweep removes
/// old ones by their own rule).
pub fn admits(select: &Select, name: &OsStr) -> bool {
    if lock_names::is_temp(name) {
        return false;
    }
    match select {
        Select::SessionLocks => lock_names::is_session_lock(name),
        Select::Ours => name.as_encoded_bytes().ends_with(b".lock"),
        Select::Glob(pattern) => CString::new(name.as_encoded_bytes())
            .is_ok_and(|name| crate::sys::name_matches(pattern, &name)),
    }
}

/// The rule for a file of another program named `name`: `Ours` never touches one that is not a
/// session lock, whatever `foreign` says.
pub fn foreign_rule(select: &Select, name: &OsStr, foreign: Foreign) -> Foreign {
    match select {
        Select::Ours if !lock_names::is_session_lock(name) => Foreign::Keep,
        _ => foreign,
    }
}

/// Whether an inspected file is reported: under `Ours`, only session locks and files this
/// library wrote (`written_by_us`).
pub fn reports(select: &Select, name: &OsStr, written_by_us: bool) -> bool {
    !matches!(select, Select::Ours) || written_by_us || lock_names::is_session_lock(name)
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
            assert_eq!(admits(&Select::SessionLocks, n), session, "{name}");
            assert_eq!(admits(&Select::Ours, n), ours, "{name}");
            assert_eq!(admits(&glob("*.lock"), n), star, "{name}");
            assert_eq!(admits(&glob("mail*"), n), mail, "{name}");
            assert_eq!(admits(&glob("[ab].pid.lock"), n), class, "{name}");
        }
    }

    #[test]
    fn ours_never_touches_other_programs_files() {
        let mail = os("mailbox.lock");
        let session = os("a.jsonl.lock");
        let ours = Select::Ours;
        assert_eq!(foreign_rule(&ours, mail, Foreign::Gateway), Foreign::Keep);
        assert_eq!(
            foreign_rule(&ours, session, Foreign::Gateway),
            Foreign::Gateway
        );
        let glob = Select::glob(os("*")).unwrap();
        assert_eq!(
            foreign_rule(&glob, mail, Foreign::Dotlock),
            Foreign::Dotlock
        );
        assert!(!reports(&ours, mail, false));
        assert!(reports(&ours, mail, true));
        assert!(reports(&ours, session, false));
        assert!(reports(&glob, mail, false));
    }
}
