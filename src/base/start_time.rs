//! A process's start time as lock files carry it (docs/PROTOCOL.md, "Files" and "Platforms"):
//! `starttime` in the gateway's unit for the platform, so that the gateway's module and this
//! library judge each other's files alike, and where the platform reads finer, microseconds
//! since the epoch in a field of our own, `starttimeUs`. The platform layer reads; this module
//! converts and compares, and runs everywhere (the macOS and FreeBSD readers cannot run here).

/// One reading of a process's start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartTime {
    /// The gateway's unit: clock ticks since boot (Linux), seconds since the epoch (macOS,
    /// FreeBSD); on Windows, once ported, milliseconds since the epoch (creation time).
    pub gateway: u64,
    /// Microseconds since the epoch, where the platform reads them (macOS, FreeBSD).
    pub micros: Option<u64>,
}

impl StartTime {
    /// Linux: field 22 of `/proc/<pid>/stat`, clock ticks since boot — the gateway's unit as is.
    // Read on Linux only; the tests of every platform build it.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub fn ticks(ticks: u64) -> StartTime {
        StartTime {
            gateway: ticks,
            micros: None,
        }
    }

    /// macOS and FreeBSD: the kernel's `timeval` since the epoch. The gateway reads whole
    /// seconds there (`ps -o lstart=`); the microseconds are ours.
    #[cfg_attr(any(target_os = "linux", windows), allow(dead_code))]
    pub fn since_epoch(sec: u64, usec: u64) -> StartTime {
        StartTime {
            gateway: sec,
            micros: Some(sec.saturating_mul(1_000_000).saturating_add(usec)),
        }
    }
}

impl StartTime {
    /// Windows: a process's creation time (`GetProcessTimes`), in 100 ns units since the
    /// epoch. The gateway's unit there is milliseconds since the epoch (the process's
    /// `CreationDate`); the microseconds are ours.
    #[cfg_attr(not(windows), allow(dead_code))]
    pub fn creation(since_epoch_100ns: u64) -> StartTime {
        StartTime {
            gateway: since_epoch_100ns / 10_000,
            micros: Some(since_epoch_100ns / 10),
        }
    }
}

/// Whether two start times, each `(starttime, starttimeUs)`, are one process's: compared in
/// microseconds when both sides have them (two processes a pid served within one second
/// differ there), else in the gateway's unit; `None` when that cannot be told.
pub fn same_start(a: (Option<u64>, Option<u64>), b: (Option<u64>, Option<u64>)) -> Option<bool> {
    match (a, b) {
        ((_, Some(a_us)), (_, Some(b_us))) => Some(a_us == b_us),
        ((Some(a), _), (Some(b), _)) => Some(a == b),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_readings_are_the_gateways_seconds_and_our_microseconds() {
        // 2026-12-07T19:48:03.250001Z
        let mac = StartTime::since_epoch(1_796_672_883, 250_001);
        assert_eq!(
            mac.gateway, 1_796_672_883,
            "seconds, as `ps -o lstart=` reads them"
        );
        assert_eq!(mac.micros, Some(1_796_672_883_250_001));
        assert_eq!(
            StartTime::since_epoch(1_796_672_883, 999_999).gateway,
            1_796_672_883,
            "truncated, never rounded up: the gateway's ps shows the second it started in"
        );
        assert_eq!(
            StartTime::since_epoch(u64::MAX, 5).micros,
            Some(u64::MAX),
            "saturates"
        );
        assert_eq!(
            StartTime::ticks(44_396),
            StartTime {
                gateway: 44_396,
                micros: None
            }
        );
    }

    #[test]
    fn compared_in_microseconds_where_both_have_them() {
        let secs = Some(1_796_672_883);
        let (us_a, us_b) = (Some(1_796_672_883_250_001), Some(1_796_672_883_750_000));
        let rows = [
            (
                "both microseconds, equal",
                (secs, us_a),
                (secs, us_a),
                Some(true),
            ),
            (
                "same second, other microsecond",
                (secs, us_a),
                (secs, us_b),
                Some(false),
            ),
            (
                "the gateway's file: seconds only",
                (secs, None),
                (secs, us_a),
                Some(true),
            ),
            (
                "seconds only, another second",
                (Some(1), None),
                (secs, us_a),
                Some(false),
            ),
            ("Linux ticks", (Some(7), None), (Some(7), None), Some(true)),
            ("one side unknown", (None, None), (secs, us_a), None),
            (
                "microseconds against nothing",
                (None, us_a),
                (secs, None),
                None,
            ),
        ];
        for (name, a, b, same) in rows {
            assert_eq!(same_start(a, b), same, "{name}");
            assert_eq!(same_start(b, a), same, "{name}, the other way round");
        }
    }
}
