//! `name_matches` where there is no `fnmatch(3)`: a file name against a shell pattern, as
//! POSIX `fnmatch` with `FNM_PERIOD` matches it (`*`, `?`, `[...]` with `!` or `^` and ranges,
//! `\` quoting; a leading `.` only by a `.`), byte by byte. An invalid pattern matches nothing.

use std::ffi::CStr;

/// Whether `name` matches `pattern`.
pub fn name_matches(pattern: &CStr, name: &CStr) -> bool {
    let (pattern, name) = (pattern.to_bytes(), name.to_bytes());
    if name.first() == Some(&b'.') && pattern.first() != Some(&b'.') {
        return false;
    }
    matches(pattern, name)
}

fn matches(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| matches(rest, &name[skip..])),
        Some((b'?', rest)) => !name.is_empty() && matches(rest, &name[1..]),
        Some((b'[', rest)) => match (bracket(rest), name.split_first()) {
            (Some((set, after)), Some((&c, name_rest))) => set(c) && matches(after, name_rest),
            _ => false,
        },
        Some((b'\\', [quoted, rest @ ..])) => {
            name.first() == Some(quoted) && matches(rest, &name[1..])
        }
        Some((&literal, rest)) => name.first() == Some(&literal) && matches(rest, &name[1..]),
    }
}

/// The class after a `[`: a test of one byte and the pattern after the closing `]`, or `None`
/// when it never closes.
fn bracket(pattern: &[u8]) -> Option<(impl Fn(u8) -> bool + '_, &[u8])> {
    let (negate, body) = match pattern.split_first() {
        Some((b'!' | b'^', rest)) => (true, rest),
        _ => (false, pattern),
    };
    // A `]` right after the opening (or its negation) is a member, not the end.
    let close = 1 + body.get(1..)?.iter().position(|&b| b == b']')?;
    let class = &body[..close];
    let test = move |c: u8| {
        let mut i = 0;
        let mut hit = false;
        while i < class.len() {
            if i + 2 < class.len() && class[i + 1] == b'-' {
                hit |= (class[i]..=class[i + 2]).contains(&c);
                i += 3;
            } else {
                hit |= class[i] == c;
                i += 1;
            }
        }
        hit != negate
    };
    Some((test, &body[close + 1..]))
}

#[cfg(test)]
mod tests {
    use super::name_matches;

    #[test]
    fn shell_patterns_as_fnmatch_with_fnm_period() {
        let m = |p: &str, n: &str| {
            let (p, n) = (
                std::ffi::CString::new(p).unwrap(),
                std::ffi::CString::new(n).unwrap(),
            );
            name_matches(&p, &n)
        };
        assert!(m("*.lock", "a.jsonl.lock"));
        assert!(!m("*.lock", ".hidden.lock"));
        assert!(m(".*.lock", ".hidden.lock"));
        assert!(m("s?.lock", "s1.lock") && !m("s?.lock", "s12.lock"));
        assert!(m("s[0-9].lock", "s7.lock") && !m("s[!0-9].lock", "s7.lock"));
        assert!(m("[]x].lock", "].lock") && m("a\\*", "a*") && !m("a\\*", "ab"));
        assert!(
            !m("s[0-9.lock", "s1.lock"),
            "an unclosed class matches nothing"
        );
    }
}
