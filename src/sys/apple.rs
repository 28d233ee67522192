//! macOS: identity from libproc (`proc_pidinfo(PROC_PIDTBSDINFO)`: start time since the epoch,
//! zombie state) and sysctl (`kern.bootsessionuuid`, `KERN_PROCARGS2`); no
//! pid namespaces. Creation and inspection are the portable ones of `unix.rs`; waiting is
//! kqueue (`kqueue.rs`), without file closes: macOS has no `NOTE_CLOSE`, so the service
//! watches a local holder's pid instead (docs/PROTOCOL.md, "Platforms").

use super::bsd::{split_args, sysctl_bytes};
use super::kqueue::Closes;
pub use super::kqueue::{Poller, Waker};
pub use super::portable::{link_anonymous, open_anonymous, open_without_effects};
use crate::base::start_time::StartTime;
use std::ffi::CStr;

/// A directory is opened for events only: no read access needed, and it does not keep its
/// volume from being unmounted.
pub const DIR_OPEN_FLAGS: libc::c_int = libc::O_EVTONLY | libc::O_DIRECTORY;

/// No kevent reports a file's close here.
pub static CLOSES: Option<Closes> = None;

fn bsdinfo(pid: u32) -> Option<libc::proc_bsdinfo> {
    let pid = libc::c_int::try_from(pid).ok()?;
    let size = std::mem::size_of::<libc::proc_bsdinfo>() as libc::c_int;
    let mut info = std::mem::MaybeUninit::<libc::proc_bsdinfo>::zeroed();
    // SAFETY: the buffer is valid for `size` bytes; the kernel writes at most that.
    let n = unsafe {
        libc::proc_pidinfo(
            pid,
            libc::PROC_PIDTBSDINFO,
            0,
            info.as_mut_ptr().cast(),
            size,
        )
    };
    // SAFETY: the kernel filled the whole struct (a plain C struct).
    (n == size).then(|| unsafe { info.assume_init() })
}

pub fn own_start_time() -> Option<StartTime> {
    start_time_and_zombie(std::process::id()).and_then(|(starttime, _)| starttime)
}

pub fn start_time_and_zombie(pid: u32) -> Option<(Option<StartTime>, bool)> {
    let info = bsdinfo(pid)?;
    let starttime = StartTime::since_epoch(info.pbi_start_tvsec, info.pbi_start_tvusec);
    Some((Some(starttime), info.pbi_status == libc::SZOMB))
}

pub fn boot_id() -> Option<String> {
    sysctl_string(c"kern.bootsessionuuid")
}

pub fn pid_namespace() -> Option<u64> {
    None
}

/// `KERN_PROCARGS2`: argc, the executable's path, then the arguments, NUL-separated.
pub fn cmdline(pid: u32) -> Option<Vec<String>> {
    let pid = libc::c_int::try_from(pid).ok()?;
    let bytes = sysctl_bytes(&[libc::CTL_KERN, libc::KERN_PROCARGS2, pid])?;
    let argc = usize::try_from(i32::from_ne_bytes(bytes.get(..4)?.try_into().ok()?)).ok()?;
    let rest = bytes.get(4..)?;
    // Skip the executable path and the NULs padding it.
    let path_end = rest.iter().position(|&b| b == 0)?;
    let args_start = rest[path_end..].iter().position(|&b| b != 0)? + path_end;
    Some(
        split_args(&rest[args_start..])
            .into_iter()
            .take(argc)
            .collect(),
    )
}

/// The string value of the sysctl called `name`.
pub fn sysctl_string(name: &CStr) -> Option<String> {
    let mut buf = [0u8; 128];
    let mut len = buf.len();
    let null = std::ptr::null_mut();
    // SAFETY: a NUL-terminated name and a buffer valid for `len` bytes.
    let rc =
        unsafe { libc::sysctlbyname(name.as_ptr(), buf.as_mut_ptr().cast(), &mut len, null, 0) };
    if rc != 0 {
        return None;
    }
    let value = &buf[..len.min(buf.len())];
    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
    let text = String::from_utf8_lossy(&value[..end]).trim().to_owned();
    (!text.is_empty()).then_some(text)
}
