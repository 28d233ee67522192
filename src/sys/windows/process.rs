//! Process identity on Windows: (pid, creation time) from a process handle, the boot as the
//! kernel records it, the host name, the environment.

use crate::base::start_time::StartTime;
use std::ffi::CStr;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use windows_sys::Wdk::System::SystemInformation::{
    NtQuerySystemInformation, SystemTimeOfDayInformation,
};
use windows_sys::Win32::Foundation::{FILETIME, HANDLE, WAIT_OBJECT_0};
use windows_sys::Win32::System::SystemInformation::{ComputerNameDnsHostname, GetComputerNameExW};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, GetProcessTimes, OpenProcess, WaitForSingleObject,
    PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE,
};

/// 100 ns intervals from 1601-01-01 (FILETIME's epoch) to 1970-01-01.
const EPOCH_100NS: u64 = 116_444_736_000_000_000;

/// A FILETIME as 100 ns units since the Unix epoch (`None` before it).
fn since_epoch(t: FILETIME) -> Option<u64> {
    ((u64::from(t.dwHighDateTime) << 32) | u64::from(t.dwLowDateTime)).checked_sub(EPOCH_100NS)
}

/// A process, opened to read its times and wait for its end.
pub struct Process(OwnedHandle);

impl Process {
    /// `None` when there is no such process; `Err` with the error otherwise (access denied:
    /// it exists, but is not ours to look at).
    pub fn open(pid: u32) -> Result<Option<Process>, std::io::Error> {
        // SAFETY: plain call; a null handle is failure.
        let h = unsafe {
            OpenProcess(
                PROCESS_SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION,
                0,
                pid,
            )
        };
        if h.is_null() {
            let e = std::io::Error::last_os_error();
            // ERROR_INVALID_PARAMETER: no such pid.
            return if e.raw_os_error() == Some(87) {
                Ok(None)
            } else {
                Err(e)
            };
        }
        // SAFETY: a new handle, owned from now on.
        Ok(Some(Process(unsafe { OwnedHandle::from_raw_handle(h) })))
    }

    pub fn handle(&self) -> HANDLE {
        self.0.as_raw_handle()
    }

    /// Its creation time.
    pub fn start_time(&self) -> Option<StartTime> {
        creation_time(self.handle())
    }

    /// Whether it has ended (its handle is signalled; a handle kept open keeps its pid).
    pub fn ended(&self) -> bool {
        // SAFETY: a process handle we own, opened with SYNCHRONIZE.
        let rc = unsafe { WaitForSingleObject(self.handle(), 0) };
        rc == WAIT_OBJECT_0
    }
}

fn creation_time(process: HANDLE) -> Option<StartTime> {
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
    // SAFETY: a process handle with query rights and four FILETIMEs to fill.
    let ok = unsafe { GetProcessTimes(process, &mut created, &mut exited, &mut kernel, &mut user) };
    (ok != 0)
        .then(|| since_epoch(created))
        .flatten()
        .map(StartTime::creation)
}

/// Our own creation time, as other processes read it.
pub fn own_start_time() -> Option<StartTime> {
    // SAFETY: the pseudo handle of this process, never closed.
    creation_time(unsafe { GetCurrentProcess() })
}

/// The creation time of `pid` (`None`: unknown) and whether it has ended while a handle keeps
/// its pid; `None` when there is no such process.
pub fn start_time_and_zombie(pid: u32) -> Option<(Option<StartTime>, bool)> {
    match Process::open(pid) {
        Ok(Some(p)) => Some((p.start_time(), p.ended())),
        Ok(None) => None,
        // Not ours to open (another user's service): alive, its start time unknown.
        Err(_) => Some((None, false)),
    }
}

/// Whether `pid` names a process that has not ended.
pub fn pid_exists(pid: u32) -> bool {
    match Process::open(pid) {
        Ok(Some(p)) => !p.ended(),
        Ok(None) => false,
        Err(_) => true,
    }
}

/// The boot: the kernel's boot time (`SystemTimeOfDayInformation`), in whole seconds since the
/// epoch, as `win-boot-<seconds>`. Setting the system clock moves it (the kernel keeps the
/// boot instant in system time); a moved value only makes holders judged by heartbeat.
pub fn boot_id() -> Option<String> {
    let mut info = [0u64; 6];
    let mut len = 0u32;
    // SAFETY: a 48-byte buffer for SYSTEM_TIMEOFDAY_INFORMATION, its length, a length to fill.
    let status = unsafe {
        NtQuerySystemInformation(
            SystemTimeOfDayInformation,
            info.as_mut_ptr().cast(),
            std::mem::size_of_val(&info) as u32,
            &mut len,
        )
    };
    // BootTime is its first field, a FILETIME.
    let boot = info[0]
        .checked_sub(EPOCH_100NS)
        .filter(|_| status >= 0 && len >= 8)?;
    Some(format!("win-boot-{}", (boot + 5_000_000) / 10_000_000))
}

/// No pid namespaces on Windows.
pub fn pid_namespace() -> Option<u64> {
    None
}

/// The DNS host name, empty if the system will not say.
pub fn hostname() -> String {
    let mut buf = [0u16; 256];
    let mut len = buf.len() as u32;
    // SAFETY: a buffer valid for `len` UTF-16 units.
    let ok = unsafe { GetComputerNameExW(ComputerNameDnsHostname, buf.as_mut_ptr(), &mut len) };
    if ok == 0 {
        return String::new();
    }
    String::from_utf16_lossy(&buf[..len as usize])
}

/// A variable of this process's environment.
pub fn getenv(name: &CStr) -> Option<String> {
    let name = name.to_str().ok()?;
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}
