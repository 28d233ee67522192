//! Lock files found on disk: every legacy (TypeScript-format) rule of docs/PROTOCOL.md ("Is the
//! holder gone?", legacy files) reclaims or waits as it should, and hostile files get a verdict and
//! are never deleted unless stale.
// Unix-only: the legacy rules are pure (src/verdict.rs's tests run everywhere); these fixtures use Unix pids, /proc and file modes.
#![cfg(unix)]

mod common;

use common::{dead_pid, write_aged_lock, TempDir};
use session_write_lock::{
    acquire, clean_stale, inspect, CleanOptions, Error, Format, Found, OptionName, Options,
    StaleReason,
};
use std::fs::{File, FileTimes};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, SystemTime};

const STALE: Duration = Duration::from_secs(30 * 60);

fn once() -> Options {
    Options {
        timeout: Some(Duration::ZERO),
        ..Options::default()
    }
}

fn lock_of(file: &Path) -> PathBuf {
    PathBuf::from(format!("{}.lock", file.display()))
}

fn iso(t: SystemTime) -> String {
    // Only the forms the tests need: via `date`, which every Linux has.
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%S.000Z"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

struct Sleeper(Child);

impl Sleeper {
    fn start() -> Sleeper {
        Sleeper(Command::new("sleep").arg("30").spawn().unwrap())
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
    fn starttime(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 1..];
        after.split_whitespace().nth(19).unwrap().parse().unwrap()
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Says whether the pre-existing file was reclaimed by an acquire. Where the file should be
/// kept, one try is enough (it is busy however long one waits); where it should be reclaimed,
/// the acquire gets a real deadline: `inspect()` took the file's flock a moment ago, and a child
/// another test spawns at that moment holds a copy of that descriptor until it execs.
fn reclaimed(file: &Path, expected: bool) -> bool {
    let options = if expected {
        Options {
            timeout: Some(Duration::from_secs(5)),
            ..Options::default()
        }
    } else {
        once()
    };
    match acquire(file, &options) {
        Ok(guard) => {
            guard.release().unwrap();
            true
        }
        Err(Error::Busy { .. } | Error::Stale { .. }) => false,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

#[test]
fn legacy_rules_reclaim_or_wait() {
    let dir = TempDir::new("legacy");
    let live = Sleeper::start();
    let now = iso(SystemTime::now());
    let two_hours_ago = iso(SystemTime::now() - Duration::from_secs(7200));
    let fresh = Duration::ZERO;
    let old = Duration::from_secs(31 * 60);
    let rows: Vec<(&str, String, Duration, bool, &[StaleReason])> = vec![
        (
            "dead pid",
            format!(r#"{{"pid":{},"createdAt":"{now}"}}"#, dead_pid()),
            fresh,
            true,
            &[StaleReason::DeadPid],
        ),
        (
            "live pid, fresh",
            format!(r#"{{"pid":{},"createdAt":"{now}"}}"#, live.pid()),
            fresh,
            false,
            &[],
        ),
        (
            "live pid, same starttime",
            format!(
                r#"{{"pid":{},"createdAt":"{now}","starttime":{}}}"#,
                live.pid(),
                live.starttime()
            ),
            fresh,
            false,
            &[],
        ),
        (
            "recycled pid",
            format!(
                r#"{{"pid":{},"createdAt":"{now}","starttime":{}}}"#,
                live.pid(),
                live.starttime() + 1
            ),
            fresh,
            true,
            &[StaleReason::RecycledPid],
        ),
        (
            "live pid, too old: reported, never removed",
            format!(r#"{{"pid":{},"createdAt":"{two_hours_ago}"}}"#, live.pid()),
            fresh,
            false,
            &[StaleReason::TooOld],
        ),
        (
            "dead pid, too old",
            format!(r#"{{"pid":{},"createdAt":"{two_hours_ago}"}}"#, dead_pid()),
            fresh,
            true,
            &[StaleReason::DeadPid, StaleReason::TooOld],
        ),
        (
            "other pid's nonce is not judged",
            format!(
                r#"{{"pid":{},"createdAt":"{now}","nonce":"x"}}"#,
                live.pid()
            ),
            fresh,
            false,
            &[],
        ),
        (
            "missing pid, fresh",
            format!(r#"{{"createdAt":"{now}"}}"#),
            fresh,
            false,
            &[StaleReason::MissingPid],
        ),
        (
            "missing pid, old mtime",
            format!(r#"{{"createdAt":"{now}"}}"#),
            old,
            true,
            &[StaleReason::MissingPid],
        ),
        (
            "invalid createdAt, fresh",
            format!(r#"{{"pid":{},"createdAt":"yesterday"}}"#, live.pid()),
            fresh,
            false,
            &[StaleReason::InvalidCreatedAt],
        ),
        (
            "invalid createdAt, old mtime",
            format!(r#"{{"pid":{},"createdAt":"yesterday"}}"#, live.pid()),
            old,
            true,
            &[StaleReason::InvalidCreatedAt],
        ),
        (
            "empty file, fresh (a TS writer mid-write)",
            String::new(),
            fresh,
            false,
            &[StaleReason::MissingPid, StaleReason::InvalidCreatedAt],
        ),
        (
            "garbage, old mtime",
            "\u{1}\u{2}not json".into(),
            old,
            true,
            &[StaleReason::MissingPid, StaleReason::InvalidCreatedAt],
        ),
    ];
    for (i, (name, content, mtime_ago, expect_reclaimed, reasons)) in rows.into_iter().enumerate() {
        let file = dir.join(&format!("row{i}.jsonl"));
        let lock = write_aged_lock(&file, content.as_bytes(), mtime_ago);
        let seen = inspect(&file, STALE)
            .unwrap()
            .expect("a lock file is there");
        assert_eq!(seen.format, Found::Lock(Format::Legacy), "{name}");
        assert_eq!(seen.stale_reasons, reasons, "{name}");
        assert_eq!(seen.stale, !reasons.is_empty(), "{name}");
        assert_eq!(seen.removable, expect_reclaimed, "{name}");
        assert_eq!(
            reclaimed(&file, expect_reclaimed),
            expect_reclaimed,
            "{name}"
        );
        assert_eq!(
            lock.exists(),
            !expect_reclaimed,
            "{name}: a kept file stays, a reclaimed one is gone after release"
        );
    }
}

/// The `ageMs=N` of a message.
fn age_in(message: &str) -> u64 {
    let start = message.find("ageMs=").expect("an age") + "ageMs=".len();
    let digits: String = message[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().expect("digits")
}

#[test]
fn live_legacy_holder_that_is_only_old_is_reported_at_once_and_kept() {
    let dir = TempDir::new("report");
    let live = Sleeper::start();
    let file = dir.join("s.jsonl");
    let created = iso(SystemTime::now() - Duration::from_secs(10));
    let content = format!(
        r#"{{"pid":{},"createdAt":"{created}","maxHoldMs":5000}}"#,
        live.pid()
    );
    let lock = write_aged_lock(&file, content.as_bytes(), Duration::ZERO);
    let options = Options {
        timeout: Some(Duration::from_secs(30)),
        ..Options::default()
    };
    let started = std::time::Instant::now();
    let err = acquire(&file, &options).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "at once, not after the timeout"
    );
    match &err {
        Error::Stale {
            reasons, holder, ..
        } => {
            assert_eq!(reasons, &[StaleReason::HoldExceeded]);
            assert_eq!((holder.pid, holder.pid_alive), (Some(live.pid()), true));
        }
        other => panic!("expected a stale error, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "session file lock stale (hold-exceeded): pid={} alive=true ageMs={} {}",
            live.pid(),
            age_in(&err.to_string()),
            lock.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        content,
        "kept as it was"
    );
    let seen = inspect(&file, STALE).unwrap().unwrap();
    assert!(
        seen.stale_reasons.is_empty(),
        "the sweep never computes hold-exceeded"
    );
}

#[test]
fn busy_error_names_the_owner_and_path() {
    let dir = TempDir::new("owner");
    let live = Sleeper::start();
    let file = dir.join("s.jsonl");
    let lock = write_aged_lock(
        &file,
        format!(
            r#"{{"pid":{},"createdAt":"{}"}}"#,
            live.pid(),
            iso(SystemTime::now())
        )
        .as_bytes(),
        Duration::ZERO,
    );
    let options = Options {
        timeout: Some(Duration::from_millis(120)),
        ..Options::default()
    };
    let message = acquire(&file, &options).unwrap_err().to_string();
    assert_eq!(
        message,
        format!(
            "session file locked (timeout 120ms): pid={} alive=true ageMs={} {}",
            live.pid(),
            age_in(&message),
            lock.display()
        )
    );
}

#[test]
fn hostile_files_get_a_verdict_and_survive() {
    let dir = TempDir::new("hostile");
    let target = dir.join("target.txt");
    std::fs::write(
        &target,
        format!(
            r#"{{"pid":{},"createdAt":"2020-01-01T00:00:00.000Z"}}"#,
            dead_pid()
        ),
    )
    .unwrap();
    let sub = dir.join("subdir");
    std::fs::create_dir(&sub).unwrap();
    type MakeOccupant<'a> = Box<dyn Fn(&Path) + 'a>;
    let cases: Vec<(&str, MakeOccupant, &str)> = vec![
        (
            "symlink to a stale-looking file",
            Box::new(|l: &Path| std::os::unix::fs::symlink(&target, l).unwrap()),
            "symbolic link",
        ),
        (
            "symlink to a directory",
            Box::new(|l: &Path| std::os::unix::fs::symlink(&sub, l).unwrap()),
            "symbolic link",
        ),
        (
            "dangling symlink",
            Box::new(|l: &Path| std::os::unix::fs::symlink("/nonexistent/x", l).unwrap()),
            "symbolic link",
        ),
        (
            "directory",
            Box::new(|l: &Path| std::fs::create_dir(l).unwrap()),
            "directory",
        ),
        (
            "FIFO",
            Box::new(|l: &Path| assert!(Command::new("mkfifo").arg(l).status().unwrap().success())),
            "FIFO",
        ),
        (
            "socket",
            Box::new(|l: &Path| {
                std::mem::forget(std::os::unix::net::UnixListener::bind(l).unwrap())
            }),
            "socket",
        ),
    ];
    for (i, (name, make, described)) in cases.into_iter().enumerate() {
        let file = dir.join(&format!("h{i}.jsonl"));
        let lock = lock_of(&file);
        make(&lock);
        let message = acquire(&file, &once()).expect_err(name).to_string();
        assert!(message.contains(described), "{name}: {message}");
        let seen = inspect(&file, STALE).unwrap().unwrap();
        assert_eq!(
            (seen.format.as_str(), seen.stale),
            ("not-a-file", false),
            "{name}"
        );
        assert!(
            std::fs::symlink_metadata(&lock).is_ok(),
            "{name} must never be deleted"
        );
    }
    assert!(
        target.exists() && sub.is_dir(),
        "symlink targets are untouched"
    );
}

#[test]
fn huge_lock_files_are_judged_without_reading_them_whole() {
    let dir = TempDir::new("huge");
    for (name, mtime_ago, expect_reclaimed) in [
        ("fresh", Duration::ZERO, false),
        ("old", Duration::from_secs(3600), true),
    ] {
        let file = dir.join(&format!("{name}.jsonl"));
        let lock = lock_of(&file);
        let f = File::create(&lock).unwrap();
        f.set_len(100 * 1024 * 1024).unwrap();
        let when = SystemTime::now() - mtime_ago;
        f.set_times(FileTimes::new().set_modified(when)).unwrap();
        drop(f);
        let started = std::time::Instant::now();
        assert_eq!(
            reclaimed(&file, expect_reclaimed),
            expect_reclaimed,
            "{name} 100 MiB file"
        );
        println!("100 MiB {name} file judged in {:?}", started.elapsed());
        assert_eq!(lock.exists(), !expect_reclaimed);
    }
}

#[test]
fn awkward_paths_work_or_fail_clearly() {
    use std::os::unix::ffi::OsStrExt;
    let dir = TempDir::new("paths");
    let non_utf8 = dir
        .0
        .join(std::ffi::OsStr::from_bytes(b"\xff\xfe-session.jsonl"));
    let guard = acquire(&non_utf8, &once()).expect("non-UTF-8 names are fine on Linux");
    assert!(guard.lock_path().exists());
    drop(guard);

    let nested = dir.join("a/b/c/s.jsonl");
    let guard = acquire(&nested, &once()).expect("the directory is created like mkdir -p");
    assert_eq!(
        guard.lock_path(),
        dir.0.canonicalize().unwrap().join("a/b/c/s.jsonl.lock")
    );
    drop(guard);

    for path in [
        PathBuf::from(""),
        PathBuf::from(std::ffi::OsStr::from_bytes(b"a\0b")),
    ] {
        match acquire(&path, &once()) {
            Err(Error::InvalidArgument { name, .. }) => {
                assert_eq!(name, OptionName::SessionFile)
            }
            other => panic!("{path:?}: {other:?}"),
        }
    }
    let blocker = dir.join("plain-file");
    std::fs::write(&blocker, "x").unwrap();
    let err = acquire(blocker.join("s.jsonl"), &once()).unwrap_err();
    assert_eq!(err.code(), Some("ENOTDIR"), "{err}");
    assert!(
        err.to_string().contains("open session directory")
            && err
                .to_string()
                .ends_with("plain-file: Not a directory (os error 20)"),
        "the error names the directory: {err}"
    );
    match clean_stale(Path::new(""), &CleanOptions::default()) {
        Err(Error::InvalidArgument { name, .. }) => assert_eq!(name, OptionName::SessionsDir),
        other => panic!("empty sessionsDir: {other:?}"),
    }
}

#[test]
fn symlinked_directories_share_one_lock() {
    let dir = TempDir::new("symdir");
    let real = dir.join("real");
    std::fs::create_dir(&real).unwrap();
    let link = dir.join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let options = Options {
        timeout: Some(Duration::ZERO),
        allow_reentrant: false,
        ..Options::default()
    };
    let guard = acquire(real.join("s.jsonl"), &options).unwrap();
    assert!(
        acquire(link.join("s.jsonl"), &options).is_err(),
        "the same session through a symlinked dir is the same lock"
    );
    drop(guard);
    let _again = acquire(link.join("s.jsonl"), &options).expect("free again");
}

#[test]
fn clean_stale_removes_only_stale_locks() {
    let dir = TempDir::new("clean");
    let live = Sleeper::start();
    let now = iso(SystemTime::now());
    let old = iso(SystemTime::now() - Duration::from_secs(7200));
    write_aged_lock(
        &dir.join("a-dead.jsonl"),
        format!(r#"{{"pid":{},"createdAt":"{now}"}}"#, dead_pid()).as_bytes(),
        Duration::ZERO,
    );
    write_aged_lock(
        &dir.join("b-old-live.jsonl"),
        format!(r#"{{"pid":{},"createdAt":"{old}"}}"#, live.pid()).as_bytes(),
        Duration::ZERO,
    );
    write_aged_lock(
        &dir.join("c-fresh-live.jsonl"),
        format!(r#"{{"pid":{},"createdAt":"{now}"}}"#, live.pid()).as_bytes(),
        Duration::ZERO,
    );
    let held = acquire(dir.join("d-held.jsonl"), &once()).unwrap();
    std::fs::write(dir.join("not-a-lock.lock"), "x").unwrap();
    let temp = dir.join(".e.jsonl.lock.0123456789abcdef.tmp");
    std::fs::write(&temp, "{}").unwrap();
    File::options()
        .write(true)
        .open(&temp)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(7200))
        .unwrap();

    let dry = clean_stale(
        &dir.0,
        &CleanOptions {
            remove: false,
            ..CleanOptions::default()
        },
    )
    .unwrap();
    let names: Vec<_> = dry
        .locks
        .iter()
        .map(|l| {
            Path::new(&l.lock_path)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "a-dead.jsonl.lock",
            "b-old-live.jsonl.lock",
            "c-fresh-live.jsonl.lock",
            "d-held.jsonl.lock"
        ]
    );
    assert!(dry.cleaned.is_empty() && dry.locks.iter().all(|l| !l.removed));
    assert_eq!(
        dry.locks
            .iter()
            .map(|l| (l.stale, l.removable))
            .collect::<Vec<_>>(),
        [(true, true), (true, false), (false, false), (false, false)]
    );
    assert_eq!(dry.locks[3].format, Found::Lock(Format::Flock));
    assert!(dry.locks[3].pid_alive);

    let report = clean_stale(&dir.0, &CleanOptions::default()).unwrap();
    let cleaned: Vec<_> = report
        .cleaned
        .iter()
        .map(|l| l.stale_reasons.clone())
        .collect();
    assert_eq!(cleaned, [vec![StaleReason::DeadPid]]);
    assert!(!lock_of(&dir.join("a-dead.jsonl")).exists());
    assert!(
        lock_of(&dir.join("b-old-live.jsonl")).exists(),
        "a live holder that is only old is reported, never removed"
    );
    assert!(lock_of(&dir.join("c-fresh-live.jsonl")).exists() && held.lock_path().exists());
    assert!(dir.join("not-a-lock.lock").exists());
    assert_eq!(report.temp_files_removed.len(), 1);
    assert!(!temp.exists());

    let later = clean_stale(
        &dir.0,
        &CleanOptions {
            now: Some(SystemTime::now() + Duration::from_secs(3600)),
            ..CleanOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        later
            .locks
            .iter()
            .map(|l| (l.stale, l.removable))
            .collect::<Vec<_>>(),
        [(true, false), (true, false), (false, false)],
        "an hour later the fresh legacy lock is too old as well, but alive: kept; our flock lock is still held"
    );
    assert!(later.cleaned.is_empty());
    assert!(held.lock_path().exists());
}

// Linux only: the handshake reads the writer thread's system call from /proc.
#[cfg(target_os = "linux")]
#[test]
fn a_fifo_at_the_lock_path_is_never_opened() {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::os::unix::fs::OpenOptionsExt;
    let dir = TempDir::new("fifo");
    let file = dir.join("s.jsonl");
    let fifo = lock_of(&file);
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // A writer's open blocks until some reader opens the FIFO: if inspecting it opened it,
    // the writer would get through. It opens the FIFO relative to a directory descriptor that
    // no other call of that thread uses.
    let dir_fd: OwnedFd = File::open(&dir.0).unwrap().into();
    let dir_arg = format!("{:#x}", dir_fd.as_raw_fd());
    let name = std::ffi::CString::new(fifo.file_name().unwrap().as_encoded_bytes()).unwrap();
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let writer = std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        tid_tx.send(unsafe { libc::gettid() }).unwrap();
        // SAFETY: an open descriptor and a NUL-terminated name.
        let fd = unsafe { libc::openat(dir_fd.as_raw_fd(), name.as_ptr(), libc::O_WRONLY) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: ours, just opened.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
        Ok(())
    });
    // Handshake: the writer is blocked in its open before the library looks at the FIFO.
    // /proc shows a thread blocked in a system call as its number and arguments: the first
    // argument is that directory descriptor. (Not the number: under qemu-user it is the
    // host's system call, not the emulated one.)
    let tid = tid_rx.recv().unwrap();
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall"))
        .is_ok_and(|s| s.split_whitespace().nth(1) == Some(dir_arg.as_str()))
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the writer never blocked"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    for _ in 0..3 {
        assert!(acquire(&file, &once()).is_err());
        assert!(inspect(&file, STALE)
            .unwrap()
            .is_some_and(|i| i.format == Found::NotAFile));
    }
    std::thread::sleep(Duration::from_millis(200)); // time for an open writer to get through
    assert!(
        !writer.is_finished(),
        "the FIFO was opened by the lock library"
    );
    let _reader = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    writer.join().unwrap().unwrap();
}

/// A device node at the lock path (here /dev/null's, 1:3) is in the way: busy, described, and
/// never deleted, by acquire or clean. (That it is never opened is shown with a FIFO above.)
/// mknod needs root.
#[test]
fn a_device_node_at_the_lock_path_is_left_alone() {
    if !common::is_root() {
        common::skip("legacy_files::device_node", "mknod needs root");
        return;
    }
    let dir = TempDir::new("device");
    let file = dir.join("s.jsonl");
    let lock = lock_of(&file);
    let c = std::ffi::CString::new(lock.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    let rc = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
    let before = std::fs::symlink_metadata(&lock).unwrap();
    let message = acquire(&file, &once()).expect_err("busy").to_string();
    assert!(message.contains("a device node is in the way"), "{message}");
    let seen = inspect(&file, STALE).unwrap().unwrap();
    assert_eq!(
        (seen.format.as_str(), seen.stale),
        ("not-a-file", false),
        "{seen:?}"
    );
    let report = clean_stale(&dir.0, &CleanOptions::default()).unwrap();
    assert!(report.cleaned.is_empty(), "{report:?}");
    let after = std::fs::symlink_metadata(&lock).expect("never deleted");
    use std::os::unix::fs::MetadataExt;
    assert_eq!((after.ino(), after.rdev()), (before.ino(), before.rdev()));
}
