//! Small pieces that know nothing of locks: ordered maps, randomness, escaping for terminals, the
//! log hook, counters, the cancel token and start-time units. They import nothing of the crate.

pub(crate) mod cancel;
pub(crate) mod log;
pub(crate) mod maps;
pub(crate) mod printable;
pub(crate) mod random;
pub(crate) mod start_time;
#[doc(hidden)]
pub mod stats;
pub(crate) mod win_argv;
