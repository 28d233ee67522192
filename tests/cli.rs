//! The `session-lock` binary driven as a process: status, clean, run, exit codes.
// Unix-only: the CLI's tests drive Unix signals, `sh -c` and flock hand-over; Windows `run` has its own test (tests/windows.rs).
#![cfg(unix)]

mod common;

use common::{dead_pid, Holder, TempDir};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_session-lock"))
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Returns the moment `path` exists (checked every 50 µs); fails after 10 s.
fn wait_for_file(path: &Path, what: &str) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what} never appeared"
        );
        std::thread::sleep(Duration::from_micros(50));
    }
}

fn legacy_dead_lock(dir: &TempDir, name: &str) -> std::path::PathBuf {
    let lock = dir.join(&format!("{name}.jsonl.lock"));
    std::fs::write(
        &lock,
        format!(
            r#"{{"pid":{},"createdAt":"2099-01-01T00:00:00.000Z"}}"#,
            dead_pid()
        ),
    )
    .unwrap();
    lock
}

#[test]
fn status_shows_live_stale_legacy_and_hostile_locks() {
    let dir = TempDir::new("cli-status");
    let holder = Holder::start(&[], &dir.join("live.jsonl"));
    legacy_dead_lock(&dir, "dead");
    std::fs::create_dir(dir.join("dir.jsonl.lock")).unwrap();

    let out = cli(&["status", s(&dir.0)]);
    assert!(out.status.success(), "{}", text(&out));
    let table = text(&out);
    let line = |name: &str| {
        table
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} missing:\n{table}"))
            .to_string()
    };
    assert!(
        line("live.jsonl.lock").contains("alive") && line("live.jsonl.lock").contains("flock"),
        "{table}"
    );
    assert!(
        line("live.jsonl.lock").contains(&holder.child.id().to_string()),
        "{table}"
    );
    assert!(
        line("dead.jsonl.lock").contains("stale: dead-pid")
            && line("dead.jsonl.lock").contains("legacy"),
        "{table}"
    );
    assert!(
        line("dir.jsonl.lock").contains("a directory is in the way")
            && line("dir.jsonl.lock").contains("not-a-file"),
        "{table}"
    );

    let out = cli(&[
        "status",
        "--json",
        s(&dir.join("live.jsonl")),
        s(&dir.join("dead.jsonl.lock")),
    ]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(json[0]["pid"], holder.child.id());
    assert_eq!(json[0]["format"], "flock");
    assert_eq!(json[0]["stale"], false);
    assert_eq!(json[1]["staleReasons"][0], "dead-pid");
    assert!(
        dir.join("dead.jsonl.lock").exists(),
        "status changes nothing"
    );
    holder.release();
}

