//! `swl_options`: the acquire options as C integers, validated by the core.
//!
//! The struct carries its own size so it can grow: fields are only ever appended, a caller
//! compiled against an older header passes a smaller `size`, and every field beyond it takes
//! its default. The one list of fields that makes this work is [`for_each_field`].

use super::status::Failure;
use session_write_lock::{Foreign, OptionName, Options};
use std::ffi::{c_char, CStr};
use std::mem::{offset_of, size_of};
use std::time::Duration;

/// Options of `swl_acquire`. Always start from `swl_options_init`, then change fields.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct swl_options {
    /// `sizeof(swl_options)` as the caller was compiled, set by `swl_options_init`; do not
    /// change it. Fields that a newer library appends beyond this size take their defaults, so
    /// programs built against an older header keep working. Must be at least `sizeof(size_t)`.
    pub size: usize,
    /// How long to wait for a busy lock, in milliseconds: `-1` waits forever, `0` tries once.
    /// Other negative values are invalid. Default 60000, or the environment's
    /// `OPENCLAW_SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS` / `SESSION_WRITE_LOCK_ACQUIRE_TIMEOUT_MS`
    /// (docs/PROTOCOL.md, "Settings"; likewise for `stale_ms` and `max_hold_ms`).
    pub timeout_ms: i64,
    /// Age after which a lock file without a live `flock` holder (legacy lock files, lock files
    /// of another kernel without heartbeat, garbage) counts as stale, in milliseconds; must be
    /// `> 0`. Default 1800000 (30 minutes).
    pub stale_ms: i64,
    /// Watchdog: a lock held longer than this many milliseconds is force-released (and a line
    /// is logged; see `swl_set_log_callback`). `-1` disables the watchdog; `0` and other
    /// negative values are invalid. Default 300000 (5 minutes).
    pub max_hold_ms: i64,
    /// Whether another acquire of a lock this process already holds joins it (counted; the file
    /// goes with the last release). Nesting is asked for explicitly: by default a second acquire
    /// waits like any other contender. When asked, it is per process, not per thread: threads
    /// that must exclude each other leave it `false`. Default false.
    pub allow_reentrant: bool,
    /// A label for people (UTF-8; at most 200 characters are kept), or NULL: written into the
    /// lock file as `owner` and shown by `swl_held_locks`, by busy errors when this process is
    /// the holder, and by `session-lock status`. Copied during `swl_acquire`. Default NULL.
    pub owner: *const c_char,
    /// The rule for lock files this library did not write (docs/PROTOCOL.md, "Files of other
    /// programs"): `SWL_FOREIGN_GATEWAY` (0, the default: the gateway's legacy rules),
    /// `SWL_FOREIGN_KEEP` (never removed) or `SWL_FOREIGN_DOTLOCK` (a dotlock — a decimal pid,
    /// as liblockfile writes — of a dead pid is taken over; other files are kept). Other
    /// values are invalid.
    pub foreign: i32,
}

/// `swl_options.foreign`: the gateway's legacy rules (the default).
pub const SWL_FOREIGN_GATEWAY: i32 = 0;
/// `swl_options.foreign`: files of other programs are never removed.
pub const SWL_FOREIGN_KEEP: i32 = 1;
/// `swl_options.foreign`: a dotlock of a dead pid is taken over; other files are kept.
pub const SWL_FOREIGN_DOTLOCK: i32 = 2;

/// The rule `swl_options.foreign` names.
fn foreign_rule(value: i32) -> Result<Foreign, Failure> {
    match value {
        SWL_FOREIGN_GATEWAY => Ok(Foreign::Gateway),
        SWL_FOREIGN_KEEP => Ok(Foreign::Keep),
        SWL_FOREIGN_DOTLOCK => Ok(Foreign::Dotlock),
        other => Err(Failure::invalid(
            OptionName::Foreign,
            format!(
                "must be SWL_FOREIGN_GATEWAY, SWL_FOREIGN_KEEP or SWL_FOREIGN_DOTLOCK, got {other}"
            ),
        )),
    }
}

