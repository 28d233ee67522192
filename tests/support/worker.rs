//! A separate process for the integration tests: holds, tries, or storms a session lock.
//!
//! - `hold FILE`: acquire, print `held <pid>`, release when stdin closes or a line arrives.
//! - `try FILE TIMEOUT_MS`: acquire once, print `acquired` or `busy <message>`; exit 0 / 1.
//! - `fork-and-vanish FILE`: acquire, fork a child that lingers for 5 s, exit at once without
//!   releasing: the child must not keep the lock alive.
//! - `storm FILE ITERATIONS MARKER STALE_EVERY`: acquire/release in a loop; inside the critical
//!   section create MARKER with O_EXCL (EEXIST = two holders); every STALE_EVERY-th iteration
//!   leave a legacy lock file with a dead pid behind. Prints `acquired=N violations=V`.

use session_write_lock::{acquire, Options};
use std::fs::OpenOptions;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let file = PathBuf::from(&args[2]);
    match args[1].as_str() {
        "hold" => hold(&file),
        "fork-and-vanish" => fork_and_vanish(&file),
        "try" => try_once(&file, args[3].parse().expect("timeout ms")),
        "storm" => storm(
            &file,
            args[3].parse().expect("iterations"),
            Path::new(&args[4]),
            args[5].parse().expect("stale every"),
        ),
        other => panic!("unknown mode {other}"),
    }
}

fn hold(file: &Path) {
    let guard = acquire(file, &Options::default()).expect("acquire");
    println!("held {}", std::process::id());
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    drop(guard);
    println!("released");
}

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

fn try_once(file: &Path, timeout_ms: u64) {
    let options = Options {
        timeout: Some(Duration::from_millis(timeout_ms)),
        ..Options::default()
    };
    match acquire(file, &options) {
        Ok(_guard) => println!("acquired"),
        Err(e) => {
            println!("busy {e}");
            std::process::exit(1);
        }
    }
}

fn storm(file: &Path, iterations: usize, marker: &Path, stale_every: usize) {
    let options = Options {
        timeout: None,
        allow_reentrant: false,
        ..Options::default()
    };
    let dead_pid = dead_pid();
    let (mut acquired, mut violations) = (0, 0);
    for i in 1..=iterations {
        let guard = acquire(file, &options).expect("acquire in storm");
        acquired += 1;
        match OpenOptions::new().write(true).create_new(true).open(marker) {
            Ok(_) => {
                std::thread::sleep(Duration::from_micros(50));
                std::fs::remove_file(marker).expect("remove marker");
            }
            Err(_) => violations += 1,
        }
        let lock_path = guard.lock_path().to_path_buf();
        drop(guard);
        if i % stale_every == 0 {
            leave_stale_legacy_lock(&lock_path, dead_pid);
        }
    }
    println!("acquired={acquired} violations={violations}");
}

fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let pid = child.id();
    child.wait().expect("wait true");
    pid
}

/// A TypeScript-format lock of a dead process (dated in the future so that only the dead pid
/// makes it stale), linked into place only if the path is free.
fn leave_stale_legacy_lock(lock_path: &Path, dead_pid: u32) {
    let temp = lock_path.with_extension(format!("stale-{}", std::process::id()));
    let payload = format!(r#"{{"pid":{dead_pid},"createdAt":"2099-01-01T00:00:00.000Z"}}"#);
    std::fs::write(&temp, payload).expect("write stale temp");
    let _ = std::fs::hard_link(&temp, lock_path);
    std::fs::remove_file(&temp).expect("remove stale temp");
}
