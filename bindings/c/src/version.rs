//! The library's version for C.

use std::ffi::c_char;

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
        assert_eq!(v.to_str().unwrap(), crate::VERSION);
    }
}
