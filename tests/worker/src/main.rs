//! A separate process for the integration tests: holds, tries, or storms a session lock.
//!
//! - `hold FILE`: acquire, print `held <pid>`, release when stdin closes or a line arrives.
//! - `try FILE TIMEOUT_MS`: acquire once, print `acquired`, `busy <message>` (exit 1) or
//!   `error <ERRNO> <message>` for any other failure (exit 2).
//! - `fork-and-vanish FILE`: acquire, fork a child that lingers for 5 s, exit at once without
//!   releasing: the child must not keep the lock alive.
//! - `storm FILE ITERATIONS MARKER STALE_EVERY`: acquire/release in a loop; inside the critical
//!   section create MARKER with O_EXCL (EEXIST = two holders); every STALE_EVERY-th iteration
//!   leave a legacy lock file with a dead pid behind. Prints
//!   `acquired=N violations=V stale_left=S`.
//! - `victim FILE MARKER`: wait for the lock forever, create MARKER with O_EXCL (print
//!   `violation` and exit 3 if it exists), print `held <pid>`, then wait to be SIGKILLed while
//!   holding (exits without releasing when stdin closes, i.e. the orchestrator is gone).
//! - `restart FILE`: an in-process restart: acquire, rotate the nonce without releasing,
//!   acquire again with timeout 0. Prints `held <pid> takeover_us=<n>` only if that second
//!   acquire succeeded and the old handle's release was a no-op (`NotHeld`), else
//!   `failed <why>` and exit 1. Then holds like `hold` (prints `released`).
//! - `wait FILE TIMEOUT_MS STALE_MS`: acquire, printing `waiting` when the lock service took
//!   the wait over (or `at-once`), then `acquired at_ns=<CLOCK_MONOTONIC ns> waits=W
//!   event_wakeups=E timer_reinspections=T` (the process's counters) or `error <ERRNO> <message>`
//!   (exit 2); holds like `hold` (prints `released`).
//! - `no-fds FILE`: with all descriptor slots but one taken (a low RLIMIT_NOFILE), acquire:
//!   prints `error <ERRNO> <message>`, waits for a stdin line, frees some descriptors and
//!   acquires again: prints `acquired` (or `error …`, exit 2).
//!
//! - `exhaust DIR`: run with a low `RLIMIT_NOFILE`: take locks `DIR/<n>.jsonl` until one fails,
//!   try twice more, then release-all. Prints `held <n>`, `error <ERRNO> <message>` per failure
//!   and `released <n>`.
//!
//! The reliability run (tests/reliability/) drives the same modes of the C and Node workers.

mod pids;

use pids::dead_pid;
use session_write_lock::{
    acquire, begin_acquire, release_all, reset_instance_nonce, Acquisition, Error, Options,
    ReleaseOutcome,
};
use std::fs::OpenOptions;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let file = PathBuf::from(&args[2]);
    match args[1].as_str() {
        "hold" => hold(&file),
        #[cfg(unix)]
        "fork-and-vanish" => fork_and_vanish(&file),
        "try" => try_once(&file, args[3].parse().expect("timeout ms")),
        "storm" => storm(
            &file,
            args[3].parse().expect("iterations"),
            Path::new(&args[4]),
            args[5].parse().expect("stale every"),
        ),
        "victim" => victim(&file, Path::new(&args[3])),
        "restart" => restart(&file),
        "exhaust" => exhaust(&file),
        "wait" => wait(
            &file,
            args[3].parse().expect("timeout ms"),
            args[4].parse().expect("stale ms"),
        ),
        #[cfg(unix)]
        "no-fds" => no_fds(&file),
        other => panic!("unknown mode {other}"),
    }
}

