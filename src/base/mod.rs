//! Small pieces that import nothing of the crate: ordered maps, randomness, escaping for
//! terminals, the log hook, counters, the cancel token, start-time units, the names of lock and
//! temp files, and Windows command-line splitting.

pub(crate) mod cancel;
pub(crate) mod lock_names;
pub(crate) mod log;
pub(crate) mod maps;
pub(crate) mod printable;
pub(crate) mod random;
pub(crate) mod start_time;
#[doc(hidden)]
pub mod stats;
pub(crate) mod win_argv;
