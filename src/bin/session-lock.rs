//! `session-lock`: the operator's tool. Shows who holds session locks, removes only stale ones,
//! and runs a command under a session lock (like util-linux `flock(1)`).
//! Exit codes: 0 ok, 1 busy/timeout (or `run -E CODE`), 2 usage, 3 I/O (also: a `status` PATH
//! that does not exist).

// No panic on a runtime path (docs/PROTOCOL.md): failures are errors. Tests may unwrap.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use session_write_lock::{
    acquire, clean_stale, inspect, inspect_lock_file, CleanOptions, Error, Found, Inspection,
    Options, OwnerArgs, StaleReason,
};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

const USAGE: &str = "\
usage: session-lock <command> [options]
       session-lock --version

commands:
  status PATH... [--json] [--stale-ms N]   who holds the locks (lock files, session files or directories)
  clean DIR [--stale-ms N] [--dry-run] [--json]
                                           remove stale *.jsonl.lock files in DIR, never live ones
  run FILE [-n | -w SECONDS | --timeout-ms N] [-E CODE] (-c CMD | -- CMD [ARGS...])
                                           run CMD while holding the lock of session FILE

exit codes: 0 ok, 1 busy or timed out (run: -E CODE), 2 usage, 3 I/O error or no such PATH
'session-lock <command> --help' describes one command.";

const STATUS_HELP: &str = "\
usage: session-lock status PATH... [--json] [--stale-ms N]

Shows each lock: holder pid and host, age, format (flock = written by this library,
legacy = written by the TypeScript gateway), and whether it is alive or stale, with reasons.
PATH may be a lock file (*.lock), a session file (its lock is looked up) or a directory
(every *.jsonl.lock in it). Nothing is changed. A PATH that does not exist (and, for a
session file, has no lock file either) is an error: exit code 3.

  --json        one JSON array of inspections, for scripts
  --stale-ms N  age after which legacy locks count as stale (default 1800000 = 30 min)";

const CLEAN_HELP: &str = "\
usage: session-lock clean DIR [--stale-ms N] [--dry-run] [--json]

Removes the stale *.jsonl.lock files in DIR (holder exited, dead or recycled pid, too old, ...)
through the same race-free reclaim the lock uses: a lock that is alive, or that someone else
is taking at the same moment, is never removed. Also removes temp files of crashed writers.

  --dry-run     report what would be removed, remove nothing
  --json        the report as JSON ({locks, cleaned, tempFilesRemoved})
  --stale-ms N  age after which legacy locks count as stale (default 1800000 = 30 min)";

const RUN_HELP: &str = "\
usage: session-lock run FILE [-n | -w SECONDS | --timeout-ms N] [-E CODE] [--stale-ms N]
                            [--max-hold-ms N] (-c CMD | -- CMD [ARGS...])

Takes the lock of session FILE, runs CMD, releases the lock and exits with CMD's exit code
(128+signal if CMD was killed by a signal). SIGINT, SIGTERM, SIGHUP and SIGQUIT are forwarded
to CMD; one that arrives while the lock is being taken is held until CMD has started, then
forwarded. The short options are those of util-linux flock(1).

  -n, --nonblock                 fail at once if the lock is busy (exit 1, or -E CODE)
  -w, --timeout SECONDS          wait up to SECONDS (fractions allowed; 0 = one try)
  --timeout-ms N                 the same in milliseconds ('Infinity' = forever)
                                 (default: wait up to 60000 ms)
  -E, --conflict-exit-code CODE  exit with CODE (0-255) when the lock stays busy
  -c, --command CMD              run CMD with 'sh -c' instead of CMD [ARGS...] after --
  --max-hold-ms N                force-release the lock after N ms even if CMD still runs
                                 (default: never)";

/// Exit codes.
const BUSY: u8 = 1;
const USAGE_ERROR: u8 = 2;
const IO_ERROR: u8 = 3;

