//! Handshakes with the lock service of a process, read from its counters and from /proc
//! (Linux): is it waiting, what does it watch, is it asleep in its poller.

#[cfg(unix)]
use std::path::Path;

/// Serialises the tests of one binary that read the process-wide counters
/// (`session_write_lock::stats`) while they wait, so that another test's wait cannot pass
/// for theirs. A failed test poisons nothing here: the guard is taken through the poison.
pub fn counters_to_myself() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The handshake "the waiter is waiting": returns once more acquires than `before` (a
/// `stats().waits` taken before starting the waiter) have found the lock busy and been handed
/// to the lock service. Fails the test after 10 s instead of hanging.
pub fn wait_until_waiting(before: u64) {
    let started = std::time::Instant::now();
    while session_write_lock::testing::stats::stats().waits <= before {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the waiter never started waiting"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

// Handshakes with the lock service of a process, read from /proc (Linux).

/// Polls `ready` until it holds (failing the test after a generous bound).
pub fn until(what: &str, mut ready: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "timed out waiting until {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The handshake before a test changes a waited-on lock: `watching` holds (the lock service
/// of `pid` has set up what it waits with), and then that service sleeps in its poller. The
/// look that follows a new watch is then over, so whatever the test does next can only be
/// found by an event or a timer, never by that look.
#[cfg(unix)]
pub fn until_watching(what: &str, pid: u32, watching: impl FnMut() -> bool) {
    until(what, watching);
    until("the lock service sleeps in its poller", || {
        service_sleeps_in_poller(pid)
    });
}

/// `pid`'s lock service thread (named `session-write-lock`) is asleep in epoll_wait or poll:
/// by the number of the system call it is blocked in, or, under qemu-user, where that number
/// is the host's, by the kernel function it sleeps in (ep_poll, do_sys_poll, …).
#[cfg(unix)]
pub fn service_sleeps_in_poller(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    let read = |task: &std::path::Path, name: &str| std::fs::read_to_string(task.join(name));
    tasks.flatten().map(|t| t.path()).any(|task| {
        read(&task, "comm").is_ok_and(|c| c.trim() == SERVICE_COMM)
            && (read(&task, "syscall").is_ok_and(|s| {
                s.split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<libc::c_long>().ok())
                    .is_some_and(|n| POLLERS.contains(&n))
            }) || read(&task, "wchan").is_ok_and(|w| w.contains("poll")))
    })
}

/// The service thread's name as /proc shows it: cut to 15 bytes.
#[cfg(unix)]
const SERVICE_COMM: &str = "session-write-l";

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
const POLLERS: &[libc::c_long] = &[
    libc::SYS_epoll_wait,
    libc::SYS_epoll_pwait,
    libc::SYS_poll,
    libc::SYS_ppoll,
];
#[cfg(all(target_os = "linux", not(target_arch = "x86_64")))]
const POLLERS: &[libc::c_long] = &[libc::SYS_epoll_pwait, libc::SYS_ppoll]; // all arm64 has
#[cfg(not(target_os = "linux"))]
const POLLERS: &[libc::c_long] = &[]; // /proc's syscall file is Linux's

/// The `/proc/<pid>/fdinfo` texts of `pid`'s descriptors whose link reads `kind`.
#[cfg(unix)]
pub fn fdinfos(pid: u32, kind: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy() == kind))
        .filter_map(|e| {
            std::fs::read_to_string(format!(
                "/proc/{pid}/fdinfo/{}",
                e.file_name().to_string_lossy()
            ))
            .ok()
        })
        .collect()
}

/// `pid`'s inotify instance watches the inode `ino`.
#[cfg(unix)]
pub fn watches_inode(pid: u32, ino: u64) -> bool {
    let needle = format!(" ino:{ino:x} ");
    fdinfos(pid, "anon_inode:inotify")
        .iter()
        .any(|info| info.contains(&needle))
}

/// Built with the `portable` feature: no file event sources (as on macOS and FreeBSD without
/// kqueue), so the lock service polls every waited-on path, 10 ms doubling to 250 ms
/// (docs/PROTOCOL.md, "Platforms").
pub const POLLING_BUILD: bool = cfg!(swl_portable);

/// `pid`'s lock service waits on the lock file at `lock`: its inotify instance watches the
/// file's inode; in the portable build, which has nothing to watch with, it keeps the file it
/// inspected open and polls.
#[cfg(unix)]
pub fn waits_on_file(pid: u32, lock: &Path) -> bool {
    if POLLING_BUILD {
        return has_open(pid, lock);
    }
    std::fs::metadata(lock)
        .is_ok_and(|m| watches_inode(pid, std::os::unix::fs::MetadataExt::ino(&m)))
}

/// The most timed looks polling can make in `ns` nanoseconds from the moment a path is first
/// polled: timers fire no earlier than due, 10 ms after the first look, then doubling up to
/// one every 250 ms.
pub fn polls_within(ns: u128) -> u64 {
    let (mut due, mut interval, mut polls) = (0u128, 10_000_000u128, 0);
    loop {
        due += interval;
        if due > ns {
            return polls;
        }
        polls += 1;
        interval = (interval * 2).min(250_000_000);
    }
}

/// `pid` holds a pidfd of `target`.
#[cfg(unix)]
pub fn watches_pid(pid: u32, target: u32) -> bool {
    let needle = format!("Pid:\t{target}\n");
    fdinfos(pid, "anon_inode:[pidfd]")
        .iter()
        .any(|info| info.contains(&needle))
}

/// `pid` has `path` open.
#[cfg(unix)]
pub fn has_open(pid: u32, path: &Path) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l == path))
    })
}
