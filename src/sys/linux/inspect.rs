//! Linux inspection: `O_PATH` opens the name, not the object (no driver, FIFO or symlink
//! target is touched), and `/proc/self/fd` reopens that very inode for reading.

use crate::sys::{file_id, open_at, open_raw, retry, Occupant, Opened};
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// What is at `name` in `dir`, opened for reading only if it is a regular file.
pub fn open_without_effects(dir: &File, name: &CStr) -> io::Result<Opened> {
    let handle = open_at(dir, name, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
    let meta = retry(|| handle.metadata())?;
    if let Some(occupant) = Occupant::of_mode(meta.mode()) {
        return Ok(Opened::Other(occupant));
    }
    Ok(
        match reopen_regular(&handle, dir, name, (meta.dev(), meta.ino()))? {
            Some(file) => Opened::Regular(file, Box::new(meta)),
            None => Opened::Changed,
        },
    )
}

/// Opens the regular file behind an `O_PATH` handle for reading: through `/proc/self/fd`;
/// without `/proc`, by its name in `dir`, checking it is still `id`.
fn reopen_regular(
    handle: &File,
    dir: &File,
    name: &CStr,
    id: crate::sys::FileId,
) -> io::Result<Option<File>> {
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
    let file = open_at(dir, name, flags, 0)?;
    Ok((file_id(&file)? == id).then_some(file))
}