fn main() -> ExitCode {
    // Like other Unix tools (and flock(1)), end quietly when a reader closes our stdout
    // (`session-lock status … | head -1`): Rust ignores SIGPIPE, and its println! would then
    // panic on EPIPE. A command that `run` starts gets the default disposition either way.
    // SAFETY: restoring a signal's default action before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("status") => status(&args[1..]),
        Some("clean") => clean(&args[1..]),
        Some("run") => run(&args[1..]),
        Some("--version" | "-V" | "version") => {
            println!("session-lock {}", session_write_lock::VERSION);
            Ok(ExitCode::SUCCESS)
        }
        Some("--help" | "-h" | "help") => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => Err(Failure::Usage(format!("unknown command '{other}'"), USAGE)),
        None => Err(Failure::Usage("missing command".into(), USAGE)),
    };
    result.unwrap_or_else(|failure| failure.report())
}

enum Failure {
    Usage(String, &'static str),
    Lock(Error),
}

impl Failure {
    fn report(self) -> ExitCode {
        match self {
            Failure::Usage(message, help) => {
                eprintln!("session-lock: {message}\n\n{help}");
                ExitCode::from(USAGE_ERROR)
            }
            Failure::Lock(e) => {
                // An option is named as this tool's user typed it.
                let flag = match &e {
                    Error::InvalidArgument { name, message } => name.cli_flag().zip(Some(message)),
                    _ => None,
                };
                match flag {
                    Some((flag, message)) => eprintln!("session-lock: invalid {flag}: {message}"),
                    None => eprintln!("session-lock: {e}"),
                }
                ExitCode::from(match e {
                    Error::Busy { .. } | Error::Stale { .. } | Error::Cancelled { .. } => BUSY,
                    Error::InvalidArgument { .. } => USAGE_ERROR,
                    Error::Io { .. } => IO_ERROR,
                })
            }
        }
    }
}

/// Pretty JSON of a report (plain strings and numbers: serializing them does not fail).
fn json(value: &impl serde::Serialize) -> Result<String, Failure> {
    serde_json::to_string_pretty(value).map_err(|e| {
        Failure::Lock(Error::Io {
            op: "write JSON",
            path: "-".into(),
            source: e.into(),
        })
    })
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Lock(e)
    }
}

/// Flags and positional arguments of one command; `--` ends the flags. Flags are stored under
/// their long names.
struct Parsed {
    positional: Vec<String>,
    flags: Vec<(String, Option<String>)>,
    rest: Vec<String>,
}

/// Short options of a command: (`-x`, its long name).
type Shorts<'a> = &'a [(&'a str, &'a str)];

fn parse(
    args: &[String],
    valued: &[&str],
    switches: &[&str],
    shorts: Shorts,
    help: &'static str,
) -> Result<Parsed, Failure> {
    let mut parsed = Parsed {
        positional: Vec::new(),
        flags: Vec::new(),
        rest: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            parsed.rest = args[i + 1..].to_vec();
            break;
        }
        if arg == "--help" || arg == "-h" {
            println!("{help}");
            std::process::exit(0);
        }
        let long = arg
            .strip_prefix("--")
            .map(|name| match name.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (name, None),
            });
        // `-w 5` and `-w5` as flock(1) takes them.
        let short = || {
            shorts.iter().find_map(|&(flag, name)| {
                let rest = arg.strip_prefix(flag)?;
                Some((name, (!rest.is_empty()).then(|| rest.to_string())))
            })
        };
        if let Some((name, inline)) = long.or_else(short) {
            if valued.contains(&name) {
                let value = match inline {
                    Some(v) => v,
                    None => {
                        i += 1;
                        args.get(i).cloned().ok_or_else(|| {
                            Failure::Usage(format!("--{name} needs a value"), help)
                        })?
                    }
                };
                parsed.flags.push((name.to_string(), Some(value)));
            } else if switches.contains(&name) && inline.is_none() {
                parsed.flags.push((name.to_string(), None));
            } else {
                return Err(Failure::Usage(format!("unknown option '{arg}'"), help));
            }
        } else {
            parsed.positional.push(arg.clone());
        }
        i += 1;
    }
    Ok(parsed)
}

