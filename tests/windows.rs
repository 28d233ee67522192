//! Windows counterparts of the Unix-only tests (docs/PROTOCOL.md, "Windows"): a lock name kept
//! delete-pending by another process's open handle, a start-time mismatch judged with Windows
//! creation times, and `session-lock.exe run` ending its command and lock. Holder death by a
//! killed process and waiters woken by a directory change and by a process handle are in
//! tests/multiprocess.rs (they run on every platform); the poller's own tests are in
//! src/sys/windows/poller.rs, the sharing-violation retry in src/sys/windows/errors.rs.
#![cfg(windows)]

mod common;

use common::{Holder, TempDir};
use session_write_lock::testing::read_process_start_time;
use session_write_lock::{acquire, Error, Options};
use std::fs::OpenOptions;
use std::os::windows::fs::OpenOptionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

fn once() -> Options {
    Options {
        timeout: Some(Duration::ZERO),
        allow_reentrant: false,
        ..Options::default()
    }
}

/// Read, write and delete sharing, as an inspector (or an antivirus) that shares deletion opens.
fn open_shared(path: &std::path::Path) -> std::fs::File {
    OpenOptions::new()
        .read(true)
        .share_mode(7)
        .open(path)
        .expect("open the lock file")
}

/// Another process keeps the lock file open across its holder's release: without POSIX delete
/// (wine, older Windows) its name would stay delete-pending until that handle closes. The name
/// is free at once all the same, and the next acquire takes the lock while the handle is open.
#[test]
fn a_release_frees_the_name_while_others_keep_the_file_open() {
    let dir = TempDir::new("win-pending");
    let file = dir.join("s.jsonl");
    let holder = Holder::start(&[], &file);
    let lock = std::fs::canonicalize(&dir.0).unwrap().join("s.jsonl.lock");
    let kept = open_shared(&lock);
    holder.release();
    assert!(!lock.exists(), "the lock's name is gone at its release");
    let guard = acquire(&file, &once()).expect("the released lock is free at once");
    assert!(lock.exists());
    drop(kept);
    drop(guard);
}

/// A legacy lock file naming a live process is busy while its `starttime` (milliseconds since
/// the epoch: the process's creation time) is that process's, and reclaimed as a recycled pid
/// when it differs.
#[test]
fn a_start_time_mismatch_is_a_recycled_pid() {
    let dir = TempDir::new("win-starttime");
    let file = dir.join("s.jsonl");
    let lock = dir.join("s.jsonl.lock");
    let mut live = Command::new("cmd.exe")
        .args(["/d", "/c", "pause"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = live.id();
    let starttime = read_process_start_time(pid).expect("a live process's creation time");
    let now = std::time::SystemTime::now();
    let now_ms = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    assert!(
        starttime <= now_ms as u64 && starttime + 60_000 > now_ms as u64,
        "milliseconds since the epoch: {starttime} (now {now_ms})"
    );
    let now = session_write_lock::testing::iso_time::format(now);
    let legacy =
        |starttime: u64| format!(r#"{{"pid":{pid},"createdAt":"{now}","starttime":{starttime}}}"#);
    std::fs::write(&lock, legacy(starttime)).unwrap();
    match acquire(&file, &once()) {
        Err(Error::Busy { .. }) => {}
        other => panic!("the live process's file is busy: {other:?}"),
    }
    std::fs::write(&lock, legacy(starttime + 1)).unwrap();
    let guard = acquire(&file, &once()).expect("another start time: a recycled pid, reclaimed");
    drop(guard);
    live.kill().unwrap();
    live.wait().unwrap();
}

/// `session-lock.exe run` runs its command under the lock (a second run is busy meanwhile),
/// passes on its exit code and removes the lock.
#[test]
fn run_holds_the_lock_for_its_command() {
    let dir = TempDir::new("win-run");
    let file = dir.join("s.jsonl");
    let lock = std::fs::canonicalize(&dir.0).unwrap().join("s.jsonl.lock");
    let cli = env!("CARGO_BIN_EXE_session-lock");
    let mut running = Command::new(cli)
        .arg("run")
        .arg(&file)
        .args(["cmd.exe", "/d", "/c", "pause"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    common::until("run holds the lock", || lock.exists());
    let busy = Command::new(cli)
        .args(["run", "-n"])
        .arg(&file)
        .args(["cmd.exe", "/d", "/c", "exit 0"])
        .output()
        .unwrap();
    assert_eq!(busy.status.code(), Some(1), "busy while the command runs");
    drop(running.stdin.take()); // `pause` reads its key: the command ends
    assert_eq!(running.wait().unwrap().code(), Some(0));
    assert!(!lock.exists(), "run removed its lock");
    let code = Command::new(cli)
        .arg("run")
        .arg(&file)
        .args(["-c", "exit 7"])
        .status()
        .unwrap()
        .code();
    assert_eq!(code, Some(7), "the command's exit code");
}

/// When `run` is killed, the lock is free at once: a byte-range lock cannot outlive the process
/// that took it (its command, in a job ended with `run`, ends too).
#[test]
fn killing_run_frees_the_lock() {
    let dir = TempDir::new("win-run-kill");
    let file = dir.join("s.jsonl");
    let lock = std::fs::canonicalize(&dir.0).unwrap().join("s.jsonl.lock");
    let cli = env!("CARGO_BIN_EXE_session-lock");
    let mut running = Command::new(cli)
        .arg("run")
        .arg(&file)
        .args(["cmd.exe", "/d", "/c", "pause"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    common::until("run holds the lock", || lock.exists());
    let text = std::fs::read_to_string(&lock).unwrap();
    running.kill().unwrap();
    running.wait().unwrap();
    let guard = acquire(&file, &once()).expect("a killed run's lock is reclaimed");
    drop(guard);
    assert!(
        text.contains(&format!("\"pid\":{}", running.id())),
        "{text}"
    );
}
