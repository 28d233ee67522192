//! The library's version for C.

use std::ffi::c_char;

/// Major version of the library the header belongs to (the `0` of SONAME
/// `libsession_write_lock.so.0`). Compare with `swl_version()` to see what was loaded.
pub const SWL_VERSION_MAJOR: u32 = 0;
/// Minor version of the library the header belongs to.
pub const SWL_VERSION_MINOR: u32 = 1;
/// Patch version of the library the header belongs to.
pub const SWL_VERSION_PATCH: u32 = 0;

const VERSION_NUL: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The library version (`"0.1.0"`), a static NUL-terminated string. Never NULL; never free it.
#[no_mangle]
pub extern "C" fn swl_version() -> *const c_char {
    super::boundary::boundary(c"unknown".as_ptr(), || VERSION_NUL.as_ptr().cast())
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_the_crate_version() {
        // SAFETY: swl_version returns a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(super::swl_version()) };
        assert_eq!(v.to_str().unwrap(), session_write_lock::VERSION);
    }

    #[test]
    fn header_constants_are_the_crate_version() {
        // cbindgen needs literals; this keeps them in step with Cargo.toml.
        let parts = [
            super::SWL_VERSION_MAJOR,
            super::SWL_VERSION_MINOR,
            super::SWL_VERSION_PATCH,
        ]
        .map(|n| n.to_string());
        assert_eq!(parts.join("."), env!("CARGO_PKG_VERSION"));
    }
}