impl Parsed {
    fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| n == name)
    }

    /// The last value of a valued option.
    fn value(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// A millisecond option; `Infinity` where the option allows it.
    fn millis(&self, name: &str, help: &'static str) -> Result<Option<f64>, Failure> {
        let Some((_, Some(value))) = self.flags.iter().rev().find(|(n, _)| n == name) else {
            return Ok(None);
        };
        match value.parse::<f64>() {
            Ok(ms) if !ms.is_nan() => Ok(Some(ms)),
            _ => Err(Failure::Usage(
                format!("--{name} must be a number of milliseconds, got '{value}'"),
                help,
            )),
        }
    }
}

fn stale_of(parsed: &Parsed, help: &'static str) -> Result<Duration, Failure> {
    Ok(Options::from_millis(None, parsed.millis("stale-ms", help)?, None, None)?.stale)
}

fn status(args: &[String]) -> Result<ExitCode, Failure> {
    let parsed = parse(args, &["stale-ms"], &["json"], &[], STATUS_HELP)?;
    if parsed.positional.is_empty() {
        return Err(Failure::Usage(
            "status needs at least one PATH".into(),
            STATUS_HELP,
        ));
    }
    let stale = stale_of(&parsed, STATUS_HELP)?;
    let mut inspections = Vec::new();
    let mut missing = Vec::new();
    let mut not_found = false;
    for path in &parsed.positional {
        let path = Path::new(path);
        if std::fs::symlink_metadata(path).is_err() && inspect(path, stale)?.is_none() {
            // Neither the path nor (for a session file) its lock: a typo, not a free lock.
            let source = std::io::Error::from_raw_os_error(libc::ENOENT);
            eprintln!(
                "session-lock: {}",
                Error::Io {
                    op: "status",
                    path: path.to_path_buf(),
                    source
                }
            );
            not_found = true;
            continue;
        }
        if path.is_dir() {
            let report = clean_stale(
                path,
                &CleanOptions {
                    stale,
                    remove: false,
                    ..CleanOptions::default()
                },
            )?;
            inspections.extend(report.locks);
        } else if path.extension().is_some_and(|e| e == "lock") {
            let options = CleanOptions {
                stale,
                remove: false,
                ..CleanOptions::default()
            };
            match inspect_lock_file(path, &options, OwnerArgs::System)? {
                Some(i) => inspections.push(i),
                None => missing.push(path.to_path_buf()),
            }
        } else {
            match inspect(path, stale)? {
                Some(i) => inspections.push(i),
                None => missing.push(path.to_path_buf()),
            }
        }
    }
    if parsed.has("json") {
        println!("{}", json(&inspections)?);
    } else if !inspections.is_empty() || !not_found {
        print_table(&inspections);
        for path in missing {
            println!("{}: no lock file (free)", path.display());
        }
    }
    Ok(ExitCode::from(if not_found { IO_ERROR } else { 0 }))
}

