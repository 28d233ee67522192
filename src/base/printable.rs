//! Text that other users control (host names and labels in lock files, file names in a
//! directory) made safe to print: a control character reaching a terminal or a log could move
//! the cursor, rewrite earlier lines, forge log lines or set the clipboard (OSC 52).

use std::borrow::Cow;
use std::fmt::Write;
use std::path::Path;

/// `bytes` with every control character escaped: C0 and DEL as `\xNN`, C1 (U+0080–U+009F) as
/// `\u{NN}`, and bytes that are not UTF-8 as `\xNN`. Escape and OSC sequences lose their
/// ESC/CSI/OSC introducer and so print as plain text. Printable text comes back as it is, so
/// escaping twice changes nothing.
pub fn printable(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        if !text.chars().any(char::is_control) {
            return Cow::Borrowed(text);
        }
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c as u32 {
                // Writing to a String does not fail.
                code @ (0..=0x1f | 0x7f) => _ = write!(out, "\\x{code:02x}"),
                code @ 0x80..=0x9f => _ = write!(out, "\\u{{{code:02x}}}"),
                _ => out.push(c),
            }
        }
        for byte in chunk.invalid() {
            _ = write!(out, "\\x{byte:02x}");
        }
    }
    Cow::Owned(out)
}

/// [`printable`] for a path.
pub fn printable_path(path: &Path) -> Cow<'_, str> {
    printable(path.as_os_str().as_encoded_bytes())
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn escapes_every_control_character_and_nothing_else() {
        let table: &[(&[u8], &str)] = &[
            (b"gw-a.example", "gw-a.example"),
            ("caf\u{e9} \u{2603}".as_bytes(), "caf\u{e9} \u{2603}"),
            (b"", ""),
            (b"a\nb\rc\td", "a\\x0ab\\x0dc\\x09d"),
            (b"\x00\x01\x1f", "\\x00\\x01\\x1f"),
            (b"del\x7f", "del\\x7f"),
            // CSI: clear the screen.
            (b"\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),
            // OSC 52: write "evil" to the clipboard, BEL- and ST-terminated.
            (b"\x1b]52;c;ZXZpbA==\x07", "\\x1b]52;c;ZXZpbA==\\x07"),
            (b"\x1b]52;c;ZXZpbA==\x1b\\", "\\x1b]52;c;ZXZpbA==\\x1b\\"),
            // C1 controls as characters: CSI (U+009B), OSC (U+009D), NEL (U+0085).
            (
                "\u{9b}2J\u{9d}0;t\u{85}".as_bytes(),
                "\\u{9b}2J\\u{9d}0;t\\u{85}",
            ),
            // Bytes that are not UTF-8 (a lone C1 byte among them).
            (b"a\x9bb\xff", "a\\x9bb\\xff"),
            // Already escaped text is printable: escaping twice changes nothing.
            (b"\\x1b[2J", "\\x1b[2J"),
        ];
        for (input, expected) in table {
            assert_eq!(printable(input), *expected, "{input:?}");
            assert_eq!(printable(printable(input).as_bytes()), *expected);
        }
    }
}
