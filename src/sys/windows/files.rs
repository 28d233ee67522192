//! Lock files and their directory on Windows. Every handle shares reading, writing and
//! deletion, so inspection, release and reclaim work while others have the file open. Where a
//! deleted name stays until its last handle closes (delete-pending: no POSIX delete), a file is
//! moved to a hidden temp name before it is deleted, so the lock's name is free at once; a
//! name found delete-pending all the same (older Windows refuses to open it) reads as "exists"
//! to a creator and as replaced to an inspector, so callers look again within their deadline
//! and never take it for a holder. Creates, links and deletes refused by a transient handle
//! (antivirus, indexer) are retried briefly (`errors.rs`).

use super::errors::{being_released, delete_pending, retry_transient};
use super::names::{name_of, path_in, path_of, wide};
use crate::sys::{Occupant, Opened, Stat};
use std::ffi::{CStr, OsString};
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::windows::fs::{FileExt, OpenOptionsExt};
use std::os::windows::io::AsRawHandle;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};
use windows_sys::Win32::Foundation as F;
use windows_sys::Win32::Storage::FileSystem as FS;

/// Read, write and delete sharing: nobody is ever refused because of our handles.
const SHARE_ALL: u32 = FS::FILE_SHARE_READ | FS::FILE_SHARE_WRITE | FS::FILE_SHARE_DELETE;

/// Opens the entry itself (never a symlink's or junction's target), a directory as well.
const NO_FOLLOW: u32 = FS::FILE_FLAG_OPEN_REPARSE_POINT | FS::FILE_FLAG_BACKUP_SEMANTICS;

fn options(access: u32) -> OpenOptions {
    let mut options = OpenOptions::new();
    options
        .access_mode(access)
        .share_mode(SHARE_ALL)
        .custom_flags(NO_FOLLOW);
    options
}