fn print_table(inspections: &[Inspection]) {
    let rows: Vec<[String; 7]> = inspections
        .iter()
        .map(|i| {
            let state = if i.format == Found::NotAFile {
                format!("blocked: {}", i.owner)
            } else if i.removable {
                format!("stale: {}", joined(&i.stale_reasons))
            } else if i.stale_reasons.is_empty() {
                "alive".to_string()
            } else {
                format!(
                    "kept: {} (holder alive or file fresh)",
                    joined(&i.stale_reasons)
                )
            };
            [
                i.lock_path.clone(),
                i.pid.map_or("-".into(), |p| p.to_string()),
                i.hostname.clone().unwrap_or_else(|| "-".into()),
                i.age_ms.map_or("-".into(), human_age),
                i.format.as_str().to_owned(),
                i.owner_label.clone().unwrap_or_else(|| "-".into()),
                state,
            ]
        })
        .collect();
    let header = ["LOCK", "PID", "HOST", "AGE", "FORMAT", "OWNER", "STATE"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
}

/// Reasons as a list for people: `dead-pid, too-old`.
fn joined(reasons: &[StaleReason]) -> String {
    let names: Vec<&str> = reasons.iter().map(|r| r.as_str()).collect();
    names.join(", ")
}

fn human_age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}

fn clean(args: &[String]) -> Result<ExitCode, Failure> {
    let parsed = parse(args, &["stale-ms"], &["json", "dry-run"], &[], CLEAN_HELP)?;
    let [dir] = parsed.positional.as_slice() else {
        return Err(Failure::Usage(
            "clean needs exactly one DIR".into(),
            CLEAN_HELP,
        ));
    };
    let dry_run = parsed.has("dry-run");
    let dir = PathBuf::from(dir);
    if !dir.is_dir() {
        let source = std::io::Error::from_raw_os_error(if dir.exists() {
            libc::ENOTDIR
        } else {
            libc::ENOENT
        });
        return Err(Error::Io {
            op: "read directory",
            path: dir,
            source,
        }
        .into());
    }
    let options = CleanOptions {
        stale: stale_of(&parsed, CLEAN_HELP)?,
        remove: !dry_run,
        ..CleanOptions::default()
    };
    let report = clean_stale(&dir, &options)?;
    if parsed.has("json") {
        println!("{}", json(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut acted = 0;
    for lock in &report.locks {
        if lock.removed || (dry_run && lock.stale) {
            acted += 1;
            println!(
                "{verb} {} ({}; pid {})",
                lock.lock_path,
                joined(&lock.stale_reasons),
                lock.pid.map_or("-".into(), |p| p.to_string())
            );
        }
    }
    for temp in &report.temp_files_removed {
        println!("removed temp file {temp}");
    }
    println!(
        "{acted} of {} lock(s) {}; live locks left alone",
        report.locks.len(),
        if dry_run { "stale" } else { "removed" }
    );
    Ok(ExitCode::SUCCESS)
}

static CHILD: AtomicI32 = AtomicI32::new(0);
const FORWARDED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

extern "C" fn forward(signal: libc::c_int) {
    let child = CHILD.load(Ordering::Relaxed);
    if child > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(child, signal) };
    }
}

/// Blocks or unblocks (`how`) the forwarded signals for this thread.
fn set_forwarded_mask(how: libc::c_int) {
    // SAFETY: a zeroed sigset_t is initialised by sigemptyset before use; the calls only
    // change this thread's signal mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in FORWARDED {
            libc::sigaddset(&mut set, signal);
        }
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

fn run(args: &[String]) -> Result<ExitCode, Failure> {
    let parsed = parse(
        args,
        &[
            "timeout-ms",
            "timeout",
            "wait",
            "stale-ms",
            "max-hold-ms",
            "conflict-exit-code",
            "command",
        ],
        &["nonblock", "nonblocking"],
        &[
            ("-n", "nonblock"),
            ("-w", "timeout"),
            ("-E", "conflict-exit-code"),
            ("-c", "command"),
        ],
        RUN_HELP,
    )?;
    let RunArgs {
        file,
        command,
        wait,
        conflict_exit_code,
    } = run_args(&parsed)?;
    let Some((program, program_args)) = command.split_first() else {
        return Err(Failure::Usage("run needs a command".into(), RUN_HELP));
    };
    let mut options = Options::from_millis(
        parsed.millis("timeout-ms", RUN_HELP)?,
        parsed.millis("stale-ms", RUN_HELP)?,
        Some(
            parsed
                .millis("max-hold-ms", RUN_HELP)?
                .unwrap_or(f64::INFINITY),
        ),
        Some(false),
    )?;
    if let Some(wait) = wait {
        options.timeout = Some(wait);
    }
    // A signal must neither kill us between creating the lock file and recording the child
    // (the file would stay behind) nor reach the handler before there is a child to forward it
    // to (it would be lost): it waits, blocked, until the child is recorded. The lock service
    // thread, started by the acquire, inherits the mask and so never takes these signals.
    set_forwarded_mask(libc::SIG_BLOCK);
    let guard = match acquire(file, &options) {
        Ok(guard) => guard,
        Err(e) => {
            set_forwarded_mask(libc::SIG_UNBLOCK); // nothing held: a pending signal ends us
            if let (Error::Busy { .. }, Some(code)) = (&e, conflict_exit_code) {
                eprintln!("session-lock: {e}");
                return Ok(ExitCode::from(code));
            }
            return Err(e.into());
        }
    };
    let mut command = Command::new(program);
    command.args(program_args);
    // The child would inherit the blocked mask (and keep the signals we forward from ending
    // it): it unblocks them before exec. Our handler is installed only after the spawn, so
    // the child never runs it.
    // SAFETY: the closure only calls async-signal-safe functions (sigemptyset, sigaddset,
    // pthread_sigmask).
    unsafe {
        command.pre_exec(|| {
            set_forwarded_mask(libc::SIG_UNBLOCK);
            Ok(())
        })
    };
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            drop(guard);
            set_forwarded_mask(libc::SIG_UNBLOCK); // nothing held: a pending signal ends us
            eprintln!("session-lock: cannot run '{program}': {e}");
            return Ok(ExitCode::from(
                if e.kind() == std::io::ErrorKind::NotFound {
                    127
                } else {
                    126
                },
            ));
        }
    };
    for signal in FORWARDED {
        // SAFETY: installing a handler that only calls kill(2).
        unsafe {
            libc::signal(
                signal,
                forward as extern "C" fn(libc::c_int) as libc::sighandler_t,
            )
        };
    }
    CHILD.store(child.id() as i32, Ordering::Relaxed);
    set_forwarded_mask(libc::SIG_UNBLOCK); // what arrived meanwhile is forwarded now
    let status = child.wait().map_err(|e| Error::Io {
        op: "wait for command",
        path: PathBuf::from(program),
        source: e,
    })?;
    drop(guard);
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Ok(ExitCode::from(code as u8))
}

