//! The worker itself: one `try` of a free lock acquires it and leaves nothing behind. (Being a
//! test of this package also makes `cargo test --workspace` build the binary the other
//! packages' tests spawn.)

use std::process::Command;

#[test]
fn try_of_a_free_lock_acquires_and_releases() {
    let dir = std::env::temp_dir().join(format!("swl-worker-try-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_swl-test-worker"))
        .arg("try")
        .arg(&file)
        .arg("0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "acquired");
    assert!(
        !dir.join("a.jsonl.lock").exists(),
        "the worker left its lock file"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