#[test]
fn clean_removes_stale_locks_and_leaves_live_ones() {
    let dir = TempDir::new("cli-clean");
    let holder = Holder::start(&[], &dir.join("live.jsonl"));
    let dead = legacy_dead_lock(&dir, "dead");
    std::fs::create_dir(dir.join("dir.jsonl.lock")).unwrap();

    let out = cli(&["clean", s(&dir.0), "--dry-run"]);
    assert!(
        out.status.success() && text(&out).contains("would remove") && dead.exists(),
        "{}",
        text(&out)
    );

    let out = cli(&["clean", s(&dir.0), "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["cleaned"].as_array().unwrap().len(), 1);
    assert_eq!(report["cleaned"][0]["staleReasons"][0], "dead-pid");
    assert!(!dead.exists());
    assert!(dir.join("live.jsonl.lock").exists() && dir.join("dir.jsonl.lock").is_dir());
    holder.release();
}

#[test]
fn run_holds_the_lock_and_passes_the_exit_code_through() {
    let dir = TempDir::new("cli-run");
    let file = dir.join("s.jsonl");
    let out = cli(&["run", s(&file), "--", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));

    let mut first = Command::new(env!("CARGO_BIN_EXE_session-lock"))
        .args(["run", s(&file), "--", "sleep", "3"])
        .spawn()
        .unwrap();
    let lock = dir.join("s.jsonl.lock");
    wait_for_file(&lock, "the first run's lock");
    let out = cli(&["run", s(&file), "--timeout-ms", "0", "--", "true"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a concurrent run is excluded: {}",
        text(&out)
    );
    assert!(text(&out).contains("session file locked"), "{}", text(&out));

    // SAFETY: signalling our own child.
    unsafe { libc::kill(first.id() as i32, libc::SIGTERM) };
    let status = first.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(128 + libc::SIGTERM),
        "SIGTERM reached the command"
    );
    assert!(
        !lock.exists(),
        "the lock is released after the command ends"
    );
}

/// A signal sent the moment the lock file appears, before the command may even have started:
/// it must reach the command (never lost, never killing `run` while it holds the lock), and
/// the lock file must be gone once `run` exits. 40 rounds, the four forwarded signals in turn.
#[test]
fn run_forwards_a_signal_sent_the_moment_the_lock_is_taken() {
    let dir = TempDir::new("cli-signal");
    let signals = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT];
    for round in 0..40 {
        let file = dir.join(&format!("s{round}.jsonl"));
        let lock = dir.join(&format!("s{round}.jsonl.lock"));
        let signal = signals[round % signals.len()];
        let mut run = Command::new(env!("CARGO_BIN_EXE_session-lock"));
        run.args(["run", s(&file), "--", "sleep", "30"])
            .stdin(Stdio::null());
        // Whatever this test was started with (a background job ignores SIGINT and SIGQUIT),
        // run starts with the default actions, which it forwards.
        with_dispositions(&mut run, &signals, libc::SIG_DFL);
        let mut run = run.spawn().unwrap();
        wait_for_file(&lock, &format!("round {round}: the lock"));
        // SAFETY: signalling our own child.
        unsafe { libc::kill(run.id() as i32, signal) };
        let status = common::finish_status_within(
            &mut run,
            Duration::from_secs(10),
            &format!("round {round} (signal {signal})"),
        );
        assert_eq!(
            status.code(),
            Some(128 + signal),
            "round {round}: signal {signal} must end the command, and run report it"
        );
        assert!(
            !lock.exists(),
            "round {round}: run left its lock file behind"
        );
    }
}

/// Sets the action of `signals` in the spawned program, before it starts.
fn with_dispositions(command: &mut Command, signals: &[libc::c_int], action: libc::sighandler_t) {
    use std::os::unix::process::CommandExt;
    let signals = signals.to_vec();
    // SAFETY: signal(2) is async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            for &signal in &signals {
                libc::signal(signal, action);
            }
            Ok(())
        })
    };
}

