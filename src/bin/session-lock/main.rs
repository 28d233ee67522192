//! `session-lock`: the operator's tool. Shows who holds session locks, removes only stale ones,
//! and runs a command under a session lock (like util-linux `flock(1)`).
//! Exit codes: 0 ok, 1 busy/timeout (or `run -E CODE`), 2 usage, 3 I/O (also: a `status` PATH
//! that does not exist, or lock files that could not be inspected or removed).
//! Arguments are bytes (`OsString`); text from lock files and file names is printed through
//! `printable`, so it cannot drive the terminal.

// No panic on a runtime path (docs/PROTOCOL.md): failures are errors. Tests may unwrap.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod args;
mod run;
#[cfg(windows)]
mod run_windows;
mod selection;

use args::{parse, Parsed, Spec};
use session_write_lock::{
    clean_stale, inspect, inspect_lock_file, inspect_with, printable, printable_path, CleanOptions,
    EntryError, Error, Format, Found, Inspection, OwnerArgs, StaleReason,
};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: session-lock <command> [options]
       session-lock --version

commands:
  status PATH... [--json] [--stale-ms N] [--pattern GLOB] [--foreign RULE]
                                           who holds the locks (lock files, session files or directories)
  clean DIR [--stale-ms N] [--dry-run] [--json] [--pattern GLOB] [--foreign RULE]
                                           remove stale lock files in DIR, never live ones
  run FILE [-n | -w SECONDS | --timeout-ms N] [-E CODE] (-c CMD | [--] CMD [ARGS...])
                                           run CMD while holding the lock of session FILE
                                           (waits up to 60 s for it unless told otherwise)

exit codes: 0 ok, 1 busy or timed out (run: -E CODE), 2 usage, 3 I/O error, no such PATH,
            or lock files that could not be inspected or removed (each is reported)
'session-lock <command> --help' describes one command.";

const STATUS_HELP: &str = "\
usage: session-lock status PATH... [--json] [--stale-ms N] [--pattern GLOB] [--foreign RULE]

