//! Who we are (for the payload and the verdict) and what the kernel says about another pid.
//! The platform's readings come from `sys` (start times in the units of `start_time`, compared
//! only on the same host); the decisions live in `verdict`.

use crate::sys;
use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, PoisonError, RwLock};

/// A test hook (docs/PROTOCOL.md, "Test hooks"): answers a pid's start time (the gateway's
/// unit) in place of `/proc`, for our own pid and others, wherever a verdict compares start
/// times; the finer `starttimeUs` is then unknown. `None` is "unknown". Payloads still record
/// the real start time.
#[doc(hidden)]
pub type StartTimeResolver = Arc<dyn Fn(u32) -> Option<u64> + Send + Sync>;

static RESOLVER: RwLock<Option<StartTimeResolver>> = RwLock::new(None);

/// Installs (`Some`) or removes (`None`, the real reading again) the start-time resolver.
#[doc(hidden)]
pub fn set_start_time_resolver(resolver: Option<StartTimeResolver>) {
    *RESOLVER.write().unwrap_or_else(PoisonError::into_inner) = resolver;
}

/// The resolver's answer, `None` when none is set; a panicking resolver answers "unknown".
fn resolved_starttime(pid: u32) -> Option<Option<u64>> {
    let resolver = RESOLVER
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()?;
    Some(catch_unwind(AssertUnwindSafe(|| resolver(pid))).unwrap_or(None))
}

/// The real start time of `pid`, for resolvers that answer only some pids.
#[doc(hidden)]
pub fn read_process_start_time(pid: u32) -> Option<u64> {
    sys::start_time_and_zombie(pid).and_then(|(starttime, _)| starttime.map(|s| s.gateway))
}

/// Facts about this process that go into every payload. Read once per process (again after fork).
/// (Internal: public only for the verdict's tests and fuzz target.)
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessIdentity {
    pub pid: u32,
    /// In the gateway's unit (the payload's `starttime`).
    pub starttime: Option<u64>,
    /// Microseconds since the epoch, where the platform reads them (`starttimeUs`).
    pub starttime_us: Option<u64>,
    pub hostname: String,
    pub boot_id: Option<String>,
    pub pid_ns: Option<u64>,
}

impl ProcessIdentity {
    pub fn current() -> ProcessIdentity {
        let pid = std::process::id();
        let start = sys::own_start_time();
        ProcessIdentity {
            pid,
            starttime: start.map(|s| s.gateway),
            starttime_us: start.and_then(|s| s.micros),
            hostname: sys::hostname(),
            boot_id: sys::boot_id(),
            pid_ns: sys::pid_namespace(),
        }
    }

    /// This identity as the verdict sees it: the start-time resolver, when set, answers ours.
    pub fn for_verdict(&self) -> Cow<'_, ProcessIdentity> {
        match resolved_starttime(self.pid) {
            None => Cow::Borrowed(self),
            Some(starttime) => Cow::Owned(ProcessIdentity {
                starttime,
                starttime_us: None,
                ..self.clone()
            }),
        }
    }
}

/// What `kill(pid, 0)` and the platform say about a pid in our pid namespace.
/// (Internal, like [`ProcessIdentity`].)
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PidProbe {
    Dead,
    /// Alive; the start time when the platform shows it (as [`ProcessIdentity`] has it).
    Alive {
        starttime: Option<u64>,
        starttime_us: Option<u64>,
    },
}

pub fn probe_pid(pid: u32) -> PidProbe {
    if pid == 0 || pid > i32::MAX as u32 {
        return PidProbe::Dead;
    }
    if !sys::pid_exists(pid) {
        return PidProbe::Dead;
    }
    match sys::start_time_and_zombie(pid) {
        // A zombie has ended (its pidfd says so at once); only its parent has not looked yet.
        Some((_, true)) => PidProbe::Dead,
        info => {
            let read = info.and_then(|(starttime, _)| starttime);
            match resolved_starttime(pid) {
                Some(starttime) => PidProbe::Alive {
                    starttime,
                    starttime_us: None,
                },
                None => PidProbe::Alive {
                    starttime: read.map(|s| s.gateway),
                    starttime_us: read.and_then(|s| s.micros),
                },
            }
        }
    }
}

