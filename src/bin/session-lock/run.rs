//! `session-lock run`: takes a session's lock, runs a command under it, forwards signals.
//!
//! The forwarded signals stay blocked in every thread and one thread takes them with
//! `sigwait`, so no signal ever interrupts us between creating the lock file and recording
//! the child (the file would stay behind). What a signal does depends on where `run` is: while
//! waiting for the lock it cancels the wait and `run` ends at once (128+signal, the command
//! never started); once the lock is held it is forwarded to the command, when there is one.

use crate::args::{parse, quoted, Parsed, Spec};
use crate::{Failure, RUN_HELP};
use session_write_lock::Options;
#[cfg(unix)]
use session_write_lock::{acquire_cancellable, CancelToken, Error};
use std::ffi::{OsStr, OsString};
#[cfg(unix)]
use std::os::unix::process::{CommandExt, ExitStatusExt};
#[cfg(unix)]
use std::process::{Command, ExitCode};
#[cfg(unix)]
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

#[cfg(unix)]
const FORWARDED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// Where `run` is, as the signal thread needs to know it.
#[cfg(unix)]
enum Phase {
    /// Taking the lock: a signal cancels the wait.
    Waiting(CancelToken),
    /// A signal came before the command started: `run` ends with it.
    Interrupted(libc::c_int),
    /// The lock is held, the command not yet started: signals wait for it.
    Starting(Vec<libc::c_int>),
    /// The command runs: signals go to it.
    Running(libc::pid_t),
}

#[cfg(unix)]
static PHASE: Mutex<Phase> = Mutex::new(Phase::Starting(Vec::new()));

#[cfg(unix)]
fn phase() -> MutexGuard<'static, Phase> {
    PHASE.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(unix)]
fn forwarded_set() -> libc::sigset_t {
    // SAFETY: a zeroed sigset_t is initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in FORWARDED {
            libc::sigaddset(&mut set, signal);
        }
        set
    }
}

/// Blocks or unblocks (`how`) the forwarded signals for this thread.
#[cfg(unix)]
fn set_forwarded_mask(how: libc::c_int) {
    let set = forwarded_set();
    // SAFETY: only changes this thread's signal mask.
    unsafe { libc::pthread_sigmask(how, &set, std::ptr::null_mut()) };
}

/// Takes every forwarded signal, for the rest of the process's life.
#[cfg(unix)]
fn signal_thread() -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("session-lock signals".into())
        .spawn(|| loop {
            let set = forwarded_set();
            let mut signal = 0;
            // SAFETY: `set` and `signal` are valid for the call.
            if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
                continue;
            }
            let mut phase = phase();
            match &mut *phase {
                Phase::Waiting(cancel) => {
                    let cancel = cancel.clone();
                    *phase = Phase::Interrupted(signal);
                    drop(phase);
                    cancel.cancel();
                }
                Phase::Interrupted(_) => {}
                Phase::Starting(pending) => pending.push(signal),
                // SAFETY: kill has no memory effects.
                Phase::Running(child) => _ = unsafe { libc::kill(*child, signal) },
            }
        })
        .map(drop)
}

/// 128 + the signal: how shells report a command a signal ended.
#[cfg(unix)]
fn by_signal(signal: libc::c_int) -> ExitCode {
    ExitCode::from((128 + signal) as u8)
}

/// `run`'s arguments, checked: the lock file, the command (never empty), the options, and the
/// exit code a busy lock ends with when `-E` gave one.
pub struct Prepared<'a> {
    pub file: &'a OsStr,
    pub command: Vec<OsString>,
    pub options: Options,
    pub conflict_exit_code: Option<u8>,
}

/// Parses `run`'s arguments: what every platform's `run` shares.
pub fn prepare(parsed: &Parsed) -> Result<Prepared<'_>, Failure> {
    let RunArgs {
        file,
        command,
        wait,
        conflict_exit_code,
    } = run_args(parsed)?;
    if command.is_empty() {
        return Err(Failure::Usage("run needs a command".into(), RUN_HELP));
    }
    let mut options = Options::default();
    if let Some(ms) = parsed.millis("timeout-ms", RUN_HELP)? {
        options.set_timeout_ms(ms)?;
    }
    if let Some(ms) = parsed.millis("stale-ms", RUN_HELP)? {
        options.set_stale_ms(ms)?;
    }
    // The CLI has no watchdog unless asked: its command may run for as long as it needs.
    let max_hold = parsed.millis("max-hold-ms", RUN_HELP)?;
    options.set_max_hold_ms(max_hold.unwrap_or(f64::INFINITY))?;
    if let Some(wait) = wait {
        options.timeout = wait;
    }
    Ok(Prepared {
        file,
        command,
        options,
        conflict_exit_code,
    })
}

/// Parses the command line of `run`.
pub fn parse_run(args: &[OsString]) -> Result<Parsed, Failure> {
    parse(
        args,
        &Spec {
            valued: &[
                "timeout-ms",
                "timeout",
                "wait",
                "stale-ms",
                "max-hold-ms",
                "conflict-exit-code",
                "command",
            ],
            switches: &["nonblock", "nonblocking"],
            shorts: &[
                ("-n", "nonblock"),
                ("-w", "timeout"),
                ("-E", "conflict-exit-code"),
                ("-c", "command"),
            ],
            command_after: Some(1),
            help: RUN_HELP,
        },
    )
}

