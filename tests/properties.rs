//! Properties of the payload parser and the staleness decision over arbitrary inputs
//! (the fuzz targets in fuzz/ explore the same space for longer).

use proptest::prelude::*;
use session_write_lock::testing::payload::{Payload, WrittenPayload};
use session_write_lock::testing::verdict::{
    decide, Format, Observation, Observer, Purpose, StaleReason,
};
use session_write_lock::testing::{PidProbe, ProcessIdentity};
use session_write_lock::Foreign;
use std::time::Duration;

fn me() -> ProcessIdentity {
    ProcessIdentity {
        pid: 1,
        starttime: Some(500),
        starttime_us: None,
        hostname: "gw-a".into(),
        boot_id: Some("boot-1".into()),
        pid_ns: Some(7),
    }
}

const NONCE: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn arb_payload() -> impl Strategy<Value = Payload> {
    (
        proptest::option::of(1u32..100),
        proptest::option::of(0i64..4_000_000_000_000),
        proptest::option::of(prop_oneof![Just(NONCE.to_string()), "[0-9a-f]{32}"]),
        proptest::option::of(0u64..1000),
        proptest::option::of(prop_oneof![
            Just("gw-a".to_string()),
            Just("gw-b".to_string())
        ]),
        proptest::option::of(prop_oneof![
            Just("boot-1".to_string()),
            Just("boot-2".to_string())
        ]),
        proptest::option::of(prop_oneof![Just(7u64), Just(8u64)]),
        any::<bool>(),
    )
        .prop_map(
            |(pid, created_at_ms, nonce, starttime, hostname, boot_id, pid_ns, flock)| Payload {
                pid,
                created_at: None,
                created_at_ms,
                nonce,
                starttime,
                starttime_us: None,
                hostname,
                boot_id,
                pid_ns,
                flock,
                max_hold_ms: None,
                owner: None,
                dotlock_pid: None,
            },
        )
}

