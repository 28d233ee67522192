//! Is the holder gone? DESIGN §3 as a pure function of what was observed, so that every rule
//! is a row in a table test. The I/O that gathers an [`Observation`] lives in `attempt`.

use crate::identity::{PidProbe, ProcessIdentity};
use crate::payload::Payload;
use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StaleReason {
    /// flock payload, same kernel: the flock could be taken, so the holder's fd is closed.
    HolderExited,
    /// Same pid (and pid namespace) as us under another nonce: an earlier iteration of this process.
    NonceMismatch,
    /// flock payload from another kernel whose holder stopped refreshing the mtime.
    HeartbeatExpired,
    MissingPid,
    InvalidCreatedAt,
    DeadPid,
    RecycledPid,
    OrphanSelfPid,
    TooOld,
}

impl StaleReason {
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
        }
    }
}

impl fmt::Display for StaleReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Written by this library: the holder keeps a flock on the file.
    Flock,
    /// Written by the TypeScript implementation, or unreadable.
    Legacy,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Flock => "flock",
            Format::Legacy => "legacy",
        }
    }
}

/// Everything the decision needs about the lock file, gathered by the I/O layer.
#[derive(Debug, Clone)]
pub struct Observation<'a> {
    pub payload: &'a Payload,
    pub mtime_ms: i64,
    /// We took `flock(LOCK_EX|LOCK_NB)` on the inspected file: nobody holds it.
    pub flock_free: bool,
    /// `kill(pid, 0)` + `/proc` for the payload's pid; only needed for legacy payloads.
    pub pid_probe: Option<PidProbe>,
    /// This lock path is in this process's held table.
    pub held_by_us: bool,
}

/// Who is asking.
#[derive(Debug, Clone, Copy)]
pub struct Observer<'a> {
    pub identity: &'a ProcessIdentity,
    pub nonce: &'a str,
    pub now_ms: i64,
    pub stale: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub format: Format,
    /// Every rule that says the holder is gone; empty when it is alive.
    pub reasons: Vec<StaleReason>,
    /// The lock may be reclaimed. Differs from "reasons is not empty" only for malformed
    /// legacy files, which must also be older than `stale` by mtime (a writer may be mid-write).
    pub reclaimable: bool,
}

pub fn decide(obs: &Observation<'_>, me: &Observer<'_>) -> Verdict {
    let p = obs.payload;
    let older_than_stale = |ms: i64| me.now_ms.saturating_sub(ms) > me.stale.as_millis() as i64;
    if p.flock {
        let same_kernel = match (&p.boot_id, &me.identity.boot_id) {
            (Some(theirs), Some(ours)) => theirs == ours,
            _ => p.hostname.as_deref() == Some(me.identity.hostname.as_str()),
        };
        let reason = if !same_kernel {
            older_than_stale(obs.mtime_ms).then_some(StaleReason::HeartbeatExpired)
        } else if obs.flock_free {
            Some(StaleReason::HolderExited)
        } else if p.pid_ns == me.identity.pid_ns
            && p.pid == Some(me.identity.pid)
            && p.nonce.as_deref() != Some(me.nonce)
        {
            Some(StaleReason::NonceMismatch)
        } else {
            // A live flock holder on this kernel is authoritative, whatever its age. Same pid in
            // another pid namespace is another container, alive.
            None
        };
        let reasons: Vec<_> = reason.into_iter().collect();
        return Verdict {
            format: Format::Flock,
            reclaimable: !reasons.is_empty(),
            reasons,
        };
    }

    let mut reasons = Vec::new();
    match (p.pid, obs.pid_probe) {
        (None, _) => reasons.push(StaleReason::MissingPid),
        (Some(_), Some(PidProbe::Dead)) => reasons.push(StaleReason::DeadPid),
        (
            Some(_),
            Some(PidProbe::Alive {
                starttime: Some(now),
            }),
        ) if p.starttime.is_some_and(|then| then != now) => reasons.push(StaleReason::RecycledPid),
        _ => {}
    }
    if p.pid == Some(me.identity.pid) {
        if p.starttime.is_none() && !obs.held_by_us {
            reasons.push(StaleReason::OrphanSelfPid);
        }
        if p.nonce.as_deref().is_some_and(|n| n != me.nonce) {
            reasons.push(StaleReason::NonceMismatch);
        }
    }
    match p.created_at_ms {
        None => reasons.push(StaleReason::InvalidCreatedAt),
        Some(created) if older_than_stale(created) => reasons.push(StaleReason::TooOld),
        Some(_) => {}
    }
    let only_malformed = reasons
        .iter()
        .all(|r| matches!(r, StaleReason::MissingPid | StaleReason::InvalidCreatedAt));
    let reclaimable = !reasons.is_empty() && (!only_malformed || older_than_stale(obs.mtime_ms));
    Verdict {
        format: Format::Legacy,
        reasons,
        reclaimable,
    }
}

