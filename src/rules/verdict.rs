//! Is the holder gone? (docs/PROTOCOL.md, "Is the holder gone?") A pure function of what was
//! observed, so that every rule is a row in a table test. The I/O that gathers an [`Observation`]
//! lives in `attempt`.

use crate::base::start_time::same_start;
use crate::rules::foreign::Foreign;
use crate::rules::identity::{PidProbe, ProcessIdentity};
use crate::rules::payload::Payload;
use serde::{Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// Why a holder may be gone (or only too old). Several may apply to one lock file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StaleReason {
    /// flock payload, same kernel: the flock could be taken, so the holder's fd is closed.
    HolderExited,
    /// Same pid (and pid namespace) as us under another nonce: an earlier iteration of this process.
    NonceMismatch,
    /// flock payload from another kernel whose holder stopped refreshing the mtime.
    HeartbeatExpired,
    /// Legacy payload without a valid pid.
    MissingPid,
    /// Legacy payload whose `createdAt` is missing or does not parse.
    InvalidCreatedAt,
    /// Legacy payload whose pid does not exist.
    DeadPid,
    /// Legacy payload whose pid lives with another start time.
    RecycledPid,
    /// Legacy payload with our own pid that this process does not hold.
    OrphanSelfPid,
    /// Legacy payload older than `staleMs` (report-only for a live holder).
    TooOld,
    /// The holder is past the max-hold recorded in its payload (acquire only; report-only).
    HoldExceeded,
    /// A live legacy holder whose command line is not the gateway's.
    NonGatewayOwner,
    /// Not a rule of [`decide`]: this process's own hold was ended (watchdog, release-all,
    /// takeover) or its file removed or replaced; what `assert_owned` reports.
    LeaseLost,
}

impl StaleReason {
    /// The reason as reports and errors spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            StaleReason::HolderExited => "holder-exited",
            StaleReason::NonceMismatch => "nonce-mismatch",
            StaleReason::HeartbeatExpired => "heartbeat-expired",
            StaleReason::MissingPid => "missing-pid",
            StaleReason::InvalidCreatedAt => "invalid-createdAt",
            StaleReason::DeadPid => "dead-pid",
            StaleReason::RecycledPid => "recycled-pid",
            StaleReason::OrphanSelfPid => "orphan-self-pid",
            StaleReason::TooOld => "too-old",
            StaleReason::HoldExceeded => "hold-exceeded",
            StaleReason::NonGatewayOwner => "non-gateway-owner",
            StaleReason::LeaseLost => "lease-lost",
        }
    }

    /// Reasons that describe a live holder that is merely old: reported, never removed.
    fn only_old(self) -> bool {
        matches!(self, StaleReason::TooOld | StaleReason::HoldExceeded)
    }

    fn malformed(self) -> bool {
        matches!(
            self,
            StaleReason::MissingPid | StaleReason::InvalidCreatedAt
        )
    }
}

impl fmt::Display for StaleReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reports (C, the CLI) spell a reason as [`StaleReason::as_str`] does.
impl Serialize for StaleReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Who wrote a lock file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Written by this library: the holder keeps a flock on the file.
    Flock,
    /// Written by the TypeScript implementation, or unreadable.
    Legacy,
    /// A dotlock (a decimal pid), as the rules that understand dotlocks read it.
    Dotlock,
}

impl Format {
    /// `"flock"` or `"legacy"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Flock => "flock",
            Format::Legacy => "legacy",
            Format::Dotlock => "dotlock",
        }
    }
}

impl Serialize for Format {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Why the lock file is looked at: the two rules that differ between an acquire and the sweep
/// (docs/PROTOCOL.md), as the gateway's module switches them (its `respectMaxHold` and
/// `reclaimLockWithoutStarttime`), and the rule for files this library did not write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purpose {
    /// `hold-exceeded` is computed (never for a lock this process holds).
    pub respect_max_hold: bool,
    /// An own-pid file without `starttime` that we do not hold is `orphan-self-pid`.
    pub reclaim_without_starttime: bool,
    /// Which rule judges a file without `flock: true`.
    pub foreign: Foreign,
}

impl Purpose {
    /// A contender: both rules.
    pub const ACQUIRE: Purpose = Purpose {
        respect_max_hold: true,
        reclaim_without_starttime: true,
        foreign: Foreign::Gateway,
    };
    /// The sweep: neither; an own-pid file without starttime is kept.
    pub const CLEAN: Purpose = Purpose {
        respect_max_hold: false,
        reclaim_without_starttime: false,
        foreign: Foreign::Gateway,
    };

    /// This purpose with `foreign` as the rule for files this library did not write.
    pub const fn with_foreign(self, foreign: Foreign) -> Purpose {
        Purpose { foreign, ..self }
    }
}

/// Everything the decision needs about the lock file, gathered by the I/O layer.
#[derive(Debug, Clone)]
pub struct Observation<'a> {
    /// What the file says.
    pub payload: &'a Payload,
    /// The file's mtime, Unix milliseconds.
    pub mtime_ms: i64,
    /// We took `flock(LOCK_EX|LOCK_NB)` on the inspected file: nobody holds it.
    pub flock_free: bool,
    /// `kill(pid, 0)` + `/proc` for the payload's pid; only needed for legacy payloads.
    pub pid_probe: Option<PidProbe>,
    /// This lock path is in this process's held table.
    pub held_by_us: bool,
    /// The command-line matcher's answer for a live legacy holder: `Some(false)` when its
    /// command line was read, is not blank and is not the gateway's; `None` when unknown or
    /// not checked.
    pub owner_is_gateway: Option<bool>,
}

