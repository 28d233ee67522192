//! A Windows command line split into its arguments, the way programs built with the Microsoft
//! C runtime (and `CommandLineToArgvW`) split it: Windows passes a process one string, and the
//! gateway's owner check compares arguments (`owner_argv.rs`). Pure, so it is tested on every
//! platform; only the Windows port reads command lines.

/// The arguments of `line`: the program name up to its closing quote or first blank (no
/// escapes there), then blank-separated arguments where `"` quotes, `2n` backslashes before a
/// quote are `n` backslashes, `2n+1` are `n` and a literal quote, and `""` inside quotes is a
/// literal quote.
#[cfg_attr(not(windows), allow(dead_code))]
pub fn split(line: &str) -> Vec<String> {
    let mut chars = line.chars().peekable();
    let mut args = Vec::new();
    let mut program = String::new();
    if chars.peek() == Some(&'"') {
        chars.next();
        program.extend(chars.by_ref().take_while(|&c| c != '"'));
    } else {
        while let Some(&c) = chars.peek() {
            if c == ' ' || c == '\t' {
                break;
            }
            program.push(c);
            chars.next();
        }
    }
    args.push(program);
    loop {
        while matches!(chars.peek(), Some(' ' | '\t')) {
            chars.next();
        }
        if chars.peek().is_none() {
            return args;
        }
        let mut arg = String::new();
        let mut quoted = false;
        while let Some(&c) = chars.peek() {
            match c {
                ' ' | '\t' if !quoted => break,
                '\\' => {
                    let mut slashes = 0;
                    while chars.peek() == Some(&'\\') {
                        chars.next();
                        slashes += 1;
                    }
                    if chars.peek() == Some(&'"') {
                        arg.extend(std::iter::repeat_n('\\', slashes / 2));
                        if slashes % 2 == 1 {
                            arg.push('"');
                            chars.next();
                        }
                    } else {
                        arg.extend(std::iter::repeat_n('\\', slashes));
                    }
                }
                '"' => {
                    chars.next();
                    if quoted && chars.peek() == Some(&'"') {
                        arg.push('"');
                        chars.next();
                    } else {
                        quoted = !quoted;
                    }
                }
                c => {
                    arg.push(c);
                    chars.next();
                }
            }
        }
        args.push(arg);
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    /// The examples of Microsoft's "Parsing C command-line arguments", and the program name's
    /// own rule.
    #[test]
    fn splits_as_the_microsoft_c_runtime_does() {
        let cases: &[(&str, &[&str])] = &[
            (r#"p "a b c" d e"#, &["p", "a b c", "d", "e"]),
            (r#"p "ab\"c" "\\" d"#, &["p", "ab\"c", "\\", "d"]),
            (r#"p a\\\b d"e f"g h"#, &["p", r"a\\\b", "de fg", "h"]),
            (r#"p a\\\"b c d"#, &["p", "a\\\"b", "c", "d"]),
            (r#"p a\\\\"b c" d e"#, &["p", r"a\\b c", "d", "e"]),
            (r#"p a"b"" c d"#, &["p", "ab\" c d"]),
            (
                r#""C:\Program Files\node\node.exe"  gateway.js --port 1"#,
                &[
                    r"C:\Program Files\node\node.exe",
                    "gateway.js",
                    "--port",
                    "1",
                ],
            ),
            (r#"C:\a\b.exe "" x"#, &[r"C:\a\b.exe", "", "x"]),
            ("node", &["node"]),
        ];
        for (line, want) in cases {
            assert_eq!(split(line), *want, "{line}");
        }
    }
}
