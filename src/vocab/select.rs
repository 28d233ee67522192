//! Which files of a directory a sweep looks at (`CleanOptions::select`; the CLI's `status` and
//! `clean` with `--pattern`, docs/PROTOCOL.md "Cleaning up"): the gateway's session locks,
//! every lock file this library wrote (known by its content), or the names a glob matches.
//! The names each choice admits, and how it judges them: `sweep_names`.

use crate::vocab::error::Error;
use crate::vocab::option_name::OptionName;
use std::ffi::{CString, OsStr};

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
        CString::new(pattern.as_encoded_bytes())
            .map(Select::Glob)
            .map_err(|_| Error::invalid(OptionName::Pattern, "must not contain a NUL byte"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glob_with_a_nul_byte_is_an_invalid_argument() {
        assert!(matches!(
            Select::glob(OsStr::new("a\0b")),
            Err(Error::InvalidArgument {
                name: OptionName::Pattern,
                ..
            })
        ));
        assert_eq!(
            Select::glob(OsStr::new("*.lock")).unwrap(),
            Select::Glob(CString::new("*.lock").unwrap())
        );
    }
}
