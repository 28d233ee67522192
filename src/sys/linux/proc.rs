//! Linux identity from `/proc`: start times in clock ticks since boot (field 22 of
//! `/proc/<pid>/stat`), the kernel's boot id, the pid namespace's inode.

use crate::base::start_time::StartTime;
use crate::sys::retry;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Our own start time, as other processes read it. From our main thread's entry in
/// `/proc/self/task/`, named by `/proc/self` (right inside a pid namespace whatever `/proc`
/// shows): qemu-user answers `/proc/self/stat` and `/proc/<its pid>/stat` itself, with a start
/// time of its own making, and passes `task/` through to the kernel.
pub fn own_start_time() -> Option<StartTime> {
    let me = retry(|| fs::read_link("/proc/self")).ok()?;
    let stat = retry(|| fs::read(Path::new("/proc/self/task").join(&me).join("stat"))).ok()?;
    parse_starttime(&stat).map(StartTime::ticks)
}

/// The start time of `pid` (`None`: unknown) and whether it has ended but is not yet reaped;
/// `None` when `/proc` does not show the pid. Read through `task/` like our own, so that under
/// qemu-user our pid reads the same as from anywhere else.
pub fn start_time_and_zombie(pid: u32) -> Option<(Option<StartTime>, bool)> {
    let stat = retry(|| fs::read(format!("/proc/{pid}/task/{pid}/stat"))).ok()?;
    let starttime = parse_starttime(&stat).map(StartTime::ticks);
    Some((starttime, parse_state(&stat) == Some(b'Z')))
}

pub fn boot_id() -> Option<String> {
    retry(|| fs::read_to_string("/proc/sys/kernel/random/boot_id"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

pub fn pid_namespace() -> Option<u64> {
    retry(|| fs::metadata("/proc/self/ns/pid"))
        .ok()
        .map(|m| m.ino())
}

/// The arguments of a process (`/proc/<pid>/cmdline`), `None` where they cannot be read.
pub fn cmdline(pid: u32) -> Option<Vec<String>> {
    let bytes = retry(|| fs::read(format!("/proc/{pid}/cmdline"))).ok()?;
    Some(
        bytes
            .split(|&b| b == 0)
            .filter(|arg| !arg.is_empty())
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect(),
    )
}

/// Field 3 of `/proc/<pid>/stat`: `Z` for a process that has ended but is not yet reaped.
/// The command name (field 2) may hold spaces and parentheses, so fields are counted after
/// its last `)`.
fn parse_state(stat: &[u8]) -> Option<u8> {
    let after_comm = stat.iter().rposition(|&b| b == b')')? + 1;
    stat[after_comm..]
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace())
}

fn parse_starttime(stat: &[u8]) -> Option<u64> {
    let after_comm = stat.iter().rposition(|&b| b == b')')? + 1;
    let rest = std::str::from_utf8(&stat[after_comm..]).ok()?;
    // After the comm come field 3 (state) … field 22 (starttime): index 19.
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starttime_survives_hostile_command_names() {
        let mut stat = b"1234 (we ) ird) S".to_vec();
        for field in 4..=21 {
            stat.extend_from_slice(format!(" {field}").as_bytes());
        }
        stat.extend_from_slice(b" 987654 23 24");
        assert_eq!(parse_starttime(&stat), Some(987_654));
        assert_eq!(parse_state(&stat), Some(b'S'));
        assert_eq!(parse_starttime(b"garbage"), None);
        assert_eq!(parse_state(b"garbage"), None);
    }

    #[test]
    fn reads_this_process() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            eprintln!("SKIPPED: /proc is not mounted; starttime and pidNs cannot be checked");
            return;
        }
        let me = own_start_time();
        assert!(me.is_some() && pid_namespace().is_some() && boot_id().is_some());
        let (starttime, zombie) = start_time_and_zombie(std::process::id()).unwrap();
        assert_eq!((starttime, zombie), (me, false));
        // What another process reads for us (under qemu-user, what the kernel says).
        let seen = std::process::Command::new("cat")
            .arg(format!("/proc/{}/stat", std::process::id()))
            .output()
            .unwrap();
        assert_eq!(
            me,
            parse_starttime(&seen.stdout).map(StartTime::ticks),
            "{seen:?}"
        );
        assert!(!cmdline(std::process::id()).unwrap().is_empty());
    }
}
