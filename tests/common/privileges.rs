//! Running commands with other powers: without root's, or in a new pid namespace.

#[cfg(unix)]
use super::skip;
use std::process::{Command, Stdio};

#[cfg(unix)]
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// How to run a command without root's powers over files: as root, `setpriv` to nobody
/// (65534); as anyone else, as is (`[]`). `None` (after a loud skip) when root has no setpriv.
#[cfg(unix)]
pub fn unprivileged_prefix(test: &str) -> Option<&'static [&'static str]> {
    if !is_root() {
        return Some(&[]);
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        skip(test, "running as root and setpriv is missing");
        return None;
    }
    Some(&[
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ])
}

/// `unshare --pid --fork --kill-child --mount-proc`, when this machine lets us (root, Linux).
pub fn pid_namespace_prefix() -> Option<Vec<&'static str>> {
    let prefix = vec!["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"];
    let ok = Command::new(prefix[0])
        .args(&prefix[1..])
        .arg("true")
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(prefix)
}
