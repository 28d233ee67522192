//! Fuzzes the lock-file parser and the staleness decision with arbitrary file contents and
//! arbitrary observations, checking the invariants the protocol rests on.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run payload_and_verdict -- -max_total_time=600` in fuzz/.
#![no_main]

use libfuzzer_sys::fuzz_target;
use session_write_lock::testing::payload::Payload;
use session_write_lock::testing::verdict::{decide, Format, Observation, Observer, Purpose, StaleReason};
use session_write_lock::testing::{PidProbe, ProcessIdentity};
use session_write_lock::Foreign;
use std::time::Duration;

const NONCE: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fuzz_target!(|data: &[u8]| {
    // The first 24 bytes choose the observation; the rest is the lock file's content.
    let (head, content) = data.split_at(data.len().min(24));
    let mut control = [0u8; 24];
    control[..head.len()].copy_from_slice(head);
    let word = |i: usize| i64::from_le_bytes(control[i..i + 8].try_into().unwrap());

    let foreign = Foreign::ALL[usize::from(control[6] % 3)];
    let payload = Payload::parse(content).read_as(foreign);
    if let Some(pid) = payload.pid {
        assert!(pid >= 1 && pid <= i32::MAX as u32);
    }
    let me = ProcessIdentity {
        pid: payload.pid.filter(|_| control[0] & 1 == 1).unwrap_or(4242),
        starttime: Some(500),
        starttime_us: payload.starttime_us.filter(|_| control[0] & 128 == 128),
        hostname: payload.hostname.clone().filter(|_| control[0] & 2 == 2).unwrap_or_else(|| "fuzz-host".into()),
        boot_id: payload.boot_id.clone().filter(|_| control[0] & 4 == 4),
        pid_ns: payload.pid_ns.filter(|_| control[0] & 8 == 8),
    };
    let flock_free = control[0] & 16 == 16;
    let pid_probe = match control[1] % 3 {
        0 => None,
        1 => Some(PidProbe::Dead),
        _ => Some(PidProbe::Alive { starttime: (control[2] & 1 == 1).then_some(u64::from(control[3])), starttime_us: (control[2] & 2 == 2).then_some(u64::from(control[3])) }),
    };
    let now_ms = word(8).rem_euclid(4_000_000_000_000);
    let owner_is_gateway = match control[5] % 3 {
        0 => None,
        n => Some(n == 1),
    };
    let obs = Observation { payload: &payload, mtime_ms: word(16), flock_free, pid_probe, held_by_us: control[1] & 128 == 128, owner_is_gateway };
    let purpose = if control[0] & 32 == 32 { Purpose::ACQUIRE } else { Purpose::CLEAN }.with_foreign(foreign);
    let observer = Observer { identity: &me, nonce: NONCE, now_ms, stale: Duration::from_millis(1 + u64::from(control[4]) * 60_000), purpose, malformed_grace: Duration::from_secs(if control[0] & 64 == 64 { 5 } else { 30 }) };
    let v = decide(&obs, &observer);

    assert!(!v.removable || !v.reasons.is_empty());
    assert!(!(v.removable && v.report_only));
    if !purpose.respect_max_hold {
        assert!(!v.reasons.contains(&StaleReason::HoldExceeded));
    }
    assert_eq!(v.format == Format::Flock, payload.flock);
    if payload.flock {
        let same_kernel = match (&payload.boot_id, &me.boot_id) {
            (Some(a), Some(b)) => a == b,
            _ => payload.hostname.as_deref() == Some(me.hostname.as_str()),
        };
        let earlier_us = payload.pid == Some(me.pid) && payload.pid_ns == me.pid_ns && payload.nonce.as_deref() != Some(NONCE);
        if same_kernel && !flock_free && !earlier_us {
            assert!(!v.removable, "live flock holder judged removable: {payload:?}");
        }
        if same_kernel && flock_free {
            assert_eq!(v.reasons, [StaleReason::HolderExited]);
        }
    } else {
        match foreign {
            Foreign::Gateway => assert!(v.removable || payload.pid.is_none() || pid_probe != Some(PidProbe::Dead)),
            // Files of other programs: kept, or only a dead dotlock goes.
            Foreign::Keep => assert!(!v.removable && v.reasons.is_empty()),
            Foreign::Dotlock => assert_eq!(v.removable, payload.dotlock_pid.is_some() && pid_probe == Some(PidProbe::Dead)),
        }
    }
});
