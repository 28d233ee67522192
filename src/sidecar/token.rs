//! fs-safe's ownership token (docs/PROTOCOL.md, "fs-safe's file lock"): the last line of a
//! sidecar lock file, 8 TABs then 128 TAB/SPACE characters encoding 16 bytes, most significant
//! bit first, TAB = 1. The first 8 of our 16 bytes are a fixed mark that says "written by this
//! library, which keeps a flock on the file while it holds it"; the other 8 are random.

/// The token line without its newlines.
pub const TOKEN_CHARS: usize = 136;
/// What a token adds to the JSON: `\n`, the token, `\n`.
pub const TOKEN_OVERHEAD: usize = TOKEN_CHARS + 2;
/// The leading TABs of every token.
const PREFIX_TABS: usize = 8;
/// Our mark: a holder of ours keeps a flock on files whose token starts with it. Eight bytes,
/// so a random fs-safe token carries it by chance with probability 2⁻⁶⁴.
const MARK: [u8; 8] = *b"swl:flk1";

/// The 16 bytes a token encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token(pub [u8; 16]);

impl Token {
    /// A token of ours: the mark, then 64 random bits.
    pub fn fresh() -> Token {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&MARK);
        bytes[8..].copy_from_slice(&crate::base::random::random_u64().to_be_bytes());
        Token(bytes)
    }

    /// Whether a holder of this library wrote it (and so kept a flock while it held the file).
    pub fn is_ours(&self) -> bool {
        self.0[..8] == MARK
    }

    /// The token line, without newlines.
    pub fn encode(&self) -> Vec<u8> {
        let mut line = vec![b'\t'; PREFIX_TABS];
        for byte in self.0 {
            for bit in (0..8).rev() {
                line.push(if byte >> bit & 1 == 1 { b'\t' } else { b' ' });
            }
        }
        line
    }

    /// The token at the very end of a lock file (fs-safe recognises it with
    /// `/\n(\t{8}[ \t]{128})\n$/`), if any.
    pub fn of(raw: &[u8]) -> Option<Token> {
        let start = raw.len().checked_sub(TOKEN_CHARS + 1)?;
        let line = &raw[start..raw.len() - 1];
        let framed = start >= 1 && raw[start - 1] == b'\n' && raw[raw.len() - 1] == b'\n';
        let (tabs, bits) = line.split_at(PREFIX_TABS);
        if !framed || tabs.iter().any(|&c| c != b'\t') {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (i, &c) in bits.iter().enumerate() {
            let bit = match c {
                b'\t' => 1,
                b' ' => 0,
                _ => return None,
            };
            bytes[i / 8] |= bit << (7 - i % 8);
        }
        Some(Token(bytes))
    }
}

/// The bytes of a lock file: the JSON text, `\n`, the token line, `\n`.
pub fn content(json: &[u8], token: &Token) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(json.len() + TOKEN_OVERHEAD);
    bytes.extend_from_slice(json);
    bytes.push(b'\n');
    bytes.extend_from_slice(&token.encode());
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// fs-safe's example: payload `{}` makes a 140-byte file.
    #[test]
    fn empty_payload_is_140_bytes() {
        let bytes = content(b"{}", &Token::fresh());
        assert_eq!(bytes.len(), 140);
        assert!(bytes.starts_with(b"{}\n\t\t\t\t\t\t\t\t"));
        assert_eq!(bytes.last(), Some(&b'\n'));
    }

    /// TAB is 1, most significant bit first.
    #[test]
    fn bits_are_msb_first_tab_one() {
        let mut raw = [0u8; 16];
        raw[0] = 0b1000_0001;
        let line = Token(raw).encode();
        assert_eq!(&line[8..16], b"\t      \t");
        assert!(line[16..].iter().all(|&c| c == b' '));
    }

    #[test]
    fn round_trip_and_mark() {
        let token = Token::fresh();
        assert!(token.is_ours());
        assert_eq!(
            Token::of(&content(b"{\n  \"a\": 1\n}", &token)),
            Some(token)
        );
        assert!(!Token([7; 16]).is_ours());
        assert_ne!(Token::fresh(), Token::fresh());
    }

    /// Only a token framed exactly as fs-safe's pattern says is one.
    #[test]
    fn recognition_table() {
        let good = content(b"{}", &Token([0xA5; 16]));
        let cases: Vec<(&str, Vec<u8>, bool)> = vec![
            ("fs-safe format", good.clone(), true),
            ("no final newline", good[..good.len() - 1].to_vec(), false),
            ("trailing byte", [&good[..], b" "].concat(), false),
            ("no newline before", good[3..].to_vec(), false),
            (
                "seven tabs",
                {
                    let mut b = good.clone();
                    b[3] = b' ';
                    b
                },
                false,
            ),
            (
                "other char in bits",
                {
                    let mut b = good.clone();
                    b[20] = b'x';
                    b
                },
                false,
            ),
            ("plain JSON", b"{\"pid\": 1}".to_vec(), false),
            ("empty", Vec::new(), false),
        ];
        for (name, raw, expected) in cases {
            assert_eq!(Token::of(&raw).is_some(), expected, "{name}");
        }
        assert_eq!(Token::of(&good), Some(Token([0xA5; 16])));
    }
}