fn arb_probe() -> impl Strategy<Value = Option<PidProbe>> {
    proptest::option::of(prop_oneof![
        Just(PidProbe::Dead),
        proptest::option::of(0u64..1000).prop_map(|starttime| PidProbe::Alive {
            starttime,
            starttime_us: None
        }),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsing_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let p = Payload::parse(&bytes);
        prop_assert!(p.pid.is_none_or(|pid| pid >= 1 && pid <= i32::MAX as u32));
    }

    #[test]
    fn parsing_arbitrary_json_objects_never_panics(json in "\\{(\"(pid|createdAt|nonce|starttime|flock|bootId|pidNs)\":(-?[0-9]{1,25}(\\.[0-9]+)?|\"[^\"]{0,30}\"|true|null|\\[\\]),?){0,7}\\}") {
        let _ = Payload::parse(json.as_bytes());
    }

    #[test]
    fn what_we_write_we_read_back(pid in 1u32..=i32::MAX as u32, nonce in "[0-9a-f]{32}", host in "\\PC{0,40}", boot in "\\PC{0,40}", starttime in any::<u64>(), ns in any::<u64>(), ms in 0i64..250_000_000_000_000) {
        let created_at = {
            let t = std::time::UNIX_EPOCH + Duration::from_millis(ms as u64);
            session_write_lock::testing::iso_time::format(t)
        };
        let written = WrittenPayload { pid, created_at: created_at.clone(), nonce: nonce.clone(), starttime: Some(starttime), starttime_us: Some(starttime / 3), hostname: host.clone(), boot_id: Some(boot.clone()), pid_ns: Some(ns), flock: true, max_hold_ms: Some(300_000), owner: Some(host.clone()) };
        let p = Payload::parse(&written.to_bytes().unwrap());
        prop_assert_eq!(p.pid, Some(pid));
        prop_assert_eq!(p.created_at_ms, Some(ms));
        prop_assert_eq!(p.created_at, Some(created_at));
        prop_assert_eq!(p.nonce, Some(nonce));
        prop_assert_eq!(p.hostname, Some(host));
        prop_assert_eq!(p.boot_id, Some(boot));
        prop_assert!(p.flock);
        // Integers beyond 2^53 do not survive JavaScript, but they do survive us.
        prop_assert_eq!((p.starttime, p.pid_ns), (Some(starttime), Some(ns)));
        prop_assert_eq!(p.starttime_us, Some(starttime / 3));
    }

    #[test]
    fn decisions_are_consistent(payload in arb_payload(), mtime_ago in -100_000i64..10_000_000, flock_free: bool, probe in arb_probe(), held_by_us: bool, now in 3_000_000_000_000i64..3_100_000_000_000, acquire: bool, owner_is_gateway in proptest::option::of(any::<bool>()), max_hold in proptest::option::of(1u64..10_000_000), foreign in prop_oneof![Just(Foreign::Gateway), Just(Foreign::Keep), Just(Foreign::Dotlock)], dotlock: bool) {
        let identity = me();
        // A dotlock is a file with nothing but a pid (as the parser makes it, then read by the rule).
        let payload = match (dotlock, payload.pid) {
            (true, Some(pid)) => Payload { dotlock_pid: Some(pid), ..Payload::default() }.read_as(foreign),
            _ => Payload { max_hold_ms: max_hold, ..payload },
        };
        let obs = Observation { payload: &payload, mtime_ms: now - mtime_ago, flock_free, pid_probe: probe, held_by_us, owner_is_gateway };
        let purpose = if acquire { Purpose::ACQUIRE } else { Purpose::CLEAN }.with_foreign(foreign);
        let observer = Observer { identity: &identity, nonce: NONCE, now_ms: now, stale: Duration::from_secs(1800), purpose, malformed_grace: Duration::from_secs(30) };
        let v = decide(&obs, &observer);
        prop_assert!(!v.removable || !v.reasons.is_empty(), "removable only with a reason");
        prop_assert!(!(v.removable && v.report_only), "removed or reported, never both");
        let only_old = !v.reasons.is_empty() && v.reasons.iter().all(|r| matches!(r, StaleReason::TooOld | StaleReason::HoldExceeded));
        prop_assert!(!only_old || !v.removable, "a holder that is only old is never removed");
        if !acquire {
            prop_assert!(!v.reasons.contains(&StaleReason::HoldExceeded), "the sweep never computes hold-exceeded");
        }
        prop_assert_eq!(v.format == Format::Flock, payload.flock);
        let flock_reasons = [StaleReason::HolderExited, StaleReason::NonceMismatch, StaleReason::HeartbeatExpired, StaleReason::HoldExceeded];
        if payload.flock {
            prop_assert!(v.reasons.len() <= 1 && v.reasons.iter().all(|r| flock_reasons.contains(r)));
            let same_kernel = payload.boot_id.as_deref() == Some("boot-1") || (payload.boot_id.is_none() && payload.hostname.as_deref() == Some("gw-a"));
            let ours = payload.pid == Some(1) && payload.pid_ns == Some(7);
            if same_kernel && !flock_free && !ours {
                prop_assert!(!v.removable, "a live flock holder on this kernel is never removed, whatever its age");
            }
            if same_kernel && flock_free {
                prop_assert_eq!(v.reasons, vec![StaleReason::HolderExited]);
            }
        } else {
            prop_assert!(v.reasons.iter().all(|r| !matches!(r, StaleReason::HolderExited | StaleReason::HeartbeatExpired)));
            match foreign {
                Foreign::Gateway => if payload.pid.is_some() && probe == Some(PidProbe::Dead) {
                    prop_assert!(v.removable, "a dead legacy holder is always removable");
                },
                Foreign::Keep => prop_assert!(v.reasons.is_empty() && !v.removable, "kept: never stale, never removed"),
                Foreign::Dotlock => {
                    let dead_dotlock = payload.dotlock_pid.is_some() && probe == Some(PidProbe::Dead);
                    prop_assert_eq!(v.removable, dead_dotlock, "only a dotlock of a dead pid goes");
                }
            }
        }
    }
}
