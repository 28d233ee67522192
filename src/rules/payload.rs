//! The lock file's content (docs/PROTOCOL.md, "Files"): what this library writes, and what it
//! accepts from the TypeScript implementation ("legacy"). Parsing never fails: garbage is a legacy
//! payload with nothing in it, which the verdict then judges by file age alone.

use crate::rules::foreign::Foreign;
use serde::Serialize;
use serde_json::Value;

/// Largest payload this library writes.
pub const MAX_WRITTEN: usize = 4 * 1024;
/// Readers look at no more than this; a larger file is treated as garbage.
pub const MAX_READ: usize = 64 * 1024;

/// What this library writes, field names as on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WrittenPayload {
    pub pid: u32,
    pub created_at: String,
    pub nonce: String,
    /// In the gateway's unit for the platform, so that its module reads it as its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starttime: Option<u64>,
    /// Microseconds since the epoch where the platform reads them (macOS, FreeBSD): ours only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starttime_us: Option<u64>,
    pub hostname: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid_ns: Option<u64>,
    pub flock: bool,
    /// The holder's max-hold, so that the gateway's own module applies its `hold-exceeded` rule
    /// to our files; absent when the watchdog is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_hold_ms: Option<u64>,
    /// The holder's label (at most [`MAX_OWNER_CHARS`] characters), for people and diagnostics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// Longest owner label written into a payload; longer labels are cut at a character boundary.
pub const MAX_OWNER_CHARS: usize = 200;

/// `label` cut to [`MAX_OWNER_CHARS`] characters.
pub fn clip_owner(label: &str) -> String {
    label.chars().take(MAX_OWNER_CHARS).collect()
}

impl WrittenPayload {
    /// The file's content: one line of JSON (strings and integers only, so it serializes).
    pub fn to_bytes(&self) -> std::io::Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec(self)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// Any payload found on disk. Every field is optional because anything may be there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Payload {
    /// A valid pid (integer in 1..=i32::MAX), or `None`.
    pub pid: Option<u32>,
    /// The raw `createdAt` string, when it is a string.
    pub created_at: Option<String>,
    /// `createdAt` parsed to Unix milliseconds, when it parses.
    pub created_at_ms: Option<i64>,
    pub nonce: Option<String>,
    pub starttime: Option<u64>,
    /// `starttimeUs`, when written (by this library on macOS and FreeBSD).
    pub starttime_us: Option<u64>,
    pub hostname: Option<String>,
    pub boot_id: Option<String>,
    pub pid_ns: Option<u64>,
    /// `flock: true`: written by this library, the holder keeps a flock on the file.
    pub flock: bool,
    /// The holder's max-hold in milliseconds (integer > 0), when written.
    pub max_hold_ms: Option<u64>,
    /// The holder's label, when written.
    pub owner: Option<String>,
    /// A dotlock's pid: the whole file is a decimal pid (liblockfile, dotlockfile(1), UUCP's
    /// space-padded form), optionally newline-terminated. Only the rules that understand
    /// dotlocks read it ([`Payload::read_as`]); to the gateway's rules the file is malformed,
    /// as to its own module.
    pub dotlock_pid: Option<u32>,
}

impl Payload {
    pub fn parse(bytes: &[u8]) -> Payload {
        if bytes.len() > MAX_READ {
            return Payload::default();
        }
        if let Some(pid) = dotlock_pid(bytes) {
            return Payload {
                dotlock_pid: Some(pid),
                ..Payload::default()
            };
        }
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(bytes) else {
            return Payload::default();
        };
        let string = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
        let created_at = string("createdAt");
        Payload {
            pid: map
                .get("pid")
                .and_then(whole_number)
                .filter(|&p| (1..=i32::MAX as u64).contains(&p))
                .map(|p| p as u32),
            created_at_ms: created_at
                .as_deref()
                .and_then(crate::rules::iso_time::parse_ms),
            created_at,
            nonce: string("nonce"),
            starttime: map.get("starttime").and_then(whole_number),
            starttime_us: map.get("starttimeUs").and_then(whole_number),
            hostname: string("hostname"),
            boot_id: string("bootId"),
            pid_ns: map.get("pidNs").and_then(whole_number),
            flock: map.get("flock") == Some(&Value::Bool(true)),
            max_hold_ms: map
                .get("maxHoldMs")
                .and_then(whole_number)
                .filter(|&ms| ms > 0),
            owner: string("owner"),
            dotlock_pid: None,
        }
    }

