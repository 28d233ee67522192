//! Linux inspection: `O_PATH` opens the name, not the object (no driver, FIFO or symlink
//! target is touched), and `/proc/self/fd` reopens that very inode for reading.

use crate::sys::{file_id, open_raw, retry, Opened};
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

pub fn open_without_effects(path: &CStr) -> io::Result<Opened> {
    let handle = open_raw(path, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
    let meta = retry(|| handle.metadata())?;
    if !meta.file_type().is_file() {
        return Ok(Opened::Other(meta));
    }
    Ok(
        match reopen_regular(&handle, path, (meta.dev(), meta.ino()))? {
            Some(file) => Opened::Regular(file, meta),
            None => Opened::Changed,
        },
    )
}

/// Opens the regular file behind an `O_PATH` handle for reading: through `/proc/self/fd`;
/// without `/proc`, by name, checking it is still `id`.
fn reopen_regular(handle: &File, path: &CStr, id: (u64, u64)) -> io::Result<Option<File>> {
    let via_proc = CString::new(format!("/proc/self/fd/{}", handle.as_raw_fd()))?;
    // Not O_NOFOLLOW here: the /proc entry is a magic link to the inode itself.
    match open_raw(&via_proc, libc::O_RDONLY | libc::O_NONBLOCK, 0) {
        Ok(file) => return Ok(Some(file)),
        Err(e) if e.raw_os_error() != Some(libc::ENOENT) || Path::new("/proc/self/fd").exists() => {
            return Err(e)
        }
        Err(_) => {}
    }
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    let file = open_raw(path, flags, 0)?;
    Ok((file_id(&file)? == id).then_some(file))
}
