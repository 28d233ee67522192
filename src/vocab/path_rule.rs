//! The rule every path argument meets before any I/O, in every binding: not empty, and no NUL
//! byte (the system calls would read the path only up to it).

use crate::vocab::error::Error;
use crate::vocab::option_name::OptionName;
use std::ffi::OsStr;

/// Checks the path given as option `name`.
pub fn check_path(name: OptionName, path: &OsStr) -> Result<(), Error> {
    let bytes = path.as_encoded_bytes();
    if bytes.is_empty() {
        return Err(Error::invalid(name, "must not be empty"));
    }
    if bytes.contains(&0) {
        return Err(Error::invalid(name, "must not contain a NUL byte"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_nul_paths_are_refused_with_the_option_named() {
        for (path, says) in [("", "must not be empty"), ("a\0b", "NUL byte")] {
            let err = check_path(OptionName::SessionsDir, OsStr::new(path)).unwrap_err();
            assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
            assert!(err.to_string().contains(says), "{err}");
            assert!(err.to_string().contains("sessionsDir"), "{err}");
        }
        assert!(check_path(OptionName::SessionFile, OsStr::new("/tmp/a.jsonl")).is_ok());
    }
}
