//! Running out of file descriptors: every hold keeps two open (its lock file and its
//! directory), so a process with many holds meets `EMFILE`. Each acquire past that point must fail cleanly — an `Io` error with `EMFILE` that
//! names the path, no panic, no temp file — and release-all must still remove every lock file.
// Unix-only: descriptor exhaustion through RLIMIT_NOFILE.
#![cfg(unix)]

mod common;

use common::{worker, TempDir};
use std::os::unix::process::CommandExt;
use std::process::Stdio;

/// Descriptors the worker may have: stdio, the lock service's own, and some dozens of holds.
const NOFILE: libc::rlim_t = 48;

#[test]
fn holds_until_emfile_fail_cleanly_and_release_all_removes_them() {
    let dir = TempDir::new("emfile");
    let mut command = worker();
    command.arg("exhaust").arg(&dir.0).stdout(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: NOFILE,
                rlim_max: NOFILE,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    };
    let out = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success() && !stderr.contains("panic"),
        "the worker ended cleanly ({}): {stderr}",
        out.status
    );
    let lines: Vec<&str> = stdout.lines().collect();
    let held: usize = lines[0].strip_prefix("held ").unwrap().parse().unwrap();
    assert!(
        held > 10 && held < NOFILE as usize,
        "held {held} before EMFILE"
    );
    let errors = &lines[1..4];
    for error in errors {
        assert!(error.starts_with("error EMFILE EMFILE: "), "{error}");
        assert!(
            error.contains(&dir.0.display().to_string()),
            "names the path: {error}"
        );
    }
    assert_eq!(lines[4], format!("released {held}"));
    let left: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "nothing left behind: {left:?}");
}