fn info(file: &File) -> io::Result<FS::BY_HANDLE_FILE_INFORMATION> {
    // SAFETY: plain data to be filled.
    let mut info: FS::BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: a handle we own and a structure to fill.
    if unsafe { FS::GetFileInformationByHandle(file.as_raw_handle(), &mut info) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(info)
}

/// (volume serial number, file index): the identity of an open file or directory.
pub fn file_id(file: &File) -> io::Result<(u64, u64)> {
    let info = info(file)?;
    let index = (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow);
    Ok((u64::from(info.dwVolumeSerialNumber), index))
}

/// The identity of an open file (Windows metadata carries none: asked of the handle).
pub fn id_of(file: &File, _meta: &Metadata) -> io::Result<(u64, u64)> {
    file_id(file)
}

/// What is not a regular file, from its attributes.
fn occupant(attributes: u32) -> Option<Occupant> {
    if attributes & FS::FILE_ATTRIBUTE_REPARSE_POINT != 0 {
        Some(Occupant::Symlink)
    } else if attributes & FS::FILE_ATTRIBUTE_DIRECTORY != 0 {
        Some(Occupant::Directory)
    } else {
        None
    }
}

/// Opens a directory (not through a symlink or junction at its end): the handle every step on
/// its lock files is relative to.
pub fn open_dir(path: &CStr) -> io::Result<File> {
    let path = Path::new(name_of(path)?);
    let dir = options(FS::FILE_LIST_DIRECTORY | FS::FILE_READ_ATTRIBUTES).open(path)?;
    match occupant(info(&dir)?.dwFileAttributes) {
        Some(Occupant::Directory) => Ok(dir),
        Some(_) => Err(io::Error::from_raw_os_error(
            F::ERROR_CANT_ACCESS_FILE as i32,
        )),
        None => Err(io::Error::from_raw_os_error(F::ERROR_DIRECTORY as i32)),
    }
}

/// The identity of what `path` names; a symlink at its end is followed only with `follow`.
pub fn path_id(path: &Path, follow: bool) -> io::Result<(u64, u64)> {
    let mut options = options(FS::FILE_READ_ATTRIBUTES);
    if follow {
        options.custom_flags(FS::FILE_FLAG_BACKUP_SEMANTICS);
    }
    match options.open(path) {
        Ok(file) => file_id(&file),
        // A deleted name is gone for whoever asks whether it is still theirs.
        Err(e) if delete_pending(&e) => Err(io::ErrorKind::NotFound.into()),
        Err(e) => Err(e),
    }
}

/// The entry `name` in `dir` (a delete-pending one reads as absent).
pub fn stat_at(dir: &File, name: &CStr) -> io::Result<Stat> {
    let path = path_in(dir, name)?;
    let file = match options(FS::FILE_READ_ATTRIBUTES).open(&path) {
        Ok(file) => file,
        Err(e) if delete_pending(&e) => return Err(io::ErrorKind::NotFound.into()),
        Err(e) => return Err(e),
    };
    let info = info(&file)?;
    let meta = file.metadata()?;
    let mtime = meta.modified().unwrap_or(UNIX_EPOCH);
    Ok(Stat {
        id: file_id(&file)?,
        occupant: occupant(info.dwFileAttributes),
        mtime: seconds(mtime),
    })
}

fn seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// A new file `name` in `dir`, open for reading and writing (`AlreadyExists` if the name is
/// taken, also by a file being deleted). Its ACL is inherited from the directory.
pub fn create_new_at(dir: &File, name: &CStr) -> io::Result<File> {
    let path = path_in(dir, name)?;
    let mut options = OpenOptions::new();
    options
        .read(true)
        .write(true)
        .create_new(true)
        .share_mode(SHARE_ALL);
    retry_transient(|| match options.open(&path) {
        Err(e) if delete_pending(&e) => Err(being_released()),
        other => other,
    })
}

/// `target` in `dir` names `existing`'s file too (`AlreadyExists` if taken).
pub fn link_at(dir: &File, existing: &CStr, target: &CStr) -> io::Result<()> {
    let (existing, target) = (wide(&path_in(dir, existing)?), wide(&path_in(dir, target)?));
    retry_transient(|| {
        // SAFETY: two NUL-terminated UTF-16 paths, no security attributes.
        let ok =
            unsafe { FS::CreateHardLinkW(target.as_ptr(), existing.as_ptr(), std::ptr::null()) };
        if ok != 0 {
            return Ok(());
        }
        match io::Error::last_os_error() {
            e if delete_pending(&e) => Err(being_released()),
            e => Err(e),
        }
    })
}

/// Whether a hard link failed because the volume has none (FAT, exFAT, some shares).
pub fn link_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error().map(|c| c as u32),
        Some(
            F::ERROR_NOT_SUPPORTED
                | F::ERROR_INVALID_FUNCTION
                | F::ERROR_NOT_SAME_DEVICE
                | F::ERROR_TOO_MANY_LINKS
        )
    )
}

/// Removes the name `name` from `dir` (never a directory, never through a symlink): with POSIX
/// semantics where the volume has them (the name is gone at once), else the classic way (the
/// name stays until the last handle closes: delete-pending).
pub fn unlink_at(dir: &File, name: &CStr) -> io::Result<()> {
    let path = path_in(dir, name)?;
    let file = retry_transient(|| options(FS::DELETE | FS::FILE_READ_ATTRIBUTES).open(&path))
        .map_err(|e| {
            if delete_pending(&e) {
                io::ErrorKind::NotFound.into()
            } else {
                e
            }
        })?;
    if occupant(info(&file)?.dwFileAttributes) == Some(Occupant::Directory) {
        return Err(io::ErrorKind::IsADirectory.into());
    }
    let posix = FS::FILE_DISPOSITION_INFO_EX {
        Flags: FS::FILE_DISPOSITION_FLAG_DELETE | FS::FILE_DISPOSITION_FLAG_POSIX_SEMANTICS,
    };
    if set_info(&file, FS::FileDispositionInfoEx, &posix).is_ok() {
        return Ok(());
    }
    // Before Windows 10 1709, on FAT, and under wine (error 87): the classic delete, which
    // keeps the name until every handle is closed. Waiters and inspectors keep the lock file
    // open while they wait for its name to go: the file is first moved to a hidden temp name
    // (by this handle, so it is the file checked), which frees the lock's name at once.
    // A temp name is removed only by its creator, whose open handle is the one that matters.
    let name = std::ffi::OsStr::new(name_of(name)?);
    if !crate::base::lock_names::is_temp(name) {
        let hidden = crate::base::lock_names::temp_name(name, crate::base::random::random_u64());
        let _ = rename(&file, &path.with_file_name(hidden));
    }
    let classic = FS::FILE_DISPOSITION_INFO { DeleteFile: true };
    set_info(&file, FS::FileDispositionInfo, &classic)
}

