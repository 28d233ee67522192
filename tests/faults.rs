//! Things that go wrong on disk: a read-only directory, missing permissions, the directory
//! deleted under a waiter, a full disk, and lock payloads built to break parsers. Each ends in
//! a clear answer (an `Io` error with the errno and the path, or a busy/reclaim verdict), never
//! a hang, and never deletes a lock file that is not stale.
//!
//! Mounting needs root; without it those tests say SKIPPED loudly. Mounts are undone by a guard
//! also when a test fails.
// Unix-only: read-only directories and permission bits, fault injection with strace.
#![cfg(unix)]

mod common;

use common::{
    counters_to_myself, dead_pid, is_root, prefixed_worker, skip, wait_until_waiting, Holder,
    TempDir,
};
use session_write_lock::{
    acquire, clean_stale, inspect, CleanOptions, Error, LockGuard, Options, StaleReason,
};
use std::fs::{File, FileTimes};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

const STALE: Duration = Duration::from_secs(30 * 60);
/// Long enough that "returned before the timeout" means "did not wait it out".
const PATIENT: Duration = Duration::from_secs(5);

fn with_timeout(timeout: Duration) -> Options {
    Options {
        timeout: Some(timeout),
        allow_reentrant: false,
        ..Options::default()
    }
}

fn lock_of(file: &Path) -> PathBuf {
    PathBuf::from(format!("{}.lock", file.display()))
}

