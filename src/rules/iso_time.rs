//! ISO-8601 UTC timestamps as JavaScript's `Date#toISOString` writes and `Date.parse` reads
//! them, without a date-time dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (negative before it).
pub fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

#[cfg(test)]
pub fn from_unix_ms(ms: i64) -> SystemTime {
    use std::time::Duration;
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

/// `2026-11-26T15:42:14.123Z`
pub fn format(t: SystemTime) -> String {
    let ms = unix_ms(t);
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

/// Parses `YYYY-MM-DDTHH:MM[:SS[.fff…]](Z|±HH:MM)` and a bare date `YYYY-MM-DD` (UTC), the
/// forms JavaScript writes; anything else is `None`.
pub fn parse_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter().all(u8::is_ascii_digit).then(|| {
            part.iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'))
        })
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !(1..=12).contains(&month) {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let date_ms = days_from_civil(year, month, day) * 86_400_000;
    if b.len() == 10 {
        return Some(date_ms);
    }
    if !matches!(b.get(10), Some(b'T') | Some(b't') | Some(b' ')) || b.get(13) != Some(&b':') {
        return None;
    }
    let (hour, minute) = (num(11, 2)?, num(14, 2)?);
    let mut i = 16;
    let mut second = 0;
    let mut millis = 0;
    if b.get(i) == Some(&b':') {
        second = num(i + 1, 2)?;
        i += 3;
        if b.get(i) == Some(&b'.') {
            let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return None;
            }
            let frac = &b[i + 1..i + 1 + digits.min(3)];
            millis = frac
                .iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'))
                * 10i64.pow(3 - frac.len() as u32);
            i += 1 + digits;
        }
    }
    if hour > 24
        || minute > 59
        || second > 59
        || (hour == 24 && (minute, second, millis) != (0, 0, 0))
    {
        return None;
    }
    let offset_min = match b.get(i) {
        Some(b'Z') | Some(b'z') if b.len() == i + 1 => 0,
        Some(sign @ (b'+' | b'-')) if b.len() == i + 6 && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            (oh * 60 + om) * if *sign == b'+' { 1 } else { -1 }
        }
        _ => return None,
    };
    Some(date_ms + ((hour * 60 + minute - offset_min) * 60 + second) * 1000 + millis)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's civil-calendar algorithms.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_javascript_iso_strings() {
        for s in [
            "1970-01-01T00:00:00.000Z",
            "2026-11-26T15:42:14.123Z",
            "2000-02-29T23:59:59.999Z",
        ] {
            let ms = parse_ms(s).unwrap();
            assert_eq!(format(from_unix_ms(ms)), s);
        }
        assert_eq!(
            parse_ms("2026-11-26T15:42:14.123Z"),
            Some(1_795_707_734_123)
        );
    }

    #[test]
    fn accepts_the_forms_javascript_accepts() {
        let base = parse_ms("2024-03-01T10:00:00.000Z").unwrap();
        assert_eq!(parse_ms("2024-03-01T10:00:00Z"), Some(base));
        assert_eq!(parse_ms("2024-03-01T10:00Z"), Some(base));
        assert_eq!(parse_ms("2024-03-01T12:00:00+02:00"), Some(base));
        assert_eq!(parse_ms("2024-03-01T10:00:00.5Z"), Some(base + 500));
        assert_eq!(parse_ms("2024-03-01T10:00:00.123456Z"), Some(base + 123));
        assert_eq!(parse_ms("2024-03-01"), Some(base - 10 * 3_600_000));
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "not a date",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-03-01T25:00:00Z",
            "2024-03-01T10:00:00",
            "2024-03-01T10:00:00.Z",
            "2024-03-01T10:00:00Zjunk",
            "２０２４-03-01",
        ] {
            assert_eq!(parse_ms(s), None, "{s:?}");
        }
    }
}
