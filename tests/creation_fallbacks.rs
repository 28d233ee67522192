//! The ways of creating a lock file that ext4 and tmpfs never take (docs/PROTOCOL.md, "Taking the
//! lock", step 2): the named temp file (where `O_TMPFILE` is refused) and the in-place `O_EXCL`
//! create (where `link` is). Workers run under `strace` with system-call fault injection, or
//! with the `LD_PRELOAD` shim of `common/shim.rs` that hides `O_TMPFILE` (strace cannot tell
//! that open from the others relative to the lock's directory), to get there; strace's log,
//! the shim's record and the directory's inotify events prove which way was taken. Acquire,
//! contention, release and mutual exclusion (a storm mixing both ways with the normal one) are
//! checked on each. Needs strace (scripts/test.sh installs it); without it each test says SKIPPED
//! loudly.
// Linux only: strace fault injection and inotify are how these tests see the ways taken.
#![cfg(target_os = "linux")]

mod common;
#[path = "common/shim.rs"]
mod shim;

use common::{prefixed_worker, strace_or_skip, try_in_process, Holder, StormCounts, TempDir};
use session_write_lock::{acquire, inspect, Options};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const STALE: Duration = Duration::from_secs(30 * 60);

/// The portable build (`--cfg swl_portable`) never tries `O_TMPFILE`: the named temp file is
/// its normal way, so there the `NoTmpfile` fault has nothing to refuse.
const PORTABLE: bool = cfg!(swl_portable);

/// How a worker is made to leave the usual way.
#[derive(Clone, Copy)]
enum Fault {
    /// `link` and `linkat` fail with EPERM: the in-place `O_EXCL` create.
    NoLink,
    /// The `O_TMPFILE` open of the directory fails with EOPNOTSUPP: the named temp file.
    NoTmpfile,
}

/// The shim, built once per test binary.
fn shim_library() -> &'static Path {
    static SHIM: std::sync::OnceLock<TempDir> = std::sync::OnceLock::new();
    let dir = SHIM.get_or_init(|| TempDir::new("fallback-shim"));
    static LIBRARY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    LIBRARY.get_or_init(|| shim::build("creation_fallbacks::shim", &dir.0).expect("a C compiler"))
}

/// The arguments that make a worker take `fault`'s way, logging to `log`: strace's log for
/// `NoLink`, the shim's records in the directory `log` for `NoTmpfile`.
fn strace_prefix(fault: Fault, _dir: &Path, log: &Path) -> Vec<String> {
    if let Fault::NoTmpfile = fault {
        std::fs::create_dir_all(log).unwrap();
        return shim::prefix(shim_library(), log, &[("SWL_SHIM_NO_TMPFILE", "1")]);
    }
    let mut args: Vec<String> = ["strace", "-f", "-qq", "-o"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(log.display().to_string());
    // Opens are `openat`, or `open` where the libc's open() uses it (musl on x86_64); `?` lets
    // strace ignore a name the architecture does not have (aarch64 has no `open`).
    match fault {
        Fault::NoLink => args.extend(
            [
                "-e",
                "trace=?open,openat,link,linkat",
                "-e",
                "inject=link,linkat:error=EPERM",
            ]
            .map(String::from),
        ),
        Fault::NoTmpfile => unreachable!("the shim's"),
    }
    args
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Names created in a directory (inotify IN_CREATE), collected until dropped.
struct Creations {
    fd: i32,
}

impl Creations {
    fn watch(dir: &Path) -> Creations {
        // SAFETY: plain syscalls on a new inotify fd we own.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        assert!(fd >= 0);
        let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid fd and NUL-terminated path.
        assert!(unsafe { libc::inotify_add_watch(fd, c.as_ptr(), libc::IN_CREATE) } >= 0);
        Creations { fd }
    }

    /// The names created since the last call.
    fn names(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: reading into a buffer we own, of its length.
            let n = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return names;
            }
            let mut at = 0;
            while at < n as usize {
                let header = std::mem::size_of::<libc::inotify_event>();
                let len = u32::from_ne_bytes(buf[at + 12..at + 16].try_into().unwrap()) as usize;
                let name = &buf[at + header..at + header + len];
                let end = name.iter().position(|&b| b == 0).unwrap_or(len);
                names.push(String::from_utf8_lossy(&name[..end]).into_owned());
                at += header + len;
            }
        }
    }
}

impl Drop for Creations {
    fn drop(&mut self) {
        // SAFETY: our own fd.
        unsafe { libc::close(self.fd) };
    }
}

fn lines_with(log: &Path, needle: &str) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(String::from)
        .collect()
}