/// A legacy (TypeScript-format) lock of `pid`, dated in the future: only the pid can make it stale.
fn legacy(pid: u32) -> String {
    format!(r#"{{"pid":{pid},"createdAt":"2099-01-01T00:00:00.000Z"}}"#)
}

/// A tmpfs mounted on a fresh directory; unmounted on drop (lazily, so that a failed test's open
/// files cannot keep it mounted), also when the test panics.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: PathBuf, options: &str) -> Tmpfs {
        std::fs::create_dir_all(&dir).unwrap();
        mount(&["-t", "tmpfs", "-o", options, "tmpfs"], &dir);
        Tmpfs(dir)
    }

    fn remount_read_only(&self) {
        mount(&["-o", "remount,ro"], &self.0);
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Names of hidden temp files (`.<lock>.<hex>.tmp`) left in the mount.
    fn temp_files(&self) -> Vec<String> {
        std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.') && n.ends_with(".tmp"))
            .collect()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn mount(args: &[&str], dir: &Path) {
    let status = Command::new("mount").args(args).arg(dir).status().unwrap();
    assert!(status.success(), "mount {args:?} {}", dir.display());
}

fn root_or_skip(test: &str) -> bool {
    let root = is_root();
    if !root {
        skip(test, "needs root to mount a tmpfs");
    }
    root
}

/// Asserts an `Io` error with errno `code` whose message names `path`; returns the message.
fn expect_io<T: std::fmt::Debug>(result: Result<T, Error>, code: &str, path: &Path) -> String {
    let err = result.expect_err("an I/O error");
    assert_eq!(err.code(), Some(code), "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with(code) && message.contains(&path.display().to_string()),
        "the message names the errno and {}: {message}",
        path.display()
    );
    message
}

/// Acquires with a long timeout and insists on an `Io` error that came at once, not after
/// waiting the timeout out. Returns the message.
fn fails_at_once(file: &Path, code: &str, names: &Path) -> String {
    let started = Instant::now();
    let message = expect_io(acquire(file, &with_timeout(PATIENT)), code, names);
    assert!(
        started.elapsed() < PATIENT,
        "waited instead of failing: {message}"
    );
    message
}

#[test]
fn a_read_only_directory_fails_with_erofs_and_keeps_its_files() {
    if !root_or_skip("faults::read_only") {
        return;
    }
    let _counters = counters_to_myself(); // it waits: see a_waiter_whose_directory_…
    let dir = TempDir::new("ro");
    let mnt = Tmpfs::mount(dir.join("ro"), "size=1m");
    let stale_lock = mnt.join("stale.jsonl.lock");
    std::fs::write(&stale_lock, legacy(dead_pid())).unwrap();
    // Our parent (the test runner's caller) outlives this test: a live legacy holder.
    let live_lock = mnt.join("live.jsonl.lock");
    std::fs::write(&live_lock, legacy(std::os::unix::process::parent_id())).unwrap();
    mnt.remount_read_only();

    let new = fails_at_once(&mnt.join("new.jsonl"), "EROFS", &mnt.0);
    let nested = fails_at_once(&mnt.join("sub/new.jsonl"), "EROFS", &mnt.join("sub"));
    let stale = fails_at_once(&mnt.join("stale.jsonl"), "EROFS", &mnt.0);
    println!(
        "read-only: new lock -> {new}\n  missing subdirectory -> {nested}\n  stale lock -> {stale}"
    );
    match acquire(
        mnt.join("live.jsonl"),
        &with_timeout(Duration::from_millis(200)),
    ) {
        // A live holder is waited for, as anywhere else, not reported as EROFS.
        Err(e @ Error::Busy { .. }) => {
            assert!(
                e.to_string()
                    .contains(&format!("pid={}", std::os::unix::process::parent_id())),
                "{e}"
            );
            println!("  lock of a live holder -> {e}")
        }
        other => panic!("a live holder's lock on a read-only fs must be busy: {other:?}"),
    }
    let seen = inspect(mnt.join("stale.jsonl"), STALE).unwrap().unwrap();
    assert_eq!(
        seen.stale_reasons,
        [StaleReason::DeadPid],
        "inspection still works"
    );
    match clean_stale(&mnt.0, &CleanOptions::default()) {
        Err(e) => {
            assert_eq!(e.code(), Some("EROFS"), "{e}");
            println!("  clean -> {e}");
        }
        Ok(report) => assert!(report.cleaned.is_empty(), "{report:?}"),
    }
    assert!(stale_lock.exists() && live_lock.exists());
}

#[test]
fn missing_permissions_fail_with_the_errno_and_the_path() {
    let test = "faults::missing_permissions";
    // Root ignores mode bits, so as root the worker runs as nobody; anyone else runs it as is.
    let Some(prefix) = common::unprivileged_prefix(test) else {
        return;
    };
    let dir = TempDir::new("perm");
    let make_dir = |name: &str, mode: u32| {
        let d = dir.join(name);
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
        d
    };
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let no_write = make_dir("no-write", 0o555);
    let no_access = make_dir("no-access", 0o000);
    let mut cases = vec![
        (
            "no write permission",
            no_write.join("s.jsonl"),
            "EACCES",
            no_write.clone(),
        ),
        (
            "no access to the directory",
            no_access.join("s.jsonl"),
            "EACCES",
            no_access.clone(),
        ),
        (
            "no access to a parent",
            no_access.join("deeper/s.jsonl"),
            "EACCES",
            no_access.join("deeper"),
        ),
    ];
    if is_root() {
        // Files of another user: unreadable, or in a sticky shared directory (like /tmp) where
        // only their owner may remove them.
        let shared = make_dir("shared", 0o1777);
        let unreadable = shared.join("secret.jsonl.lock");
        std::fs::write(&unreadable, legacy(dead_pid())).unwrap();
        std::fs::set_permissions(&unreadable, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(shared.join("theirs.jsonl.lock"), legacy(dead_pid())).unwrap();
        cases.push((
            "another user's unreadable lock",
            shared.join("secret.jsonl"),
            "EACCES",
            unreadable,
        ));
        cases.push((
            "another user's stale lock, sticky dir",
            shared.join("theirs.jsonl"),
            "EPERM",
            shared.join("theirs.jsonl.lock"),
        ));
    }
    for (name, file, code, names) in cases {
        let out = prefixed_worker(prefix)
            .arg("try")
            .arg(&file)
            .arg("200")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        println!("{name}: {text}");
        assert!(
            text.starts_with(&format!("error {code} {code}: "))
                && text.contains(&names.display().to_string()),
            "{name}: expected {code} naming {}: {text} {}",
            names.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let shared = dir.join("shared");
    if shared.exists() {
        assert!(
            shared.join("secret.jsonl.lock").exists() && shared.join("theirs.jsonl.lock").exists()
        );
        let left: Vec<_> = std::fs::read_dir(&shared)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "no temp files left behind: {left:?}");
    }
    // Let TempDir's cleanup back in.
    std::fs::set_permissions(&no_access, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_waiter_whose_directory_is_deleted_gets_an_answer() {
    let dir = TempDir::new("rmdir");
    let sessions = dir.join("sessions");
    let file = sessions.join("s.jsonl");
    let holder = Holder::start(&[], &file);
    // Tests of this binary that wait hold this too, so that only our waiter moves the counter.
    let _counters = counters_to_myself();
    let before = session_write_lock::testing::stats::stats().waits;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn({
        let file = file.clone();
        move || {
            let forever = Options {
                timeout: None,
                allow_reentrant: false,
                ..Options::default()
            };
            let _ = tx.send(acquire(&file, &forever)); // the guard is kept until checked
        }
    });
    wait_until_waiting(before);
    assert!(rx.try_recv().is_err(), "the lock is held: the waiter waits");
    let removed_at = Instant::now();
    let removed = std::fs::remove_dir_all(&sessions);
    let answer: Result<LockGuard, Error> = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the waiter hangs after its directory was deleted");
    println!(
        "waiter {:?} after `rm -rf` of its directory: {answer:?} (rm: {removed:?})",
        removed_at.elapsed()
    );
    match removed {
        Ok(()) => {}
        // The waiter took the lock between rm's unlink of the holder's file and its rmdir,
        // as any writer racing `rm -rf` may: then its lock file is what is in the way.
        Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => {
            let guard = answer.as_ref().expect("only the waiter's lock can be left");
            assert!(
                guard.lock_path().exists(),
                "a waiter that says it holds the lock has a lock file"
            );
            std::fs::remove_dir_all(&sessions).unwrap();
        }
        Err(e) => panic!("rm -rf {}: {e}", sessions.display()),
    }
    if let Err(e) = answer {
        assert_eq!(e.code(), Some("ENOENT"), "{e}");
    }
    holder.release();
}

fn fill_blocks(dir: &Path) {
    use std::io::Write;
    let mut f = File::create(dir.join("filler")).unwrap();
    let chunk = [0u8; 4096];
    loop {
        if let Err(e) = f.write_all(&chunk).and_then(|()| f.sync_all()) {
            assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
            return;
        }
    }
}

fn fill_inodes(dir: &Path) {
    for i in 0.. {
        if let Err(e) = File::create(dir.join(format!("filler-{i}"))) {
            assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
            return;
        }
    }
}

#[test]
fn a_full_disk_fails_with_enospc_and_leaves_no_trace() {
    if !root_or_skip("faults::disk_full") {
        return;
    }
    let _counters = counters_to_myself(); // it waits: see a_waiter_whose_directory_…
    type Fill = fn(&Path);
    let kinds: [(&str, &str, Fill); 2] = [
        ("no space", "size=64k", fill_blocks),
        ("no inodes", "size=1m,nr_inodes=16", fill_inodes),
    ];
    let dir = TempDir::new("full");
    for (i, (kind, options, fill)) in kinds.into_iter().enumerate() {
        let mnt = Tmpfs::mount(dir.join(&format!("m{i}")), options);
        let theirs = mnt.join("theirs.jsonl");
        let holder = Holder::start(&[], &theirs);
        let their_lock = std::fs::read(lock_of(&theirs)).unwrap();
        fill(&mnt.0);

        let new = fails_at_once(&mnt.join("new.jsonl"), "ENOSPC", &mnt.0);
        println!("{kind}: new lock -> {new}");
        match acquire(&theirs, &with_timeout(Duration::from_millis(200))) {
            // A full disk does not turn a live holder into an error: it is waited for.
            Err(e @ Error::Busy { .. }) => {
                assert!(
                    e.to_string()
                        .contains(&format!("pid={}", holder.child.id())),
                    "{e}"
                );
                println!("  lock held by another process -> {e}")
            }
            other => panic!("{kind}: their lock must be busy: {other:?}"),
        }
        assert_eq!(
            mnt.temp_files(),
            Vec::<String>::new(),
            "{kind}: temp files left"
        );
        assert_eq!(
            std::fs::read(lock_of(&theirs)).unwrap(),
            their_lock,
            "{kind}: the other holder's lock file is untouched"
        );
        let seen = inspect(&theirs, STALE).unwrap().unwrap();
        assert!(seen.pid_alive && !seen.stale, "{kind}: {seen:?}");
        holder.release();
        assert!(!lock_of(&theirs).exists(), "{kind}: released normally");
    }
}

/// Payloads that break naive parsers: a verdict comes back, and it is "busy" for a fresh file
/// (a TypeScript writer may be mid-write) and "reclaim" only once the file is older than
/// `staleMs`. Legacy rules of tests/legacy_files.rs are not repeated here.
#[test]
fn deeply_nested_and_huge_number_payloads_get_a_verdict() {
    let dir = TempDir::new("payloads");
    let future = "2099-01-01T00:00:00.000Z";
    let nested = |depth: usize, open: &str| open.repeat(depth);
    let rows: Vec<(&str, String, &[StaleReason])> = vec![
        (
            "100k '[' (beyond the read limit)",
            nested(100_000, "["),
            &[StaleReason::MissingPid, StaleReason::InvalidCreatedAt],
        ),
        (
            "60k '[' (within the read limit)",
            nested(60_000, "["),
            &[StaleReason::MissingPid, StaleReason::InvalidCreatedAt],
        ),
        (
            "20k nested objects",
            nested(20_000, r#"{"a":"#),
            &[StaleReason::MissingPid, StaleReason::InvalidCreatedAt],
        ),
        (
            "pid 1e400",
            format!(r#"{{"pid":1e400,"createdAt":"{future}"}}"#),
            &[StaleReason::MissingPid, StaleReason::InvalidCreatedAt],
        ),
        (
            "pid 99999999999999999999",
            format!(r#"{{"pid":99999999999999999999,"createdAt":"{future}"}}"#),
            &[StaleReason::MissingPid],
        ),
        (
            "pid 2^32+1 (1 if truncated)",
            format!(r#"{{"pid":4294967297,"createdAt":"{future}"}}"#),
            &[StaleReason::MissingPid],
        ),
        (
            "pid 2^31 (beyond pid_t)",
            format!(r#"{{"pid":2147483648,"createdAt":"{future}"}}"#),
            &[StaleReason::MissingPid],
        ),
        (
            "pid -1 (kill(-1) = everyone)",
            format!(r#"{{"pid":-1,"createdAt":"{future}"}}"#),
            &[StaleReason::MissingPid],
        ),
        (
            "pid 0 (kill(0) = own group)",
            format!(r#"{{"pid":0,"createdAt":"{future}"}}"#),
            &[StaleReason::MissingPid],
        ),
        (
            "pid 1.5",
            format!(r#"{{"pid":1.5,"createdAt":"{future}"}}"#),
            &[StaleReason::MissingPid],
        ),
        (
            "createdAt 1e400",
            format!(r#"{{"pid":{},"createdAt":1e400}}"#, std::process::id()),
            &[StaleReason::MissingPid, StaleReason::InvalidCreatedAt],
        ),
    ];
    // A fresh file is busy however long one waits: one try says so. An old one is reclaimed
    // within a real deadline: inspect() above took its flock, and a child another test spawns
    // at that moment holds a copy of that descriptor until it execs.
    let _counters = counters_to_myself(); // it may wait: see a_waiter_whose_directory_…
    let once = with_timeout(Duration::ZERO);
    let patient = with_timeout(PATIENT);
    for (i, (name, content, reasons)) in rows.into_iter().enumerate() {
        for (age, expect_reclaim) in [(Duration::ZERO, false), (Duration::from_secs(3600), true)] {
            let file = dir.join(&format!("p{i}-{}.jsonl", age.as_secs()));
            let lock = lock_of(&file);
            std::fs::write(&lock, &content).unwrap();
            let when = SystemTime::now() - age;
            File::options()
                .write(true)
                .open(&lock)
                .unwrap()
                .set_times(FileTimes::new().set_modified(when))
                .unwrap();
            let seen = inspect(&file, STALE).unwrap().unwrap();
            // A createdAt in the future counts from the mtime (docs/PROTOCOL.md): an hour-old
            // file with a valid one is too old as well.
            let mut reasons = reasons.to_vec();
            if age > STALE && !reasons.contains(&StaleReason::InvalidCreatedAt) {
                reasons.push(StaleReason::TooOld);
            }
            assert_eq!(seen.stale_reasons, reasons, "{name}");
            let verdict = acquire(&file, if expect_reclaim { &patient } else { &once });
            assert_eq!(
                verdict.is_ok(),
                expect_reclaim,
                "{name}, {age:?} old: {verdict:?}"
            );
            drop(verdict);
            assert_eq!(
                lock.exists(),
                !expect_reclaim,
                "{name}: kept only while fresh"
            );
        }
        println!("{name}: {reasons:?}; fresh -> busy, an hour old -> reclaimed");
    }
}

/// The race behind reclaims that failed one run in eight: a child spawned (posix_spawn, vfork)
/// while `inspect()` or an acquire holds a stale file's flock keeps a copy of that descriptor,
/// and so the flock, until it execs. Here our own second descriptor plays that child. A single
/// try sees the file busy; a caller with a deadline gets it once that descriptor is closed.
#[test]
fn a_stale_file_whose_flock_is_held_for_a_moment_is_reclaimed_within_the_deadline() {
    let _counters = counters_to_myself();
    let dir = TempDir::new("brief-flock");
    let file = dir.join("s.jsonl");
    let lock = lock_of(&file);
    std::fs::write(&lock, legacy(dead_pid())).unwrap();
    let copy = File::open(&lock).unwrap();
    // SAFETY: flock on a descriptor we own.
    assert_eq!(
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&copy), libc::LOCK_EX) },
        0
    );
    assert!(
        matches!(
            acquire(&file, &with_timeout(Duration::ZERO)),
            Err(Error::Busy { .. })
        ),
        "one try while the copy holds the flock"
    );
    let before = session_write_lock::testing::stats::stats().waits;
    let waiter = std::thread::spawn({
        let file = file.clone();
        move || acquire(&file, &with_timeout(PATIENT)).map(|g| g.lock_path().exists())
    });
    wait_until_waiting(before);
    drop(copy); // the child's exec
    assert!(
        waiter
            .join()
            .unwrap()
            .expect("reclaimed within the deadline"),
        "and its lock file is there"
    );
    assert!(!lock.exists(), "released when the guard was dropped");
}
