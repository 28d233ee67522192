//! The files `status` and `clean` look at in a directory, and the rule for files of other
//! programs (docs/PROTOCOL.md, "Cleaning up"): without `--pattern`, the gateway's session
//! locks (`*.jsonl.lock`, under the gateway's rules) and every other lock file this library
//! wrote, known by its content; with `--pattern GLOB`, the names GLOB matches, files of other
//! programs kept unless `--foreign` says otherwise.

use crate::args::{quoted, Parsed};
use crate::Failure;
use session_write_lock::{CleanOptions, Foreign, Select};
use std::time::Duration;

/// The flags this adds to a command.
pub const FLAGS: [&str; 2] = ["pattern", "foreign"];

/// The sweep's options from the command line.
pub fn sweep_options(
    parsed: &Parsed,
    help: &'static str,
    stale: Duration,
    remove: bool,
) -> Result<CleanOptions, Failure> {
    let (select, default_rule) = match parsed.value("pattern") {
        None => (Select::Ours, Foreign::Gateway),
        Some(pattern) => (Select::glob(pattern)?, Foreign::Keep),
    };
    let foreign = match parsed.text("foreign", "keep, dotlock or gateway", help)? {
        None => default_rule,
        Some(name) => Foreign::from_name(name).ok_or_else(|| {
            Failure::Usage(
                format!(
                    "--foreign {}, got {}",
                    Foreign::expected(),
                    quoted(name.as_ref())
                ),
                help,
            )
        })?,
    };
    Ok(CleanOptions {
        stale,
        remove,
        foreign,
        select,
        ..CleanOptions::default()
    })
}
