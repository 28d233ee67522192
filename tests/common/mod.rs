//! Shared by the integration tests: temp directories and worker processes.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "swl-{tag}-{}-{:08x}",
            std::process::id(),
            rand_u32()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_u32() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

pub fn worker() -> Command {
    Command::new(env!("CARGO_BIN_EXE_swl-test-worker"))
}

/// A worker process holding the lock of `file` until `release()` or kill.
pub struct Holder {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    pub pid_seen_inside: u32,
}

impl Holder {
    /// Starts `prefix… swl-test-worker hold FILE` and waits until it holds the lock.
    pub fn start(prefix: &[&str], file: &Path) -> Holder {
        let worker_path = env!("CARGO_BIN_EXE_swl-test-worker");
        let mut command = match prefix.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(worker_path);
                c
            }
            None => Command::new(worker_path),
        };
        let mut child = command
            .arg("hold")
            .arg(file)
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
            .unwrap_or_else(|| panic!("holder did not hold: {line:?}"))
            .trim()
            .parse()
            .unwrap();
        Holder {
            child,
            stdin,
            stdout,
            pid_seen_inside,
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
    let worker_path = env!("CARGO_BIN_EXE_swl-test-worker");
    let mut command = match prefix.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(worker_path);
            c
        }
        None => Command::new(worker_path),
    };
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

/// `unshare --pid --fork --kill-child --mount-proc`, when this machine lets us (root, Linux).
pub fn pid_namespace_prefix() -> Option<Vec<&'static str>> {
    let prefix = vec!["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"];
    let ok = Command::new(prefix[0])
        .args(&prefix[1..])
        .arg("true")
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(prefix)
}

pub fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}
