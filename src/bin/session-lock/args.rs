//! The command line of one command: flags, positional arguments and the command to run (what
//! follows `--`, or for `run` the first argument after FILE that is not an option). Paths
//! and commands are bytes on Unix, so every argument stays an `OsString`; only option names
//! and numbers must be text.

use crate::Failure;
use session_write_lock::printable;
use std::ffi::{OsStr, OsString};

/// Flags and positional arguments of one command; `--`, or a command's first word, ends the
/// flags. Flags are stored under their long names.
pub struct Parsed {
    pub positional: Vec<OsString>,
    flags: Vec<(String, Option<OsString>)>,
    pub rest: Vec<OsString>,
}

/// Short options of a command: (`-x`, its long name).
pub type Shorts<'a> = &'a [(&'a str, &'a str)];

/// What a command accepts.
pub struct Spec<'a> {
    /// Long names of the options that take a value.
    pub valued: &'a [&'a str],
    /// Long names of the options that take none.
    pub switches: &'a [&'a str],
    pub shorts: Shorts<'a>,
    /// `Some(n)`: after `n` positional arguments the next one starts a command, and it and all
    /// that follow (options too) are the command's, as flock(1) reads `FILE CMD [ARGS...]`.
    pub command_after: Option<usize>,
    pub help: &'static str,
}

/// An argument as error messages quote it.
pub fn quoted(arg: &OsStr) -> String {
    format!("'{}'", printable(arg.as_encoded_bytes()))
}

/// `--name` / `--name=value` / a known short option (`-w 5`, `-w5`, as flock(1) takes them):
/// its long name and the value given with it. `None` for anything else.
fn option<'a>(arg: &'a [u8], shorts: Shorts<'a>) -> Option<(&'a str, Option<OsString>)> {
    // SAFETY: `v` is an argument's bytes cut right after an ASCII `--name=` or short flag,
    // a boundary `from_encoded_bytes_unchecked` allows.
    let value = |v: &[u8]| unsafe { OsStr::from_encoded_bytes_unchecked(v) }.to_os_string();
    if let Some(long) = arg.strip_prefix(b"--") {
        let (name, inline) = match long.iter().position(|&b| b == b'=') {
            Some(at) => (&long[..at], Some(value(&long[at + 1..]))),
            None => (long, None),
        };
        return std::str::from_utf8(name).ok().map(|name| (name, inline));
    }
    shorts.iter().find_map(|&(flag, name)| {
        let rest = arg.strip_prefix(flag.as_bytes())?;
        Some((name, (!rest.is_empty()).then(|| value(rest))))
    })
}

pub fn parse(args: &[OsString], spec: &Spec<'_>) -> Result<Parsed, Failure> {
    let mut parsed = Parsed {
        positional: Vec::new(),
        flags: Vec::new(),
        rest: Vec::new(),
    };
    let unknown =
        |arg: &OsStr| Failure::Usage(format!("unknown option {}", quoted(arg)), spec.help);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let bytes = arg.as_encoded_bytes();
        if bytes == b"--" {
            parsed.rest = args.cloned().collect();
            break;
        }
        if bytes == b"--help" || bytes == b"-h" {
            println!("{}", spec.help);
            std::process::exit(0);
        }
        let Some((name, inline)) = option(bytes, spec.shorts) else {
            // `-x` is an option this command does not know, never a file named `-x` (`./-x` is).
            if bytes.len() > 1 && bytes[0] == b'-' {
                return Err(unknown(arg));
            }
            if spec.command_after == Some(parsed.positional.len()) {
                parsed.rest = std::iter::once(arg).chain(args).cloned().collect();
                break;
            }
            parsed.positional.push(arg.clone());
            continue;
        };
        if spec.valued.contains(&name) {
            let value = match inline {
                Some(v) => v,
                None => args
                    .next()
                    .cloned()
                    .ok_or_else(|| Failure::Usage(format!("--{name} needs a value"), spec.help))?,
            };
            parsed.flags.push((name.to_string(), Some(value)));
        } else if spec.switches.contains(&name) && inline.is_none() {
            parsed.flags.push((name.to_string(), None));
        } else {
            return Err(unknown(arg));
        }
    }
    Ok(parsed)
}

impl Parsed {
    pub fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| n == name)
    }

    /// The last value of a valued option.
    pub fn value(&self, name: &str) -> Option<&OsStr> {
        self.flags
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// The last value of a valued option that must be text (a number, an exit code).
    pub fn text(
        &self,
        name: &str,
        what: &str,
        help: &'static str,
    ) -> Result<Option<&str>, Failure> {
        let Some(value) = self.value(name) else {
            return Ok(None);
        };
        value.to_str().map(Some).ok_or_else(|| {
            Failure::Usage(
                format!("--{name} must be {what}, got {}", quoted(value)),
                help,
            )
        })
    }

    /// A millisecond option; `Infinity` where the option allows it.
    pub fn millis(&self, name: &str, help: &'static str) -> Result<Option<f64>, Failure> {
        let what = "a number of milliseconds";
        let Some(value) = self.text(name, what, help)? else {
            return Ok(None);
        };
        match value.parse::<f64>() {
            Ok(ms) if !ms.is_nan() => Ok(Some(ms)),
            _ => Err(Failure::Usage(
                format!("--{name} must be {what}, got {}", quoted(value.as_ref())),
                help,
            )),
        }
    }
}