/// Waits forever, one contender among others: what the storm's processes use.
fn contender() -> Options {
    Options {
        timeout: None,
        allow_reentrant: false,
        ..Options::default()
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").unwrap();
    out.flush().unwrap();
}

fn wait_for_stdin_line() {
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
}

fn hold(file: &Path) {
    let guard = acquire(file, &Options::default()).expect("acquire");
    say(&format!("held {}", std::process::id()));
    wait_for_stdin_line();
    drop(guard);
    say("released");
}

#[cfg(unix)]
fn fork_and_vanish(file: &Path) {
    let guard = acquire(file, &Options::default()).expect("acquire");
    // SAFETY: the child only sleeps and exits.
    match unsafe { libc::fork() } {
        0 => {
            // Close stdout and stderr so the test reading our parent's output is not kept waiting.
            unsafe {
                libc::close(1);
                libc::close(2);
            }
            std::thread::sleep(Duration::from_secs(5));
            unsafe { libc::_exit(0) };
        }
        child => {
            println!("held {} forked {child}", std::process::id());
            std::io::stdout().flush().unwrap();
            std::mem::forget(guard);
            std::process::exit(0);
        }
    }
}

fn exhaust(dir: &Path) {
    let once = Options {
        timeout: Some(Duration::ZERO),
        ..Options::default()
    };
    let mut guards = Vec::new();
    let mut failures = 0;
    for n in 0..100_000 {
        match acquire(dir.join(format!("{n}.jsonl")), &once) {
            Ok(guard) => guards.push(guard),
            Err(e) => {
                if failures == 0 {
                    say(&format!("held {}", guards.len()));
                }
                say(&format!("error {} {e}", e.code().unwrap_or("-")));
                failures += 1;
                if failures == 3 {
                    break;
                }
            }
        }
    }
    say(&format!("released {}", release_all()));
}

fn try_once(file: &Path, timeout_ms: u64) {
    let options = Options {
        timeout: Some(Duration::from_millis(timeout_ms)),
        ..Options::default()
    };
    match acquire(file, &options) {
        Ok(_guard) => println!("acquired"),
        Err(e @ Error::Busy { .. }) => {
            println!("busy {e}");
            std::process::exit(1);
        }
        Err(e) => {
            println!("error {} {e}", e.code().unwrap_or("-"));
            std::process::exit(2);
        }
    }
}

/// Creates the storm's marker with O_EXCL: false means someone else is inside too.
fn enter(marker: &Path) -> bool {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(marker)
        .is_ok()
}

fn storm(file: &Path, iterations: usize, marker: &Path, stale_every: usize) {
    let options = contender();
    let (mut acquired, mut violations, mut stale_left) = (0, 0, 0);
    // Stale files owed (one per STALE_EVERY iterations) and the one ready to be linked: a waiter
    // often takes the freed path first, so an unlanded file is tried again after the next release.
    let (mut owed, mut pending): (usize, Option<StaleLock>) = (0, None);
    for i in 1..=iterations {
        let guard = acquire(file, &options).expect("acquire in storm");
        acquired += 1;
        if enter(marker) {
            std::thread::sleep(Duration::from_micros(50));
            std::fs::remove_file(marker).expect("remove marker");
        } else {
            violations += 1;
        }
        owed += usize::from(i % stale_every == 0);
        if owed > 0 && pending.is_none() {
            pending = Some(StaleLock::prepare(guard.lock_path())); // while we still hold it
        }
        drop(guard);
        if pending.as_ref().is_some_and(StaleLock::link) {
            pending = None;
            owed -= 1;
            stale_left += 1;
        }
    }
    println!("acquired={acquired} violations={violations} stale_left={stale_left}");
}

fn victim(file: &Path, marker: &Path) {
    let guard = acquire(file, &contender()).expect("acquire as victim");
    if !enter(marker) {
        say("violation");
        std::process::exit(3);
    }
    say(&format!("held {}", std::process::id()));
    // Until SIGKILL. EOF means the orchestrator died: leave without releasing, like a crash.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    std::mem::forget(guard);
    std::process::exit(4);
}

fn restart(file: &Path) {
    let once = Options {
        timeout: Some(Duration::ZERO),
        ..Options::default()
    };
    let old = acquire(file, &once).expect("first acquire");
    reset_instance_nonce(); // the "restart": the old iteration never released
    let started = Instant::now();
    let new = match acquire(file, &once) {
        Ok(guard) => guard,
        Err(e) => {
            say(&format!("failed second acquire: {e}"));
            std::process::exit(1);
        }
    };
    let takeover = started.elapsed();
    match old.release().unwrap() {
        ReleaseOutcome::NotHeld => {}
        other => {
            say(&format!("failed old handle released with {other:?}"));
            std::process::exit(1);
        }
    }
    say(&format!(
        "held {} takeover_us={}",
        std::process::id(),
        takeover.as_micros()
    ));
    wait_for_stdin_line();
    assert_eq!(new.release().unwrap(), ReleaseOutcome::Released);
    say("released");
}

/// A TypeScript-format lock file of a dead process (dated in the future so that only the dead
/// pid makes it stale), to be linked into place only if the path is free.
struct StaleLock {
    temp: PathBuf,
    lock_path: PathBuf,
}

impl StaleLock {
    fn prepare(lock_path: &Path) -> StaleLock {
        let temp = lock_path.with_extension(format!("stale-{}", std::process::id()));
        let payload = format!(
            r#"{{"pid":{},"createdAt":"2099-01-01T00:00:00.000Z"}}"#,
            dead_pid()
        );
        std::fs::write(&temp, payload).expect("write stale temp");
        StaleLock {
            temp,
            lock_path: lock_path.to_path_buf(),
        }
    }

    /// Links it into place if the path is free; says whether it landed.
    fn link(&self) -> bool {
        std::fs::hard_link(&self.temp, &self.lock_path).is_ok()
    }
}

impl Drop for StaleLock {
    fn drop(&mut self) {
        std::fs::remove_file(&self.temp).expect("remove stale temp");
    }
}

#[cfg(unix)]
fn monotonic_ns() -> u128 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u128 * 1_000_000_000 + now.tv_nsec as u128
}