Shows each lock: holder pid and host, age, format (flock = written by this library,
legacy = written by the TypeScript gateway or unreadable, dotlock = a pid, as liblockfile
writes, under --foreign keep or dotlock), and whether it is alive or stale, with reasons.
PATH may be a lock file (*.lock), a session file (its lock is looked up) or a directory
(its *.jsonl.lock files and every other lock file this library wrote, or with --pattern the
names GLOB matches). Nothing is changed. A PATH that does not exist (and, for a session file,
has no lock file either), or a lock file that cannot be inspected, is reported on stderr and
the others are still shown: exit code 3.

  --json            one JSON array of inspections, for scripts
  --stale-ms N      age after which legacy locks count as stale (default 1800000 = 30 min)
  --pattern GLOB    in directories, the file names GLOB matches (a shell glob: *, ?, [...])
  --foreign RULE    lock files this library did not write: keep (never stale), dotlock (a
                    dotlock of a dead pid is stale) or gateway (the gateway's rules); default
                    gateway, or keep with --pattern";

const CLEAN_HELP: &str = "\
usage: session-lock clean DIR [--stale-ms N] [--dry-run] [--json] [--pattern GLOB] [--foreign RULE]

Removes the stale lock files in DIR (holder exited, dead or recycled pid, too old, ...)
through the same race-free reclaim the lock uses: a lock that is alive, or that someone else
is taking at the same moment, is never removed. Without --pattern it looks at the *.jsonl.lock
files (the gateway's rules judge those the gateway wrote) and every other lock file this
library wrote, known by its content; other programs' lock files are not touched. Also removes
temp files of crashed writers. A lock file that cannot be inspected or removed (unreadable,
undeletable) is reported with its error and the others are still cleaned: exit code 3.

  --dry-run         report what would be removed, remove nothing
  --json            the report as JSON ({locks, cleaned, tempFilesRemoved})
  --stale-ms N      age after which legacy locks count as stale (default 1800000 = 30 min)
  --pattern GLOB    the file names GLOB matches instead (a shell glob: *, ?, [...])
  --foreign RULE    lock files this library did not write: keep (never removed), dotlock (a
                    dotlock of a dead pid is removed) or gateway (the gateway's rules); default
                    gateway, or keep with --pattern";

pub(crate) const RUN_HELP: &str = "\
usage: session-lock run FILE [-n | -w SECONDS | --timeout-ms N] [-E CODE] [--stale-ms N]
                            [--max-hold-ms N] (-c CMD | [--] CMD [ARGS...])

Takes the lock of session FILE, runs CMD, releases the lock and exits with CMD's exit code
(128+signal if CMD was killed by a signal). As in util-linux flock(1), the first argument
after FILE that is not an option starts CMD: what follows it, options too, is CMD's ('--'
before CMD is optional). CMD inherits the lock's descriptor, so if run itself is killed the
lock stays held until CMD (and any process it passed the descriptor on to) has ended.
SIGINT, SIGTERM, SIGHUP and SIGQUIT are forwarded to CMD. One that arrives while waiting for
the lock ends run at once with 128+signal: CMD is never started and nothing is left behind.
The short options are those of flock(1).

Waiting: without -n, -w or --timeout-ms, run waits up to 60 seconds for a busy lock.
  -n, --nonblock                 fail at once if the lock is busy (exit 1, or -E CODE)
  -w, --timeout SECONDS          wait up to SECONDS (fractions allowed; 0 = one try;
                                 'inf' = forever)
  --timeout-ms N                 the same in milliseconds ('Infinity' = forever)
  -E, --conflict-exit-code CODE  exit with CODE (0-255) when the lock stays busy
  -c, --command CMD              run CMD with 'sh -c' instead of CMD [ARGS...]
  --stale-ms N                   age after which legacy locks count as stale
                                 (default 1800000 = 30 min)
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
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL)
    };
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let result = match args.first().map(|a| a.to_str()) {
        Some(Some("status")) => status(&args[1..]),
        Some(Some("clean")) => clean(&args[1..]),
        #[cfg(unix)]
        Some(Some("run")) => run::run(&args[1..]),
        #[cfg(windows)]
        Some(Some("run")) => run_windows::run(&args[1..]),
        Some(Some("--version" | "-V" | "version")) => {
            println!("session-lock {}", session_write_lock::VERSION);
            Ok(ExitCode::SUCCESS)
        }
        Some(Some("--help" | "-h" | "help")) => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Some(_) => Err(Failure::Usage(
            format!("unknown command {}", args::quoted(&args[0])),
            USAGE,
        )),
        None => Err(Failure::Usage("missing command".into(), USAGE)),
    };
    result.unwrap_or_else(|failure| failure.report())
}

