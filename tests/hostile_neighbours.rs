//! Hostile neighbours (docs/PROTOCOL.md, "Hostile neighbours"): long names where `O_TMPFILE` is
//! missing, other users flocking a creator's files, ancestors swapped for symlinks mid-reclaim,
//! and creators on filesystems without hard links that stall. An `LD_PRELOAD` shim built here
//! (`common/shim.rs`) hides `O_TMPFILE` and `link`, and stops the worker at the exact system
//! call while the test plays the neighbour: outcomes are asserted, never durations.
// Linux only: the shim reads /proc/self/fd; setpriv and renameat2 are Linux's.
#![cfg(target_os = "linux")]

mod common;
#[path = "common/shim.rs"]
mod shim;

use common::{is_root, skip, try_in_process, TempDir};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The portable build never tries `O_TMPFILE`.
const PORTABLE: bool = cfg!(swl_portable);

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// A shim and the directory its handshakes use.
struct Shim {
    library: PathBuf,
    dir: TempDir,
}

impl Shim {
    fn build(test: &str) -> Option<Shim> {
        let dir = TempDir::new("shim");
        let library = shim::build(test, &dir.0)?;
        Some(Shim { library, dir })
    }

    fn prefix(&self, settings: &[(&str, &str)]) -> Vec<String> {
        shim::prefix(&self.library, &self.dir.0, settings)
    }

    /// Forgets the handshake and refusals of the last run.
    fn reset(&self) {
        for name in ["stalled", "go", "refused"] {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
    }
}

/// Session names of 229–250 bytes have lock names that fit NAME_MAX but temp names that did
/// not: they lock with `O_TMPFILE` and without it (named temp file), and also where `link` is
/// missing too (in place). A name whose lock name is itself too long fails with ENAMETOOLONG
/// naming the lock path.
#[test]
fn long_session_names_lock_with_and_without_o_tmpfile() {
    let Some(shim) = Shim::build("hostile_neighbours::long_names") else {
        return;
    };
    let dir = TempDir::new("long-names");
    for len in [229, 240, 250] {
        let name = format!("{}.jsonl", "s".repeat(len - ".jsonl".len()));
        let file = dir.join(&name);
        try_in_process(&[], &file, 0).unwrap_or_else(|e| panic!("{len} bytes, O_TMPFILE: {e}"));
        for settings in [
            &[("SWL_SHIM_NO_TMPFILE", "1")][..],
            &[("SWL_SHIM_NO_TMPFILE", "1"), ("SWL_SHIM_NO_LINK", "1")],
        ] {
            shim.reset();
            let prefix = shim.prefix(settings);
            try_in_process(&as_strs(&prefix), &file, 0)
                .unwrap_or_else(|e| panic!("{len} bytes, {settings:?}: {e}"));
            let refused = shim::refused(&shim.dir.0);
            assert_eq!(
                refused.contains(&"O_TMPFILE".to_string()),
                !PORTABLE,
                "O_TMPFILE was refused (never tried in the portable build): {refused:?}"
            );
            assert_eq!(refused.contains(&"link".to_string()), settings.len() == 2);
        }
        let left: Vec<_> = std::fs::read_dir(&dir.0).unwrap().collect();
        assert!(left.is_empty(), "{len} bytes: left behind {left:?}");
    }
    let too_long = dir.join(&format!("{}.jsonl", "s".repeat(251 - ".jsonl".len())));
    for prefix in [vec![], shim.prefix(&[("SWL_SHIM_NO_TMPFILE", "1")])] {
        let err = try_in_process(&as_strs(&prefix), &too_long, 0).unwrap_err();
        let lock_name = format!("{}.lock", too_long.file_name().unwrap().to_str().unwrap());
        assert!(
            err.starts_with("error ENAMETOOLONG") && err.contains(&lock_name),
            "{err}"
        );
    }
}

/// `setpriv` running as nobody, or `None` (after a loud skip).
fn nobody(test: &str) -> Option<Vec<&'static str>> {
    let prefix = vec![
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let works = Command::new(prefix[0])
        .args(&prefix[1..])
        .arg("true")
        .status()
        .is_ok_and(|s| s.success());
    if !works || !is_root() {
        skip(test, "needs root and setpriv to play another user");
        return None;
    }
    Some(prefix)
}

/// A worker that must not outlive a failed test (it may be stalled at a handshake).
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `program` under the shim with `settings`.
fn shimmed(shim: &Shim, settings: &[(&str, &str)], program: &Path) -> Command {
    let prefix = shim.prefix(settings);
    let mut command = Command::new(&prefix[0]);
    command.args(&prefix[1..]).arg(program);
    command
}

/// Starts `command` (under the shim) and waits until it is stopped at the shim's handshake.
fn stalled(shim: &Shim, mut command: Command, what: &str) -> KillOnDrop {
    let mut child = KillOnDrop(command.stdout(Stdio::piped()).spawn().unwrap());
    assert!(
        shim::wait_stalled(&shim.dir.0, &mut child.0),
        "{what} ended before the shim's handshake"
    );
    child
}

/// `try FILE TIMEOUT_MS` in a worker under the shim with `settings`, stopped at the handshake.
fn stalled_try(
    shim: &Shim,
    settings: &[(&str, &str)],
    file: &Path,
    timeout_ms: &str,
) -> KillOnDrop {
    let mut command = shimmed(shim, settings, &common::worker_path());
    command.arg("try").arg(file).arg(timeout_ms);
    stalled(shim, command, &format!("the worker ({settings:?})"))
}

/// Waits for a worker (failing the test if it hangs) and returns its exit and its output.
fn outcome(mut worker: KillOnDrop, what: &str) -> (std::process::ExitStatus, String) {
    let status = common::finish_status_within(&mut worker.0, Duration::from_secs(60), what);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut worker.0.stdout.take().unwrap(), &mut text).unwrap();
    (status, text)
}

