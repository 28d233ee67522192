//! Shared by the integration tests: temp directories and loud skips here; worker processes,
//! privileges, tracing and handshakes with the lock service in the files beside it.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::Write;
use std::path::{Path, PathBuf};

#[path = "../worker/src/pids.rs"]
mod pids;
mod privileges;
mod service;
mod tracing;
mod workers;
// Each test binary uses its own subset.
#[allow(unused_imports)]
pub use {pids::dead_pid, privileges::*, service::*, tracing::*, workers::*};

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "swl-{tag}-{}-{:08x}",
            std::process::id(),
            rand_u32()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `<file>.lock` with `content`, last modified `age` ago (a lock file another program
/// left); returns its path.
pub fn write_aged_lock(file: &Path, content: &[u8], age: std::time::Duration) -> PathBuf {
    let lock = PathBuf::from(format!("{}.lock", file.display()));
    std::fs::write(&lock, content).unwrap();
    let when = std::time::SystemTime::now() - age;
    std::fs::File::options()
        .write(true)
        .open(&lock)
        .unwrap()
        .set_times(
            std::fs::FileTimes::new()
                .set_modified(when)
                .set_accessed(when),
        )
        .unwrap();
    lock
}

fn rand_u32() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
}

/// A loud skip. Under CI (`CI=true`) or `SWL_REQUIRE_ALL=1` a skip is a failure: it panics.
/// Elsewhere it prints to stderr directly (the harness captures `eprintln!` of passing tests)
/// and moves the test from "passed" to "skipped" in the test command's summary (the harness
/// still reports it "ok").
pub fn skip(test: &str, why: &str) {
    let required = std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("SWL_REQUIRE_ALL").is_ok_and(|v| v == "1");
    if required {
        panic!("SKIPPED {test}: {why} (a skip is a failure under CI=true or SWL_REQUIRE_ALL=1)");
    }
    let _ = writeln!(std::io::stderr(), "!!! SKIPPED {test}: {why} !!!");
    if let Some(summary) = std::env::var_os("SWL_SUMMARY") {
        // The format of scripts/lib.sh's swl_record; one short O_APPEND write is atomic.
        let line = format!("Rust skip {test}\t-1\t0\t1\n");
        let _ = std::fs::OpenOptions::new()
            .append(true)
            .open(summary)
            .and_then(|mut f| f.write_all(line.as_bytes()));
    }
}