/// Who is asking.
#[derive(Debug, Clone, Copy)]
pub struct Observer<'a> {
    /// This process.
    pub identity: &'a ProcessIdentity,
    /// Our current instance nonce.
    pub nonce: &'a str,
    /// The clock, Unix milliseconds.
    pub now_ms: i64,
    /// Age after which a legacy lock is `too-old`.
    pub stale: Duration,
    /// Acquire or sweep.
    pub purpose: Purpose,
    /// How long an empty or malformed file is left alone (by mtime), at most `stale`.
    pub malformed_grace: Duration,
}

/// Grace of empty or malformed legacy files: 30 s, or 5 s when the acquire timeout is under
/// 30 s (the gateway's rule), never more than `stale`.
pub fn malformed_grace(acquire_timeout: Option<Duration>, stale: Duration) -> Duration {
    let grace = match acquire_timeout {
        Some(t) if t < Duration::from_secs(30) => Duration::from_secs(5),
        _ => Duration::from_secs(30),
    };
    grace.min(stale)
}

/// How long past its recorded max-hold a live flock holder on this kernel is reported.
const FLOCK_HOLD_SLACK_MS: i64 = 1_000;

/// The decision on one lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Who wrote it.
    pub format: Format,
    /// Every rule that says the holder is gone or too old; empty when it is alive and fresh.
    pub reasons: Vec<StaleReason>,
    /// The lock may be removed (reclaimed, cleaned): stale, not merely old, and a malformed
    /// file only past its grace.
    pub removable: bool,
    /// An acquire must fail at once with a stale error instead of waiting: a live holder,
    /// not this process's, that is merely old (`too-old` / `hold-exceeded`).
    pub report_only: bool,
    /// While the lock is neither removable nor reported: the first instant (Unix ms) at which
    /// an age rule could give another answer, if no other fact changes first. Waiters arm one
    /// timer for it.
    pub recheck_at_ms: Option<i64>,
}

