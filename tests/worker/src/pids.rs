//! Shared by the integration tests and their worker binary.

/// A pid no process can have: above the kernel's `pid_max`. A reaped child's pid would do only
/// until the kernel reuses it (pid_max may be as low as 32768), and a long run reuses pids.
pub fn dead_pid() -> u32 {
    let pid_max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4_194_304); // PID_MAX_LIMIT: the most pid_max can be
    pid_max + 1
}