/// `prefix… flock -n -x FILE`: prints `locked` and keeps the flock while it runs, or exits.
struct Squatter(Child);

impl Squatter {
    /// Starts and says whether it holds the flock.
    fn start(prefix: &[&str], file: &Path) -> (Squatter, bool) {
        let mut command = Command::new(prefix.first().copied().unwrap_or("flock"));
        if !prefix.is_empty() {
            command.args(&prefix[1..]).arg("flock");
        }
        let mut child = command
            .args(["-n", "-x"])
            .arg(file)
            .args(["-c", "echo locked; exec sleep 600"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        (Squatter(child), line.trim() == "locked")
    }
}

impl Drop for Squatter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The file in `dir` whose name ends in `suffix` (the one the stalled worker is flocking).
fn named(dir: &Path, suffix: &str) -> PathBuf {
    (std::fs::read_dir(dir).unwrap())
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no *{suffix} in {}", dir.display()))
}

/// Another process flocks the creator's named temp file or in-place lock file between its
/// creation and the creator's own flock. Another user cannot even open it; root can, and the
/// creator then takes a fresh temp name or reports busy: the acquire always ends within its
/// timeout, never hangs.
#[test]
fn another_process_flocking_the_creators_file_never_hangs_it() {
    let test = "hostile_neighbours::squatters";
    let (Some(shim), Some(nobody)) = (Shim::build(test), nobody(test)) else {
        return;
    };
    let dir = TempDir::new("squat");
    // World-searchable, so that nobody can reach the files (TempDir is the umask's 0755).
    let file = dir.join("s.jsonl");
    let lock = dir.join("s.jsonl.lock");
    for (way, no_link, stall_at) in [
        ("named temp file", false, ".tmp"),
        ("in place", true, "s.jsonl.lock"),
    ] {
        for (who, prefix) in [("another user", nobody.clone()), ("root", vec![])] {
            shim.reset();
            let mut settings = vec![
                ("SWL_SHIM_NO_TMPFILE", "1"),
                ("SWL_SHIM_STALL", stall_at),
                ("SWL_SHIM_STALL_CALL", "flock"),
            ];
            if no_link {
                settings.push(("SWL_SHIM_NO_LINK", "1"));
            }
            let worker = stalled_try(&shim, &settings, &file, "300");
            let (squatter, locked) = Squatter::start(&prefix, &named(&dir.0, stall_at));
            assert_eq!(
                locked,
                who == "root",
                "{way}: only root may open the creator's file before it is flocked"
            );
            shim::go(&shim.dir.0);
            let (out, text) = outcome(worker, &format!("{way}, squatted by {who}: the acquire"));
            assert!(
                text.starts_with("acquired") || text.starts_with("busy"),
                "{way}, {who}: {out} {text}"
            );
            drop(squatter);
            if lock.exists() {
                // Root's squat of the in-place file leaves it empty and unflocked: stale later.
                std::fs::remove_file(&lock).unwrap();
            }
        }
    }
    let left: Vec<_> = std::fs::read_dir(&dir.0).unwrap().collect();
    assert!(left.is_empty(), "left behind {left:?}");
}

/// `renameat2(a, b, RENAME_EXCHANGE)`: the two names trade places atomically.
fn exchange(a: &Path, b: &Path) {
    const RENAME_EXCHANGE: libc::c_uint = 2; // linux/fs.h
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    let (a, b) = (c(a), c(b));
    // SAFETY: valid NUL-terminated paths; renameat2 has no other preconditions.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            RENAME_EXCHANGE,
        )
    };
    assert_eq!(rc, 0, "renameat2: {}", std::io::Error::last_os_error());
}

fn file_id(path: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).unwrap();
    (m.dev(), m.ino())
}

/// The shim's settings that stop a worker at its (first) unlink of the lock file.
const STALL_AT_UNLINK: [(&str, &str); 2] = [
    ("SWL_SHIM_STALL", "s.jsonl.lock"),
    ("SWL_SHIM_STALL_CALL", "unlink"),
];

/// `base/a/sess` holds a stale lock file (a dead legacy holder), `base/b/sess` a live one of
/// the same name, and `base/l` is a symlink to `b`.
struct Swappable {
    base: TempDir,
    holder: common::Holder,
    live: PathBuf,
    live_id: (u64, u64),
}

