//! The lock service's watchdog switched off, as the Node package does under the gateway's test
//! runner (docs/PROTOCOL.md, "Test hooks"): a hold of this process past its max-hold is ended
//! by an explicit check only — never by another acquire of this process, whatever its file
//! says — and, switched on again, by the service at once. A binary of its own: the switch is
//! process-wide.

mod common;

use common::{until, TempDir};
use session_write_lock::testing::{iso_time, run_watchdog_check, set_background_watchdog};
use session_write_lock::{acquire, Error, Options};
use std::time::{Duration, SystemTime};

#[test]
fn without_the_background_watchdog_only_a_check_ends_an_overdue_hold() {
    set_background_watchdog(false);
    let dir = TempDir::new("background-watchdog");
    let one_ms = Options {
        max_hold: Some(Duration::from_millis(1)),
        ..Options::default()
    };
    // Longer than the watchdog's slack: a background watchdog would end the hold meanwhile.
    let contender = Options {
        timeout: Some(Duration::from_secs(2)),
        ..Options::default()
    };
    for format in ["ours", "legacy"] {
        let file = dir.join(&format!("{format}.jsonl"));
        let guard = acquire(&file, &one_ms).unwrap();
        let lock = guard.lock_path().to_path_buf();
        if format == "legacy" {
            // Rewritten in place as the gateway's module writes it: the hold is long over.
            let created = iso_time::format(SystemTime::now() - Duration::from_secs(30));
            let payload = format!(
                r#"{{"pid":{},"createdAt":"{created}","maxHoldMs":1}}"#,
                std::process::id()
            );
            std::fs::write(&lock, payload).unwrap();
        }
        match acquire(&file, &contender) {
            Err(Error::Busy { .. }) => {}
            other => panic!("{format}: the hold of this process was not waited for: {other:?}"),
        }
        assert!(lock.exists(), "{format}: kept while contended");
        let later = SystemTime::now() + Duration::from_secs(1);
        assert_eq!(run_watchdog_check(later), 1, "{format}");
        assert!(!lock.exists(), "{format}: the check ended it");
        assert!(!guard.is_held(), "{format}");
    }
    let file = dir.join("switched-on.jsonl");
    let guard = acquire(&file, &one_ms).unwrap();
    set_background_watchdog(true);
    until("the service ends the overdue hold", || {
        !guard.lock_path().exists()
    });
    assert!(!guard.is_held());
}
