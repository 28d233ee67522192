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

use common::{try_in_process, TempDir};
use std::path::PathBuf;

/// The portable build never tries `O_TMPFILE`.
const PORTABLE: bool = cfg!(feature = "portable");

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