impl Swappable {
    fn new() -> Swappable {
        let base = TempDir::new("swap");
        for dir in ["a/sess", "b/sess"] {
            std::fs::create_dir_all(base.join(dir)).unwrap();
        }
        std::os::unix::fs::symlink("b", base.join("l")).unwrap();
        let holder = common::Holder::start(&[], &base.join("b/sess/s.jsonl"));
        let live = base.join("b/sess/s.jsonl.lock");
        let live_id = file_id(&live);
        let stale = format!(
            r#"{{"pid":{},"createdAt":"2020-01-01T00:00:00.000Z"}}"#,
            common::dead_pid()
        );
        std::fs::write(base.join("a/sess/s.jsonl.lock"), stale).unwrap();
        Swappable {
            base,
            holder,
            live,
            live_id,
        }
    }

    /// While a worker is stalled at the unlink of the stale file: `a` becomes the symlink to
    /// `b`, so that `a/sess/s.jsonl.lock` names the live lock. Then the worker goes on.
    fn swap(&self, shim: &Shim) {
        exchange(&self.base.join("a"), &self.base.join("l"));
        shim::go(&shim.dir.0);
    }

    /// The live lock is where it was, the holder's, and nobody else can take it.
    fn assert_live_lock_untouched(self, what: &str) {
        assert!(
            self.live.exists(),
            "{what} deleted the live lock in another directory"
        );
        assert_eq!(
            file_id(&self.live),
            self.live_id,
            "{what} replaced the live lock"
        );
        let second = try_in_process(&[], &self.base.join("b/sess/s.jsonl"), 0);
        assert!(
            second.is_err(),
            "{what}: a second holder while the first holds"
        );
        self.holder.release();
    }
}

/// Root cleaning a directory while its owner swaps an ancestor for a symlink between the
/// cleaner's inode check and its unlink: the unlink stays in the directory judged, so the live
/// lock the symlink now leads to is never deleted.
#[test]
fn a_swapped_ancestor_never_redirects_the_cleaners_unlink() {
    let Some(shim) = Shim::build("hostile_neighbours::swap_clean") else {
        return;
    };
    let scene = Swappable::new();
    let mut command = shimmed(
        &shim,
        &STALL_AT_UNLINK,
        env!("CARGO_BIN_EXE_session-lock").as_ref(),
    );
    command.arg("clean").arg(scene.base.join("a/sess"));
    let cleaner = stalled(&shim, command, "the cleaner");
    scene.swap(&shim);
    outcome(cleaner, "the cleaner");
    scene.assert_live_lock_untouched("the cleaner");
}

/// The same swap during an acquire's reclaim: the reclaim removes the stale file it judged and
/// the acquire creates its lock in that same directory; the live lock elsewhere keeps its
/// holder, alone.
#[test]
fn a_swapped_ancestor_never_redirects_an_acquires_reclaim() {
    let Some(shim) = Shim::build("hostile_neighbours::swap_acquire") else {
        return;
    };
    let scene = Swappable::new();
    let acquirer = stalled_try(
        &shim,
        &STALL_AT_UNLINK,
        &scene.base.join("a/sess/s.jsonl"),
        "0",
    );
    scene.swap(&shim);
    let (status, text) = outcome(acquirer, "the acquirer");
    assert!(status.code().is_some(), "{status} {text}");
    scene.assert_live_lock_untouched("the acquirer");
}

/// Without hard links the lock file is created in place, empty and unflocked for a moment. A
/// creator stalled there (shim handshake at its flock) while a reader judges the empty file
/// stale by its age (set an hour back) and reclaims it: once the creator gets its flock, on a
/// file that is no longer at the path, it must not count itself a holder. It looks again and
/// finds the reclaimer's lock: busy.
#[test]
fn a_creator_whose_in_place_file_was_reclaimed_starts_again() {
    let Some(shim) = Shim::build("hostile_neighbours::in_place_reclaimed") else {
        return;
    };
    let dir = TempDir::new("in-place-reclaimed");
    let file = dir.join("s.jsonl");
    let lock = dir.join("s.jsonl.lock");
    let settings = [
        ("SWL_SHIM_NO_TMPFILE", "1"),
        ("SWL_SHIM_NO_LINK", "1"),
        ("SWL_SHIM_STALL", "s.jsonl.lock"),
        ("SWL_SHIM_STALL_CALL", "flock"),
    ];
    let creator = stalled_try(&shim, &settings, &file, "300");
    assert_eq!(std::fs::metadata(&lock).unwrap().len(), 0, "empty so far");
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    (std::fs::File::options().write(true).open(&lock).unwrap())
        .set_modified(an_hour_ago)
        .unwrap();
    let reclaimer = common::Holder::start(&[], &file);
    let reclaimers = file_id(&lock);
    shim::go(&shim.dir.0);
    let (_, text) = outcome(creator, "the creator");
    assert!(
        text.starts_with("busy"),
        "the creator held a lock the reclaimer holds: {text}"
    );
    assert_eq!(
        file_id(&lock),
        reclaimers,
        "the reclaimer's lock file stays"
    );
    assert!(shim::refused(&shim.dir.0).contains(&"link".to_string()));
    reclaimer.release();
}