/// What `run` was asked to do, its flags checked.
struct RunArgs<'a> {
    file: &'a str,
    command: Vec<String>,
    /// From `-n` (zero: one try) or `-w SECONDS`; else `--timeout-ms` or the default applies.
    wait: Option<Duration>,
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
        Some(Duration::ZERO)
    } else if let Some(value) = seconds {
        match value.parse::<f64>().ok().map(Duration::try_from_secs_f64) {
            Some(Ok(wait)) => Some(wait),
            _ => {
                return Err(usage(&format!(
                    "-w needs a number of seconds >= 0, got '{value}'"
                )))
            }
        }
    } else {
        None
    };
    let conflict_exit_code = match parsed.value("conflict-exit-code") {
        None => None,
        Some(code) => Some(code.parse::<u8>().map_err(|_| {
            usage(&format!(
                "-E needs an exit code from 0 to 255, got '{code}'"
            ))
        })?),
    };
    let command = match (parsed.value("command"), parsed.rest.is_empty()) {
        (Some(_), false) => return Err(usage("give either -c CMD or -- CMD [ARGS...], not both")),
        (Some(cmd), true) => vec!["sh".into(), "-c".into(), cmd.to_string()],
        (None, _) => parsed.rest.clone(),
    };
    Ok(RunArgs {
        file,
        command,
        wait,
        conflict_exit_code,
    })
}