/// Holds the lock in a worker under `fault`; checks contention from a faulted worker and from
/// this process; releases; and returns the strace log of the holder.
fn hold_contend_release(fault: Fault, dir: &TempDir, name: &str) -> (PathBuf, PathBuf) {
    let file = dir.join(&format!("{name}.jsonl"));
    let lock = dir.join(&format!("{name}.jsonl.lock"));
    let log = dir.0.with_extension(format!("{name}.strace"));
    let prefix = strace_prefix(fault, &dir.0, &log);
    let holder = Holder::start(&as_strs(&prefix), &file);
    let seen = inspect(&file, STALE)
        .unwrap()
        .expect("the lock file is there");
    assert_eq!(
        (seen.format.as_str(), seen.pid, seen.pid_alive, seen.stale),
        ("flock", Some(holder.pid_seen_inside), true, false),
        "a complete, flocked lock file: {seen:?}"
    );
    let contender_log = dir.0.with_extension(format!("{name}-contender.strace"));
    let contender = strace_prefix(fault, &dir.0, &contender_log);
    let err = try_in_process(&as_strs(&contender), &file, 300)
        .expect_err("a second holder on the fallback path");
    assert!(err.starts_with("busy"), "{err}");
    let once = Options {
        timeout: Some(Duration::ZERO),
        ..Options::default()
    };
    assert!(
        acquire(&file, &once).is_err(),
        "the normal way sees it held"
    );
    holder.release();
    assert!(!lock.exists(), "released");
    try_in_process(&as_strs(&contender), &file, 0).expect("free again, also on the fallback");
    let _ = std::fs::remove_file(&contender_log);
    let _ = std::fs::remove_dir_all(contender_log);
    (log, lock)
}

#[test]
fn the_in_place_o_excl_create_holds_and_excludes() {
    if !strace_or_skip("creation_fallbacks::in_place") {
        return;
    }
    let dir = TempDir::new("fallback-excl");
    let (log, lock) = hold_contend_release(Fault::NoLink, &dir, "s");
    // Relative to the directory's descriptor.
    let created = lines_with(
        &log,
        &format!(
            "\"{}\", O_RDWR|O_CREAT|O_EXCL",
            lock.file_name().unwrap().to_str().unwrap()
        ),
    );
    assert!(
        created.iter().any(|l| !l.contains("= -1")),
        "the holder created the lock file in place: {created:?}"
    );
    assert!(
        !lines_with(&log, "(INJECTED)").is_empty(),
        "link was refused"
    );
    let _ = std::fs::remove_file(log);
}

#[test]
fn the_named_temp_file_holds_and_excludes() {
    if !strace_or_skip("creation_fallbacks::named_temp") {
        return;
    }
    let dir = TempDir::new("fallback-temp");
    let creations = Creations::watch(&dir.0);
    let (log, lock) = hold_contend_release(Fault::NoTmpfile, &dir, "s");
    let refused = shim::refused(&log);
    assert_eq!(
        refused.iter().any(|r| r == "O_TMPFILE"),
        !PORTABLE,
        "O_TMPFILE was refused (never tried in the portable build): {refused:?}"
    );
    let names = creations.names();
    assert!(
        names
            .iter()
            .any(|n| n.starts_with(".s.jsonl.lock.") && n.ends_with(".tmp")),
        "a named temp file was created: {names:?}"
    );
    let lock_name = lock.file_name().unwrap().to_str().unwrap();
    assert!(names.iter().any(|n| n == lock_name), "{names:?}");
    let left: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "temp files left: {left:?}");
    let _ = std::fs::remove_dir_all(log);
}

/// Workers creating their lock files each way at once (in place, named temp file, normal)
/// never hold it together.
#[test]
fn every_way_of_creating_excludes_the_others() {
    if !strace_or_skip("creation_fallbacks::storm") {
        return;
    }
    let dir = TempDir::new("fallback-storm");
    let file = dir.join("s.jsonl");
    let marker = dir.join("inside.marker");
    let iterations = 60;
    let ways = [Some(Fault::NoLink), Some(Fault::NoTmpfile), None];
    let children: Vec<_> = ways
        .iter()
        .enumerate()
        .map(|(i, fault)| {
            let log = dir.0.with_extension(format!("storm{i}.strace"));
            let prefix = fault.map_or_else(Vec::new, |f| strace_prefix(f, &dir.0, &log));
            prefixed_worker(&as_strs(&prefix))
                .arg("storm")
                .arg(&file)
                .arg(iterations.to_string())
                .arg(&marker)
                .arg((iterations + 1).to_string()) // no stale files: only creation is tested
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut counts = StormCounts::default();
    for child in children {
        let text = common::finish_within(child, Duration::from_secs(120), "a storm worker");
        counts.add_output(&text);
    }
    let in_place_log = dir.0.with_extension("storm0.strace");
    let in_place = lines_with(&in_place_log, "O_RDWR|O_CREAT|O_EXCL")
        .into_iter()
        .filter(|l| l.contains("s.jsonl.lock\"") && !l.contains("= -1"))
        .count();
    let temp_log = dir.0.with_extension("storm1.strace");
    let refused = (shim::refused(&temp_log).iter())
        .filter(|r| *r == "O_TMPFILE")
        .count();
    let _ = std::fs::remove_file(in_place_log);
    let _ = std::fs::remove_dir_all(temp_log);
    assert_eq!(
        in_place, iterations,
        "every lock of the first worker was created in place"
    );
    if PORTABLE {
        assert_eq!(refused, 0, "the portable build never tries O_TMPFILE");
    } else {
        assert!(
            refused >= iterations,
            "the second worker never had O_TMPFILE"
        );
    }
    println!("storm across the three ways of creating: {counts:?}");
    assert_eq!(counts.acquired, ways.len() * iterations);
    assert_eq!(counts.violations, 0, "two processes held the lock at once");
}
