//! The committed C header (include/session_write_lock.h at the repository's root) must be
//! exactly what cbindgen makes of this crate with its cbindgen.toml, so CI checks it without the
//! cbindgen binary.
//!
//! Regenerate: `SWL_REGENERATE_HEADER=1 cargo test -p session-write-lock-c --test header_fresh`
//! (refused under `CI=true`, where the test must be able to fail).
// Not on Windows: cbindgen runs `cargo metadata`, a program of the host; the host run checks it.
#![cfg(not(windows))]

use std::path::Path;

#[test]
fn header_is_fresh() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let header = root.join("../../include/session_write_lock.h");
    let config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let bindings = cbindgen::Builder::new()
        .with_crate(root)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);

    if std::env::var_os("SWL_REGENERATE_HEADER").is_some() {
        // Regenerating cannot fail, so it would turn this check green whatever the header says.
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "SWL_REGENERATE_HEADER is refused under CI=true: CI checks the committed header"
        );
        std::fs::create_dir_all(header.parent().unwrap()).unwrap();
        std::fs::write(&header, &generated).expect("write include/session_write_lock.h");
        eprintln!("rewrote {}", header.display());
        return;
    }
    let committed = std::fs::read(&header).unwrap_or_default();
    if committed != generated {
        let first_difference = committed
            .iter()
            .zip(&generated)
            .position(|(a, b)| a != b)
            .unwrap_or(committed.len().min(generated.len()));
        let line = 1 + generated[..first_difference]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        panic!(
            "include/session_write_lock.h is stale (first difference at line {line}).\n\
             Regenerate it with:\n    SWL_REGENERATE_HEADER=1 cargo test -p session-write-lock-c --test header_fresh\n\
             and commit the result."
        );
    }
}
