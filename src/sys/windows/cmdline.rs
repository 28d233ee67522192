//! A live process's command line, read natively from its process environment block
//! (`NtQueryInformationProcess(ProcessCommandLineInformation)`, Windows 8.1 and later) and split
//! into arguments the Windows way (`win_argv.rs`).

use super::process::Process;
use windows_sys::Wdk::System::Threading::{
    NtQueryInformationProcess, ProcessCommandLineInformation,
};
use windows_sys::Win32::Foundation::UNICODE_STRING;

/// The arguments of a process, `None` where they cannot be read.
pub fn cmdline(pid: u32) -> Option<Vec<String>> {
    let process = Process::open(pid).ok().flatten()?;
    // A UNICODE_STRING followed by its characters; grown once if too small.
    let mut buf = vec![0u64; 512];
    for _ in 0..2 {
        let mut needed = 0u32;
        let size = (buf.len() * 8) as u32;
        // SAFETY: a process handle with query rights and a buffer valid (and aligned) for
        // `size` bytes.
        let status = unsafe {
            NtQueryInformationProcess(
                process.handle(),
                ProcessCommandLineInformation,
                buf.as_mut_ptr().cast(),
                size,
                &mut needed,
            )
        };
        if status >= 0 {
            // SAFETY: on success the buffer starts with a UNICODE_STRING whose characters lie
            // within the buffer.
            let line = unsafe {
                let s = &*(buf.as_ptr() as *const UNICODE_STRING);
                std::slice::from_raw_parts(s.Buffer, usize::from(s.Length) / 2)
            };
            return Some(crate::base::win_argv::split(&String::from_utf16_lossy(
                line,
            )));
        }
        if needed <= size {
            return None;
        }
        buf.resize((needed as usize).div_ceil(8), 0);
    }
    None
}
