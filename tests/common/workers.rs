//! The test worker (`tests/worker`), run as a child process: its path, lock holders, one-shot
//! tries, storm counts, and waiting for a child with a bound.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The test worker binary (the non-published workspace member `tests/worker`): `SWL_TEST_WORKER`
/// when set, else `swl-test-worker` in the target directory these tests were built into.
/// `cargo test --workspace` builds it (its own crate has a test that runs it).
pub fn worker_path() -> PathBuf {
    if let Some(path) = std::env::var_os("SWL_TEST_WORKER") {
        return PathBuf::from(path);
    }
    // This test binary is <target>/<profile>/deps/<name>-<hash>.
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join(format!("swl-test-worker{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build -p swl-test-worker` (or run `cargo test --workspace`)",
        path.display()
    );
    path
}

pub fn worker() -> Command {
    Command::new(worker_path())
}

/// `prefix… swl-test-worker`: the worker run under a wrapper such as `unshare …` or
/// `setpriv …` (no wrapper when `prefix` is empty).
pub fn prefixed_worker(prefix: &[&str]) -> Command {
    let worker_path = worker_path();
    match prefix.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(worker_path);
            c
        }
        None => Command::new(worker_path),
    }
}

/// A worker process holding the lock of `file` until `release()` or kill.
pub struct Holder {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    pub pid_seen_inside: u32,
    /// The worker's `held …` line, with whatever figures the mode adds.
    pub first_line: String,
}

impl Holder {
    /// Starts `prefix… swl-test-worker hold FILE` and waits until it holds the lock.
    pub fn start(prefix: &[&str], file: &Path) -> Holder {
        Holder::start_mode(prefix, "hold", file, &[])
    }

    /// Starts `prefix… swl-test-worker MODE FILE EXTRA…` for a mode that prints `held <pid> …`
    /// once it holds the lock (`hold`, `restart`, `victim`) and waits for that line.
    pub fn start_mode(prefix: &[&str], mode: &str, file: &Path, extra: &[&Path]) -> Holder {
        let mut child = prefixed_worker(prefix)
            .arg(mode)
            .arg(file)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let pid_seen_inside = line
            .strip_prefix("held ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|pid| pid.parse().ok())
            .unwrap_or_else(|| panic!("{mode} worker did not hold: {line:?}"));
        Holder {
            child,
            stdin,
            stdout,
            pid_seen_inside,
            first_line: line.trim().to_string(),
        }
    }

    /// Asks the holder to release and waits until it says it did.
    pub fn release(mut self) {
        let mut stdin = self.stdin.take().unwrap();
        stdin.write_all(b"release\n").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "released");
        self.child.wait().unwrap();
    }

    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// Runs `prefix… swl-test-worker try FILE TIMEOUT_MS`; Ok on acquisition, Err(message) if busy.
pub fn try_in_process(prefix: &[&str], file: &Path, timeout_ms: u64) -> Result<(), String> {
    let mut command = prefixed_worker(prefix);
    let out = command
        .arg("try")
        .arg(file)
        .arg(timeout_ms.to_string())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && text == "acquired" {
        Ok(())
    } else {
        Err(format!("{text} {}", String::from_utf8_lossy(&out.stderr)))
    }
}

/// The figures a `storm` worker prints (`acquired=N violations=V stale_left=S`), summed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StormCounts {
    pub acquired: usize,
    pub violations: usize,
    pub stale_left: usize,
}

impl StormCounts {
    pub fn add_output(&mut self, stdout: &str) {
        for field in stdout.split_whitespace() {
            let slot = match field.split_once('=') {
                Some(("acquired", n)) => (&mut self.acquired, n),
                Some(("violations", n)) => (&mut self.violations, n),
                Some(("stale_left", n)) => (&mut self.stale_left, n),
                _ => continue,
            };
            *slot.0 += slot.1.parse::<usize>().expect("a count");
        }
    }
}

/// Waits for `child` to exit, killing it and failing the test if it takes longer than
/// `limit`: a hang becomes a failure instead of a stuck test run. Returns its stdout.
pub fn finish_within(mut child: Child, limit: std::time::Duration, what: &str) -> String {
    let status = finish_status_within(&mut child, limit, what);
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        std::io::Read::read_to_string(&mut out, &mut stdout).unwrap();
    }
    assert!(status.success(), "{what} failed: {status} {stdout}");
    stdout
}

/// Waits for `child` to exit and returns how it did; kills it and fails the test after `limit`.
pub fn finish_status_within(
    child: &mut Child,
    limit: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