fn millis(d: Option<Duration>) -> i64 {
    d.map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl swl_options {
    /// The defaults `swl_options_init` writes: those of the core, with the environment's
    /// settings applied.
    pub fn defaults() -> swl_options {
        let core = Options::from_env();
        swl_options {
            size: size_of::<swl_options>(),
            timeout_ms: millis(core.timeout),
            stale_ms: millis(Some(core.stale)),
            max_hold_ms: millis(core.max_hold),
            allow_reentrant: core.allow_reentrant,
            owner: std::ptr::null(),
            foreign: SWL_FOREIGN_GATEWAY,
        }
    }

    /// Validates the C values and builds the core's options.
    ///
    /// # Safety
    ///
    /// `owner` must be NULL or a NUL-terminated string.
    pub unsafe fn to_core(&self) -> Result<Options, Failure> {
        let timeout = match self.timeout_ms {
            -1 => f64::INFINITY,
            ms if ms < 0 => {
                return Err(Failure::invalid(
                    OptionName::TimeoutMs,
                    format!("must be >= 0, or -1 to wait forever, got {ms}"),
                ))
            }
            ms => ms as f64,
        };
        if self.stale_ms <= 0 {
            return Err(Failure::invalid(
                OptionName::StaleMs,
                format!("must be greater than 0, got {}", self.stale_ms),
            ));
        }
        let max_hold = match self.max_hold_ms {
            -1 => f64::INFINITY,
            ms if ms <= 0 => {
                return Err(Failure::invalid(
                    OptionName::MaxHoldMs,
                    format!("must be greater than 0, or -1 for no limit, got {ms}"),
                ))
            }
            ms => ms as f64,
        };
        let mut options = Options {
            allow_reentrant: self.allow_reentrant,
            ..Options::default()
        };
        options.set_timeout_ms(timeout)?;
        options.set_stale_ms(self.stale_ms as f64)?;
        options.set_max_hold_ms(max_hold)?;
        if !self.owner.is_null() {
            // SAFETY: a non-NULL `owner` is a NUL-terminated string (the caller's promise).
            let text = unsafe { CStr::from_ptr(self.owner) }
                .to_str()
                .map_err(|_| Failure::invalid(OptionName::Owner, "is not valid UTF-8"))?;
            options.owner = Some(text.to_owned());
        }
        options.foreign = foreign_rule(self.foreign)?;
        Ok(options)
    }
}

/// Calls `$each!(field)` for every field after `size`, in order. A new field is appended to
/// the struct, to [`swl_options::defaults`] and here; nothing else changes.
macro_rules! for_each_field {
    ($each:ident) => {
        $each!(timeout_ms);
        $each!(stale_ms);
        $each!(max_hold_ms);
        $each!(allow_reentrant);
        $each!(owner);
        $each!(foreign);
    };
}

/// Whether a field at `offset` of `len` bytes lies within the caller's `size` bytes.
fn within(size: usize, offset: usize, len: usize) -> bool {
    offset.checked_add(len).is_some_and(|end| end <= size)
}

/// The size of field `$f` of `swl_options`.
macro_rules! field_size {
    ($f:ident) => {{
        fn len<T>(_: fn(&swl_options) -> &T) -> usize {
            size_of::<T>()
        }
        len(|o: &swl_options| &o.$f)
    }};
}

/// Fills `opts` with the defaults, for a caller whose `swl_options` is `size` bytes long:
/// fields that do not fit in `size` bytes are not written, and `opts->size` becomes
/// `min(size, sizeof(swl_options))`. Nothing is written when `opts` is NULL or `size` is smaller
/// than `sizeof(size_t)`. C programs call it through `swl_options_init`, which the header
/// defines as `swl_options_init_sized(opts, sizeof *opts)`; bindings from other languages
/// pass the size of their own copy of the struct.
///
/// # Safety
///
/// `opts` must be NULL or point to `size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn swl_options_init_sized(opts: *mut swl_options, size: usize) {
    super::boundary::boundary((), || {
        if opts.is_null() || size < size_of::<usize>() {
            return;
        }
        let defaults = swl_options::defaults();
        let base = opts.cast::<u8>();
        // Byte copies: no assumption about the alignment of the caller's buffer.
        macro_rules! write_default {
            ($f:ident) => {
                if within(size, offset_of!(swl_options, $f), field_size!($f)) {
                    // SAFETY: the field lies within the `size` writable bytes (the caller's
                    // promise).
                    unsafe {
                        base.wrapping_add(offset_of!(swl_options, $f))
                            .cast::<u8>()
                            .copy_from_nonoverlapping(
                                std::ptr::addr_of!(defaults.$f).cast::<u8>(),
                                field_size!($f),
                            )
                    };
                }
            };
        }
        for_each_field!(write_default);
        // SAFETY: as above; `size` is at least one usize.
        unsafe {
            base.cast::<usize>()
                .write_unaligned(size.min(size_of::<swl_options>()))
        };
    })
}