/// Renames the open file to `to` (never replacing a file there).
fn rename(file: &File, to: &Path) -> io::Result<()> {
    let name: Vec<u16> = wide(to);
    let name = &name[..name.len() - 1];
    let header = std::mem::offset_of!(FS::FILE_RENAME_INFO, FileName);
    let size = header + std::mem::size_of_val(name);
    // u64s: the structure's alignment.
    let mut buf = vec![0u64; size.div_ceil(8) + 1];
    let info = buf.as_mut_ptr().cast::<FS::FILE_RENAME_INFO>();
    // SAFETY: the buffer holds the header and the name; the fields are written in place.
    let ok = unsafe {
        (*info).Anonymous.ReplaceIfExists = false;
        (*info).RootDirectory = std::ptr::null_mut();
        (*info).FileNameLength = std::mem::size_of_val(name) as u32;
        let at = (info as *mut u8).add(header).cast::<u16>();
        std::ptr::copy_nonoverlapping(name.as_ptr(), at, name.len());
        FS::SetFileInformationByHandle(
            file.as_raw_handle(),
            FS::FileRenameInfo,
            info.cast(),
            size as u32,
        )
    };
    if ok != 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn set_info<T>(file: &File, class: FS::FILE_INFO_BY_HANDLE_CLASS, value: &T) -> io::Result<()> {
    // SAFETY: a handle we own and a structure of the class's type and size.
    let ok = unsafe {
        FS::SetFileInformationByHandle(
            file.as_raw_handle(),
            class,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as u32,
        )
    };
    if ok != 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The names in the directory `dir` is now at.
pub fn list_dir(dir: &File) -> io::Result<Vec<OsString>> {
    std::fs::read_dir(path_of(dir)?)?
        .map(|entry| entry.map(|e| e.file_name()))
        .collect()
}

/// Sets the file's last write time to now through its handle: the heartbeat.
pub fn touch(file: &File) -> io::Result<()> {
    file.set_modified(SystemTime::now())
}

/// Windows files have ACLs, not mode bits: a new lock file inherits its directory's, which
/// decides who may read it. Always `Unsupported`, which callers treat as "the mount decides".
pub fn fchmod(_file: &File, _mode: u32) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// No unnamed files on Windows: always `Unsupported` (the caller names a hidden temp file).
pub fn open_anonymous(_dir: &File) -> io::Result<File> {
    Err(io::ErrorKind::Unsupported.into())
}

/// No unnamed files on Windows: always `Unsupported`.
pub fn link_anonymous(_file: &File, _dir: &File, _target: &CStr) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Reads at `offset` (the handle's position moves; nothing here relies on it).
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    file.seek_read(buf, offset)
}

/// What is at `name` in `dir`, opened for reading only if it is a regular file; a directory or
/// reparse point (symlink, junction) is never followed. A name refused as delete-pending is
/// `Changed`: it is being released, not held.
pub fn open_without_effects(dir: &File, name: &CStr) -> io::Result<Opened> {
    let path = path_in(dir, name)?;
    let file = match options(FS::FILE_GENERIC_READ).open(&path) {
        Ok(file) => file,
        Err(e) if delete_pending(&e) => return Ok(Opened::Changed),
        Err(e) => return Err(e),
    };
    if let Some(occupant) = occupant(info(&file)?.dwFileAttributes) {
        return Ok(Opened::Other(occupant));
    }
    let meta = file.metadata()?;
    Ok(Opened::Regular(file, Box::new(meta)))
}
