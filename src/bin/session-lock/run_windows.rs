//! `session-lock run` on Windows: takes a session's lock, runs a command under it, and ends the
//! command when `run` itself is ended.
//!
//! A Windows byte-range lock belongs to the process that took it (closing any of its handles or
//! ending the process releases it), so an inherited handle would not keep the lock for the
//! command. Instead the command runs in a job object that is ended with `run`: when `run` is
//! killed, the system closes its job handle and ends the command, and the lock is free at once
//! (the file is reclaimed by the next acquire). On Ctrl-C, Ctrl-Break and console close
//! (`SetConsoleCtrlHandler`), `run` ends the job (exit code 130, 149 or 129, as shells report
//! SIGINT, SIGBREAK and SIGHUP), removes its lock file and exits; while it still waits for the
//! lock, the wait is cancelled.

use crate::args::quoted;
use crate::run::{parse_run, prepare, Prepared};
use crate::Failure;
use session_write_lock::{acquire_cancellable, CancelToken, Error};
use std::ffi::OsString;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::process::{Command, ExitCode};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use windows_sys::Win32::System::Console::{
    SetConsoleCtrlHandler, CTRL_BREAK_EVENT, CTRL_CLOSE_EVENT, CTRL_C_EVENT,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectExtendedLimitInformation,
    SetInformationJobObject, TerminateJobObject, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};

/// Where `run` is, as the console control handler needs to know it.
enum Phase {
    /// Taking the lock: an event cancels the wait.
    Waiting(CancelToken),
    /// An event came before the command started: `run` ends with its exit code.
    Interrupted(u8),
    /// The lock is held, the command not yet started.
    Starting,
    /// The command runs in this job (its handle, kept open by `run`).
    Running(usize),
    /// The command ended and the lock is released: a console close may end `run` now.
    Done,
}

static PHASE: Mutex<Phase> = Mutex::new(Phase::Starting);
static DONE: Condvar = Condvar::new();

fn phase() -> MutexGuard<'static, Phase> {
    PHASE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The exit code shells give a command ended by the signal Node and the C runtime map this
/// console event to: SIGINT (2), SIGBREAK (21), SIGHUP (1) for close, logoff and shutdown.
fn exit_code(event: u32) -> u8 {
    128 + match event {
        CTRL_C_EVENT => 2,
        CTRL_BREAK_EVENT => 21,
        _ => 1,
    }
}

/// The console control handler (on a thread of its own): cancels the wait, or ends the
/// command's job. For a console close, the system ends `run` when this returns, so it first
/// waits (up to 4 s of the 5 s Windows grants) for the lock to be released.
unsafe extern "system" fn on_console_event(event: u32) -> i32 {
    let code = exit_code(event);
    let mut phase = phase();
    match &*phase {
        Phase::Waiting(cancel) => {
            let cancel = cancel.clone();
            *phase = Phase::Interrupted(code);
            drop(phase);
            cancel.cancel();
            return 1;
        }
        Phase::Interrupted(_) | Phase::Done => return 1,
        Phase::Starting => *phase = Phase::Interrupted(code),
        // SAFETY: the job handle `run` keeps open until it is Done.
        Phase::Running(job) => _ = unsafe { TerminateJobObject(*job as _, u32::from(code)) },
    }
    // Close, logoff and shutdown (the events from CTRL_CLOSE_EVENT on) end `run` on return.
    if event >= CTRL_CLOSE_EVENT {
        let _ =
            DONE.wait_timeout_while(phase, Duration::from_secs(4), |p| !matches!(p, Phase::Done));
    }
    1
}

/// A job that ends its processes when its last handle closes (when `run` ends, however).
fn job() -> std::io::Result<OwnedHandle> {
    // SAFETY: an unnamed job with default security; null is failure.
    let h = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
    if h.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new handle, owned from now on.
    let job = unsafe { OwnedHandle::from_raw_handle(h) };
    // SAFETY: plain data; zeroes are "no limits".
    let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    // SAFETY: a job handle and a structure of the class's type and size.
    let ok = unsafe {
        SetInformationJobObject(
            job.as_raw_handle(),
            JobObjectExtendedLimitInformation,
            (&limits as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
            std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
        )
    };
    if ok == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(job)
}

fn io(op: &'static str, path: &std::ffi::OsStr, source: std::io::Error) -> Failure {
    Error::Io {
        op,
        path: path.into(),
        source,
    }
    .into()
}

pub fn run(args: &[OsString]) -> Result<ExitCode, Failure> {
    let parsed = parse_run(args)?;
    let Prepared {
        file,
        command,
        options,
        conflict_exit_code,
    } = prepare(&parsed)?;
    let (program, program_args) = (&command[0], &command[1..]);
    let cancel = CancelToken::new();
    *phase() = Phase::Waiting(cancel.clone());
    // SAFETY: a handler with the signature the system calls, valid for the program's life.
    if unsafe { SetConsoleCtrlHandler(Some(on_console_event), 1) } == 0 {
        return Err(io(
            "watch console events",
            file,
            std::io::Error::last_os_error(),
        ));
    }
    let job = job().map_err(|e| io("create a job object", file, e))?;
    let taken = acquire_cancellable(file, &options, Some(cancel));
    let guard = {
        let mut phase = phase();
        if let Phase::Interrupted(code) = *phase {
            return Ok(ExitCode::from(code)); // a lock granted meanwhile is released here
        }
        *phase = Phase::Starting;
        match taken {
            Ok(guard) => guard,
            Err(e) => {
                if let (Error::Busy { .. }, Some(code)) = (&e, conflict_exit_code) {
                    eprintln!("session-lock: {e}");
                    return Ok(ExitCode::from(code));
                }
                return Err(e.into());
            }
        }
    };
    let mut child = match Command::new(program).args(program_args).spawn() {
        Ok(child) => child,
        Err(e) => {
            drop(guard);
            eprintln!("session-lock: cannot run {}: {e}", quoted(program));
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            return Ok(ExitCode::from(code));
        }
    };
    // SAFETY: our job and the child's process handle, both open.
    let assigned = unsafe { AssignProcessToJobObject(job.as_raw_handle(), child.as_raw_handle()) };
    if assigned == 0 {
        let e = std::io::Error::last_os_error();
        let _ = child.kill();
        let _ = child.wait();
        return Err(io("put the command in a job object", file, e));
    }
    let interrupted =
        match std::mem::replace(&mut *phase(), Phase::Running(job.as_raw_handle() as usize)) {
            Phase::Interrupted(code) => Some(code),
            _ => None,
        };
    if let Some(code) = interrupted {
        // SAFETY: our job handle.
        unsafe { TerminateJobObject(job.as_raw_handle(), u32::from(code)) };
    }
    let status = child
        .wait()
        .map_err(|e| io("wait for command", program, e))?;
    drop(guard);
    *phase() = Phase::Done;
    DONE.notify_all();
    Ok(ExitCode::from(status.code().unwrap_or(1) as u8))
}