pub(crate) enum Failure {
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

fn stale_of(parsed: &Parsed, help: &'static str) -> Result<Duration, Failure> {
    let mut options = CleanOptions::default();
    if let Some(ms) = parsed.millis("stale-ms", help)? {
        options.set_stale_ms(ms)?;
    }
    Ok(options.stale)
}

fn status(args: &[OsString]) -> Result<ExitCode, Failure> {
    let spec = Spec {
        valued: &["stale-ms", selection::FLAGS[0], selection::FLAGS[1]],
        switches: &["json"],
        shorts: &[],
        command_after: None,
        help: STATUS_HELP,
    };
    let parsed = parse(args, &spec)?;
    if parsed.positional.is_empty() {
        return Err(Failure::Usage(
            "status needs at least one PATH".into(),
            STATUS_HELP,
        ));
    }
    let stale = stale_of(&parsed, STATUS_HELP)?;
    let options = selection::sweep_options(&parsed, STATUS_HELP, stale, false)?;
    let mut inspections = Vec::new();
    let mut missing = Vec::new();
    let mut failed = false;
    for path in &parsed.positional {
        let path = Path::new(path);
        // One path or lock file that cannot be looked at is reported; the others are shown.
        match status_of(path, &options) {
            Ok(Seen::Locks(locks, errors)) => {
                inspections.extend(locks);
                failed |= !errors.is_empty();
                report_errors(&errors);
            }
            Ok(Seen::Free) => missing.push(path.to_path_buf()),
            Err(e @ Error::InvalidArgument { .. }) => return Err(e.into()),
            Err(e) => {
                eprintln!("session-lock: {e}");
                failed = true;
            }
        }
    }
    if parsed.has("json") {
        println!("{}", json(&inspections)?);
    } else {
        if !inspections.is_empty() || !failed {
            print_table(&inspections);
        }
        for path in missing {
            println!("{}: no lock file (free)", printable_path(&path));
        }
    }
    Ok(ExitCode::from(if failed { IO_ERROR } else { 0 }))
}

/// What `status` found at one PATH.
enum Seen {
    /// The lock files there, and those that could not be inspected.
    Locks(Vec<Inspection>, Vec<EntryError>),
    /// A session file without a lock file.
    Free,
}

fn status_of(path: &Path, options: &CleanOptions) -> Result<Seen, Error> {
    let stale = options.stale;
    if std::fs::symlink_metadata(path).is_err() && inspect(path, stale)?.is_none() {
        // Neither the path nor (for a session file) its lock: a typo, not a free lock.
        let source = std::io::Error::from_raw_os_error(libc::ENOENT);
        return Err(Error::Io {
            op: "status",
            path: path.to_path_buf(),
            source,
        });
    }
    let found = if path.is_dir() {
        let report = clean_stale(path, options)?;
        return Ok(Seen::Locks(report.locks, report.errors));
    } else if path.extension().is_some_and(|e| e == "lock") {
        inspect_lock_file(path, options, OwnerArgs::System)?
    } else {
        inspect_with(path, options)?
    };
    Ok(found.map_or(Seen::Free, |i| Seen::Locks(vec![i], Vec::new())))
}

/// The lock files a sweep could not inspect or remove, on stderr.
fn report_errors(errors: &[EntryError]) {
    for e in errors {
        eprintln!("session-lock: {}", printable(e.message.as_bytes()));
    }
}

fn print_table(inspections: &[Inspection]) {
    let ours = Found::Lock(Format::Flock);
    let rows: Vec<[String; 7]> = inspections
        .iter()
        .map(|i| {
            // Everything from a lock file or a file name is printable: it reaches a terminal.
            let text = |t: &str| printable(t.as_bytes()).into_owned();
            let state = if i.format == Found::NotAFile {
                format!("blocked: {}", text(&i.description))
            } else if i.removable {
                format!("stale: {}", joined(&i.stale_reasons))
            } else if i.stale_reasons.is_empty() && (i.pid_alive || i.format == ours) {
                "alive".to_string()
            } else if i.stale_reasons.is_empty() {
                // Judged by no rule (`--foreign keep`): its pid is dead or unknown.
                "kept: another program's file".to_string()
            } else {
                format!(
                    "kept: {} (holder alive or file fresh)",
                    joined(&i.stale_reasons)
                )
            };
            [
                text(&i.lock_path),
                i.pid.map_or("-".into(), |p| p.to_string()),
                i.hostname.as_deref().map_or("-".into(), text),
                i.age_ms.map_or("-".into(), human_age),
                i.format.as_str().to_owned(),
                i.owner_label.as_deref().map_or("-".into(), text),
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

fn clean(args: &[OsString]) -> Result<ExitCode, Failure> {
    let spec = Spec {
        valued: &["stale-ms", selection::FLAGS[0], selection::FLAGS[1]],
        switches: &["json", "dry-run"],
        shorts: &[],
        command_after: None,
        help: CLEAN_HELP,
    };
    let parsed = parse(args, &spec)?;
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
    let stale = stale_of(&parsed, CLEAN_HELP)?;
    let options = selection::sweep_options(&parsed, CLEAN_HELP, stale, !dry_run)?;
    let report = clean_stale(&dir, &options)?;
    let code = ExitCode::from(if report.errors.is_empty() {
        0
    } else {
        IO_ERROR
    });
    if parsed.has("json") {
        println!("{}", json(&report)?);
        return Ok(code);
    }
    report_errors(&report.errors);
    let verb = if dry_run { "would remove" } else { "removed" };
    let mut acted = 0;
    for lock in &report.locks {
        if lock.removed || (dry_run && lock.stale) {
            acted += 1;
            println!(
                "{verb} {} ({}; pid {})",
                printable(lock.lock_path.as_bytes()),
                joined(&lock.stale_reasons),
                lock.pid.map_or("-".into(), |p| p.to_string())
            );
        }
    }
    for temp in &report.temp_files_removed {
        println!("removed temp file {}", printable(temp.as_bytes()));
    }
    let failed = match report.errors.len() {
        0 => String::new(),
        n => format!("; {n} could not be inspected or removed"),
    };
    println!(
        "{acted} of {} lock(s) {}; live locks left alone{failed}",
        report.locks.len(),
        if dry_run { "stale" } else { "removed" }
    );
    Ok(code)
}
