//! A child forked by another thread shares this process's open files until it execs or exits.
//! The flock an inspection takes only to look must not stay held by such a child: other
//! processes would see a live holder on a stale lock and wait (or report busy) for nothing.
//! Found under qemu-aarch64, where a child's way from fork to exec is long.

mod common;

use common::{dead_pid, TempDir};
use session_write_lock::{acquire, inspect, Options};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const STALE: Duration = Duration::from_secs(30 * 60);
/// Forks land inside an inspection's few microseconds about once in a hundred rounds: this many
/// seconds of rounds make a pass by luck (no fork landing there) very unlikely.
const ROUNDS_FOR: Duration = Duration::from_secs(2);

#[test]
fn a_child_forked_meanwhile_does_not_keep_an_inspections_flock() {
    let dir = TempDir::new("fork-race");
    let stop = Arc::new(AtomicBool::new(false));
    let forker = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut forks = 0u32;
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: the child only sleeps (a slow way to exec) and exits.
                let pid = unsafe { libc::fork() };
                if pid == 0 {
                    unsafe {
                        libc::usleep(2000);
                        libc::_exit(0);
                    }
                }
                assert!(pid > 0, "fork failed");
                // SAFETY: waiting for our own child.
                unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
                forks += 1;
            }
            forks
        })
    };
    let once = Options {
        timeout: Some(Duration::ZERO),
        allow_reentrant: false,
        ..Options::default()
    };
    let (mut rounds, mut busy) = (0u32, Vec::new());
    let started = Instant::now();
    while started.elapsed() < ROUNDS_FOR {
        let file = dir.join(&format!("s{rounds}.jsonl"));
        let lock = dir.join(&format!("s{rounds}.jsonl.lock"));
        // A TypeScript-format lock of a dead process: stale by its pid alone.
        let payload = format!(
            r#"{{"pid":{},"createdAt":"2099-01-01T00:00:00.000Z"}}"#,
            dead_pid()
        );
        std::fs::write(&lock, payload).unwrap();
        let seen = inspect(&file, STALE).unwrap().unwrap();
        assert!(seen.stale, "round {rounds}: {seen:?}");
        if let Err(e) = acquire(&file, &once) {
            busy.push(format!("round {rounds}: {e}"));
        }
        rounds += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let forks = forker.join().unwrap();
    println!(
        "{rounds} rounds, {forks} forks meanwhile, {} busy",
        busy.len()
    );
    assert!(forks > 0, "no fork happened during the rounds");
    assert!(busy.is_empty(), "stale locks seen as held: {busy:#?}");
}