#[cfg(unix)]
pub fn run(args: &[OsString]) -> Result<ExitCode, Failure> {
    let parsed = parse_run(args)?;
    let Prepared {
        file,
        command,
        options,
        conflict_exit_code,
    } = prepare(&parsed)?;
    let Some((program, program_args)) = command.split_first() else {
        return Err(Failure::Usage("run needs a command".into(), RUN_HELP));
    };
    // Blocked before any other thread exists: the signal thread and the lock service's thread
    // inherit the mask, so only `sigwait` ever takes these signals.
    set_forwarded_mask(libc::SIG_BLOCK);
    let cancel = CancelToken::new();
    *phase() = Phase::Waiting(cancel.clone());
    signal_thread().map_err(|e| Error::Io {
        op: "start the signal thread",
        path: file.into(),
        source: e,
    })?;
    let taken = acquire_cancellable(file, &options, Some(cancel));
    let guard = {
        let mut phase = phase();
        if let Phase::Interrupted(signal) = *phase {
            return Ok(by_signal(signal)); // a lock granted meanwhile is released here
        }
        *phase = Phase::Starting(Vec::new());
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
    let mut command = Command::new(program);
    command.args(program_args);
    // The child would inherit the blocked mask (and keep the signals we forward from ending
    // it): it unblocks them before exec.
    // SAFETY: the closure only calls async-signal-safe functions (sigemptyset, sigaddset,
    // pthread_sigmask).
    unsafe {
        command.pre_exec(|| {
            set_forwarded_mask(libc::SIG_UNBLOCK);
            Ok(())
        })
    };
    // The command inherits the lock's descriptor: if `run` is killed, the lock lives on
    // until the command ends, as with flock(1).
    let mut child = match guard.spawn_holding(command) {
        Ok(child) => child,
        Err(e) => {
            drop(guard);
            eprintln!("session-lock: cannot run {}: {e}", quoted(program));
            return Ok(ExitCode::from(
                if e.kind() == std::io::ErrorKind::NotFound {
                    127
                } else {
                    126
                },
            ));
        }
    };
    let pending = match std::mem::replace(&mut *phase(), Phase::Running(child.id() as i32)) {
        Phase::Starting(pending) => pending,
        _ => Vec::new(),
    };
    for signal in pending {
        // SAFETY: kill has no memory effects.
        unsafe { libc::kill(child.id() as i32, signal) };
    }
    let status = child.wait().map_err(|e| Error::Io {
        op: "wait for command",
        path: program.into(),
        source: e,
    })?;
    drop(guard);
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Ok(ExitCode::from(code as u8))
}

/// What `run` was asked to do, its flags checked.
struct RunArgs<'a> {
    file: &'a OsStr,
    command: Vec<OsString>,
    /// From `-n` (zero: one try) or `-w SECONDS` (`None`: forever); else `--timeout-ms` or the
    /// default applies.
    wait: Option<Option<Duration>>,
    conflict_exit_code: Option<u8>,
}

fn run_args(parsed: &Parsed) -> Result<RunArgs<'_>, Failure> {
    let usage = |message: &str| Failure::Usage(message.into(), RUN_HELP);
    let [file] = parsed.positional.as_slice() else {
        return Err(usage("run needs exactly one FILE before the command"));
    };
    let waits = ["nonblock", "nonblocking", "timeout", "wait", "timeout-ms"]
        .iter()
        .filter(|name| parsed.has(name))
        .count();
    if waits > 1 {
        return Err(usage("-n, -w and --timeout-ms exclude each other"));
    }
    let seconds = parsed.value("timeout").or(parsed.value("wait"));
    let wait = if parsed.has("nonblock") || parsed.has("nonblocking") {
        Some(Some(Duration::ZERO))
    } else if let Some(value) = seconds {
        Some(wait_seconds(value)?)
    } else {
        None
    };
    let conflict_exit_code = match parsed.value("conflict-exit-code") {
        None => None,
        Some(code) => Some(
            code.to_str()
                .and_then(|c| c.parse::<u8>().ok())
                .ok_or_else(|| {
                    usage(&format!(
                        "-E needs an exit code from 0 to 255, got {}",
                        quoted(code)
                    ))
                })?,
        ),
    };
    let command = match (parsed.value("command"), parsed.rest.is_empty()) {
        (Some(_), false) => return Err(usage("give either -c CMD or CMD [ARGS...], not both")),
        (Some(cmd), true) => shell_command(cmd),
        (None, _) => parsed.rest.clone(),
    };
    Ok(RunArgs {
        file,
        command,
        wait,
        conflict_exit_code,
    })
}

/// `-c CMD`: the shell runs it (`sh -c`).
#[cfg(unix)]
fn shell_command(cmd: &OsStr) -> Vec<OsString> {
    vec!["sh".into(), "-c".into(), cmd.to_os_string()]
}

/// `-c CMD`: the command interpreter runs it (`cmd.exe /d /c`).
#[cfg(windows)]
fn shell_command(cmd: &OsStr) -> Vec<OsString> {
    vec![
        "cmd.exe".into(),
        "/d".into(),
        "/c".into(),
        cmd.to_os_string(),
    ]
}

/// `-w SECONDS`: fractions allowed, `inf` (`infinity`) waits forever (`None`).
fn wait_seconds(value: &OsStr) -> Result<Option<Duration>, Failure> {
    let seconds = value.to_str().and_then(|v| v.parse::<f64>().ok());
    let problem = match seconds {
        Some(s) if s == f64::INFINITY => return Ok(None),
        Some(s) => match Duration::try_from_secs_f64(s) {
            Ok(wait) => return Ok(Some(wait)),
            Err(_) if s > 0.0 => "is too large (use 'inf' to wait forever)",
            Err(_) => "needs a number of seconds >= 0 (or 'inf')",
        },
        None => "needs a number of seconds >= 0 (or 'inf')",
    };
    Err(Failure::Usage(
        format!("-w {problem}, got {}", quoted(value)),
        RUN_HELP,
    ))
}
