//! Names and paths as Windows takes them: the directory handle's current path, a name in it,
//! UTF-16 with a terminating NUL.

use std::ffi::{CStr, OsString};
use std::fs::File;
use std::io;
use std::os::windows::ffi::{OsStrExt, OsStringExt};
use std::os::windows::io::AsRawHandle;
use std::path::{Path, PathBuf};
use windows_sys::Win32::Storage::FileSystem::{GetFinalPathNameByHandleW, FILE_NAME_NORMALIZED};

/// A name as the core passes it (the bytes of an `OsStr`), which must be Unicode here: a name
/// with an unpaired surrogate cannot be told apart in every API this port uses.
pub fn name_of(name: &CStr) -> io::Result<&str> {
    name.to_str().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "a lock file name on Windows must be valid Unicode",
        )
    })
}

/// The current path of an open file or directory (`\\?\` form), wherever it was moved.
pub fn path_of(handle: &File) -> io::Result<PathBuf> {
    let mut buf = vec![0u16; 512];
    loop {
        // SAFETY: a handle we own and a buffer valid for its length.
        let n = unsafe {
            GetFinalPathNameByHandleW(
                handle.as_raw_handle(),
                buf.as_mut_ptr(),
                buf.len() as u32,
                FILE_NAME_NORMALIZED,
            )
        } as usize;
        if n == 0 {
            return Err(io::Error::last_os_error());
        }
        if n < buf.len() {
            buf.truncate(n);
            return Ok(PathBuf::from(OsString::from_wide(&buf)));
        }
        buf.resize(n + 1, 0);
    }
}

/// `name` in the directory `dir` is now at.
pub fn path_in(dir: &File, name: &CStr) -> io::Result<PathBuf> {
    let name = name_of(name)?;
    let dir = path_of(dir)?;
    Ok(if name == "." { dir } else { dir.join(name) })
}

/// A path as a NUL-terminated UTF-16 string.
pub fn wide(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain([0]).collect()
}