#[test]
fn usage_and_io_errors_have_their_exit_codes() {
    let dir = TempDir::new("cli-errors");
    for args in [
        &[][..],
        &["frobnicate"],
        &["status"],
        &["run", "x"],
        &["clean", "a", "b"],
        &["run", "x", "--timeout-ms", "soon", "--", "true"],
        &["run", "x", "--timeout-ms", "-5", "--", "true"],
    ] {
        let out = cli(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(
            text(&out).contains("usage:") || text(&out).contains("invalid"),
            "{args:?}: {}",
            text(&out)
        );
    }
    // A value the library rejects is named as the flag that gave it.
    let out = cli(&["clean", s(&dir.join("")), "--stale-ms", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("invalid --stale-ms: must be greater than 0"),
        "{}",
        text(&out)
    );
    let file = dir.join("plain");
    std::fs::write(&file, "x").unwrap();
    let out = cli(&["clean", s(&file)]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out).contains("ENOTDIR") && text(&out).contains("plain"),
        "{}",
        text(&out)
    );
    let out = cli(&["run", s(&file.join("s.jsonl")), "--", "true"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    for sub in ["status", "clean", "run"] {
        let out = Command::new(env!("CARGO_BIN_EXE_session-lock"))
            .args([sub, "--help"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success() && text(&out).starts_with(&format!("usage: session-lock {sub}")),
            "{}",
            text(&out)
        );
    }
}

#[test]
fn version_prints_the_crate_version() {
    for flag in ["--version", "-V"] {
        let out = cli(&[flag]);
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("session-lock {}", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn run_takes_the_flags_of_flock() {
    let dir = TempDir::new("cli-flock-flags");
    let file = dir.join("s.jsonl");
    // -c runs a shell command; its exit code passes through.
    let out = cli(&["run", s(&file), "-c", "echo in-lock; exit 5"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(text(&out).contains("in-lock"));

    let ran = dir.join("ran");
    let touch = format!("touch '{}'", s(&ran));
    let holder = Holder::start(&[], &file);
    // -n: no wait; busy is exit 1, or the -E code (both spellings of each flag).
    for args in [["-n"].as_slice(), &["--nonblock"]] {
        let out = cli(&[&["run", s(&file)], args, &["--", "true"]].concat());
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("session file locked"), "{}", text(&out));
    }
    for args in [
        ["-n", "-E", "42"].as_slice(),
        &["-n", "-E42"],
        &["--nonblock", "--conflict-exit-code=42"],
    ] {
        let out = cli(&[&["run", s(&file)], args, &["-c", &touch]].concat());
        assert_eq!(out.status.code(), Some(42), "{args:?}: {}", text(&out));
    }
    assert!(!ran.exists(), "a command ran without the lock");
    // -w SECONDS waits that long, then gives up.
    let started = Instant::now();
    let out = cli(&["run", s(&file), "-w", "0.3", "-E", "9", "--", "true"]);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out));
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "-w 0.3 did not wait"
    );
    holder.release();
    // Free again: -w and -n acquire at once.
    let out = cli(&["run", s(&file), "-w", "5", "--", "true"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = cli(&["run", s(&file), "-n", "-E", "42", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    for bad in [
        &["run", s(&file), "-n", "-w", "1", "--", "true"][..],
        &[
            "run",
            s(&file),
            "-w",
            "1",
            "--timeout-ms",
            "5",
            "--",
            "true",
        ],
        &["run", s(&file), "-w", "soon", "--", "true"],
        &["run", s(&file), "-w", "-1", "--", "true"],
        &["run", s(&file), "-E", "256", "--", "true"],
        &["run", s(&file), "-c", "true", "--", "true"],
        &["run", s(&file), "-c"],
        &["run", s(&file)],
    ] {
        let out = cli(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out));
    }
}

#[test]
fn status_of_a_path_that_does_not_exist_is_an_error() {
    let dir = TempDir::new("cli-status-missing");
    for missing in ["nope.jsonl", "nope.jsonl.lock", "no-dir"] {
        let out = cli(&["status", s(&dir.join(missing))]);
        assert_eq!(out.status.code(), Some(3), "{missing}: {}", text(&out));
        assert!(text(&out).contains("ENOENT"), "{}", text(&out));
    }
    // An existing session file without a lock is free, and a lock is shown even when its
    // session file was never written.
    std::fs::write(dir.join("free.jsonl"), "").unwrap();
    let out = cli(&["status", s(&dir.join("free.jsonl"))]);
    assert!(
        out.status.success() && text(&out).contains("(free)"),
        "{}",
        text(&out)
    );
    let holder = Holder::start(&[], &dir.join("held.jsonl"));
    let out = cli(&["status", s(&dir.join("held.jsonl"))]);
    assert!(
        out.status.success() && text(&out).contains("alive"),
        "{}",
        text(&out)
    );
    // One missing path among others: the others are shown, the exit code says 3.
    let out = cli(&[
        "status",
        s(&dir.join("held.jsonl")),
        s(&dir.join("nope.jsonl")),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("alive"), "{}", text(&out));
    holder.release();
}

/// A reader that closes the pipe early (`session-lock status … | head -0`) ends the CLI the
/// way it ends other Unix tools, by SIGPIPE, never by a panic on EPIPE.
#[test]
fn a_closed_stdout_ends_status_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let dir = TempDir::new("cli-epipe");
    // Enough lines that the output cannot fit in what was written before the pipe closed.
    let files: Vec<String> = (0..2000)
        .map(|i| {
            let file = dir.join(&format!("s{i}.jsonl"));
            std::fs::write(&file, "").unwrap();
            s(&file).to_string()
        })
        .collect();
    let mut fds = [0; 2];
    // SAFETY: a fresh pipe; both ends are owned below.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: closing the read end at once: every write to the other end fails with EPIPE.
    unsafe { libc::close(fds[0]) };
    // SAFETY: the write end becomes the child's stdout and is closed here by the Stdio.
    let stdout = unsafe { <Stdio as std::os::fd::FromRawFd>::from_raw_fd(fds[1]) };
    let out = Command::new(env!("CARGO_BIN_EXE_session-lock"))
        .arg("status")
        .args(&files)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{stderr}");
}

/// `session-lock` run with raw byte arguments.
fn cli_os(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_session-lock"))
        .args(args)
        .output()
        .unwrap()
}

fn os(bytes: &[u8]) -> &std::ffi::OsStr {
    std::os::unix::ffi::OsStrExt::from_bytes(bytes)
}

/// No ESC, BEL, CSI, OSC or other control character but the newlines of the output.
fn assert_no_controls(what: &str, out: &Output) {
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        let bad: Vec<char> = text
            .chars()
            .filter(|c| c.is_control() && *c != '\n')
            .collect();
        assert!(bad.is_empty(), "{what} printed {bad:?} raw:\n{text}");
    }
}

#[test]
fn text_from_lock_files_reaches_the_terminal_escaped() {
    let dir = TempDir::new("cli-escape");
    // A lock of a live process (this test), its host name and label set by its writer, and a
    // file name chosen by whoever can create files in the directory.
    let name = "a\x1b]52;c;ZXZpbA==\x07\u{9b}2J.jsonl".as_bytes();
    let session = dir.0.join(os(name));
    let mut lock = session.clone().into_os_string();
    lock.push(".lock");
    std::fs::write(
        &lock,
        format!(
            r#"{{"pid":{},"createdAt":"{}","hostname":"\u001b[2Jevil\u0085","owner":"\u009b31mred"}}"#,
            std::process::id(),
            iso_now(),
        ),
    )
    .unwrap();

    let out = cli(&["status", s(&dir.0)]);
    assert!(out.status.success(), "{}", text(&out));
    assert_no_controls("status", &out);
    let table = text(&out);
    assert!(
        table.contains(r"a\x1b]52;c;ZXZpbA==\x07\u{9b}2J.jsonl.lock"),
        "{table}"
    );
    assert!(table.contains(r"\x1b[2Jevil\u{85}"), "{table}");
    assert!(table.contains(r"\u{9b}31mred"), "{table}");

    // The busy error names the holder's host and the lock file.
    let out = cli_os(&[
        os(b"run"),
        session.as_os_str(),
        os(b"-n"),
        os(b"--"),
        os(b"true"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_no_controls("a busy error", &out);
    assert!(
        text(&out).contains(r"host=\x1b[2Jevil\u{85}") && text(&out).contains(r"\x07\u{9b}2J"),
        "{}",
        text(&out)
    );
}

fn iso_now() -> String {
    session_write_lock::testing::iso_time::format(std::time::SystemTime::now())
}

#[test]
fn paths_are_bytes_not_text() {
    let dir = TempDir::new("cli-bytes");
    let sub = dir.0.join(os(b"sessions-\xff\xfe"));
    std::fs::create_dir(&sub).unwrap();
    let session = sub.join(os(b"s\xe9.jsonl"));
    let mut lock = session.clone().into_os_string();
    lock.push(".lock");
    let out = cli_os(&[
        os(b"run"),
        session.as_os_str(),
        os(b"--"),
        os(b"sh"),
        os(b"-c"),
        os(b"test -e \"$0\""),
        &lock,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "run held no lock named by the bytes given: {}",
        text(&out)
    );
    // A dead holder's lock with such a name is shown (escaped) and cleaned.
    let dead = sub.join(os(b"d\xff.jsonl.lock"));
    std::fs::write(
        &dead,
        format!(r#"{{"pid":{},"createdAt":"{}"}}"#, dead_pid(), iso_now()),
    )
    .unwrap();
    let out = cli_os(&[os(b"status"), sub.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("stale: dead-pid"), "{}", text(&out));
    assert_no_controls("status", &out);
    let out = cli_os(&[os(b"clean"), sub.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!dead.exists(), "{}", text(&out));
    // An option value that must be text is a usage error, not a crash.
    let out = cli_os(&[
        os(b"clean"),
        sub.as_os_str(),
        os(b"--stale-ms"),
        os(b"1\xff"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains(r"got '1\xff'"), "{}", text(&out));
}

#[test]
fn run_rejects_an_unknown_option_instead_of_locking_it() {
    let dir = TempDir::new("cli-unknown");
    for option in ["-x", "--frob", "-"] {
        let out = Command::new(env!("CARGO_BIN_EXE_session-lock"))
            .current_dir(&dir.0)
            .args(["run", option, "--", "true"])
            .output()
            .unwrap();
        if option == "-" {
            // A lone `-` is a file name, as for other tools.
            assert_eq!(out.status.code(), Some(0), "{}", text(&out));
            continue;
        }
        assert_eq!(out.status.code(), Some(2), "{option}: {}", text(&out));
        assert!(
            text(&out).contains(&format!("unknown option '{option}'"))
                && text(&out).contains("usage:"),
            "{}",
            text(&out)
        );
    }
    let left: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "run left {left:?}");
}

#[test]
fn run_waits_forever_with_w_inf() {
    let dir = TempDir::new("cli-inf");
    let file = dir.join("s.jsonl");
    for value in ["inf", "Infinity"] {
        let out = cli(&["run", s(&file), "-w", value, "--", "true"]);
        assert_eq!(out.status.code(), Some(0), "-w {value}: {}", text(&out));
    }
    let out = cli(&["run", s(&file), "-w", "1e300", "--", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("-w is too large (use 'inf' to wait forever), got '1e300'"),
        "{}",
        text(&out)
    );
    let out = cli(&["run", s(&file), "-w", "-1", "--", "true"]);
    assert!(
        text(&out).contains("-w needs a number of seconds >= 0 (or 'inf'), got '-1'"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_signal_during_the_wait_ends_run_at_once() {
    let dir = TempDir::new("cli-signal-wait");
    let file = dir.join("s.jsonl");
    let lock = dir.join("s.jsonl.lock");
    let marker = dir.join("started");
    let holder = Holder::start(&[], &file);
    let signals = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];
    for signal in signals {
        let mut run = Command::new(env!("CARGO_BIN_EXE_session-lock"));
        run.args([
            "run",
            s(&file),
            "--timeout-ms",
            "Infinity",
            "--",
            "touch",
            s(&marker),
        ])
        .stdin(Stdio::null());
        with_dispositions(&mut run, &signals, libc::SIG_DFL);
        let mut run = run.spawn().unwrap();
        // The handshake: run's lock service watches the held lock file.
        common::until("run waits for the lock", || {
            common::waits_on_file(run.id(), &lock)
        });
        // SAFETY: signalling our own child.
        unsafe { libc::kill(run.id() as i32, signal) };
        let status = common::finish_status_within(
            &mut run,
            Duration::from_secs(10),
            &format!("run waiting, signal {signal}"),
        );
        assert_eq!(status.code(), Some(128 + signal), "signal {signal}");
        assert!(!marker.exists(), "signal {signal}: the command was started");
    }
    let left: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["s.jsonl.lock"], "only the holder's lock is left");
    holder.release();
}

#[test]
fn a_flock_squatted_on_a_dead_holders_file_reads_as_dead() {
    let dir = TempDir::new("cli-squat");
    let holder = Holder::start(&[], &dir.join("live.jsonl"));
    let payload = std::fs::read_to_string(dir.join("live.jsonl.lock")).unwrap();
    let live_pid = format!(r#""pid":{}"#, holder.pid_seen_inside);
    assert!(payload.contains(&live_pid), "{payload}");
    // The same file of a holder that has died, its flock now taken by someone else.
    let squatted = dir.join("dead.jsonl.lock");
    std::fs::write(
        &squatted,
        payload.replace(&live_pid, &format!(r#""pid":{}"#, dead_pid())),
    )
    .unwrap();
    let file = std::fs::File::open(&squatted).unwrap();
    // SAFETY: flock on a descriptor we own.
    assert_eq!(
        unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&file), libc::LOCK_EX) },
        0
    );

    let out = cli(&["status", s(&squatted), "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen[0]["pidAlive"], false, "{seen}");
    let owner = seen[0]["owner"].as_str().unwrap();
    assert!(
        owner.starts_with(&format!("pid={} alive=false", dead_pid()))
            && owner.contains("locked by another process"),
        "{owner}"
    );
    // Still never removed: whoever holds the flock holds the lock.
    assert!(!seen[0]["removable"].as_bool().unwrap(), "{seen}");
    let out = cli(&["run", s(&dir.join("dead.jsonl")), "-n", "--", "true"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("alive=false"), "{}", text(&out));
    drop(file);
    holder.release();
}

#[test]
fn one_bad_file_never_stops_clean_or_status() {
    let test = "cli::one_bad_file_never_stops_clean_or_status";
    // Root may unlink and read anything: the sweep runs as nobody, files made by root.
    let Some(prefix) = common::unprivileged_prefix(test) else {
        return;
    };
    if prefix.is_empty() {
        common::skip(
            test,
            "needs root to make files the sweep may not remove or read",
        );
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("cli-bad-file");
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A sticky directory everyone may write to, as /tmp.
    let shared = dir.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let dead = |name: &str, mode: u32, ours: bool| {
        let lock = shared.join(name);
        std::fs::write(
            &lock,
            format!(r#"{{"pid":{},"createdAt":"{}"}}"#, dead_pid(), iso_now()),
        )
        .unwrap();
        std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(mode)).unwrap();
        if ours {
            std::os::unix::fs::chown(&lock, Some(65534), Some(65534)).unwrap();
        }
        lock
    };
    // Sorted first, so that a sweep that stops at the first failure never reaches the last.
    let undeletable = dead("a-undeletable.jsonl.lock", 0o644, false);
    let unreadable = dead("b-unreadable.jsonl.lock", 0o000, false);
    let removable = dead("c-removable.jsonl.lock", 0o644, true);
    let as_nobody = |args: &[&str]| {
        Command::new(prefix[0])
            .args(&prefix[1..])
            .arg(env!("CARGO_BIN_EXE_session-lock"))
            .args(args)
            .output()
            .unwrap()
    };

    let out = as_nobody(&["status", s(&shared)]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(
        table.contains("a-undeletable") && table.contains("c-removable"),
        "{}",
        text(&out)
    );
    assert!(
        errors.contains("EACCES") && errors.contains("b-unreadable"),
        "{}",
        text(&out)
    );

    let out = as_nobody(&["clean", s(&shared), "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failed: Vec<(&str, &str)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["lockPath"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        failed,
        [(s(&undeletable), "EPERM"), (s(&unreadable), "EACCES")],
        "{report}"
    );
    assert_eq!(report["cleaned"][0]["lockPath"], s(&removable), "{report}");
    assert!(!removable.exists() && undeletable.exists() && unreadable.exists());

    dead("c-removable.jsonl.lock", 0o644, true);
    let out = as_nobody(&["clean", s(&shared)]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains(
            "1 of 1 lock(s) removed; live locks left alone; 2 could not be inspected or removed"
        ),
        "{}",
        text(&out)
    );
    assert!(!removable.exists());
}

/// `pid` is running: it exists and is not a zombie (whose descriptors are all closed).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(") ")
            .next()
            .is_some_and(|s| !s.starts_with('Z'))
    })
}

/// As with flock(1), `run`'s command holds the lock for its whole life: when `run` itself is
/// SIGKILLed (the OOM killer), the command goes on running with the lock's descriptor, so the
/// lock stays busy for another `run` (a single try or a wait), `status` never calls it
/// removable and `clean` leaves it, though the pid in the file is dead. Once the command ends
/// too, a single try reclaims the file at once.
#[test]
fn a_killed_run_leaves_the_lock_held_by_its_command() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;
    let dir = TempDir::new("cli-orphan");
    let file = dir.join("s.jsonl");
    let lock = dir.join("s.jsonl.lock");
    // The command says its pid, then runs until its stdin closes.
    let mut run = Command::new(env!("CARGO_BIN_EXE_session-lock"))
        .args(["run", s(&file), "--", "sh", "-c", "echo $$; read line"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    std::io::BufReader::new(run.stdout.take().unwrap())
        .read_line(&mut said)
        .unwrap();
    let command: u32 = said.trim().parse().unwrap();
    // Kept apart: waiting for run would close it.
    let stdin = run.stdin.take();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(run.id() as i32, libc::SIGKILL) };
    assert_eq!(run.wait().unwrap().signal(), Some(libc::SIGKILL));
    assert!(running(command), "the command outlives run");

    let out = cli(&["run", s(&file), "-n", "--", "true"]);
    assert_eq!(out.status.code(), Some(1), "two runners: {}", text(&out));
    assert!(
        text(&out).contains("alive=false") && text(&out).contains("locked by another process"),
        "{}",
        text(&out)
    );
    let out = cli(&["run", s(&file), "-w", "0.2", "--", "true"]);
    assert_eq!(out.status.code(), Some(1), "a waiter: {}", text(&out));
    let out = cli(&["status", s(&lock), "--json"]);
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen[0]["pidAlive"], false, "{seen}");
    assert_eq!(seen[0]["removable"], false, "{seen}");
    let out = cli(&["clean", s(&dir.0)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(lock.exists(), "clean removed a held lock: {}", text(&out));
    assert!(running(command), "the command ran through all of this");

    drop(stdin);
    common::until("the command has ended", || !running(command));
    let out = cli(&["run", s(&file), "-n", "--", "true"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!lock.exists(), "the reclaiming run released its lock");
}

/// As in flock(1), `run FILE CMD [ARGS...]` needs no `--`: the first argument after FILE that
/// is not an option starts the command, and options after it are the command's.
#[test]
fn run_starts_the_command_at_its_first_word_as_flock_does() {
    let dir = TempDir::new("cli-no-dashes");
    let file = dir.join("s.jsonl");
    let said = |out: &Output| String::from_utf8_lossy(&out.stdout).into_owned();
    // `-c` is the shell's, `--` and `-n` its arguments: none of them is run's.
    let out = cli(&[
        "run",
        s(&file),
        "sh",
        "-c",
        r#"echo "$0 $1"; exit 4"#,
        "--",
        "-n",
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(said(&out), "-- -n\n");
    // run's options go before FILE or between FILE and the command.
    let out = cli(&["run", "-E", "9", s(&file), "-w", "1", "echo", "-n", "x"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(said(&out), "x");

    let holder = Holder::start(&[], &file);
    let ran = dir.join("ran");
    let out = cli(&["run", s(&file), "-n", "touch", s(&ran)]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!ran.exists(), "a command ran without the lock");
    holder.release();
    let out = cli(&["run", s(&file), "-c", "true", "touch", s(&ran)]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "-c and a command: {}",
        text(&out)
    );
    assert!(text(&out).contains("give either -c CMD or CMD [ARGS...], not both"));
}

/// Status and clean without `--pattern` look at the session locks and every other lock file
/// this library wrote (known by its content), never another program's; `--pattern` selects
/// by name, and another program's files are kept unless `--foreign` opts into a rule.
#[test]
fn status_and_clean_select_our_files_or_a_pattern() {
    let dir = TempDir::new("cli-pattern");
    let holder = Holder::start(&[], &dir.join("data.txt"));
    // A file of ours whose holder is gone: a copy of a live lock file nobody holds a flock on.
    let crashed = dir.join("crashed.txt.lock");
    std::fs::copy(dir.join("data.txt.lock"), &crashed).unwrap();
    let old = legacy_dead_lock(&dir, "old");
    let mailbox = dir.join("mailbox.lock");
    std::fs::write(&mailbox, format!("{}\n", dead_pid())).unwrap();
    let forty_s_ago = std::time::SystemTime::now() - Duration::from_secs(40);
    std::fs::File::options()
        .write(true)
        .open(&mailbox)
        .unwrap()
        .set_modified(forty_s_ago)
        .unwrap();
    let names = |out: &Output| -> Vec<(String, String, bool)> {
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
        let mut seen: Vec<_> = json
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let path = i["lockPath"].as_str().unwrap();
                let name = Path::new(path).file_name().unwrap().to_str().unwrap();
                let format = i["format"].as_str().unwrap().to_string();
                (name.to_string(), format, i["removable"].as_bool().unwrap())
            })
            .collect();
        seen.sort();
        seen
    };
    let row = |name: &str, format: &str, removable: bool| (name.into(), format.into(), removable);

    let out = cli(&["status", s(&dir.0), "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        names(&out),
        vec![
            row("crashed.txt.lock", "flock", true),
            row("data.txt.lock", "flock", false),
            row("old.jsonl.lock", "legacy", true),
        ],
        "ours and the session locks, not mailbox.lock"
    );
    let out = cli(&["status", s(&dir.0), "--json", "--pattern", "*.lock"]);
    let seen = names(&out);
    assert!(
        seen.contains(&row("mailbox.lock", "dotlock", false)),
        "{seen:?}"
    );
    assert!(
        seen.contains(&row("old.jsonl.lock", "legacy", false)),
        "kept under --pattern: {seen:?}"
    );
    let out = cli(&[
        "status",
        s(&dir.0),
        "--pattern",
        "mail*",
        "--foreign",
        "dotlock",
    ]);
    assert!(text(&out).contains("stale: dead-pid"), "{}", text(&out));

    let out = cli(&["clean", s(&dir.0)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!crashed.exists() && !old.exists(), "{}", text(&out));
    assert!(mailbox.exists(), "another program's file is not touched");
    assert!(
        dir.join("data.txt.lock").exists(),
        "a live lock is never removed"
    );

    let out = cli(&["clean", s(&dir.0), "--pattern", "mail*"]);
    assert!(out.status.success() && mailbox.exists(), "{}", text(&out));
    let clean_mail =
        |rule: &str| cli(&["clean", s(&dir.0), "--pattern", "mail*", "--foreign", rule]);
    let out = clean_mail("delete");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("--foreign must be one of"),
        "{}",
        text(&out)
    );
    let out = clean_mail("dotlock");
    assert!(out.status.success() && !mailbox.exists(), "{}", text(&out));
    assert!(dir.join("data.txt.lock").exists());
    holder.release();
}