/// Windows: no clock shared by processes is read here, so the wall clock stands in (the same
/// for every process, to the precision the tests compare).
#[cfg(windows)]
fn monotonic_ns() -> u128 {
    (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)).map_or(0, |d| d.as_nanos())
}

fn wait(file: &Path, timeout_ms: u64, stale_ms: u64) {
    let options = Options {
        timeout: Some(Duration::from_millis(timeout_ms)),
        stale: Duration::from_millis(stale_ms),
        allow_reentrant: false,
        ..Options::default()
    };
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let on_wait = move || {
        move |result| {
            let _ = tx.send(result);
        }
    };
    let result = match begin_acquire(file, &options, on_wait) {
        Acquisition::Ready(result) => {
            say("at-once");
            result
        }
        Acquisition::Waiting => {
            say("waiting");
            rx.recv().expect("the lock service answers")
        }
    };
    let at = monotonic_ns();
    match result {
        Ok(guard) => {
            let s = session_write_lock::testing::stats::stats();
            say(&format!(
                "acquired at_ns={at} waits={} event_wakeups={} timer_reinspections={}",
                s.waits, s.event_wakeups, s.timer_reinspections
            ));
            wait_for_stdin_line();
            drop(guard);
            say("released");
        }
        Err(e) => {
            say(&format!("error {} {e}", e.code().unwrap_or("-")));
            std::process::exit(2);
        }
    }
}

#[cfg(unix)]
fn no_fds(file: &Path) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reading, then lowering, our own soft limit (the hard one stays).
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    limit.rlim_cur = 64;
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    let mut fillers = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        fillers.push(f);
    }
    // One slot free: enough for a lock file, not for the lock service as well.
    fillers.pop();
    match acquire(file, &Options::default()) {
        Ok(_guard) => {
            say("acquired without a free descriptor");
            std::process::exit(1);
        }
        Err(e) => say(&format!("error {} {e}", e.code().unwrap_or("-"))),
    }
    wait_for_stdin_line();
    fillers.truncate(fillers.len().saturating_sub(16));
    match acquire(file, &Options::default()) {
        Ok(_guard) => say("acquired"),
        Err(e) => {
            say(&format!("error {} {e}", e.code().unwrap_or("-")));
            std::process::exit(2);
        }
    }
}
