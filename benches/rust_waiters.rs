//! Waiting at scale, from Rust: N waiters on N distinct locks (each in its own directory) in
//! this process, all held by other processes. Prints one JSON line:
//! `{"impl":"swl-rust","waiters":N,"idle_s":S,"idle_cpu_pct":…,"samples":K,"kill_p50_ms":…,
//! "kill_p99_ms":…,"kill_max_ms":…,"settled":true|false}`
//!
//!     cargo bench --bench rust_waiters -- <dir> <waiters> [samples=40] [idle_s=10]
//!
//! - `idle_cpu_pct`: CPU time (user + system, all threads) this process used during `idle_s`
//!   seconds in which nothing happened, as a percentage of one core. The window opens once the
//!   lock service has settled every waiter (each keeps its lock file open; `settled` is false
//!   when that was not seen within 5 s + 1 ms per waiter, and the window opened anyway).
//! - `kill_*`: K of the N locks are held by one process each; one at a time, such a holder is
//!   SIGKILLed and the time until its waiter holds the lock is taken (nearest-rank p50/p99).
//!
//! `--hold <dir> <from> <to>` is this program's own holder mode (locks from..to, then waits
//! for stdin to close). RLIMIT_NOFILE is raised to its hard limit in both modes.

use session_write_lock::{acquire, begin_acquire, Acquisition, Options};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn session_file(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("d{i}")).join("s.jsonl")
}

#[cfg(unix)]
fn raise_nofile() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reading and raising our own soft limit to the hard one.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
    }
}

/// Windows has no descriptor limit of this kind (a process may hold about 16 million handles).
#[cfg(windows)]
fn raise_nofile() {}

#[cfg(unix)]
fn cpu_seconds() -> f64 {
    // SAFETY: a zeroed rusage for the kernel to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// The process's user and kernel time (`GetProcessTimes`).
#[cfg(windows)]
fn cpu_seconds() -> f64 {
    use windows_sys::Win32::Foundation::FILETIME;
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, GetProcessTimes};
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
    // SAFETY: this process's pseudo handle and four FILETIMEs to fill.
    unsafe {
        GetProcessTimes(
            GetCurrentProcess(),
            &mut created,
            &mut exited,
            &mut kernel,
            &mut user,
        )
    };
    let secs = |t: FILETIME| {
        ((u64::from(t.dwHighDateTime) << 32) | u64::from(t.dwLowDateTime)) as f64 / 1e7
    };
    secs(kernel) + secs(user)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn hold(dir: &Path, from: usize, to: usize) {
    let once = Options {
        timeout: Some(Duration::ZERO),
        max_hold: None,
        ..Options::default()
    };
    let guards: Vec<_> = (from..to)
        .map(|i| acquire(session_file(dir, i), &once).expect("hold a free lock"))
        .collect();
    println!("ready");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    std::mem::forget(guards); // exit as a crashed holder would: the files go with the dir
}

fn holder(dir: &Path, from: usize, to: usize) -> Child {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .arg("--hold")
        .arg(dir)
        .args([from.to_string(), to.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn a holder");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("holder's answer");
    assert_eq!(line.trim(), "ready", "holder {from}..{to}");
    child
}

fn nearest_rank(sorted: &[f64], percent: usize) -> f64 {
    sorted[((percent * sorted.len()).div_ceil(100)).max(1) - 1]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    raise_nofile();
    if args.first().map(String::as_str) == Some("--hold") {
        let n = |k: usize| args[k].parse().expect("a lock index");
        return hold(Path::new(&args[1]), n(2), n(3));
    }
    let dir = PathBuf::from(
        args.first()
            .expect("usage: <dir> <waiters> [samples] [idle_s]"),
    );
    let waiters: usize = args.get(1).and_then(|n| n.parse().ok()).expect("waiters");
    let samples: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(40);
    let idle_s: u64 = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(10);
    let samples = samples.min(waiters);
    for i in 0..waiters {
        std::fs::create_dir_all(session_file(&dir, i).parent().expect("a dir")).expect("mkdir");
    }
    let mut victims: Vec<Child> = (0..samples).map(|i| holder(&dir, i, i + 1)).collect();
    let mut rest = holder(&dir, samples, waiters);

    let base_fds = open_fds();
    let forever = Options {
        timeout: None,
        allow_reentrant: false,
        ..Options::default()
    };
    let (tx, rx) = mpsc::channel::<(usize, Instant)>();
    for i in 0..waiters {
        let tx = tx.clone();
        let on_wait = move || {
            move |result: Result<session_write_lock::LockGuard, session_write_lock::Error>| {
                let at = Instant::now();
                std::mem::forget(result.expect("a waiter gets its lock"));
                let _ = tx.send((i, at));
            }
        };
        let waiting = begin_acquire(&session_file(&dir, i), &forever, on_wait);
        assert!(matches!(waiting, Acquisition::Waiting), "lock {i} is held");
    }
    let settle_by = Instant::now() + Duration::from_secs(5) + Duration::from_millis(waiters as u64);
    let settled = loop {
        if open_fds() >= base_fds + waiters {
            break true;
        }
        if Instant::now() > settle_by {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };

    let cpu_before = cpu_seconds();
    let idle_started = Instant::now();
    std::thread::sleep(Duration::from_secs(idle_s));
    let idle_cpu_pct = (cpu_seconds() - cpu_before) / idle_started.elapsed().as_secs_f64() * 100.0;

    let mut latencies = Vec::with_capacity(samples);
    for (i, victim) in victims.iter_mut().enumerate() {
        let killed = Instant::now();
        victim.kill().expect("kill a holder");
        let (got, at) = rx.recv().expect("a waiter's answer");
        assert_eq!(got, i, "only the killed holder's waiter is served");
        latencies.push(at.duration_since(killed).as_secs_f64() * 1e3);
        victim.wait().expect("reap");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = rest.kill();
    let _ = rest.wait();
    latencies.sort_by(f64::total_cmp);
    println!(
        r#"{{"impl":"swl-rust","waiters":{waiters},"idle_s":{idle_s},"idle_cpu_pct":{idle_cpu_pct:.3},"samples":{samples},"kill_p50_ms":{:.3},"kill_p99_ms":{:.3},"kill_max_ms":{:.3},"settled":{settled}}}"#,
        nearest_rank(&latencies, 50),
        nearest_rank(&latencies, 99),
        latencies.last().copied().unwrap_or(f64::NAN),
    );
    std::process::exit(0); // the other waiters wait forever; their files go with the dir
}
