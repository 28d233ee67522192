//! Lock files of other programs under each rule for them (`Options::foreign`, docs/PROTOCOL.md,
//! "Files of other programs"): with `keep` none is deleted, not even the issue's 40 s old
//! liblockfile `mailbox.lock`; with `dotlock` a dotlock of a dead pid is taken over and one of a
//! live pid is reported with its pid; the default (the gateway's rules) is unchanged.

mod common;

use common::{dead_pid, write_aged_lock, TempDir};
use session_write_lock::{
    acquire, clean_stale, inspect_with, CleanOptions, Error, Foreign, Format, Found, Options,
};
use std::process::{Child, Command};
use std::time::Duration;

fn once(foreign: Foreign) -> Options {
    Options {
        timeout: Some(Duration::ZERO),
        foreign,
        ..Options::default()
    }
}

struct Sleeper(Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sleeper() -> Sleeper {
    Sleeper(Command::new("sleep").arg("30").spawn().unwrap())
}

/// The holder a busy error names: (pid, alive).
fn busy_holder(result: Result<session_write_lock::LockGuard, Error>) -> (Option<u32>, bool) {
    match result {
        Err(Error::Busy { holder, .. }) => (holder.pid, holder.pid_alive),
        Err(e) => panic!("expected busy, got {e}"),
        Ok(_) => panic!("expected busy, got the lock"),
    }
}

#[test]
fn keep_never_deletes_a_file_of_another_program() {
    let dir = TempDir::new("foreign-keep");
    let forty_s = Duration::from_secs(40);
    let rows: [(&str, String); 4] = [
        ("mailbox", format!("{}\n", dead_pid())),
        ("empty", String::new()),
        ("garbage", "not a lock file".into()),
        (
            "gateway-style",
            format!(
                r#"{{"pid":{},"createdAt":"2020-01-01T00:00:00.000Z"}}"#,
                dead_pid()
            ),
        ),
    ];
    for (name, content) in rows {
        // Named as the sweep's files are, so that the sweep below looks at them too.
        let file = dir.join(&format!("{name}.jsonl"));
        let lock = write_aged_lock(&file, content.as_bytes(), forty_s);
        busy_holder(acquire(&file, &once(Foreign::Keep)));
        assert_eq!(std::fs::read(&lock).unwrap(), content.as_bytes(), "{name}");
    }
    let swept = clean_stale(
        &dir.0,
        &CleanOptions {
            foreign: Foreign::Keep,
            ..CleanOptions::default()
        },
    )
    .unwrap();
    assert_eq!(swept.locks.len(), 4, "{:?}", swept.locks);
    assert!(swept.cleaned.is_empty(), "{:?}", swept.cleaned);
    // The gateway's rules (the default) still reclaim the 40 s old mailbox.lock: unchanged.
    let mailbox = dir.join("mailbox.jsonl");
    acquire(&mailbox, &once(Foreign::Gateway))
        .unwrap()
        .release()
        .unwrap();
}

#[test]
fn a_live_process_that_is_not_the_gateway_keeps_its_json_lock() {
    let dir = TempDir::new("foreign-json");
    let live = sleeper();
    let file = dir.join("state");
    let content = format!(
        r#"{{"pid":{},"createdAt":"2020-01-01T00:00:00.000Z"}}"#,
        live.0.id()
    );
    let lock = write_aged_lock(&file, content.as_bytes(), Duration::ZERO);
    for rule in [Foreign::Keep, Foreign::Dotlock] {
        let (pid, alive) = busy_holder(acquire(&file, &once(rule)));
        assert_eq!((pid, alive), (Some(live.0.id()), true), "{rule}");
        assert!(lock.exists(), "{rule}");
    }
}

#[test]
fn dotlocks_are_read_as_dotlocks() {
    let dir = TempDir::new("foreign-dotlock");
    let live = sleeper();
    let held = dir.join("held");
    let held_lock = write_aged_lock(
        &held,
        format!("{}\n", live.0.id()).as_bytes(),
        Duration::ZERO,
    );
    for rule in [Foreign::Keep, Foreign::Dotlock] {
        assert_eq!(
            busy_holder(acquire(&held, &once(rule))),
            (Some(live.0.id()), true),
            "{rule}: reported as a holder with its pid"
        );
        let seen = inspect_with(
            &held,
            &CleanOptions {
                foreign: rule,
                ..CleanOptions::default()
            },
        )
        .unwrap()
        .unwrap();
        assert_eq!(seen.format, Found::Lock(Format::Dotlock), "{rule}");
        assert_eq!(
            (seen.pid, seen.pid_alive, seen.removable),
            (Some(live.0.id()), true, false)
        );
    }
    assert!(held_lock.exists());
    // A dead pid: kept by `keep`, taken over at once by `dotlock` (UUCP's padded form too).
    for (name, content) in [
        ("dead", format!("{}\n", dead_pid())),
        ("uucp", format!("{:>10}\n", dead_pid())),
    ] {
        let file = dir.join(name);
        let lock = write_aged_lock(&file, content.as_bytes(), Duration::ZERO);
        busy_holder(acquire(&file, &once(Foreign::Keep)));
        assert!(lock.exists(), "{name}: kept");
        let guard = acquire(&file, &once(Foreign::Dotlock)).unwrap();
        assert!(
            std::fs::read_to_string(&lock)
                .unwrap()
                .contains("\"flock\":true"),
            "{name}"
        );
        guard.release().unwrap();
    }
}
