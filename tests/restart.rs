//! In-process restart (docs/PROTOCOL.md, "In-process restart"): locks held across a nonce rotation
//! are taken over at once by the next iteration, their old handles become no-ops; release-all; fork
//! safety. Every test here changes the process-wide nonce, so they run one at a time.
// Unix-only: handshakes read /proc and legacy fixtures use Unix pids.
#![cfg(unix)]

mod common;

use common::{worker, TempDir};
use session_write_lock::testing::stats::stats;
use session_write_lock::{
    acquire, inspect, instance_nonce, release_all, reset_instance_nonce, Options, ReleaseOutcome,
    StaleReason,
};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

fn once() -> Options {
    Options {
        timeout: Some(Duration::ZERO),
        ..Options::default()
    }
}

/// Our start time as another process reads it (not /proc/self/stat: qemu-user makes that up).
fn own_starttime() -> u64 {
    let cat = std::process::Command::new("cat")
        .arg(format!("/proc/{}/stat", std::process::id()))
        .output()
        .unwrap();
    let stat = String::from_utf8(cat.stdout).unwrap();
    stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn next_iteration_takes_over_locks_of_the_previous_one_at_once() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("restart");
    let file = dir.join("s.jsonl");
    let old = acquire(&file, &once()).unwrap();
    let old_nonce = instance_nonce();
    let new_nonce = reset_instance_nonce();
    assert_ne!(old_nonce, new_nonce);
    assert_eq!(new_nonce.len(), 32);
    assert!(new_nonce
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));

    let started = Instant::now();
    let new = acquire(&file, &once()).expect("the next iteration takes over at once");
    println!("takeover after nonce rotation: {:?}", started.elapsed());
    assert!(!old.is_held() && new.is_held());
    assert_eq!(
        old.release().unwrap(),
        ReleaseOutcome::NotHeld,
        "the old handle is a no-op"
    );
    let on_disk = inspect(&file, Duration::from_secs(1800)).unwrap().unwrap();
    assert_eq!(
        on_disk.nonce.as_deref(),
        Some(new_nonce.as_str()),
        "the new lock stays, under the new nonce"
    );
    assert_eq!(new.release().unwrap(), ReleaseOutcome::Released);
    assert!(inspect(&file, Duration::from_secs(1800)).unwrap().is_none());
}

#[test]
fn release_all_releases_everything_then_rotates_the_nonce() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("release-all");
    let guards: Vec<_> = (0..3)
        .map(|i| acquire(dir.join(&format!("s{i}.jsonl")), &once()).unwrap())
        .collect();
    let nested = Options {
        allow_reentrant: true,
        ..once()
    };
    let again = acquire(dir.join("s0.jsonl"), &nested).unwrap();
    let before = instance_nonce();
    assert_eq!(release_all(), 3, "counts locks, not reentrant holds");
    assert_ne!(instance_nonce(), before);
    for g in &guards {
        assert!(!g.lock_path().exists());
    }
    assert_eq!(again.release().unwrap(), ReleaseOutcome::NotHeld);
    assert_eq!(release_all(), 0, "idempotent");
    let fresh = acquire(dir.join("s1.jsonl"), &once()).unwrap();
    for g in guards {
        assert_eq!(
            g.release().unwrap(),
            ReleaseOutcome::NotHeld,
            "old handles never release a newer lock"
        );
    }
    assert!(fresh.is_held() && fresh.lock_path().exists());
}

#[test]
fn leftover_files_of_an_earlier_iteration_of_this_process() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("leftover");
    let pid = std::process::id();
    let now = "2099-01-01T00:00:00.000Z";
    let ours = instance_nonce();
    let rows = [
        (
            "legacy, own pid, other nonce",
            format!(
                r#"{{"pid":{pid},"createdAt":"{now}","starttime":{},"nonce":"0000"}}"#,
                own_starttime()
            ),
            true,
        ),
        (
            "legacy, own pid, no starttime, not held",
            format!(r#"{{"pid":{pid},"createdAt":"{now}"}}"#),
            true,
        ),
        (
            "legacy, own pid, our starttime, not held: an orphan whatever its nonce",
            format!(
                r#"{{"pid":{pid},"createdAt":"{now}","starttime":{},"nonce":"{ours}"}}"#,
                own_starttime()
            ),
            true,
        ),
    ];
    for (i, (name, content, reclaim)) in rows.iter().enumerate() {
        let file = dir.join(&format!("l{i}.jsonl"));
        std::fs::write(dir.join(&format!("l{i}.jsonl.lock")), content).unwrap();
        assert_eq!(acquire(&file, &once()).is_ok(), *reclaim, "{name}");
    }
}

#[test]
fn a_forked_child_does_not_keep_the_lock_alive() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("fork");
    let file = dir.join("s.jsonl");
    let out = worker().arg("fork-and-vanish").arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("held "), "{text}");
    let child: i32 = text.split_whitespace().last().unwrap().parse().unwrap();
    // SAFETY: signal 0 only checks existence.
    assert_eq!(
        unsafe { libc::kill(child, 0) },
        0,
        "the forked child is still alive"
    );
    let seen = inspect(&file, Duration::from_secs(1800)).unwrap().unwrap();
    assert_eq!(
        seen.stale_reasons,
        [StaleReason::HolderExited],
        "the forked child closed its copy of the lock fd"
    );
    let _guard = acquire(&file, &once()).expect("a lock of an exited holder is reclaimed at once");
    // SAFETY: the child is ours to stop.
    unsafe { libc::kill(child, libc::SIGKILL) };
}

