//! README.md's CLI quickstart runs as written (tests/readme/block.sh extracts it), with the
//! `session-lock` built here first on PATH. The Rust quickstart is a doctest (src/lib.rs), the
//! Node one runs in tests/node/readme.test.mjs, the C one in tests/c/run.sh.
// Unix-only: the quickstart is a POSIX shell script.
#![cfg(unix)]

use std::path::Path;
use std::process::Command;

#[test]
fn the_cli_quickstart_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let block = Command::new("bash")
        .arg(root.join("tests/readme/block.sh"))
        .arg("sh")
        .output()
        .unwrap();
    assert!(
        block.status.success(),
        "README.md has no sh block in Quickstart"
    );
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_session-lock"))
        .parent()
        .unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    let out = Command::new("sh")
        .arg("-ec")
        .arg(String::from_utf8(block.stdout).unwrap())
        .env("PATH", path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("only one at a time"),
        "{:?}\n{said}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