    /// The payload as the rule `foreign` reads it: a dotlock names its holder's pid to the
    /// rules that understand dotlocks; to the gateway's it has none.
    pub fn read_as(self, foreign: Foreign) -> Payload {
        match (foreign, self.dotlock_pid) {
            (Foreign::Keep | Foreign::Dotlock, Some(pid)) => Payload {
                pid: Some(pid),
                ..self
            },
            _ => self,
        }
    }
}

/// The pid of a dotlock: optional leading spaces, ASCII digits, an optional final newline;
/// a valid pid (1..=i32::MAX).
fn dotlock_pid(bytes: &[u8]) -> Option<u32> {
    let digits = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let start = digits.iter().position(|&b| b != b' ')?;
    let digits = &digits[start..];
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits)
        .ok()?
        .parse::<u32>()
        .ok()
        .filter(|&p| (1..=i32::MAX as u32).contains(&p))
}

/// JavaScript writes integers as numbers that may carry a `.0`; accept both, reject the rest.
fn whole_number(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 9.0e15)
            .map(|f| f as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_payload_reads_back() {
        let written = WrittenPayload {
            pid: 42,
            created_at: "2026-11-26T15:42:14.123Z".into(),
            nonce: "0123456789abcdef0123456789abcdef".into(),
            starttime: Some(777),
            starttime_us: Some(1_796_672_883_250_001),
            hostname: "gw-1".into(),
            boot_id: Some("b00t".into()),
            pid_ns: Some(4026531836),
            flock: true,
            max_hold_ms: Some(300_000),
            owner: Some(clip_owner(&"é".repeat(300))),
        };
        let bytes = written.to_bytes().unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(
            text.contains("\"createdAt\"")
                && text.contains("\"bootId\"")
                && text.contains("\"pidNs\"")
        );
        let p = Payload::parse(&bytes);
        assert_eq!(p.pid, Some(42));
        assert_eq!(p.created_at_ms, Some(1_795_707_734_123));
        assert_eq!(p.nonce.as_deref(), Some("0123456789abcdef0123456789abcdef"));
        assert_eq!((p.starttime, p.pid_ns), (Some(777), Some(4026531836)));
        assert_eq!(p.starttime_us, Some(1_796_672_883_250_001));
        assert!(text.contains("\"starttimeUs\":1796672883250001"));
        assert_eq!(
            (p.hostname.as_deref(), p.boot_id.as_deref()),
            (Some("gw-1"), Some("b00t"))
        );
        assert!(p.flock);
        assert_eq!(p.max_hold_ms, Some(300_000));
        assert_eq!(p.owner.as_deref().map(|o| o.chars().count()), Some(200));
        assert!(text.contains("\"maxHoldMs\":300000"));
        assert_eq!(
            Payload::parse(br#"{"maxHoldMs":0,"owner":7}"#),
            Payload::default()
        );
    }

    #[test]
    fn legacy_and_hostile_payloads() {
        struct Row(&'static str, Option<u32>, bool, bool);
        // (content, pid, createdAt parses, flock)
        let rows = [
            Row(
                r#"{"pid":123,"createdAt":"2024-01-01T00:00:00.000Z"}"#,
                Some(123),
                true,
                false,
            ),
            Row(
                r#"{"pid":123.0,"createdAt":"2024-01-01T00:00:00.000Z","starttime":9,"nonce":"n"}"#,
                Some(123),
                true,
                false,
            ),
            Row(
                r#"{"pid":"123","createdAt":"2024-01-01T00:00:00.000Z"}"#,
                None,
                true,
                false,
            ),
            Row(r#"{"pid":0,"createdAt":"x"}"#, None, false, false),
            Row(
                r#"{"pid":-4,"createdAt":"2024-01-01T00:00:00.000Z"}"#,
                None,
                true,
                false,
            ),
            Row(r#"{"pid":1.5}"#, None, false, false),
            Row(
                r#"{"pid":99999999999999999999999999999}"#,
                None,
                false,
                false,
            ),
            Row(r#"{"pid":2147483648}"#, None, false, false),
            Row(
                r#"{"pid":7,"createdAt":"2024-01-01T00:00:00.000Z","flock":"yes"}"#,
                Some(7),
                true,
                false,
            ),
            Row(
                r#"{"pid":7,"flock":true,"extra":{"a":[1,2]}}"#,
                Some(7),
                false,
                true,
            ),
            Row(r#"[1,2,3]"#, None, false, false),
            Row("", None, false, false),
            Row("\u{0}\u{1}garbage\u{ff}", None, false, false),
            Row(
                r#"{"pid":5,"createdAt":"2024-01-01T00:00:00.000Z""#,
                None,
                false,
                false,
            ),
        ];
        for Row(text, pid, created, flock) in rows {
            let p = Payload::parse(text.as_bytes());
            assert_eq!(p.pid, pid, "{text}");
            assert_eq!(p.created_at_ms.is_some(), created, "{text}");
            assert_eq!(p.flock, flock, "{text}");
        }
    }

    /// Dotlocks (a decimal pid) are read as such, and only they: the gateway's rules still see
    /// no pid in them, the rules that understand dotlocks see the holder's.
    #[test]
    fn dotlock_files_name_their_pid() {
        // (content, the dotlock's pid)
        let rows: [(&[u8], Option<u32>); 16] = [
            (b"1234\n", Some(1234)),
            (b"1234", Some(1234)),
            (b"      4321\n", Some(4321)), // UUCP's HDB form: padded to ten columns
            (b"2147483647\n", Some(i32::MAX as u32)),
            (b"2147483648\n", None),
            (b"99999999999\n", None),
            (b"0\n", None),
            (b"-5\n", None),
            (b"12 34\n", None),
            (b"1234\n\n", None),
            (b"1234\r\n", None),
            (b"12a\n", None),
            (b"\n", None),
            (b"", None),
            (b"   \n", None),
            (br#"{"pid":1234}"#, None),
        ];
        for (text, pid) in rows {
            let shown = String::from_utf8_lossy(text);
            let p = Payload::parse(text);
            assert_eq!(p.dotlock_pid, pid, "{shown:?}");
            assert_eq!(p.pid.is_some(), text.starts_with(b"{"), "{shown:?}");
            let gateway = p.clone().read_as(Foreign::Gateway);
            assert_eq!(
                gateway, p,
                "{shown:?}: the gateway's rules read it as it is"
            );
            for rule in [Foreign::Keep, Foreign::Dotlock] {
                let read = p.clone().read_as(rule);
                assert_eq!(read.pid, pid.or(p.pid), "{shown:?} read as {rule}");
                assert!(!read.flock && read.created_at_ms.is_none(), "{shown:?}");
            }
        }
    }

    #[test]
    fn deep_nesting_and_oversize_are_garbage_not_crashes() {
        let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
        assert_eq!(Payload::parse(deep.as_bytes()), Payload::default());
        let mut big = br#"{"pid":1,"createdAt":"2024-01-01T00:00:00.000Z","pad":""#.to_vec();
        big.resize(MAX_READ + 10, b'a');
        assert_eq!(Payload::parse(&big), Payload::default());
    }
}