/// Reads options from C: `size` first, then each field that lies within it (the others keep
/// their defaults), without trusting `allow_reentrant` to be a well-formed `bool` (any non-zero
/// byte is true). A `size` smaller than `sizeof(size_t)` — options not made by
/// `swl_options_init` — is `SWL_INVALID_ARGUMENT`.
///
/// # Safety
///
/// `opts` must be non-NULL and point to at least `min(opts->size, sizeof(swl_options))`
/// readable, initialised bytes.
pub unsafe fn read_options(opts: *const swl_options) -> Result<swl_options, Failure> {
    let base = opts.cast::<u8>();
    // SAFETY: `size` comes first and is always there (the caller's promise).
    let size = unsafe { base.cast::<usize>().read_unaligned() };
    if size < size_of::<usize>() {
        return Err(Failure::invalid(
            OptionName::Size,
            format!("must be set by swl_options_init, got {size}"),
        ));
    }
    let mut options = swl_options {
        size,
        ..swl_options::defaults()
    };
    macro_rules! read_field {
        (allow_reentrant) => {
            if within(size, offset_of!(swl_options, allow_reentrant), 1) {
                // SAFETY: within the caller's `size` bytes; read as a byte, not as a bool.
                let byte = unsafe {
                    base.wrapping_add(offset_of!(swl_options, allow_reentrant))
                        .read()
                };
                options.allow_reentrant = byte != 0;
            }
        };
        ($f:ident) => {
            if within(size, offset_of!(swl_options, $f), field_size!($f)) {
                // SAFETY: within the caller's `size` bytes (the caller's promise).
                unsafe {
                    std::ptr::addr_of_mut!(options.$f)
                        .cast::<u8>()
                        .copy_from_nonoverlapping(
                            base.wrapping_add(offset_of!(swl_options, $f)),
                            field_size!($f),
                        )
                };
            }
        };
    }
    for_each_field!(read_field);
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{c_spelling, swl_status};

    #[test]
    fn defaults_are_the_core_defaults() {
        let o = swl_options::defaults();
        assert_eq!(
            o,
            swl_options {
                size: size_of::<swl_options>(),
                timeout_ms: 60_000,
                stale_ms: 1_800_000,
                max_hold_ms: 300_000,
                allow_reentrant: false,
                owner: std::ptr::null(),
                foreign: SWL_FOREIGN_GATEWAY,
            }
        );
        assert_eq!(unsafe { o.to_core() }.unwrap(), Options::default());
    }

    #[test]
    fn init_writes_only_within_the_callers_size() {
        let old = offset_of!(swl_options, max_hold_ms);
        let mut buf = [0x5au8; size_of::<swl_options>() + 8];
        // SAFETY: `buf` has more than `old` writable bytes.
        unsafe { swl_options_init_sized(buf.as_mut_ptr().cast(), old) };
        assert!(
            buf[old..].iter().all(|&b| b == 0x5a),
            "wrote past the caller's size"
        );
        // SAFETY: as above; the size field was written.
        let read = unsafe { read_options(buf.as_ptr().cast()) }.unwrap();
        assert_eq!(read.size, old);
        // Fields beyond the caller's size take their defaults, whatever the bytes there say.
        assert_eq!(
            swl_options {
                size: size_of::<swl_options>(),
                ..read
            },
            swl_options::defaults()
        );
        // A size below one size_t writes nothing and is rejected on read.
        let mut small = [0u8; size_of::<swl_options>()];
        // SAFETY: as above.
        unsafe { swl_options_init_sized(small.as_mut_ptr().cast(), 4) };
        assert!(small.iter().all(|&b| b == 0));
        // SAFETY: as above.
        let failure = unsafe { read_options(small.as_ptr().cast()) }.unwrap_err();
        assert!(
            failure.message.starts_with("invalid size: "),
            "{}",
            failure.message
        );
    }

    #[test]
    fn a_larger_size_from_a_newer_caller_reads_the_known_fields() {
        let mut o = swl_options::defaults();
        o.size += 64;
        o.timeout_ms = 0;
        // SAFETY: only the fields this library knows are read.
        let read = unsafe { read_options(&o) }.unwrap();
        assert_eq!(read.timeout_ms, 0);
    }

    #[test]
    fn minus_one_means_no_limit_and_zero_timeout_one_try() {
        let mut o = swl_options::defaults();
        o.timeout_ms = -1;
        o.max_hold_ms = -1;
        let core = unsafe { o.to_core() }.unwrap();
        assert_eq!(core.timeout, None);
        assert_eq!(core.max_hold, None);
        o.timeout_ms = 0;
        assert_eq!(
            unsafe { o.to_core() }.unwrap().timeout,
            Some(Duration::ZERO)
        );
    }

    /// The fields of `swl_options` as the committed header declares them (tests/header_fresh.rs
    /// keeps the header in step with the struct).
    fn header_fields() -> Vec<String> {
        let header = include_str!("../../../include/session_write_lock.h");
        let end = header
            .find("} swl_options;")
            .expect("the header declares swl_options");
        let start = header[..end]
            .rfind("typedef struct {")
            .expect("swl_options is a typedef'd struct");
        header[start..end]
            .lines()
            .skip(1)
            .map(str::trim)
            .filter(|line| line.ends_with(';') && !line.starts_with('*'))
            .map(|line| {
                let declaration = line.trim_end_matches(';');
                let name = declaration.rsplit([' ', '*']).next().unwrap_or_default();
                name.to_owned()
            })
            .collect()
    }

    /// Every field of the C struct is an option the core can name in an error, spelled as C
    /// spells it; a field without a name (or missing from `for_each_field!`) fails here.
    #[test]
    fn every_field_has_an_option_name() {
        let fields = header_fields();
        assert_eq!(
            fields.first().map(String::as_str),
            Some("size"),
            "{fields:?}"
        );
        let mut visited = vec!["size".to_owned()];
        macro_rules! visit {
            ($f:ident) => {
                visited.push(stringify!($f).to_owned())
            };
        }
        for_each_field!(visit);
        assert_eq!(
            fields, visited,
            "for_each_field! must list every field after size"
        );
        for field in &fields {
            let name = OptionName::from_c_name(field)
                .unwrap_or_else(|| panic!("swl_options.{field} has no OptionName"));
            assert_eq!(c_spelling(name), field);
        }
    }

    #[test]
    fn out_of_range_values_name_the_field() {
        let base = swl_options::defaults();
        let cases = [
            (
                swl_options {
                    timeout_ms: -2,
                    ..base
                },
                "timeout_ms",
            ),
            (
                swl_options {
                    stale_ms: 0,
                    ..base
                },
                "stale_ms",
            ),
            (
                swl_options {
                    stale_ms: -1,
                    ..base
                },
                "stale_ms",
            ),
            (
                swl_options {
                    max_hold_ms: 0,
                    ..base
                },
                "max_hold_ms",
            ),
            (
                swl_options {
                    max_hold_ms: -7,
                    ..base
                },
                "max_hold_ms",
            ),
        ];
        for (o, field) in cases {
            let failure = unsafe { o.to_core() }.unwrap_err();
            assert_eq!(failure.status, swl_status::SWL_INVALID_ARGUMENT);
            assert!(
                failure.message.starts_with(&format!("invalid {field}: ")),
                "{}",
                failure.message
            );
        }
    }
}