/// The arguments of a process, `None` where they cannot be read.
pub fn read_cmdline(pid: u32) -> Option<Vec<String>> {
    sys::cmdline(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_time_resolver_answers_in_place_of_proc_until_removed() {
        // Only one live pid nobody else reads is pinned, so parallel tests reading other pids
        // are untouched.
        let (pinned_pid, _keep) = long_lived_pid();
        let real = read_process_start_time(pinned_pid);
        set_start_time_resolver(Some(Arc::new(move |pid| {
            if pid == pinned_pid {
                Some(7)
            } else {
                read_process_start_time(pid)
            }
        })));
        let pinned = probe_pid(pinned_pid);
        set_start_time_resolver(Some(Arc::new(move |pid| {
            if pid == pinned_pid {
                panic!("a panicking resolver is unknown")
            }
            read_process_start_time(pid)
        })));
        let panicked = probe_pid(pinned_pid);
        set_start_time_resolver(None);
        let alive = |starttime| PidProbe::Alive {
            starttime,
            starttime_us: None,
        };
        assert_eq!(pinned, alive(Some(7)));
        assert_eq!(panicked, alive(None));
        assert!(
            matches!(probe_pid(pinned_pid), PidProbe::Alive { starttime, .. } if starttime == real)
        );
        let me = ProcessIdentity {
            pid: pinned_pid,
            ..ProcessIdentity::current()
        };
        assert!(matches!(me.for_verdict(), Cow::Borrowed(_)));
    }

    /// A pid that stays alive through a test and that no other test reads: pid 1 on Unix.
    #[cfg(unix)]
    fn long_lived_pid() -> (u32, ()) {
        (1, ())
    }

    /// Windows has no pid 1: a child of ours that waits for its stdin, ended with the test.
    #[cfg(windows)]
    fn long_lived_pid() -> (u32, KillOnDrop) {
        let child = std::process::Command::new("cmd.exe")
            .args(["/d", "/c", "pause"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        (child.id(), KillOnDrop(child))
    }

    #[cfg(windows)]
    struct KillOnDrop(std::process::Child);

    #[cfg(windows)]
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// An ended process its parent has not reaped yet is dead (kill(pid, 0) still finds it):
    /// the child is reaped only after the probe said so.
    #[cfg(unix)]
    #[test]
    fn a_zombie_is_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let started = std::time::Instant::now();
        while probe_pid(pid) != PidProbe::Dead {
            assert!(started.elapsed().as_secs() < 10, "`true` never ended");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // SAFETY: signal 0 checks existence only: the unreaped child is still there.
        assert_eq!(unsafe { libc::kill(pid as libc::pid_t, 0) }, 0);
        child.wait().unwrap();
    }

    /// Windows: an ended process whose handle its parent keeps open (its pid is not reused
    /// meanwhile) is dead; the system still shows it, as ended.
    #[cfg(windows)]
    #[test]
    fn an_ended_process_kept_open_is_dead() {
        let mut child = std::process::Command::new("cmd.exe")
            .args(["/d", "/c", "exit 0"])
            .spawn()
            .unwrap();
        let pid = child.id();
        let started = std::time::Instant::now();
        while probe_pid(pid) != PidProbe::Dead {
            assert!(started.elapsed().as_secs() < 10, "cmd.exe never ended");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let (starttime, ended) = crate::sys::start_time_and_zombie(pid).expect("still shown");
        assert!(ended && starttime.is_some(), "{starttime:?} {ended}");
        child.wait().unwrap();
    }

    #[test]
    fn reads_this_process() {
        let me = ProcessIdentity::current();
        assert_eq!(me.pid, std::process::id());
        if me.starttime.is_some() {
            assert_eq!(
                probe_pid(me.pid),
                PidProbe::Alive {
                    starttime: me.starttime,
                    starttime_us: me.starttime_us,
                }
            );
        } else {
            eprintln!("SKIPPED: this platform shows no start time here (no /proc?)");
        }
        assert_eq!(probe_pid(0), PidProbe::Dead);
        if let Some(args) = read_cmdline(me.pid) {
            assert!(
                !args.is_empty() && args.iter().all(|a| !a.is_empty()),
                "{args:?}"
            );
        }
    }
}