impl Verdict {
    /// At least one reason.
    pub fn stale(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// The staleness decision (docs/PROTOCOL.md, "Is the holder gone?").
pub fn decide(obs: &Observation<'_>, me: &Observer<'_>) -> Verdict {
    let p = obs.payload;
    let foreign = me.purpose.foreign;
    let reasons = match (p.flock, foreign) {
        (true, _) => flock_reasons(obs, me),
        (false, Foreign::Gateway) => legacy_reasons(obs, me),
        (false, Foreign::Keep) => Vec::new(),
        (false, Foreign::Dotlock) => dotlock_reasons(obs),
    };
    let grace_ms = me.malformed_grace.as_millis() as i64;
    let malformed_only = reasons.iter().all(|r| r.malformed());
    let only_old = reasons.iter().all(|r| r.only_old());
    let stale = !reasons.is_empty();
    let past_grace = me.now_ms.saturating_sub(obs.mtime_ms) > grace_ms;
    let removable = stale && !only_old && (!malformed_only || past_grace);
    let report_only = stale && only_old && !obs.held_by_us;
    Verdict {
        format: match (p.flock, p.dotlock_pid, foreign) {
            (true, _, _) => Format::Flock,
            (false, Some(_), Foreign::Keep | Foreign::Dotlock) => Format::Dotlock,
            _ => Format::Legacy,
        },
        removable,
        report_only,
        reasons,
        recheck_at_ms: (!removable && !report_only)
            .then(|| recheck_at(obs, me, stale && malformed_only))
            .flatten(),
    }
}

/// The earliest instant after now at which one of the age rules that apply to this file
/// crosses its threshold (each rule holds from one millisecond past it); `in_grace`: a
/// malformed file waits out its mtime grace.
fn recheck_at(obs: &Observation<'_>, me: &Observer<'_>, in_grace: bool) -> Option<i64> {
    let p = obs.payload;
    let stale_ms = me.stale.as_millis() as i64;
    let after = |from: Option<i64>, ms: i64| from.map(|t| t.saturating_add(ms).saturating_add(1));
    let max_hold = p.max_hold_ms.map(|m| m as i64);
    let candidates = if !p.flock && me.purpose.foreign != Foreign::Gateway {
        // Kept files and dotlocks have no age rule: only their holder's end changes them.
        Vec::new()
    } else if p.flock && !same_kernel(p, me.identity) {
        vec![after(Some(obs.mtime_ms), stale_ms)]
    } else if p.flock {
        vec![max_hold.and_then(|m| after(p.created_at_ms, m.saturating_add(FLOCK_HOLD_SLACK_MS)))]
    } else {
        vec![
            after(legacy_created(obs, me.now_ms), stale_ms),
            max_hold.and_then(|m| after(legacy_created(obs, me.now_ms), m)),
            in_grace
                .then(|| after(Some(obs.mtime_ms), me.malformed_grace.as_millis() as i64))
                .flatten(),
        ]
    };
    candidates
        .into_iter()
        .flatten()
        .filter(|&at| at > me.now_ms)
        .min()
}

/// Same `bootId`, or without one, same hostname: pids and flocks are comparable.
pub fn same_kernel(p: &Payload, me: &ProcessIdentity) -> bool {
    match (&p.boot_id, &me.boot_id) {
        (Some(theirs), Some(ours)) => theirs == ours,
        _ => p.hostname.as_deref() == Some(me.hostname.as_str()),
    }
}

/// The pid of a file of this library when it names a process we can watch: on this kernel,
/// in our pid namespace.
pub fn local_flock_pid(p: &Payload, me: &ProcessIdentity) -> Option<u32> {
    p.pid
        .filter(|_| p.flock && same_kernel(p, me) && p.pid_ns == me.pid_ns)
}

fn flock_reasons(obs: &Observation<'_>, me: &Observer<'_>) -> Vec<StaleReason> {
    let p = obs.payload;
    let stale_ms = me.stale.as_millis() as i64;
    let same_kernel = same_kernel(p, me.identity);
    let same_process = p.pid_ns == me.identity.pid_ns && p.pid == Some(me.identity.pid);
    let reason = if !same_kernel {
        (me.now_ms.saturating_sub(obs.mtime_ms) > stale_ms).then_some(StaleReason::HeartbeatExpired)
    } else if obs.flock_free {
        Some(StaleReason::HolderExited)
    } else if same_process && p.nonce.as_deref() != Some(me.nonce) {
        Some(StaleReason::NonceMismatch)
    } else {
        // A live flock holder on this kernel is never removed, whatever its age; one past its
        // own max-hold (its watchdog should have fired) is reported to a contender.
        let overdue = match (p.created_at_ms, p.max_hold_ms) {
            (Some(created), Some(max)) => {
                me.now_ms.saturating_sub(created) > (max as i64).saturating_add(FLOCK_HOLD_SLACK_MS)
            }
            _ => false,
        };
        (me.purpose.respect_max_hold && overdue && !same_process)
            .then_some(StaleReason::HoldExceeded)
    };
    reason.into_iter().collect()
}

/// When a legacy lock was taken, for its age rules: its `createdAt`, or the file's mtime when
/// that is earlier and `createdAt` is in the future (a clock stepped back, a writer that lies),
/// which would otherwise keep the lock from ever being `too-old`.
fn legacy_created(obs: &Observation<'_>, now_ms: i64) -> Option<i64> {
    let created = obs.payload.created_at_ms?;
    Some(match created > now_ms {
        true => created.min(obs.mtime_ms),
        false => created,
    })
}

/// liblockfile's rule without its age limit: a dotlock whose pid does not exist is stale (the
/// caller who opts into it says its writers run on this host). A live pid is a holder, whatever
/// the file's age; anything else is kept.
fn dotlock_reasons(obs: &Observation<'_>) -> Vec<StaleReason> {
    let dead = obs.payload.dotlock_pid.is_some() && obs.pid_probe == Some(PidProbe::Dead);
    dead.then_some(StaleReason::DeadPid).into_iter().collect()
}

/// The TypeScript module's rules, in its order: pid, age, hold, owner.
fn legacy_reasons(obs: &Observation<'_>, me: &Observer<'_>) -> Vec<StaleReason> {
    let p = obs.payload;
    let mut reasons = Vec::new();
    let mut recycled = false;
    let recorded = (p.starttime, p.starttime_us);
    match (p.pid, obs.pid_probe) {
        (None, _) => reasons.push(StaleReason::MissingPid),
        (Some(_), Some(PidProbe::Dead)) => reasons.push(StaleReason::DeadPid),
        (
            Some(_),
            Some(PidProbe::Alive {
                starttime,
                starttime_us,
            }),
        ) if same_start(recorded, (starttime, starttime_us)) == Some(false) => {
            recycled = true;
            reasons.push(StaleReason::RecycledPid)
        }
        _ => {}
    }
    let age_ms =
        legacy_created(obs, me.now_ms).map(|created| me.now_ms.saturating_sub(created).max(0));
    match age_ms {
        None => reasons.push(StaleReason::InvalidCreatedAt),
        Some(age) if age > me.stale.as_millis() as i64 => reasons.push(StaleReason::TooOld),
        Some(_) => {}
    }
    let over_hold = matches!((age_ms, p.max_hold_ms), (Some(age), Some(max)) if age > max as i64);
    if me.purpose.respect_max_hold && !obs.held_by_us && over_hold {
        reasons.push(StaleReason::HoldExceeded);
    }
    let alive = matches!(obs.pid_probe, Some(PidProbe::Alive { .. }));
    let own_pid = p.pid == Some(me.identity.pid);
    let ours = (me.identity.starttime, me.identity.starttime_us);
    let orphan = own_pid
        && !obs.held_by_us
        && match recorded {
            (None, None) => me.purpose.reclaim_without_starttime,
            _ => same_start(recorded, ours) == Some(true),
        };
    if orphan {
        reasons.push(StaleReason::OrphanSelfPid);
    } else if alive
        && !recycled
        && !(own_pid && obs.held_by_us)
        && obs.owner_is_gateway == Some(false)
    {
        reasons.push(StaleReason::NonGatewayOwner);
    }
    if own_pid && p.nonce.as_deref().is_some_and(|n| n != me.nonce) {
        reasons.push(StaleReason::NonceMismatch);
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::StaleReason::*;
    use super::*;

    const NOW: i64 = 1_800_000_000_000;
    const SEC: i64 = 1_000;
    const MIN: i64 = 60_000;
    const OUR_NONCE: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const OLD_NONCE: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn me() -> ProcessIdentity {
        ProcessIdentity {
            pid: 1,
            starttime: Some(500),
            starttime_us: None,
            hostname: "gw-a".into(),
            boot_id: Some("boot-1".into()),
            pid_ns: Some(4026531836),
        }
    }

    fn ours(pid: u32, nonce: &str, pid_ns: u64, boot: &str, host: &str) -> Payload {
        Payload {
            pid: Some(pid),
            created_at: None,
            created_at_ms: Some(NOW - 90 * MIN),
            nonce: Some(nonce.into()),
            starttime: Some(1),
            starttime_us: None,
            hostname: Some(host.into()),
            boot_id: Some(boot.into()),
            pid_ns: Some(pid_ns),
            flock: true,
            max_hold_ms: None,
            owner: None,
            dotlock_pid: None,
        }
    }

    fn legacy(
        pid: Option<u32>,
        created_ago_min: Option<i64>,
        starttime: Option<u64>,
        nonce: Option<&str>,
    ) -> Payload {
        Payload {
            pid,
            created_at_ms: created_ago_min.map(|m| NOW - m * MIN),
            starttime,
            nonce: nonce.map(str::to_owned),
            ..Payload::default()
        }
    }

    struct Row {
        name: &'static str,
        payload: Payload,
        mtime_ago_ms: i64,
        flock_free: bool,
        probe: Option<PidProbe>,
        held_by_us: bool,
        owner_is_gateway: Option<bool>,
        purpose: Purpose,
        acquire_timeout: Option<Duration>,
        reasons: &'static [StaleReason],
        removable: bool,
        report_only: bool,
    }

    fn row(name: &'static str, payload: Payload) -> Row {
        Row {
            name,
            payload,
            mtime_ago_ms: 0,
            flock_free: false,
            probe: None,
            held_by_us: false,
            owner_is_gateway: None,
            purpose: Purpose::ACQUIRE,
            acquire_timeout: Some(Duration::from_secs(60)),
            reasons: &[],
            removable: false,
            report_only: false,
        }
    }

    const ALIVE: Option<PidProbe> = Some(PidProbe::Alive {
        starttime: Some(77),
        starttime_us: None,
    });
    const ME_ALIVE: Option<PidProbe> = Some(PidProbe::Alive {
        starttime: Some(500),
        starttime_us: None,
    });

    fn check(rows: Vec<Row>) {
        check_as(&me(), rows)
    }

    fn check_as(host: &ProcessIdentity, rows: Vec<Row>) {
        for r in rows {
            let obs = Observation {
                payload: &r.payload,
                mtime_ms: NOW - r.mtime_ago_ms,
                flock_free: r.flock_free,
                pid_probe: r.probe,
                held_by_us: r.held_by_us,
                owner_is_gateway: r.owner_is_gateway,
            };
            let stale = Duration::from_secs(30 * 60);
            let observer = Observer {
                identity: host,
                nonce: OUR_NONCE,
                now_ms: NOW,
                stale,
                purpose: r.purpose,
                malformed_grace: malformed_grace(r.acquire_timeout, stale),
            };
            let v = decide(&obs, &observer);
            assert_eq!(v.reasons, r.reasons, "{}", r.name);
            assert_eq!(v.removable, r.removable, "{}: removable", r.name);
            assert_eq!(v.report_only, r.report_only, "{}: report_only", r.name);
            assert_eq!(v.format == Format::Flock, r.payload.flock, "{}", r.name);
        }
    }

    #[test]
    fn flock_payloads() {
        let overdue = Payload {
            max_hold_ms: Some(60 * MIN as u64),
            ..ours(99, OLD_NONCE, 4026531836, "boot-1", "gw-a")
        };
        check(vec![
            Row {
                flock_free: true,
                reasons: &[HolderExited],
                removable: true,
                ..row(
                    "same kernel, flock free: holder exited",
                    ours(99, OLD_NONCE, 4026531836, "boot-1", "gw-a"),
                )
            },
            row(
                "same kernel, flock held, another pid: alive",
                ours(99, OLD_NONCE, 4026531836, "boot-1", "gw-a"),
            ),
            Row {
                mtime_ago_ms: 500 * MIN,
                ..row(
                    "live flock holder is never stale by age",
                    ours(99, OLD_NONCE, 4026531836, "boot-1", "gw-a"),
                )
            },
            Row {
                reasons: &[HoldExceeded],
                report_only: true,
                ..row(
                    "live flock holder past its maxHoldMs + 1 s: reported, kept",
                    overdue.clone(),
                )
            },
            row(
                "live flock holder within maxHoldMs + 1 s: alive",
                Payload {
                    max_hold_ms: Some((90 * MIN - 500) as u64),
                    ..overdue.clone()
                },
            ),
            Row {
                purpose: Purpose::CLEAN,
                ..row("the sweep never computes hold-exceeded", overdue.clone())
            },
            Row {
                flock_free: true,
                reasons: &[HolderExited],
                removable: true,
                ..row("an exited holder past its max-hold is just exited", overdue)
            },
            Row {
                reasons: &[NonceMismatch],
                removable: true,
                ..row(
                    "same pid, same pid ns, other nonce: earlier iteration of us",
                    ours(1, OLD_NONCE, 4026531836, "boot-1", "gw-a"),
                )
            },
            row(
                "same pid, same pid ns, our nonce: ours, alive",
                Payload {
                    max_hold_ms: Some(1),
                    ..ours(1, OUR_NONCE, 4026531836, "boot-1", "gw-a")
                },
            ),
            row(
                "same pid in another pid namespace is another container: alive",
                ours(1, OLD_NONCE, 4026532178, "boot-1", "gw-b"),
            ),
            Row {
                flock_free: true,
                reasons: &[HolderExited],
                removable: true,
                ..row(
                    "other container, flock free: exited",
                    ours(1, OLD_NONCE, 4026532178, "boot-1", "gw-b"),
                )
            },
            Row {
                mtime_ago_ms: 31 * MIN,
                reasons: &[HeartbeatExpired],
                removable: true,
                ..row(
                    "other kernel, heartbeat older than stale",
                    ours(5, OLD_NONCE, 4026531836, "boot-2", "gw-z"),
                )
            },
            Row {
                mtime_ago_ms: 29 * MIN,
                flock_free: true,
                ..row(
                    "other kernel, fresh heartbeat: alive even if flock looks free",
                    ours(5, OLD_NONCE, 4026531836, "boot-2", "gw-z"),
                )
            },
            Row {
                flock_free: true,
                reasons: &[HolderExited],
                removable: true,
                ..row(
                    "no bootId: same hostname means same kernel",
                    Payload {
                        boot_id: None,
                        ..ours(9, OLD_NONCE, 1, "x", "gw-a")
                    },
                )
            },
            Row {
                flock_free: true,
                mtime_ago_ms: MIN,
                ..row(
                    "no bootId, other hostname: heartbeat rules",
                    Payload {
                        boot_id: None,
                        ..ours(9, OLD_NONCE, 1, "x", "gw-other")
                    },
                )
            },
        ]);
    }

    #[test]
    fn legacy_pid_and_age_rules() {
        check(vec![
            Row {
                probe: ALIVE,
                ..row(
                    "legacy live pid, fresh",
                    legacy(Some(50), Some(1), None, None),
                )
            },
            Row {
                probe: Some(PidProbe::Dead),
                reasons: &[DeadPid],
                removable: true,
                ..row("legacy dead pid", legacy(Some(50), Some(1), None, None))
            },
            Row {
                probe: Some(PidProbe::Dead),
                reasons: &[DeadPid, TooOld],
                removable: true,
                ..row(
                    "dead and too old: removable",
                    legacy(Some(50), Some(31), None, None),
                )
            },
            Row {
                probe: ALIVE,
                reasons: &[RecycledPid],
                removable: true,
                ..row(
                    "legacy recycled pid",
                    legacy(Some(50), Some(1), Some(76), None),
                )
            },
            Row {
                probe: ALIVE,
                ..row(
                    "legacy same starttime: alive",
                    legacy(Some(50), Some(1), Some(77), None),
                )
            },
            Row {
                probe: ALIVE,
                reasons: &[TooOld],
                report_only: true,
                ..row(
                    "legacy live pid, older than staleMs: reported, never removed",
                    legacy(Some(50), Some(31), None, None),
                )
            },
            Row {
                probe: ALIVE,
                purpose: Purpose::CLEAN,
                reasons: &[TooOld],
                report_only: true,
                ..row(
                    "the sweep keeps a live old holder too",
                    legacy(Some(50), Some(31), None, None),
                )
            },
            Row {
                probe: ALIVE,
                mtime_ago_ms: 31 * MIN,
                reasons: &[TooOld],
                report_only: true,
                ..row(
                    "a createdAt in the future counts from the file's mtime: too old",
                    legacy(Some(50), Some(-365 * 24 * 60), None, None),
                )
            },
            Row {
                probe: ALIVE,
                mtime_ago_ms: 29 * MIN,
                ..row(
                    "a createdAt in the future, file written within staleMs: alive",
                    legacy(Some(50), Some(-365 * 24 * 60), None, None),
                )
            },
            Row {
                probe: Some(PidProbe::Dead),
                mtime_ago_ms: 31 * MIN,
                reasons: &[DeadPid, TooOld],
                removable: true,
                ..row(
                    "a dead holder's lock with a createdAt in the future",
                    legacy(Some(50), Some(-60), None, None),
                )
            },
        ]);
    }

    #[test]
    fn legacy_malformed_files_and_their_grace() {
        let garbage = Payload::default;
        check(vec![
            Row {
                reasons: &[MissingPid],
                mtime_ago_ms: 29 * SEC,
                ..row(
                    "missing pid, file 29 s old: kept (30 s grace)",
                    legacy(None, Some(1), None, None),
                )
            },
            Row {
                mtime_ago_ms: 31 * SEC,
                reasons: &[MissingPid],
                removable: true,
                ..row(
                    "missing pid, file 31 s old: removed",
                    legacy(None, Some(1), None, None),
                )
            },
            Row {
                mtime_ago_ms: 6 * SEC,
                acquire_timeout: Some(Duration::from_secs(29)),
                reasons: &[MissingPid, InvalidCreatedAt],
                removable: true,
                ..row(
                    "garbage 6 s old, acquire timeout under 30 s: 5 s grace",
                    garbage(),
                )
            },
            Row {
                mtime_ago_ms: 6 * SEC,
                acquire_timeout: None,
                reasons: &[MissingPid, InvalidCreatedAt],
                ..row("garbage 6 s old, infinite timeout: 30 s grace", garbage())
            },
            Row {
                mtime_ago_ms: 4 * SEC,
                acquire_timeout: Some(Duration::ZERO),
                reasons: &[MissingPid, InvalidCreatedAt],
                ..row("garbage 4 s old, short timeout: kept", garbage())
            },
            Row {
                mtime_ago_ms: 10 * SEC,
                purpose: Purpose::CLEAN,
                reasons: &[MissingPid, InvalidCreatedAt],
                ..row("the sweep: a payload-less file 10 s old is kept", garbage())
            },
            Row {
                probe: ALIVE,
                mtime_ago_ms: 31 * SEC,
                reasons: &[InvalidCreatedAt],
                removable: true,
                ..row(
                    "unparsable createdAt, old file",
                    legacy(Some(50), None, None, None),
                )
            },
            Row {
                probe: Some(PidProbe::Dead),
                reasons: &[DeadPid, InvalidCreatedAt],
                removable: true,
                ..row(
                    "a dead pid makes a malformed file removable at once",
                    legacy(Some(50), None, None, None),
                )
            },
        ]);
    }

    #[test]
    fn legacy_hold_exceeded_is_acquire_only_and_report_only() {
        let past_hold = Payload {
            max_hold_ms: Some(5 * MIN as u64),
            ..legacy(Some(50), Some(10), Some(77), None)
        };
        let own_past_hold = Payload {
            max_hold_ms: Some(5 * MIN as u64),
            ..legacy(Some(1), Some(10), None, None)
        };
        let max_hold_only = Purpose {
            respect_max_hold: true,
            ..Purpose::CLEAN
        };
        check(vec![
            Row {
                probe: ALIVE,
                reasons: &[HoldExceeded],
                report_only: true,
                ..row("live holder past its maxHoldMs", past_hold.clone())
            },
            Row {
                probe: ALIVE,
                purpose: Purpose::CLEAN,
                ..row("the sweep never computes hold-exceeded", past_hold.clone())
            },
            Row {
                probe: ALIVE,
                held_by_us: true,
                ..row(
                    "held by this process: not judged by max-hold",
                    past_hold.clone(),
                )
            },
            Row {
                probe: Some(PidProbe::Dead),
                reasons: &[DeadPid, HoldExceeded],
                removable: true,
                ..row("dead and past its hold: removable", past_hold)
            },
            Row {
                probe: ME_ALIVE,
                purpose: max_hold_only,
                reasons: &[HoldExceeded],
                report_only: true,
                ..row(
                    "own pid, no starttime, hold rule alone (the gateway's test hook): not orphan",
                    own_past_hold.clone(),
                )
            },
            Row {
                probe: ME_ALIVE,
                reasons: &[HoldExceeded, OrphanSelfPid],
                removable: true,
                ..row(
                    "own pid, no starttime, not held, acquire: orphan too",
                    own_past_hold.clone(),
                )
            },
            Row {
                probe: ME_ALIVE,
                purpose: max_hold_only,
                held_by_us: true,
                ..row(
                    "own pid, held by us: never judged by max-hold",
                    own_past_hold,
                )
            },
            Row {
                probe: ALIVE,
                reasons: &[TooOld, HoldExceeded],
                report_only: true,
                ..row(
                    "too old and past its hold: still only reported",
                    Payload {
                        max_hold_ms: Some(1),
                        ..legacy(Some(50), Some(31), None, None)
                    },
                )
            },
        ]);
    }

    #[test]
    fn legacy_own_pid_and_owner_rules() {
        check(vec![
            Row {
                probe: ME_ALIVE,
                reasons: &[OrphanSelfPid],
                removable: true,
                ..row(
                    "own pid, no starttime, not held, acquire: orphan",
                    legacy(Some(1), Some(1), None, None),
                )
            },
            Row {
                probe: ME_ALIVE,
                purpose: Purpose::CLEAN,
                ..row(
                    "own pid, no starttime, sweep: kept",
                    legacy(Some(1), Some(1), None, None),
                )
            },
            Row {
                probe: ME_ALIVE,
                purpose: Purpose::CLEAN,
                reasons: &[OrphanSelfPid],
                removable: true,
                ..row(
                    "own pid with our starttime, sweep: orphan",
                    legacy(Some(1), Some(1), Some(500), None),
                )
            },
            Row {
                probe: ME_ALIVE,
                held_by_us: true,
                ..row(
                    "own pid, held by us: kept",
                    legacy(Some(1), Some(1), Some(500), None),
                )
            },
            Row {
                probe: ME_ALIVE,
                reasons: &[RecycledPid],
                removable: true,
                ..row(
                    "own pid with another starttime: recycled, not orphan",
                    legacy(Some(1), Some(1), Some(499), None),
                )
            },
            Row {
                probe: ME_ALIVE,
                reasons: &[OrphanSelfPid, NonceMismatch],
                removable: true,
                ..row(
                    "own pid, other nonce",
                    legacy(Some(1), Some(1), Some(500), Some(OLD_NONCE)),
                )
            },
            Row {
                probe: ALIVE,
                owner_is_gateway: Some(false),
                reasons: &[NonGatewayOwner],
                removable: true,
                ..row(
                    "live pid whose command line is not the gateway's",
                    legacy(Some(50), Some(1), None, None),
                )
            },
            Row {
                probe: ALIVE,
                owner_is_gateway: Some(false),
                reasons: &[TooOld, NonGatewayOwner],
                removable: true,
                ..row(
                    "old and not the gateway: removable",
                    legacy(Some(50), Some(31), None, None),
                )
            },
            Row {
                probe: ALIVE,
                owner_is_gateway: Some(true),
                ..row(
                    "live gateway process: alive",
                    legacy(Some(50), Some(1), None, None),
                )
            },
            Row {
                probe: ALIVE,
                owner_is_gateway: None,
                ..row(
                    "unreadable command line: owner unknown, kept",
                    legacy(Some(50), Some(1), None, None),
                )
            },
            Row {
                probe: ALIVE,
                owner_is_gateway: Some(false),
                reasons: &[RecycledPid],
                removable: true,
                ..row(
                    "a recycled pid is not also judged by its command line",
                    legacy(Some(50), Some(1), Some(1), None),
                )
            },
            Row {
                probe: ALIVE,
                ..row(
                    "another pid's nonce is not ours to judge",
                    legacy(Some(50), Some(1), None, Some(OLD_NONCE)),
                )
            },
        ]);
    }

    /// macOS (and FreeBSD): `starttime` is whole seconds since the epoch, as the gateway's
    /// module reads it with `ps`; our files add `starttimeUs`. A file with seconds only is
    /// compared in seconds, one with microseconds against a reading with them in microseconds.
    #[test]
    fn start_times_on_a_mac_seconds_and_our_microseconds() {
        const SECS: u64 = 1_796_672_883;
        const US: u64 = SECS * 1_000_000 + 250_001;
        let mac = ProcessIdentity {
            starttime: Some(SECS),
            starttime_us: Some(US),
            boot_id: Some("mac-boot".into()),
            pid_ns: None,
            ..me()
        };
        let alive = Some(PidProbe::Alive {
            starttime: Some(SECS),
            starttime_us: Some(US),
        });
        let with_us = |pid, secs, us| Payload {
            starttime_us: Some(us),
            ..legacy(Some(pid), Some(1), Some(secs), None)
        };
        check_as(
            &mac,
            vec![
                Row {
                    probe: alive,
                    ..row(
                        "the gateway's file, the holder's second: alive",
                        legacy(Some(50), Some(1), Some(SECS), None),
                    )
                },
                Row {
                    probe: alive,
                    reasons: &[RecycledPid],
                    removable: true,
                    ..row(
                        "the gateway's file, another second: recycled",
                        legacy(Some(50), Some(1), Some(SECS - 1), None),
                    )
                },
                Row {
                    probe: alive,
                    ..row(
                        "microseconds on both sides, equal: alive",
                        with_us(50, SECS, US),
                    )
                },
                Row {
                    probe: alive,
                    reasons: &[RecycledPid],
                    removable: true,
                    ..row(
                        "the same second, another microsecond: recycled",
                        with_us(50, SECS, US + 1),
                    )
                },
                Row {
                    probe: alive,
                    purpose: Purpose::CLEAN,
                    reasons: &[OrphanSelfPid],
                    removable: true,
                    ..row(
                        "the gateway's file with our pid and our second, sweep: orphan",
                        legacy(Some(1), Some(1), Some(SECS), None),
                    )
                },
                Row {
                    probe: alive,
                    purpose: Purpose::CLEAN,
                    reasons: &[RecycledPid],
                    removable: true,
                    ..row(
                        "our pid, our second, another microsecond: an earlier process",
                        with_us(1, SECS, US - 1),
                    )
                },
            ],
        );
    }

    /// The instant an age rule would change the answer, for the waiters' one timer per path.
    #[test]
    fn says_when_an_age_rule_would_change_the_answer() {
        let host = me();
        let stale = Duration::from_secs(30 * 60);
        let flip = |minutes_ago: i64, after_ms: i64| Some(NOW - minutes_ago * MIN + after_ms + 1);
        let flock_here = ours(99, OLD_NONCE, 4026531836, "boot-1", "gw-a");
        let flock_elsewhere = ours(5, OLD_NONCE, 4026531836, "boot-2", "gw-z");
        let grace = malformed_grace(None, stale).as_millis() as i64;
        let cases = [
            (
                "live holder here, no max-hold: no age rule",
                &flock_here,
                500,
                None,
                None,
            ),
            (
                "other kernel: heartbeat turning old",
                &flock_elsewhere,
                10,
                None,
                flip(10, 30 * MIN),
            ),
            (
                "other kernel, expired: removable now",
                &flock_elsewhere,
                31,
                None,
                None,
            ),
            (
                "legacy live pid: createdAt turning too old",
                &legacy(Some(50), Some(12), None, None),
                0,
                ALIVE,
                flip(12, 30 * MIN),
            ),
            (
                "legacy malformed and fresh: its mtime past the grace",
                &legacy(None, Some(1), None, None),
                0,
                None,
                flip(0, grace),
            ),
            (
                "legacy dead pid: removable now",
                &legacy(Some(50), Some(1), None, None),
                0,
                Some(PidProbe::Dead),
                None,
            ),
        ];
        for (name, payload, mtime_ago_min, probe, expected) in cases {
            let at = |now_ms: i64| {
                decide(
                    &Observation {
                        payload,
                        mtime_ms: NOW - mtime_ago_min * MIN,
                        flock_free: false,
                        pid_probe: probe,
                        held_by_us: false,
                        owner_is_gateway: None,
                    },
                    &Observer {
                        identity: &host,
                        nonce: OUR_NONCE,
                        now_ms,
                        stale,
                        purpose: Purpose::ACQUIRE,
                        malformed_grace: malformed_grace(None, stale),
                    },
                )
            };
            let v = at(NOW);
            assert_eq!(v.recheck_at_ms, expected, "{name}");
            if let Some(flip) = expected {
                // Exactly then, and not a millisecond sooner, the answer changes.
                let changed = |v: &Verdict| v.removable || v.report_only;
                assert!(!changed(&v) && !changed(&at(flip - 1)), "{name}");
                assert!(changed(&at(flip)), "{name}");
            }
        }
    }

    /// Only a flock holder on this kernel and in our pid namespace has a pid we can watch.
    #[test]
    fn a_flock_holders_pid_is_local_on_this_kernel_and_pid_namespace() {
        let host = me();
        let ns = 4026531836;
        let here = ours(42, OLD_NONCE, ns, "boot-1", "gw-a");
        assert_eq!(local_flock_pid(&here, &host), Some(42));
        let cases = [
            ("another boot", ours(42, OLD_NONCE, ns, "boot-2", "gw-a")),
            (
                "another pid namespace",
                ours(42, OLD_NONCE, ns + 1, "boot-1", "gw-a"),
            ),
            (
                "a legacy file",
                Payload {
                    flock: false,
                    ..here.clone()
                },
            ),
            (
                "no pid",
                Payload {
                    pid: None,
                    ..here.clone()
                },
            ),
        ];
        for (name, payload) in cases {
            assert_eq!(local_flock_pid(&payload, &host), None, "{name}");
        }
        let no_boot = |host: &str| Payload {
            boot_id: None,
            hostname: Some(host.into()),
            ..here.clone()
        };
        assert_eq!(
            local_flock_pid(&no_boot("gw-a"), &host),
            Some(42),
            "same hostname"
        );
        assert_eq!(
            local_flock_pid(&no_boot("gw-b"), &host),
            None,
            "another host"
        );
    }

    /// A dotlock holding `pid`, as the rule `foreign` reads it (through the parser).
    fn dotlock(pid: u32, foreign: Foreign) -> Payload {
        Payload::parse(format!("{pid}\n").as_bytes()).read_as(foreign)
    }

    /// Files this library did not write, under each rule for them: the gateway's rules
    /// remove (the gateway's API, unchanged), `keep` never does, `dotlock` removes only a
    /// dotlock whose pid is dead. Files of this library are judged alike under every rule.
    #[test]
    fn foreign_files_under_each_rule() {
        let keep = Purpose::ACQUIRE.with_foreign(Foreign::Keep);
        let dot = Purpose::ACQUIRE.with_foreign(Foreign::Dotlock);
        let clean_keep = Purpose::CLEAN.with_foreign(Foreign::Keep);
        let other_gateway_file = legacy(Some(50), Some(1), Some(77), None);
        let dead_old_gateway_file = legacy(Some(50), Some(120), None, None);
        let exited = || Row {
            flock_free: true,
            reasons: &[HolderExited],
            removable: true,
            ..row("", ours(99, OLD_NONCE, 4026531836, "boot-1", "gw-a"))
        };
        let rows = vec![
            // The repro: a 40 s old liblockfile `mailbox.lock` of a dead pid.
            Row {
                purpose: keep,
                probe: Some(PidProbe::Dead),
                mtime_ago_ms: 40 * SEC,
                ..row(
                    "keep: 40 s old dotlock, dead pid",
                    dotlock(4242, Foreign::Keep),
                )
            },
            Row {
                purpose: clean_keep,
                probe: Some(PidProbe::Dead),
                mtime_ago_ms: 500 * MIN,
                ..row(
                    "keep, sweep: old dotlock, dead pid",
                    dotlock(4242, Foreign::Keep),
                )
            },
            Row {
                purpose: keep,
                probe: ALIVE,
                owner_is_gateway: Some(false),
                ..row(
                    "keep: {pid, createdAt} of a live non-gateway process",
                    other_gateway_file,
                )
            },
            Row {
                purpose: keep,
                probe: Some(PidProbe::Dead),
                ..row(
                    "keep: {pid, createdAt} of a dead pid, 2 h old",
                    dead_old_gateway_file.clone(),
                )
            },
            Row {
                purpose: keep,
                mtime_ago_ms: 500 * MIN,
                ..row("keep: an old empty file", Payload::default())
            },
            Row {
                purpose: keep,
                ..exited()
            },
            Row {
                purpose: dot,
                probe: Some(PidProbe::Dead),
                reasons: &[DeadPid],
                removable: true,
                ..row(
                    "dotlock: dead pid, just written",
                    dotlock(4242, Foreign::Dotlock),
                )
            },
            Row {
                purpose: dot,
                probe: ALIVE,
                mtime_ago_ms: 500 * MIN,
                ..row(
                    "dotlock: live pid, hours old",
                    dotlock(4242, Foreign::Dotlock),
                )
            },
            Row {
                purpose: dot,
                ..row("dotlock: pid not probed", dotlock(4242, Foreign::Dotlock))
            },
            Row {
                purpose: dot,
                probe: Some(PidProbe::Dead),
                ..row(
                    "dotlock rule: a {pid, createdAt} file is kept",
                    dead_old_gateway_file.clone(),
                )
            },
            Row {
                purpose: dot,
                mtime_ago_ms: 500 * MIN,
                ..row(
                    "dotlock rule: an old empty file is kept",
                    Payload::default(),
                )
            },
            Row {
                purpose: dot,
                ..exited()
            },
            // The gateway's rules, unchanged: a dotlock is a malformed file to them.
            Row {
                probe: Some(PidProbe::Dead),
                mtime_ago_ms: 40 * SEC,
                reasons: &[MissingPid, InvalidCreatedAt],
                removable: true,
                ..row(
                    "gateway: 40 s old dotlock is malformed",
                    dotlock(4242, Foreign::Gateway),
                )
            },
            // (A live non-gateway {pid, createdAt} under the gateway's rules: `non-gateway-owner`,
            // in legacy_own_pid_and_owner_rules.)
        ];
        check(rows);
        // What each file is reported as: a dotlock only by the rules that understand it.
        let formats = [
            (dotlock(7, Foreign::Keep), keep, Format::Dotlock),
            (dotlock(7, Foreign::Dotlock), dot, Format::Dotlock),
            (
                dotlock(7, Foreign::Gateway),
                Purpose::ACQUIRE,
                Format::Legacy,
            ),
            (dead_old_gateway_file.clone(), keep, Format::Legacy),
            (dead_old_gateway_file, dot, Format::Legacy),
            (
                ours(99, OLD_NONCE, 1, "boot-1", "gw-a"),
                keep,
                Format::Flock,
            ),
        ];
        let host = me();
        for (payload, purpose, format) in formats {
            let v = decide(
                &Observation {
                    payload: &payload,
                    mtime_ms: NOW,
                    flock_free: false,
                    pid_probe: None,
                    held_by_us: false,
                    owner_is_gateway: None,
                },
                &Observer {
                    identity: &host,
                    nonce: OUR_NONCE,
                    now_ms: NOW,
                    stale: Duration::from_secs(60),
                    purpose,
                    malformed_grace: Duration::from_secs(5),
                },
            );
            assert_eq!(v.format, format, "{payload:?} under {purpose:?}");
            if !payload.flock && purpose.foreign != Foreign::Gateway {
                assert_eq!(v.recheck_at_ms, None, "no age rule: {payload:?}");
            }
        }
    }

    /// Each reason and format has one spelling, the one every report and error uses (serde
    /// included); no two share it.
    #[test]
    fn reasons_and_formats_are_spelled_once() {
        use StaleReason::*;
        let all = [
            HolderExited,
            NonceMismatch,
            HeartbeatExpired,
            MissingPid,
            InvalidCreatedAt,
            DeadPid,
            RecycledPid,
            OrphanSelfPid,
            TooOld,
            HoldExceeded,
            NonGatewayOwner,
            LeaseLost,
        ];
        // Exhaustive: a new reason stops the build here until it is added to `all`.
        for r in all {
            match r {
                HolderExited | NonceMismatch | HeartbeatExpired | MissingPid | InvalidCreatedAt
                | DeadPid | RecycledPid | OrphanSelfPid | TooOld | HoldExceeded
                | NonGatewayOwner | LeaseLost => {}
            }
        }
        let mut spellings: Vec<&str> = all.iter().map(|r| r.as_str()).collect();
        spellings.extend([
            Format::Flock.as_str(),
            Format::Legacy.as_str(),
            Format::Dotlock.as_str(),
        ]);
        let distinct: std::collections::BTreeSet<&str> = spellings.iter().copied().collect();
        assert_eq!(distinct.len(), spellings.len(), "{spellings:?}");
        for r in all {
            assert_eq!(r.to_string(), r.as_str());
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.as_str())
            );
        }
        assert_eq!(
            serde_json::to_string(&Format::Legacy).unwrap(),
            "\"legacy\""
        );
        assert_eq!(
            (InvalidCreatedAt.as_str(), NonGatewayOwner.as_str()),
            ("invalid-createdAt", "non-gateway-owner")
        );
    }
}
