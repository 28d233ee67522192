//! C strings in (paths: non-NULL, UTF-8, NUL-terminated) and out (snprintf-style buffers, and
//! heap strings the caller frees with `swl_string_free`).

use super::status::{c_spelling, Failure};
use session_write_lock::{check_path, OptionName};
use std::ffi::{c_char, CStr, CString};

/// Borrows a path argument: NULL is `SWL_NULL_PARAMETER`, non-UTF-8 or empty is
/// `SWL_INVALID_ARGUMENT`.
///
/// # Safety
///
/// `ptr` must be NULL or a NUL-terminated string that outlives `'a`.
pub unsafe fn path_arg<'a>(ptr: *const c_char, parameter: OptionName) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(c_spelling(parameter)));
    }
    // SAFETY: the caller's promise.
    let text = unsafe { CStr::from_ptr(ptr) }.to_str().map_err(|e| {
        Failure::invalid(
            parameter,
            format!(
                "is not valid UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ),
        )
    })?;
    check_path(parameter, text.as_ref())?;
    Ok(text)
}

/// Copies `text` into `buf` snprintf-style: writes at most `len` bytes including the NUL, and
/// returns `text`'s length without the NUL. A NULL `buf` or `len == 0` writes nothing.
///
/// # Safety
///
/// `buf` must be NULL or point to at least `len` writable bytes.
pub unsafe fn copy_to_buffer(text: &str, buf: *mut c_char, len: usize) -> usize {
    let bytes = text.as_bytes();
    if !buf.is_null() && len > 0 {
        let n = bytes.len().min(len - 1);
        // SAFETY: n + 1 <= len bytes, which the caller promised are writable.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n);
            *buf.add(n) = 0;
        }
    }
    bytes.len()
}

/// A heap copy of `text` for C, to be freed by `swl_string_free`.
pub fn into_c_string(text: String) -> *mut c_char {
    // NUL bytes are escaped, so the conversion cannot fail.
    let text = CString::new(text.replace('\0', "\\u0000")).unwrap_or_default();
    text.into_raw()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::swl_status;

    #[test]
    fn copy_is_snprintf_like_and_never_overruns() {
        let mut buf = [b'Z' as c_char; 8];
        // SAFETY: 8 writable bytes; only the first 4 are offered.
        assert_eq!(unsafe { copy_to_buffer("abcdef", buf.as_mut_ptr(), 4) }, 6);
        assert_eq!(buf.map(|c| c as u8), *b"abc\0ZZZZ");
        // SAFETY: as above; len 0 and NULL write nothing.
        assert_eq!(unsafe { copy_to_buffer("abcdef", buf.as_mut_ptr(), 0) }, 6);
        assert_eq!(buf[0] as u8, b'a');
        assert_eq!(
            unsafe { copy_to_buffer("abcdef", std::ptr::null_mut(), 8) },
            6
        );
        // SAFETY: as above.
        assert_eq!(unsafe { copy_to_buffer("ab", buf.as_mut_ptr(), 8) }, 2);
        assert_eq!(buf.map(|c| c as u8), *b"ab\0\0ZZZZ");
    }

    #[test]
    fn paths_must_be_present_utf8_and_non_empty() {
        // SAFETY: NULL or NUL-terminated literals.
        unsafe {
            assert_eq!(
                path_arg(std::ptr::null(), OptionName::SessionFile)
                    .unwrap_err()
                    .status,
                swl_status::SWL_NULL_PARAMETER
            );
            let bad = path_arg(c"/tmp/\xff.jsonl".as_ptr(), OptionName::SessionFile).unwrap_err();
            assert_eq!(bad.status, swl_status::SWL_INVALID_ARGUMENT);
            assert!(bad.message.contains("UTF-8"), "{}", bad.message);
            assert_eq!(
                path_arg(c"".as_ptr(), OptionName::SessionFile)
                    .unwrap_err()
                    .status,
                swl_status::SWL_INVALID_ARGUMENT
            );
            assert_eq!(
                path_arg(c"/tmp/a".as_ptr(), OptionName::SessionFile).unwrap(),
                "/tmp/a"
            );
        }
    }
}