#[test]
fn a_fork_in_this_process_gives_the_child_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("fork-self");
    let file = dir.join("s.jsonl");
    let guard = acquire(&file, &once()).unwrap();
    let parent_nonce = instance_nonce();
    let (mut read_end, mut write_end) = std::io::pipe().unwrap();
    // Forked by a thread of its own, the process's newest: under qemu-user (7.2) a child forked
    // by an older thread of a threaded process aborts when it starts a thread (as its first
    // acquire does), because the emulator hands it the CPU index of one of the parent's other
    // threads.
    let forked = std::thread::spawn(move || {
        // SAFETY: the child only calls the library and writes one byte before _exit.
        let child = unsafe { libc::fork() };
        if child == 0 {
            use std::io::Write;
            let fresh_nonce = instance_nonce() != parent_nonce;
            let sees_busy = acquire(&file, &once()).is_err();
            let code = u8::from(fresh_nonce) | u8::from(sees_busy) << 1;
            let _ = write_end.write_all(&[code]);
            unsafe { libc::_exit(0) };
        }
        child
    });
    let child = forked.join().unwrap();
    assert!(child > 0, "fork failed");
    let mut code = [0u8];
    use std::io::Read;
    read_end
        .read_exact(&mut code)
        .expect("the child ended without an answer");
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(child, &mut status, 0) };
    assert_eq!(code[0] & 1, 1, "the child has a new nonce");
    assert_eq!(code[0] & 2, 2, "the child does not hold the parent's lock");
    assert!(
        guard.is_held() && guard.lock_path().exists(),
        "the parent still holds it"
    );
}

#[test]
fn threads_of_one_process_join_a_reentrant_lock_and_exclude_otherwise() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("threads");
    let file = dir.join("s.jsonl");
    let barrier = std::sync::Barrier::new(8);
    let reentrant = Options {
        timeout: Some(Duration::from_secs(5)),
        allow_reentrant: true,
        ..Options::default()
    };
    let generations: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let guard = acquire(&file, &reentrant).expect("reentrant threads all get it");
                    let generation = guard.generation();
                    std::mem::forget(guard); // keep the hold until release_all below
                    generation
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        generations.windows(2).all(|w| w[0] == w[1]),
        "one hold, joined by all: {generations:?}"
    );
    assert_eq!(release_all(), 1);

    let exclusive = Options {
        timeout: Some(Duration::from_secs(10)),
        allow_reentrant: false,
        ..Options::default()
    };
    let inside = std::sync::atomic::AtomicUsize::new(0);
    let violations = std::sync::atomic::AtomicUsize::new(0);
    let before = stats();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                barrier.wait();
                for _ in 0..50 {
                    let guard =
                        acquire(&file, &exclusive).expect("exclusive threads all get it in turn");
                    if inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst) != 0 {
                        violations.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    std::thread::yield_now();
                    inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    drop(guard);
                }
            });
        }
    });
    assert_eq!(
        violations.into_inner(),
        0,
        "two threads held a non-reentrant lock at once"
    );
    // Each hand-off between threads is told to the lock service by the release itself
    // (docs/PROTOCOL.md, "Waiting"): none waits for a timed look. A hand-off that did (polling,
    // or the safety re-inspection) would still be granted within the timeout, only slowly, so
    // the counters decide: the few safety checks of a long run (1 s, then 16 s later) are far
    // fewer than one timed look per ten waits.
    let after = stats();
    let waits = after.waits - before.waits;
    let timed = after.timer_reinspections - before.timer_reinspections;
    assert!(
        waits > 0,
        "the threads had to wait for each other: {before:?} -> {after:?}"
    );
    assert!(
        timed * 10 < waits,
        "hand-offs found by timed looks ({timed} for {waits} waits): {before:?} -> {after:?}"
    );
}

/// Whether `pid` has the file at `path` open (compared by inode: a lock file made without a
/// name shows another one in /proc).
fn has_file_open(pid: u32, path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let want = std::fs::metadata(path).unwrap();
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|fd| std::fs::metadata(fd.path()).ok())
        .any(|m| m.dev() == want.dev() && m.ino() == want.ino())
}

/// `LockGuard::spawn_holding` hands its hold's descriptor to that one child (what `session-lock
/// run` does for its command), and nothing else to anyone: not another hold's descriptor, and
/// nothing to a child spawned the ordinary way through fork and exec.
#[test]
fn spawn_holding_hands_one_lock_to_that_child_only() {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("spawn-holding");
    let handed = acquire(dir.join("a.jsonl"), &once()).unwrap();
    let kept = acquire(dir.join("b.jsonl"), &once()).unwrap();
    // Each child runs until its stdin closes.
    let waiting = || {
        let mut sh = Command::new("sh");
        sh.args(["-c", "read line || true"]).stdin(Stdio::piped());
        sh
    };
    let mut holding = handed.spawn_holding(waiting()).unwrap();
    let mut plain = waiting();
    // SAFETY: an empty hook; it makes the spawn fork, so the fork handler runs for it too.
    unsafe { plain.pre_exec(|| Ok(())) };
    let mut plain = plain.spawn().unwrap();

    assert!(
        has_file_open(holding.id(), handed.lock_path()),
        "handed over"
    );
    assert!(
        !has_file_open(holding.id(), kept.lock_path()),
        "another hold"
    );
    assert!(
        !has_file_open(plain.id(), handed.lock_path()),
        "to a plain child"
    );
    assert!(
        !has_file_open(plain.id(), kept.lock_path()),
        "to a plain child"
    );
    for child in [&mut holding, &mut plain] {
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
    }
    assert!(
        handed.is_held() && kept.is_held(),
        "the parent still holds both"
    );
}