#[cfg(test)]
mod tests {
    use super::StaleReason::*;
    use super::*;

    const NOW: i64 = 1_800_000_000_000;
    const MIN: i64 = 60_000;
    const OUR_NONCE: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const OLD_NONCE: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn me() -> ProcessIdentity {
        ProcessIdentity {
            pid: 1,
            starttime: Some(500),
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
            hostname: Some(host.into()),
            boot_id: Some(boot.into()),
            pid_ns: Some(pid_ns),
            flock: true,
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
        mtime_ago_min: i64,
        flock_free: bool,
        probe: Option<PidProbe>,
        held_by_us: bool,
        reasons: &'static [StaleReason],
        reclaimable: bool,
    }

    fn row(name: &'static str, payload: Payload) -> Row {
        Row {
            name,
            payload,
            mtime_ago_min: 0,
            flock_free: false,
            probe: None,
            held_by_us: false,
            reasons: &[],
            reclaimable: false,
        }
    }

    const ALIVE: Option<PidProbe> = Some(PidProbe::Alive {
        starttime: Some(77),
    });

    #[test]
    fn every_rule_of_design_section_3() {
        let host = me();
        let rows = vec![
            // A. flock payloads
            Row {
                flock_free: true,
                reasons: &[HolderExited],
                reclaimable: true,
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
                mtime_ago_min: 500,
                ..row(
                    "live flock holder is never stale by age",
                    ours(99, OLD_NONCE, 4026531836, "boot-1", "gw-a"),
                )
            },
            Row {
                reasons: &[NonceMismatch],
                reclaimable: true,
                ..row(
                    "same pid, same pid ns, other nonce: earlier iteration of us",
                    ours(1, OLD_NONCE, 4026531836, "boot-1", "gw-a"),
                )
            },
            row(
                "same pid, same pid ns, our nonce: ours, alive",
                ours(1, OUR_NONCE, 4026531836, "boot-1", "gw-a"),
            ),
            row(
                "same pid in another pid namespace is another container: alive",
                ours(1, OLD_NONCE, 4026532178, "boot-1", "gw-b"),
            ),
            Row {
                flock_free: true,
                reasons: &[HolderExited],
                reclaimable: true,
                ..row(
                    "other container, flock free: exited",
                    ours(1, OLD_NONCE, 4026532178, "boot-1", "gw-b"),
                )
            },
            Row {
                mtime_ago_min: 31,
                reasons: &[HeartbeatExpired],
                reclaimable: true,
                ..row(
                    "other kernel, heartbeat older than stale",
                    ours(5, OLD_NONCE, 4026531836, "boot-2", "gw-z"),
                )
            },
            Row {
                mtime_ago_min: 29,
                flock_free: true,
                ..row(
                    "other kernel, fresh heartbeat: alive even if flock looks free",
                    ours(5, OLD_NONCE, 4026531836, "boot-2", "gw-z"),
                )
            },
            Row {
                flock_free: true,
                reasons: &[HolderExited],
                reclaimable: true,
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
                mtime_ago_min: 1,
                ..row(
                    "no bootId, other hostname: heartbeat rules",
                    Payload {
                        boot_id: None,
                        ..ours(9, OLD_NONCE, 1, "x", "gw-other")
                    },
                )
            },
            // B. legacy payloads
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
                reclaimable: true,
                ..row("legacy dead pid", legacy(Some(50), Some(1), None, None))
            },
            Row {
                probe: ALIVE,
                reasons: &[RecycledPid],
                reclaimable: true,
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
                reclaimable: true,
                ..row(
                    "legacy live pid, older than staleMs",
                    legacy(Some(50), Some(31), None, None),
                )
            },
            Row {
                reasons: &[MissingPid],
                ..row(
                    "legacy missing pid, fresh file: kept",
                    legacy(None, Some(1), None, None),
                )
            },
            Row {
                mtime_ago_min: 31,
                reasons: &[MissingPid],
                reclaimable: true,
                ..row(
                    "legacy missing pid, old file: reclaimed by mtime",
                    legacy(None, Some(1), None, None),
                )
            },
            Row {
                probe: ALIVE,
                reasons: &[InvalidCreatedAt],
                ..row(
                    "legacy unparsable createdAt, fresh file: kept",
                    legacy(Some(50), None, None, None),
                )
            },
            Row {
                probe: ALIVE,
                mtime_ago_min: 31,
                reasons: &[InvalidCreatedAt],
                reclaimable: true,
                ..row(
                    "legacy unparsable createdAt, old file",
                    legacy(Some(50), None, None, None),
                )
            },
            Row {
                reasons: &[MissingPid, InvalidCreatedAt],
                ..row("garbage, fresh", Payload::default())
            },
            Row {
                mtime_ago_min: 31,
                reasons: &[MissingPid, InvalidCreatedAt],
                reclaimable: true,
                ..row("garbage, old", Payload::default())
            },
            Row {
                probe: Some(PidProbe::Dead),
                reasons: &[DeadPid, InvalidCreatedAt],
                reclaimable: true,
                ..row(
                    "dead pid makes a malformed file reclaimable at once",
                    legacy(Some(50), None, None, None),
                )
            },
            Row {
                probe: ALIVE,
                reasons: &[OrphanSelfPid],
                reclaimable: true,
                ..row(
                    "legacy own pid, no starttime, not held: orphan",
                    legacy(Some(1), Some(1), None, None),
                )
            },
            Row {
                probe: ALIVE,
                held_by_us: true,
                ..row(
                    "legacy own pid, held by us: kept",
                    legacy(Some(1), Some(1), None, None),
                )
            },
            Row {
                probe: Some(PidProbe::Alive {
                    starttime: Some(500),
                }),
                reasons: &[NonceMismatch],
                reclaimable: true,
                ..row(
                    "legacy own pid, other nonce",
                    legacy(Some(1), Some(1), Some(500), Some(OLD_NONCE)),
                )
            },
            Row {
                probe: Some(PidProbe::Alive {
                    starttime: Some(500),
                }),
                ..row(
                    "legacy own pid, matching nonce kept",
                    legacy(Some(1), Some(1), Some(500), Some(OUR_NONCE)),
                )
            },
            Row {
                probe: ALIVE,
                ..row(
                    "legacy other pid's nonce is not ours to judge",
                    legacy(Some(50), Some(1), None, Some(OLD_NONCE)),
                )
            },
        ];
        for r in rows {
            let obs = Observation {
                payload: &r.payload,
                mtime_ms: NOW - r.mtime_ago_min * MIN,
                flock_free: r.flock_free,
                pid_probe: r.probe,
                held_by_us: r.held_by_us,
            };
            let observer = Observer {
                identity: &host,
                nonce: OUR_NONCE,
                now_ms: NOW,
                stale: Duration::from_secs(30 * 60),
            };
            let v = decide(&obs, &observer);
            assert_eq!(v.reasons, r.reasons, "{}", r.name);
            assert_eq!(v.reclaimable, r.reclaimable, "{}", r.name);
            assert_eq!(v.format == Format::Flock, r.payload.flock, "{}", r.name);
        }
    }
}
